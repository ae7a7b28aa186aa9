/*
 * cpu_backend_vec_avx2.c - AVX2 + FMA + F16C versions of the backend's
 * vector loops (compiled with those flags, called only after the run-time
 * check in sb_cpu_backend_create). Attention's loops take a GQA group's
 * query heads together as small matrix products (below); F16 values
 * convert with F16C, which rounds like sb_half.h. Weighted sums of head
 * sizes that are not a multiple of 8 use the scalar loops.
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

/* Largest of n >= 1 scores: max_ps(x, m) keeps m where x is NaN, like the scalar loop. */
static float row_max(const float *s, int n) {
    int j = 0;
    float mx = -INFINITY;
    if (n >= 8) {
        __m256 m = _mm256_set1_ps(-INFINITY);
        for (; j + 8 <= n; j += 8)
            m = _mm256_max_ps(_mm256_loadu_ps(s + j), m);
        __m128 h = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
        h = _mm_max_ps(_mm_movehl_ps(h, h), h);
        h = _mm_max_ss(_mm_movehdup_ps(h), h);
        mx = _mm_cvtss_f32(h);
    }
    for (; j < n; j++)
        mx = s[j] > mx ? s[j] : mx;
    return mx;
}

/* ---- several query heads of a GQA group against one KV head's page ----
 * Both loops are small matrix products C[heads][cols] (+)= A[heads][kk] *
 * B[kk][cols] with four heads by sixteen columns in registers: each B load
 * feeds four FMAs, and no horizontal sums are needed. For the scores, B is
 * the page's K, stored transposed (d x positions); for the weighted sums,
 * B is the V page (converted once when F16) and A the softmax numerators. */

/* Lanes [8 - r, 16 - r) of this table mask the first r of 8 lanes. */
static const int32_t tail_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

/* Scores of one head at eight positions of the page from b (the first
 * ncols stored). Each score is summed exactly as the row-wise loop summed
 * it before K was stored transposed (so results are bit for bit those of
 * earlier releases): eight partial sums over dimensions c = l mod 8, each a
 * chain of FMAs in order of c, reduced pairwise, then scaled; pairs
 * ((0 1)(2 3))((4 5)(6 7)) for positions below tail (rows that loop took
 * four at a time), ((0 4)(2 6))((1 5)(3 7)) from tail on. d % 8 == 0. */
INLINE void scores_tile(const float *a, const void *b, size_t ldb, int d, float *c, int ncols, int tail, float scale,
                        bool f16) {
    __m256 x[8];
    for (int l = 0; l < 8; l++)
        x[l] = _mm256_setzero_ps();
    for (int c0 = 0; c0 < d; c0 += 8)
        for (int l = 0; l < 8; l++)
            x[l] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + c0 + l), ld8(b, (size_t)(c0 + l) * ldb, f16), x[l]);
    __m256 r = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x[0], x[1]), _mm256_add_ps(x[2], x[3])),
                             _mm256_add_ps(_mm256_add_ps(x[4], x[5]), _mm256_add_ps(x[6], x[7])));
    if (tail < 8 && tail < ncols) {
        const __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(x[0], x[4]), _mm256_add_ps(x[2], x[6])),
                                       _mm256_add_ps(_mm256_add_ps(x[1], x[5]), _mm256_add_ps(x[3], x[7])));
        const int k = tail > 0 ? tail : 0;
        r = _mm256_blendv_ps(t, r, _mm256_loadu_ps((const float *)(tail_mask + 8 - k)));
    }
    r = _mm256_mul_ps(r, _mm256_set1_ps(scale));
    if (ncols >= 8)
        _mm256_storeu_ps(c, r);
    else
        _mm256_maskstore_ps(c, _mm256_loadu_si256((const __m256i *)(tail_mask + 8 - ncols)), r);
}

/* Scores of nh heads over the transposed K page, eight positions at a time. */
INLINE void scores_heads_tiles(const float *q, int nh, const void *kt, int ldk, int n, int d, float scale, float *out,
                               size_t os, bool f16) {
    const size_t esz = f16 ? 2 : 4;
    const int tail = n & ~3;
    for (int h = 0; h < nh; h++)
        for (int j0 = 0; j0 < n; j0 += 8)
            scores_tile(q + (size_t)h * d, (const uint8_t *)kt + (size_t)j0 * esz, (size_t)ldk, d,
                        out + (size_t)h * os + j0, n - j0, tail - j0, scale, f16);
}

static void scores_heads_f32(const float *q, int nh, const float *kt, int ldk, int n, int d, float scale, float *out,
                             size_t os) {
    if (d % 8)
        sb_cpu_vec_scalar.scores_heads_f32(q, nh, kt, ldk, n, d, scale, out, os);
    else
        scores_heads_tiles(q, nh, kt, ldk, n, d, scale, out, os, false);
}

static void scores_heads_f16(const float *q, int nh, const uint16_t *kt, int ldk, int n, int d, float scale,
                             float *out, size_t os) {
    if (d % 8)
        sb_cpu_vec_scalar.scores_heads_f16(q, nh, kt, ldk, n, d, scale, out, os);
    else
        scores_heads_tiles(q, nh, kt, ldk, n, d, scale, out, os, true);
}

/* Weighted sums: rows m < MR (heads) of o, columns [c0, c0 + 8 * NV), the
 * accumulators in registers across all pages. */
INLINE void wsum_tile(float *o, const float *p, size_t ps, const void *v, size_t page_stride, const int32_t *pages,
                      int page_size, int n, int d, int c0, bool f16, const int MR, const int NV) {
    __m256 acc[4][2];
    for (int m = 0; m < MR; m++)
        for (int u = 0; u < NV; u++)
            acc[m][u] = _mm256_setzero_ps();
    for (int t = 0, j0 = 0; j0 < n; t++, j0 += page_size) {
        const int cnt = n - j0 < page_size ? n - j0 : page_size;
        const size_t base = (size_t)pages[t] * page_stride + (size_t)c0;
        const float *pj = p + j0;
        for (int s = 0; s < cnt; s++) {
            const size_t r = base + (size_t)s * (size_t)d;
            const __m256 b0 = ld8(v, r, f16), b1 = NV > 1 ? ld8(v, r + 8, f16) : b0;
            for (int m = 0; m < MR; m++) {
                const __m256 am = _mm256_broadcast_ss(pj + (size_t)m * ps + s);
                acc[m][0] = _mm256_fmadd_ps(am, b0, acc[m][0]);
                if (NV > 1)
                    acc[m][1] = _mm256_fmadd_ps(am, b1, acc[m][1]);
            }
        }
    }
    for (int m = 0; m < MR; m++)
        for (int u = 0; u < NV; u++)
            _mm256_storeu_ps(o + (size_t)m * d + c0 + 8 * u, acc[m][u]);
}

/* Tiles of 4 heads x 16 values (d % 8 == 0). */
INLINE void wsum_heads_tiles(float *o, const float *p, size_t ps, int nh, const void *v, size_t page_stride,
                             const int32_t *pages, int page_size, int n, int d, bool f16) {
    for (int h0 = 0; h0 < nh; h0 += 4) {
        const int mr = nh - h0 < 4 ? nh - h0 : 4;
        float *oh = o + (size_t)h0 * d;
        const float *ph = p + (size_t)h0 * ps;
        for (int c0 = 0; c0 < d; c0 += 16) {
#define WT(MR, NV) wsum_tile(oh, ph, ps, v, page_stride, pages, page_size, n, d, c0, f16, MR, NV)
            switch (mr * 2 + (d - c0 >= 16)) {
            case 2: WT(1, 1); break;
            case 3: WT(1, 2); break;
            case 4: WT(2, 1); break;
            case 5: WT(2, 2); break;
            case 6: WT(3, 1); break;
            case 7: WT(3, 2); break;
            case 8: WT(4, 1); break;
            default: WT(4, 2); break;
            }
#undef WT
        }
    }
}

static void wsum_heads_f32(float *o, const float *p, size_t ps, int nh, const float *v, size_t page_stride,
                           const int32_t *pages, int page_size, int n, int d) {
    if (d % 8)
        sb_cpu_vec_scalar.wsum_heads_f32(o, p, ps, nh, v, page_stride, pages, page_size, n, d);
    else
        wsum_heads_tiles(o, p, ps, nh, v, page_stride, pages, page_size, n, d, false);
}

static void wsum_heads_f16(float *o, const float *p, size_t ps, int nh, const uint16_t *v, size_t page_stride,
                           const int32_t *pages, int page_size, int n, int d) {
    if (d % 8)
        sb_cpu_vec_scalar.wsum_heads_f16(o, p, ps, nh, v, page_stride, pages, page_size, n, d);
    else
        wsum_heads_tiles(o, p, ps, nh, v, page_stride, pages, page_size, n, d, true);
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

/* sum_squares of the scalar table, eight at a time: lanes 0..3 of each
 * eight go to lo and 4..7 to hi, so double lane k is the scalar s[k]. */
static double sum_squares(const float *x, long n) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 sq = _mm256_mul_ps(v, v);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
    }
    double s[8];
    _mm256_storeu_pd(s, lo);
    _mm256_storeu_pd(s + 4, hi);
    for (; i < n; i++)
        s[i & 7] += (double)(x[i] * x[i]);
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* scale_mul of the scalar table (two roundings per element, as there). */
static void scale_mul(float *y, const float *x, float scale, const float *w, long n) {
    const __m256 sv = _mm256_set1_ps(scale);
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _mm256_loadu_ps(w + i)));
    for (; i < n; i++)
        y[i] = (x[i] * scale) * w[i];
}

const cpu_vec_fns sb_cpu_vec_avx2 = {
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
