/*
 * smc_test_link.c - the SPI status link end to end on the simulated board: every command, and
 * corrupted, truncated, over-long, replayed, retransmitted and unknown frames, all rejected (or, for
 * a retransmission, answered without executing twice) and counted.
 */
#include "sb_test.h"
#include "smc_test_util.h"

#include <string.h>

#define MS 1000u

static uint8_t g_resp[SB_SMC_FRAME_MAX];
static sb_smc_frame g_f;

/* Sends raw bytes as one transaction, then read-polls; returns 1 with g_f set, 0 if nothing came. */
static int raw_exchange(const uint8_t *tx, size_t n) {
    static const uint8_t zeros[SB_SMC_FRAME_MAX];
    sim_spi_transfer(tx, NULL, n);
    for (int i = 0; i < 10; i++) {
        sim_run_us(1 * MS);
        sim_spi_transfer(zeros, g_resp, SB_SMC_FRAME_MAX);
        if (g_resp[0] == 0)
            continue;
        return sb_smc_frame_decode(g_resp, SB_SMC_FRAME_MAX, false, &g_f, NULL) == SB_SMC_DEC_OK;
    }
    return 0;
}

static int nak_reason(void) {
    sb_smc_nak n;
    if (g_f.cmd != SB_SMC_RSP_NAK || !sb_smc_nak_decode(g_f.payload, g_f.len, &n))
        return -1;
    return n.reason;
}

static size_t frame(uint8_t *buf, uint8_t cmd, uint16_t seq, const uint8_t *p, size_t n) {
    return sb_smc_frame_encode(buf, SB_SMC_FRAME_MAX + 8, cmd, seq, p, n);
}

static uint32_t counter(int which) {
    sb_smc_telemetry t;
    memset(&t, 0, sizeof t);
    if (sim_host_telemetry(&t) != 0)
        return 0xFFFFFFFFu;
    return t.link[which];
}

static void test_all_commands(void) {
    sim_config c;
    sim_config_default(&c);
    c.gpu_load = 0.3;
    tu_boot(&c, 2500 * MS);
    uint8_t r[SB_SMC_PAYLOAD_MAX];
    size_t n = 0;
    SB_CHECK(sim_host_request(SB_SMC_CMD_VERSION, NULL, 0, r, sizeof r, &n) == 0);
    sb_smc_version v;
    SB_CHECK(sb_smc_version_decode(r, n, &v) && v.proto == SB_SMC_PROTO_VERSION && v.major == 1);
    SB_CHECK(strcmp(v.build, "sim") == 0);
    SB_CHECK(tu_power_on(1000 * MS));
    sim_run_us(5000 * MS);
    sb_smc_status st;
    SB_CHECK(sim_host_status(&st) == 0 && st.pwr_state == SB_SMC_PWR_RUNNING && st.fault.code == 0);
    SB_CHECK(st.uptime_ms > 7000 && st.profile == SB_SMC_PROFILE_NORMAL);
    sb_smc_telemetry t;
    SB_CHECK(sim_host_telemetry(&t) == 0);
    SB_CHECK(t.rail_mv[0] > 11800 && t.rail_mv[0] < 12200 && t.rail_status[0] == SB_SMC_RAIL_ST_OK);
    SB_CHECK(t.rail_mv[1] > 3200 && t.rail_mv[1] < 3400 && t.rail_status[1] == SB_SMC_RAIL_ST_OK);
    SB_CHECK(t.rail_mv[2] > 780 && t.rail_mv[2] < 820 && t.rail_status[2] == SB_SMC_RAIL_ST_OK);
    for (int i = 0; i < SB_SMC_NUM_TEMPS; i++)
        SB_CHECKF(t.temp_status[i] == SB_SMC_TEMP_ST_OK && t.temp_centi[i] > 2000 && t.temp_centi[i] < 9000,
                  "temperature %d: %d cC status %d", i, t.temp_centi[i], t.temp_status[i]);
    SB_CHECK(t.gpu_power_dw > 1000 && t.gpu_power_dw < 2000); /* 155 W at 30% */
    for (int i = 0; i < SB_SMC_NUM_FANS; i++)
        SB_CHECK(t.fan_duty_permille[i] >= 200 && t.fan_rpm[i] > 500 && t.fan_status[i] == SB_SMC_FAN_ST_OK);
    SB_CHECK(sim_host_request(SB_SMC_CMD_FAULT_LOG, NULL, 0, r, sizeof r, &n) == 0);
    sb_smc_fault_log fl;
    SB_CHECK(sb_smc_fault_log_decode(r, n, &fl) && fl.count == 0);
    uint8_t res;
    SB_CHECK(sim_host_fan_profile(SB_SMC_PROFILE_QUIET, &res) == 0 && res == 0);
    SB_CHECK(sim_host_status(&st) == 0 && st.profile == SB_SMC_PROFILE_QUIET);
    SB_CHECK(sim_host_clear_fault(&res) == 0 && res == 0);
    SB_CHECK(sim_host_power(false, &res) == 0 && res == 0);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_OFF, 500 * MS));
    uint8_t bad = 3;
    SB_CHECK(sim_host_request(SB_SMC_CMD_POWER, &bad, 1, r, sizeof r, &n) == 0 && r[0] == SB_SMC_RES_BAD_ARG);
    /* A fault shows up in the log with its rail and step. */
    sim_rail_set_fault(SIM_RAIL_3V3, SIM_RAIL_NO_START);
    SB_CHECK(sim_host_power(true, &res) == 0);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_FAULT, 1000 * MS));
    SB_CHECK(sim_host_request(SB_SMC_CMD_FAULT_LOG, NULL, 0, r, sizeof r, &n) == 0);
    SB_CHECK(sb_smc_fault_log_decode(r, n, &fl) && fl.count == 1 && fl.total == 1);
    SB_CHECK(fl.rec[0].code == SB_SMC_FAULT_AUX_TIMEOUT && fl.rec[0].source == SB_SMC_RAIL_3V3 &&
             fl.rec[0].step == SB_SMC_PWR_AUX_RAMP);
}

static void test_rejections_counted(void) {
    sim_config c;
    sim_config_default(&c);
    c.host_agent = false;
    tu_boot(&c, 2500 * MS);
    uint8_t buf[SB_SMC_FRAME_MAX + 16];
    uint16_t seq = 100;
    size_t n = frame(buf, SB_SMC_CMD_STATUS, seq, NULL, 0);
    SB_CHECK(raw_exchange(buf, n) == 1 && g_f.cmd == (SB_SMC_CMD_STATUS | SB_SMC_RSP_FLAG) && g_f.seq == seq);

    /* Corrupted: one bit flipped anywhere in the frame. */
    for (size_t bit = 0; bit < n * 8; bit += 7) {
        n = frame(buf, SB_SMC_CMD_STATUS, ++seq, NULL, 0);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        SB_CHECK(raw_exchange(buf, n) == 1 && g_f.cmd == SB_SMC_RSP_NAK);
    }
    /* Truncated at every length. */
    n = frame(buf, SB_SMC_CMD_TELEMETRY, ++seq, NULL, 0);
    for (size_t k = 1; k < n; k++) {
        SB_CHECK(raw_exchange(buf, k) == 1);
        SB_CHECKF(nak_reason() == SB_SMC_NAK_TRUNCATED, "truncated to %zu: reason %d", k, nak_reason());
    }
    /* Trailing bytes, bad magic, bad version, over-long length field. */
    n = frame(buf, SB_SMC_CMD_STATUS, ++seq, NULL, 0);
    buf[n] = 0x55;
    SB_CHECK(raw_exchange(buf, n + 1) == 1 && nak_reason() == SB_SMC_NAK_LENGTH);
    n = frame(buf, SB_SMC_CMD_STATUS, ++seq, NULL, 0);
    buf[0] = 0x54;
    SB_CHECK(raw_exchange(buf, n) == 1 && nak_reason() == SB_SMC_NAK_MAGIC);
    n = frame(buf, SB_SMC_CMD_STATUS, ++seq, NULL, 0);
    buf[2] = 9;
    SB_CHECK(raw_exchange(buf, n) == 1 && nak_reason() == SB_SMC_NAK_VERSION);
    n = frame(buf, SB_SMC_CMD_STATUS, ++seq, NULL, 0);
    sb_smc_put_u16(buf + 6, 300);
    SB_CHECK(raw_exchange(buf, n) == 1 && nak_reason() == SB_SMC_NAK_LENGTH);
    /* Too many bytes for the receive buffer. */
    uint8_t big[400];
    memset(big, 0xA5, sizeof big);
    SB_CHECK(raw_exchange(big, sizeof big) == 1 && nak_reason() == SB_SMC_NAK_OVERFLOW);
    /* Unknown command; wrong payload length. */
    n = frame(buf, 0x42, ++seq, NULL, 0);
    SB_CHECK(raw_exchange(buf, n) == 1 && nak_reason() == SB_SMC_NAK_UNKNOWN);
    uint8_t two[2] = {1, 1};
    n = frame(buf, SB_SMC_CMD_POWER, ++seq, two, 2);
    SB_CHECK(raw_exchange(buf, n) == 1 && nak_reason() == SB_SMC_NAK_BAD_PAYLOAD);

    /* Replay: a frame older than the last accepted one. */
    uint16_t old = seq;
    n = frame(buf, SB_SMC_CMD_STATUS, seq = (uint16_t)(seq + 5), NULL, 0);
    SB_CHECK(raw_exchange(buf, n) == 1 && g_f.cmd == (SB_SMC_CMD_STATUS | SB_SMC_RSP_FLAG));
    n = frame(buf, SB_SMC_CMD_STATUS, old, NULL, 0);
    SB_CHECK(raw_exchange(buf, n) == 1 && nak_reason() == SB_SMC_NAK_REPLAY);
    sb_smc_nak nk;
    SB_CHECK(sb_smc_nak_decode(g_f.payload, g_f.len, &nk) && nk.last_seq == seq);

    /* Retransmission of the last request: answered again, executed once. A POWER on followed by a
     * POWER off, then the "on" frame replayed: the GPU must stay off. */
    uint8_t on = 1, off = 0;
    uint8_t on_frame[64];
    size_t on_n = frame(on_frame, SB_SMC_CMD_POWER, ++seq, &on, 1);
    SB_CHECK(raw_exchange(on_frame, on_n) == 1 && g_f.payload[0] == SB_SMC_RES_OK);
    SB_CHECK(raw_exchange(on_frame, on_n) == 1 && g_f.cmd == (SB_SMC_CMD_POWER | SB_SMC_RSP_FLAG));
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_RUNNING, 1000 * MS));
    n = frame(buf, SB_SMC_CMD_POWER, ++seq, &off, 1);
    SB_CHECK(raw_exchange(buf, n) == 1 && g_f.payload[0] == SB_SMC_RES_OK);
    SB_CHECK(tu_run_until_state(SB_SMC_PWR_OFF, 1000 * MS));
    SB_CHECK(raw_exchange(on_frame, on_n) == 1 && nak_reason() == SB_SMC_NAK_REPLAY);
    sim_run_us(500 * MS);
    SB_CHECK_EQ_INT(tu_app()->pwr.state, SB_SMC_PWR_OFF);

    /* Sequence numbers wrap: walk up to 0xFFFF in steps under half the space, then 0x0000 is newer. */
    while (seq != 0xFFFF) {
        seq = (uint16_t)(0xFFFFu - seq < 0x4000u ? 0xFFFFu : seq + 0x4000u);
        n = frame(buf, SB_SMC_CMD_STATUS, seq, NULL, 0);
        SB_CHECK(raw_exchange(buf, n) == 1 && g_f.cmd == (SB_SMC_CMD_STATUS | SB_SMC_RSP_FLAG));
    }
    n = frame(buf, SB_SMC_CMD_STATUS, 0x0000, NULL, 0);
    SB_CHECK(raw_exchange(buf, n) == 1 && g_f.cmd == (SB_SMC_CMD_STATUS | SB_SMC_RSP_FLAG));
    /* SYNC is always answered and reports the last sequence number. */
    n = frame(buf, SB_SMC_CMD_SYNC, 0x1234, NULL, 0);
    sb_smc_sync sy;
    SB_CHECK(raw_exchange(buf, n) == 1 && sb_smc_sync_decode(g_f.payload, g_f.len, &sy) && sy.last_seq == 0);

    /* The counters saw all of it. */
    const smc_app *a = tu_app();
    SB_CHECK(a->link.counters[SB_SMC_LINK_CRC] >= 1);
    SB_CHECK(a->link.counters[SB_SMC_LINK_TRUNCATED] >= 1);
    SB_CHECK(a->link.counters[SB_SMC_LINK_MAGIC] >= 1);
    SB_CHECK(a->link.counters[SB_SMC_LINK_VERSION] >= 1);
    SB_CHECK(a->link.counters[SB_SMC_LINK_LENGTH] >= 2);
    SB_CHECK_EQ_INT(a->link.counters[SB_SMC_LINK_OVERFLOW], 1);
    SB_CHECK_EQ_INT(a->link.counters[SB_SMC_LINK_UNKNOWN], 1);
    SB_CHECK_EQ_INT(a->link.counters[SB_SMC_LINK_BAD_PAYLOAD], 1);
    SB_CHECK_EQ_INT(a->link.counters[SB_SMC_LINK_REPLAY], 3);
    uint32_t crc = counter(SB_SMC_LINK_CRC);
    SB_CHECK(crc == a->link.counters[SB_SMC_LINK_CRC]);
    /* Read polls (all-zero transactions) are not counted as anything. */
    uint32_t okc = a->link.counters[SB_SMC_LINK_OK];
    static const uint8_t zeros[64];
    uint8_t miso[64];
    for (int i = 0; i < 10; i++)
        sim_spi_transfer(zeros, miso, sizeof zeros);
    sim_run_us(5 * MS);
    SB_CHECK_EQ_INT(a->link.counters[SB_SMC_LINK_OK], okc);
}

int main(void) {
    SB_RUN(test_all_commands);
    SB_RUN(test_rejections_counted);
    return sb_test_finish();
}
