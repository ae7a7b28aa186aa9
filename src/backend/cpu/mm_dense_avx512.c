/*
 * mm_dense_avx512.c - F32, F16 and BF16 weights (GGUF row layout), AVX-512.
 *
 * Decode (one token): one row at a time, a single sequential stream with
 * four accumulators. More tokens: a micro-tile of NR weight rows x NT tokens
 * (NR, NT <= 4, compile-time), NR x NT zmm accumulators, 32 columns per
 * step, reduced horizontally at the end. F16/BF16 are loaded 64 bytes at a
 * time and widened in registers (see ld32); the column tail is one masked
 * step, which never touches memory past the row. F16 weights are widened
 * with vcvtph2ps and multiplied by the F16-rounded activations in F32, as
 * ggml does; BF16 x BF16 uses vdpbf16ps when the CPU has AVX512_BF16.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

#define R 4 /* rows per micro-tile */
#define T 4 /* tokens per micro-tile */

/* 16 values of a row at column c widened to F32 (kind 0 F32, 1 F16, 2 BF16);
 * masked when k is not all ones. */
SB_INLINE __m512 ld16(int kind, const uint8_t *row, int64_t c, bool masked, __mmask16 k) {
    switch (kind) {
    case 0:
        return masked ? _mm512_maskz_loadu_ps(k, (const float *)row + c) : _mm512_loadu_ps((const float *)row + c);
    case 1: {
        const __m256i h = masked ? _mm256_maskz_loadu_epi16(k, (const uint16_t *)row + c)
                                 : _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + c));
        return _mm512_cvtph_ps(h);
    }
    default: {
        const __m256i h = masked ? _mm256_maskz_loadu_epi16(k, (const uint16_t *)row + c)
                                 : _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + c));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    }
}

/* 32 values of a row at column c widened to F32 in two halves, from one
 * 64-byte load. For F16/BF16 this form matters when the row streams from
 * DRAM: on Zen 4, vcvtph2ps / vpmovzxwd with a 32-byte memory operand reach
 * ~17 GB/s per core where a plain 64-byte load and register converts reach
 * ~29 GB/s. */
SB_INLINE void ld32(int kind, const uint8_t *row, int64_t c, __m512 *lo, __m512 *hi) {
    if (kind == 0) {
        *lo = _mm512_loadu_ps((const float *)row + c);
        *hi = _mm512_loadu_ps((const float *)row + c + 16);
        return;
    }
    const __m512i v = _mm512_loadu_si512((const uint16_t *)row + c);
    const __m256i a = _mm512_castsi512_si256(v), b = _mm512_extracti64x4_epi64(v, 1);
    if (kind == 1) {
        *lo = _mm512_cvtph_ps(a);
        *hi = _mm512_cvtph_ps(b);
    } else {
        *lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(a), 16));
        *hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
    }
}

SB_INLINE void put(const sb_mm_dense *d, int t, int64_t r, float v) {
    float *y = d->y + (size_t)t * d->y_stride + r;
    *y = d->accumulate ? *y + v : v;
}

/* NR rows x NT tokens from row r0, token t0; wkind/xkind as for ld16. */
SB_INLINE void micro(const sb_mm_dense *d, int wkind, int xkind, int64_t r0, const int NR, int t0, const int NT) {
    __m512 acc[R][T], acc2[R];
    const uint8_t *wr[R], *xr[T];
    for (int i = 0; i < NR; i++) {
        wr[i] = d->w + (size_t)(r0 + i) * d->w_stride;
        acc2[i] = _mm512_setzero_ps();
        for (int j = 0; j < NT; j++)
            acc[i][j] = _mm512_setzero_ps();
    }
    for (int j = 0; j < NT; j++)
        xr[j] = d->x + (size_t)(t0 + j) * d->x_stride;
    int64_t c = 0;
    for (; c + 32 <= d->cols; c += 32) {
        __m512 xl[T], xh[T];
        for (int j = 0; j < NT; j++)
            ld32(xkind, xr[j], c, &xl[j], &xh[j]);
        for (int i = 0; i < NR; i++) {
            __m512 wl, wh;
            ld32(wkind, wr[i], c, &wl, &wh);
            for (int j = 0; j < NT; j++) {
                acc[i][j] = _mm512_fmadd_ps(wl, xl[j], acc[i][j]);
                acc2[i] = j == 0 ? _mm512_fmadd_ps(wh, xh[0], acc2[i]) : acc2[i];
                if (j > 0)
                    acc[i][j] = _mm512_fmadd_ps(wh, xh[j], acc[i][j]);
            }
        }
    }
    for (; c + 16 <= d->cols; c += 16) {
        __m512 xv[T];
        for (int j = 0; j < NT; j++)
            xv[j] = ld16(xkind, xr[j], c, false, 0);
        for (int i = 0; i < NR; i++) {
            const __m512 wv = ld16(wkind, wr[i], c, false, 0);
            for (int j = 0; j < NT; j++)
                acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    if (c < d->cols) {
        const __mmask16 k = (__mmask16)((1u << (d->cols - c)) - 1);
        __m512 xv[T];
        for (int j = 0; j < NT; j++)
            xv[j] = ld16(xkind, xr[j], c, true, k);
        for (int i = 0; i < NR; i++) {
            const __m512 wv = ld16(wkind, wr[i], c, true, k);
            for (int j = 0; j < NT; j++)
                acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++)
            put(d, t0 + j, r0 + i, _mm512_reduce_add_ps(j == 0 ? _mm512_add_ps(acc[i][0], acc2[i]) : acc[i][j]));
}

/* Products of row w and x (xkind as ld32) over whole 64-column steps from
 * column c while they fit before end, into four accumulators (for the FMA
 * latency); returns the column where it stopped. */
SB_INLINE int64_t row_steps(int kind, const uint8_t *w, const uint8_t *x, int xkind, int64_t c, int64_t end, __m512 *a0,
                            __m512 *a1, __m512 *a2, __m512 *a3) {
    for (; c + 64 <= end; c += 64) {
        __m512 w0, w1, w2, w3, x0, x1, x2, x3;
        ld32(kind, w, c, &w0, &w1);
        ld32(kind, w, c + 32, &w2, &w3);
        ld32(xkind, x, c, &x0, &x1);
        ld32(xkind, x, c + 32, &x2, &x3);
        *a0 = _mm512_fmadd_ps(w0, x0, *a0);
        *a1 = _mm512_fmadd_ps(w1, x1, *a1);
        *a2 = _mm512_fmadd_ps(w2, x2, *a2);
        *a3 = _mm512_fmadd_ps(w3, x3, *a3);
    }
    return c;
}

/* The rest of a row from column c, 16 columns (masked) at a time, into a0. */
SB_INLINE void row_tail(int kind, const uint8_t *w, const uint8_t *x, int xkind, int64_t c, int64_t cols, __m512 *a0) {
    for (; c < cols; c += 16) {
        const __mmask16 k = cols - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - c)) - 1);
        *a0 = _mm512_fmadd_ps(ld16(kind, w, c, true, k), ld16(xkind, x, c, true, k), *a0);
    }
}

/* One row x one token (decode): a thread's rows are read as one sequential
 * stream, with four accumulators for the FMA latency. x is the activation
 * row in xkind (as ld16; d->x, or rows1_f16's F16 copy). dp: BF16 x BF16
 * with vdpbf16ps. */
SB_INLINE void row1(const sb_mm_dense *d, int kind, bool dp, const uint8_t *x, int xkind, int64_t r) {
    const uint8_t *w = d->w + (size_t)r * d->w_stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t c = 0;
    if (dp) {
        const uint16_t *wh = (const uint16_t *)w, *xh = (const uint16_t *)x;
        for (; c + 64 <= d->cols; c += 64) {
            a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(wh + c), (__m512bh)_mm512_loadu_si512(xh + c));
            a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(wh + c + 32),
                                  (__m512bh)_mm512_loadu_si512(xh + c + 32));
        }
        for (; c < d->cols; c += 32) {
            const __mmask32 k = d->cols - c >= 32 ? (__mmask32)0xFFFFFFFFu : (__mmask32)((1u << (d->cols - c)) - 1);
            a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_maskz_loadu_epi16(k, wh + c),
                                  (__m512bh)_mm512_maskz_loadu_epi16(k, xh + c));
        }
    } else {
        c = row_steps(kind, w, x, xkind, 0, d->cols, &a0, &a1, &a2, &a3);
        row_tail(kind, w, x, xkind, c, d->cols, &a0);
    }
    put(d, 0, r, _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))));
}

/* BF16 x BF16 with vdpbf16ps: 32 products per instruction. */
SB_INLINE void micro_bf16dp(const sb_mm_dense *d, int64_t r0, const int NR, int t0, const int NT) {
    __m512 acc[R][T];
    const uint16_t *wr[R], *xr[T];
    for (int i = 0; i < NR; i++) {
        wr[i] = (const uint16_t *)(d->w + (size_t)(r0 + i) * d->w_stride);
        for (int j = 0; j < NT; j++)
            acc[i][j] = _mm512_setzero_ps();
    }
    for (int j = 0; j < NT; j++)
        xr[j] = (const uint16_t *)(d->x + (size_t)(t0 + j) * d->x_stride);
    for (int64_t c = 0; c < d->cols; c += 32) {
        const bool tail = d->cols - c < 32;
        const __mmask32 k = tail ? (__mmask32)((1u << (d->cols - c)) - 1) : (__mmask32)0xFFFFFFFFu;
        __m512bh xv[T];
        for (int j = 0; j < NT; j++)
            xv[j] = (__m512bh)(tail ? _mm512_maskz_loadu_epi16(k, xr[j] + c) : _mm512_loadu_si512(xr[j] + c));
        for (int i = 0; i < NR; i++) {
            const __m512bh wv =
                (__m512bh)(tail ? _mm512_maskz_loadu_epi16(k, wr[i] + c) : _mm512_loadu_si512(wr[i] + c));
            for (int j = 0; j < NT; j++)
                acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv, xv[j]);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++)
            put(d, t0 + j, r0 + i, _mm512_reduce_add_ps(acc[i][j]));
}

SB_INLINE void tile(const sb_mm_dense *d, int kind, bool dp, int64_t r0, const int NR, int t0, const int NT) {
    if (dp)
        micro_bf16dp(d, r0, NR, t0, NT);
    else
        micro(d, kind, kind == 2 ? 2 : 0, r0, NR, t0, NT);
}

/* Token count of a micro-tile as a compile-time constant. */
SB_INLINE void tile_nt(const sb_mm_dense *d, int kind, bool dp, int64_t r0, const int NR, int t0, int nt) {
    switch (nt) {
    case 1:
        tile(d, kind, dp, r0, NR, t0, 1);
        break;
    case 2:
        tile(d, kind, dp, r0, NR, t0, 2);
        break;
    case 3:
        tile(d, kind, dp, r0, NR, t0, 3);
        break;
    default:
        tile(d, kind, dp, r0, NR, t0, 4);
        break;
    }
}

/* Decode with F16 weights. Each row streams its weights through L1 once,
 * so x (reused by every row) must stay there beside one row of weights. Up
 * to XF32_MAX columns the F32 row does (x 16 KB + a row 8 KB) and row1
 * reads it as it is: one vcvtph2ps per 16 products. Beyond, up to XH_MAX,
 * rows1_f16 narrows x to F16 first. With 5632 columns an F32 x (22 KB) plus
 * a row (11 KB) overflows L1's 8 ways and every x load missed: one thread
 * over 200 MB of such rows reached 43% of a read's rate with F32 x, 80%
 * with F16 x. But converting x too halves the rate of the conversions,
 * which bound this loop: 2048-column rows in cache run at 27.7 GB/s on one
 * Zen 4 core with F16 x and 47.7 with F32 x, and in the fast memory regime
 * each of two threads must stream ~30. TinyLlama F16 decode, two threads,
 * paired with a read: F16 x on every call 80-83% of the read, F32 x up to
 * 4096 columns 88-89% (the slow regime unchanged, 96-98%). So rows1_f16
 * keeps x's first columns F32 as far as XSPLIT_L1_BYTES allows (F32 part,
 * F16 part and one row): 5632 columns read 2048 of them as F32, 256 rows
 * (2.9 MB) at 33.5 GB/s on one core against 28 with all of x in F16, the
 * same bits; TinyLlama F16 decode, the two alternating token by token:
 * slow regime +1.0 to +3.0 points in four runs, fast regime within the
 * noise (-0.2, +0.3, +1.5). A 28 KB budget (3072 F32 columns, 36 GB/s in
 * cache) lost 4 points in the fast regime. The AVX2 set keeps F16 x on
 * every row: there F32 x measured 4-5% worse in the slow regime (two
 * 32-byte x loads per weight load). */
#define XF32_MAX 4096
#define XH_MAX 16384
#define XSPLIT_L1_BYTES 26624

/* One F16 row x one token whose activation is read as F32 for columns
 * [0, p) (p a multiple of 64) and from the F16 copy xh beyond: the same
 * products, summed in the same order, as row1 over either form. */
SB_INLINE void row1_split(const sb_mm_dense *d, const float *xf, const uint16_t *xh, int64_t p, int64_t r) {
    const uint8_t *w = d->w + (size_t)r * d->w_stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t c = row_steps(1, w, (const uint8_t *)xf, 0, 0, p, &a0, &a1, &a2, &a3);
    c = row_steps(1, w, (const uint8_t *)xh, 1, c, d->cols, &a0, &a1, &a2, &a3);
    row_tail(1, w, (const uint8_t *)xh, 1, c, d->cols, &a0);
    put(d, 0, r, _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3))));
}

/* One token x F16 rows of more than XF32_MAX columns. The activation
 * arrives as F16-rounded F32 values; narrowed back to F16 bits (exactly)
 * it takes half the L1 room. The first p columns (what XSPLIT_L1_BYTES
 * leaves room for, whole 64-column steps) are read as F32, the rest from
 * the copy. */
SB_INLINE void rows1_f16(const sb_mm_dense *d) {
    uint16_t xh[XH_MAX] __attribute__((aligned(64)));
    const float *xf = (const float *)d->x;
    /* 4p + 2(cols - p) bytes of x and 2 cols of a row */
    const int64_t room = (int64_t)XSPLIT_L1_BYTES - 4 * d->cols;
    int64_t p = room > 0 ? room / 2 / 64 * 64 : 0;
    if (p > d->cols / 64 * 64)
        p = d->cols / 64 * 64;
    int64_t c = p;
    for (; c + 16 <= d->cols; c += 16)
        _mm256_store_si256((__m256i *)(xh + c), _mm512_cvtps_ph(_mm512_loadu_ps(xf + c), _MM_FROUND_TO_NEAREST_INT));
    if (c < d->cols) {
        const __mmask16 k = (__mmask16)((1u << (d->cols - c)) - 1);
        _mm256_mask_storeu_epi16(xh + c, k, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(k, xf + c), _MM_FROUND_TO_NEAREST_INT));
    }
    for (int64_t r = 0; r < d->rows; r++)
        row1_split(d, xf, xh, p, r);
}

/* Walks the rows x tokens of a dense call in micro-tiles. */
SB_INLINE void dense(const sb_mm_dense *d, int kind, bool dp) {
    if (d->nt == 1 && kind == 1 && d->cols > XF32_MAX && d->cols <= XH_MAX) {
        rows1_f16(d);
        return;
    }
    if (d->nt == 1) {
        for (int64_t r = 0; r < d->rows; r++)
            row1(d, kind, dp, d->x, kind == 2 ? 2 : 0, r);
        return;
    }
    for (int t0 = 0; t0 < d->nt; t0 += T) {
        const int nt = d->nt - t0 < T ? d->nt - t0 : T;
        int64_t r0 = 0;
        for (; r0 + R <= d->rows; r0 += R)
            tile_nt(d, kind, dp, r0, R, t0, nt);
        switch (d->rows - r0) {
        case 1:
            tile_nt(d, kind, dp, r0, 1, t0, nt);
            break;
        case 2:
            tile_nt(d, kind, dp, r0, 2, t0, nt);
            break;
        case 3:
            tile_nt(d, kind, dp, r0, 3, t0, nt);
            break;
        default:
            break;
        }
    }
}

void sb_mm_dense_f32_avx512(const sb_mm_dense *d) { dense(d, 0, false); }
void sb_mm_dense_f16_avx512(const sb_mm_dense *d) { dense(d, 1, false); }
void sb_mm_dense_bf16_avx512(const sb_mm_dense *d) { dense(d, 2, false); }
void sb_mm_dense_bf16dp_avx512(const sb_mm_dense *d) { dense(d, 2, true); }
