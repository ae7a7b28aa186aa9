/*
 * smc_vmon.c - rail window monitoring with consecutive-sample debouncing (see smc_vmon.h).
 */
#include "smc_vmon.h"

#include "sb_smc_msg.h"
#include "smc_config.h"
#include "smc_hal.h"

#include <string.h>

void smc_vmon_init(smc_vmon_rail *r, const smc_vmon_limits *lim) {
    memset(r, 0, sizeof *r);
    r->lim = *lim;
    r->off = true;
    r->status = SB_SMC_RAIL_ST_OFF;
}

uint16_t smc_vmon_adc_to_mv(uint16_t raw, uint32_t ratio_permille) {
    if (raw >= SMC_ADC_COUNTS)
        raw = SMC_ADC_COUNTS - 1;
    /* raw * 3300 * ratio / (4096 * 1000): at most 4095 * 3300 * 5700 = 7.7e10, needs 64 bits. */
    uint64_t mv = ((uint64_t)raw * SMC_ADC_FULL_SCALE_MV * ratio_permille + (SMC_ADC_COUNTS * 1000u) / 2) /
                  (SMC_ADC_COUNTS * 1000u);
    return mv > 0xFFFFu ? 0xFFFFu : (uint16_t)mv;
}

static uint8_t sat_inc(uint8_t v) { return v == 0xFF ? v : (uint8_t)(v + 1); }

void smc_vmon_sample(smc_vmon_rail *r, uint16_t mv) {
    r->mv = mv;
    if (r->avg_acc == 0 && r->avg_mv == 0)
        r->avg_acc = (uint32_t)mv << 3;
    else
        r->avg_acc = r->avg_acc - (r->avg_acc >> 3) + mv; /* exponential average over 8 samples */
    r->avg_mv = (uint16_t)(r->avg_acc >> 3);

    bool in_window = mv >= r->lim.lo_mv && mv <= r->lim.hi_mv;
    if (in_window) {
        r->bad_run = 0;
        r->good_run = sat_inc(r->good_run);
        if (r->good_run >= SMC_VMON_OK_SAMPLES) {
            r->ok = true;
            r->status = SB_SMC_RAIL_ST_OK;
        }
    } else {
        r->good_run = 0;
        r->bad_run = sat_inc(r->bad_run);
        r->last_bad = mv > r->lim.hi_mv ? SB_SMC_RAIL_ST_OV : SB_SMC_RAIL_ST_UV;
        if (r->bad_run >= SMC_VMON_TRIP_SAMPLES) {
            r->ok = false;
            r->status = r->last_bad;
        }
    }

    /* Discharged: below off_mv for TRIP_SAMPLES samples; charged again after as many above. */
    bool low = mv < r->lim.off_mv;
    if (low == r->off) {
        r->off_run = 0;
    } else {
        r->off_run = sat_inc(r->off_run);
        if (r->off_run >= SMC_VMON_TRIP_SAMPLES) {
            r->off = low;
            r->off_run = 0;
        }
    }
    if (r->off && !r->ok)
        r->status = SB_SMC_RAIL_ST_OFF;
}

bool smc_debounce_update(smc_debounce *d, bool raw, uint8_t n_rise, uint8_t n_fall) {
    if (raw == d->state) {
        d->run = 0;
        return d->state;
    }
    d->run = sat_inc(d->run);
    if (d->run >= (raw ? n_rise : n_fall)) {
        d->state = raw;
        d->run = 0;
    }
    return d->state;
}
