/*
 * test_hw_client.c - the SMC client against a scripted fake controller: normal requests, SYNC and
 * sequence numbers, responses that are late, missing, corrupted or NAKed, replay resync, commands
 * the SMC rejects, allocation failures, and the transports' argument checks.
 */
#include "sb_test.h"

#include "sb_alloc.h"
#include "sb_hw.h"

#include <string.h>

/* The fake SMC: answers one request per exchange, with scripted misbehaviour. */
typedef struct fake {
    uint8_t resp[SB_SMC_FRAME_MAX];
    size_t resp_len;
    int not_ready;      /* read polls that see zeros before the response */
    int drop_next;      /* requests to ignore entirely */
    int corrupt_next;   /* responses to corrupt (one bit) */
    int nak_crc_next;   /* requests to answer with NAK CRC */
    int replay_next;    /* requests to answer with NAK REPLAY */
    int executed;       /* requests executed (not retransmissions) */
    uint16_t last_seq;
    bool session;
    uint32_t last_crc;
    int closed;
    uint16_t seqs[64];
    int nseq;
} fake;

static size_t nak(fake *f, uint8_t reason, uint16_t seq) {
    uint8_t p[SB_SMC_NAK_LEN];
    sb_smc_nak n = {reason, 0, f->last_seq};
    sb_smc_nak_encode(&n, p, sizeof p);
    return sb_smc_frame_encode(f->resp, sizeof f->resp, SB_SMC_RSP_NAK, seq, p, sizeof p);
}

static void handle_request(fake *f, const uint8_t *tx, size_t n) {
    sb_smc_frame fr;
    f->resp_len = 0;
    if (sb_smc_frame_decode(tx, n, true, &fr, NULL) != SB_SMC_DEC_OK) {
        f->resp_len = nak(f, SB_SMC_NAK_CRC, 0);
        return;
    }
    if (f->drop_next > 0) {
        f->drop_next--;
        return;
    }
    if (f->nak_crc_next > 0) {
        f->nak_crc_next--;
        f->resp_len = nak(f, SB_SMC_NAK_CRC, 0);
        return;
    }
    uint8_t p[SB_SMC_PAYLOAD_MAX];
    size_t pn = 0;
    if (fr.cmd == SB_SMC_CMD_SYNC) {
        sb_smc_sync s = {0, f->last_seq, f->session};
        pn = sb_smc_sync_encode(&s, p, sizeof p);
    } else {
        if (f->replay_next > 0) {
            f->replay_next--;
            f->last_seq = (uint16_t)(f->last_seq + 100); /* another master moved on */
            f->resp_len = nak(f, SB_SMC_NAK_REPLAY, fr.seq);
            return;
        }
        uint32_t crc = sb_smc_get_u32(tx + n - 4);
        bool dup = f->session && fr.seq == f->last_seq && crc == f->last_crc;
        if (!dup && f->session && !sb_smc_seq_newer(fr.seq, f->last_seq)) {
            f->resp_len = nak(f, SB_SMC_NAK_REPLAY, fr.seq);
            return;
        }
        if (!dup) {
            f->executed++;
            f->last_seq = fr.seq;
            f->last_crc = crc;
            f->session = true;
            if (f->nseq < 64)
                f->seqs[f->nseq++] = fr.seq;
        }
        switch (fr.cmd) {
        case SB_SMC_CMD_STATUS: {
            sb_smc_status s;
            memset(&s, 0, sizeof s);
            s.pwr_state = SB_SMC_PWR_RUNNING;
            s.uptime_ms = 4242;
            pn = sb_smc_status_encode(&s, p, sizeof p);
            break;
        }
        case SB_SMC_CMD_POWER:
        case SB_SMC_CMD_CLEAR_FAULT:
        case SB_SMC_CMD_FAN_PROFILE:
            if (fr.cmd != SB_SMC_CMD_CLEAR_FAULT && fr.len != 1) {
                f->resp_len = nak(f, SB_SMC_NAK_BAD_PAYLOAD, fr.seq);
                return;
            }
            p[0] = 0;
            p[1] = 0;
            pn = 2;
            break;
        default:
            f->resp_len = nak(f, SB_SMC_NAK_UNKNOWN, fr.seq);
            return;
        }
    }
    f->resp_len = sb_smc_frame_encode(f->resp, sizeof f->resp, (uint8_t)(fr.cmd | 0x80), fr.seq, p, pn);
    if (f->corrupt_next > 0 && f->resp_len) {
        f->corrupt_next--;
        f->resp[f->resp_len / 2] ^= 0x08;
    }
}

static sb_status fake_xfer(void *ctx, const uint8_t *tx, uint8_t *rx, size_t n, sb_error *err) {
    (void)err;
    fake *f = ctx;
    bool poll = true;
    for (size_t i = 0; i < n; i++)
        if (tx[i]) {
            poll = false;
            break;
        }
    memset(rx, 0, n);
    if (!poll) {
        handle_request(f, tx, n);
        return SB_OK;
    }
    if (f->not_ready > 0) {
        f->not_ready--;
        return SB_OK;
    }
    memcpy(rx, f->resp, f->resp_len < n ? f->resp_len : n);
    f->resp_len = 0; /* delivered once */
    return SB_OK;
}

static void fake_close(void *ctx) { ((fake *)ctx)->closed++; }

static sb_hw_client *make_client(fake *f, unsigned retries) {
    memset(f, 0, sizeof *f);
    static const sb_hw_transport_ops ops = {fake_xfer, NULL, NULL, fake_close};
    sb_hw_transport *t = NULL;
    sb_error err;
    SB_CHECK(sb_hw_transport_custom(&ops, f, &t, &err) == SB_OK);
    sb_hw_opts o = {retries, 1, 5};
    sb_hw_client *c = NULL;
    SB_CHECK(sb_hw_client_create(t, &o, &c, &err) == SB_OK);
    return c;
}

static void test_normal_and_sequence(void) {
    fake f;
    sb_hw_client *c = make_client(&f, 3);
    f.last_seq = 500; /* the SMC has talked to someone before */
    f.session = true;
    sb_error err;
    sb_smc_status s;
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_OK);
    SB_CHECK(s.pwr_state == SB_SMC_PWR_RUNNING && s.uptime_ms == 4242);
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_OK);
    uint8_t r = 0xFF;
    SB_CHECK(sb_hw_power(c, true, &r, &err) == SB_OK && r == 0);
    SB_CHECK(f.nseq == 3 && f.seqs[0] == 501 && f.seqs[1] == 502 && f.seqs[2] == 503);
    SB_CHECK_EQ_INT(sb_hw_client_stats(c)->resyncs, 1);
    SB_CHECK_EQ_INT(sb_hw_client_stats(c)->requests, 3);
    sb_hw_client_free(c);
    SB_CHECK_EQ_INT(f.closed, 1);
}

static void test_late_missing_corrupt(void) {
    fake f;
    sb_hw_client *c = make_client(&f, 3);
    sb_error err;
    sb_smc_status s;
    uint8_t r;
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_OK);
    /* Late: three polls see zeros, the fourth the answer (within max_polls = 5). */
    f.not_ready = 3;
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_OK);
    SB_CHECK_EQ_INT(sb_hw_client_stats(c)->timeouts, 0);
    /* A corrupted response: the request is retransmitted with the same number and answered from
     * the SMC's cache, so the power command runs once. */
    int before = f.executed;
    f.corrupt_next = 1;
    SB_CHECK(sb_hw_power(c, false, &r, &err) == SB_OK);
    SB_CHECK_EQ_INT(f.executed - before, 1);
    SB_CHECK_EQ_INT(sb_hw_client_stats(c)->corrupt, 1);
    /* Our request corrupted on the way (NAK CRC): sent again. */
    f.nak_crc_next = 2;
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_OK);
    SB_CHECK(sb_hw_client_stats(c)->naks >= 2);
    /* No answer at all, more often than the retries allow: an I/O error naming the request. */
    f.drop_next = 10;
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_ERR_IO);
    SB_CHECK(strstr(err.msg, "after 4 attempts") != NULL);
    f.drop_next = 0;
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_OK);
    sb_hw_client_free(c);
}

static void test_replay_resync_and_rejections(void) {
    fake f;
    sb_hw_client *c = make_client(&f, 3);
    sb_error err;
    sb_smc_status s;
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_OK);
    unsigned rs = sb_hw_client_stats(c)->resyncs;
    f.replay_next = 1; /* another host process advanced the sequence */
    SB_CHECK(sb_hw_get_status(c, &s, &err) == SB_OK);
    SB_CHECK_EQ_INT(sb_hw_client_stats(c)->resyncs, rs + 1);
    SB_CHECK(f.seqs[f.nseq - 1] == (uint16_t)(f.last_seq));
    /* Unknown command and bad payload are not retried. */
    uint8_t resp[SB_SMC_PAYLOAD_MAX];
    size_t n = 0;
    unsigned att = sb_hw_client_stats(c)->attempts;
    SB_CHECK(sb_hw_request(c, 0x55, NULL, 0, resp, sizeof resp, &n, &err) == SB_ERR_UNSUPPORTED);
    SB_CHECK_EQ_INT(sb_hw_client_stats(c)->attempts, att + 1);
    uint8_t two[2] = {1, 2};
    SB_CHECK(sb_hw_request(c, SB_SMC_CMD_POWER, two, 2, resp, sizeof resp, &n, &err) == SB_ERR_INVALID_ARG);
    uint8_t big[SB_SMC_PAYLOAD_MAX + 1];
    memset(big, 1, sizeof big);
    SB_CHECK(sb_hw_request(c, SB_SMC_CMD_POWER, big, sizeof big, resp, sizeof resp, &n, &err) ==
             SB_ERR_INVALID_ARG);
    SB_CHECK(sb_hw_request(c, SB_SMC_CMD_POWER, NULL, 3, resp, sizeof resp, &n, &err) == SB_ERR_INVALID_ARG);
    /* A response larger than the caller's buffer. */
    SB_CHECK(sb_hw_request(c, SB_SMC_CMD_STATUS, NULL, 0, resp, 4, &n, &err) == SB_ERR_FORMAT);
    sb_hw_client_free(c);
}

static void test_alloc_failures_and_args(void) {
    fake f;
    memset(&f, 0, sizeof f);
    static const sb_hw_transport_ops ops = {fake_xfer, NULL, NULL, fake_close};
    sb_error err;
    for (long k = 1; k <= 3; k++) {
        sb_hw_transport *t = NULL;
        sb_hw_client *c = NULL;
        sb_alloc_fail_nth(k);
        sb_status st = sb_hw_transport_custom(&ops, &f, &t, &err);
        if (st == SB_OK)
            st = sb_hw_client_create(t, NULL, &c, &err);
        bool fired = sb_alloc_injected_fired();
        sb_alloc_fail_nth(0);
        if (fired)
            SB_CHECK(st == SB_ERR_NOMEM && c == NULL);
        sb_hw_client_free(c);
    }
    SB_CHECK(f.closed >= 1); /* the transport is closed also when the client could not be made */
    sb_hw_transport *t = NULL;
    SB_CHECK(sb_hw_transport_spidev("/nonexistent/spidev9.9", 0, &t, &err) == SB_ERR_IO && t == NULL);
    SB_CHECK(strstr(err.msg, "/nonexistent/spidev9.9") != NULL);
    SB_CHECK(sb_hw_transport_socket("/nonexistent/smc.sock", &t, &err) == SB_ERR_IO && t == NULL);
    SB_CHECK(sb_hw_transport_socket("", &t, &err) == SB_ERR_INVALID_ARG);
    char longp[200];
    memset(longp, 'a', sizeof longp - 1);
    longp[sizeof longp - 1] = 0;
    SB_CHECK(sb_hw_transport_socket(longp, &t, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_hw_transport_custom(NULL, NULL, &t, &err) == SB_ERR_INVALID_ARG);
    sb_hw_client *c = NULL;
    SB_CHECK(sb_hw_client_create(NULL, NULL, &c, &err) == SB_ERR_INVALID_ARG);
    sb_hw_transport_free(NULL);
    sb_hw_client_free(NULL);
}

int main(void) {
    SB_RUN(test_normal_and_sequence);
    SB_RUN(test_late_missing_corrupt);
    SB_RUN(test_replay_resync_and_rejections);
    SB_RUN(test_alloc_failures_and_args);
    return sb_test_finish();
}
