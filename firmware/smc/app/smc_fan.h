/*
 * smc_fan.h - fan control: a PI(D) loop per cooling zone, and tachometer supervision.
 *
 * Zone GPU (fans 0 and 1, push-pull on the GPU heatsink) regulates the die temperature reported by
 * the host; zone BOARD (fan 2) regulates the worst of VRM, PCIe connector and exhaust, each against
 * its own set-point. Each zone's output is feed-forward from the GPU power (filtered) and the intake
 * air temperature, plus PID on
 * the temperature error, with two anti-windup measures (the integral only accumulates near the
 * set-point, and not while the output is held at a limit, range or slew, in the direction of the
 * error), a floor on the negative proportional action (a cold GPU under a new load keeps its
 * feed-forward airflow instead of dropping to the minimum), output slew limits and a minimum speed.
 * The quiet profile raises set-points, lowers the minimum and slews, and caps the fans at `cap`
 * unless the error exceeds `cap_release`.
 */
#ifndef SMC_FAN_H
#define SMC_FAN_H

#include "sb_smc_msg.h"

#include <stdbool.h>
#include <stdint.h>

enum { SMC_ZONE_GPU = 0, SMC_ZONE_BOARD = 1, SMC_NUM_ZONES = 2 };

typedef struct smc_zone_cfg {
    float kp;          /* % per K */
    float ki;          /* % per K*s */
    float kd;          /* % * s per K */
    float ff_base;     /* % at 0 W */
    float ff_per_w;    /* % per W of GPU power */
    float ff_per_k;    /* % per K of intake air above 25 degC */
    float out_min;     /* minimum speed, % */
    float out_max;     /* % */
    float cap;         /* quiet cap, % (>= out_max disables) */
    float cap_release; /* K over the set-point that lifts the cap */
    float slew_up;     /* % per s */
    float slew_down;   /* % per s */
    float p_neg_limit; /* K: the proportional term sees at most this much negative error */
    float i_band;      /* K: the integral only accumulates within +-i_band of the set-point */
    float err_tau;     /* s: low-pass on the error (the die arrives in whole degrees from the host) */
} smc_zone_cfg;

typedef struct smc_zone {
    float integ;    /* integral term, % */
    float prev_err; /* K */
    float err_f;    /* filtered error, K */
    float out;      /* last output, % */
    bool primed;    /* prev_err valid */
} smc_zone;

/* Per-profile tuning: zone configs and set-points (cC) per temperature index (0 = unused). */
typedef struct smc_profile_cfg {
    smc_zone_cfg zone[SMC_NUM_ZONES];
    int16_t setpoint[SB_SMC_NUM_TEMPS];
    bool all_max; /* the "max" profile: every fan at 100% */
} smc_profile_cfg;

const smc_profile_cfg *smc_profile_get(unsigned profile);

/* Resets a zone so that its output starts at out (%), e.g. 100 after reset or fail-safe. */
void smc_zone_reset(smc_zone *z, float out);
/* One control period: err = temperature - set-point (K), power_w = filtered GPU power, intake_k =
 * intake air minus 25 degC (0 when unknown). Returns the new output in %. */
float smc_zone_update(smc_zone *z, const smc_zone_cfg *c, float err, float power_w, float intake_k, float dt_s);

/* The GPU power seen by the feed-forward: low-passed (time constant tau_s) to ignore the load's
 * ripple, but following a step larger than step_w at once. */
float smc_power_filter(float filt, float p, float tau_s, float step_w, float dt_s);

/* Tachometer supervision. */
typedef struct smc_fans {
    uint16_t duty[SB_SMC_NUM_FANS];      /* commanded, per mille */
    uint16_t rpm[SB_SMC_NUM_FANS];       /* measured over the last window */
    uint32_t tach_prev[SB_SMC_NUM_FANS];
    uint64_t t_prev;                     /* end of the last tach window */
    uint64_t low_since[SB_SMC_NUM_FANS]; /* start of the current under-speed run */
    bool low[SB_SMC_NUM_FANS];
    bool failed[SB_SMC_NUM_FANS];
    uint8_t new_fail;                    /* bit i: fan i failed since the caller cleared it */
    bool primed;
} smc_fans;

void smc_fans_init(smc_fans *f, const uint32_t tach_now[SB_SMC_NUM_FANS], uint64_t now);
/* Measures the speeds from the tach counts and checks each against its command: under 10% of the
 * commanded speed (duty * rpm_max) for 3 s fails the fan. */
void smc_fans_tach(smc_fans *f, const uint32_t tach_now[SB_SMC_NUM_FANS], const uint16_t rpm_max[SB_SMC_NUM_FANS],
                   uint64_t now);

#endif
