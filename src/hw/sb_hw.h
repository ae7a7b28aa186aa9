/*
 * sb_hw.h - the host side of the system-management controller (SMC) link.
 *
 * A transport moves raw full-duplex SPI transactions: Linux spidev (ioctl SPI_IOC_MESSAGE, mode 3,
 * 8-bit words) on the appliance, or a Unix socket to the simulator (firmware/smc/hal/sim, smc_sim).
 * A client speaks the frame protocol of firmware/smc/proto/sb_smc_proto.h over it: request, read
 * polls until the response is ready, sequence numbers (SYNC on first use and after a replay NAK),
 * retries on corruption or timeouts (a retransmission reuses the sequence number, so the SMC answers
 * it from its cache instead of executing it twice).
 */
#ifndef SB_HW_H
#define SB_HW_H

#include "sb_error.h"
#include "sb_smc_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_hw_transport sb_hw_transport;

/* Operations of a transport; xfer clocks n bytes out of tx while filling rx (same length). lock and
 * unlock (may be NULL) bracket one request/response exchange against other host processes. */
typedef struct sb_hw_transport_ops {
    sb_status (*xfer)(void *ctx, const uint8_t *tx, uint8_t *rx, size_t n, sb_error *err);
    sb_status (*lock)(void *ctx, sb_error *err);
    void (*unlock)(void *ctx);
    void (*close)(void *ctx);
} sb_hw_transport_ops;

/* Opens a spidev device (e.g. "/dev/spidev0.0") at speed_hz (0 = 1 MHz). Caller frees. */
sb_status sb_hw_transport_spidev(const char *dev, uint32_t speed_hz, sb_hw_transport **out, sb_error *err);
/* Connects to a simulator's Unix socket. Caller frees. */
sb_status sb_hw_transport_socket(const char *path, sb_hw_transport **out, sb_error *err);
/* Wraps caller-provided operations (tests); close(ctx) is called by sb_hw_transport_free. */
sb_status sb_hw_transport_custom(const sb_hw_transport_ops *ops, void *ctx, sb_hw_transport **out, sb_error *err);
void sb_hw_transport_free(sb_hw_transport *t);
sb_status sb_hw_transport_xfer(sb_hw_transport *t, const uint8_t *tx, uint8_t *rx, size_t n, sb_error *err);

typedef struct sb_hw_opts {
    unsigned retries;     /* further attempts after the first (default 3) */
    unsigned poll_us;     /* wait before each read poll (default 1000) */
    unsigned max_polls;   /* read polls per attempt before giving up on it (default 20) */
} sb_hw_opts;

typedef struct sb_hw_stats {
    unsigned requests;   /* completed requests */
    unsigned attempts;   /* request transmissions, retries included */
    unsigned timeouts;   /* attempts without a response */
    unsigned corrupt;    /* responses that failed to decode or did not match */
    unsigned naks;       /* NAKs received */
    unsigned resyncs;    /* SYNC exchanges */
} sb_hw_stats;

typedef struct sb_hw_client sb_hw_client;

/* Creates a client that owns transport t (freed with the client, also on failure). opts may be
 * NULL for the defaults. */
sb_status sb_hw_client_create(sb_hw_transport *t, const sb_hw_opts *opts, sb_hw_client **out, sb_error *err);
void sb_hw_client_free(sb_hw_client *c);
const sb_hw_stats *sb_hw_client_stats(const sb_hw_client *c);

/* One request: the response payload (without frame) goes into resp (capacity cap, at least
 * SB_SMC_PAYLOAD_MAX is always enough) and its length into *resp_len. Errors: SB_ERR_IO (no valid
 * response after all retries, or the transport failed), SB_ERR_UNSUPPORTED (the SMC does not know
 * the command), SB_ERR_INVALID_ARG (it rejected the payload). */
sb_status sb_hw_request(sb_hw_client *c, uint8_t cmd, const uint8_t *payload, size_t len, uint8_t *resp, size_t cap,
                        size_t *resp_len, sb_error *err);

/* Typed commands. Those with a result byte return it in *result (SB_SMC_RES_*). */
sb_status sb_hw_get_status(sb_hw_client *c, sb_smc_status *out, sb_error *err);
sb_status sb_hw_get_telemetry(sb_hw_client *c, sb_smc_telemetry *out, sb_error *err);
sb_status sb_hw_get_fault_log(sb_hw_client *c, sb_smc_fault_log *out, sb_error *err);
sb_status sb_hw_get_version(sb_hw_client *c, sb_smc_version *out, sb_error *err);
sb_status sb_hw_power(sb_hw_client *c, bool on, uint8_t *result, sb_error *err);
sb_status sb_hw_clear_fault(sb_hw_client *c, uint8_t *result, sb_error *err);
sb_status sb_hw_fan_profile(sb_hw_client *c, uint8_t profile, uint8_t *result, sb_error *err);
sb_status sb_hw_host_update(sb_hw_client *c, const sb_smc_host_update *u, uint32_t *flags, sb_error *err);

#endif
