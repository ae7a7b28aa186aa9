/*
 * smc_test_soak.c - 12 hours at full load on the simulated board (about 8 s of CPU): temperatures
 * settle within their targets, the fans never move more than +-3% once settled, and nothing trips.
 * The board has realistic disturbances: +-2% ADC noise with occasional one-sample spikes, GPU power
 * fluctuating by 3% (1 sigma), the die temperature reported in whole degrees as NVML does.
 */
#include "sb_test.h"
#include "smc_test_util.h"

#include <math.h>
#include <stdio.h>

#define S 1000000ull

static void test_soak_12h(void) {
    sim_config c;
    sim_config_default(&c);
    c.seed = 2024;
    c.gpu_load = 1.0;
    c.adc_noise_pct = 2.0;
    c.adc_spike_prob = 0.0005;
    c.power_noise_pct = 3.0;
    tu_boot(&c, 2 * S + 500000);
    SB_CHECK(tu_power_on(S));
    const smc_app *a = tu_app();
    const uint64_t total = 12ull * 3600 * S, settle = 1800 * S;
    const smc_profile_cfg *pc = smc_profile_get(SB_SMC_PROFILE_NORMAL);

    double sum[SB_SMC_NUM_FANS] = {0}, dmin[SB_SMC_NUM_FANS], dmax[SB_SMC_NUM_FANS];
    double tmax[SIM_NUM_T];
    long samples = 0;
    int failsafe_after_settle = 0, not_running = 0;
    for (int i = 0; i < SB_SMC_NUM_FANS; i++) {
        dmin[i] = 1e9;
        dmax[i] = -1e9;
    }
    for (int i = 0; i < SIM_NUM_T; i++)
        tmax[i] = -100;
    uint64_t start = sim_now_us();
    for (uint64_t t = 0; t < total; t += S) {
        sim_run_us(S);
        if (a->pwr.state != SB_SMC_PWR_RUNNING)
            not_running++;
        if (t < settle)
            continue;
        failsafe_after_settle += a->failsafe;
        for (int i = 0; i < SB_SMC_NUM_FANS; i++) {
            double d = a->fans.duty[i] / 10.0;
            sum[i] += d;
            dmin[i] = fmin(dmin[i], d);
            dmax[i] = fmax(dmax[i], d);
        }
        for (int i = 0; i < SIM_NUM_T; i++)
            tmax[i] = fmax(tmax[i], sim_temp(i));
        samples++;
    }
    SB_CHECK(sim_now_us() - start >= total);
    SB_CHECK_EQ_INT(not_running, 0);
    SB_CHECK_EQ_INT(failsafe_after_settle, 0);
    SB_CHECK_EQ_INT(a->log.total, 0); /* zero false trips: nothing logged at all */
    SB_CHECK(!a->pwr.fault_latched);
    SB_CHECK_EQ_INT(sim_reset_count(), 0);
    SB_CHECK(!smc_therm_any_slowdown(&a->therm) && !smc_therm_any_shutdown(&a->therm));
    for (int i = 0; i < SB_SMC_NUM_FANS; i++) {
        double mean = sum[i] / (double)samples;
        double dev = fmax(dmax[i] - mean, mean - dmin[i]);
        fprintf(stderr, "  fan %d: mean %.1f%% range %.1f..%.1f%% (max deviation %.2f%%)\n", i, mean, dmin[i],
                dmax[i], dev);
        SB_CHECKF(dev <= 3.0, "fan %d deviates %.2f%% from its mean", i, dev);
    }
    fprintf(stderr, "  max after settling: die %.2f vrm %.2f conn %.2f exhaust %.2f degC\n", tmax[SIM_T_DIE],
            tmax[SIM_T_VRM], tmax[SIM_T_CONN], tmax[SIM_T_EXHAUST]);
    /* Targets: each controlled temperature within 3 K of its set-point (or below it). */
    SB_CHECK(tmax[SIM_T_DIE] <= pc->setpoint[SB_SMC_T_DIE] / 100.0 + 3.0);
    SB_CHECK(tmax[SIM_T_VRM] <= pc->setpoint[SB_SMC_T_VRM] / 100.0 + 3.0);
    SB_CHECK(tmax[SIM_T_CONN] <= pc->setpoint[SB_SMC_T_CONN] / 100.0 + 3.0);
    SB_CHECK(tmax[SIM_T_EXHAUST] <= pc->setpoint[SB_SMC_T_EXHAUST] / 100.0 + 3.0);
    SB_CHECK(a->link.counters[SB_SMC_LINK_OK] > 40000); /* the host talked to it all along */
}

int main(void) {
    SB_RUN(test_soak_12h);
    return sb_test_finish();
}
