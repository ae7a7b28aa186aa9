/*
 * dot_ref.c - reference dot products of GGUF-layout weight rows with
 * quantized activations. Integer sums per (sub-)block, scaled in F32 block by
 * block in row order; a row's dot is the sum of its blocks' contributions
 * (the scalar kernels on packed weights add the very same contributions).
 */
#include "quant_ref.h"

#include "sb_half.h"

/* Q4_0 x Q8_0: d_w * d_x * sum((q - 8) * x). */
float sb_ref_dot_block_q4_0(const sb_block_q4_0 *w, const sb_act_q8_0 *x) {
    int isum = 0;
    for (int j = 0; j < SB_QK4_0 / 2; j++) {
        isum += ((w->qs[j] & 0x0F) - 8) * x->qs[j];
        isum += ((w->qs[j] >> 4) - 8) * x->qs[j + SB_QK4_0 / 2];
    }
    return (float)isum * (sb_fp16_to_f32(w->d) * x->d);
}

/* The quant sum of an activation block (ggml's Q8_1 s = d * this). */
static inline int act_qsum(const sb_act_q8_0 *x) {
    int s = 0;
    for (int j = 0; j < SB_QK8_0; j++)
        s += x->qs[j];
    return s;
}

/* Q5_0 x Q8_0: d_w * d_x * sum((q - 16) * x). */
float sb_ref_dot_block_q5_0(const sb_block_q5_0 *w, const sb_act_q8_0 *x) {
    int isum = 0;
    for (int j = 0; j < SB_QK4_0; j++)
        isum += (sb_q5_quant(w->qs, w->qh, j) - 16) * x->qs[j];
    return (float)isum * (sb_fp16_to_f32(w->d) * x->d);
}

/* Q5_1 x Q8_0 (ggml: x Q8_1, the same quants): d_w * d_x * sum(q * x) +
 * m_w * d_x * sum(x). */
float sb_ref_dot_block_q5_1(const sb_block_q5_1 *w, const sb_act_q8_0 *x) {
    int isum = 0;
    for (int j = 0; j < SB_QK4_0; j++)
        isum += sb_q5_quant(w->qs, w->qh, j) * x->qs[j];
    return (float)isum * (sb_fp16_to_f32(w->d) * x->d) + sb_fp16_to_f32(w->m) * (x->d * (float)act_qsum(x));
}

/* Q4_1 x Q8_0: as Q5_1 with 4-bit quants. */
float sb_ref_dot_block_q4_1(const sb_block_q4_1 *w, const sb_act_q8_0 *x) {
    int isum = 0;
    for (int j = 0; j < SB_QK4_0 / 2; j++) {
        isum += (w->qs[j] & 0x0F) * x->qs[j];
        isum += (w->qs[j] >> 4) * x->qs[j + SB_QK4_0 / 2];
    }
    return (float)isum * (sb_fp16_to_f32(w->d) * x->d) + sb_fp16_to_f32(w->m) * (x->d * (float)act_qsum(x));
}

/* Q8_0 x Q8_0. */
float sb_ref_dot_block_q8_0(const sb_block_q8_0 *w, const sb_act_q8_0 *x) {
    int isum = 0;
    for (int j = 0; j < SB_QK8_0; j++)
        isum += w->qs[j] * x->qs[j];
    return (float)isum * (sb_fp16_to_f32(w->d) * x->d);
}

/* Q4_K x Q8_K: d * sum_j sc_j * sum(q * x) - dmin * sum_j m_j * sum(x),
 * both times d_x. */
float sb_ref_dot_block_q4_K(const sb_block_q4_K *w, const sb_act_q8_K *x) {
    int isum = 0, msum = 0;
    for (int j = 0; j < SB_QK_K / 32; j++) {
        uint8_t sc, m;
        sb_q4k_scale_min(j, w->scales, &sc, &m);
        const uint8_t *q = w->qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        int s = 0;
        for (int l = 0; l < 32; l++)
            s += ((q[l] >> shift) & 0xF) * x->qs[32 * j + l];
        isum += sc * s;
        msum += m * x->s32[j];
    }
    const float dd = x->d * sb_fp16_to_f32(w->d), dm = x->d * sb_fp16_to_f32(w->dmin);
    return dd * (float)isum - dm * (float)msum;
}

/* Q5_K x Q8_K: as Q4_K with the fifth bit from qh. */
float sb_ref_dot_block_q5_K(const sb_block_q5_K *w, const sb_act_q8_K *x) {
    int isum = 0, msum = 0;
    for (int j = 0; j < SB_QK_K / 32; j++) {
        uint8_t sc, m;
        sb_q4k_scale_min(j, w->scales, &sc, &m);
        const uint8_t *q = w->qs + 32 * (j / 2);
        const int shift = 4 * (j % 2);
        int s = 0;
        for (int l = 0; l < 32; l++) {
            const int v = ((q[l] >> shift) & 0xF) | (((w->qh[l] >> j) & 1) << 4);
            s += v * x->qs[32 * j + l];
        }
        isum += sc * s;
        msum += m * x->s32[j];
    }
    const float dd = x->d * sb_fp16_to_f32(w->d), dm = x->d * sb_fp16_to_f32(w->dmin);
    return dd * (float)isum - dm * (float)msum;
}

/* Q6_K x Q8_K: d * sum_j scale_j * sum((q - 32) * x), times d_x. */
float sb_ref_dot_block_q6_K(const sb_block_q6_K *w, const sb_act_q8_K *x) {
    int isum = 0;
    for (int h = 0; h < 2; h++) {
        const uint8_t *ql = w->ql + 64 * h, *qh = w->qh + 32 * h;
        for (int part = 0; part < 4; part++) { /* elements 128h + 32 part + l */
            const uint8_t *lo = ql + 32 * (part & 1);
            const int lshift = 4 * (part >> 1), hshift = 2 * part;
            for (int half = 0; half < 2; half++) { /* sub-block of 16 */
                int s = 0;
                for (int l = 16 * half; l < 16 * half + 16; l++) {
                    const int q = (((lo[l] >> lshift) & 0xF) | (((qh[l] >> hshift) & 3) << 4)) - 32;
                    s += q * x->qs[128 * h + 32 * part + l];
                }
                isum += w->scales[8 * h + 2 * part + half] * s;
            }
        }
    }
    return (x->d * sb_fp16_to_f32(w->d)) * (float)isum;
}

float sb_ref_dot_q4_0(const sb_block_q4_0 *w, const sb_act_q8_0 *x, int64_t n) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n / SB_QK4_0; b++)
        sum += sb_ref_dot_block_q4_0(&w[b], &x[b]);
    return sum;
}

float sb_ref_dot_q8_0(const sb_block_q8_0 *w, const sb_act_q8_0 *x, int64_t n) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n / SB_QK8_0; b++)
        sum += sb_ref_dot_block_q8_0(&w[b], &x[b]);
    return sum;
}

float sb_ref_dot_q5_0(const sb_block_q5_0 *w, const sb_act_q8_0 *x, int64_t n) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n / SB_QK4_0; b++)
        sum += sb_ref_dot_block_q5_0(&w[b], &x[b]);
    return sum;
}

float sb_ref_dot_q5_1(const sb_block_q5_1 *w, const sb_act_q8_0 *x, int64_t n) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n / SB_QK4_0; b++)
        sum += sb_ref_dot_block_q5_1(&w[b], &x[b]);
    return sum;
}

float sb_ref_dot_q4_1(const sb_block_q4_1 *w, const sb_act_q8_0 *x, int64_t n) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n / SB_QK4_0; b++)
        sum += sb_ref_dot_block_q4_1(&w[b], &x[b]);
    return sum;
}

float sb_ref_dot_q4_K(const sb_block_q4_K *w, const sb_act_q8_K *x, int64_t n) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n / SB_QK_K; b++)
        sum += sb_ref_dot_block_q4_K(&w[b], &x[b]);
    return sum;
}

float sb_ref_dot_q5_K(const sb_block_q5_K *w, const sb_act_q8_K *x, int64_t n) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n / SB_QK_K; b++)
        sum += sb_ref_dot_block_q5_K(&w[b], &x[b]);
    return sum;
}

float sb_ref_dot_q6_K(const sb_block_q6_K *w, const sb_act_q8_K *x, int64_t n) {
    float sum = 0.0f;
    for (int64_t b = 0; b < n / SB_QK_K; b++)
        sum += sb_ref_dot_block_q6_K(&w[b], &x[b]);
    return sum;
}

/* F32 x F32 in double, like ggml's generic vec_dot_f32. */
float sb_ref_dot_f32(const float *w, const float *x, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)w[i] * (double)x[i];
    return (float)sum;
}

/* F16 x (F16-rounded F32): products are exact in F32; summed in double. */
float sb_ref_dot_f16(const uint16_t *w, const float *x, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(sb_fp16_to_f32(w[i]) * x[i]);
    return (float)sum;
}

/* BF16 x BF16: products are exact in F32; summed in double. */
float sb_ref_dot_bf16(const uint16_t *w, const uint16_t *x, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(sb_bf16_to_f32(w[i]) * sb_bf16_to_f32(x[i]));
    return (float)sum;
}
