/*
 * smc_test_proto.c - the frame format: CRC-32C known answer, payload round trips, truncation and
 * length checks, and error detection on a maximum-length frame:
 *   - every 1-bit and every 2-bit error, each through the real parser;
 *   - every 3-bit and every 4-bit error, exhaustively, through the CRC's syndromes. CRC checking is
 *     affine in the frame bits (for a fixed length), so an error pattern passes the CRC exactly when
 *     the XOR of its bits' syndromes is zero; errors touching the length field change the frame's
 *     length and are caught by the exact-length check instead (verified through the parser for all
 *     1- and 2-bit cases and 200,000 random 3-bit ones, along with the syndrome model itself).
 */
#include "sb_test.h"
#include "sb_smc_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t g_r = 0x5eed;
static uint32_t rnd32(void) {
    g_r ^= g_r << 13;
    g_r ^= g_r >> 7;
    g_r ^= g_r << 17;
    return (uint32_t)(g_r >> 11);
}

static void test_crc_known_answer(void) {
    SB_CHECK(sb_smc_crc32c((const uint8_t *)"123456789", 9) == 0xE3069283u);
    SB_CHECK(sb_smc_crc32c(NULL, 0) == 0);
    uint32_t c = sb_smc_crc32c_update(0xFFFFFFFFu, (const uint8_t *)"1234", 4);
    c = sb_smc_crc32c_update(c, (const uint8_t *)"56789", 5) ^ 0xFFFFFFFFu;
    SB_CHECK(c == 0xE3069283u);
}

/* Field by field: the structs have padding that memcmp would compare too. */
static bool fault_eq(const sb_smc_fault_rec *a, const sb_smc_fault_rec *b) {
    return a->code == b->code && a->source == b->source && a->step == b->step && a->time_ms == b->time_ms &&
           a->value == b->value;
}

static void test_round_trips(void) {
    uint8_t buf[SB_SMC_PAYLOAD_MAX];
    sb_smc_status s = {0, SB_SMC_PWR_RUNNING, 1, 1, 0xA5A5A5A5u, {6, 2, 7, 123456, -5}, 99999, 7, 0xBEEF}, s2;
    size_t n = sb_smc_status_encode(&s, buf, sizeof buf);
    SB_CHECK_EQ_INT(n, SB_SMC_STATUS_LEN);
    SB_CHECK(sb_smc_status_decode(buf, n, &s2) && fault_eq(&s.fault, &s2.fault) && s2.flags == s.flags &&
             s2.pwr_state == s.pwr_state && s2.uptime_ms == s.uptime_ms && s2.last_seq == s.last_seq &&
             s2.fault_total == s.fault_total && s2.reset_reason == s.reset_reason);
    SB_CHECK(!sb_smc_status_decode(buf, n - 1, &s2) && !sb_smc_status_decode(buf, n + 1, &s2));
    SB_CHECK_EQ_INT(sb_smc_status_encode(&s, buf, n - 1), 0);

    sb_smc_telemetry t, t2;
    memset(&t, 0, sizeof t);
    for (size_t i = 0; i < sizeof t; i++)
        ((uint8_t *)&t)[i] = (uint8_t)rnd32();
    n = sb_smc_telemetry_encode(&t, buf, sizeof buf);
    SB_CHECK_EQ_INT(n, SB_SMC_TELEMETRY_LEN);
    SB_CHECK(sb_smc_telemetry_decode(buf, n, &t2));
    SB_CHECK(t2.flags == t.flags && t2.temp_centi[3] == t.temp_centi[3] && t2.link[9] == t.link[9] &&
             t2.fan_rpm[2] == t.fan_rpm[2] && t2.uptime_ms == t.uptime_ms);

    sb_smc_fault_log l, l2;
    memset(&l, 0, sizeof l);
    l.count = SB_SMC_FAULT_LOG_MAX;
    l.total = 300;
    for (int i = 0; i < SB_SMC_FAULT_LOG_MAX; i++)
        l.rec[i] = (sb_smc_fault_rec){(uint8_t)(i % 15 + 1), 2, 7, (uint32_t)i * 1000u, -i};
    n = sb_smc_fault_log_encode(&l, buf, sizeof buf);
    SB_CHECK(n == 4 + SB_SMC_FAULT_LOG_MAX * SB_SMC_FAULT_REC_LEN && n <= SB_SMC_PAYLOAD_MAX);
    bool same = sb_smc_fault_log_decode(buf, n, &l2) && l2.count == l.count && l2.total == l.total;
    for (int i = 0; same && i < SB_SMC_FAULT_LOG_MAX; i++)
        same = fault_eq(&l.rec[i], &l2.rec[i]);
    SB_CHECK(same);
    buf[1] = SB_SMC_FAULT_LOG_MAX + 1; /* count beyond the array */
    SB_CHECK(!sb_smc_fault_log_decode(buf, n, &l2));
    buf[1] = 3; /* count disagreeing with the length */
    SB_CHECK(!sb_smc_fault_log_decode(buf, n, &l2));

    sb_smc_version v = {0, 1, 2, 3, 1, "rp2040"}, v2;
    n = sb_smc_version_encode(&v, buf, sizeof buf);
    SB_CHECK(n == SB_SMC_VERSION_LEN && sb_smc_version_decode(buf, n, &v2) && strcmp(v2.build, "rp2040") == 0);
    memset(buf + 5, 'x', 24); /* no terminator on the wire: still a C string after decoding */
    SB_CHECK(sb_smc_version_decode(buf, n, &v2) && strlen(v2.build) == 23);

    sb_smc_host_update h = {-1234, 4000, 3}, h2;
    n = sb_smc_host_update_encode(&h, buf, sizeof buf);
    SB_CHECK(sb_smc_host_update_decode(buf, n, &h2) && h2.die_centi == -1234 && h2.power_dw == 4000);

    /* Names never return NULL. */
    SB_CHECK(strcmp(sb_smc_state_name(SB_SMC_PWR_RUNNING), "RUNNING") == 0);
    SB_CHECK(strcmp(sb_smc_state_name(200), "?") == 0);
    SB_CHECK(strcmp(sb_smc_fault_name(SB_SMC_FAULT_CORE_PG_LOST), "CORE_PG_LOST") == 0);
    SB_CHECK(strcmp(sb_smc_fault_source_name(SB_SMC_FAULT_THERMAL_EPO, SB_SMC_T_VRM), "vrm") == 0);
    SB_CHECK(strcmp(sb_smc_nak_name(0), "?") == 0);
}

static void test_frame_checks(void) {
    uint8_t buf[SB_SMC_FRAME_MAX + 4], p[SB_SMC_PAYLOAD_MAX + 1];
    memset(p, 0x3C, sizeof p);
    SB_CHECK_EQ_INT(sb_smc_frame_encode(buf, sizeof buf, 1, 1, p, SB_SMC_PAYLOAD_MAX + 1), 0);
    SB_CHECK_EQ_INT(sb_smc_frame_encode(buf, 10, 1, 1, p, 10), 0);
    SB_CHECK_EQ_INT(sb_smc_frame_encode(buf, sizeof buf, 1, 1, NULL, 3), 0);
    size_t n = sb_smc_frame_encode(buf, sizeof buf, 7, 0x1234, p, 20);
    SB_CHECK_EQ_INT(n, 32);
    sb_smc_frame f;
    size_t used = 0;
    SB_CHECK(sb_smc_frame_decode(buf, n, true, &f, &used) == SB_SMC_DEC_OK && used == n);
    SB_CHECK(f.cmd == 7 && f.seq == 0x1234 && f.len == 20 && f.payload == buf + 8);
    for (size_t k = 0; k < n; k++)
        SB_CHECK(sb_smc_frame_decode(buf, k, true, &f, NULL) == SB_SMC_DEC_TRUNCATED);
    buf[n] = 0;
    SB_CHECK(sb_smc_frame_decode(buf, n + 1, true, &f, NULL) == SB_SMC_DEC_LENGTH);
    SB_CHECK(sb_smc_frame_decode(buf, n + 1, false, &f, &used) == SB_SMC_DEC_OK && used == n);
    sb_smc_put_u16(buf + 6, SB_SMC_PAYLOAD_MAX + 1);
    SB_CHECK(sb_smc_frame_decode(buf, sizeof buf, false, &f, NULL) == SB_SMC_DEC_LENGTH);
    sb_smc_put_u16(buf + 6, 0xFFFF);
    SB_CHECK(sb_smc_frame_decode(buf, sizeof buf, false, &f, NULL) == SB_SMC_DEC_LENGTH);
    SB_CHECK(sb_smc_frame_decode(NULL, 100, false, &f, NULL) == SB_SMC_DEC_TRUNCATED);
    SB_CHECK(sb_smc_seq_newer(1, 0) && sb_smc_seq_newer(0, 0xFFFF) && !sb_smc_seq_newer(5, 5) &&
             !sb_smc_seq_newer(4, 5) && !sb_smc_seq_newer(0x8005, 5));
}

/* --- error detection on a maximum-length frame --- */

#define NBYTES SB_SMC_FRAME_MAX
#define NBITS (NBYTES * 8)
static uint8_t g_frame[NBYTES];
static uint32_t g_syn[NBITS];

static void flip(uint8_t *b, unsigned bit) { b[bit >> 3] ^= (uint8_t)(1u << (bit & 7)); }
static bool in_length_field(unsigned bit) { return bit >= 48 && bit < 64; }

/* check(F) = CRC over header+payload XOR the stored CRC; zero for a valid frame, affine in F. */
static uint32_t check_value(const uint8_t *b) {
    return sb_smc_crc32c(b, NBYTES - 4) ^ sb_smc_get_u32(b + NBYTES - 4);
}

static bool parser_accepts(const uint8_t *b) {
    sb_smc_frame f;
    return sb_smc_frame_decode(b, NBYTES, true, &f, NULL) == SB_SMC_DEC_OK;
}

/* Open-addressing set of the single-bit syndromes: syndrome -> bit index. */
#define SET_SIZE 8192
static uint32_t g_key[SET_SIZE];
static int g_val[SET_SIZE];

static void set_put(uint32_t k, int v) {
    unsigned h = (k * 2654435761u) & (SET_SIZE - 1);
    while (g_val[h] >= 0)
        h = (h + 1) & (SET_SIZE - 1);
    g_key[h] = k;
    g_val[h] = v;
}
static int set_get(uint32_t k) {
    unsigned h = (k * 2654435761u) & (SET_SIZE - 1);
    while (g_val[h] >= 0) {
        if (g_key[h] == k)
            return g_val[h];
        h = (h + 1) & (SET_SIZE - 1);
    }
    return -1;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : (x > y);
}

static void test_bit_errors_max_frame(void) {
    uint8_t payload[SB_SMC_PAYLOAD_MAX];
    for (unsigned i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)rnd32();
    SB_CHECK_EQ_INT(sb_smc_frame_encode(g_frame, sizeof g_frame, SB_SMC_CMD_HOST_UPDATE, 0x4242, payload,
                                        SB_SMC_PAYLOAD_MAX),
                    NBYTES);
    SB_CHECK(parser_accepts(g_frame));
    uint8_t b[NBYTES];

    /* Every 1-bit error, through the parser; the syndromes on the way. */
    int missed1 = 0;
    for (unsigned i = 0; i < NBITS; i++) {
        memcpy(b, g_frame, NBYTES);
        flip(b, i);
        missed1 += parser_accepts(b);
        g_syn[i] = check_value(b);
    }
    SB_CHECK_EQ_INT(missed1, 0);

    /* Every 2-bit error, through the parser. */
    long missed2 = 0, n2 = 0;
    memcpy(b, g_frame, NBYTES);
    for (unsigned i = 0; i < NBITS; i++) {
        flip(b, i);
        for (unsigned j = i + 1; j < NBITS; j++) {
            flip(b, j);
            missed2 += parser_accepts(b);
            n2++;
            flip(b, j);
        }
        flip(b, i);
    }
    SB_CHECK_EQ_INT(missed2, 0);
    SB_CHECK_EQ_INT(n2, (long)NBITS * (NBITS - 1) / 2);

    /* The syndrome model agrees with the parser on random multi-bit errors away from the length. */
    int disagree = 0;
    for (int t = 0; t < 20000; t++) {
        memcpy(b, g_frame, NBYTES);
        uint32_t s = 0;
        int k = 1 + (int)(rnd32() % 6);
        for (int m = 0; m < k; m++) {
            unsigned bit;
            do
                bit = rnd32() % NBITS;
            while (in_length_field(bit));
            flip(b, bit);
            s ^= g_syn[bit];
        }
        disagree += parser_accepts(b) != (s == 0);
    }
    SB_CHECK_EQ_INT(disagree, 0);

    /* Every 3-bit error: undetected iff s_i ^ s_j == s_k for some k outside {i, j}. */
    for (int h = 0; h < SET_SIZE; h++)
        g_val[h] = -1;
    int dup1 = 0;
    for (unsigned i = 0; i < NBITS; i++) {
        if (in_length_field(i))
            continue;
        if (set_get(g_syn[i]) >= 0 || g_syn[i] == 0)
            dup1++;
        set_put(g_syn[i], (int)i);
    }
    SB_CHECK_EQ_INT(dup1, 0);
    long missed3 = 0;
    for (unsigned i = 0; i < NBITS; i++) {
        if (in_length_field(i))
            continue;
        for (unsigned j = i + 1; j < NBITS; j++) {
            if (in_length_field(j))
                continue;
            int k = set_get(g_syn[i] ^ g_syn[j]);
            if (k >= 0 && (unsigned)k != i && (unsigned)k != j)
                missed3++;
        }
    }
    SB_CHECK_EQ_INT(missed3, 0);
    /* 3-bit errors through the parser too, including the length field. */
    long missed3p = 0;
    for (int t = 0; t < 200000; t++) {
        memcpy(b, g_frame, NBYTES);
        unsigned x = rnd32() % NBITS, y, z;
        do
            y = rnd32() % NBITS;
        while (y == x);
        do
            z = rnd32() % NBITS;
        while (z == x || z == y);
        flip(b, x);
        flip(b, y);
        flip(b, z);
        missed3p += parser_accepts(b);
    }
    SB_CHECK_EQ_INT(missed3p, 0);

    /* Every 4-bit error: undetected iff two disjoint pairs have equal pair syndromes. */
    static uint64_t pairs[(size_t)NBITS * (NBITS - 1) / 2];
    size_t npairs = 0;
    for (unsigned i = 0; i < NBITS; i++) {
        if (in_length_field(i))
            continue;
        for (unsigned j = i + 1; j < NBITS; j++)
            if (!in_length_field(j))
                pairs[npairs++] = ((uint64_t)(g_syn[i] ^ g_syn[j]) << 32) | (i << 16) | j;
    }
    qsort(pairs, npairs, sizeof *pairs, cmp_u64);
    long missed4 = 0;
    for (size_t a = 0; a + 1 < npairs; a++)
        for (size_t c = a + 1; c < npairs && (pairs[c] >> 32) == (pairs[a] >> 32); c++)
            missed4++; /* equal pair syndromes: (distinct singles make shared-index pairs impossible) */
    SB_CHECK_EQ_INT(missed4, 0);
    fprintf(stderr, "  %d-byte frame: %u 1-bit, %ld 2-bit (parser), all 3- and 4-bit (syndromes) detected\n",
            NBYTES, NBITS, n2);
}

int main(void) {
    SB_RUN(test_crc_known_answer);
    SB_RUN(test_round_trips);
    SB_RUN(test_frame_checks);
    SB_RUN(test_bit_errors_max_frame);
    return sb_test_finish();
}
