/*
 * smc_fan.c - zone PID with feed-forward, anti-windup and slew limits; tach supervision.
 *
 * The tuning below was chosen on the simulated board (hal/sim/sim_thermal.c, README "Thermal
 * model"): the heatsink time constant is ~30-60 s, so a PI loop with integral time ~40 s and a
 * feed-forward that already lands near the steady-state duty keeps the load-step overshoot small.
 */
#include "smc_fan.h"

#include "smc_config.h"
#include "smc_hal.h"

#include <string.h>

/* Zone tuning per profile. Set-points (cC) by temperature index: die, VRM, connector, -, exhaust. */
#define ZONE(kp_, ki_, ffb, ffw, ffk, min_, cap_, up, down)                                                   \
    {.kp = kp_, .ki = ki_, .kd = 0.0f, .ff_base = ffb, .ff_per_w = ffw, .ff_per_k = ffk, .out_min = min_,      \
     .out_max = 100.0f, .cap = cap_, .cap_release = 4.0f, .slew_up = up, .slew_down = down, .p_neg_limit = 5.0f, \
     .i_band = 5.0f, .err_tau = 30.0f}

static const smc_profile_cfg profiles[SB_SMC_PROFILE_NUM] = {
    [SB_SMC_PROFILE_QUIET] =
        {
            .zone = {[SMC_ZONE_GPU] = ZONE(2.0f, 0.04f, 4.0f, 0.115f, 3.0f, 15.0f, 65.0f, 5.0f, 1.0f),
                     [SMC_ZONE_BOARD] = ZONE(2.0f, 0.04f, 12.0f, 0.02f, 1.0f, 15.0f, 60.0f, 5.0f, 1.0f)},
            .setpoint = {8000, 8500, 6500, 0, 5800},
        },
    [SB_SMC_PROFILE_NORMAL] =
        {
            .zone = {[SMC_ZONE_GPU] = ZONE(2.0f, 0.04f, 6.0f, 0.13f, 3.5f, 20.0f, 100.0f, 10.0f, 2.0f),
                     [SMC_ZONE_BOARD] = ZONE(3.0f, 0.05f, 15.0f, 0.03f, 1.0f, 20.0f, 100.0f, 10.0f, 2.0f)},
            .setpoint = {7500, 8000, 6000, 0, 5200},
        },
    [SB_SMC_PROFILE_MAX] = {.all_max = true},
};

const smc_profile_cfg *smc_profile_get(unsigned profile) {
    return &profiles[profile < SB_SMC_PROFILE_NUM ? profile : SB_SMC_PROFILE_NORMAL];
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

void smc_zone_reset(smc_zone *z, float out) {
    memset(z, 0, sizeof *z);
    z->out = out;
}

float smc_power_filter(float filt, float p, float tau_s, float step_w, float dt_s) {
    float d = p - filt;
    if (d > step_w || d < -step_w)
        return p;
    return filt + d * dt_s / (tau_s + dt_s);
}

float smc_zone_update(smc_zone *z, const smc_zone_cfg *c, float err, float power_w, float intake_k, float dt_s) {
    if (!z->primed)
        z->err_f = err;
    else if (c->err_tau > 0.0f)
        z->err_f += (err - z->err_f) * dt_s / (c->err_tau + dt_s);
    else
        z->err_f = err;
    err = z->err_f;

    float hi = c->out_max;
    if (c->cap < hi && err < c->cap_release)
        hi = c->cap;
    /* The reachable range this period: output limits intersected with the slew limits. */
    float lo_r = clampf(z->out - c->slew_down * dt_s, c->out_min, hi);
    float hi_r = clampf(z->out + c->slew_up * dt_s, c->out_min, hi);
    if (lo_r > hi_r)
        lo_r = hi_r;

    float ff = c->ff_base + c->ff_per_w * (power_w > 0.0f ? power_w : 0.0f) + c->ff_per_k * intake_k;
    float p = c->kp * (err < -c->p_neg_limit ? -c->p_neg_limit : err);
    float d = (z->primed && dt_s > 0.0f) ? c->kd * (err - z->prev_err) / dt_s : 0.0f;
    bool in_band = err <= c->i_band && err >= -c->i_band;
    float integ = in_band ? clampf(z->integ + c->ki * err * dt_s, -100.0f, 100.0f) : z->integ;
    float u = ff + p + integ + d;
    /* Conditional integration: keep the old integral when the new one would only push further into
     * a limit the output already sits at. */
    if ((u > hi_r && err > 0.0f) || (u < lo_r && err < 0.0f)) {
        integ = z->integ;
        u = ff + p + integ + d;
    }
    z->integ = integ;
    z->prev_err = err;
    z->primed = true;
    z->out = clampf(u, lo_r, hi_r);
    return z->out;
}

void smc_fans_init(smc_fans *f, const uint32_t tach_now[SB_SMC_NUM_FANS], uint64_t now) {
    memset(f, 0, sizeof *f);
    for (int i = 0; i < SB_SMC_NUM_FANS; i++) {
        f->tach_prev[i] = tach_now[i];
        f->duty[i] = 1000;
    }
    f->t_prev = now;
}

void smc_fans_tach(smc_fans *f, const uint32_t tach_now[SB_SMC_NUM_FANS], const uint16_t rpm_max[SB_SMC_NUM_FANS],
                   uint64_t now) {
    uint64_t win = now - f->t_prev;
    if (win == 0)
        return;
    for (int i = 0; i < SB_SMC_NUM_FANS; i++) {
        uint32_t pulses = tach_now[i] - f->tach_prev[i]; /* wraps correctly */
        f->tach_prev[i] = tach_now[i];
        uint64_t rpm = (uint64_t)pulses * 60u * 1000000u / (SMC_TACH_PULSES_PER_REV * win);
        f->rpm[i] = rpm > 0xFFFFu ? 0xFFFFu : (uint16_t)rpm;

        uint32_t expected = (uint32_t)f->duty[i] * rpm_max[i] / 1000u;
        bool under = f->duty[i] > 0 && (uint32_t)f->rpm[i] * 1000u < expected * SMC_FAN_FAIL_PERMILLE;
        if (!under) {
            f->low[i] = false;
            continue;
        }
        if (!f->low[i]) {
            f->low[i] = true;
            f->low_since[i] = f->t_prev; /* the whole window was under speed */
        }
        if (!f->failed[i] && now - f->low_since[i] >= SMC_FAN_FAIL_US) {
            f->failed[i] = true;
            f->new_fail |= (uint8_t)(1u << i);
        }
    }
    f->t_prev = now;
}
