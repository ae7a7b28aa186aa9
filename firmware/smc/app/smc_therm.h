/*
 * smc_therm.h - thermal protection: slowdown, shutdown and emergency power-off limits.
 *
 * Per temperature: the slowdown and shutdown requests set at their limit and clear only below
 * limit - hysteresis; the EPO demand needs SMC_EPO_CONFIRM consecutive valid readings at or above
 * its limit (one corrupt value cannot cut the power), and is latched by the power state machine.
 */
#ifndef SMC_THERM_H
#define SMC_THERM_H

#include "sb_smc_msg.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct smc_therm_limit {
    int16_t slowdown; /* cC */
    int16_t shutdown;
    int16_t epo;
    int16_t hyst;
} smc_therm_limit;

typedef struct smc_therm {
    bool slowdown[SB_SMC_NUM_TEMPS];
    bool shutdown[SB_SMC_NUM_TEMPS];
    uint8_t epo_run[SB_SMC_NUM_TEMPS];
    bool epo;           /* EPO demanded now */
    uint8_t epo_source; /* which temperature */
    int16_t epo_value;
} smc_therm;

/* The default limits (smc_config.h SMC_LIMITS_INIT). */
const smc_therm_limit *smc_therm_default_limits(void);

void smc_therm_init(smc_therm *t);
/* One evaluation with the latest readings; fresh[i] marks a new reading of temperature i (only
 * new readings count towards the EPO confirmation), valid[i] a usable one. */
void smc_therm_update(smc_therm *t, const smc_therm_limit lim[SB_SMC_NUM_TEMPS], const int16_t temp[SB_SMC_NUM_TEMPS],
                      const bool valid[SB_SMC_NUM_TEMPS], const bool fresh[SB_SMC_NUM_TEMPS]);
bool smc_therm_any_slowdown(const smc_therm *t);
bool smc_therm_any_shutdown(const smc_therm *t);

#endif
