/*
 * mm_test_util.h - shared helpers of the CPU kernel tests: random weights
 * of every supported type (realistic ones from the reference quantizers,
 * and arbitrary bytes that exercise every bit pattern), and the reference
 * matmul the kernels are compared with.
 */
#ifndef SB_MM_TEST_UTIL_H
#define SB_MM_TEST_UTIL_H

#include "cpu_matmul.h"
#include "mm_kernels.h"
#include "quant_ref.h"
#include "sb_alloc.h"
#include "sb_half.h"
#include "sb_rng.h"
#include "sb_tensor_type.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static inline size_t mt_row_bytes(uint32_t type, int64_t cols) {
    uint64_t b = 0;
    sb_type_row_size(type, (uint64_t)cols, &b);
    return (size_t)b;
}

static inline void mt_fill_normal(sb_rng *rng, float *x, int64_t n, float scale) {
    for (int64_t i = 0; i < n; i++)
        x[i] = sb_rng_normal(rng) * scale;
}

/* A small positive-or-negative fp16 scale. */
static inline uint16_t mt_rand_scale(sb_rng *rng, bool allow_negative) {
    float s = 0.0005f + 0.02f * sb_rng_uniformf(rng);
    if (allow_negative && (sb_rng_next(rng) & 1))
        s = -s;
    return sb_f32_to_fp16(s);
}

/* Weight bytes of `type`, rows x cols. mode 0: quantized normals (what real
 * files hold); mode 1: random bytes with sane scales (every quant pattern,
 * Q8_0 -128, Q6_K scale -128, 6-bit scales up to 63). Caller frees. */
static inline uint8_t *mt_make_weight(sb_rng *rng, uint32_t type, int64_t rows, int64_t cols, int mode) {
    const size_t rb = mt_row_bytes(type, cols);
    uint8_t *w = sb_malloc(rb * (size_t)rows);
    float *tmp = sb_malloc((size_t)cols * sizeof(float));
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = w + (size_t)r * rb;
        if (type == SB_TYPE_F32 || mode == 0) {
            mt_fill_normal(rng, tmp, cols, 1.0f);
            sb_cpu_quantize_row(type, tmp, row, cols, NULL);
            continue;
        }
        for (size_t i = 0; i < rb; i++)
            row[i] = (uint8_t)sb_rng_next(rng);
        switch (type) {
        case SB_TYPE_F16:
        case SB_TYPE_BF16:
            mt_fill_normal(rng, tmp, cols, 1.0f);
            sb_cpu_quantize_row(type, tmp, row, cols, NULL);
            break;
        case SB_TYPE_Q8_0:
            for (int64_t b = 0; b < cols / 32; b++)
                ((sb_block_q8_0 *)row)[b].d = mt_rand_scale(rng, true);
            break;
        case SB_TYPE_Q4_0:
            for (int64_t b = 0; b < cols / 32; b++)
                ((sb_block_q4_0 *)row)[b].d = mt_rand_scale(rng, true);
            break;
        case SB_TYPE_Q5_0:
            for (int64_t b = 0; b < cols / 32; b++)
                ((sb_block_q5_0 *)row)[b].d = mt_rand_scale(rng, true);
            break;
        case SB_TYPE_Q5_1:
            for (int64_t b = 0; b < cols / 32; b++) {
                ((sb_block_q5_1 *)row)[b].d = mt_rand_scale(rng, true);
                ((sb_block_q5_1 *)row)[b].m = mt_rand_scale(rng, true);
            }
            break;
        case SB_TYPE_Q4_1:
            for (int64_t b = 0; b < cols / 32; b++) {
                ((sb_block_q4_1 *)row)[b].d = mt_rand_scale(rng, true);
                ((sb_block_q4_1 *)row)[b].m = mt_rand_scale(rng, true);
            }
            break;
        case SB_TYPE_Q4_K:
            for (int64_t b = 0; b < cols / 256; b++) {
                ((sb_block_q4_K *)row)[b].d = mt_rand_scale(rng, false);
                ((sb_block_q4_K *)row)[b].dmin = mt_rand_scale(rng, false);
            }
            break;
        case SB_TYPE_Q5_K:
            for (int64_t b = 0; b < cols / 256; b++) {
                ((sb_block_q5_K *)row)[b].d = mt_rand_scale(rng, false);
                ((sb_block_q5_K *)row)[b].dmin = mt_rand_scale(rng, false);
            }
            break;
        case SB_TYPE_Q6_K:
            for (int64_t b = 0; b < cols / 256; b++)
                ((sb_block_q6_K *)row)[b].d = mt_rand_scale(rng, true);
            break;
        default:
            break;
        }
    }
    sb_free(tmp);
    return w;
}

/* Reference y[t][r] = dot(row r, x_t) with the reference activation
 * rounding; mag[t][r] = sum |w| |x| (for tolerances). */
static inline void mt_ref_matmul(uint32_t type, const uint8_t *w, int64_t rows, int64_t cols, const float *x, int64_t n,
                                 float *y, double *mag) {
    const size_t rb = mt_row_bytes(type, cols);
    float *act = sb_malloc(sb_act_row_bytes(type, cols) + (size_t)cols * sizeof(float) + 64);
    float *wd = sb_malloc((size_t)cols * sizeof(float));
    float *xd = sb_malloc((size_t)cols * sizeof(float));
    for (int64_t t = 0; t < n; t++) {
        const float *xt = x + t * cols;
        switch (sb_act_kind_of_type(type)) {
        case SB_ACT_Q8_0:
            sb_ref_act_q8_0(xt, (sb_act_q8_0 *)act, cols, 0);
            break;
        case SB_ACT_Q8_K:
            sb_ref_act_q8_K(xt, (sb_act_q8_K *)act, cols, type);
            break;
        case SB_ACT_F16:
            sb_ref_act_f16(xt, act, cols);
            break;
        case SB_ACT_BF16:
            sb_ref_act_bf16(xt, (uint16_t *)act, cols);
            break;
        default:
            memcpy(act, xt, (size_t)cols * sizeof(float));
            break;
        }
        for (int64_t r = 0; r < rows; r++) {
            const void *row = w + (size_t)r * rb;
            float v = 0.0f;
            switch (type) {
            case SB_TYPE_F32:
                v = sb_ref_dot_f32(row, act, cols);
                break;
            case SB_TYPE_F16:
                v = sb_ref_dot_f16(row, act, cols);
                break;
            case SB_TYPE_BF16:
                v = sb_ref_dot_bf16(row, (const uint16_t *)act, cols);
                break;
            case SB_TYPE_Q8_0:
                v = sb_ref_dot_q8_0(row, (const sb_act_q8_0 *)act, cols);
                break;
            case SB_TYPE_Q4_0:
                v = sb_ref_dot_q4_0(row, (const sb_act_q8_0 *)act, cols);
                break;
            case SB_TYPE_Q5_0:
                v = sb_ref_dot_q5_0(row, (const sb_act_q8_0 *)act, cols);
                break;
            case SB_TYPE_Q5_1:
                v = sb_ref_dot_q5_1(row, (const sb_act_q8_0 *)act, cols);
                break;
            case SB_TYPE_Q4_1:
                v = sb_ref_dot_q4_1(row, (const sb_act_q8_0 *)act, cols);
                break;
            case SB_TYPE_Q4_K:
                v = sb_ref_dot_q4_K(row, (const sb_act_q8_K *)act, cols);
                break;
            case SB_TYPE_Q5_K:
                v = sb_ref_dot_q5_K(row, (const sb_act_q8_K *)act, cols);
                break;
            case SB_TYPE_Q6_K:
                v = sb_ref_dot_q6_K(row, (const sb_act_q8_K *)act, cols);
                break;
            default:
                break;
            }
            y[t * rows + r] = v;
            if (mag) {
                sb_cpu_dequantize_row(type, row, wd, cols);
                double m = 0.0;
                for (int64_t c = 0; c < cols; c++)
                    m += fabs((double)wd[c] * (double)xt[c]);
                mag[t * rows + r] = m;
            }
        }
    }
    sb_free(act);
    sb_free(wd);
    sb_free(xd);
}

#endif
