/*
 * smc_pwr.h - the GPU power sequencing state machine.
 *
 * A pure Moore machine: smc_pwr_step() takes the debounced rail/clock status, the host's requests and
 * the time, moves at most one state, and returns the outputs, which depend on the state alone
 * (smc_pwr_outputs). It touches no hardware, so the property test drives it with random traces.
 *
 *   OFF --on--> WAIT_12V --12V in band--> AUX_RAMP --aux ok--> CORE_RAMP --PG+window--> CLK_WAIT
 *   --clk ok--> PERST_WAIT --(>=100 ms after PG, >=100 us after clk, PG high now)--> GPU_ENABLE
 *   --1 ms--> RUNNING
 *   RUNNING --off--> PDN_PERST --1 ms--> PDN_CORE --core discharged--> PDN_AUX --aux discharged--> OFF
 *   any rail lost / timeout / EPO: fault latched, then the same power-down path ends in FAULT
 *   (12 V lost: everything off at once, PDN_AUX).  FAULT --clear--> OFF.
 */
#ifndef SMC_PWR_H
#define SMC_PWR_H

#include "sb_smc_msg.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct smc_pwr_in {
    bool v12_ok;    /* 12 V in band (debounced) */
    bool aux_ok;    /* 3.3 V aux in its window (debounced) */
    bool aux_off;   /* 3.3 V aux discharged */
    bool core_pg;   /* core power-good (debounced) */
    bool pg_now;    /* core power-good high at this very sample, with no dip latched since the last */
    bool core_ok;   /* core voltage in its window (debounced) */
    bool core_off;  /* core discharged */
    bool clk_ok;    /* reference clock stable (debounced) */
    bool req_on;    /* host asked for power on (one-shot) */
    bool req_off;   /* host asked for power off (one-shot) */
    bool req_clear; /* host asked to clear the latched fault (one-shot) */
    bool epo;       /* thermal protection demands an emergency power-off */
    uint8_t epo_source;
    int32_t epo_value;
    int32_t mv[SB_SMC_NUM_RAILS]; /* latest readings, recorded with a fault */
} smc_pwr_in;

typedef struct smc_pwr_out {
    bool aux_en;
    bool core_en;
    bool clk_en;
    bool perst_n; /* true = PERST# released */
    bool gpu_en;
} smc_pwr_out;

typedef struct smc_pwr {
    sb_smc_pwr_state state;
    uint64_t t_enter;        /* when the current state was entered */
    uint64_t t_pg;           /* when the last rail (core) came into regulation */
    uint64_t t_clk;          /* when the reference clock became stable */
    bool fault_latched;      /* a fault is latched (power-down in progress or FAULT) */
    sb_smc_fault_rec fault;  /* the latched fault */
    bool fault_new;          /* a fault was latched by the last step (for the log) */
    sb_smc_fault_rec extra;  /* a further fault seen while one was already latched */
    bool extra_new;
} smc_pwr;

/* Starts in OFF, or in FAULT with *latched (restored after a watchdog reset) when not NULL. */
void smc_pwr_init(smc_pwr *p, const sb_smc_fault_rec *latched, uint64_t now_us);

/* One step; returns the outputs of the (new) state. */
smc_pwr_out smc_pwr_step(smc_pwr *p, const smc_pwr_in *in, uint64_t now_us);

/* The outputs that belong to a state. */
smc_pwr_out smc_pwr_outputs(sb_smc_pwr_state s);

/* True in states where some rail is on or being sequenced (not OFF or FAULT). */
bool smc_pwr_active(sb_smc_pwr_state s);

#endif
