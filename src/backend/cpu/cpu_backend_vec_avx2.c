/*
 * cpu_backend_vec_avx2.c - AVX2 + FMA + F16C versions of the backend's
 * vector loops (compiled with those flags, called only after the run-time
 * check in sb_cpu_backend_create). Scores take four K rows at a time and
 * reduce them together; weighted sums keep up to 64 output values in
 * registers across all rows of a page; F16 rows convert with F16C, which
 * rounds like sb_half.h. Head sizes that are not a multiple of 8 use the
 * scalar loops.
 */
#include "cpu_backend_internal.h"
#include "sb_half.h"

#include <immintrin.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))

INLINE __m256 ld8(const void *p, size_t i, bool f16) {
    return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)p + i)))
               : _mm256_loadu_ps((const float *)p + i);
}

INLINE float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

INLINE void scores_impl(const float *q, const void *k, int n, int d, float scale, float *out, bool f16) {
    int j = 0;
    const __m128 vs = _mm_set1_ps(scale);
    for (; j + 4 <= n; j += 4) {
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const size_t r = (size_t)j * d;
        for (int c = 0; c < d; c += 8) {
            const __m256 qv = _mm256_loadu_ps(q + c);
            a0 = _mm256_fmadd_ps(qv, ld8(k, r + c, f16), a0);
            a1 = _mm256_fmadd_ps(qv, ld8(k, r + d + c, f16), a1);
            a2 = _mm256_fmadd_ps(qv, ld8(k, r + 2 * (size_t)d + c, f16), a2);
            a3 = _mm256_fmadd_ps(qv, ld8(k, r + 3 * (size_t)d + c, f16), a3);
        }
        /* [a0 a1 a2 a3] horizontal sums in one vector */
        const __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        const __m128 s = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
        _mm_storeu_ps(out + j, _mm_mul_ps(s, vs));
    }
    for (; j < n; j++) {
        __m256 a = _mm256_setzero_ps();
        for (int c = 0; c < d; c += 8)
            a = _mm256_fmadd_ps(_mm256_loadu_ps(q + c), ld8(k, (size_t)j * d + c, f16), a);
        out[j] = hsum(a) * scale;
    }
}

/* Scaled dot products of q with n K rows (scalar loops for odd head sizes). */
static void scores_f32(const float *q, const float *k, int n, int d, float scale, float *out) {
    if (d % 8)
        sb_cpu_vec_scalar.scores_f32(q, k, n, d, scale, out);
    else
        scores_impl(q, k, n, d, scale, out, false);
}

/* Same over an F16 cache. */
static void scores_f16(const float *q, const uint16_t *k, int n, int d, float scale, float *out) {
    if (d % 8)
        sb_cpu_vec_scalar.scores_f16(q, k, n, d, scale, out);
    else
        scores_impl(q, k, n, d, scale, out, true);
}

/* o[0 .. 8*NV) += sum_j p[j] v_j[c0 ..], accumulators in registers. */
INLINE void wsum_chunk(float *o, const float *p, const void *v, int n, int d, int c0, int nv, bool f16) {
    __m256 acc[8];
    for (int u = 0; u < nv; u++)
        acc[u] = _mm256_loadu_ps(o + c0 + 8 * u);
    for (int j = 0; j < n; j++) {
        const __m256 pj = _mm256_set1_ps(p[j]);
        const size_t r = (size_t)j * d + (size_t)c0;
        for (int u = 0; u < nv; u++)
            acc[u] = _mm256_fmadd_ps(pj, ld8(v, r + 8 * (size_t)u, f16), acc[u]);
    }
    for (int u = 0; u < nv; u++)
        _mm256_storeu_ps(o + c0 + 8 * u, acc[u]);
}

INLINE void wsum_impl(float *o, const float *p, const void *v, int n, int d, bool f16) {
    int c = 0;
    for (; c + 64 <= d; c += 64)
        wsum_chunk(o, p, v, n, d, c, 8, f16);
    for (; c + 32 <= d; c += 32)
        wsum_chunk(o, p, v, n, d, c, 4, f16);
    for (; c < d; c += 8)
        wsum_chunk(o, p, v, n, d, c, 1, f16);
}

/* Accumulates p-weighted V rows into o. */
static void wsum_f32(float *o, const float *p, const float *v, int n, int d) {
    if (d % 8)
        sb_cpu_vec_scalar.wsum_f32(o, p, v, n, d);
    else
        wsum_impl(o, p, v, n, d, false);
}

/* Same over an F16 cache. */
static void wsum_f16(float *o, const float *p, const uint16_t *v, int n, int d) {
    if (d % 8)
        sb_cpu_vec_scalar.wsum_f16(o, p, v, n, d);
    else
        wsum_impl(o, p, v, n, d, true);
}

/* exp(x) (Cephes' polynomial, about 1 ulp); below -87.34 the result is 0
 * (libm gives denormals there), above 88.38 it saturates. */
INLINE __m256 exp8(__m256 x) {
    const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.3762626647949f)), _mm256_set1_ps(-87.33654f));
    __m256 fx = _mm256_floor_ps(_mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    const __m256 z = _mm256_mul_ps(x, x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, z, x);
    y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(fx), _mm256_set1_epi32(127)), 23);
    y = _mm256_mul_ps(y, _mm256_castsi256_ps(e));
    return _mm256_andnot_ps(tiny, y);
}

/* Softmax numerators, eight at a time; the sum in double as ggml. */
static double exp_sum(float *s, int n, float mx) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    const __m256 m = _mm256_set1_ps(mx);
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), m));
        _mm256_storeu_ps(s + j, e);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(lo, hi));
    double sum = (t[0] + t[1]) + (t[2] + t[3]);
    for (; j < n; j++) {
        s[j] = expf(s[j] - mx);
        sum += (double)s[j];
    }
    return sum;
}

/* SwiGLU's elementwise part with the vector exp. */
static void silu_mul(float *y, const float *g, const float *u, long n) {
    long i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 x = _mm256_loadu_ps(g + i);
        const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++)
        y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* Rounds F32 to F16 with F16C (nearest even, like sb_f32_to_fp16). */
static void to_f16(uint16_t *dst, const float *src, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = sb_f32_to_fp16(src[i]);
}

const cpu_vec_fns sb_cpu_vec_avx2 = {
    .scores_f32 = scores_f32,
    .scores_f16 = scores_f16,
    .exp_sum = exp_sum,
    .wsum_f32 = wsum_f32,
    .wsum_f16 = wsum_f16,
    .to_f16 = to_f16,
    .silu_mul = silu_mul,
};
