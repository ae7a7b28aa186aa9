/*
 * cpu_backend_vec.c - the plain C versions of the backend's vector loops
 * (attention scores, softmax exponentials, weighted sums of value rows, F16
 * rounding), used where the CPU has no AVX2/F16C and as the reference the
 * SIMD versions are tested against.
 */
#include "cpu_backend_internal.h"
#include "sb_half.h"

#include <math.h>
#include <stdbool.h>

/* Largest of n >= 1 scores (NaNs skipped). */
static float row_max(const float *s, int n) {
    float mx = -INFINITY;
    for (int j = 0; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    return mx;
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

/* Element i of an F32 or F16 cache, as F32. */
static inline float cache_at(const void *c, size_t i, bool f16) {
    return f16 ? sb_fp16_to_f32(((const uint16_t *)c)[i]) : ((const float *)c)[i];
}

/* Scores of nh query heads (q + h * d) against one page of K, transposed
 * (dimension c of position j at kt[c * ldk + j]): each score is a sum in
 * order of c, accumulated in out across the positions (so the inner loop
 * runs over contiguous positions and vectorises). */
static inline void scores_heads(const float *q, int nh, const void *kt, bool f16, int ldk, int n, int d, float scale,
                                float *out, size_t os) {
    for (int h = 0; h < nh; h++) {
        const float *qh = q + (size_t)h * d;
        float *s = out + (size_t)h * os;
        for (int j = 0; j < n; j++)
            s[j] = 0;
        for (int c = 0; c < d; c++) {
            const float qc = qh[c];
            for (int j = 0; j < n; j++)
                s[j] += qc * cache_at(kt, (size_t)c * ldk + j, f16);
        }
        for (int j = 0; j < n; j++)
            s[j] *= scale;
    }
}

static void scores_heads_f32(const float *q, int nh, const float *kt, int ldk, int n, int d, float scale, float *out,
                             size_t os) {
    scores_heads(q, nh, kt, false, ldk, n, d, scale, out, os);
}

static void scores_heads_f16(const float *q, int nh, const uint16_t *kt, int ldk, int n, int d, float scale,
                             float *out, size_t os) {
    scores_heads(q, nh, kt, true, ldk, n, d, scale, out, os);
}

/* Weighted sums of one KV head's V rows over a sequence's pages for nh
 * heads (o + h * d, weights p + h * ps), each value a sum in order of j. */
static inline void wsum_heads(float *o, const float *p, size_t ps, int nh, const void *v, bool f16, size_t page_stride,
                              const int32_t *pages, int page_size, int n, int d) {
    for (int h = 0; h < nh; h++) {
        float *oh = o + (size_t)h * d;
        for (int c = 0; c < d; c++)
            oh[c] = 0;
        for (int t = 0, j0 = 0; j0 < n; t++, j0 += page_size) {
            const int cnt = n - j0 < page_size ? n - j0 : page_size;
            const size_t vp = (size_t)pages[t] * page_stride;
            const float *pj = p + (size_t)h * ps + j0;
            for (int s = 0; s < cnt; s++) {
                const size_t vj = vp + (size_t)s * d;
                for (int c = 0; c < d; c++)
                    oh[c] += pj[s] * cache_at(v, vj + c, f16);
            }
        }
    }
}

static void wsum_heads_f32(float *o, const float *p, size_t ps, int nh, const float *v, size_t page_stride,
                           const int32_t *pages, int page_size, int n, int d) {
    wsum_heads(o, p, ps, nh, v, false, page_stride, pages, page_size, n, d);
}

static void wsum_heads_f16(float *o, const float *p, size_t ps, int nh, const uint16_t *v, size_t page_stride,
                           const int32_t *pages, int page_size, int n, int d) {
    wsum_heads(o, p, ps, nh, v, true, page_stride, pages, page_size, n, d);
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

/* rmsnorm's sum of squares: eight running sums, not one chain of
 * dependent double adds (that took ~2.5 us per 2048-wide row, 45 rows per
 * decoded token). The order differs from a serial sum only in the last bits
 * of the double. */
static double sum_squares(const float *x, long n) {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            s[k] += (double)(x[i + k] * x[i + k]);
    for (; i < n; i++)
        s[i & 7] += (double)(x[i] * x[i]);
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* rmsnorm's scaling by the row's factor and the norm weight. */
static void scale_mul(float *y, const float *x, float scale, const float *w, long n) {
    for (long i = 0; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

const cpu_vec_fns sb_cpu_vec_scalar = {
    .row_max = row_max,
    .exp_sum = exp_sum,
    .scores_heads_f32 = scores_heads_f32,
    .scores_heads_f16 = scores_heads_f16,
    .wsum_heads_f32 = wsum_heads_f32,
    .wsum_heads_f16 = wsum_heads_f16,
    .to_f16 = to_f16,
    .silu_mul = silu_mul,
    .sum_squares = sum_squares,
    .scale_mul = scale_mul,
};
