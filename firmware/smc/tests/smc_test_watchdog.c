/*
 * smc_test_watchdog.c - a hung main loop: the watchdog resets the chip within its timeout (well under
 * 8.4 s), the fans run at 100% before any sensor is read, the GPU stays off until the host asks; a
 * latched fault survives a watchdog reset but not a power cycle; the retained words are checked.
 */
#include "sb_test.h"
#include "smc_config.h"
#include "smc_fault.h"
#include "smc_test_util.h"

#include <string.h>

#define MS 1000u

/* Field by field: the struct has padding that memcmp would compare too. */
static bool fault_eq(const sb_smc_fault_rec *a, const sb_smc_fault_rec *b) {
    return a->code == b->code && a->source == b->source && a->step == b->step && a->time_ms == b->time_ms &&
           a->value == b->value;
}

static void test_hang_resets_and_fans_first(void) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 0.5;
    tu_boot(&c, 2500 * MS);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(120000 * MS);
    SB_CHECK_EQ_INT(sim_reset_count(), 0); /* a healthy loop is never reset */
    SB_CHECK(sim_fan_duty(0) < 1000);

    uint64_t t0 = sim_now_us();
    sim_set_hung(true);
    sim_run_us(10000 * MS);
    sim_set_hung(false);
    SB_CHECK_EQ_INT(sim_reset_count(), 1);
    const sim_event *ev;
    size_t n = sim_events(&ev);
    uint64_t t_reset = UINT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (ev[i].kind == SIM_EV_RESET && ev[i].t >= t0) {
            t_reset = ev[i].t;
            SB_CHECK_EQ_INT(ev[i].which, SB_SMC_RESET_WATCHDOG);
            break;
        }
    SB_CHECKF(t_reset - t0 <= SMC_WDT_TIMEOUT_MS * MS + 2 * MS && t_reset - t0 < 8400 * MS,
              "reset %llu ms after the hang", (unsigned long long)(t_reset - t0) / 1000);
    /* The GPU went off with the reset (pull-downs), PERST# asserted. */
    SB_CHECK(tu_event_after(SIM_EV_OUT, SMC_OUT_PERST_N, 0, t0) <= t_reset);
    SB_CHECK(!sim_out(SMC_OUT_GPU_EN) && !sim_out(SMC_OUT_CORE_EN) && !sim_out(SMC_OUT_AUX_EN));
    /* Fans at 100% before the first sensor access after the reboot. */
    uint64_t t_ow;
    uint16_t duty[SB_SMC_NUM_FANS];
    SB_CHECK(sim_first_ow_after_boot(&t_ow, duty));
    SB_CHECK(t_ow >= sim_last_boot_us());
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        SB_CHECK_EQ_INT(duty[i], 1000);
    /* The GPU stays off until the host asks again. */
    const smc_app *a = tu_app();
    SB_CHECK_EQ_INT(a->reset_reason, SB_SMC_RESET_WATCHDOG);
    sim_run_us(30000 * MS);
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_OFF);
    SB_CHECK(!sim_out(SMC_OUT_AUX_EN));
    sb_smc_status st;
    SB_CHECK(sim_host_status(&st) == 0 && st.reset_reason == SB_SMC_RESET_WATCHDOG);
    sb_smc_fault_rec rec[SB_SMC_FAULT_LOG_MAX];
    unsigned k = smc_fault_log_get(&a->log, rec);
    SB_CHECK(k >= 1 && rec[0].code == SB_SMC_FAULT_WATCHDOG);
    SB_CHECK(tu_power_on(1000 * MS));
}

static void test_latched_fault_survives_watchdog(void) {
    sim_config c;
    sim_config_default(&c);
    tu_boot(&c, 2500 * MS);
    sim_rail_set_fault(SIM_RAIL_CORE, SIM_RAIL_NO_PG);
    uint8_t res;
    SB_CHECK(sim_host_power(true, &res) == 0);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_FAULT, 1000 * MS));
    sb_smc_fault_rec before = tu_app()->pwr.fault;
    sim_rail_set_fault(SIM_RAIL_CORE, SIM_RAIL_OK);
    sim_set_hung(true);
    sim_run_us(3000 * MS);
    sim_set_hung(false);
    sim_run_us(3000 * MS);
    const smc_app *a = tu_app();
    SB_CHECK_EQ_INT(sim_reset_count(), 1);
    SB_CHECK_EQ_INT(a->pwr.state, SB_SMC_PWR_FAULT);
    SB_CHECK(fault_eq(&a->pwr.fault, &before));
    SB_CHECK(sim_host_power(true, &res) == 0 && res == SB_SMC_RES_FAULT_LATCHED);
    sb_smc_status st;
    SB_CHECK(sim_host_status(&st) == 0 && st.fault.code == SB_SMC_FAULT_CORE_TIMEOUT);
    /* A power cycle clears it. */
    sim_power_cycle();
    sim_run_us(3000 * MS);
    SB_CHECK_EQ_INT(tu_app()->pwr.state, SB_SMC_PWR_OFF);
    SB_CHECK(!tu_app()->pwr.fault_latched);
    SB_CHECK_EQ_INT(tu_app()->reset_reason, SB_SMC_RESET_POWER_ON);
    /* And so does the command (after another latch + watchdog reset). */
    sim_rail_set_fault(SIM_RAIL_CORE, SIM_RAIL_NO_PG);
    SB_CHECK(sim_host_power(true, &res) == 0);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_FAULT, 1000 * MS));
    sim_rail_set_fault(SIM_RAIL_CORE, SIM_RAIL_OK);
    sim_set_hung(true);
    sim_run_us(3000 * MS);
    sim_set_hung(false);
    sim_run_us(2000 * MS);
    SB_CHECK_EQ_INT(tu_app()->pwr.state, SB_SMC_PWR_FAULT);
    SB_CHECK(sim_host_clear_fault(&res) == 0 && res == SB_SMC_RES_OK);
    sim_run_us(10 * MS);
    SB_CHECK_EQ_INT(tu_app()->pwr.state, SB_SMC_PWR_OFF);
    SB_CHECK_EQ_INT(hal_retained_read(0), 0); /* the retained latch is erased */
    SB_CHECK(tu_power_on(1000 * MS));
}

static void test_retained_words(void) {
    sb_smc_fault_rec r = {SB_SMC_FAULT_AUX_LOST, SB_SMC_RAIL_3V3, SB_SMC_PWR_RUNNING, 123456, -42}, back;
    uint32_t w[4];
    smc_fault_pack(&r, w);
    SB_CHECK(smc_fault_unpack(w, &back));
    SB_CHECK(fault_eq(&r, &back));
    /* Any single-bit corruption is rejected (random RAM after power-up does not latch a fault). */
    for (int i = 0; i < 128; i++) {
        uint32_t x[4];
        memcpy(x, w, sizeof x);
        x[i / 32] ^= 1u << (i % 32);
        SB_CHECK(!smc_fault_unpack(x, &back));
    }
    uint32_t zero[4] = {0, 0, 0, 0};
    SB_CHECK(!smc_fault_unpack(zero, &back));
}

int main(void) {
    SB_RUN(test_hang_resets_and_fans_first);
    SB_RUN(test_latched_fault_survives_watchdog);
    SB_RUN(test_retained_words);
    return sb_test_finish();
}
