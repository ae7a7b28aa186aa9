/* Unit tests for src/core: allocation hook, buffers, UTF-8, maps, halves, RNG, files. */
#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_checked.h"
#include "sb_file.h"
#include "sb_half.h"
#include "sb_map.h"
#include "sb_rng.h"
#include "sb_test.h"
#include "sb_utf8.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f) {
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}
__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }
#endif

static void test_alloc_fail_injection(void) {
    sb_alloc_fail_nth(2);
    void *a = sb_malloc(10);
    void *b = sb_malloc(10);
    void *c = sb_malloc(10);
    SB_CHECK(a != NULL);
    SB_CHECK(b == NULL);
    SB_CHECK(c != NULL);
    SB_CHECK(sb_alloc_injected_fired());
    sb_free(a);
    sb_free(c);
    sb_alloc_fail_nth(0);
    SB_CHECK(sb_calloc(SIZE_MAX / 2, 4) == NULL);
    SB_CHECK(sb_reallocarray(NULL, SIZE_MAX / 2, 4) == NULL);
    void *al = sb_aligned_alloc(64, 100);
    SB_CHECK(al != NULL && ((uintptr_t)al % 64) == 0);
    sb_aligned_free(al);
    SB_CHECK(sb_aligned_alloc(3, 10) == NULL);
}

static void test_checked(void) {
    size_t r;
    SB_CHECK(!sb_add_size(SIZE_MAX, 1, &r));
    SB_CHECK(sb_mul_size(1000, 1000, &r) && r == 1000000);
    SB_CHECK(!sb_mul_size(SIZE_MAX / 2 + 1, 2, &r));
    uint64_t u;
    SB_CHECK(sb_align_up_u64(33, 32, &u) && u == 64);
    SB_CHECK(sb_align_up_u64(64, 32, &u) && u == 64);
    SB_CHECK(!sb_align_up_u64(UINT64_MAX - 3, 32, &u));
    SB_CHECK(sb_range_ok(0, 10, 10));
    SB_CHECK(!sb_range_ok(5, 6, 10));
    SB_CHECK(!sb_range_ok(11, 0, 10));
    SB_CHECK(!sb_range_ok(1, UINT64_MAX, 10));
}

static void test_buf(void) {
    sb_buf b;
    sb_buf_init(&b);
    SB_CHECK(sb_buf_puts(&b, "hello") == SB_OK);
    SB_CHECK(sb_buf_printf(&b, " %d %s", 42, "x") == SB_OK);
    SB_CHECK_STR(b.data, "hello 42 x");
    for (int i = 0; i < 1000; i++)
        sb_buf_putc(&b, 'a');
    SB_CHECK_EQ_INT(b.len, 1010);
    size_t len;
    char *s = sb_buf_detach(&b, &len);
    SB_CHECK(len == 1010 && s[1010] == '\0');
    sb_free(s);
    sb_buf never;
    sb_buf_init(&never);
    char *e = sb_buf_detach(&never, &len);
    SB_CHECK(e && len == 0 && e[0] == '\0');
    sb_free(e);
    sb_buf lim;
    sb_buf_init(&lim);
    lim.limit = 4;
    SB_CHECK(sb_buf_puts(&lim, "abcd") == SB_OK);
    SB_CHECK(sb_buf_puts(&lim, "e") == SB_ERR_LIMIT);
    sb_buf_free(&lim);
    /* an append that fails on allocation leaves the buffer intact */
    sb_buf c;
    sb_buf_init(&c);
    sb_buf_puts(&c, "keep");
    sb_alloc_fail_nth(1);
    char big[200];
    memset(big, 'z', sizeof big);
    SB_CHECK(sb_buf_append(&c, big, sizeof big) == SB_ERR_NOMEM);
    SB_CHECK_STR(c.data, "keep");
    sb_alloc_fail_nth(0);
    sb_buf_free(&c);
}

static void test_utf8(void) {
    uint32_t cp;
    bool ok;
    SB_CHECK(sb_utf8_decode("\xC3\xA9", 2, &cp, &ok) == 2 && cp == 0xE9 && ok);
    SB_CHECK(sb_utf8_decode("\xF0\x9F\x98\x80", 4, &cp, &ok) == 4 && cp == 0x1F600 && ok);
    SB_CHECK(sb_utf8_decode("\xF0\x9F\x98", 3, &cp, &ok) == 1 && !ok);
    SB_CHECK(sb_utf8_decode("\xC0\x80", 2, &cp, &ok) == 1 && !ok);         /* overlong */
    SB_CHECK(sb_utf8_decode("\xED\xA0\x80", 3, &cp, &ok) == 1 && !ok);     /* surrogate */
    SB_CHECK(sb_utf8_decode("\xF4\x90\x80\x80", 4, &cp, &ok) == 1 && !ok); /* > U+10FFFF */
    SB_CHECK(sb_utf8_decode("\xE0\x80\x80", 3, &cp, &ok) == 1 && !ok);     /* overlong 3-byte */
    char out[4];
    SB_CHECK(sb_utf8_encode(0x10FFFF, out) == 4);
    SB_CHECK(sb_utf8_encode(0xD800, out) == 0);
    SB_CHECK(sb_utf8_encode(0x110000, out) == 0);
    for (uint32_t c = 0; c < 0x110000; c += 7) {
        size_t n = sb_utf8_encode(c, out);
        if (n == 0)
            continue;
        uint32_t back;
        if (sb_utf8_decode(out, n, &back, &ok) != n || back != c || !ok) {
            SB_CHECKF(0, "round trip of U+%04X", c);
            break;
        }
    }
    SB_CHECK(sb_utf8_valid("abc\xE2\x82\xAC", 6));
    SB_CHECK(!sb_utf8_valid("abc\xE2\x82", 5));
    SB_CHECK_EQ_INT(sb_utf8_complete_prefix("ab\xE2\x82", 4), 2);
    SB_CHECK_EQ_INT(sb_utf8_complete_prefix("ab\xE2\x82\xAC", 5), 5);
    SB_CHECK_EQ_INT(sb_utf8_complete_prefix("ab\xF0", 3), 2);
    SB_CHECK_EQ_INT(sb_utf8_complete_prefix("ab\x80", 3), 3);
    SB_CHECK_EQ_INT(sb_utf8_complete_prefix("", 0), 0);
}

static void test_maps(void) {
    sb_strmap m;
    sb_strmap_init(&m);
    char keys[2000][8];
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        bool existed = true;
        SB_CHECK(sb_strmap_put(&m, keys[i], strlen(keys[i]), (uint64_t)i, &existed) == SB_OK && !existed);
    }
    bool existed = false;
    sb_strmap_put(&m, "k5", 2, 99, &existed);
    SB_CHECK(existed);
    uint64_t v = 0;
    SB_CHECK(sb_strmap_get(&m, "k1999", 5, &v) && v == 1999);
    SB_CHECK(sb_strmap_get(&m, "k5", 2, &v) && v == 5);
    SB_CHECK(!sb_strmap_get(&m, "k2000", 5, &v));
    SB_CHECK(sb_strmap_put(&m, "", 0, 7, NULL) == SB_OK);
    SB_CHECK(sb_strmap_get(&m, "", 0, &v) && v == 7);
    sb_strmap_free(&m);

    sb_u64map u;
    sb_u64map_init(&u);
    for (uint64_t i = 0; i < 5000; i++)
        sb_u64map_put(&u, i * 0x100000001ULL, i, NULL);
    SB_CHECK(sb_u64map_get(&u, 4999 * 0x100000001ULL, &v) && v == 4999);
    SB_CHECK(!sb_u64map_get(&u, 3, &v));
    SB_CHECK(sb_u64map_get(&u, 0, &v) && v == 0);
    sb_u64map_free(&u);
}

static void test_half(void) {
    SB_CHECK(sb_fp16_to_f32(0x3C00) == 1.0f);
    SB_CHECK(sb_f32_to_fp16(1.0f) == 0x3C00);
    SB_CHECK(sb_f32_to_fp16(65504.0f) == 0x7BFF);
    SB_CHECK(sb_f32_to_fp16(70000.0f) == 0x7C00);
    SB_CHECK(sb_f32_to_fp16(-0.0f) == 0x8000);
    SB_CHECK(sb_bf16_to_f32(sb_f32_to_bf16(1.5f)) == 1.5f);
    SB_CHECK(sb_f32_to_bf16(1.00390625f) == 0x3F80); /* tie rounds to even */
    /* every half converts to float and back exactly */
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = sb_fp16_to_f32((uint16_t)h);
        if (isnan(f))
            continue;
        if (sb_f32_to_fp16(f) != h)
            bad++;
    }
    SB_CHECK_EQ_INT(bad, 0);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("f16c")) {
        /* compare with the hardware conversion over a spread of float bit patterns */
        int mism = 0;
        for (uint64_t u = 0; u <= 0xFFFFFFFFull; u += 997) {
            float f = sb_f32_from_bits((uint32_t)u);
            if (isnan(f))
                continue;
            if (sb_f32_to_fp16(f) != hw_f32_to_f16(f))
                mism++;
        }
        SB_CHECK_EQ_INT(mism, 0);
        int mism2 = 0;
        for (uint32_t h = 0; h < 65536; h++) {
            float a = sb_fp16_to_f32((uint16_t)h), b = hw_f16_to_f32((uint16_t)h);
            if (!(isnan(a) && isnan(b)) && sb_f32_bits(a) != sb_f32_bits(b))
                mism2++;
        }
        SB_CHECK_EQ_INT(mism2, 0);
    }
#endif
}

static void test_rng(void) {
    sb_rng a, b;
    sb_rng_seed(&a, 42);
    sb_rng_seed(&b, 42);
    for (int i = 0; i < 100; i++)
        SB_CHECK(sb_rng_next(&a) == sb_rng_next(&b));
    double sum = 0;
    for (int i = 0; i < 10000; i++) {
        double u = sb_rng_uniform(&a);
        SB_CHECK(u >= 0 && u < 1);
        sum += u;
    }
    SB_CHECK(fabs(sum / 10000 - 0.5) < 0.02);
    for (int i = 0; i < 1000; i++)
        SB_CHECK(sb_rng_below(&a, 7) < 7);
}

static void test_files(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/data.bin", sb_test_tmpdir());
    sb_error err;
    SB_CHECK(sb_file_write_atomic(path, "hello", 5, &err) == SB_OK);
    sb_mapped_file *f;
    SB_CHECK(sb_file_map(path, &f, &err) == SB_OK);
    SB_CHECK(sb_mapped_file_size(f) == 5 && memcmp(sb_mapped_file_data(f), "hello", 5) == 0);
    sb_mapped_file_free(f);
    char *data;
    size_t len;
    SB_CHECK(sb_file_read_all(path, 100, &data, &len, &err) == SB_OK && len == 5 && strcmp(data, "hello") == 0);
    sb_free(data);
    SB_CHECK(sb_file_read_all(path, 3, &data, &len, &err) == SB_ERR_LIMIT);
    SB_CHECK(sb_file_map("/nonexistent/file", &f, &err) == SB_ERR_IO);
    SB_CHECK(strstr(err.msg, "/nonexistent/file") != NULL);
    snprintf(path, sizeof path, "%s/empty.bin", sb_test_tmpdir());
    SB_CHECK(sb_file_write_atomic(path, "", 0, &err) == SB_OK);
    SB_CHECK(sb_file_map(path, &f, &err) == SB_OK && sb_mapped_file_size(f) == 0);
    sb_mapped_file_free(f);
    SB_CHECK(sb_file_map(sb_test_tmpdir(), &f, &err) == SB_ERR_IO); /* a directory */
}

static void test_errors(void) {
    sb_error err;
    SB_CHECK(sb_error_set(&err, SB_ERR_FORMAT, "bad %d", 7) == SB_ERR_FORMAT);
    sb_error_prefix(&err, "file.gguf: ");
    SB_CHECK_STR(err.msg, "file.gguf: bad 7");
    char longp[600];
    memset(longp, 'p', sizeof longp - 1);
    longp[sizeof longp - 1] = '\0';
    sb_error_prefix(&err, "%s", longp);
    SB_CHECK(strlen(err.msg) == SB_ERROR_MSG_MAX - 1);
    SB_CHECK(sb_error_set(NULL, SB_ERR_IO, "dropped") == SB_ERR_IO);
    SB_CHECK_STR(sb_status_name(SB_ERR_NOMEM), "out_of_memory");
}

int main(void) {
    SB_RUN(test_alloc_fail_injection);
    SB_RUN(test_checked);
    SB_RUN(test_buf);
    SB_RUN(test_utf8);
    SB_RUN(test_maps);
    SB_RUN(test_half);
    SB_RUN(test_rng);
    SB_RUN(test_files);
    SB_RUN(test_errors);
    return sb_test_finish();
}
