/*
 * cpu_backend_vec_avx512.c - AVX-512 versions of the attention loops that
 * take a GQA group's query heads together (scores_heads, wsum_heads) and of
 * the softmax exponentials (exp_sum); the other vector loops stay AVX2.
 * Compiled with AVX-512 flags and installed over the AVX2 table in
 * sb_cpu_backend_create only when the AVX-512 kernel set is active. Results
 * are bit for bit those of the AVX2 loops (and of the row-wise loops before
 * K was stored transposed).
 *
 * Scores: K is stored transposed in a page (d x positions), so a zmm holds
 * one dimension of sixteen positions (F16 converted as loaded); up to three
 * heads' sums are kept as eight partial sums each (24 accumulators; each K
 * load feeds three FMAs). Weighted sums: up to eight heads by 32 values in
 * sixteen accumulators kept across all pages of the sequence (each V load
 * feeds eight FMAs). Column tails use masked loads and stores; head sizes
 * that are not a multiple of 8 use the scalar loops.
 */
#include "cpu_backend_internal.h"

#include <immintrin.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))

/* Lanes u of a 16-wide column block starting at 16 * u that are below ncols. */
INLINE __mmask16 col_mask(int ncols, int u) {
    const int r = ncols - 16 * u;
    return r >= 16 ? (__mmask16)0xFFFF : r > 0 ? (__mmask16)((1u << r) - 1) : (__mmask16)0;
}

/* 16 values of b (F32, or F16 converted) from index i, lanes outside m zero. */
INLINE __m512 ld16(const void *b, size_t i, __mmask16 m, bool f16) {
    return f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)b + i))
               : _mm512_maskz_loadu_ps(m, (const float *)b + i);
}

/* One tile of scores: heads m < MR, positions [0, min(ncols, 16)) of the
 * page from b. Each score is summed exactly as the row-wise AVX2 loop
 * summed it before K was stored transposed (so results are bit for bit
 * those of earlier releases): eight partial sums over dimensions c = l mod
 * 8, each a chain of FMAs in order of c, reduced pairwise, then scaled;
 * pairs ((0 1)(2 3))((4 5)(6 7)) for positions below tail (rows the row
 * loop took four at a time), ((0 4)(2 6))((1 5)(3 7)) above. d % 8 == 0. */
INLINE void scores_tile(const float *a, size_t lda, const void *b, size_t ldb, int d, float *c, size_t ldc, int ncols,
                        int tail, float scale, bool f16, const int MR) {
    __m512 acc[3][8];
    const __mmask16 mk = col_mask(ncols, 0);
    for (int m = 0; m < MR; m++)
        for (int l = 0; l < 8; l++)
            acc[m][l] = _mm512_setzero_ps();
    for (int c0 = 0; c0 < d; c0 += 8)
        for (int l = 0; l < 8; l++) {
            const __m512 bv = ld16(b, (size_t)(c0 + l) * ldb, mk, f16);
            for (int m = 0; m < MR; m++)
                acc[m][l] = _mm512_fmadd_ps(_mm512_set1_ps(a[(size_t)m * lda + c0 + l]), bv, acc[m][l]);
        }
    const __m512 vs = _mm512_set1_ps(scale);
    const __mmask16 tl = tail >= 16 ? 0 : (__mmask16)(0xFFFFu << (tail > 0 ? tail : 0));
    for (int m = 0; m < MR; m++) {
        __m512 *x = acc[m];
        __m512 r = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x[0], x[1]), _mm512_add_ps(x[2], x[3])),
                                 _mm512_add_ps(_mm512_add_ps(x[4], x[5]), _mm512_add_ps(x[6], x[7])));
        if (tl & mk) {
            const __m512 t = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(x[0], x[4]), _mm512_add_ps(x[2], x[6])),
                                           _mm512_add_ps(_mm512_add_ps(x[1], x[5]), _mm512_add_ps(x[3], x[7])));
            r = _mm512_mask_blend_ps(tl, r, t);
        }
        r = _mm512_mul_ps(r, vs);
        if (mk == 0xFFFF) /* plain stores where whole: masked ones are slow on some cores */
            _mm512_storeu_ps(c + (size_t)m * ldc, r);
        else
            _mm512_mask_storeu_ps(c + (size_t)m * ldc, mk, r);
    }
}

/* Scores of nh heads over the transposed K page: tiles of up to 3 heads x 16 positions (24 accumulators). */
INLINE void scores_tiles(const float *q, int nh, const void *kt, int ldk, int n, int d, float scale, float *out,
                         size_t os, bool f16) {
    const size_t esz = f16 ? 2 : 4;
    const int tail = n & ~3;
    for (int h0 = 0; h0 < nh; h0 += 3) {
        const int mr = nh - h0 < 3 ? nh - h0 : 3;
        const float *a = q + (size_t)h0 * d;
        for (int j0 = 0; j0 < n; j0 += 16) {
            float *c = out + (size_t)h0 * os + j0;
            const void *b = (const uint8_t *)kt + (size_t)j0 * esz;
            if (mr == 3)
                scores_tile(a, (size_t)d, b, (size_t)ldk, d, c, os, n - j0, tail - j0, scale, f16, 3);
            else if (mr == 2)
                scores_tile(a, (size_t)d, b, (size_t)ldk, d, c, os, n - j0, tail - j0, scale, f16, 2);
            else
                scores_tile(a, (size_t)d, b, (size_t)ldk, d, c, os, n - j0, tail - j0, scale, f16, 1);
        }
    }
}

void sb_cpu_scores_heads_f32_avx512(const float *q, int nh, const float *kt, int ldk, int n, int d, float scale,
                                    float *out, size_t os) {
    if (d % 8)
        sb_cpu_vec_scalar.scores_heads_f32(q, nh, kt, ldk, n, d, scale, out, os);
    else
        scores_tiles(q, nh, kt, ldk, n, d, scale, out, os, false);
}

void sb_cpu_scores_heads_f16_avx512(const float *q, int nh, const uint16_t *kt, int ldk, int n, int d, float scale,
                                    float *out, size_t os) {
    if (d % 8)
        sb_cpu_vec_scalar.scores_heads_f16(q, nh, kt, ldk, n, d, scale, out, os);
    else
        scores_tiles(q, nh, kt, ldk, n, d, scale, out, os, true);
}

/* Weighted sums: rows m < MR (heads) of o, columns [c0, c0 + 16 * NV)
 * (masked to d), the accumulators in registers across all pages. */
INLINE void wsum_tile(float *o, const float *p, size_t ps, const void *v, size_t page_stride, const int32_t *pages,
                      int page_size, int n, int d, int c0, bool f16, const int MR, const int NV) {
    __m512 acc[8][8];
    __mmask16 mk[8];
    for (int u = 0; u < NV; u++)
        mk[u] = col_mask(d - c0, u);
    for (int m = 0; m < MR; m++)
        for (int u = 0; u < NV; u++)
            acc[m][u] = _mm512_setzero_ps();
    for (int t = 0, j0 = 0; j0 < n; t++, j0 += page_size) {
        const int cnt = n - j0 < page_size ? n - j0 : page_size;
        const size_t base = (size_t)pages[t] * page_stride + (size_t)c0;
        const float *pj = p + j0;
        for (int s = 0; s < cnt; s++) {
            const size_t r = base + (size_t)s * (size_t)d;
            __m512 bv[8];
            for (int u = 0; u < NV; u++)
                bv[u] = ld16(v, r + 16 * (size_t)u, mk[u], f16);
            for (int m = 0; m < MR; m++) {
                const __m512 am = _mm512_set1_ps(pj[(size_t)m * ps + s]);
                for (int u = 0; u < NV; u++)
                    acc[m][u] = _mm512_fmadd_ps(am, bv[u], acc[m][u]);
            }
        }
    }
    for (int m = 0; m < MR; m++)
        for (int u = 0; u < NV; u++)
            _mm512_mask_storeu_ps(o + (size_t)m * d + c0 + 16 * u, mk[u], acc[m][u]);
}

/* Tiles of up to 8 heads x 32 values (16 accumulators). In decode V is
 * cold (the weight stream evicts it every layer), and tiles 32 values wide
 * walk a 64- or 128-value row in strided passes. So where d allows, the
 * first tiles read whole rows of 64 or 128 values in one pass (4 heads x 64,
 * or 2 heads x 128: still 16 accumulators) and later tiles find V in cache.
 * The order of the sums over positions is the same in every tile, so the
 * bits do not depend on the tiling. A cold 128-position V, 32 heads over 4
 * KV heads, 2 threads: d = 128 26 -> 19 us, d = 64 15 -> 13 us; in cache
 * d = 128 costs 4% more, d = 64 the same. */
INLINE void wsum_tiles(float *o, const float *p, size_t ps, int nh, const void *v, size_t page_stride,
                       const int32_t *pages, int page_size, int n, int d, bool f16) {
    if (d % 128 == 0) { /* heads 0 and 1 over whole rows, the rest below */
        for (int c0 = 0; c0 < d; c0 += 128) {
            if (nh == 1)
                wsum_tile(o, p, ps, v, page_stride, pages, page_size, n, d, c0, f16, 1, 8);
            else
                wsum_tile(o, p, ps, v, page_stride, pages, page_size, n, d, c0, f16, 2, 8);
        }
        if (nh <= 2)
            return;
        o += (size_t)2 * d;
        p += (size_t)2 * ps;
        nh -= 2;
    } else if (d % 64 == 0) { /* every head, 4 at a time over whole rows */
        for (int h0 = 0; h0 < nh; h0 += 4) {
            const int mr = nh - h0 < 4 ? nh - h0 : 4;
            float *oh = o + (size_t)h0 * d;
            const float *ph = p + (size_t)h0 * ps;
            for (int c0 = 0; c0 < d; c0 += 64) {
#define WS(MR) wsum_tile(oh, ph, ps, v, page_stride, pages, page_size, n, d, c0, f16, MR, 4)
                switch (mr) {
                case 1: WS(1); break;
                case 2: WS(2); break;
                case 3: WS(3); break;
                default: WS(4); break;
                }
#undef WS
            }
        }
        return;
    }
    for (int h0 = 0; h0 < nh; h0 += 8) {
        const int mr = nh - h0 < 8 ? nh - h0 : 8;
        float *oh = o + (size_t)h0 * d;
        const float *ph = p + (size_t)h0 * ps;
        for (int c0 = 0; c0 < d; c0 += 32) {
            const int nv = d - c0 > 16 ? 2 : 1;
#define WS(MR, NV) wsum_tile(oh, ph, ps, v, page_stride, pages, page_size, n, d, c0, f16, MR, NV)
            switch ((mr - 1) * 2 + nv - 1) {
            case 0: WS(1, 1); break;
            case 1: WS(1, 2); break;
            case 2: WS(2, 1); break;
            case 3: WS(2, 2); break;
            case 4: WS(3, 1); break;
            case 5: WS(3, 2); break;
            case 6: WS(4, 1); break;
            case 7: WS(4, 2); break;
            case 8: WS(5, 1); break;
            case 9: WS(5, 2); break;
            case 10: WS(6, 1); break;
            case 11: WS(6, 2); break;
            case 12: WS(7, 1); break;
            case 13: WS(7, 2); break;
            case 14: WS(8, 1); break;
            default: WS(8, 2); break;
            }
#undef WS
        }
    }
}

void sb_cpu_wsum_heads_f32_avx512(float *o, const float *p, size_t ps, int nh, const float *v, size_t page_stride,
                                  const int32_t *pages, int page_size, int n, int d) {
    if (d % 8)
        sb_cpu_vec_scalar.wsum_heads_f32(o, p, ps, nh, v, page_stride, pages, page_size, n, d);
    else
        wsum_tiles(o, p, ps, nh, v, page_stride, pages, page_size, n, d, false);
}

void sb_cpu_wsum_heads_f16_avx512(float *o, const float *p, size_t ps, int nh, const uint16_t *v, size_t page_stride,
                                  const int32_t *pages, int page_size, int n, int d) {
    if (d % 8)
        sb_cpu_vec_scalar.wsum_heads_f16(o, p, ps, nh, v, page_stride, pages, page_size, n, d);
    else
        wsum_tiles(o, p, ps, nh, v, page_stride, pages, page_size, n, d, true);
}

/* exp(x) of the AVX2 loops (cpu_backend_vec_avx2.c: exp8), sixteen lanes at
 * a time with the same operations in the same order, so each value is bit
 * for bit the same. */
INLINE __m512 exp16(__m512 x) {
    const __mmask16 tiny = _mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.33654f), _CMP_LT_OQ);
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.3762626647949f)), _mm512_set1_ps(-87.33654f));
    const __m512 fx = _mm512_roundscale_ps(
        _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)), _MM_FROUND_TO_NEG_INF);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    const __m512 z = _mm512_mul_ps(x, x);
    __m512 y = _mm512_set1_ps(1.9875691500E-4f);
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.3981999507E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(8.3334519073E-3f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(4.1665795894E-2f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(1.6666665459E-1f));
    y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(5.0000001201E-1f));
    y = _mm512_fmadd_ps(y, z, x);
    y = _mm512_add_ps(y, _mm512_set1_ps(1.0f));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(fx), _mm512_set1_epi32(127)), 23);
    y = _mm512_mul_ps(y, _mm512_castsi512_ps(e));
    return _mm512_maskz_mov_ps((__mmask16)~tiny, y);
}

/* Adds eight exponentials to the double sums as the AVX2 loop does: lanes 0..3 to lo, 4..7 to hi. */
INLINE void add8(__m256d *lo, __m256d *hi, __m256 e) {
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

/* exp_sum of the AVX2 table, sixteen at a time (the same values and the same double sums). */
double sb_cpu_exp_sum_avx512(float *s, int n, float mx) {
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    const __m512 m = _mm512_set1_ps(mx);
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), m));
        _mm512_storeu_ps(s + j, e);
        add8(&lo, &hi, _mm512_castps512_ps256(e));
        add8(&lo, &hi, _mm512_extractf32x8_ps(e, 1));
    }
    if (j + 8 <= n) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(0xFF, s + j), m));
        _mm512_mask_storeu_ps(s + j, 0xFF, e);
        add8(&lo, &hi, _mm512_castps512_ps256(e));
        j += 8;
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

/* silu_mul of the AVX2 table, sixteen at a time (the same bits: exp16 is
 * exp8 lane for lane, and the division is exact). The SwiGLU before the
 * down projection runs on every thread of the call before its weights
 * stream (matmul_pre), so its 3.5 us per 5632-wide row with eight lanes
 * were time the memory sat idle. */
void sb_cpu_silu_mul_avx512(float *y, const float *g, const float *u, long n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    long i = 0;
    for (; i + 8 <= n; i += 16) {
        const __mmask16 m = i + 16 <= n ? (__mmask16)0xFFFF : (__mmask16)0xFF; /* the AVX2 loop's last 8 */
        const __m512 x = _mm512_maskz_loadu_ps(m, g + i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), x));
        const __m512 r = _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(one, e)), _mm512_maskz_loadu_ps(m, u + i));
        _mm512_mask_storeu_ps(y + i, m, r);
    }
    if (i > n) /* the masked step above covered 8 */
        i -= 8;
    for (; i < n; i++) /* the AVX2 loop's libm tail */
        y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
