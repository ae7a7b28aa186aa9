/*
 * fuzz_frame.c - libFuzzer target for the SMC frame parser and link layer.
 *
 * Input bytes are split into SPI transactions (the first byte of each chunk gives its length) and
 * fed to a fresh smc_link, whose handler decodes every payload type; every accepted frame must
 * re-encode to the same bytes and every response must decode. Built with -fsanitize=fuzzer when
 * SOLEBOX_FUZZ=ON under clang; tests/fuzz_replay_main.c replays inputs as a normal test.
 */
#include "sb_smc_msg.h"
#include "smc_link.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(c)                                                                                         \
    do {                                                                                                     \
        if (!(c))                                                                                            \
            abort();                                                                                         \
    } while (0)

/* Echoes something for every command, decoding the payload by type. */
static size_t handler(void *ctx, const sb_smc_frame *f, uint8_t *out, uint8_t *nak) {
    (void)ctx;
    sb_smc_host_update hu;
    sb_smc_status st;
    sb_smc_telemetry tm;
    sb_smc_fault_log fl;
    sb_smc_version v;
    sb_smc_sync sy;
    sb_smc_nak nk;
    /* All decoders must cope with any payload. */
    (void)sb_smc_status_decode(f->payload, f->len, &st);
    (void)sb_smc_telemetry_decode(f->payload, f->len, &tm);
    (void)sb_smc_fault_log_decode(f->payload, f->len, &fl);
    (void)sb_smc_version_decode(f->payload, f->len, &v);
    (void)sb_smc_sync_decode(f->payload, f->len, &sy);
    (void)sb_smc_nak_decode(f->payload, f->len, &nk);
    switch (f->cmd) {
    case SB_SMC_CMD_HOST_UPDATE:
        if (!sb_smc_host_update_decode(f->payload, f->len, &hu)) {
            *nak = SB_SMC_NAK_BAD_PAYLOAD;
            return 0;
        }
        out[0] = 0;
        return 1;
    case SB_SMC_CMD_TELEMETRY:
        memset(&tm, 0, sizeof tm);
        return sb_smc_telemetry_encode(&tm, out, SB_SMC_PAYLOAD_MAX);
    case SB_SMC_CMD_FAULT_LOG:
        memset(&fl, 0, sizeof fl);
        fl.count = SB_SMC_FAULT_LOG_MAX;
        return sb_smc_fault_log_encode(&fl, out, SB_SMC_PAYLOAD_MAX);
    case SB_SMC_CMD_STATUS:
    case SB_SMC_CMD_POWER:
    case SB_SMC_CMD_CLEAR_FAULT:
    case SB_SMC_CMD_FAN_PROFILE:
    case SB_SMC_CMD_VERSION:
        out[0] = 0;
        return 1;
    default:
        *nak = SB_SMC_NAK_UNKNOWN;
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* 1. The raw decoder, both modes, on the whole input. */
    sb_smc_frame f;
    size_t used = 0;
    if (sb_smc_frame_decode(data, size, false, &f, &used) == SB_SMC_DEC_OK) {
        FUZZ_CHECK(used <= size && used == SB_SMC_HDR_LEN + f.len + SB_SMC_CRC_LEN);
        uint8_t again[SB_SMC_FRAME_MAX];
        size_t n = sb_smc_frame_encode(again, sizeof again, f.cmd, f.seq, f.payload, f.len);
        FUZZ_CHECK(n == used && memcmp(again, data, n) == 0);
    }
    (void)sb_smc_frame_decode(data, size, true, &f, NULL);

    /* 2. The link layer over a sequence of transactions. */
    static smc_link link;
    smc_link_init(&link);
    size_t off = 0;
    while (off < size) {
        size_t len = data[off++];
        if (len == 0xFF)
            len = 300; /* an over-long transaction */
        if (len > size - off)
            len = size - off;
        bool overflow = len > SB_SMC_FRAME_MAX + 8;
        if (smc_link_rx(&link, data + off, overflow ? SB_SMC_FRAME_MAX + 8 : len, overflow, handler, NULL)) {
            sb_smc_frame r;
            FUZZ_CHECK(link.resp_len <= SB_SMC_FRAME_MAX);
            FUZZ_CHECK(sb_smc_frame_decode(link.resp, link.resp_len, true, &r, NULL) == SB_SMC_DEC_OK);
        }
        off += len;
    }
    uint32_t total = 0;
    for (int i = 0; i < SB_SMC_LINK_NUM; i++)
        total += link.counters[i];
    FUZZ_CHECK(total <= size + 1);
    return 0;
}
