/*
 * smc_app.c - the SMC main loop: sampling, power sequencing, sensors, protection, fans, SPI link.
 *
 * Each poll (1 kHz): sample the rails and power-good/clock inputs; serve finished SPI transactions;
 * step the power state machine and drive its outputs; do one 1-Wire operation; evaluate thermal
 * protection when new readings arrived; every second run fan control and tach supervision; force
 * the fans to 100% the moment a fail-safe condition appears; feed the watchdog if the control task
 * is alive.
 */
#include "smc_app.h"

#include "smc_config.h"

#include <string.h>

static smc_app g_app;

const smc_app *smc_app_state(void) { return &g_app; }

static const smc_vmon_limits rail_limits[SB_SMC_NUM_RAILS] = {
    {SMC_V12_NOM_MV, SMC_V12_LO_MV, SMC_V12_HI_MV, SMC_V12_NOM_MV * SMC_VOFF_PERMILLE / 1000},
    {SMC_V3V3_NOM_MV, SMC_V3V3_LO_MV, SMC_V3V3_HI_MV, SMC_V3V3_NOM_MV * SMC_VOFF_PERMILLE / 1000},
    {SMC_VCORE_NOM_MV, SMC_VCORE_LO_MV, SMC_VCORE_HI_MV, SMC_VCORE_NOM_MV * SMC_VOFF_PERMILLE / 1000},
};
static const uint32_t adc_ratio[SB_SMC_NUM_RAILS] = {SMC_ADC_RATIO_12V, SMC_ADC_RATIO_3V3, SMC_ADC_RATIO_CORE};
static const uint16_t fan_rpm_max[SB_SMC_NUM_FANS] = SMC_FAN_RPM_MAX_INIT;

static uint32_t uptime_ms(uint64_t now) { return (uint32_t)((now - g_app.t_boot) / 1000u); }

static void log_fault(uint8_t code, uint8_t source, int32_t value, uint64_t now) {
    sb_smc_fault_rec r;
    memset(&r, 0, sizeof r);
    r.code = code;
    r.source = source;
    r.step = (uint8_t)g_app.pwr.state;
    r.time_ms = uptime_ms(now);
    r.value = value;
    smc_fault_log_add(&g_app.log, &r);
}

static void set_all_fans(uint16_t permille) {
    for (unsigned i = 0; i < SB_SMC_NUM_FANS; i++) {
        g_app.fans.duty[i] = permille;
        hal_fan_set(i, permille);
    }
}

/* Drives the power outputs: switching off happens downstream first (GPU enable, PERST#, clock,
 * core, aux), switching on upstream first, so a state change never inverts the order. */
static void apply_outputs(const smc_pwr_out *n) {
    smc_pwr_out *o = &g_app.out;
    if (!n->gpu_en && o->gpu_en)
        hal_out_set(SMC_OUT_GPU_EN, false);
    if (!n->perst_n && o->perst_n)
        hal_out_set(SMC_OUT_PERST_N, false);
    if (!n->clk_en && o->clk_en)
        hal_out_set(SMC_OUT_CLK_EN, false);
    if (!n->core_en && o->core_en)
        hal_out_set(SMC_OUT_CORE_EN, false);
    if (!n->aux_en && o->aux_en)
        hal_out_set(SMC_OUT_AUX_EN, false);
    if (n->aux_en && !o->aux_en)
        hal_out_set(SMC_OUT_AUX_EN, true);
    if (n->core_en && !o->core_en)
        hal_out_set(SMC_OUT_CORE_EN, true);
    if (n->clk_en && !o->clk_en)
        hal_out_set(SMC_OUT_CLK_EN, true);
    if (n->perst_n && !o->perst_n)
        hal_out_set(SMC_OUT_PERST_N, true);
    if (n->gpu_en && !o->gpu_en)
        hal_out_set(SMC_OUT_GPU_EN, true);
    *o = *n;
}

void smc_app_init(void) {
    hal_board_init(); /* outputs safe, fans full speed: before anything else */
    memset(&g_app, 0, sizeof g_app);
    set_all_fans(1000);
    uint64_t now = hal_time_us();
    g_app.t_boot = now;
    g_app.reset_reason = hal_reset_reason();

    sb_smc_fault_rec latched;
    bool have = smc_fault_restore(&latched);
    smc_pwr_init(&g_app.pwr, have ? &latched : NULL, now);
    smc_fault_log_init(&g_app.log);
    if (g_app.reset_reason == SB_SMC_RESET_WATCHDOG)
        log_fault(SB_SMC_FAULT_WATCHDOG, 0, 0, now);
    if (have)
        smc_fault_log_add(&g_app.log, &latched);
    if (!have)
        smc_fault_persist(NULL); /* drop words that did not check */

    for (int i = 0; i < SB_SMC_NUM_RAILS; i++)
        smc_vmon_init(&g_app.rail[i], &rail_limits[i]);
    smc_sensors_init(&g_app.sen, now);
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        g_app.temp_status[i] = SB_SMC_TEMP_ST_UNKNOWN;
    smc_therm_init(&g_app.therm);

    uint32_t tach[SB_SMC_NUM_FANS];
    for (unsigned i = 0; i < SB_SMC_NUM_FANS; i++)
        tach[i] = hal_tach_count(i);
    smc_fans_init(&g_app.fans, tach, now);
    for (int z = 0; z < SMC_NUM_ZONES; z++)
        smc_zone_reset(&g_app.zone[z], 100.0f);
    g_app.failsafe = true;
    g_app.profile = SB_SMC_PROFILE_NORMAL;
    g_app.t_host = now;
    g_app.t_die_ok = now;
    g_app.t_control = now + SMC_CONTROL_PERIOD_US;
    g_app.t_control_ran = now;

    smc_link_init(&g_app.link);
    hal_spi_arm(NULL, 0, 0);
    hal_wdt_start(SMC_WDT_TIMEOUT_MS);
}

static void sample_inputs(void) {
    static const smc_adc ch[SB_SMC_NUM_RAILS] = {SMC_ADC_12V, SMC_ADC_3V3, SMC_ADC_CORE};
    for (int i = 0; i < SB_SMC_NUM_RAILS; i++)
        smc_vmon_sample(&g_app.rail[i], smc_vmon_adc_to_mv(hal_adc_read(ch[i]), adc_ratio[i]));
    bool pg_raw = hal_in_get(SMC_IN_PG_CORE);
    bool fell = hal_in_fell(SMC_IN_PG_CORE);
    g_app.pg_raw = pg_raw && !fell;
    /* A dip that ends before the debouncer lets power-good fall is a glitch: counted, not a fault.
     * The hardware edge latch catches dips shorter than the 1 ms sampling period. */
    if (smc_debounce_update(&g_app.pg, pg_raw, SMC_PG_RISE_SAMPLES, SMC_PG_FALL_SAMPLES)) {
        if (fell || !pg_raw)
            g_app.pg_dip = true;
        if (g_app.pg_dip && pg_raw) {
            g_app.pg_dip = false;
            if (g_app.pg_glitches < 0xFFFFu)
                g_app.pg_glitches++;
        }
    } else {
        g_app.pg_dip = false;
    }
    smc_debounce_update(&g_app.clk, hal_in_get(SMC_IN_CLK_OK), SMC_PG_RISE_SAMPLES, SMC_PG_FALL_SAMPLES);
    (void)hal_in_fell(SMC_IN_CLK_OK);
}

/* --- commands --- */

static size_t reply_simple(uint8_t *out, uint8_t result) {
    out[0] = result;
    out[1] = (uint8_t)g_app.pwr.state;
    return 2;
}

static bool thermal_blocks_power(void) {
    return g_app.therm.epo || smc_therm_any_shutdown(&g_app.therm);
}

static uint32_t status_flags(void);

static size_t cmd_power(const sb_smc_frame *f, uint8_t *out) {
    if (f->payload[0] > 1)
        return reply_simple(out, SB_SMC_RES_BAD_ARG);
    sb_smc_pwr_state s = g_app.pwr.state;
    if (f->payload[0] == 0) {
        if (smc_pwr_active(s))
            g_app.req_off = true;
        return reply_simple(out, SB_SMC_RES_OK);
    }
    if (s == SB_SMC_PWR_FAULT || g_app.pwr.fault_latched)
        return reply_simple(out, SB_SMC_RES_FAULT_LATCHED);
    if (s >= SB_SMC_PWR_PDN_PERST)
        return reply_simple(out, SB_SMC_RES_BUSY);
    if (thermal_blocks_power())
        return reply_simple(out, SB_SMC_RES_THERMAL);
    if (s == SB_SMC_PWR_OFF)
        g_app.req_on = true;
    return reply_simple(out, SB_SMC_RES_OK);
}

static size_t cmd_clear(uint8_t *out) {
    sb_smc_pwr_state s = g_app.pwr.state;
    if (g_app.pwr.fault_latched && s != SB_SMC_PWR_FAULT)
        return reply_simple(out, SB_SMC_RES_BUSY); /* still powering down */
    if (s == SB_SMC_PWR_FAULT)
        g_app.req_clear = true;
    for (int i = 0; i < SB_SMC_NUM_FANS; i++) {
        g_app.fans.failed[i] = false;
        g_app.fans.low[i] = false;
    }
    return reply_simple(out, SB_SMC_RES_OK);
}

static void therm_evaluate(const bool fresh[SB_SMC_NUM_TEMPS]);

static size_t cmd_host_update(const sb_smc_frame *f, uint8_t *out, uint64_t now) {
    sb_smc_host_update m;
    if (!sb_smc_host_update_decode(f->payload, f->len, &m))
        return 0;
    g_app.host_seen = true;
    g_app.t_host = now;
    bool die_ok = (m.valid & 1u) && m.die_centi >= SMC_DIE_MIN_CC && m.die_centi <= SMC_DIE_MAX_CC;
    g_app.die_valid = die_ok;
    if (die_ok) {
        g_app.t_die_ok = now;
        g_app.temp[SB_SMC_T_DIE] = m.die_centi;
        g_app.temp_status[SB_SMC_T_DIE] = SB_SMC_TEMP_ST_OK;
    } else {
        g_app.temp_status[SB_SMC_T_DIE] = SB_SMC_TEMP_ST_FAILED;
    }
    g_app.power_dw = (m.valid & 2u) ? m.power_dw : 0;
    g_app.host_silent = false;
    bool fresh[SB_SMC_NUM_TEMPS] = {die_ok, false, false, false, false};
    therm_evaluate(fresh);
    out[0] = SB_SMC_RES_OK;
    sb_smc_put_u32(out + 1, status_flags());
    return 5;
}

static size_t cmd_handler(void *ctx, const sb_smc_frame *f, uint8_t *out, uint8_t *nak);

/* --- telemetry --- */

static uint32_t status_flags(void) {
    uint32_t fl = 0;
    if (smc_therm_any_slowdown(&g_app.therm))
        fl |= SB_SMC_FLAG_SLOWDOWN;
    if (smc_therm_any_shutdown(&g_app.therm))
        fl |= SB_SMC_FLAG_SHUTDOWN;
    if (g_app.pwr.fault_latched && g_app.pwr.fault.code == SB_SMC_FAULT_THERMAL_EPO)
        fl |= SB_SMC_FLAG_EPO;
    if (g_app.pwr.fault_latched)
        fl |= SB_SMC_FLAG_FAULT;
    if (g_app.failsafe)
        fl |= SB_SMC_FLAG_FAILSAFE;
    if (g_app.host_silent)
        fl |= SB_SMC_FLAG_HOST_SILENT;
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        if (g_app.fans.failed[i])
            fl |= SB_SMC_FLAG_FAN_FAIL | (1u << (SB_SMC_FLAG_FAN_FAIL_SHIFT + i));
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++) {
        uint8_t st = g_app.temp_status[i];
        if (st == SB_SMC_TEMP_ST_FAILED || st == SB_SMC_TEMP_ST_ABSENT || st == SB_SMC_TEMP_ST_STALE) {
            fl |= 1u << (SB_SMC_FLAG_TEMP_FAIL_SHIFT + i);
            if (i != SB_SMC_T_DIE)
                fl |= SB_SMC_FLAG_SENSOR_FAIL;
        }
    }
    return fl;
}

static size_t build_status(uint8_t *out, uint64_t now) {
    sb_smc_status m;
    memset(&m, 0, sizeof m);
    m.result = SB_SMC_RES_OK;
    m.pwr_state = (uint8_t)g_app.pwr.state;
    m.profile = g_app.profile;
    m.reset_reason = (uint8_t)g_app.reset_reason;
    m.flags = status_flags();
    if (g_app.pwr.fault_latched)
        m.fault = g_app.pwr.fault;
    m.uptime_ms = uptime_ms(now);
    m.fault_total = g_app.log.total;
    m.last_seq = g_app.link.last_seq;
    return sb_smc_status_encode(&m, out, SB_SMC_PAYLOAD_MAX);
}

static size_t build_telemetry(uint8_t *out, uint64_t now) {
    sb_smc_telemetry m;
    memset(&m, 0, sizeof m);
    m.pwr_state = (uint8_t)g_app.pwr.state;
    m.profile = g_app.profile;
    m.reset_reason = (uint8_t)g_app.reset_reason;
    m.flags = status_flags();
    for (int i = 0; i < SB_SMC_NUM_RAILS; i++) {
        m.rail_mv[i] = g_app.rail[i].avg_mv;
        m.rail_status[i] = g_app.rail[i].status;
    }
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++) {
        m.temp_centi[i] = g_app.temp[i];
        m.temp_status[i] = g_app.temp_status[i];
    }
    for (int i = 0; i < SB_SMC_NUM_FANS; i++) {
        m.fan_duty_permille[i] = g_app.fans.duty[i];
        m.fan_rpm[i] = g_app.fans.rpm[i];
        m.fan_status[i] = g_app.fans.failed[i] ? SB_SMC_FAN_ST_FAILED : SB_SMC_FAN_ST_OK;
    }
    m.gpu_power_dw = g_app.power_dw;
    m.uptime_ms = uptime_ms(now);
    m.pg_glitches = g_app.pg_glitches;
    m.ow_crc_errors = g_app.sen.crc_errors > 0xFFFFu ? 0xFFFFu : (uint16_t)g_app.sen.crc_errors;
    for (int i = 0; i < SB_SMC_LINK_NUM; i++)
        m.link[i] = g_app.link.counters[i];
    return sb_smc_telemetry_encode(&m, out, SB_SMC_PAYLOAD_MAX);
}

static size_t build_fault_log(uint8_t *out) {
    sb_smc_fault_log m;
    memset(&m, 0, sizeof m);
    m.count = (uint8_t)smc_fault_log_get(&g_app.log, m.rec);
    m.total = g_app.log.total;
    return sb_smc_fault_log_encode(&m, out, SB_SMC_PAYLOAD_MAX);
}

static size_t build_version(uint8_t *out) {
    sb_smc_version m;
    memset(&m, 0, sizeof m);
    m.major = SMC_FW_MAJOR;
    m.minor = SMC_FW_MINOR;
    m.patch = SMC_FW_PATCH;
    m.proto = SB_SMC_PROTO_VERSION;
#ifdef SMC_BUILD_NAME
    strncpy(m.build, SMC_BUILD_NAME, sizeof m.build - 1);
#else
    strncpy(m.build, "smc", sizeof m.build - 1);
#endif
    return sb_smc_version_encode(&m, out, SB_SMC_PAYLOAD_MAX);
}

static size_t cmd_handler(void *ctx, const sb_smc_frame *f, uint8_t *out, uint8_t *nak) {
    uint64_t now = *(const uint64_t *)ctx;
    size_t want;
    switch (f->cmd) {
    case SB_SMC_CMD_STATUS:
    case SB_SMC_CMD_TELEMETRY:
    case SB_SMC_CMD_FAULT_LOG:
    case SB_SMC_CMD_CLEAR_FAULT:
    case SB_SMC_CMD_VERSION:
        want = 0;
        break;
    case SB_SMC_CMD_FAN_PROFILE:
    case SB_SMC_CMD_POWER:
        want = 1;
        break;
    case SB_SMC_CMD_HOST_UPDATE:
        want = SB_SMC_HOST_UPDATE_LEN;
        break;
    default:
        *nak = SB_SMC_NAK_UNKNOWN;
        return 0;
    }
    if (f->len != want) {
        *nak = SB_SMC_NAK_BAD_PAYLOAD;
        return 0;
    }
    switch (f->cmd) {
    case SB_SMC_CMD_STATUS:
        return build_status(out, now);
    case SB_SMC_CMD_TELEMETRY:
        return build_telemetry(out, now);
    case SB_SMC_CMD_FAULT_LOG:
        return build_fault_log(out);
    case SB_SMC_CMD_CLEAR_FAULT:
        return cmd_clear(out);
    case SB_SMC_CMD_VERSION:
        return build_version(out);
    case SB_SMC_CMD_FAN_PROFILE:
        if (f->payload[0] >= SB_SMC_PROFILE_NUM)
            return reply_simple(out, SB_SMC_RES_BAD_ARG);
        if (g_app.profile != f->payload[0]) {
            g_app.profile = f->payload[0];
            /* New tuning from the current speeds; the integrators start over. */
            for (int z = 0; z < SMC_NUM_ZONES; z++)
                smc_zone_reset(&g_app.zone[z], g_app.zone[z].out);
        }
        return reply_simple(out, SB_SMC_RES_OK);
    case SB_SMC_CMD_POWER:
        return cmd_power(f, out);
    default: /* SB_SMC_CMD_HOST_UPDATE */
        {
            size_t n = cmd_host_update(f, out, now);
            if (n == 0)
                *nak = SB_SMC_NAK_BAD_PAYLOAD;
            return n;
        }
    }
}

static void link_poll(uint64_t now) {
    smc_spi_xfer x;
    while (hal_spi_poll(&x)) {
        if (g_app.tx_armed && x.tx_tag == g_app.tx_tag && x.tx_sent >= g_app.tx_len) {
            hal_spi_arm(NULL, 0, 0); /* delivered: further polls read zeros */
            g_app.tx_armed = false;
        }
        if (smc_link_rx(&g_app.link, x.rx, x.rx_len, x.overflow, cmd_handler, &now)) {
            memcpy(g_app.tx_buf, g_app.link.resp, g_app.link.resp_len);
            g_app.tx_len = g_app.link.resp_len;
            if (++g_app.tx_tag == 0)
                g_app.tx_tag = 1;
            hal_spi_arm(g_app.tx_buf, g_app.tx_len, g_app.tx_tag);
            g_app.tx_armed = true;
        }
    }
}

/* --- power --- */

static void power_step(uint64_t now) {
    smc_pwr_in in;
    memset(&in, 0, sizeof in);
    in.v12_ok = g_app.rail[SB_SMC_RAIL_12V].ok;
    in.aux_ok = g_app.rail[SB_SMC_RAIL_3V3].ok;
    in.aux_off = g_app.rail[SB_SMC_RAIL_3V3].off;
    in.core_ok = g_app.rail[SB_SMC_RAIL_CORE].ok;
    in.core_off = g_app.rail[SB_SMC_RAIL_CORE].off;
    in.core_pg = g_app.pg.state;
    in.pg_now = g_app.pg_raw && !g_app.pg_dip;
    in.clk_ok = g_app.clk.state;
    in.req_on = g_app.req_on;
    in.req_off = g_app.req_off;
    in.req_clear = g_app.req_clear;
    in.epo = g_app.therm.epo;
    in.epo_source = g_app.therm.epo_source;
    in.epo_value = g_app.therm.epo_value;
    for (int i = 0; i < SB_SMC_NUM_RAILS; i++)
        in.mv[i] = g_app.rail[i].mv;
    g_app.req_on = g_app.req_off = g_app.req_clear = false;

    bool was_latched = g_app.pwr.fault_latched;
    sb_smc_pwr_state before = g_app.pwr.state;
    smc_pwr_out o = smc_pwr_step(&g_app.pwr, &in, now);
    if (before == SB_SMC_PWR_OFF && g_app.pwr.state != SB_SMC_PWR_OFF)
        g_app.t_die_ok = now; /* the die reading may lag the power-on by up to 5 s */
    apply_outputs(&o);
    if (g_app.pwr.fault_new) {
        g_app.pwr.fault.time_ms = uptime_ms(now);
        smc_fault_log_add(&g_app.log, &g_app.pwr.fault);
        smc_fault_persist(&g_app.pwr.fault);
    }
    if (g_app.pwr.extra_new) {
        g_app.pwr.extra.time_ms = uptime_ms(now);
        smc_fault_log_add(&g_app.log, &g_app.pwr.extra);
    }
    if (was_latched && !g_app.pwr.fault_latched)
        smc_fault_persist(NULL);
}

/* --- temperatures and protection --- */

static void therm_evaluate(const bool fresh[SB_SMC_NUM_TEMPS]) {
    bool valid[SB_SMC_NUM_TEMPS];
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        valid[i] = g_app.temp_status[i] == SB_SMC_TEMP_ST_OK;
    smc_therm_update(&g_app.therm, smc_therm_default_limits(), g_app.temp, valid, fresh);
}

static void sensors_collect(uint64_t now) {
    smc_sensors *ss = &g_app.sen;
    if (ss->new_fail) {
        for (unsigned i = 0; i < SMC_OW_NUM_LOC; i++)
            if (ss->new_fail & (1u << i))
                log_fault(SB_SMC_FAULT_SENSOR_FAILED, (uint8_t)(i + 1), ss->s[i].centi, now);
        ss->new_fail = 0;
    }
    bool fresh[SB_SMC_NUM_TEMPS] = {false, false, false, false, false};
    bool any = false;
    for (unsigned i = 0; i < SMC_OW_NUM_LOC; i++) {
        const smc_ow_sensor *s = &ss->s[i];
        g_app.temp_status[i + 1] = s->status;
        if (s->status == SB_SMC_TEMP_ST_OK || s->have_value)
            g_app.temp[i + 1] = s->centi;
        if (ss->cycle_done && s->fresh && s->status == SB_SMC_TEMP_ST_OK) {
            fresh[i + 1] = true;
            any = true;
        }
    }
    if (ss->cycle_done) {
        ss->cycle_done = false;
        for (unsigned i = 0; i < SMC_OW_NUM_LOC; i++)
            ss->s[i].fresh = false;
        (void)any;
        therm_evaluate(fresh);
    }
}

/* Host liveness: no HOST_UPDATE for 5 s is "host silent"; no valid die temperature for 5 s while
 * the GPU is powered (a grace of 5 s after the power-on request) forces the fans to 100%. */
static void host_check(uint64_t now) {
    bool host_stale = now - g_app.t_host >= SMC_HOST_SILENT_US;
    bool die_stale = now - g_app.t_die_ok >= SMC_HOST_SILENT_US;
    if (die_stale) {
        g_app.die_valid = false;
        if (g_app.temp_status[SB_SMC_T_DIE] == SB_SMC_TEMP_ST_OK || g_app.host_seen)
            g_app.temp_status[SB_SMC_T_DIE] = g_app.host_seen ? SB_SMC_TEMP_ST_STALE : SB_SMC_TEMP_ST_UNKNOWN;
    }
    bool active = smc_pwr_active(g_app.pwr.state);
    bool silent = host_stale && active;
    if (silent && !g_app.host_silent_logged) {
        log_fault(SB_SMC_FAULT_HOST_SILENT, SB_SMC_T_DIE, g_app.temp[SB_SMC_T_DIE], now);
        g_app.host_silent_logged = true;
    }
    if (!host_stale)
        g_app.host_silent_logged = false;
    g_app.host_silent = silent;
    g_app.die_blind = die_stale && active;
}

/* Conditions under which every fan runs at 100%. */
static bool failsafe_needed(void) {
    for (int i = SB_SMC_T_VRM; i < SB_SMC_NUM_TEMPS; i++)
        if (g_app.temp_status[i] != SB_SMC_TEMP_ST_OK)
            return true; /* failed, absent, or not read yet since reset */
    if (g_app.host_silent || g_app.die_blind)
        return true; /* the GPU is powered and its die temperature unknown for 5 s */
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        if (g_app.fans.failed[i])
            return true;
    return g_app.therm.epo || smc_therm_any_shutdown(&g_app.therm);
}

static void failsafe_check(void) {
    bool need = failsafe_needed();
    if (need && !g_app.failsafe) {
        set_all_fans(1000); /* at once, not at the next control tick */
        for (int z = 0; z < SMC_NUM_ZONES; z++)
            smc_zone_reset(&g_app.zone[z], 100.0f);
    }
    g_app.failsafe = need;
}

static uint16_t pct_to_permille(float pct) {
    if (pct <= 0.0f)
        return 0;
    if (pct >= 100.0f)
        return 1000;
    return (uint16_t)(pct * 10.0f + 0.5f);
}

/* Largest error (K) of the zone's temperatures against their set-points; -10 K when none is valid. */
static float zone_error(const smc_profile_cfg *pc, const int *idx, int n) {
    float e = -10.0f;
    bool any = false;
    for (int k = 0; k < n; k++) {
        int i = idx[k];
        if (g_app.temp_status[i] != SB_SMC_TEMP_ST_OK)
            continue;
        if (i == SB_SMC_T_DIE && !g_app.die_valid)
            continue;
        float ek = (float)(g_app.temp[i] - pc->setpoint[i]) / 100.0f;
        if (!any || ek > e)
            e = ek;
        any = true;
    }
    return e;
}

static void control_tick(uint64_t now) {
    const float dt = (float)SMC_CONTROL_PERIOD_US / 1e6f;
    g_app.control_ticks++;
    g_app.t_control_ran = now;

    float p = smc_pwr_active(g_app.pwr.state) ? (float)g_app.power_dw / 10.0f : 0.0f;
    g_app.power_filt_w = smc_power_filter(g_app.power_filt_w, p, SMC_POWER_LPF_S, SMC_POWER_STEP_W, dt);

    uint32_t tach[SB_SMC_NUM_FANS];
    for (unsigned i = 0; i < SB_SMC_NUM_FANS; i++)
        tach[i] = hal_tach_count(i);
    smc_fans_tach(&g_app.fans, tach, fan_rpm_max, now);
    if (g_app.fans.new_fail) {
        for (unsigned i = 0; i < SB_SMC_NUM_FANS; i++)
            if (g_app.fans.new_fail & (1u << i))
                log_fault(SB_SMC_FAULT_FAN_FAILED, (uint8_t)i, g_app.fans.rpm[i], now);
        g_app.fans.new_fail = 0;
    }
    failsafe_check();

    const smc_profile_cfg *pc = smc_profile_get(g_app.profile);
    if (g_app.failsafe || pc->all_max) {
        set_all_fans(1000);
        for (int z = 0; z < SMC_NUM_ZONES; z++)
            smc_zone_reset(&g_app.zone[z], 100.0f);
        return;
    }
    static const int gpu_idx[] = {SB_SMC_T_DIE};
    static const int board_idx[] = {SB_SMC_T_VRM, SB_SMC_T_CONN, SB_SMC_T_EXHAUST};
    float e_gpu = zone_error(pc, gpu_idx, 1);
    float e_board = zone_error(pc, board_idx, 3);
    float intake_k = g_app.temp_status[SB_SMC_T_INTAKE] == SB_SMC_TEMP_ST_OK
                         ? (float)(g_app.temp[SB_SMC_T_INTAKE] - 2500) / 100.0f
                         : 0.0f;
    float u_gpu = smc_zone_update(&g_app.zone[SMC_ZONE_GPU], &pc->zone[SMC_ZONE_GPU], e_gpu, g_app.power_filt_w,
                                  intake_k, dt);
    float u_board = smc_zone_update(&g_app.zone[SMC_ZONE_BOARD], &pc->zone[SMC_ZONE_BOARD], e_board,
                                    g_app.power_filt_w, intake_k, dt);
    for (unsigned i = 0; i < SB_SMC_NUM_FANS; i++) {
        float u = (SMC_FAN_GPU_MASK & (1u << i)) ? u_gpu : u_board;
        g_app.fans.duty[i] = pct_to_permille(u);
        hal_fan_set(i, g_app.fans.duty[i]);
    }
}

static void signal_outputs(void) {
    bool any_slow = smc_therm_any_slowdown(&g_app.therm);
    bool slow = any_slow && g_app.out.gpu_en;
    bool alert = any_slow || smc_therm_any_shutdown(&g_app.therm) || g_app.pwr.fault_latched || g_app.failsafe;
    uint8_t sig = (uint8_t)(1u | (slow ? 2u : 0u) | (alert ? 4u : 0u));
    if (sig == g_app.signals)
        return;
    g_app.signals = sig;
    hal_out_set(SMC_OUT_SLOWDOWN_N, !slow);
    hal_out_set(SMC_OUT_ALERT_N, !alert);
}

void smc_app_poll(void) {
    uint64_t now = hal_time_us();
    sample_inputs();
    link_poll(now);
    power_step(now);
    smc_sensors_step(&g_app.sen, now);
    sensors_collect(now);
    host_check(now);
    failsafe_check();
    if ((int64_t)(now - g_app.t_control) >= 0) {
        g_app.t_control += SMC_CONTROL_PERIOD_US;
        if ((int64_t)(now - g_app.t_control) >= 0)
            g_app.t_control = now + SMC_CONTROL_PERIOD_US; /* fell behind: no burst of ticks */
        control_tick(now);
    }
    signal_outputs();
    if (now - g_app.t_control_ran < SMC_LIVENESS_US)
        hal_wdt_kick();
}
