/*
 * smc_test_power_prop.c - property test of the power state machine: 100,000 random event traces,
 * checking after every step that no illegal state is ever reached:
 *   - core enabled while the 12 V input is out of band;
 *   - PERST# released with a rail down or the clock not stable, or earlier than 100 ms after the core
 *     became good / 100 us after the clock did;
 *   - GPU enable without PERST# released, clock without core, core without aux;
 *   - a ramp state outliving its timeout; a latched fault lost without a clear request; outputs on
 *     in FAULT.
 * The traces come from a small random plant (rails follow their enables after random delays, with
 * random faults, glitches and host requests), so that most traces reach RUNNING and every fault
 * path is exercised; the test also checks that coverage. Then a shorter run of random fault traces
 * on the full simulated board checks the same on the hardware side.
 */
#include "sb_test.h"
#include "smc_config.h"
#include "smc_pwr.h"
#include "smc_test_util.h"

#include <stdio.h>
#include <string.h>

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rnd(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static unsigned below(rng *r, unsigned n) { return (unsigned)(rnd(r) % n); }
static bool chance(rng *r, unsigned pct) { return below(r, 100) < pct; }

/* Random plant state: when each input will next be true, given the enables. */
typedef struct plant {
    bool aux_broken, core_broken, clk_broken, v12_bad;
    uint64_t aux_ready, core_ready, clk_ready; /* when the rail comes good after its enable */
} plant;

static unsigned g_reached_running, g_faults[SB_SMC_FAULT_NUM_CODES], g_violations;
static unsigned long g_steps;

#define VIOLATION(...)                                                                                        \
    do {                                                                                                     \
        if (g_violations++ < 10)                                                                             \
            SB_CHECKF(false, __VA_ARGS__);                                                                   \
    } while (0)

static void run_trace(uint64_t seed) {
    rng r = {seed * 0x2545F4914F6CDD1Dull + 7};
    smc_pwr p;
    uint64_t now = 1000 + below(&r, 1000000);
    smc_pwr_init(&p, NULL, now);
    plant pl;
    memset(&pl, 0, sizeof pl);
    pl.aux_broken = chance(&r, 8);
    pl.core_broken = chance(&r, 8);
    pl.clk_broken = chance(&r, 5);
    pl.v12_bad = chance(&r, 5);
    /* Half the traces are calm (rare disturbances), the rest noisy. */
    unsigned noise = chance(&r, 50) ? 0 : 1 + below(&r, 8);

    smc_pwr_in in;
    memset(&in, 0, sizeof in);
    in.v12_ok = !pl.v12_bad;
    in.aux_off = in.core_off = true;
    smc_pwr_out out = smc_pwr_outputs(p.state);
    uint64_t core_good_since = UINT64_MAX, clk_good_since = UINT64_MAX;
    bool latched_prev = false, reached = false;
    unsigned len = 10 + below(&r, 60);

    for (unsigned step = 0; step < len; step++) {
        /* Advance time: mostly small steps, sometimes long ones. */
        unsigned k = below(&r, 10);
        uint64_t dt = k < 4 ? 1 + below(&r, 1000) : (k < 8 ? 1000 + below(&r, 20000) : below(&r, 150000));
        now += dt;

        /* The plant follows the enables of the previous step. */
        if (out.aux_en && pl.aux_ready == 0)
            pl.aux_ready = now + below(&r, 120000);
        if (!out.aux_en)
            pl.aux_ready = 0;
        if (out.core_en && pl.core_ready == 0)
            pl.core_ready = now + below(&r, 60000);
        if (!out.core_en)
            pl.core_ready = 0;
        if (out.clk_en && pl.clk_ready == 0)
            pl.clk_ready = now + below(&r, 25000);
        if (!out.clk_en)
            pl.clk_ready = 0;
        in.aux_ok = out.aux_en && !pl.aux_broken && now >= pl.aux_ready;
        in.core_ok = out.core_en && !pl.core_broken && now >= pl.core_ready;
        in.core_pg = in.core_ok;
        in.pg_now = in.core_pg;
        in.clk_ok = out.clk_en && !pl.clk_broken && now >= pl.clk_ready;
        in.aux_off = !out.aux_en;
        in.core_off = !out.core_en;

        /* Random disturbances: 12 V excursions, glitches, stuck discharge, requests, EPO. */
        in.v12_ok = !pl.v12_bad;
        if (chance(&r, noise))
            in.v12_ok = !in.v12_ok;
        if (chance(&r, noise))
            in.aux_ok = !in.aux_ok;
        if (chance(&r, noise))
            in.core_pg = !in.core_pg;
        if (chance(&r, noise))
            in.core_ok = !in.core_ok;
        if (chance(&r, noise + 1))
            in.pg_now = !in.pg_now;
        if (chance(&r, noise))
            in.clk_ok = !in.clk_ok;
        if (chance(&r, noise))
            in.aux_off = !in.aux_off;
        if (chance(&r, noise))
            in.core_off = !in.core_off;
        in.req_on = chance(&r, 30);
        in.req_off = chance(&r, 1 + noise / 2);
        in.req_clear = chance(&r, 10);
        in.epo = chance(&r, noise / 3);
        in.epo_source = SB_SMC_T_DIE;
        if (chance(&r, 1))
            pl.aux_broken = !pl.aux_broken;

        bool core_good = in.core_pg && in.core_ok;
        core_good_since = core_good ? (core_good_since == UINT64_MAX ? now : core_good_since) : UINT64_MAX;
        clk_good_since = in.clk_ok ? (clk_good_since == UINT64_MAX ? now : clk_good_since) : UINT64_MAX;
        bool was_fault_state = p.state == SB_SMC_PWR_FAULT;

        out = smc_pwr_step(&p, &in, now);
        g_steps++;

        if ((unsigned)p.state >= SB_SMC_PWR_NUM_STATES)
            VIOLATION("seed %llu: state %d out of range", (unsigned long long)seed, p.state);
        if (out.core_en && !in.v12_ok)
            VIOLATION("seed %llu step %u: core enabled with 12 V out of band", (unsigned long long)seed, step);
        if (out.perst_n) {
            if (!(in.v12_ok && in.aux_ok && in.core_pg && in.core_ok && in.clk_ok))
                VIOLATION("seed %llu step %u: PERST# released with a rail down", (unsigned long long)seed, step);
            if (p.state == SB_SMC_PWR_GPU_ENABLE && p.t_enter == now && !in.pg_now)
                VIOLATION("seed %llu step %u: PERST# released during a PG dip", (unsigned long long)seed, step);
            if (core_good_since == UINT64_MAX || now - core_good_since < SMC_T_PERST_AFTER_PG_US)
                VIOLATION("seed %llu step %u: PERST# < 100 ms after power-good", (unsigned long long)seed, step);
            if (clk_good_since == UINT64_MAX || now - clk_good_since < SMC_T_PERST_AFTER_CLK_US)
                VIOLATION("seed %llu step %u: PERST# < 100 us after the clock", (unsigned long long)seed, step);
        }
        if ((out.gpu_en && !out.perst_n) || (out.clk_en && !out.core_en) || (out.core_en && !out.aux_en))
            VIOLATION("seed %llu step %u: output order broken", (unsigned long long)seed, step);
        if (p.state == SB_SMC_PWR_FAULT && (out.aux_en || out.core_en || out.clk_en || out.perst_n || out.gpu_en))
            VIOLATION("seed %llu step %u: outputs on in FAULT", (unsigned long long)seed, step);
        if (p.state == SB_SMC_PWR_FAULT && !p.fault_latched)
            VIOLATION("seed %llu step %u: FAULT without a latched fault", (unsigned long long)seed, step);
        if (latched_prev && !p.fault_latched && !(was_fault_state && in.req_clear))
            VIOLATION("seed %llu step %u: fault unlatched without a clear", (unsigned long long)seed, step);
        uint64_t in_state = now - p.t_enter;
        if ((p.state == SB_SMC_PWR_AUX_RAMP && in_state >= SMC_T_AUX_RAMP_US) ||
            (p.state == SB_SMC_PWR_CORE_RAMP && in_state >= SMC_T_CORE_RAMP_US) ||
            (p.state == SB_SMC_PWR_CLK_WAIT && in_state >= SMC_T_CLK_US) ||
            (p.state == SB_SMC_PWR_WAIT_12V && in_state >= SMC_T_12V_TIMEOUT_US))
            VIOLATION("seed %llu step %u: state %s outlived its timeout", (unsigned long long)seed, step,
                      sb_smc_state_name(p.state));
        if (p.fault_new)
            g_faults[p.fault.code < SB_SMC_FAULT_NUM_CODES ? p.fault.code : 0]++;
        if (p.state == SB_SMC_PWR_RUNNING)
            reached = true;
        latched_prev = p.fault_latched;
    }
    if (reached)
        g_reached_running++;
}

static void test_random_traces(void) {
    const unsigned n = 100000;
    for (unsigned i = 0; i < n; i++)
        run_trace(i + 1);
    SB_CHECK_EQ_INT(g_violations, 0);
    fprintf(stderr, "  %u traces, %lu steps, %u reached RUNNING\n", n, g_steps, g_reached_running);
    /* The generator must actually exercise the machine. */
    SB_CHECK(g_reached_running > n / 10);
    for (int c = SB_SMC_FAULT_V12_LOST; c <= SB_SMC_FAULT_THERMAL_EPO; c++)
        SB_CHECKF(g_faults[c] > 0, "fault %s seen %u times", sb_smc_fault_name((unsigned)c), g_faults[c]);
}

/* --- the same properties on the simulated hardware --- */

/* Checked when an output switches on (the firmware cannot react to a rail dropping faster than its
 * debounce, but it must never switch something on into a bad state), and for the output order
 * at every change. */
static int g_hw_bad;
static bool g_prev[SMC_OUT_COUNT];
static void hw_hook(void *arg) {
    (void)arg;
    bool rose[SMC_OUT_COUNT];
    for (int o = 0; o < SMC_OUT_COUNT; o++) {
        rose[o] = sim_out((smc_out)o) && !g_prev[o];
        g_prev[o] = sim_out((smc_out)o);
    }
    if (rose[SMC_OUT_PERST_N] && !(sim_pg() && sim_clk_ok() && sim_rail_volts(SIM_RAIL_3V3) >= 3.0 &&
                                   sim_rail_volts(SIM_RAIL_12V) >= 11.0)) {
        fprintf(stderr, "PERST# released at %llu: pg %d clk %d aux %.2f 12V %.2f\n", (unsigned long long)sim_now_us(),
                sim_pg(), sim_clk_ok(), sim_rail_volts(SIM_RAIL_3V3), sim_rail_volts(SIM_RAIL_12V));
        g_hw_bad++;
    }
    if (rose[SMC_OUT_AUX_EN] && sim_rail_volts(SIM_RAIL_12V) < 11.0) {
        fprintf(stderr, "aux enabled at %llu with 12 V at %.2f\n", (unsigned long long)sim_now_us(),
                sim_rail_volts(SIM_RAIL_12V));
        g_hw_bad++;
    }
    if (sim_out(SMC_OUT_GPU_EN) && !sim_out(SMC_OUT_PERST_N))
        g_hw_bad++;
    if (sim_out(SMC_OUT_CLK_EN) && !sim_out(SMC_OUT_CORE_EN))
        g_hw_bad++;
    if (sim_out(SMC_OUT_CORE_EN) && !sim_out(SMC_OUT_AUX_EN))
        g_hw_bad++;
}

static void test_random_board_traces(void) {
    rng r = {12345};
    unsigned running = 0;
    sim_set_output_hook(hw_hook, NULL);
    for (unsigned t = 0; t < 60; t++) {
        sim_config c;
        sim_config_default(&c);
        c.seed = t + 1;
        c.adc_spike_prob = 0.002;
        tu_boot(&c, 2500000);
        for (int ev = 0; ev < 12; ev++) {
            uint64_t now = sim_now_us();
            switch (below(&r, 9)) {
            case 0:
                sim_rail_override(SIM_RAIL_12V, chance(&r, 50) ? 10.0 : 13.5, now + below(&r, 20000),
                                  1000 + below(&r, 30000));
                break;
            case 1:
                sim_rail_override(SIM_RAIL_3V3, 2.5, now + below(&r, 20000), 500 + below(&r, 20000));
                break;
            case 2:
                sim_rail_override(SIM_RAIL_CORE, 0.3 + 0.1 * below(&r, 6), now + below(&r, 20000),
                                  200 + below(&r, 8000));
                break;
            case 3:
                sim_pg_glitch(now + below(&r, 20000), 50 + below(&r, 4000));
                break;
            case 4:
                sim_clk_loss(now + below(&r, 20000), 100 + below(&r, 5000));
                break;
            case 5: {
                uint8_t res;
                sim_host_clear_fault(&res);
                break;
            }
            case 6: {
                uint8_t res;
                sim_host_power(false, &res);
                break;
            }
            default: {
                uint8_t res;
                sim_host_power(true, &res);
                break;
            }
            }
            sim_run_us(50000 + below(&r, 300000));
            if (tu_app()->pwr.state == SB_SMC_PWR_RUNNING)
                running++;
        }
    }
    sim_set_output_hook(NULL, NULL);
    SB_CHECK_EQ_INT(g_hw_bad, 0);
    SB_CHECK(running > 20);
}

int main(void) {
    SB_RUN(test_random_traces);
    SB_RUN(test_random_board_traces);
    return sb_test_finish();
}
