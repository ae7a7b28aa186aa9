/*
 * smc_app.h - the SMC application: main-loop entry points and its (static) state.
 *
 * The firmware's main() is `smc_app_init(); for (;;) { smc_app_poll(); wait for the next 1 ms tick; }`.
 * All state lives in one statically allocated smc_app; nothing is allocated. smc_app_init() clears
 * it completely, which is also what a chip reset does, so the simulator can "reset the chip" by
 * calling it again.
 */
#ifndef SMC_APP_H
#define SMC_APP_H

#include "sb_smc_msg.h"
#include "smc_fan.h"
#include "smc_fault.h"
#include "smc_hal.h"
#include "smc_link.h"
#include "smc_pwr.h"
#include "smc_sensors.h"
#include "smc_therm.h"
#include "smc_vmon.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct smc_app {
    uint64_t t_boot;
    unsigned reset_reason;

    /* power */
    smc_pwr pwr;
    smc_pwr_out out; /* outputs as applied */
    smc_vmon_rail rail[SB_SMC_NUM_RAILS];
    smc_debounce pg;
    smc_debounce clk;
    uint16_t pg_glitches;
    bool pg_dip; /* power-good dipped, debounced state still high */
    bool pg_raw; /* power-good high at the last sample, no falling edge latched before it */
    bool req_on, req_off, req_clear;

    /* temperatures */
    smc_sensors sen;
    int16_t temp[SB_SMC_NUM_TEMPS];
    uint8_t temp_status[SB_SMC_NUM_TEMPS];
    smc_therm therm;

    /* host */
    bool host_seen;
    bool host_silent;
    bool die_valid;
    bool die_blind;     /* GPU powered, die temperature unknown for 5 s */
    uint64_t t_host;    /* last HOST_UPDATE */
    uint64_t t_die_ok;  /* last valid die temperature (or the power-on request) */
    uint16_t power_dw;
    float power_filt_w;

    /* fans */
    uint8_t profile;
    smc_fans fans;
    smc_zone zone[SMC_NUM_ZONES];
    bool failsafe;
    uint64_t t_control;      /* next control tick */
    uint64_t t_control_ran;  /* last time the control task ran (liveness) */
    uint32_t control_ticks;

    /* faults and link */
    smc_fault_log log;
    bool host_silent_logged;
    smc_link link;
    uint8_t tx_buf[SB_SMC_FRAME_MAX];
    size_t tx_len;
    uint32_t tx_tag;
    bool tx_armed;
    uint8_t signals; /* SLOWDOWN_N/ALERT_N as last driven (bit 0: driven at all) */
} smc_app;

/* Boot: safe outputs and fans at 100% first, then restores a latched fault, starts the watchdog. */
void smc_app_init(void);
/* One main-loop iteration; call once per millisecond. */
void smc_app_poll(void);
/* Read-only view of the state, for tests and the simulator. */
const smc_app *smc_app_state(void);

#endif
