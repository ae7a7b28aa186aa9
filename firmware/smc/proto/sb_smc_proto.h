/*
 * sb_smc_proto.h - the SPI frame format between the host and the system-management controller (SMC).
 *
 * Shared, unchanged, by the RP2040 firmware (freestanding C, no allocation) and the host library
 * src/hw. Everything on the wire is little-endian and serialised field by field: no struct is ever
 * copied onto the wire.
 *
 * Frame (request and response alike):
 *
 *   offset  size  field
 *   0       2     magic 0x53 0x4D ("SM")
 *   2       1     protocol version (SB_SMC_PROTO_VERSION)
 *   3       1     command (request) or command | 0x80 (response), 0xFF = NAK
 *   4       2     sequence number (the response echoes the request's)
 *   6       2     payload length (0 .. SB_SMC_PAYLOAD_MAX)
 *   8       len   payload
 *   8+len   4     CRC-32C (Castagnoli) over bytes 0 .. 8+len-1
 *
 * The longest frame is 252 bytes (2,016 bits). A 16-bit CRC would give only Hamming distance 4 at
 * this length; CRC-32C is published with HD=6 up to about 5,200 data bits (Koopman's CRC tables) and
 * detects every burst up to 32 bits. tests/smc_test_proto.c verifies that every 1- to 4-bit error of
 * a maximum-length frame is detected (1 and 2 bits through the parser, 3 and 4 through syndromes).
 *
 * SPI transport (mode 3, 8-bit words, MSB first, at most 1 MHz): the host sends a request in one
 * chip-select window, waits at least 1 ms, then clocks SB_SMC_FRAME_MAX zero bytes in a second window;
 * the SMC shifts out the response frame followed by zero padding, or all zeros while it is not ready
 * yet (the host polls again). A transaction whose MOSI is all zeros is a read poll, never a request.
 */
#ifndef SB_SMC_PROTO_H
#define SB_SMC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_SMC_PROTO_VERSION 1u
#define SB_SMC_MAGIC0 0x53u
#define SB_SMC_MAGIC1 0x4Du
#define SB_SMC_HDR_LEN 8u
#define SB_SMC_CRC_LEN 4u
#define SB_SMC_PAYLOAD_MAX 240u
#define SB_SMC_FRAME_MAX (SB_SMC_HDR_LEN + SB_SMC_PAYLOAD_MAX + SB_SMC_CRC_LEN)

/* Request commands. A response carries cmd | SB_SMC_RSP_FLAG and starts with a result byte. */
enum {
    SB_SMC_CMD_SYNC = 0x01,        /* no sequence check; reply carries the last accepted sequence */
    SB_SMC_CMD_STATUS = 0x02,      /* state, flags, latched fault */
    SB_SMC_CMD_TELEMETRY = 0x03,   /* rails, temperatures, fans, link counters */
    SB_SMC_CMD_FAULT_LOG = 0x04,   /* the most recent faults, oldest first */
    SB_SMC_CMD_CLEAR_FAULT = 0x05, /* clears the latched fault (and failed fans) */
    SB_SMC_CMD_FAN_PROFILE = 0x06, /* payload: u8 profile */
    SB_SMC_CMD_POWER = 0x07,       /* payload: u8 1 = on, 0 = off */
    SB_SMC_CMD_VERSION = 0x08,     /* firmware version and build */
    SB_SMC_CMD_HOST_UPDATE = 0x09, /* host -> SMC: GPU die temperature and power, once a second */
};
#define SB_SMC_RSP_FLAG 0x80u
#define SB_SMC_RSP_NAK 0xFFu

/* Result byte at the start of every (non-NAK) response payload. */
enum {
    SB_SMC_RES_OK = 0,
    SB_SMC_RES_FAULT_LATCHED = 1, /* power on refused: clear the fault first */
    SB_SMC_RES_BUSY = 2,          /* not in a state that allows it now (e.g. sequencing) */
    SB_SMC_RES_BAD_ARG = 3,       /* payload value out of range */
    SB_SMC_RES_THERMAL = 4,       /* power on refused: a temperature is at or above its shutdown limit */
};

/* NAK reasons (first payload byte of a NAK frame; then u8 request cmd, u16 last accepted sequence). */
enum {
    SB_SMC_NAK_MAGIC = 1,
    SB_SMC_NAK_VERSION = 2,
    SB_SMC_NAK_LENGTH = 3,    /* length field beyond the maximum, or bytes after the frame */
    SB_SMC_NAK_TRUNCATED = 4, /* fewer bytes than the header announces */
    SB_SMC_NAK_CRC = 5,
    SB_SMC_NAK_REPLAY = 6, /* sequence number not newer than the last accepted one */
    SB_SMC_NAK_UNKNOWN = 7,
    SB_SMC_NAK_OVERFLOW = 8,    /* more bytes than the receive buffer */
    SB_SMC_NAK_BAD_PAYLOAD = 9, /* payload length wrong for the command */
};

/* Result of decoding one frame. */
typedef enum sb_smc_decode {
    SB_SMC_DEC_OK = 0,
    SB_SMC_DEC_TRUNCATED,
    SB_SMC_DEC_MAGIC,
    SB_SMC_DEC_VERSION,
    SB_SMC_DEC_LENGTH,
    SB_SMC_DEC_CRC,
} sb_smc_decode;

/* A decoded frame; payload points into the caller's buffer. */
typedef struct sb_smc_frame {
    uint8_t cmd;
    uint16_t seq;
    uint16_t len;
    const uint8_t *payload;
} sb_smc_frame;

/* CRC-32C (reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF). crc_update continues
 * a running value that starts at 0xFFFFFFFF; sb_smc_crc32c is the finished CRC of one buffer. */
uint32_t sb_smc_crc32c_update(uint32_t crc, const uint8_t *p, size_t n);
uint32_t sb_smc_crc32c(const uint8_t *p, size_t n);

/* Writes a frame into buf (capacity cap). Returns its length, or 0 when len exceeds the maximum,
 * payload is NULL with len > 0, or cap is too small. */
size_t sb_smc_frame_encode(uint8_t *buf, size_t cap, uint8_t cmd, uint16_t seq, const uint8_t *payload, size_t len);

/* Decodes the frame at the start of buf[0..n). With exact, the frame must fill buf exactly
 * (a request transaction); without, bytes after it are allowed (a response read with padding).
 * *consumed (may be NULL) receives the frame's length on success. Never reads past buf[n-1]. */
sb_smc_decode sb_smc_frame_decode(const uint8_t *buf, size_t n, bool exact, sb_smc_frame *out, size_t *consumed);

/* Little-endian field access for payload (de)serialisation. */
static inline void sb_smc_put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void sb_smc_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint16_t sb_smc_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t sb_smc_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* True when sequence a is newer than b in 16-bit serial-number arithmetic (RFC 1982). */
static inline bool sb_smc_seq_newer(uint16_t a, uint16_t b) {
    uint16_t d = (uint16_t)(a - b);
    return d != 0 && d < 0x8000u;
}

#endif
