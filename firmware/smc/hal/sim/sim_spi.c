/*
 * sim_spi.c - the SPI slave HAL of the simulated board, its SPI master, and the simulated host.
 *
 * A transaction is atomic in simulated time: the master's bytes are queued for the firmware (as
 * the RP2040's DMA would have stored them) and the master receives the armed response buffer
 * followed by zeros. The simulated host speaks the protocol exactly as src/hw does: SYNC to learn
 * the sequence number, a request, then read polls until a frame comes back. Its periodic agent
 * sends HOST_UPDATE (die temperature, GPU power) once a second; it is a non-blocking state machine
 * run from the board's tick, while sim_host_request() is blocking and runs the board meanwhile.
 */
#include "sim_internal.h"

#include <math.h>
#include <string.h>

enum { AGENT_IDLE = 0, AGENT_WAIT };

void sim_spi_reset_board(void) {
    g_sim.q_head = g_sim.q_count = 0;
    g_sim.tx_buf = NULL;
    g_sim.tx_len = 0;
    g_sim.tx_tag = 0;
}

bool hal_spi_poll(smc_spi_xfer *x) {
    if (g_sim.q_count == 0)
        return false;
    g_sim.cur = g_sim.q[g_sim.q_head];
    g_sim.q_head = (g_sim.q_head + 1) % SIM_SPI_QUEUE;
    g_sim.q_count--;
    x->rx = g_sim.cur.rx;
    x->rx_len = g_sim.cur.rx_len;
    x->overflow = g_sim.cur.overflow;
    x->tx_tag = g_sim.cur.tx_tag;
    x->tx_sent = g_sim.cur.tx_sent;
    return true;
}

void hal_spi_arm(const uint8_t *buf, size_t len, uint32_t tag) {
    if (!buf || len == 0) {
        g_sim.tx_buf = NULL;
        g_sim.tx_len = 0;
        g_sim.tx_tag = 0;
        return;
    }
    g_sim.tx_buf = buf;
    g_sim.tx_len = len > SB_SMC_FRAME_MAX ? SB_SMC_FRAME_MAX : len;
    g_sim.tx_tag = tag;
}

void sim_spi_transfer(const uint8_t *mosi, uint8_t *miso, size_t len) {
    if (g_sim.in_reset) {
        if (miso)
            memset(miso, 0, len);
        return;
    }
    for (size_t i = 0; i < len; i++)
        if (miso)
            miso[i] = (g_sim.tx_buf && i < g_sim.tx_len) ? g_sim.tx_buf[i] : 0;
    if (g_sim.q_count == SIM_SPI_QUEUE)
        return; /* receive queue full: the transaction is lost, as on the chip */
    sim_spi_rec *r = &g_sim.q[(g_sim.q_head + g_sim.q_count) % SIM_SPI_QUEUE];
    size_t n = len > SIM_SPI_RX_MAX ? SIM_SPI_RX_MAX : len;
    if (n)
        memcpy(r->rx, mosi, n);
    r->rx_len = n;
    r->overflow = len > SIM_SPI_RX_MAX;
    r->tx_tag = g_sim.tx_buf ? g_sim.tx_tag : 0;
    r->tx_sent = g_sim.tx_buf ? (len < g_sim.tx_len ? len : g_sim.tx_len) : 0;
    g_sim.q_count++;
}

/* --- the simulated host --- */

static void send_request(uint8_t cmd, uint16_t seq, const uint8_t *payload, size_t len) {
    uint8_t frame[SB_SMC_FRAME_MAX];
    size_t n = sb_smc_frame_encode(frame, sizeof frame, cmd, seq, payload, len);
    if (n)
        sim_spi_transfer(frame, NULL, n);
}

/* One read poll: 1 = frame decoded into *f (in buf), 0 = not ready (no frame), -1 = corrupt. */
static int read_poll(uint8_t *buf, sb_smc_frame *f) {
    static const uint8_t zeros[SB_SMC_FRAME_MAX];
    sim_spi_transfer(zeros, buf, SB_SMC_FRAME_MAX);
    if (buf[0] == 0 && buf[1] == 0)
        return 0;
    return sb_smc_frame_decode(buf, SB_SMC_FRAME_MAX, false, f, NULL) == SB_SMC_DEC_OK ? 1 : -1;
}

static size_t build_update(uint8_t *p) {
    sb_smc_host_update u;
    memset(&u, 0, sizeof u);
    bool running = g_sim.out[SMC_OUT_PERST_N] && g_sim.out[SMC_OUT_GPU_EN];
    if (running) {
        double q = g_sim.cfg.die_quantum_cc ? (double)g_sim.cfg.die_quantum_cc : 1.0;
        double cc = floor(g_sim.T[SIM_T_DIE] * 100.0 / q + 0.5) * q;
        u.die_centi = (int16_t)cc;
        u.power_dw = (uint16_t)(g_sim.p_gpu * 10.0 + 0.5);
        u.valid = 3;
    }
    return sb_smc_host_update_encode(&u, p, SB_SMC_HOST_UPDATE_LEN);
}

void sim_host_tick(void) {
    if (!g_sim.agent_on || g_sim.host_busy)
        return;
    uint8_t buf[SB_SMC_FRAME_MAX];
    if (g_sim.agent_state == AGENT_IDLE) {
        if (g_sim.now < g_sim.agent_next)
            return;
        if (!g_sim.host_synced) {
            g_sim.agent_cmd = SB_SMC_CMD_SYNC;
            g_sim.agent_seq = 0;
            send_request(g_sim.agent_cmd, g_sim.agent_seq, NULL, 0);
        } else {
            uint8_t p[SB_SMC_HOST_UPDATE_LEN];
            size_t n = build_update(p);
            g_sim.agent_cmd = SB_SMC_CMD_HOST_UPDATE;
            g_sim.agent_seq = ++g_sim.host_seq;
            send_request(g_sim.agent_cmd, g_sim.agent_seq, p, n);
        }
        g_sim.agent_state = AGENT_WAIT;
        g_sim.agent_poll_at = g_sim.now + 1000;
        g_sim.agent_tries = 0;
        return;
    }
    if (g_sim.now < g_sim.agent_poll_at)
        return;
    sb_smc_frame f;
    int r = read_poll(buf, &f);
    if (r == 0 && ++g_sim.agent_tries < 20) {
        g_sim.agent_poll_at = g_sim.now + 1000;
        return;
    }
    g_sim.agent_state = AGENT_IDLE;
    g_sim.agent_next = g_sim.now + 1000000;
    if (r != 1)
        return;
    if (f.cmd == (SB_SMC_CMD_SYNC | SB_SMC_RSP_FLAG)) {
        sb_smc_sync s;
        if (sb_smc_sync_decode(f.payload, f.len, &s)) {
            g_sim.host_seq = s.last_seq;
            g_sim.host_synced = true;
            g_sim.agent_next = g_sim.now + 1000;
        }
    } else if (f.cmd == SB_SMC_RSP_NAK) {
        sb_smc_nak n;
        if (sb_smc_nak_decode(f.payload, f.len, &n) && n.reason == SB_SMC_NAK_REPLAY) {
            g_sim.host_synced = false;
            g_sim.agent_next = g_sim.now + 1000;
        }
    } else if (f.cmd == (SB_SMC_CMD_HOST_UPDATE | SB_SMC_RSP_FLAG) && f.seq == g_sim.agent_seq && f.len == 5) {
        g_sim.agent_flags = sb_smc_get_u32(f.payload + 1);
    }
}

void sim_host_agent(bool enable) {
    g_sim.agent_on = enable;
    if (enable && g_sim.agent_next < g_sim.now)
        g_sim.agent_next = g_sim.now;
}

uint32_t sim_host_last_flags(void) { return g_sim.agent_flags; }

void sim_host_hold(bool hold) { g_sim.host_busy = hold; }

bool sim_host_agent_idle(void) { return g_sim.agent_state == AGENT_IDLE; }

/* A blocking exchange; returns 0, -1 (no answer) or a NAK reason. */
static int exchange(uint8_t cmd, uint16_t seq, const uint8_t *payload, size_t len, uint8_t *resp, size_t cap,
                    size_t *resp_len) {
    uint8_t buf[SB_SMC_FRAME_MAX];
    send_request(cmd, seq, payload, len);
    for (int tries = 0; tries < 20; tries++) {
        sim_run_us(1000);
        sb_smc_frame f;
        int r = read_poll(buf, &f);
        if (r == 0)
            continue;
        if (r < 0)
            return -1;
        if (f.cmd == SB_SMC_RSP_NAK) {
            sb_smc_nak n;
            return sb_smc_nak_decode(f.payload, f.len, &n) ? n.reason : -1;
        }
        if (f.cmd != (cmd | SB_SMC_RSP_FLAG) || f.seq != seq || f.len > cap)
            return -1;
        memcpy(resp, f.payload, f.len);
        *resp_len = f.len;
        return 0;
    }
    return -1;
}

int sim_host_request(uint8_t cmd, const uint8_t *payload, size_t len, uint8_t *resp, size_t cap, size_t *resp_len) {
    /* Let an exchange of the periodic agent finish first: one host, one exchange at a time. */
    for (int i = 0; i < 50 && g_sim.agent_state != AGENT_IDLE; i++)
        sim_run_us(1000);
    g_sim.host_busy = true;
    int rc = -1;
    for (int attempt = 0; attempt < 3; attempt++) {
        if (!g_sim.host_synced) {
            uint8_t sp[SB_SMC_SYNC_LEN];
            size_t sn = 0;
            if (exchange(SB_SMC_CMD_SYNC, 0, NULL, 0, sp, sizeof sp, &sn) == 0) {
                sb_smc_sync s;
                if (sb_smc_sync_decode(sp, sn, &s)) {
                    g_sim.host_seq = s.last_seq;
                    g_sim.host_synced = true;
                }
            }
        }
        rc = exchange(cmd, ++g_sim.host_seq, payload, len, resp, cap, resp_len);
        if (rc == SB_SMC_NAK_REPLAY) {
            g_sim.host_synced = false;
            continue;
        }
        break;
    }
    g_sim.host_busy = false;
    return rc;
}

int sim_host_power(bool on, uint8_t *result) {
    uint8_t p = on ? 1 : 0, r[8];
    size_t n = 0;
    int rc = sim_host_request(SB_SMC_CMD_POWER, &p, 1, r, sizeof r, &n);
    if (rc == 0 && result)
        *result = n > 0 ? r[0] : 0xFF;
    return rc;
}

int sim_host_clear_fault(uint8_t *result) {
    uint8_t r[8];
    size_t n = 0;
    int rc = sim_host_request(SB_SMC_CMD_CLEAR_FAULT, NULL, 0, r, sizeof r, &n);
    if (rc == 0 && result)
        *result = n > 0 ? r[0] : 0xFF;
    return rc;
}

int sim_host_fan_profile(uint8_t profile, uint8_t *result) {
    uint8_t r[8];
    size_t n = 0;
    int rc = sim_host_request(SB_SMC_CMD_FAN_PROFILE, &profile, 1, r, sizeof r, &n);
    if (rc == 0 && result)
        *result = n > 0 ? r[0] : 0xFF;
    return rc;
}

int sim_host_status(sb_smc_status *st) {
    uint8_t r[SB_SMC_PAYLOAD_MAX];
    size_t n = 0;
    int rc = sim_host_request(SB_SMC_CMD_STATUS, NULL, 0, r, sizeof r, &n);
    if (rc == 0 && !sb_smc_status_decode(r, n, st))
        rc = -1;
    return rc;
}

int sim_host_telemetry(sb_smc_telemetry *t) {
    uint8_t r[SB_SMC_PAYLOAD_MAX];
    size_t n = 0;
    int rc = sim_host_request(SB_SMC_CMD_TELEMETRY, NULL, 0, r, sizeof r, &n);
    if (rc == 0 && !sb_smc_telemetry_decode(r, n, t))
        rc = -1;
    return rc;
}
