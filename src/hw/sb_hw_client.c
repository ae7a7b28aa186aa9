/*
 * sb_hw_client.c - request/response over an SMC transport: framing, read polls, sequence numbers,
 * retries, and the typed commands.
 */
#define _GNU_SOURCE
#include "sb_hw.h"
#include "sb_hw_internal.h"

#include "sb_alloc.h"

#include <errno.h>
#include <string.h>
#include <time.h>

struct sb_hw_client {
    sb_hw_transport *t;
    sb_hw_opts opts;
    uint16_t seq;
    bool synced;
    sb_hw_stats stats;
    uint8_t tx[SB_SMC_FRAME_MAX];
    uint8_t rx[SB_SMC_FRAME_MAX];
    uint8_t zeros[SB_SMC_FRAME_MAX];
};

sb_status sb_hw_client_create(sb_hw_transport *t, const sb_hw_opts *opts, sb_hw_client **out, sb_error *err) {
    *out = NULL;
    if (!t)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "SMC client without a transport");
    sb_hw_client *c = sb_calloc(1, sizeof *c);
    if (!c) {
        sb_hw_transport_free(t);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory creating the SMC client");
    }
    c->t = t;
    c->opts.retries = 3;
    c->opts.poll_us = 1000;
    c->opts.max_polls = 20;
    if (opts) {
        c->opts.retries = opts->retries;
        if (opts->poll_us)
            c->opts.poll_us = opts->poll_us;
        if (opts->max_polls)
            c->opts.max_polls = opts->max_polls;
    }
    *out = c;
    return SB_OK;
}

void sb_hw_client_free(sb_hw_client *c) {
    if (!c)
        return;
    sb_hw_transport_free(c->t);
    sb_free(c);
}

const sb_hw_stats *sb_hw_client_stats(const sb_hw_client *c) { return &c->stats; }

static void sleep_us(unsigned us) {
    struct timespec ts = {us / 1000000u, (long)(us % 1000000u) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

typedef enum { EX_OK, EX_NONE, EX_CORRUPT, EX_NAK } ex_result;

/* Sends one request frame and read-polls for the answer. On EX_OK/EX_NAK *f points into c->rx. */
static sb_status exchange(sb_hw_client *c, uint8_t cmd, uint16_t seq, const uint8_t *payload, size_t len,
                          sb_smc_frame *f, ex_result *res, sb_error *err) {
    size_t n = sb_smc_frame_encode(c->tx, sizeof c->tx, cmd, seq, payload, len);
    if (n == 0)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "SMC request 0x%02x: payload of %zu bytes is too long", cmd,
                            len);
    c->stats.attempts++;
    sb_status st = sb_hw_transport_xfer(c->t, c->tx, c->rx, n, err);
    if (st != SB_OK)
        return st;
    *res = EX_NONE;
    for (unsigned p = 0; p < c->opts.max_polls; p++) {
        sleep_us(c->opts.poll_us);
        st = sb_hw_transport_xfer(c->t, c->zeros, c->rx, sizeof c->rx, err);
        if (st != SB_OK)
            return st;
        if (c->rx[0] == 0 && c->rx[1] == 0)
            continue; /* not ready yet */
        if (sb_smc_frame_decode(c->rx, sizeof c->rx, false, f, NULL) != SB_SMC_DEC_OK) {
            *res = EX_CORRUPT;
            return SB_OK;
        }
        if (f->cmd == SB_SMC_RSP_NAK) {
            *res = EX_NAK;
            return SB_OK;
        }
        *res = (f->cmd == (uint8_t)(cmd | SB_SMC_RSP_FLAG) && f->seq == seq) ? EX_OK : EX_CORRUPT;
        return SB_OK;
    }
    return SB_OK;
}

static sb_status do_sync(sb_hw_client *c, sb_error *err) {
    sb_smc_frame f;
    ex_result r = EX_NONE;
    c->stats.resyncs++;
    sb_status st = exchange(c, SB_SMC_CMD_SYNC, 0, NULL, 0, &f, &r, err);
    if (st != SB_OK)
        return st;
    sb_smc_sync s;
    if (r == EX_OK && sb_smc_sync_decode(f.payload, f.len, &s)) {
        c->seq = s.last_seq;
        c->synced = true;
    }
    return SB_OK;
}

static sb_status request_locked(sb_hw_client *c, uint8_t cmd, const uint8_t *payload, size_t len, uint8_t *resp,
                                size_t cap, size_t *resp_len, sb_error *err) {
    bool new_seq = true;
    const char *last = "no response";
    for (unsigned attempt = 0; attempt <= c->opts.retries; attempt++) {
        if (!c->synced) {
            sb_status st = do_sync(c, err);
            if (st != SB_OK)
                return st;
            if (!c->synced) {
                c->stats.timeouts++;
                last = "no answer to SYNC";
                continue;
            }
            new_seq = true;
        }
        if (new_seq)
            c->seq++;
        new_seq = false; /* a retransmission keeps its number: the SMC answers it from its cache */
        sb_smc_frame f;
        ex_result r = EX_NONE;
        sb_status st = exchange(c, cmd, c->seq, payload, len, &f, &r, err);
        if (st != SB_OK)
            return st;
        if (r == EX_OK) {
            if (f.len > cap)
                return sb_error_set(err, SB_ERR_FORMAT, "SMC response to 0x%02x: %u bytes, room for %zu", cmd,
                                    (unsigned)f.len, cap);
            memcpy(resp, f.payload, f.len);
            *resp_len = f.len;
            c->stats.requests++;
            return SB_OK;
        }
        if (r == EX_NONE) {
            c->stats.timeouts++;
            last = "no response";
            continue;
        }
        if (r == EX_CORRUPT) {
            c->stats.corrupt++;
            last = "corrupted response";
            continue;
        }
        c->stats.naks++;
        sb_smc_nak nk;
        if (!sb_smc_nak_decode(f.payload, f.len, &nk)) {
            last = "malformed NAK";
            continue;
        }
        last = sb_smc_nak_name(nk.reason);
        switch (nk.reason) {
        case SB_SMC_NAK_UNKNOWN:
            return sb_error_set(err, SB_ERR_UNSUPPORTED, "the SMC does not know command 0x%02x", cmd);
        case SB_SMC_NAK_BAD_PAYLOAD:
            return sb_error_set(err, SB_ERR_INVALID_ARG, "the SMC rejected the payload of command 0x%02x", cmd);
        case SB_SMC_NAK_REPLAY:
            c->synced = false; /* another master moved the sequence on: learn it again */
            break;
        default:
            break; /* our request arrived corrupted: send it again */
        }
    }
    return sb_error_set(err, SB_ERR_IO, "SMC request 0x%02x failed after %u attempts (%s)", cmd,
                        c->opts.retries + 1, last);
}

sb_status sb_hw_request(sb_hw_client *c, uint8_t cmd, const uint8_t *payload, size_t len, uint8_t *resp, size_t cap,
                        size_t *resp_len, sb_error *err) {
    if (!c || (len && !payload) || !resp || !resp_len)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "bad arguments to an SMC request");
    if (len > SB_SMC_PAYLOAD_MAX)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "SMC request payload of %zu bytes (at most %u)", len,
                            SB_SMC_PAYLOAD_MAX);
    *resp_len = 0;
    sb_status st = sb_hw_transport_lock(c->t, err);
    if (st != SB_OK)
        return st;
    st = request_locked(c, cmd, payload, len, resp, cap, resp_len, err);
    sb_hw_transport_unlock(c->t);
    return st;
}

/* A request whose response must decode with `decode` into out. */
static sb_status typed(sb_hw_client *c, uint8_t cmd, const uint8_t *p, size_t n, const char *what,
                       bool (*decode)(const uint8_t *, size_t, void *), void *out, sb_error *err) {
    uint8_t r[SB_SMC_PAYLOAD_MAX];
    size_t rn = 0;
    sb_status st = sb_hw_request(c, cmd, p, n, r, sizeof r, &rn, err);
    if (st != SB_OK)
        return st;
    if (!decode(r, rn, out))
        return sb_error_set(err, SB_ERR_FORMAT, "SMC %s response of %zu bytes does not decode", what, rn);
    return SB_OK;
}

static bool dec_status(const uint8_t *p, size_t n, void *o) { return sb_smc_status_decode(p, n, o); }
static bool dec_telemetry(const uint8_t *p, size_t n, void *o) { return sb_smc_telemetry_decode(p, n, o); }
static bool dec_fault_log(const uint8_t *p, size_t n, void *o) { return sb_smc_fault_log_decode(p, n, o); }
static bool dec_version(const uint8_t *p, size_t n, void *o) { return sb_smc_version_decode(p, n, o); }
static bool dec_result(const uint8_t *p, size_t n, void *o) {
    if (n < 1)
        return false;
    *(uint8_t *)o = p[0];
    return true;
}

sb_status sb_hw_get_status(sb_hw_client *c, sb_smc_status *out, sb_error *err) {
    return typed(c, SB_SMC_CMD_STATUS, NULL, 0, "status", dec_status, out, err);
}

sb_status sb_hw_get_telemetry(sb_hw_client *c, sb_smc_telemetry *out, sb_error *err) {
    return typed(c, SB_SMC_CMD_TELEMETRY, NULL, 0, "telemetry", dec_telemetry, out, err);
}

sb_status sb_hw_get_fault_log(sb_hw_client *c, sb_smc_fault_log *out, sb_error *err) {
    return typed(c, SB_SMC_CMD_FAULT_LOG, NULL, 0, "fault log", dec_fault_log, out, err);
}

sb_status sb_hw_get_version(sb_hw_client *c, sb_smc_version *out, sb_error *err) {
    return typed(c, SB_SMC_CMD_VERSION, NULL, 0, "version", dec_version, out, err);
}

sb_status sb_hw_power(sb_hw_client *c, bool on, uint8_t *result, sb_error *err) {
    uint8_t p = on ? 1 : 0;
    return typed(c, SB_SMC_CMD_POWER, &p, 1, "power", dec_result, result, err);
}

sb_status sb_hw_clear_fault(sb_hw_client *c, uint8_t *result, sb_error *err) {
    return typed(c, SB_SMC_CMD_CLEAR_FAULT, NULL, 0, "clear-fault", dec_result, result, err);
}

sb_status sb_hw_fan_profile(sb_hw_client *c, uint8_t profile, uint8_t *result, sb_error *err) {
    return typed(c, SB_SMC_CMD_FAN_PROFILE, &profile, 1, "fan-profile", dec_result, result, err);
}

sb_status sb_hw_host_update(sb_hw_client *c, const sb_smc_host_update *u, uint32_t *flags, sb_error *err) {
    uint8_t p[SB_SMC_HOST_UPDATE_LEN], r[SB_SMC_PAYLOAD_MAX];
    size_t n = sb_smc_host_update_encode(u, p, sizeof p), rn = 0;
    sb_status st = sb_hw_request(c, SB_SMC_CMD_HOST_UPDATE, p, n, r, sizeof r, &rn, err);
    if (st != SB_OK)
        return st;
    if (rn != 5)
        return sb_error_set(err, SB_ERR_FORMAT, "SMC host-update response of %zu bytes (want 5)", rn);
    if (flags)
        *flags = sb_smc_get_u32(r + 1);
    return SB_OK;
}
