/*
 * smc_vmon.h - rail voltage monitoring and digital-input debouncing.
 *
 * Pure logic fed one sample per main-loop tick (1 kHz). A rail leaves "ok" only after
 * SMC_VMON_TRIP_SAMPLES consecutive samples outside its window, so noise inside the window and one-
 * or two-sample spikes never trip it, while a real excursion trips within 4 ms.
 */
#ifndef SMC_VMON_H
#define SMC_VMON_H

#include <stdbool.h>
#include <stdint.h>

typedef struct smc_vmon_limits {
    uint16_t nom_mv;
    uint16_t lo_mv;
    uint16_t hi_mv;
    uint16_t off_mv; /* below this the rail counts as discharged */
} smc_vmon_limits;

typedef struct smc_vmon_rail {
    smc_vmon_limits lim;
    uint16_t mv;       /* last sample */
    uint16_t avg_mv;   /* smoothed, for telemetry */
    uint32_t avg_acc;  /* avg_mv << 3 */
    uint8_t bad_run;   /* consecutive samples outside the window */
    uint8_t good_run;  /* consecutive samples inside the window */
    uint8_t off_run;   /* consecutive samples below / above off_mv (sign in off_state) */
    bool ok;           /* debounced: in window */
    bool off;          /* debounced: discharged */
    uint8_t status;    /* SB_SMC_RAIL_ST_*, debounced like ok */
    uint8_t last_bad;  /* SB_SMC_RAIL_ST_UV or _OV: direction of the last excursion */
} smc_vmon_rail;

/* Starts a rail as discharged and not ok. */
void smc_vmon_init(smc_vmon_rail *r, const smc_vmon_limits *lim);
/* Feeds one sample. */
void smc_vmon_sample(smc_vmon_rail *r, uint16_t mv);
/* Converts a raw 12-bit ADC reading to rail millivolts for a divider ratio (1/1000). */
uint16_t smc_vmon_adc_to_mv(uint16_t raw, uint32_t ratio_permille);

/* A debounced digital input: changes state after n consecutive samples of the other level. */
typedef struct smc_debounce {
    bool state;
    uint8_t run;
} smc_debounce;

/* Feeds one sample; returns the debounced state. */
bool smc_debounce_update(smc_debounce *d, bool raw, uint8_t n_rise, uint8_t n_fall);

#endif
