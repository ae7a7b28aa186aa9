/*
 * quant_ref.c - scalar reference: dequantization, the simple weight
 * quantizers (Q4_0, Q8_0, Q8_K, F16, BF16) and the activation quantizers.
 * The K-quant weight quantizers (scale search) are in quantize_k.c, the dot
 * products in dot_ref.c.
 */
#include "quant_ref.h"

#include "sb_half.h"
#include "sb_tensor_type.h"

#include <math.h>
#include <stddef.h>

/* ---- dequantization ---- */

/* Q4_0 to F32 (ggml dequantize_row_q4_0). */
void sb_ref_dequant_q4_0(const sb_block_q4_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, y += SB_QK4_0) {
        const float d = sb_fp16_to_f32(x[b].d);
        for (int j = 0; j < SB_QK4_0 / 2; j++) {
            y[j] = (float)((x[b].qs[j] & 0x0F) - 8) * d;
            y[j + SB_QK4_0 / 2] = (float)((x[b].qs[j] >> 4) - 8) * d;
        }
    }
}

/* Q8_0 to F32. */
void sb_ref_dequant_q8_0(const sb_block_q8_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK8_0; b++, y += SB_QK8_0) {
        const float d = sb_fp16_to_f32(x[b].d);
        for (int j = 0; j < SB_QK8_0; j++)
            y[j] = (float)x[b].qs[j] * d;
    }
}

/* Q4_1 to F32 (ggml dequantize_row_q4_1). */
void sb_ref_dequant_q4_1(const sb_block_q4_1 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, y += SB_QK4_0) {
        const float d = sb_fp16_to_f32(x[b].d), m = sb_fp16_to_f32(x[b].m);
        for (int j = 0; j < SB_QK4_0 / 2; j++) {
            y[j] = (float)(x[b].qs[j] & 0x0F) * d + m;
            y[j + SB_QK4_0 / 2] = (float)(x[b].qs[j] >> 4) * d + m;
        }
    }
}

/* Q5_0 to F32 (ggml dequantize_row_q5_0). */
void sb_ref_dequant_q5_0(const sb_block_q5_0 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, y += SB_QK4_0) {
        const float d = sb_fp16_to_f32(x[b].d);
        for (int j = 0; j < SB_QK4_0; j++)
            y[j] = (float)(sb_q5_quant(x[b].qs, x[b].qh, j) - 16) * d;
    }
}

/* Q5_1 to F32 (ggml dequantize_row_q5_1). */
void sb_ref_dequant_q5_1(const sb_block_q5_1 *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, y += SB_QK4_0) {
        const float d = sb_fp16_to_f32(x[b].d), m = sb_fp16_to_f32(x[b].m);
        for (int j = 0; j < SB_QK4_0; j++)
            y[j] = (float)sb_q5_quant(x[b].qs, x[b].qh, j) * d + m;
    }
}

/* Q4_K to F32: chunk by chunk, two sub-blocks (low and high nibbles) each. */
void sb_ref_dequant_q4_K(const sb_block_q4_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK_K; b++) {
        const float d = sb_fp16_to_f32(x[b].d), dmin = sb_fp16_to_f32(x[b].dmin);
        const uint8_t *q = x[b].qs;
        for (int c = 0; c < 4; c++, q += 32) {
            uint8_t sc, m;
            sb_q4k_scale_min(2 * c, x[b].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            sb_q4k_scale_min(2 * c + 1, x[b].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)(q[l] & 0xF) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)(q[l] >> 4) - m2;
        }
    }
}

/* Q5_K to F32. */
void sb_ref_dequant_q5_K(const sb_block_q5_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK_K; b++) {
        const float d = sb_fp16_to_f32(x[b].d), dmin = sb_fp16_to_f32(x[b].dmin);
        const uint8_t *ql = x[b].qs, *qh = x[b].qh;
        for (int c = 0; c < 4; c++, ql += 32) {
            uint8_t sc, m;
            sb_q4k_scale_min(2 * c, x[b].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            sb_q4k_scale_min(2 * c + 1, x[b].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
            for (int l = 0; l < 32; l++)
                *y++ = d1 * (float)((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; l++)
                *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

/* Q6_K to F32: each half of 128 elements takes 64 ql bytes and 32 qh bytes. */
void sb_ref_dequant_q6_K(const sb_block_q6_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK_K; b++) {
        const float d = sb_fp16_to_f32(x[b].d);
        const uint8_t *ql = x[b].ql, *qh = x[b].qh;
        const int8_t *sc = x[b].scales;
        for (int h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = (int8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * (float)sc[is] * (float)q1;
                y[l + 32] = d * (float)sc[is + 2] * (float)q2;
                y[l + 64] = d * (float)sc[is + 4] * (float)q3;
                y[l + 96] = d * (float)sc[is + 6] * (float)q4;
            }
        }
    }
}

/* Q8_K to F32. */
void sb_ref_dequant_q8_K(const sb_block_q8_K *x, float *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK_K; b++)
        for (int j = 0; j < SB_QK_K; j++)
            *y++ = x[b].d * (float)x[b].qs[j];
}

void sb_ref_dequant_f16(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = sb_fp16_to_f32(x[i]);
}

void sb_ref_dequant_bf16(const uint16_t *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = sb_bf16_to_f32(x[i]);
}

/* ---- simple weight quantizers ---- */

/* The value of largest magnitude among x[0..n) (the first such; 0 if all
 * are zero): Q4_0 and Q5_0 scale their blocks by it, sign included. */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

/* Q4_0 (ggml quantize_row_q4_0_ref): the element of largest magnitude maps
 * to -8, d = max / -8, q = min(15, trunc(x / d + 8.5)). */
void sb_ref_quant_q4_0(const float *x, sb_block_q4_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, x += SB_QK4_0) {
        const float d = signed_absmax(x, SB_QK4_0) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = sb_f32_to_fp16(d);
        for (int j = 0; j < SB_QK4_0 / 2; j++) {
            int q0 = (int8_t)sb_trunc_i32(x[j] * id + 8.5f);
            int q1 = (int8_t)sb_trunc_i32(x[j + SB_QK4_0 / 2] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/* The smallest and largest of a 32-element block, in ggml's comparison
 * order (a NaN after the first element is passed over). */
static void block_min_max(const float *x, float *min, float *max) {
    *min = *max = x[0];
    for (int j = 1; j < SB_QK4_0; j++) {
        *min = x[j] < *min ? x[j] : *min;
        *max = x[j] > *max ? x[j] : *max;
    }
}

/* Q4_1 (ggml quantize_row_q4_1_ref): m = min, d = (max - min) / 15,
 * q = min(15, trunc((x - m) / d + 0.5)). */
void sb_ref_quant_q4_1(const float *x, sb_block_q4_1 *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, x += SB_QK4_0) {
        float min, max;
        block_min_max(x, &min, &max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = sb_f32_to_fp16(d);
        y[b].m = sb_f32_to_fp16(min);
        for (int j = 0; j < SB_QK4_0 / 2; j++) {
            const int q0 = (int8_t)sb_trunc_i32((x[j] - min) * id + 0.5f);
            const int q1 = (int8_t)sb_trunc_i32((x[j + SB_QK4_0 / 2] - min) * id + 0.5f);
            y[b].qs[j] = (uint8_t)((q0 < 15 ? q0 : 15) | ((q1 < 15 ? q1 : 15) << 4));
        }
    }
}

/* Stores the low four bits of q0 (element j) and q1 (element j + 16) in
 * byte j and their fifth bits in qh (bits j and j + 16). */
static inline void q5_put(uint8_t qs[SB_QK4_0 / 2], uint32_t *qh, int j, int q0, int q1) {
    qs[j] = (uint8_t)((q0 & 0x0F) | ((q1 & 0x0F) << 4));
    *qh |= (uint32_t)((q0 >> 4) & 1) << j;
    *qh |= (uint32_t)((q1 >> 4) & 1) << (j + SB_QK4_0 / 2);
}

static inline void q5_put_qh(uint8_t qh[4], uint32_t bits) {
    for (int i = 0; i < 4; i++)
        qh[i] = (uint8_t)(bits >> (8 * i));
}

/* Q5_0 (ggml quantize_row_q5_0_ref): the largest magnitude maps to -16,
 * q = min(31, trunc(x / d + 16.5)). */
void sb_ref_quant_q5_0(const float *x, sb_block_q5_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, x += SB_QK4_0) {
        const float d = signed_absmax(x, SB_QK4_0) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = sb_f32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < SB_QK4_0 / 2; j++) {
            int q0 = (int8_t)sb_trunc_i32(x[j] * id + 16.5f);
            int q1 = (int8_t)sb_trunc_i32(x[j + SB_QK4_0 / 2] * id + 16.5f);
            q5_put(y[b].qs, &qh, j, q0 < 31 ? q0 : 31, q1 < 31 ? q1 : 31);
        }
        q5_put_qh(y[b].qh, qh);
    }
}

/* Q5_1 (ggml quantize_row_q5_1_ref): m = min, d = (max - min) / 31,
 * q = trunc((x - m) / d + 0.5). */
void sb_ref_quant_q5_1(const float *x, sb_block_q5_1 *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, x += SB_QK4_0) {
        float min, max;
        block_min_max(x, &min, &max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = sb_f32_to_fp16(d);
        y[b].m = sb_f32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < SB_QK4_0 / 2; j++) {
            const int q0 = (uint8_t)sb_trunc_i32((x[j] - min) * id + 0.5f);
            const int q1 = (uint8_t)sb_trunc_i32((x[j + SB_QK4_0 / 2] - min) * id + 0.5f);
            q5_put(y[b].qs, &qh, j, q0, q1);
        }
        q5_put_qh(y[b].qh, qh);
    }
}

/* Q8_0 (ggml quantize_row_q8_0_ref): d = amax / 127, q = roundf(x / d). */
void sb_ref_quant_q8_0(const float *x, sb_block_q8_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK8_0; b++, x += SB_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < SB_QK8_0; j++)
            amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = sb_f32_to_fp16(d);
        for (int j = 0; j < SB_QK8_0; j++)
            y[b].qs[j] = (int8_t)sb_trunc_i32(roundf(x[j] * id));
    }
}

/* Q8_K (ggml quantize_row_q8_K_ref): the element of largest magnitude maps
 * to -127; d = 1 / (-127 / max), in F32. */
void sb_ref_quant_q8_K(const float *x, sb_block_q8_K *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK_K; b++, x += SB_QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < SB_QK_K; j++) {
            if (fabsf(x[j]) > amax) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.f / max;
        for (int j = 0; j < SB_QK_K; j++) {
            const int v = sb_nearest_int(iscale * x[j]);
            y[b].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < SB_QK_K / 16; g++) {
            int s = 0;
            for (int j = 0; j < 16; j++)
                s += y[b].qs[16 * g + j];
            y[b].bsums[g] = (int16_t)s;
        }
        y[b].d = 1 / iscale;
    }
}

void sb_ref_quant_f16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = sb_f32_to_fp16(x[i]);
}

void sb_ref_quant_bf16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = sb_f32_to_bf16(x[i]);
}

/* ---- validation ---- */

static inline bool fp16_finite(uint16_t h) { return (h & 0x7C00) != 0x7C00; }
static inline bool bf16_finite(uint16_t h) { return (h & 0x7F80) != 0x7F80; }

/* First block b < nb of blocks of `size` bytes whose F16 fields at byte
 * offsets off0 (and off1, if >= 0) are not both finite, times bs; or -1. */
static int64_t first_bad_block(const uint8_t *row, int64_t nb, size_t size, size_t off0, long off1, int64_t bs) {
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *p = row + (size_t)b * size;
        uint16_t h0, h1 = 0;
        memcpy(&h0, p + off0, sizeof h0);
        if (off1 >= 0)
            memcpy(&h1, p + off1, sizeof h1);
        if (!fp16_finite(h0) || !fp16_finite(h1))
            return b * bs;
    }
    return -1;
}

int64_t sb_ref_first_invalid(uint32_t type, const void *row, int64_t n) {
    const uint8_t *p = row;
    switch (type) {
    case SB_TYPE_F32:
        for (int64_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, p + 4 * i, sizeof v);
            if (!isfinite(v))
                return i;
        }
        return -1;
    case SB_TYPE_F16:
    case SB_TYPE_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, sizeof h);
            if (type == SB_TYPE_F16 ? !fp16_finite(h) : !bf16_finite(h))
                return i;
        }
        return -1;
#define BLOCKS(T, QK, F0, F1) first_bad_block(p, n / (QK), sizeof(T), offsetof(T, F0), F1, QK)
    case SB_TYPE_Q4_0:
        return BLOCKS(sb_block_q4_0, SB_QK4_0, d, -1);
    case SB_TYPE_Q8_0:
        return BLOCKS(sb_block_q8_0, SB_QK8_0, d, -1);
    case SB_TYPE_Q5_0:
        return BLOCKS(sb_block_q5_0, SB_QK4_0, d, -1);
    case SB_TYPE_Q4_1:
        return BLOCKS(sb_block_q4_1, SB_QK4_0, d, (long)offsetof(sb_block_q4_1, m));
    case SB_TYPE_Q5_1:
        return BLOCKS(sb_block_q5_1, SB_QK4_0, d, (long)offsetof(sb_block_q5_1, m));
    case SB_TYPE_Q4_K:
        return BLOCKS(sb_block_q4_K, SB_QK_K, d, (long)offsetof(sb_block_q4_K, dmin));
    case SB_TYPE_Q5_K:
        return BLOCKS(sb_block_q5_K, SB_QK_K, d, (long)offsetof(sb_block_q5_K, dmin));
    case SB_TYPE_Q6_K:
        return BLOCKS(sb_block_q6_K, SB_QK_K, d, -1);
#undef BLOCKS
    case SB_TYPE_Q8_K:
        for (int64_t b = 0; b < n / SB_QK_K; b++) {
            float d;
            memcpy(&d, p + (size_t)b * sizeof(sb_block_q8_K) + offsetof(sb_block_q8_K, d), sizeof d);
            if (!isfinite(d))
                return b * SB_QK_K;
        }
        return -1;
    default:
        return -1;
    }
}

/* ---- activation quantizers ---- */

/* Q8_0 activations the way ggml's x86 quantize_row_q8_0 rounds them:
 * scale by 127 / amax (not 1 / d) and round half to even. */
void sb_ref_act_q8_0(const float *x, sb_act_q8_0 *y, int64_t n, int offset) {
    for (int64_t b = 0; b < n / SB_QK8_0; b++, x += SB_QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < SB_QK8_0; j++) {
            const float a = fabsf(x[j]);
            amax = a > amax ? a : amax;
        }
        y[b].d = sb_fp16_to_f32(sb_f32_to_fp16(amax / 127.f));
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < SB_QK8_0; j++) {
            const int q = sb_nearest_int(x[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].corr = sb_act_corr(offset, sum);
    }
}

/* Q8_K activations: ggml's reference rounding plus the per-type extras. */
void sb_ref_act_q8_K(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype) {
    for (int64_t b = 0; b < n / SB_QK_K; b++, x += SB_QK_K) {
        sb_block_q8_K k;
        sb_ref_quant_q8_K(x, &k, SB_QK_K);
        memset(&y[b], 0, sizeof y[b]);
        memcpy(y[b].qs, k.qs, sizeof k.qs);
        memcpy(y[b].bsums, k.bsums, sizeof k.bsums);
        y[b].d = k.d;
        for (int j = 0; j < SB_QK_K / 32; j++)
            y[b].s32[j] = (int16_t)(k.bsums[2 * j] + k.bsums[2 * j + 1]);
        if (wtype == SB_TYPE_Q6_K)
            for (int j = 0; j < SB_QK_K / 16; j++)
                y[b].corr[j] = -32 * k.bsums[j];
    }
}

void sb_ref_act_f16(const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = sb_fp16_to_f32(sb_f32_to_fp16(x[i]));
}

void sb_ref_act_bf16(const float *x, uint16_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        y[i] = sb_f32_to_bf16(x[i]);
}
