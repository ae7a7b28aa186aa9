/*
 * sim_board.c - the simulated board's clock, main-loop driver, chip reset and watchdog, rails,
 * power-good/clock inputs and ADC (the rest of the HAL is in sim_plant.c, sim_onewire.c, sim_spi.c).
 *
 * Rails are advanced analytically between updates: a linear soft-start ramp towards the target
 * while enabled (and 12 V is above the regulators' 9 V UVLO), an exponential discharge (time
 * constant tau) when not. Core power-good asserts 1 ms after the core enters 90% of nominal and
 * drops as soon as it leaves it; the clock reports lock 1 ms after its enable.
 */
#include "sim_internal.h"

#include "smc_app.h"
#include "smc_config.h"

#include <math.h>
#include <string.h>

sim_state g_sim;

#define NONE UINT64_MAX
#define PG_BAND 0.90
#define PG_DELAY_US 1000u
#define CLK_LOCK_US 1000u
#define UVLO_V 9.0
#define BOOT_US 2000u /* reset + boot ROM + stage 2 before main() */

/* --- random numbers (splitmix64) --- */

uint64_t sim_rng_next(void) {
    uint64_t z = (g_sim.rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double sim_rng_uniform(void) { return (double)(sim_rng_next() >> 11) * (1.0 / 9007199254740992.0); }

double sim_rng_normal(void) {
    double u1 = sim_rng_uniform(), u2 = sim_rng_uniform();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void sim_config_default(sim_config *c) {
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->ambient_c = 25.0;
    c->adc_noise_pct = 2.0;
    c->adc_spike_prob = 0.0;
    c->gpu_load = 0.0;
    c->power_noise_pct = 0.0;
    c->host_agent = true;
    c->gpu_obeys_slowdown = true;
    c->die_quantum_cc = 100;
    c->ow_extra_device = false;
}

/* --- events --- */

void sim_event_add(uint8_t kind, uint8_t which, uint8_t level) {
    if (g_sim.n_ev < SIM_MAX_EVENTS) {
        sim_event *e = &g_sim.ev[g_sim.n_ev++];
        e->t = g_sim.now;
        e->kind = kind;
        e->which = which;
        e->level = level;
    }
}

static void event_at(uint64_t t, uint8_t kind, uint8_t level) {
    sim_event_add(kind, 0, level);
    if (g_sim.n_ev > 0 && g_sim.n_ev <= SIM_MAX_EVENTS)
        g_sim.ev[g_sim.n_ev - 1].t = t;
}

size_t sim_events(const sim_event **ev) {
    *ev = g_sim.ev;
    return g_sim.n_ev;
}

void sim_events_clear(void) { g_sim.n_ev = 0; }

void sim_set_output_hook(void (*fn)(void *), void *arg) {
    g_sim.out_hook = fn;
    g_sim.out_hook_arg = arg;
}

/* --- rails --- */

static bool in_window(const sim_window *w, int n, uint64_t t, double *value) {
    for (int i = 0; i < n; i++)
        if (t >= w[i].start && t < w[i].end) {
            if (value)
                *value = w[i].value;
            return true;
        }
    return false;
}

/* Voltage seen at the rail's output now: the modelled value unless a forced window is active. */
static double rail_eff(const sim_rail *r, uint64_t t) {
    double v;
    if (in_window(r->ovr, r->n_ovr, t, &v))
        return v;
    return r->v;
}

static double rail_target(const sim_rail *r, bool supply_ok) {
    if (!r->enabled || !supply_ok || r->fault == SIM_RAIL_NO_START)
        return 0.0;
    return r->fault == SIM_RAIL_LOW ? 0.85 * r->nominal : r->nominal;
}

/* Advances one rail from its t_upd to t; returns the time the ramp crossed `cross` (NONE if not). */
static uint64_t rail_advance(sim_rail *r, uint64_t t, bool supply_ok, double cross) {
    uint64_t crossed = NONE;
    if (t <= r->t_upd)
        return crossed;
    double dt = (double)(t - r->t_upd);
    double target = rail_target(r, supply_ok);
    if (target > r->v) {
        double slope = r->nominal / (r->fault == SIM_RAIL_SLOW ? 10.0 * r->ramp_us : r->ramp_us);
        double nv = r->v + slope * dt;
        if (r->v < cross && nv >= cross && cross <= target)
            crossed = r->t_upd + (uint64_t)ceil((cross - r->v) / slope);
        r->v = nv > target ? target : nv;
    } else if (target < r->v) {
        r->v = target + (r->v - target) * exp(-dt / r->tau_us);
        if (r->v - target < 1e-4)
            r->v = target;
    }
    r->t_upd = t;
    return crossed;
}

static bool pg_eval(uint64_t t) {
    sim_rail *c = &g_sim.rail[SIM_RAIL_CORE];
    return g_sim.out[SMC_OUT_CORE_EN] && c->t_good != NONE && t >= c->t_good + PG_DELAY_US &&
           c->fault != SIM_RAIL_NO_PG && !in_window(g_sim.pg_glitch, g_sim.n_pg_glitch, t, NULL);
}

static bool clk_eval(uint64_t t) {
    return g_sim.out[SMC_OUT_CLK_EN] && !g_sim.clk_never && t >= g_sim.t_clk_en + CLK_LOCK_US &&
           !in_window(g_sim.clk_loss, g_sim.n_clk_loss, t, NULL);
}

void sim_rails_update(void) {
    uint64_t t = g_sim.now;
    sim_rail *v12 = &g_sim.rail[SIM_RAIL_12V];
    sim_rail *core = &g_sim.rail[SIM_RAIL_CORE];
    uint64_t t_prev = core->t_upd;
    if (t == t_prev && t != 0)
        return;
    rail_advance(v12, t, true, 0.0);
    bool supply = rail_eff(v12, t) >= UVLO_V;
    rail_advance(&g_sim.rail[SIM_RAIL_3V3], t, supply, 0.0);
    double thr = PG_BAND * core->nominal;
    uint64_t crossed = rail_advance(core, t, supply, thr);
    bool good = rail_eff(core, t) >= thr;
    if (!good)
        core->t_good = NONE;
    else if (core->t_good == NONE)
        core->t_good = crossed != NONE ? crossed : t;

    bool pg = pg_eval(t);
    if (pg != g_sim.pg_level) {
        uint64_t te = t;
        if (pg && core->t_good + PG_DELAY_US > t_prev)
            te = core->t_good + PG_DELAY_US; /* the exact moment, not the tick that saw it */
        if (te > t)
            te = t;
        event_at(te, SIM_EV_PG, pg);
        if (!pg)
            g_sim.pg_fell = true;
        g_sim.pg_level = pg;
    }
    bool clk = clk_eval(t);
    if (clk != g_sim.clk_level) {
        uint64_t te = t;
        if (clk && g_sim.t_clk_en + CLK_LOCK_US > t_prev && g_sim.t_clk_en + CLK_LOCK_US <= t)
            te = g_sim.t_clk_en + CLK_LOCK_US;
        event_at(te, SIM_EV_CLK, clk);
        if (!clk)
            g_sim.clk_fell = true;
        g_sim.clk_level = clk;
    }
}

static void rails_init(void) {
    static const double nominal[SIM_NUM_RAILS] = {12.0, 3.3, 0.8};
    static const double ramp[SIM_NUM_RAILS] = {5000.0, 20000.0, 3000.0};
    static const double tau[SIM_NUM_RAILS] = {50000.0, 8000.0, 3000.0};
    for (int i = 0; i < SIM_NUM_RAILS; i++) {
        sim_rail *r = &g_sim.rail[i];
        memset(r, 0, sizeof *r);
        r->nominal = nominal[i];
        r->ramp_us = ramp[i];
        r->tau_us = tau[i];
        r->t_good = NONE;
    }
    g_sim.rail[SIM_RAIL_12V].enabled = true; /* the PSU's main output is on */
    g_sim.rail[SIM_RAIL_12V].v = 12.0;
}

void sim_rail_set_fault(int rail, sim_rail_fault f) {
    if (rail < 0 || rail >= SIM_NUM_RAILS)
        return;
    sim_rails_update();
    g_sim.rail[rail].fault = f;
}

void sim_rail_override(int rail, double volts, uint64_t start_us, uint64_t dur_us) {
    if (rail < 0 || rail >= SIM_NUM_RAILS || g_sim.rail[rail].n_ovr >= SIM_MAX_WINDOWS)
        return;
    sim_window *w = &g_sim.rail[rail].ovr[g_sim.rail[rail].n_ovr++];
    w->start = start_us;
    w->end = start_us + dur_us;
    w->value = volts;
}

void sim_pg_glitch(uint64_t start_us, uint64_t dur_us) {
    if (g_sim.n_pg_glitch < SIM_MAX_WINDOWS)
        g_sim.pg_glitch[g_sim.n_pg_glitch++] = (sim_window){start_us, start_us + dur_us, 0.0};
}

void sim_clk_never_locks(bool never) { g_sim.clk_never = never; }

void sim_clk_loss(uint64_t start_us, uint64_t dur_us) {
    if (g_sim.n_clk_loss < SIM_MAX_WINDOWS)
        g_sim.clk_loss[g_sim.n_clk_loss++] = (sim_window){start_us, start_us + dur_us, 0.0};
}

void sim_rail_set_ramp_us(int rail, double ramp_us) {
    if (rail >= 0 && rail < SIM_NUM_RAILS && ramp_us > 0)
        g_sim.rail[rail].ramp_us = ramp_us;
}

double sim_rail_volts(int rail) {
    if (rail < 0 || rail >= SIM_NUM_RAILS)
        return 0.0;
    sim_rails_update();
    return rail_eff(&g_sim.rail[rail], g_sim.now);
}

bool sim_pg(void) {
    sim_rails_update();
    return g_sim.pg_level;
}

bool sim_clk_ok(void) {
    sim_rails_update();
    return g_sim.clk_level;
}

bool sim_out(smc_out o) { return (unsigned)o < SMC_OUT_COUNT && g_sim.out[o]; }

/* --- chip reset, boot, driver --- */

static void set_output(smc_out o, bool level) {
    sim_rails_update();
    if (g_sim.out[o] == level)
        return;
    g_sim.out[o] = level;
    if (o == SMC_OUT_AUX_EN)
        g_sim.rail[SIM_RAIL_3V3].enabled = level;
    else if (o == SMC_OUT_CORE_EN)
        g_sim.rail[SIM_RAIL_CORE].enabled = level;
    else if (o == SMC_OUT_CLK_EN && level)
        g_sim.t_clk_en = g_sim.now;
    sim_event_add(SIM_EV_OUT, (uint8_t)o, level);
    sim_rails_update();
    if (g_sim.out_hook)
        g_sim.out_hook(g_sim.out_hook_arg);
}

/* The chip resets: every pin floats, so the board pull-downs switch the rails off and hold PERST#
 * low, and the fans' own pull-ups on the PWM lines run them at full speed. */
static void chip_reset(unsigned reason) {
    g_sim.now += 1; /* a reset is not instantaneous */
    for (int o = SMC_OUT_COUNT - 1; o >= 0; o--)
        set_output((smc_out)o, false);
    g_sim.in_reset = true;
    g_sim.boot_at = g_sim.now + BOOT_US;
    g_sim.reset_reason = reason;
    g_sim.resets++;
    g_sim.wdt_on = false;
    g_sim.hung = false; /* the firmware starts afresh: a hang is not carried over */
    sim_fans_on_reset();
    sim_spi_reset_board();
    sim_event_add(SIM_EV_RESET, (uint8_t)reason, 0);
}

static void boot(void) {
    g_sim.in_reset = false;
    g_sim.last_boot = g_sim.now;
    g_sim.ow_seen_after_boot = false;
    sim_event_add(SIM_EV_BOOT, 0, 0);
    smc_app_init();
}

void sim_power_on(const sim_config *cfg) {
    void (*hook)(void *) = g_sim.out_hook;
    void *hook_arg = g_sim.out_hook_arg;
    memset(&g_sim, 0, sizeof g_sim);
    g_sim.out_hook = hook;
    g_sim.out_hook_arg = hook_arg;
    g_sim.cfg = *cfg;
    g_sim.rng = cfg->seed * 0x2545F4914F6CDD1Dull + 0x1234567ull;
    g_sim.adc_rng = (uint32_t)(sim_rng_next() | 1u);
    g_sim.load = cfg->gpu_load;
    rails_init();
    sim_plant_reset();
    sim_ow_reset_board();
    sim_spi_reset_board();
    g_sim.agent_on = cfg->host_agent;
    g_sim.agent_next = 500000; /* the host's first update half a second after power-on */
    g_sim.in_reset = true;
    g_sim.boot_at = BOOT_US;
    g_sim.reset_reason = SB_SMC_RESET_POWER_ON;
    sim_fans_on_reset();
}

void sim_power_cycle(void) {
    sim_config c = g_sim.cfg;
    sim_power_on(&c);
}

static void step_tick(uint64_t end) {
    if (g_sim.in_reset && g_sim.now >= g_sim.boot_at)
        boot();
    if (!g_sim.in_reset && !g_sim.hung)
        smc_app_poll();
    if (!g_sim.in_reset && g_sim.wdt_on && g_sim.now - g_sim.wdt_last_kick >= g_sim.wdt_timeout_us)
        chip_reset(SB_SMC_RESET_WATCHDOG);
    sim_host_tick();
    uint64_t next = (g_sim.now / SMC_TICK_US + 1) * SMC_TICK_US;
    if (next > end)
        next = end;
    if (next <= g_sim.now)
        next = g_sim.now + 1;
    sim_plant_advance(next);
    g_sim.now = next;
    sim_rails_update();
}

void sim_run_us(uint64_t us) {
    uint64_t end = g_sim.now + us;
    while (g_sim.now < end)
        step_tick(end);
}

bool sim_run_until(bool (*pred)(void *), void *arg, uint64_t max_us) {
    uint64_t end = g_sim.now + max_us;
    while (g_sim.now < end) {
        if (pred(arg))
            return true;
        step_tick(end);
    }
    return pred(arg);
}

uint64_t sim_now_us(void) { return g_sim.now; }
void sim_set_hung(bool hung) { g_sim.hung = hung; }
unsigned sim_reset_count(void) { return g_sim.resets; }
uint64_t sim_last_boot_us(void) { return g_sim.last_boot; }

/* --- HAL: board, time, GPIO, ADC, watchdog --- */

void hal_board_init(void) {
    for (int o = SMC_OUT_COUNT - 1; o >= 0; o--)
        set_output((smc_out)o, false);
    for (unsigned i = 0; i < SB_SMC_NUM_FANS; i++)
        hal_fan_set(i, 1000);
}

uint64_t hal_time_us(void) { return g_sim.now; }

void hal_delay_us(uint32_t us) { g_sim.now += us; }

void hal_out_set(smc_out o, bool level) {
    if ((unsigned)o >= SMC_OUT_COUNT || g_sim.in_reset)
        return;
    set_output(o, level);
}

bool hal_in_get(smc_in i) {
    sim_rails_update();
    if (i == SMC_IN_PG_CORE)
        return g_sim.pg_level;
    if (i == SMC_IN_CLK_OK)
        return g_sim.clk_level;
    return false;
}

/* Whether a forced-low window started inside (from, to]: a dip the sampling may have missed. */
static bool window_started(const sim_window *w, int n, uint64_t from, uint64_t to) {
    for (int i = 0; i < n; i++)
        if (w[i].start > from && w[i].start <= to)
            return true;
    return false;
}

bool hal_in_fell(smc_in i) {
    sim_rails_update();
    uint64_t from = g_sim.pg_fell_checked;
    g_sim.pg_fell_checked = g_sim.now;
    if (i == SMC_IN_PG_CORE) {
        bool f = g_sim.pg_fell;
        /* The edge latch sees a glitch even when it began and ended between two samples. */
        if (g_sim.out[SMC_OUT_CORE_EN] && window_started(g_sim.pg_glitch, g_sim.n_pg_glitch, from, g_sim.now))
            f = true;
        g_sim.pg_fell = false;
        return f;
    }
    if (i == SMC_IN_CLK_OK) {
        bool f = g_sim.clk_fell;
        g_sim.clk_fell = false;
        return f;
    }
    return false;
}

/* A cheap uniform in [-1, 1) for ADC noise (xorshift32; the main generator is kept for the rest). */
static double adc_noise_unit(void) {
    uint32_t x = g_sim.adc_rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    g_sim.adc_rng = x;
    return (double)(int32_t)x * (1.0 / 2147483648.0);
}

uint16_t hal_adc_read(smc_adc ch) {
    /* ADC counts per rail volt: 4096 / 3.3 V at the pin, times the divider. */
    static const double counts_per_v[SMC_ADC_COUNT] = {
        SMC_ADC_COUNTS * 1000.0 / SMC_ADC_FULL_SCALE_MV * 1000.0 / SMC_ADC_RATIO_12V,
        SMC_ADC_COUNTS * 1000.0 / SMC_ADC_FULL_SCALE_MV * 1000.0 / SMC_ADC_RATIO_3V3,
        SMC_ADC_COUNTS * 1000.0 / SMC_ADC_FULL_SCALE_MV * 1000.0 / SMC_ADC_RATIO_CORE};
    if ((unsigned)ch >= SMC_ADC_COUNT)
        return 0;
    sim_rails_update();
    const sim_rail *r = &g_sim.rail[ch];
    double v = r->n_ovr ? rail_eff(r, g_sim.now) : r->v;
    if (g_sim.cfg.adc_noise_pct > 0)
        v += adc_noise_unit() * g_sim.cfg.adc_noise_pct * 0.01 * r->nominal;
    if (g_sim.cfg.adc_spike_prob > 0 && sim_rng_uniform() < g_sim.cfg.adc_spike_prob)
        v *= sim_rng_uniform() < 0.5 ? 0.7 : 1.3;
    double counts = v * counts_per_v[ch] + 0.5;
    if (counts < 0)
        counts = 0;
    if (counts > SMC_ADC_COUNTS - 1)
        counts = SMC_ADC_COUNTS - 1;
    return (uint16_t)counts;
}

void hal_wdt_start(uint32_t timeout_ms) {
    g_sim.wdt_on = true;
    g_sim.wdt_timeout_us = (uint64_t)timeout_ms * 1000u;
    g_sim.wdt_last_kick = g_sim.now;
}

void hal_wdt_kick(void) { g_sim.wdt_last_kick = g_sim.now; }

unsigned hal_reset_reason(void) { return g_sim.reset_reason; }

uint32_t hal_retained_read(unsigned i) { return i < SMC_RETAINED_WORDS ? g_sim.retained[i] : 0; }

void hal_retained_write(unsigned i, uint32_t v) {
    if (i < SMC_RETAINED_WORDS)
        g_sim.retained[i] = v;
}
