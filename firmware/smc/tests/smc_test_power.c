/*
 * smc_test_power.c - power sequencing on the simulated board: the normal power-up and its timings,
 * each rail failing to come up and failing while running, power-good glitches, orderly power-off,
 * and the fault latch over SPI.
 */
#include "sb_test.h"
#include "smc_test_util.h"

#include <stdio.h>
#include <string.h>

#define MS 1000u
#define NONE UINT64_MAX

/* Physical checks at every output change: PERST# is only released with every rail and the clock good
 * (checked on the simulated hardware, not on the firmware's view of it). */
static int g_bad_perst;
static bool g_prev_perst;
static void out_hook(void *arg) {
    (void)arg;
    bool rising = sim_out(SMC_OUT_PERST_N) && !g_prev_perst;
    g_prev_perst = sim_out(SMC_OUT_PERST_N);
    if (rising) {
        bool ok = sim_pg() && sim_clk_ok() && sim_rail_volts(SIM_RAIL_3V3) >= 3.0 &&
                  sim_rail_volts(SIM_RAIL_12V) >= 11.0 && sim_rail_volts(SIM_RAIL_CORE) >= 0.74;
        if (!ok)
            g_bad_perst++;
    }
    if (sim_out(SMC_OUT_GPU_EN) && !sim_out(SMC_OUT_PERST_N))
        g_bad_perst++;
}

static void boot_ready(void) {
    sim_set_output_hook(out_hook, NULL);
    tu_boot(NULL, 2500 * MS); /* sensors found and read: fans under control */
    sim_events_clear();
}

static void check_powerup_timing(const char *what) {
    uint64_t t_aux = tu_event_after(SIM_EV_OUT, SMC_OUT_AUX_EN, 1, 0);
    uint64_t t_core = tu_event_after(SIM_EV_OUT, SMC_OUT_CORE_EN, 1, 0);
    uint64_t t_clk_en = tu_event_after(SIM_EV_OUT, SMC_OUT_CLK_EN, 1, 0);
    uint64_t t_pg = tu_event_after(SIM_EV_PG, 0, 1, 0);
    uint64_t t_clk = tu_event_after(SIM_EV_CLK, 0, 1, 0);
    uint64_t t_perst = tu_event_after(SIM_EV_OUT, SMC_OUT_PERST_N, 1, 0);
    uint64_t t_gpu = tu_event_after(SIM_EV_OUT, SMC_OUT_GPU_EN, 1, 0);
    SB_CHECKF(t_aux < t_core && t_core < t_clk_en && t_clk_en < t_perst && t_perst < t_gpu,
              "%s: order aux %llu core %llu clk %llu perst %llu gpu %llu", what, (unsigned long long)t_aux,
              (unsigned long long)t_core, (unsigned long long)t_clk_en, (unsigned long long)t_perst,
              (unsigned long long)t_gpu);
    SB_CHECKF(t_pg != NONE && t_pg > t_core && t_pg < t_clk_en, "%s: core PG asserted before the clock", what);
    SB_CHECKF(t_core - t_aux <= 100 * MS, "%s: aux regulated within 100 ms (%llu us)", what,
              (unsigned long long)(t_core - t_aux));
    /* PERST# is released >= 100.0 ms after the last power-good and >= 100 us after the clock. */
    SB_CHECKF(t_perst != NONE && t_perst - t_pg >= 100 * MS, "%s: PERST# %llu us after PG", what,
              (unsigned long long)(t_perst - t_pg));
    SB_CHECKF(t_perst - t_pg <= 106 * MS, "%s: PERST# not needlessly late (%llu us)", what,
              (unsigned long long)(t_perst - t_pg));
    SB_CHECKF(t_clk != NONE && t_perst - t_clk >= 100, "%s: PERST# %llu us after clock", what,
              (unsigned long long)(t_perst - t_clk));
}

static void test_normal_powerup(void) {
    boot_ready();
    g_bad_perst = 0;
    uint64_t t0 = sim_now_us();
    SB_CHECK(tu_power_on(1000 * MS));
    SB_CHECK(sim_now_us() - t0 < 300 * MS);
    check_powerup_timing("default ramps");
    const smc_app *a = tu_app();
    SB_CHECK(!a->pwr.fault_latched);
    SB_CHECK(sim_out(SMC_OUT_GPU_EN) && sim_out(SMC_OUT_PERST_N));
    sim_run_us(3000 * MS);
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_RUNNING);
    SB_CHECK(sim_gpu_power() > 0);
    SB_CHECK_EQ_INT(g_bad_perst, 0);

    /* Different aux and core ramp times, all within spec: PERST# still never before 100.0 ms. */
    static const double aux_ramp[] = {1000, 10000, 50000, 90000};
    static const double core_ramp[] = {500, 3000, 10000, 30000};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 4; j++) {
            boot_ready();
            sim_rail_set_ramp_us(SIM_RAIL_3V3, aux_ramp[i]);
            sim_rail_set_ramp_us(SIM_RAIL_CORE, core_ramp[j]);
            char what[64];
            snprintf(what, sizeof what, "aux %.0f us core %.0f us", aux_ramp[i], core_ramp[j]);
            SB_CHECKF(tu_power_on(1000 * MS), "%s: reaches RUNNING", what);
            check_powerup_timing(what);
        }
    }
    SB_CHECK_EQ_INT(g_bad_perst, 0);
}

static void test_power_off_reverse_order(void) {
    boot_ready();
    SB_CHECK(tu_power_on(1000 * MS));
    sim_events_clear();
    uint8_t res = 0xFF;
    SB_CHECK(sim_host_power(false, &res) == 0 && res == SB_SMC_RES_OK);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_OFF, 500 * MS));
    uint64_t g = tu_event_after(SIM_EV_OUT, SMC_OUT_GPU_EN, 0, 0);
    uint64_t p = tu_event_after(SIM_EV_OUT, SMC_OUT_PERST_N, 0, 0);
    uint64_t c = tu_event_after(SIM_EV_OUT, SMC_OUT_CLK_EN, 0, 0);
    uint64_t k = tu_event_after(SIM_EV_OUT, SMC_OUT_CORE_EN, 0, 0);
    uint64_t x = tu_event_after(SIM_EV_OUT, SMC_OUT_AUX_EN, 0, 0);
    SB_CHECK(g <= p && p < c && c <= k && k < x && x != NONE);
    SB_CHECK(c - p >= 100); /* the clock keeps running >= 100 us after PERST# */
    SB_CHECK(!tu_app()->pwr.fault_latched);
    SB_CHECK(sim_rail_volts(SIM_RAIL_CORE) < 0.08 && !sim_out(SMC_OUT_AUX_EN));
}

/* Powers on with a fault injected and expects a latched fault with code, source and step. */
static void expect_startup_fault(const char *what, int code, int source, int step) {
    uint8_t res = 0xFF;
    SB_CHECK(sim_host_power(true, &res) == 0 && res == SB_SMC_RES_OK);
    SB_CHECKF(tu_run_until_state(SB_SMC_PWR_FAULT, 2000 * MS), "%s: reaches FAULT", what);
    const smc_app *a = tu_app();
    SB_CHECKF(a->pwr.fault.code == code, "%s: fault %s (want %s)", what, sb_smc_fault_name(a->pwr.fault.code),
              sb_smc_fault_name((unsigned)code));
    SB_CHECKF(a->pwr.fault.source == source, "%s: source %d", what, a->pwr.fault.source);
    SB_CHECKF(a->pwr.fault.step == step, "%s: step %s", what, sb_smc_state_name(a->pwr.fault.step));
    SB_CHECKF(tu_event_after(SIM_EV_OUT, SMC_OUT_PERST_N, 1, 0) == NONE, "%s: PERST# never released", what);
    for (int o = 0; o < SMC_OUT_COUNT; o++)
        if (o != SMC_OUT_SLOWDOWN_N && o != SMC_OUT_ALERT_N)
            SB_CHECKF(!sim_out((smc_out)o), "%s: output %d off", what, o);
    /* Readable over SPI, and latched: power-on refused until cleared. */
    sb_smc_status st;
    SB_CHECK(sim_host_status(&st) == 0);
    SB_CHECK_EQ_INT(st.fault.code, code);
    SB_CHECK_EQ_INT(st.fault.source, source);
    SB_CHECK_EQ_INT(st.fault.step, step);
    SB_CHECK(st.flags & SB_SMC_FLAG_FAULT);
    SB_CHECK(sim_host_power(true, &res) == 0 && res == SB_SMC_RES_FAULT_LATCHED);
    sim_run_us(500 * MS);
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_FAULT);
}

static void test_rail_fails_to_come_up(void) {
    boot_ready();
    sim_rail_set_fault(SIM_RAIL_3V3, SIM_RAIL_NO_START);
    uint64_t t0 = sim_now_us();
    expect_startup_fault("aux never starts", SB_SMC_FAULT_AUX_TIMEOUT, SB_SMC_RAIL_3V3, SB_SMC_PWR_AUX_RAMP);
    uint64_t t_aux = tu_event_after(SIM_EV_OUT, SMC_OUT_AUX_EN, 1, t0);
    const smc_app *a = tu_app();
    uint64_t t_fault = (uint64_t)a->pwr.fault.time_ms * 1000u + sim_last_boot_us();
    SB_CHECKF(t_fault >= t_aux + 100 * MS && t_fault <= t_aux + 103 * MS, "aux timeout at %llu us",
              (unsigned long long)(t_fault - t_aux));
    SB_CHECK(tu_event_after(SIM_EV_OUT, SMC_OUT_CORE_EN, 1, 0) == NONE);

    boot_ready();
    sim_rail_set_fault(SIM_RAIL_3V3, SIM_RAIL_SLOW); /* 200 ms ramp: out of spec */
    expect_startup_fault("aux ramps too slowly", SB_SMC_FAULT_AUX_TIMEOUT, SB_SMC_RAIL_3V3, SB_SMC_PWR_AUX_RAMP);

    boot_ready();
    sim_rail_set_fault(SIM_RAIL_CORE, SIM_RAIL_NO_START);
    expect_startup_fault("core never starts", SB_SMC_FAULT_CORE_TIMEOUT, SB_SMC_RAIL_CORE, SB_SMC_PWR_CORE_RAMP);
    /* Reverse order on the way down: core off before aux. */
    SB_CHECK(tu_event_after(SIM_EV_OUT, SMC_OUT_CORE_EN, 0, 0) < tu_event_after(SIM_EV_OUT, SMC_OUT_AUX_EN, 0, 0));

    boot_ready();
    sim_rail_set_fault(SIM_RAIL_CORE, SIM_RAIL_NO_PG);
    expect_startup_fault("core without power-good", SB_SMC_FAULT_CORE_TIMEOUT, SB_SMC_RAIL_CORE,
                         SB_SMC_PWR_CORE_RAMP);

    boot_ready();
    sim_rail_set_fault(SIM_RAIL_CORE, SIM_RAIL_LOW);
    expect_startup_fault("core regulating at 85%", SB_SMC_FAULT_CORE_TIMEOUT, SB_SMC_RAIL_CORE,
                         SB_SMC_PWR_CORE_RAMP);

    boot_ready();
    sim_clk_never_locks(true);
    expect_startup_fault("clock never locks", SB_SMC_FAULT_CLK_TIMEOUT, SB_SMC_SRC_CLK, SB_SMC_PWR_CLK_WAIT);
    uint64_t c = tu_event_after(SIM_EV_OUT, SMC_OUT_CLK_EN, 0, 0);
    uint64_t k = tu_event_after(SIM_EV_OUT, SMC_OUT_CORE_EN, 0, 0);
    uint64_t x = tu_event_after(SIM_EV_OUT, SMC_OUT_AUX_EN, 0, 0);
    SB_CHECK(c <= k && k < x);

    boot_ready();
    sim_rail_override(SIM_RAIL_12V, 10.2, sim_now_us(), 5000 * MS); /* 12 V input out of band */
    sim_run_us(20 * MS);
    expect_startup_fault("12 V never in band", SB_SMC_FAULT_V12_TIMEOUT, SB_SMC_RAIL_12V, SB_SMC_PWR_WAIT_12V);
    SB_CHECK(tu_event_after(SIM_EV_OUT, SMC_OUT_AUX_EN, 1, 0) == NONE);

    /* Clearing the fault (with the rail repaired) lets the GPU come up again. */
    sim_run_us(5000 * MS);
    uint8_t res = 0xFF;
    SB_CHECK(sim_host_clear_fault(&res) == 0 && res == SB_SMC_RES_OK);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_OFF, 100 * MS));
    SB_CHECK(tu_power_on(1000 * MS));
}

/* Injects a failure while running; expects the fault and a reverse-order power-down that asserts
 * PERST# within max_react_us of the failure. */
static void expect_running_fault(const char *what, void (*inject)(uint64_t), int code, int source,
                                 uint64_t max_react_us) {
    boot_ready();
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(200 * MS);
    sim_events_clear();
    uint64_t t0 = sim_now_us() + 300;
    inject(t0);
    SB_CHECKF(tu_run_until_state(SB_SMC_PWR_FAULT, 2000 * MS), "%s: reaches FAULT", what);
    const smc_app *a = tu_app();
    SB_CHECKF(a->pwr.fault.code == code, "%s: fault %s", what, sb_smc_fault_name(a->pwr.fault.code));
    SB_CHECKF(a->pwr.fault.source == source, "%s: source %d", what, a->pwr.fault.source);
    SB_CHECKF(a->pwr.fault.step == SB_SMC_PWR_RUNNING, "%s: step %s", what, sb_smc_state_name(a->pwr.fault.step));
    uint64_t g = tu_event_after(SIM_EV_OUT, SMC_OUT_GPU_EN, 0, 0);
    uint64_t p = tu_event_after(SIM_EV_OUT, SMC_OUT_PERST_N, 0, 0);
    uint64_t c = tu_event_after(SIM_EV_OUT, SMC_OUT_CLK_EN, 0, 0);
    uint64_t k = tu_event_after(SIM_EV_OUT, SMC_OUT_CORE_EN, 0, 0);
    uint64_t x = tu_event_after(SIM_EV_OUT, SMC_OUT_AUX_EN, 0, 0);
    SB_CHECKF(p != NONE && p - t0 <= max_react_us, "%s: PERST# asserted %lld us after the failure", what,
              (long long)(p - t0));
    SB_CHECKF(g <= p && p <= c && c <= k && k <= x && x != NONE, "%s: reverse order", what);
    sb_smc_status st;
    SB_CHECK(sim_host_status(&st) == 0 && st.fault.code == code && st.fault.step == SB_SMC_PWR_RUNNING);
    uint8_t res;
    SB_CHECK(sim_host_power(true, &res) == 0 && res == SB_SMC_RES_FAULT_LATCHED);
}

static void inject_core_drop(uint64_t t) { sim_rail_override(SIM_RAIL_CORE, 0.50, t, 40 * MS); }
static void inject_core_ov(uint64_t t) { sim_rail_override(SIM_RAIL_CORE, 0.90, t, 40 * MS); }
static void inject_core_window(uint64_t t) { sim_rail_override(SIM_RAIL_CORE, 0.735, t, 40 * MS); }
static void inject_aux_drop(uint64_t t) { sim_rail_override(SIM_RAIL_3V3, 2.6, t, 300 * MS); }
static void inject_12v_sag(uint64_t t) { sim_rail_override(SIM_RAIL_12V, 10.0, t, 300 * MS); }
static void inject_12v_ov(uint64_t t) { sim_rail_override(SIM_RAIL_12V, 13.8, t, 300 * MS); }
static void inject_clk_loss(uint64_t t) { sim_clk_loss(t, 50 * MS); }
static void inject_pg_long(uint64_t t) { sim_pg_glitch(t, 3 * MS); }

static void test_rail_fails_while_running(void) {
    expect_running_fault("core collapses", inject_core_drop, SB_SMC_FAULT_CORE_PG_LOST, SB_SMC_RAIL_CORE, 3 * MS);
    expect_running_fault("core over-voltage, PG still high", inject_core_ov, SB_SMC_FAULT_CORE_WINDOW,
                         SB_SMC_RAIL_CORE, 5 * MS);
    expect_running_fault("core under its window, PG still high", inject_core_window, SB_SMC_FAULT_CORE_WINDOW,
                         SB_SMC_RAIL_CORE, 5 * MS);
    expect_running_fault("aux sags", inject_aux_drop, SB_SMC_FAULT_AUX_LOST, SB_SMC_RAIL_3V3, 5 * MS);
    expect_running_fault("12 V sags", inject_12v_sag, SB_SMC_FAULT_V12_LOST, SB_SMC_RAIL_12V, 5 * MS);
    expect_running_fault("12 V over-voltage", inject_12v_ov, SB_SMC_FAULT_V12_LOST, SB_SMC_RAIL_12V, 5 * MS);
    expect_running_fault("clock lost", inject_clk_loss, SB_SMC_FAULT_CLK_LOST, SB_SMC_SRC_CLK, 3 * MS);
    expect_running_fault("power-good low for 3 ms", inject_pg_long, SB_SMC_FAULT_CORE_PG_LOST, SB_SMC_RAIL_CORE,
                         3 * MS);

    /* 12 V lost: everything goes off in the same step, the core never runs on a bad 12 V. */
    boot_ready();
    SB_CHECK(tu_power_on(1000 * MS));
    sim_events_clear();
    uint64_t t0 = sim_now_us() + 100;
    inject_12v_sag(t0);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_FAULT, 2000 * MS));
    uint64_t k = tu_event_after(SIM_EV_OUT, SMC_OUT_CORE_EN, 0, 0);
    uint64_t x = tu_event_after(SIM_EV_OUT, SMC_OUT_AUX_EN, 0, 0);
    SB_CHECK(k == x && k - t0 <= 5 * MS);
}

static void test_pg_glitch(void) {
    boot_ready();
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(100 * MS);
    const smc_app *a = tu_app();
    uint16_t g0 = a->pg_glitches;
    /* 200 us: between two samples; only the edge latch sees it. */
    sim_pg_glitch(sim_now_us() + 300, 200);
    sim_run_us(50 * MS);
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_RUNNING);
    SB_CHECK_EQ_INT(a->pg_glitches, g0 + 1);
    /* 900 us starting just before a sample: one low sample, filtered. */
    uint64_t t = (sim_now_us() / 1000 + 1) * 1000 - 50;
    sim_pg_glitch(t, 900);
    sim_run_us(50 * MS);
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_RUNNING);
    SB_CHECK_EQ_INT(a->pg_glitches, g0 + 2);
    SB_CHECK(!a->pwr.fault_latched);
    sb_smc_telemetry tm;
    SB_CHECK(sim_host_telemetry(&tm) == 0 && tm.pg_glitches == g0 + 2);
    /* 2.5 ms: a real loss. */
    sim_pg_glitch(sim_now_us() + 500, 2500);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_FAULT, 500 * MS));
    SB_CHECK_EQ_INT(a->pwr.fault.code, SB_SMC_FAULT_CORE_PG_LOST);
}

int main(void) {
    SB_RUN(test_normal_powerup);
    SB_RUN(test_power_off_reverse_order);
    SB_RUN(test_rail_fails_to_come_up);
    SB_RUN(test_rail_fails_while_running);
    SB_RUN(test_pg_glitch);
    return sb_test_finish();
}
