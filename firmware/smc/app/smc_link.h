/*
 * smc_link.h - the SMC side of the SPI status link: frame checks, sequence numbers, counters.
 *
 * smc_link_rx() takes one received transaction, rejects what is malformed (counting it per reason
 * and answering with a NAK), passes a valid request to the command handler, and leaves the response
 * frame in l->resp for the caller to arm on the SPI slave. Pure logic: no hardware access.
 *
 * Sequence numbers: every request except SYNC must carry a sequence number newer than the last
 * accepted one. The same number again with the identical frame is a retransmission (the host lost
 * the response): the cached response is sent again and the command is not executed twice. Anything
 * else not newer is a replay and is rejected. SYNC is exempt and returns the last accepted number,
 * so a new host process (or several) can continue from it.
 */
#ifndef SMC_LINK_H
#define SMC_LINK_H

#include "sb_smc_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handles one accepted request: writes the response payload (without frame) into out (capacity
 * SB_SMC_PAYLOAD_MAX) and returns its length, or returns 0 and sets *nak to a NAK reason
 * (SB_SMC_NAK_UNKNOWN, SB_SMC_NAK_BAD_PAYLOAD). */
typedef size_t (*smc_link_handler)(void *ctx, const sb_smc_frame *req, uint8_t *out, uint8_t *nak);

typedef struct smc_link {
    uint16_t last_seq;
    bool session;            /* a sequence number was accepted since start */
    uint32_t last_crc;       /* CRC of the last accepted request (retransmission check) */
    uint8_t resp[SB_SMC_FRAME_MAX];
    size_t resp_len;
    uint8_t cached[SB_SMC_FRAME_MAX]; /* response to the last accepted request */
    size_t cached_len;
    uint32_t counters[SB_SMC_LINK_NUM];
} smc_link;

void smc_link_init(smc_link *l);
/* Processes one received transaction. Returns true when l->resp holds a frame to send. All-zero
 * transactions (read polls) return false and count nothing. */
bool smc_link_rx(smc_link *l, const uint8_t *rx, size_t n, bool overflow, smc_link_handler h, void *ctx);

#endif
