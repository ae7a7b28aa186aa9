/*
 * cpu_backend_vec.c - the plain C versions of the backend's vector loops
 * (attention scores, softmax exponentials, weighted sums of value rows, F16
 * rounding), used where the CPU has no AVX2/F16C and as the reference the
 * SIMD versions are tested against.
 */
#include "cpu_backend_internal.h"
#include "sb_half.h"

#include <math.h>

/* Scaled dot products of q with n K rows. */
static void scores_f32(const float *q, const float *k, int n, int d, float scale, float *out) {
    for (int j = 0; j < n; j++) {
        const float *kj = k + (size_t)j * d;
        float s = 0;
        for (int c = 0; c < d; c++)
            s += q[c] * kj[c];
        out[j] = s * scale;
    }
}

/* Same over an F16 cache. */
static void scores_f16(const float *q, const uint16_t *k, int n, int d, float scale, float *out) {
    for (int j = 0; j < n; j++) {
        const uint16_t *kj = k + (size_t)j * d;
        float s = 0;
        for (int c = 0; c < d; c++)
            s += q[c] * sb_fp16_to_f32(kj[c]);
        out[j] = s * scale;
    }
}

/* Softmax numerators and their sum (double, as ggml). */
static double exp_sum(float *s, int n, float mx) {
    double sum = 0;
    for (int j = 0; j < n; j++) {
        s[j] = expf(s[j] - mx);
        sum += (double)s[j];
    }
    return sum;
}

/* Accumulates p-weighted V rows into o. */
static void wsum_f32(float *o, const float *p, const float *v, int n, int d) {
    for (int j = 0; j < n; j++) {
        const float *vj = v + (size_t)j * d;
        for (int c = 0; c < d; c++)
            o[c] += p[j] * vj[c];
    }
}

/* Same over an F16 cache. */
static void wsum_f16(float *o, const float *p, const uint16_t *v, int n, int d) {
    for (int j = 0; j < n; j++) {
        const uint16_t *vj = v + (size_t)j * d;
        for (int c = 0; c < d; c++)
            o[c] += p[j] * sb_fp16_to_f32(vj[c]);
    }
}

/* Rounds F32 to F16 (nearest even). */
static void to_f16(uint16_t *dst, const float *src, int n) {
    for (int i = 0; i < n; i++)
        dst[i] = sb_f32_to_fp16(src[i]);
}

/* SwiGLU's elementwise part. */
static void silu_mul(float *y, const float *g, const float *u, long n) {
    for (long i = 0; i < n; i++)
        y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

const cpu_vec_fns sb_cpu_vec_scalar = {
    .scores_f32 = scores_f32,
    .scores_f16 = scores_f16,
    .exp_sum = exp_sum,
    .wsum_f32 = wsum_f32,
    .wsum_f16 = wsum_f16,
    .to_f16 = to_f16,
    .silu_mul = silu_mul,
};
