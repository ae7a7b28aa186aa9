/*
 * smc_test_fans.c - fan control: the zone PID (anti-windup, slew limits, minimum speed, quiet cap),
 * a fan stuck at 0 RPM, the host going silent, a sensor failing, and the fan profiles.
 */
#include "sb_test.h"
#include "smc_config.h"
#include "smc_fan.h"
#include "smc_test_util.h"

#include <math.h>
#include <string.h>

#define MS 1000u

static void test_pid_unit(void) {
    const smc_zone_cfg *c = &smc_profile_get(SB_SMC_PROFILE_NORMAL)->zone[SMC_ZONE_GPU];
    smc_zone z;
    smc_zone_reset(&z, 30.0f);
    /* Slew: one period moves the output at most slew_up. */
    float u = smc_zone_update(&z, c, 20.0f, 400.0f, 0.0f, 1.0f);
    SB_CHECK(fabsf(u - (30.0f + c->slew_up)) < 1e-3f);
    /* Held at 100% by a large error for 10 minutes: the integral does not wind up... */
    for (int i = 0; i < 600; i++)
        u = smc_zone_update(&z, c, 4.0f, 400.0f, 0.0f, 1.0f);
    SB_CHECK(u > 99.5f);
    float integ = z.integ;
    SB_CHECK(integ < 100.0f);
    /* ...so when the error reverses the output leaves 100% at the next period, and then falls at
     * the slew-down rate. */
    smc_zone_reset(&z, 100.0f);
    z.integ = integ;
    u = smc_zone_update(&z, c, -3.0f, 400.0f, 0.0f, 1.0f);
    SB_CHECK(u < 100.0f && u >= 100.0f - c->slew_down - 1e-3f);
    /* Cold and idle: the output settles at the minimum, never below. */
    smc_zone_reset(&z, 50.0f);
    for (int i = 0; i < 600; i++)
        u = smc_zone_update(&z, c, -30.0f, 0.0f, 0.0f, 1.0f);
    SB_CHECK(fabsf(u - c->out_min) < 1e-3f);
    /* The integral only accumulates near the set-point. */
    SB_CHECK(z.integ == 0.0f);
    /* Quiet profile: capped unless the error passes cap_release. */
    const smc_zone_cfg *q = &smc_profile_get(SB_SMC_PROFILE_QUIET)->zone[SMC_ZONE_GPU];
    smc_zone_reset(&z, 60.0f);
    for (int i = 0; i < 100; i++)
        u = smc_zone_update(&z, q, 3.0f, 400.0f, 0.0f, 1.0f);
    SB_CHECK(u <= q->cap + 1e-3f);
    for (int i = 0; i < 100; i++)
        u = smc_zone_update(&z, q, 8.0f, 400.0f, 0.0f, 1.0f);
    SB_CHECK(u > q->cap + 10.0f);
    /* Feed-forward: more power, more airflow, at the same error. */
    smc_zone a, b;
    smc_zone_reset(&a, 50.0f);
    smc_zone_reset(&b, 50.0f);
    float ua = 0, ub = 0;
    for (int i = 0; i < 30; i++) {
        ua = smc_zone_update(&a, c, 0.0f, 100.0f, 0.0f, 1.0f);
        ub = smc_zone_update(&b, c, 0.0f, 400.0f, 0.0f, 1.0f);
    }
    SB_CHECK(ub > ua + 20.0f);
}

static void test_tach_unit(void) {
    smc_fans f;
    uint32_t t[3] = {0, 0, 0};
    const uint16_t max[3] = {6000, 6000, 4800};
    smc_fans_init(&f, t, 0);
    f.duty[0] = f.duty[1] = f.duty[2] = 500;
    uint64_t now = 0;
    for (int s = 1; s <= 5; s++) {
        now += 1000000;
        t[0] += 100; /* 3000 rpm */
        t[1] += 9;   /* 270 rpm: under 10% of 3000 */
        t[2] += 80;  /* 2400 rpm */
        smc_fans_tach(&f, t, max, now);
        SB_CHECK_EQ_INT(f.rpm[0], 3000);
        SB_CHECK(!f.failed[0] && !f.failed[2]);
        if (s < 3)
            SB_CHECK(!f.failed[1]);
    }
    SB_CHECK(f.failed[1]);
    SB_CHECK_EQ_INT(f.new_fail, 2);
}

static void test_fan_stuck(void) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 0.6;
    tu_boot(&c, 2500 * MS);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(120000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK(!a->failsafe && sim_fan_duty(0) < 1000);
    uint64_t t0 = sim_now_us();
    sim_fan_stuck(1, true);
    /* Failed after 3 s under 10% of its command (plus the 1 s measurement window), then all fans
     * go to 100% at once. */
    uint64_t t = 0;
    SB_CHECK(tu_run_until_fans(1000, 10000 * MS, &t));
    SB_CHECK(a->fans.failed[1] && !a->fans.failed[0] && !a->fans.failed[2]);
    SB_CHECKF(t - t0 >= 3000 * MS && t - t0 <= 5000 * MS, "failed after %llu ms", (unsigned long long)(t - t0) / 1000);
    sim_run_us(6000 * MS); /* the others spin up */
    sb_smc_telemetry tm;
    SB_CHECK(sim_host_telemetry(&tm) == 0);
    SB_CHECK_EQ_INT(tm.fan_status[1], SB_SMC_FAN_ST_FAILED);
    SB_CHECK(tm.fan_rpm[1] == 0 && tm.fan_rpm[0] > 5000);
    SB_CHECK(tm.flags & SB_SMC_FLAG_FAN_FAIL);
    SB_CHECK(tm.flags & (1u << (SB_SMC_FLAG_FAN_FAIL_SHIFT + 1)));
    sim_run_us(30000 * MS);
    for (int i = 0; i < 3; i++)
        SB_CHECK_EQ_INT(sim_fan_duty(i), 1000);
    /* Repaired and cleared: control resumes. */
    sim_fan_stuck(1, false);
    uint8_t res;
    SB_CHECK(sim_host_clear_fault(&res) == 0 && res == SB_SMC_RES_OK);
    sim_run_us(20000 * MS);
    SB_CHECK(!a->fans.failed[1] && !a->failsafe && sim_fan_duty(1) < 1000);
}

static void test_host_silent(void) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 0.5;
    tu_boot(&c, 2500 * MS);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(120000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK(!a->failsafe && sim_fan_duty(0) < 900);
    uint64_t t0 = sim_now_us();
    sim_host_agent(false);
    uint64_t t = 0;
    SB_CHECK(tu_run_until_fans(1000, 10000 * MS, &t));
    /* The last update was at most 1 s before the host stopped: 100% between 4 and 6 s later. */
    SB_CHECKF(t - t0 >= 4000 * MS && t - t0 <= 6000 * MS, "fans 100%% %llu ms after the host stopped",
              (unsigned long long)(t - t0) / 1000);
    SB_CHECK(a->host_silent);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_DIE], SB_SMC_TEMP_ST_STALE);
    sb_smc_status st;
    SB_CHECK(sim_host_status(&st) == 0 && (st.flags & SB_SMC_FLAG_HOST_SILENT) && (st.flags & SB_SMC_FLAG_FAILSAFE));
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_RUNNING); /* the GPU keeps running */
    /* The host is back: fail-safe released, fans ramp down. */
    sim_host_agent(true);
    sim_run_us(30000 * MS);
    SB_CHECK(!a->host_silent && !a->failsafe && sim_fan_duty(0) < 1000);

    /* With the GPU off a silent host is no reason for full speed. */
    uint8_t res;
    SB_CHECK(sim_host_power(false, &res) == 0);
    sim_run_us(60000 * MS);
    sim_host_agent(false);
    sim_run_us(20000 * MS);
    SB_CHECK(!a->failsafe && sim_fan_duty(0) < 1000);
}

static void test_sensor_fail_within_one_period(void) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 0.5;
    tu_boot(&c, 2500 * MS);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(60000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK(!a->failsafe);
    sim_ow_set_fault(3, SIM_OW_CRC, -1);
    /* Run until the firmware declares the sensor failed, then the fans must be at 100% within 1 s. */
    for (int i = 0; i < 5000 && a->temp_status[SB_SMC_T_EXHAUST] != SB_SMC_TEMP_ST_FAILED; i++)
        sim_run_us(1000);
    SB_CHECK_EQ_INT(a->temp_status[SB_SMC_T_EXHAUST], SB_SMC_TEMP_ST_FAILED);
    uint64_t t0 = sim_now_us(), t = 0;
    SB_CHECK(tu_run_until_fans(1000, 1000 * MS, &t));
    SB_CHECK(t - t0 <= 1000 * MS);
}

static double steady_duty(uint8_t profile) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 1.0;
    tu_boot(&c, 2500 * MS);
    uint8_t res;
    SB_CHECK(sim_host_fan_profile(profile, &res) == 0 && res == SB_SMC_RES_OK);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(900000 * MS);
    return sim_fan_duty(0) / 10.0;
}

static void test_profiles(void) {
    double normal = steady_duty(SB_SMC_PROFILE_NORMAL);
    double die_normal = sim_temp(SIM_T_DIE);
    double quiet = steady_duty(SB_SMC_PROFILE_QUIET);
    double die_quiet = sim_temp(SIM_T_DIE);
    double max = steady_duty(SB_SMC_PROFILE_MAX);
    SB_CHECKF(quiet < normal - 5.0, "quiet %.1f%% vs normal %.1f%%", quiet, normal);
    SB_CHECK(max == 100.0);
    SB_CHECKF(die_normal < 78.0 && die_quiet < 83.0, "die %.1f (normal) %.1f (quiet)", die_normal, die_quiet);
    uint8_t res;
    SB_CHECK(sim_host_fan_profile(7, &res) == 0 && res == SB_SMC_RES_BAD_ARG);
}

int main(void) {
    SB_RUN(test_pid_unit);
    SB_RUN(test_tach_unit);
    SB_RUN(test_fan_stuck);
    SB_RUN(test_host_silent);
    SB_RUN(test_sensor_fail_within_one_period);
    SB_RUN(test_profiles);
    return sb_test_finish();
}
