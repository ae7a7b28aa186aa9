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

/* Q4_0 (ggml quantize_row_q4_0_ref): the element of largest magnitude maps
 * to -8, d = max / -8, q = min(15, trunc(x / d + 8.5)). */
void sb_ref_quant_q4_0(const float *x, sb_block_q4_0 *y, int64_t n) {
    for (int64_t b = 0; b < n / SB_QK4_0; b++, x += SB_QK4_0) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < SB_QK4_0; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = sb_f32_to_fp16(d);
        for (int j = 0; j < SB_QK4_0 / 2; j++) {
            int q0 = (int8_t)(x[j] * id + 8.5f);
            int q1 = (int8_t)(x[j + SB_QK4_0 / 2] * id + 8.5f);
            q0 = q0 < 15 ? q0 : 15;
            q1 = q1 < 15 ? q1 : 15;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
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
            y[b].qs[j] = (int8_t)roundf(x[j] * id);
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
        y[b].corr = -offset * sum;
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
