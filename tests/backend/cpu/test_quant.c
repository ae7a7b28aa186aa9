/*
 * test_quant.c - the scalar reference formats: block sizes agree with the
 * GGUF type traits, quantize_row writes hand-computed blocks for simple
 * inputs, hand-built Q4_1/Q5_0/Q5_1 blocks decode to their values,
 * dequantize(quantize(x)) stays within each type's error bound, the
 * activation quantizers round like ggml, and the reference dot products
 * equal the float64 dot of the dequantized operands.
 */
#include "mm_test_util.h"
#include "sb_test.h"

#include <math.h>
#include <stdio.h>

static void test_block_sizes(void) {
    const struct {
        uint32_t type;
        size_t size, block;
    } t[] = {
        {SB_TYPE_Q4_0, sizeof(sb_block_q4_0), SB_QK4_0},
        {SB_TYPE_Q8_0, sizeof(sb_block_q8_0), SB_QK8_0},
        {SB_TYPE_Q4_1, sizeof(sb_block_q4_1), SB_QK4_0},
        {SB_TYPE_Q5_0, sizeof(sb_block_q5_0), SB_QK4_0},
        {SB_TYPE_Q5_1, sizeof(sb_block_q5_1), SB_QK4_0},
        {SB_TYPE_Q4_K, sizeof(sb_block_q4_K), SB_QK_K},
        {SB_TYPE_Q5_K, sizeof(sb_block_q5_K), SB_QK_K},
        {SB_TYPE_Q6_K, sizeof(sb_block_q6_K), SB_QK_K},
        {SB_TYPE_Q8_K, sizeof(sb_block_q8_K), SB_QK_K},
        {SB_TYPE_F16, sizeof(sb_f16), 1},
        {SB_TYPE_BF16, sizeof(sb_bf16), 1},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const sb_type_traits *tr = sb_type_traits_of(t[i].type);
        SB_CHECKF(tr && tr->type_size == t[i].size && tr->block_size == t[i].block, "%s block %zu bytes / %zu",
                  sb_type_name(t[i].type), t[i].size, t[i].block);
    }
    SB_CHECK(offsetof(sb_block_q4_K, qs) == 16 && offsetof(sb_block_q5_K, qs) == 48);
    SB_CHECK(offsetof(sb_block_q6_K, d) == 208 && offsetof(sb_block_q8_K, bsums) == 260);
}

/* Q8_0 with d = 1: q = roundf(x) (halves away from zero), fp16 1.0 = 0x3C00. */
static void test_quant_q8_0_hand(void) {
    float x[32] = {127.0f, -127.0f, 63.5f, -63.5f, 0.5f, -0.5f, 2.5f, 1.49f, 0.0f, 100.0f};
    sb_block_q8_0 b;
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q8_0, x, &b, 32, NULL) == SB_OK);
    const int8_t want[10] = {127, -127, 64, -64, 1, -1, 3, 1, 0, 100};
    SB_CHECK(b.d == 0x3C00);
    SB_CHECK(memcmp(b.qs, want, 10) == 0);
    for (int j = 10; j < 32; j++)
        SB_CHECK(b.qs[j] == 0);
}

/* Q4_0: the largest magnitude maps to -8. With max = -8, d = 1; with max = +8,
 * d = -1. q = min(15, trunc(x / d + 8.5)); byte j = q[j] | q[j + 16] << 4. */
static void test_quant_q4_0_hand(void) {
    float x[32] = {0};
    x[0] = -8.0f;
    x[1] = 7.0f;
    x[2] = 7.4f;
    x[3] = -0.6f;
    x[16] = 3.0f;
    x[17] = -3.5f; /* -3.5 + 8.5 = 5 exactly */
    sb_block_q4_0 b;
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q4_0, x, &b, 32, NULL) == SB_OK);
    SB_CHECK(b.d == 0x3C00);
    SB_CHECK(b.qs[0] == (0 | 11 << 4));
    SB_CHECK(b.qs[1] == (15 | 5 << 4));
    SB_CHECK(b.qs[2] == (15 | 8 << 4));
    SB_CHECK(b.qs[3] == (7 | 8 << 4));
    SB_CHECK(b.qs[4] == 0x88);
    float y[32] = {0};
    y[5] = 8.0f;
    y[6] = -7.0f;
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q4_0, y, &b, 32, NULL) == SB_OK);
    SB_CHECK(b.d == 0xBC00); /* -1.0 */
    SB_CHECK(b.qs[5] == (0 | 8 << 4) && b.qs[6] == (15 | 8 << 4) && b.qs[0] == 0x88);
}

/* All-zero input: Q4_0 keeps ggml's d = -0.0 (max / -8) and q = 8; the others
 * are all-zero blocks. */
static void test_quant_zero_hand(void) {
    float x[256] = {0};
    uint8_t b[512];
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q4_0, x, b, 32, NULL) == SB_OK);
    SB_CHECK(b[0] == 0x00 && b[1] == 0x80);
    for (int i = 2; i < 18; i++)
        SB_CHECK(b[i] == 0x88);
    const uint32_t zt[] = {SB_TYPE_Q8_0, SB_TYPE_Q4_K, SB_TYPE_Q5_K, SB_TYPE_Q6_K, SB_TYPE_F16, SB_TYPE_BF16};
    for (size_t i = 0; i < sizeof zt / sizeof zt[0]; i++) {
        const int64_t n = zt[i] == SB_TYPE_Q8_0 ? 32 : 256;
        memset(b, 0xAB, sizeof b);
        SB_CHECK(sb_cpu_quantize_row(zt[i], x, b, n, NULL) == SB_OK);
        const size_t bytes = mt_row_bytes(zt[i], n);
        int nz = 0;
        for (size_t j = 0; j < bytes; j++)
            nz += b[j] != 0;
        SB_CHECKF(nz == 0, "%s: zero input gives %d non-zero bytes", sb_type_name(zt[i]), nz);
    }
}

/* Degenerate inputs give x86's bytes, with no undefined float-to-int
 * conversion (the sanitizer builds trap on one): a NaN element quantizes
 * to 0 as cvttss2si's INT32_MIN narrowed to a byte does; a denormal block
 * maximum, whose inverse overflows, gives a zero block. And the validator
 * finds what ggml_validate_row_data rejects. */
static void test_quant_degenerate(void) {
    SB_CHECK(sb_trunc_i32(2.9f) == 2 && sb_trunc_i32(-2.9f) == -2);
    SB_CHECK(sb_trunc_i32(NAN) == INT32_MIN && sb_trunc_i32(INFINITY) == INT32_MIN);
    SB_CHECK(sb_trunc_i32(-INFINITY) == INT32_MIN && sb_trunc_i32(3e9f) == INT32_MIN);
    SB_CHECK(sb_trunc_i32(2147483520.0f) == 2147483520 && sb_trunc_i32(-2147483648.0f) == INT32_MIN);

    float x[32] = {127.0f, -64.0f, 1.0f, NAN};
    sb_block_q8_0 b8;
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q8_0, x, &b8, 32, NULL) == SB_OK);
    SB_CHECK(b8.d == 0x3C00 && b8.qs[0] == 127 && b8.qs[1] == -64 && b8.qs[2] == 1 && b8.qs[3] == 0);
    SB_CHECK(sb_cpu_row_first_invalid(SB_TYPE_Q8_0, &b8, 32) == -1);

    float den[32] = {1e-39f}; /* d = max / -8 is a nonzero denormal: 1 / d = -inf */
    sb_block_q4_0 b4;
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q4_0, den, &b4, 32, NULL) == SB_OK);
    SB_CHECK(b4.d == 0x8000);
    for (int j = 0; j < 16; j++)
        SB_CHECK(b4.qs[j] == 0);
    float y[32];
    sb_cpu_dequantize_row(SB_TYPE_Q4_0, &b4, y, 32);
    for (int j = 0; j < 32; j++)
        SB_CHECK(y[j] == 0.0f);

    float inf[32] = {INFINITY};
    sb_block_q5_1 b51;
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q5_1, inf, &b51, 32, NULL) == SB_OK);
    SB_CHECK(sb_cpu_row_first_invalid(SB_TYPE_Q5_1, &b51, 32) == 0);
    sb_block_q8_0 two[2];
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q8_0, (float[64]){[40] = 1e7f}, two, 64, NULL) == SB_OK);
    SB_CHECK(sb_cpu_row_first_invalid(SB_TYPE_Q8_0, two, 64) == 32); /* d = 1e7 / 127 overflows F16 */

    float f[8] = {1, 2, 3, 4, 5, 6, 7, -INFINITY};
    SB_CHECK(sb_cpu_row_first_invalid(SB_TYPE_F32, f, 8) == 7);
    const uint16_t h[4] = {0x3C00, 0x0001, 0xFC00, 0x7E00}, bh[4] = {0x3F80, 0x7FC0, 0, 0};
    SB_CHECK(sb_cpu_row_first_invalid(SB_TYPE_F16, h, 4) == 2);
    SB_CHECK(sb_cpu_row_first_invalid(SB_TYPE_BF16, bh, 4) == 1);
    sb_block_q4_K k[2];
    memset(k, 0, sizeof k);
    SB_CHECK(sb_cpu_row_first_invalid(SB_TYPE_Q4_K, k, 512) == -1);
    k[1].dmin = 0x7E00;
    SB_CHECK(sb_cpu_row_first_invalid(SB_TYPE_Q4_K, k, 512) == 256);
}

/* Q4_1, Q5_0 and Q5_1 blocks built by hand decode to the values their
 * layout says: element j's low four bits in byte j % 16 (low nibble for
 * j < 16), its fifth bit as bit j of the little-endian qh word. */
static void test_legacy_blocks_hand(void) {
    float y[32];
    sb_block_q5_0 b5 = {.d = 0x3C00, .qh = {0, 0, 0xFF, 0xFF}}; /* d = 1, q_j = j */
    for (int j = 0; j < 16; j++)
        b5.qs[j] = (uint8_t)(j | j << 4);
    sb_cpu_dequantize_row(SB_TYPE_Q5_0, &b5, y, 32);
    for (int j = 0; j < 32; j++)
        SB_CHECKF(y[j] == (float)(j - 16), "Q5_0 element %d: %g", j, y[j]);
    /* each fifth bit alone: only its element moves from -16 to 0 */
    for (int bit = 0; bit < 32; bit++) {
        sb_block_q5_0 one = {.d = 0x3C00};
        one.qh[bit / 8] = (uint8_t)(1u << (bit % 8));
        sb_cpu_dequantize_row(SB_TYPE_Q5_0, &one, y, 32);
        for (int j = 0; j < 32; j++)
            SB_CHECKF(y[j] == (j == bit ? 0.0f : -16.0f), "qh bit %d, element %d: %g", bit, j, y[j]);
    }
    sb_block_q5_1 b51 = {.d = 0x3800, .m = 0xC200, .qh = {0, 0, 0xFF, 0xFF}}; /* d = 0.5, m = -3 */
    memcpy(b51.qs, b5.qs, sizeof b51.qs);
    sb_cpu_dequantize_row(SB_TYPE_Q5_1, &b51, y, 32);
    for (int j = 0; j < 32; j++)
        SB_CHECKF(y[j] == 0.5f * (float)j - 3.0f, "Q5_1 element %d: %g", j, y[j]);
    sb_block_q4_1 b41 = {.d = 0x4000, .m = 0x3C00}; /* d = 2, m = 1 */
    for (int j = 0; j < 16; j++)
        b41.qs[j] = (uint8_t)(j | (15 - j) << 4);
    sb_cpu_dequantize_row(SB_TYPE_Q4_1, &b41, y, 32);
    for (int j = 0; j < 16; j++)
        SB_CHECKF(y[j] == (float)(2 * j + 1) && y[j + 16] == (float)(2 * (15 - j) + 1), "Q4_1 element %d: %g %g", j,
                  y[j], y[j + 16]);
}

/* A Q6_K block whose every sub-block is the same ramp: the scale search
 * finds the exact grid, so the block dequantizes to the input. */
static void test_quant_q6_K_exact_grid(void) {
    float x[256];
    for (int i = 0; i < 256; i++)
        x[i] = (float)((i % 16) * 4 - 32) * 0.25f; /* -8 .. 7 in steps of 1 */
    sb_block_q6_K b;
    float y[256];
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q6_K, x, &b, 256, NULL) == SB_OK);
    sb_cpu_dequantize_row(SB_TYPE_Q6_K, &b, y, 256);
    float err = 0;
    for (int i = 0; i < 256; i++)
        err = fmaxf(err, fabsf(x[i] - y[i]));
    SB_CHECKF(err < 1e-3f, "max error %g", err);
}

/* dequantize(quantize(x)) error per type, on normal data. */
static void test_roundtrip_error(void) {
    sb_rng rng;
    sb_rng_seed(&rng, 5);
    const int64_t n = 4096;
    float *x = sb_malloc(n * sizeof(float)), *y = sb_malloc(n * sizeof(float));
    uint8_t *q = sb_malloc(n * 4);
    mt_fill_normal(&rng, x, n, 1.0f);
    const struct {
        uint32_t type;
        double max_rmse; /* relative to the data's rms (1.0) */
    } t[] = {{SB_TYPE_F16, 5e-4},  {SB_TYPE_BF16, 4e-3}, {SB_TYPE_Q8_0, 8e-3}, {SB_TYPE_Q4_0, 0.12},
             {SB_TYPE_Q4_K, 0.10}, {SB_TYPE_Q5_K, 0.05}, {SB_TYPE_Q6_K, 0.025}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        SB_CHECK(sb_cpu_quantize_row(t[i].type, x, q, n, NULL) == SB_OK);
        sb_cpu_dequantize_row(t[i].type, q, y, n);
        double se = 0.0;
        for (int64_t j = 0; j < n; j++)
            se += ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
        const double rmse = sqrt(se / (double)n);
        SB_CHECKF(rmse < t[i].max_rmse, "%s rmse %.4g (bound %.4g)", sb_type_name(t[i].type), rmse, t[i].max_rmse);
        fprintf(stderr, "  %-5s rmse %.5f\n", sb_type_name(t[i].type), rmse);
    }
    /* Q8_0 and Q4_0: every element within ~half a step of its block scale */
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q8_0, x, q, n, NULL) == SB_OK);
    sb_cpu_dequantize_row(SB_TYPE_Q8_0, q, y, n);
    int bad = 0;
    for (int64_t j = 0; j < n; j++)
        bad += fabsf(x[j] - y[j]) > 0.6f * fabsf(sb_fp16_to_f32(((sb_block_q8_0 *)q)[j / 32].d));
    SB_CHECKF(bad == 0, "Q8_0: %d elements beyond 0.6 step", bad);
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q4_0, x, q, n, NULL) == SB_OK);
    sb_cpu_dequantize_row(SB_TYPE_Q4_0, q, y, n);
    bad = 0;
    for (int64_t j = 0; j < n; j++)
        bad += fabsf(x[j] - y[j]) > 1.05f * fabsf(sb_fp16_to_f32(((sb_block_q4_0 *)q)[j / 32].d));
    SB_CHECKF(bad == 0, "Q4_0: %d elements beyond 1.05 step (the largest magnitude maps to -8, +8 clamps to 7)", bad);
    sb_free(x);
    sb_free(y);
    sb_free(q);
}

/* Activation rounding: Q8_0 scales by 127 / amax and rounds halves to even;
 * Q8_K follows ggml's reference (largest magnitude -> -127). */
static void test_act_rounding(void) {
    float x[256] = {0};
    x[0] = 127.0f; /* id = 1 */
    x[1] = 2.5f;
    x[2] = -2.5f;
    x[3] = 3.5f;
    x[4] = 0.5f;
    sb_act_q8_0 a;
    sb_ref_act_q8_0(x, &a, 32, 8);
    SB_CHECK(a.d == sb_fp16_to_f32(sb_f32_to_fp16(1.0f)));
    SB_CHECK(a.qs[0] == 127 && a.qs[1] == 2 && a.qs[2] == -2 && a.qs[3] == 4 && a.qs[4] == 0);
    SB_CHECK(a.corr == -8 * (127 + 2 - 2 + 4));
    float z[32] = {0};
    sb_ref_act_q8_0(z, &a, 32, 128);
    SB_CHECK(a.d == 0.0f && a.corr == 0);

    sb_rng rng;
    sb_rng_seed(&rng, 11);
    for (int i = 0; i < 256; i++)
        x[i] = sb_rng_normal(&rng);
    x[77] = -9.0f; /* the largest magnitude is negative */
    sb_act_q8_K k;
    sb_ref_act_q8_K(x, &k, 256, SB_TYPE_Q6_K);
    SB_CHECK(k.qs[77] == -127 && k.d == 1.0f / (-127.f / -9.0f));
    int bad = 0;
    for (int j = 0; j < 16; j++) {
        int s = 0;
        for (int l = 0; l < 16; l++)
            s += k.qs[16 * j + l];
        bad += k.bsums[j] != s || k.corr[j] != -32 * s;
    }
    for (int j = 0; j < 8; j++)
        bad += k.s32[j] != k.bsums[2 * j] + k.bsums[2 * j + 1];
    SB_CHECK(bad == 0);
    sb_ref_act_q8_K(x, &k, 256, SB_TYPE_Q4_K);
    SB_CHECK(k.corr[0] == 0 && k.corr[15] == 0);
}

/* Reference dots equal the float64 dot of the dequantized operands (up to
 * F32 rounding of the block sums): this pins the integer formulas. */
static void test_ref_dot_vs_dequant(void) {
    sb_rng rng;
    sb_rng_seed(&rng, 21);
    const uint32_t types[] = {SB_TYPE_Q8_0, SB_TYPE_Q4_0, SB_TYPE_Q4_K, SB_TYPE_Q5_K,
                              SB_TYPE_Q6_K, SB_TYPE_Q5_0, SB_TYPE_Q5_1, SB_TYPE_Q4_1};
    const int64_t cols = 1024;
    float *x = sb_malloc(cols * sizeof(float)), *wd = sb_malloc(cols * sizeof(float)),
          *xd = sb_malloc(cols * sizeof(float));
    void *act = sb_malloc(sb_act_row_bytes(SB_TYPE_Q8_0, cols) + sb_act_row_bytes(SB_TYPE_Q4_K, cols));
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        for (int mode = 0; mode < 2; mode++) {
            uint8_t *w = mt_make_weight(&rng, types[i], 1, cols, mode);
            mt_fill_normal(&rng, x, cols, 1.0f);
            sb_cpu_dequantize_row(types[i], w, wd, cols);
            float got;
            if (sb_act_kind_of_type(types[i]) == SB_ACT_Q8_0) {
                sb_act_q8_0 *a = act;
                sb_ref_act_q8_0(x, a, cols, 0);
                for (int64_t c = 0; c < cols; c++)
                    xd[c] = a[c / 32].d * a[c / 32].qs[c % 32];
                got = types[i] == SB_TYPE_Q8_0   ? sb_ref_dot_q8_0((void *)w, a, cols)
                      : types[i] == SB_TYPE_Q4_0 ? sb_ref_dot_q4_0((void *)w, a, cols)
                      : types[i] == SB_TYPE_Q5_0 ? sb_ref_dot_q5_0((void *)w, a, cols)
                      : types[i] == SB_TYPE_Q5_1 ? sb_ref_dot_q5_1((void *)w, a, cols)
                                                 : sb_ref_dot_q4_1((void *)w, a, cols);
            } else {
                sb_act_q8_K *a = act;
                sb_ref_act_q8_K(x, a, cols, types[i]);
                for (int64_t c = 0; c < cols; c++)
                    xd[c] = a[c / 256].d * a[c / 256].qs[c % 256];
                got = types[i] == SB_TYPE_Q4_K   ? sb_ref_dot_q4_K((void *)w, a, cols)
                      : types[i] == SB_TYPE_Q5_K ? sb_ref_dot_q5_K((void *)w, a, cols)
                                                 : sb_ref_dot_q6_K((void *)w, a, cols);
            }
            double want = 0.0, mag = 0.0;
            for (int64_t c = 0; c < cols; c++) {
                want += (double)wd[c] * xd[c];
                mag += fabs((double)wd[c] * xd[c]);
            }
            SB_CHECKF(fabs(got - want) <= 2e-6 * mag, "%s mode %d: %.9g vs %.9g (mag %.3g)", sb_type_name(types[i]),
                      mode, got, want, mag);
            sb_free(w);
        }
    }
    sb_free(x);
    sb_free(wd);
    sb_free(xd);
    sb_free(act);
}

int main(void) {
    SB_RUN(test_block_sizes);
    SB_RUN(test_quant_q8_0_hand);
    SB_RUN(test_quant_q4_0_hand);
    SB_RUN(test_quant_zero_hand);
    SB_RUN(test_quant_degenerate);
    SB_RUN(test_legacy_blocks_hand);
    SB_RUN(test_quant_q6_K_exact_grid);
    SB_RUN(test_roundtrip_error);
    SB_RUN(test_act_rounding);
    SB_RUN(test_ref_dot_vs_dequant);
    return sb_test_finish();
}
