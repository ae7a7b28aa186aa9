/*
 * smc_test_util.c - helpers shared by the SMC firmware tests.
 */
#include "smc_test_util.h"

void tu_boot(const sim_config *cfg, uint64_t run_us) {
    sim_config c;
    if (cfg)
        c = *cfg;
    else
        sim_config_default(&c);
    sim_power_on(&c);
    sim_run_us(run_us);
}

const smc_app *tu_app(void) { return smc_app_state(); }

static bool state_is(void *arg) { return tu_app()->pwr.state == *(sb_smc_pwr_state *)arg; }

bool tu_run_until_state(sb_smc_pwr_state state, uint64_t max_us) { return sim_run_until(state_is, &state, max_us); }

bool tu_power_on(uint64_t max_us) {
    uint8_t res = 0xFF;
    if (sim_host_power(true, &res) != 0 || res != SB_SMC_RES_OK)
        return false;
    return tu_run_until_state(SB_SMC_PWR_RUNNING, max_us);
}

uint64_t tu_event_after(uint8_t kind, uint8_t which, uint8_t level, uint64_t t0) {
    const sim_event *ev;
    size_t n = sim_events(&ev);
    for (size_t i = 0; i < n; i++)
        if (ev[i].t >= t0 && ev[i].kind == kind && ev[i].which == which && ev[i].level == level)
            return ev[i].t;
    return UINT64_MAX;
}

static bool fans_at(void *arg) {
    uint16_t want = *(uint16_t *)arg;
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        if (sim_fan_duty(i) != want)
            return false;
    return true;
}

bool tu_run_until_fans(uint16_t permille, uint64_t max_us, uint64_t *t) {
    bool ok = sim_run_until(fans_at, &permille, max_us);
    if (t)
        *t = sim_now_us();
    return ok;
}
