/*
 * smc_therm.c - threshold comparisons with hysteresis and EPO confirmation (see smc_therm.h).
 */
#include "smc_therm.h"

#include "smc_config.h"

#include <string.h>

static const smc_therm_limit default_limits[SB_SMC_NUM_TEMPS] = SMC_LIMITS_INIT;

const smc_therm_limit *smc_therm_default_limits(void) { return default_limits; }

void smc_therm_init(smc_therm *t) { memset(t, 0, sizeof *t); }

/* A request that sets at `limit` and clears below `limit - hyst`. */
static bool hyst_flag(bool cur, int16_t v, int16_t limit, int16_t hyst) {
    if (v >= limit)
        return true;
    if (v < limit - hyst)
        return false;
    return cur;
}

void smc_therm_update(smc_therm *t, const smc_therm_limit lim[SB_SMC_NUM_TEMPS], const int16_t temp[SB_SMC_NUM_TEMPS],
                      const bool valid[SB_SMC_NUM_TEMPS], const bool fresh[SB_SMC_NUM_TEMPS]) {
    t->epo = false;
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++) {
        if (!valid[i]) {
            /* No reading: keep the requests as they were (the fans are at 100% in that case), but
             * an EPO needs fresh confirmation. */
            t->epo_run[i] = 0;
            continue;
        }
        t->slowdown[i] = hyst_flag(t->slowdown[i], temp[i], lim[i].slowdown, lim[i].hyst);
        t->shutdown[i] = hyst_flag(t->shutdown[i], temp[i], lim[i].shutdown, lim[i].hyst);
        if (fresh[i]) {
            if (temp[i] >= lim[i].epo) {
                if (t->epo_run[i] < 0xFF)
                    t->epo_run[i]++;
            } else {
                t->epo_run[i] = 0;
            }
        }
        if (t->epo_run[i] >= SMC_EPO_CONFIRM && !t->epo) {
            t->epo = true;
            t->epo_source = (uint8_t)i;
            t->epo_value = temp[i];
        }
    }
}

bool smc_therm_any_slowdown(const smc_therm *t) {
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        if (t->slowdown[i])
            return true;
    return false;
}

bool smc_therm_any_shutdown(const smc_therm *t) {
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        if (t->shutdown[i])
            return true;
    return false;
}
