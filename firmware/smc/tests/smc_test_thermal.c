/*
 * smc_test_thermal.c - thermal protection and control on the thermal model: full load with one fan
 * dead ends in an emergency power-off before the die passes 92 degC; the slowdown request alone holds
 * it when the GPU obeys it; a 0 -> 100% load step overshoots the set-point by no more than 3 degC;
 * the limits' hysteresis and EPO confirmation; EPO from the VRM; power-on refused while too hot.
 */
#include "sb_test.h"
#include "smc_config.h"
#include "smc_test_util.h"
#include "smc_therm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MS 1000u

/* Runs for `us` in 100 ms steps and returns the highest die temperature of the model. */
static double run_max_die(uint64_t us) {
    double m = -100.0;
    for (uint64_t t = 0; t < us; t += 100 * MS) {
        sim_run_us(100 * MS);
        if (sim_temp(SIM_T_DIE) > m)
            m = sim_temp(SIM_T_DIE);
    }
    return m;
}

static void test_one_fan_dead_full_load_epo(void) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 1.0;
    c.gpu_obeys_slowdown = false; /* worst case: the GPU ignores the power brake */
    tu_boot(&c, 2500 * MS);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(600000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK(sim_temp(SIM_T_DIE) < 78.0);
    sim_fan_stuck(0, true);
    double max_die = -100.0;
    bool slowdown_seen = false;
    for (int i = 0; i < 20 * 60 * 10 && a->pwr.state != SB_SMC_PWR_FAULT; i++) {
        sim_run_us(100 * MS);
        if (sim_temp(SIM_T_DIE) > max_die)
            max_die = sim_temp(SIM_T_DIE);
        slowdown_seen |= !sim_out(SMC_OUT_SLOWDOWN_N) && sim_out(SMC_OUT_GPU_EN);
    }
    max_die = fmax(max_die, run_max_die(60000 * MS)); /* and after the power-off */
    fprintf(stderr, "  one fan dead: EPO at %u ms uptime, die max %.2f degC\n", a->pwr.fault.time_ms, max_die);
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_FAULT);
    SB_CHECK_EQ_INT(a->pwr.fault.code, SB_SMC_FAULT_THERMAL_EPO);
    SB_CHECK_EQ_INT(a->pwr.fault.source, SB_SMC_T_DIE);
    SB_CHECKF(max_die < 92.0, "die peaked at %.2f degC", max_die);
    SB_CHECK(slowdown_seen);
    SB_CHECK(a->fans.failed[0]);
    sb_smc_status st;
    SB_CHECK(sim_host_status(&st) == 0 && (st.flags & SB_SMC_FLAG_EPO));
    uint8_t res;
    SB_CHECK(sim_host_power(true, &res) == 0 && res == SB_SMC_RES_FAULT_LATCHED);
}

static void test_one_fan_dead_slowdown_holds(void) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 1.0;
    c.gpu_obeys_slowdown = true;
    tu_boot(&c, 2500 * MS);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(300000 * MS);
    sim_fan_stuck(1, true);
    double max_die = run_max_die(30 * 60000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_RUNNING);
    SB_CHECKF(max_die < 91.0, "die peaked at %.2f degC", max_die);
    SB_CHECK(!a->pwr.fault_latched);
}

static double load_step_overshoot(uint8_t profile, double ambient) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 0.0;
    c.ambient_c = ambient;
    tu_boot(&c, 2500 * MS);
    uint8_t res;
    SB_CHECK(sim_host_fan_profile(profile, &res) == 0);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(900000 * MS); /* settle idle */
    sim_set_load(1.0);
    double max_die = run_max_die(1800000 * MS);
    int16_t sp = smc_profile_get(profile)->setpoint[SB_SMC_T_DIE];
    double over = max_die - sp / 100.0;
    fprintf(stderr, "  load step (%s, %.0f degC ambient): die max %.2f, set-point %.1f, overshoot %.2f\n",
            sb_smc_profile_name(profile), ambient, max_die, sp / 100.0, over);
    return over;
}

static void test_load_step_overshoot(void) {
    SB_CHECK(load_step_overshoot(SB_SMC_PROFILE_NORMAL, 25.0) <= 3.0);
    SB_CHECK(load_step_overshoot(SB_SMC_PROFILE_QUIET, 25.0) <= 3.0);
    SB_CHECK(load_step_overshoot(SB_SMC_PROFILE_NORMAL, 32.0) <= 3.0);
}

static void test_limits_unit(void) {
    const smc_therm_limit *lim = smc_therm_default_limits();
    /* The defaults: the A100's slowdown limit, and EPO before its 92 degC shutdown. */
    SB_CHECK_EQ_INT(lim[SB_SMC_T_DIE].slowdown, 8900);
    SB_CHECK(lim[SB_SMC_T_DIE].epo < 9200);
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        SB_CHECK(lim[i].slowdown < lim[i].shutdown && lim[i].shutdown < lim[i].epo && lim[i].hyst > 0);
    smc_therm t;
    smc_therm_init(&t);
    int16_t temp[SB_SMC_NUM_TEMPS] = {8000, 5000, 4000, 2500, 4000};
    bool valid[SB_SMC_NUM_TEMPS] = {true, true, true, true, true};
    bool fresh[SB_SMC_NUM_TEMPS] = {true, true, true, true, true};
    smc_therm_update(&t, lim, temp, valid, fresh);
    SB_CHECK(!smc_therm_any_slowdown(&t) && !t.epo);
    temp[0] = 8900;
    smc_therm_update(&t, lim, temp, valid, fresh);
    SB_CHECK(t.slowdown[0] && !t.shutdown[0]);
    temp[0] = 8700; /* inside the hysteresis: still requested */
    smc_therm_update(&t, lim, temp, valid, fresh);
    SB_CHECK(t.slowdown[0]);
    temp[0] = 8590;
    smc_therm_update(&t, lim, temp, valid, fresh);
    SB_CHECK(!t.slowdown[0]);
    /* One reading at the EPO limit is not enough; two fresh ones are. A stale repeat does not count. */
    temp[0] = 9500;
    smc_therm_update(&t, lim, temp, valid, fresh);
    SB_CHECK(!t.epo && t.shutdown[0]);
    fresh[0] = false;
    smc_therm_update(&t, lim, temp, valid, fresh);
    SB_CHECK(!t.epo);
    fresh[0] = true;
    smc_therm_update(&t, lim, temp, valid, fresh);
    SB_CHECK(t.epo && t.epo_source == 0 && t.epo_value == 9500);
    /* A single spike between normal readings never trips. */
    smc_therm_init(&t);
    temp[0] = 8000;
    for (int i = 0; i < 100; i++) {
        temp[1] = (i % 2) ? 12000 : 6000;
        smc_therm_update(&t, lim, temp, valid, fresh);
        SB_CHECK(!t.epo);
    }
}

static void test_vrm_epo_and_hot_start(void) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 0.5;
    tu_boot(&c, 2500 * MS);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(10000 * MS);
    const smc_app *a = tu_app();
    for (int i = 0; i < 60 && a->pwr.state == SB_SMC_PWR_RUNNING; i++) {
        sim_set_temp(SIM_T_VRM, 113.0);
        sim_run_us(100 * MS);
    }
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_FAULT, 1000 * MS));
    SB_CHECK_EQ_INT(a->pwr.fault.code, SB_SMC_FAULT_THERMAL_EPO);
    SB_CHECK_EQ_INT(a->pwr.fault.source, SB_SMC_T_VRM);
    SB_CHECK(a->pwr.fault.value >= 11000);

    /* Intake air above its shutdown limit: power-on refused. */
    c.ambient_c = 47.0;
    tu_boot(&c, 2500 * MS);
    sim_set_temp(SIM_T_INTAKE, 47.0);
    sim_run_us(3000 * MS);
    uint8_t res = 0;
    SB_CHECK(sim_host_power(true, &res) == 0 && res == SB_SMC_RES_THERMAL);
    sim_run_us(1000 * MS);
    SB_CHECK_EQ_INT(tu_app()->pwr.state, SB_SMC_PWR_OFF);
    SB_CHECK(!sim_out(SMC_OUT_AUX_EN));
}

int main(void) {
    SB_RUN(test_limits_unit);
    SB_RUN(test_one_fan_dead_full_load_epo);
    SB_RUN(test_one_fan_dead_slowdown_holds);
    SB_RUN(test_load_step_overshoot);
    SB_RUN(test_vrm_epo_and_hot_start);
    return sb_test_finish();
}
