/*
 * smc_pwr.c - the power sequencing state machine (see smc_pwr.h for the diagram).
 *
 * Safety properties, checked by tests/test_smc_power_prop.c on random traces:
 *   - the core is never enabled in a step whose input says 12 V is out of band;
 *   - PERST# is released only while every rail and the clock are good, at least 100 ms after the
 *     core came into regulation and 100 us after the clock became stable;
 *   - GPU enable implies PERST# released; core enable implies aux enable; clock implies core;
 *   - a latched fault stays latched until a clear request.
 */
#include "smc_pwr.h"

#include "smc_config.h"

#include <string.h>

smc_pwr_out smc_pwr_outputs(sb_smc_pwr_state s) {
    smc_pwr_out o = {false, false, false, false, false};
    switch (s) {
    case SB_SMC_PWR_RUNNING:
        o.gpu_en = true;
        /* fall through */
    case SB_SMC_PWR_GPU_ENABLE:
        o.perst_n = true;
        /* fall through */
    case SB_SMC_PWR_CLK_WAIT:
    case SB_SMC_PWR_PERST_WAIT:
    case SB_SMC_PWR_PDN_PERST:
        o.clk_en = true;
        /* fall through */
    case SB_SMC_PWR_CORE_RAMP:
        o.core_en = true;
        /* fall through */
    case SB_SMC_PWR_AUX_RAMP:
    case SB_SMC_PWR_PDN_CORE:
        o.aux_en = true;
        break;
    default:
        break;
    }
    return o;
}

bool smc_pwr_active(sb_smc_pwr_state s) { return s != SB_SMC_PWR_OFF && s != SB_SMC_PWR_FAULT; }

void smc_pwr_init(smc_pwr *p, const sb_smc_fault_rec *latched, uint64_t now_us) {
    memset(p, 0, sizeof *p);
    p->t_enter = now_us;
    p->state = SB_SMC_PWR_OFF;
    if (latched && latched->code != SB_SMC_FAULT_NONE) {
        p->fault = *latched;
        p->fault_latched = true;
        p->state = SB_SMC_PWR_FAULT;
    }
}

static void enter(smc_pwr *p, sb_smc_pwr_state s, uint64_t now) {
    p->state = s;
    p->t_enter = now;
}

/* Latches the first fault; later ones are kept in `extra` for the log only. */
static void latch(smc_pwr *p, uint8_t code, uint8_t source, int32_t value, uint64_t now) {
    sb_smc_fault_rec f;
    memset(&f, 0, sizeof f);
    f.code = code;
    f.source = source;
    f.step = (uint8_t)p->state;
    f.time_ms = (uint32_t)(now / 1000u);
    f.value = value;
    if (!p->fault_latched) {
        p->fault = f;
        p->fault_latched = true;
        p->fault_new = true;
    } else {
        p->extra = f;
        p->extra_new = true;
    }
}

/* The first power-down state for a machine that is in (or past) state s: reverse order from there. */
static sb_smc_pwr_state pdn_entry(sb_smc_pwr_state s) {
    if (s == SB_SMC_PWR_AUX_RAMP)
        return SB_SMC_PWR_PDN_AUX;
    if (s == SB_SMC_PWR_CORE_RAMP)
        return SB_SMC_PWR_PDN_CORE;
    return SB_SMC_PWR_PDN_PERST;
}

/* Checks, in every powering or powered state, the rails the state relies on, and the EPO demand.
 * Returns true when it started a power-down (the caller then does nothing else this step). */
static bool check_rails(smc_pwr *p, const smc_pwr_in *in, uint64_t now) {
    sb_smc_pwr_state s = p->state;
    bool aux_exp = s >= SB_SMC_PWR_CORE_RAMP && s <= SB_SMC_PWR_RUNNING;
    bool core_exp = s >= SB_SMC_PWR_CLK_WAIT && s <= SB_SMC_PWR_RUNNING;
    bool clk_exp = s >= SB_SMC_PWR_PERST_WAIT && s <= SB_SMC_PWR_RUNNING;

    if (!in->v12_ok) {
        /* Everything off at once: no regulator may run from a 12 V input out of band. */
        latch(p, SB_SMC_FAULT_V12_LOST, SB_SMC_RAIL_12V, in->mv[SB_SMC_RAIL_12V], now);
        enter(p, SB_SMC_PWR_PDN_AUX, now);
        return true;
    }
    if (aux_exp && !in->aux_ok) {
        latch(p, SB_SMC_FAULT_AUX_LOST, SB_SMC_RAIL_3V3, in->mv[SB_SMC_RAIL_3V3], now);
    } else if (core_exp && !in->core_pg) {
        latch(p, SB_SMC_FAULT_CORE_PG_LOST, SB_SMC_RAIL_CORE, in->mv[SB_SMC_RAIL_CORE], now);
    } else if (core_exp && !in->core_ok) {
        latch(p, SB_SMC_FAULT_CORE_WINDOW, SB_SMC_RAIL_CORE, in->mv[SB_SMC_RAIL_CORE], now);
    } else if (clk_exp && !in->clk_ok) {
        latch(p, SB_SMC_FAULT_CLK_LOST, SB_SMC_SRC_CLK, 0, now);
    } else if (in->epo) {
        latch(p, SB_SMC_FAULT_THERMAL_EPO, in->epo_source, in->epo_value, now);
    } else {
        return false;
    }
    enter(p, pdn_entry(s), now);
    return true;
}

smc_pwr_out smc_pwr_step(smc_pwr *p, const smc_pwr_in *in, uint64_t now) {
    p->fault_new = false;
    p->extra_new = false;
    uint64_t dt = now - p->t_enter;

    switch (p->state) {
    case SB_SMC_PWR_OFF:
        if (in->req_on && !in->req_off)
            enter(p, SB_SMC_PWR_WAIT_12V, now);
        break;

    case SB_SMC_PWR_WAIT_12V:
        if (in->req_off) {
            enter(p, SB_SMC_PWR_OFF, now);
        } else if (in->epo) {
            latch(p, SB_SMC_FAULT_THERMAL_EPO, in->epo_source, in->epo_value, now);
            enter(p, SB_SMC_PWR_FAULT, now);
        } else if (in->v12_ok) {
            enter(p, SB_SMC_PWR_AUX_RAMP, now);
        } else if (dt >= SMC_T_12V_TIMEOUT_US) {
            latch(p, SB_SMC_FAULT_V12_TIMEOUT, SB_SMC_RAIL_12V, in->mv[SB_SMC_RAIL_12V], now);
            enter(p, SB_SMC_PWR_FAULT, now);
        }
        break;

    case SB_SMC_PWR_AUX_RAMP:
        if (check_rails(p, in, now))
            break;
        if (in->req_off) {
            enter(p, SB_SMC_PWR_PDN_AUX, now);
        } else if (in->aux_ok) {
            enter(p, SB_SMC_PWR_CORE_RAMP, now);
        } else if (dt >= SMC_T_AUX_RAMP_US) {
            latch(p, SB_SMC_FAULT_AUX_TIMEOUT, SB_SMC_RAIL_3V3, in->mv[SB_SMC_RAIL_3V3], now);
            enter(p, SB_SMC_PWR_PDN_AUX, now);
        }
        break;

    case SB_SMC_PWR_CORE_RAMP:
        if (check_rails(p, in, now))
            break;
        if (in->req_off) {
            enter(p, SB_SMC_PWR_PDN_CORE, now);
        } else if (in->core_pg && in->core_ok) {
            p->t_pg = now;
            enter(p, SB_SMC_PWR_CLK_WAIT, now);
        } else if (dt >= SMC_T_CORE_RAMP_US) {
            latch(p, SB_SMC_FAULT_CORE_TIMEOUT, SB_SMC_RAIL_CORE, in->mv[SB_SMC_RAIL_CORE], now);
            enter(p, SB_SMC_PWR_PDN_CORE, now);
        }
        break;

    case SB_SMC_PWR_CLK_WAIT:
        if (check_rails(p, in, now))
            break;
        if (in->req_off) {
            enter(p, SB_SMC_PWR_PDN_PERST, now);
        } else if (in->clk_ok) {
            p->t_clk = now;
            enter(p, SB_SMC_PWR_PERST_WAIT, now);
        } else if (dt >= SMC_T_CLK_US) {
            latch(p, SB_SMC_FAULT_CLK_TIMEOUT, SB_SMC_SRC_CLK, 0, now);
            enter(p, SB_SMC_PWR_PDN_PERST, now);
        }
        break;

    case SB_SMC_PWR_PERST_WAIT:
        if (check_rails(p, in, now))
            break;
        if (in->req_off)
            enter(p, SB_SMC_PWR_PDN_PERST, now);
        else if (now - p->t_pg >= SMC_T_PERST_AFTER_PG_US && now - p->t_clk >= SMC_T_PERST_AFTER_CLK_US &&
                 in->pg_now)
            enter(p, SB_SMC_PWR_GPU_ENABLE, now); /* never release PERST# in the middle of a PG dip */
        break;

    case SB_SMC_PWR_GPU_ENABLE:
        if (check_rails(p, in, now))
            break;
        if (in->req_off)
            enter(p, SB_SMC_PWR_PDN_PERST, now);
        else if (dt >= SMC_T_GPU_EN_DELAY_US)
            enter(p, SB_SMC_PWR_RUNNING, now);
        break;

    case SB_SMC_PWR_RUNNING:
        if (check_rails(p, in, now))
            break;
        if (in->req_off)
            enter(p, SB_SMC_PWR_PDN_PERST, now);
        break;

    case SB_SMC_PWR_PDN_PERST:
        if (!in->v12_ok) {
            latch(p, SB_SMC_FAULT_V12_LOST, SB_SMC_RAIL_12V, in->mv[SB_SMC_RAIL_12V], now);
            enter(p, SB_SMC_PWR_PDN_AUX, now);
        } else if (dt >= SMC_T_PDN_PERST_US) {
            enter(p, SB_SMC_PWR_PDN_CORE, now);
        }
        break;

    case SB_SMC_PWR_PDN_CORE:
        if (!in->v12_ok) {
            latch(p, SB_SMC_FAULT_V12_LOST, SB_SMC_RAIL_12V, in->mv[SB_SMC_RAIL_12V], now);
            enter(p, SB_SMC_PWR_PDN_AUX, now);
        } else if (in->core_off && !in->core_pg) {
            enter(p, SB_SMC_PWR_PDN_AUX, now);
        } else if (dt >= SMC_T_PDN_CORE_US) {
            latch(p, SB_SMC_FAULT_DISCHARGE, SB_SMC_RAIL_CORE, in->mv[SB_SMC_RAIL_CORE], now);
            enter(p, SB_SMC_PWR_PDN_AUX, now);
        }
        break;

    case SB_SMC_PWR_PDN_AUX:
        if (in->aux_off) {
            enter(p, p->fault_latched ? SB_SMC_PWR_FAULT : SB_SMC_PWR_OFF, now);
        } else if (dt >= SMC_T_PDN_AUX_US) {
            latch(p, SB_SMC_FAULT_DISCHARGE, SB_SMC_RAIL_3V3, in->mv[SB_SMC_RAIL_3V3], now);
            enter(p, SB_SMC_PWR_FAULT, now);
        }
        break;

    case SB_SMC_PWR_FAULT:
        if (in->req_clear) {
            p->fault_latched = false;
            memset(&p->fault, 0, sizeof p->fault);
            enter(p, SB_SMC_PWR_OFF, now);
        }
        break;

    default: /* not reachable: recover to the safe state */
        latch(p, SB_SMC_FAULT_DISCHARGE, SB_SMC_RAIL_12V, 0, now);
        enter(p, SB_SMC_PWR_PDN_AUX, now);
        break;
    }
    return smc_pwr_outputs(p->state);
}
