/*
 * smc_test_util.h - helpers shared by the SMC firmware tests (on the simulated board).
 */
#ifndef SMC_TEST_UTIL_H
#define SMC_TEST_UTIL_H

#include "sim_board.h"
#include "smc_app.h"

#include <stdbool.h>
#include <stdint.h>

/* Powers the board on with cfg (defaults when NULL) and runs it for run_us. */
void tu_boot(const sim_config *cfg, uint64_t run_us);
/* Sends POWER on and runs until RUNNING (true) or max_us passes. */
bool tu_power_on(uint64_t max_us);
/* Runs until the power state is `state` or max_us passes. */
bool tu_run_until_state(sb_smc_pwr_state state, uint64_t max_us);
/* Time of the first event of kind/which/level at or after t0; UINT64_MAX when none. */
uint64_t tu_event_after(uint8_t kind, uint8_t which, uint8_t level, uint64_t t0);
/* Runs until all fans are at `permille` (true) or max_us passes; records when in *t. */
bool tu_run_until_fans(uint16_t permille, uint64_t max_us, uint64_t *t);
const smc_app *tu_app(void);

#endif
