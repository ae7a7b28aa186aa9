/*
 * sb_smc_msg.c - payload (de)serialisation and display names for the SMC protocol.
 *
 * A tiny cursor (writer / reader) keeps every access inside the buffer: a writer that runs out of
 * room, or a reader that runs out of bytes, goes into an error state and the whole call fails.
 */
#include "sb_smc_msg.h"

#include <string.h>

typedef struct wr {
    uint8_t *p;
    size_t cap, n;
    bool bad;
} wr;

typedef struct rd {
    const uint8_t *p;
    size_t n, off;
    bool bad;
} rd;

static uint8_t *wr_take(wr *w, size_t k) {
    if (w->bad || w->cap - w->n < k) {
        w->bad = true;
        return NULL;
    }
    uint8_t *q = w->p + w->n;
    w->n += k;
    return q;
}
static void w8(wr *w, uint8_t v) {
    uint8_t *q = wr_take(w, 1);
    if (q)
        q[0] = v;
}
static void w16(wr *w, uint16_t v) {
    uint8_t *q = wr_take(w, 2);
    if (q)
        sb_smc_put_u16(q, v);
}
static void w32(wr *w, uint32_t v) {
    uint8_t *q = wr_take(w, 4);
    if (q)
        sb_smc_put_u32(q, v);
}
static size_t wr_done(const wr *w) { return w->bad ? 0 : w->n; }

static const uint8_t *rd_take(rd *r, size_t k) {
    if (r->bad || r->n - r->off < k) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *q = r->p + r->off;
    r->off += k;
    return q;
}
static uint8_t r8(rd *r) {
    const uint8_t *q = rd_take(r, 1);
    return q ? q[0] : 0;
}
static uint16_t r16(rd *r) {
    const uint8_t *q = rd_take(r, 2);
    return q ? sb_smc_get_u16(q) : 0;
}
static uint32_t r32(rd *r) {
    const uint8_t *q = rd_take(r, 4);
    return q ? sb_smc_get_u32(q) : 0;
}
/* A fixed-size message must be consumed exactly. */
static bool rd_exact(const rd *r) { return !r->bad && r->off == r->n; }

static void w_fault(wr *w, const sb_smc_fault_rec *f) {
    w8(w, f->code);
    w8(w, f->source);
    w8(w, f->step);
    w8(w, 0);
    w32(w, f->time_ms);
    w32(w, (uint32_t)f->value);
}
static void r_fault(rd *r, sb_smc_fault_rec *f) {
    f->code = r8(r);
    f->source = r8(r);
    f->step = r8(r);
    (void)r8(r);
    f->time_ms = r32(r);
    f->value = (int32_t)r32(r);
}

size_t sb_smc_status_encode(const sb_smc_status *m, uint8_t *buf, size_t cap) {
    wr w = {buf, cap, 0, false};
    w8(&w, m->result);
    w8(&w, m->pwr_state);
    w8(&w, m->profile);
    w8(&w, m->reset_reason);
    w32(&w, m->flags);
    w_fault(&w, &m->fault);
    w32(&w, m->uptime_ms);
    w16(&w, m->fault_total);
    w16(&w, m->last_seq);
    return wr_done(&w);
}

bool sb_smc_status_decode(const uint8_t *p, size_t n, sb_smc_status *m) {
    rd r = {p, n, 0, false};
    memset(m, 0, sizeof *m);
    m->result = r8(&r);
    m->pwr_state = r8(&r);
    m->profile = r8(&r);
    m->reset_reason = r8(&r);
    m->flags = r32(&r);
    r_fault(&r, &m->fault);
    m->uptime_ms = r32(&r);
    m->fault_total = r16(&r);
    m->last_seq = r16(&r);
    return rd_exact(&r);
}

size_t sb_smc_telemetry_encode(const sb_smc_telemetry *m, uint8_t *buf, size_t cap) {
    wr w = {buf, cap, 0, false};
    w8(&w, m->result);
    w8(&w, m->pwr_state);
    w8(&w, m->profile);
    w8(&w, m->reset_reason);
    w32(&w, m->flags);
    for (int i = 0; i < SB_SMC_NUM_RAILS; i++)
        w16(&w, m->rail_mv[i]);
    for (int i = 0; i < SB_SMC_NUM_RAILS; i++)
        w8(&w, m->rail_status[i]);
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        w16(&w, (uint16_t)m->temp_centi[i]);
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        w8(&w, m->temp_status[i]);
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        w16(&w, m->fan_duty_permille[i]);
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        w16(&w, m->fan_rpm[i]);
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        w8(&w, m->fan_status[i]);
    w16(&w, m->gpu_power_dw);
    w32(&w, m->uptime_ms);
    w16(&w, m->pg_glitches);
    w16(&w, m->ow_crc_errors);
    for (int i = 0; i < SB_SMC_LINK_NUM; i++)
        w32(&w, m->link[i]);
    return wr_done(&w);
}

bool sb_smc_telemetry_decode(const uint8_t *p, size_t n, sb_smc_telemetry *m) {
    rd r = {p, n, 0, false};
    memset(m, 0, sizeof *m);
    m->result = r8(&r);
    m->pwr_state = r8(&r);
    m->profile = r8(&r);
    m->reset_reason = r8(&r);
    m->flags = r32(&r);
    for (int i = 0; i < SB_SMC_NUM_RAILS; i++)
        m->rail_mv[i] = r16(&r);
    for (int i = 0; i < SB_SMC_NUM_RAILS; i++)
        m->rail_status[i] = r8(&r);
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        m->temp_centi[i] = (int16_t)r16(&r);
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        m->temp_status[i] = r8(&r);
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        m->fan_duty_permille[i] = r16(&r);
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        m->fan_rpm[i] = r16(&r);
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        m->fan_status[i] = r8(&r);
    m->gpu_power_dw = r16(&r);
    m->uptime_ms = r32(&r);
    m->pg_glitches = r16(&r);
    m->ow_crc_errors = r16(&r);
    for (int i = 0; i < SB_SMC_LINK_NUM; i++)
        m->link[i] = r32(&r);
    return rd_exact(&r);
}

size_t sb_smc_fault_log_encode(const sb_smc_fault_log *m, uint8_t *buf, size_t cap) {
    if (m->count > SB_SMC_FAULT_LOG_MAX)
        return 0;
    wr w = {buf, cap, 0, false};
    w8(&w, m->result);
    w8(&w, m->count);
    w16(&w, m->total);
    for (unsigned i = 0; i < m->count; i++)
        w_fault(&w, &m->rec[i]);
    return wr_done(&w);
}

bool sb_smc_fault_log_decode(const uint8_t *p, size_t n, sb_smc_fault_log *m) {
    rd r = {p, n, 0, false};
    memset(m, 0, sizeof *m);
    m->result = r8(&r);
    m->count = r8(&r);
    m->total = r16(&r);
    if (r.bad || m->count > SB_SMC_FAULT_LOG_MAX)
        return false;
    for (unsigned i = 0; i < m->count; i++)
        r_fault(&r, &m->rec[i]);
    return rd_exact(&r);
}

size_t sb_smc_version_encode(const sb_smc_version *m, uint8_t *buf, size_t cap) {
    wr w = {buf, cap, 0, false};
    w8(&w, m->result);
    w8(&w, m->major);
    w8(&w, m->minor);
    w8(&w, m->patch);
    w8(&w, m->proto);
    uint8_t *q = wr_take(&w, sizeof m->build);
    if (q) {
        memset(q, 0, sizeof m->build);
        size_t k = strnlen(m->build, sizeof m->build - 1);
        memcpy(q, m->build, k);
    }
    return wr_done(&w);
}

bool sb_smc_version_decode(const uint8_t *p, size_t n, sb_smc_version *m) {
    rd r = {p, n, 0, false};
    memset(m, 0, sizeof *m);
    m->result = r8(&r);
    m->major = r8(&r);
    m->minor = r8(&r);
    m->patch = r8(&r);
    m->proto = r8(&r);
    const uint8_t *q = rd_take(&r, sizeof m->build);
    if (q) {
        memcpy(m->build, q, sizeof m->build);
        m->build[sizeof m->build - 1] = '\0';
    }
    return rd_exact(&r);
}

size_t sb_smc_host_update_encode(const sb_smc_host_update *m, uint8_t *buf, size_t cap) {
    wr w = {buf, cap, 0, false};
    w16(&w, (uint16_t)m->die_centi);
    w16(&w, m->power_dw);
    w8(&w, m->valid);
    return wr_done(&w);
}

bool sb_smc_host_update_decode(const uint8_t *p, size_t n, sb_smc_host_update *m) {
    rd r = {p, n, 0, false};
    memset(m, 0, sizeof *m);
    m->die_centi = (int16_t)r16(&r);
    m->power_dw = r16(&r);
    m->valid = r8(&r);
    return rd_exact(&r);
}

size_t sb_smc_sync_encode(const sb_smc_sync *m, uint8_t *buf, size_t cap) {
    wr w = {buf, cap, 0, false};
    w8(&w, m->result);
    w16(&w, m->last_seq);
    w8(&w, m->session);
    return wr_done(&w);
}

bool sb_smc_sync_decode(const uint8_t *p, size_t n, sb_smc_sync *m) {
    rd r = {p, n, 0, false};
    memset(m, 0, sizeof *m);
    m->result = r8(&r);
    m->last_seq = r16(&r);
    m->session = r8(&r);
    return rd_exact(&r);
}

size_t sb_smc_nak_encode(const sb_smc_nak *m, uint8_t *buf, size_t cap) {
    wr w = {buf, cap, 0, false};
    w8(&w, m->reason);
    w8(&w, m->cmd);
    w16(&w, m->last_seq);
    return wr_done(&w);
}

bool sb_smc_nak_decode(const uint8_t *p, size_t n, sb_smc_nak *m) {
    rd r = {p, n, 0, false};
    memset(m, 0, sizeof *m);
    m->reason = r8(&r);
    m->cmd = r8(&r);
    m->last_seq = r16(&r);
    return rd_exact(&r);
}

/* Looks an index up in a table of names; "?" when out of range or unnamed. */
static const char *name_of(const char *const *tab, unsigned n, unsigned i) {
    return i < n && tab[i] ? tab[i] : "?";
}
#define NAME_OF(tab, i) name_of(tab, (unsigned)(sizeof tab / sizeof tab[0]), i)

const char *sb_smc_state_name(unsigned s) {
    static const char *const t[] = {"OFF",        "WAIT_12V",   "AUX_RAMP", "CORE_RAMP", "CLK_WAIT",
                                    "PERST_WAIT", "GPU_ENABLE", "RUNNING",  "PDN_PERST", "PDN_CORE",
                                    "PDN_AUX",    "FAULT"};
    return NAME_OF(t, s);
}

const char *sb_smc_fault_name(unsigned c) {
    static const char *const t[] = {"none",          "12V_LOST",     "12V_TIMEOUT",  "AUX_TIMEOUT",
                                    "AUX_LOST",      "CORE_TIMEOUT", "CORE_PG_LOST", "CORE_WINDOW",
                                    "CLK_TIMEOUT",   "CLK_LOST",     "DISCHARGE",    "THERMAL_EPO",
                                    "FAN_FAILED",    "SENSOR_FAILED", "WATCHDOG_RESET", "HOST_SILENT"};
    return NAME_OF(t, c);
}

const char *sb_smc_profile_name(unsigned p) {
    static const char *const t[] = {"quiet", "normal", "max"};
    return NAME_OF(t, p);
}

const char *sb_smc_reset_name(unsigned r) {
    static const char *const t[] = {"power-on", "watchdog", "other"};
    return NAME_OF(t, r);
}

const char *sb_smc_rail_name(unsigned r) {
    static const char *const t[] = {"12V", "3V3_AUX", "VCORE", "REFCLK"};
    return NAME_OF(t, r);
}

const char *sb_smc_temp_name(unsigned s) {
    static const char *const t[] = {"gpu_die", "vrm", "pcie_conn", "intake", "exhaust"};
    return NAME_OF(t, s);
}

const char *sb_smc_link_name(unsigned c) {
    static const char *const t[] = {"ok",      "bad_magic", "bad_version", "bad_length", "truncated",
                                    "bad_crc", "replayed",  "unknown_cmd", "overflow",   "bad_payload"};
    return NAME_OF(t, c);
}

const char *sb_smc_nak_name(unsigned r) {
    static const char *const t[] = {NULL,      "bad magic", "bad version", "bad length", "truncated",
                                    "bad crc", "replayed",  "unknown command", "overflow", "bad payload"};
    return NAME_OF(t, r);
}

const char *sb_smc_result_name(unsigned r) {
    static const char *const t[] = {"ok", "fault latched (clear it first)", "busy",
                                    "bad argument", "a temperature is at its shutdown limit"};
    return NAME_OF(t, r);
}

const char *sb_smc_fault_source_name(unsigned code, unsigned source) {
    switch (code) {
    case SB_SMC_FAULT_THERMAL_EPO:
    case SB_SMC_FAULT_SENSOR_FAILED:
    case SB_SMC_FAULT_HOST_SILENT:
        return sb_smc_temp_name(source);
    case SB_SMC_FAULT_FAN_FAILED: {
        static const char *const t[] = {"fan0", "fan1", "fan2"};
        return NAME_OF(t, source);
    }
    case SB_SMC_FAULT_WATCHDOG:
    case SB_SMC_FAULT_NONE:
        return "-";
    default:
        return sb_smc_rail_name(source);
    }
}

const char *sb_smc_fault_value_unit(unsigned code) {
    switch (code) {
    case SB_SMC_FAULT_THERMAL_EPO:
    case SB_SMC_FAULT_SENSOR_FAILED:
    case SB_SMC_FAULT_HOST_SILENT:
        return "cC";
    case SB_SMC_FAULT_FAN_FAILED:
        return "rpm";
    case SB_SMC_FAULT_WATCHDOG:
    case SB_SMC_FAULT_NONE:
    case SB_SMC_FAULT_CLK_TIMEOUT:
    case SB_SMC_FAULT_CLK_LOST:
        return "";
    default:
        return "mV";
    }
}
