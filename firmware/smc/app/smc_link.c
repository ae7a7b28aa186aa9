/*
 * smc_link.c - request validation, replay protection, NAKs and counters (see smc_link.h).
 */
#include "smc_link.h"

#include <string.h>

void smc_link_init(smc_link *l) { memset(l, 0, sizeof *l); }

static void count(smc_link *l, unsigned c) {
    if (l->counters[c] != 0xFFFFFFFFu)
        l->counters[c]++;
}

static bool nak(smc_link *l, uint8_t reason, uint8_t cmd, uint16_t seq) {
    sb_smc_nak m = {reason, cmd, l->last_seq};
    uint8_t p[SB_SMC_NAK_LEN];
    size_t n = sb_smc_nak_encode(&m, p, sizeof p);
    l->resp_len = sb_smc_frame_encode(l->resp, sizeof l->resp, SB_SMC_RSP_NAK, seq, p, n);
    return l->resp_len > 0;
}

static bool all_zero(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

bool smc_link_rx(smc_link *l, const uint8_t *rx, size_t n, bool overflow, smc_link_handler h, void *ctx) {
    l->resp_len = 0;
    if (!overflow && (n == 0 || all_zero(rx, n)))
        return false;
    if (overflow) {
        count(l, SB_SMC_LINK_OVERFLOW);
        return nak(l, SB_SMC_NAK_OVERFLOW, 0, 0);
    }
    sb_smc_frame f;
    sb_smc_decode d = sb_smc_frame_decode(rx, n, true, &f, NULL);
    switch (d) {
    case SB_SMC_DEC_OK:
        break;
    case SB_SMC_DEC_TRUNCATED:
        count(l, SB_SMC_LINK_TRUNCATED);
        return nak(l, SB_SMC_NAK_TRUNCATED, 0, 0);
    case SB_SMC_DEC_MAGIC:
        count(l, SB_SMC_LINK_MAGIC);
        return nak(l, SB_SMC_NAK_MAGIC, 0, 0);
    case SB_SMC_DEC_VERSION:
        count(l, SB_SMC_LINK_VERSION);
        return nak(l, SB_SMC_NAK_VERSION, 0, 0);
    case SB_SMC_DEC_LENGTH:
        count(l, SB_SMC_LINK_LENGTH);
        return nak(l, SB_SMC_NAK_LENGTH, 0, 0);
    default:
        count(l, SB_SMC_LINK_CRC);
        return nak(l, SB_SMC_NAK_CRC, 0, 0);
    }

    uint32_t crc = sb_smc_get_u32(rx + SB_SMC_HDR_LEN + f.len);
    bool sync = f.cmd == SB_SMC_CMD_SYNC;
    if (!sync && l->session) {
        if (f.seq == l->last_seq && crc == l->last_crc && l->cached_len > 0) {
            count(l, SB_SMC_LINK_REPLAY); /* retransmission: answer again, do not execute again */
            memcpy(l->resp, l->cached, l->cached_len);
            l->resp_len = l->cached_len;
            return true;
        }
        if (!sb_smc_seq_newer(f.seq, l->last_seq)) {
            count(l, SB_SMC_LINK_REPLAY);
            return nak(l, SB_SMC_NAK_REPLAY, f.cmd, f.seq);
        }
    }

    uint8_t payload[SB_SMC_PAYLOAD_MAX];
    uint8_t reason = SB_SMC_NAK_UNKNOWN;
    size_t plen = 0;
    if (sync) {
        if (f.len != 0) {
            count(l, SB_SMC_LINK_BAD_PAYLOAD);
            return nak(l, SB_SMC_NAK_BAD_PAYLOAD, f.cmd, f.seq);
        }
        sb_smc_sync m = {SB_SMC_RES_OK, l->last_seq, l->session ? 1 : 0};
        plen = sb_smc_sync_encode(&m, payload, sizeof payload);
    } else {
        plen = h ? h(ctx, &f, payload, &reason) : 0;
        if (plen == 0 || plen > SB_SMC_PAYLOAD_MAX) {
            count(l, reason == SB_SMC_NAK_BAD_PAYLOAD ? SB_SMC_LINK_BAD_PAYLOAD : SB_SMC_LINK_UNKNOWN);
            return nak(l, reason == SB_SMC_NAK_BAD_PAYLOAD ? SB_SMC_NAK_BAD_PAYLOAD : SB_SMC_NAK_UNKNOWN, f.cmd,
                       f.seq);
        }
        l->last_seq = f.seq;
        l->last_crc = crc;
        l->session = true;
    }
    count(l, SB_SMC_LINK_OK);
    l->resp_len =
        sb_smc_frame_encode(l->resp, sizeof l->resp, (uint8_t)(f.cmd | SB_SMC_RSP_FLAG), f.seq, payload, plen);
    if (!sync) {
        memcpy(l->cached, l->resp, l->resp_len);
        l->cached_len = l->resp_len;
    }
    return l->resp_len > 0;
}
