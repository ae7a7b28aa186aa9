/*
 * mm_dense_avx2.c - F32, F16 and BF16 weights (GGUF row layout), AVX2+FMA.
 * A micro-tile is 4 weight rows x up to 2 tokens (8 ymm accumulators, 16
 * registers in all), 16 columns per step (one 32-byte load per F16/BF16 row),
 * widened to F32 (vcvtph2ps for F16, a 16-bit shift for BF16), reduced
 * horizontally at the end. The column tail (cols % 8) is done in scalar code,
 * so nothing is read past a row.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

#include "sb_half.h"

#define R 4
#define T 2

SB_INLINE __m256 load8(int kind, const uint8_t *row, int64_t c) {
    switch (kind) {
    case 0:
        return _mm256_loadu_ps((const float *)row + c);
    case 1:
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + c)));
    default:
        return _mm256_castsi256_ps(_mm256_slli_epi32(
            _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + c))), 16));
    }
}

/* 16 values at column c as two F32 vectors from one 32-byte load (F16/BF16):
 * a plain load and register converts stream from DRAM faster than the
 * memory-operand forms (see mm_dense_avx512.c). */
SB_INLINE void load16(int kind, const uint8_t *row, int64_t c, __m256 *lo, __m256 *hi) {
    if (kind == 0) {
        *lo = _mm256_loadu_ps((const float *)row + c);
        *hi = _mm256_loadu_ps((const float *)row + c + 8);
        return;
    }
    __m256i v = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + c));
    __asm__("" : "+x"(v));
    const __m128i a = _mm256_castsi256_si128(v), b = _mm256_extracti128_si256(v, 1);
    if (kind == 1) {
        *lo = _mm256_cvtph_ps(a);
        *hi = _mm256_cvtph_ps(b);
    } else {
        *lo = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(a), 16));
        *hi = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16));
    }
}

SB_INLINE float load1(int kind, const uint8_t *row, int64_t c) {
    switch (kind) {
    case 0:
        return ((const float *)row)[c];
    case 1:
        return sb_fp16_to_f32(((const uint16_t *)row)[c]);
    default:
        return sb_bf16_to_f32(((const uint16_t *)row)[c]);
    }
}

SB_INLINE float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* NR rows x NT tokens (compile-time) from row r0, token t0; xkind: the
 * activations are F32 (0) or BF16 (2). */
SB_INLINE void micro(const sb_mm_dense *d, int wkind, int xkind, int64_t r0, const int NR, int t0, const int NT) {
    __m256 acc[R][T];
    const uint8_t *wr[R], *xr[T];
    for (int i = 0; i < NR; i++) {
        wr[i] = d->w + (size_t)(r0 + i) * d->w_stride;
        for (int j = 0; j < NT; j++)
            acc[i][j] = _mm256_setzero_ps();
    }
    for (int j = 0; j < NT; j++)
        xr[j] = d->x + (size_t)(t0 + j) * d->x_stride;
    int64_t c = 0;
    for (; c + 16 <= d->cols; c += 16) {
        __m256 xl[T], xh[T];
        for (int j = 0; j < NT; j++)
            load16(xkind, xr[j], c, &xl[j], &xh[j]);
        for (int i = 0; i < NR; i++) {
            __m256 wl, wh;
            load16(wkind, wr[i], c, &wl, &wh);
            for (int j = 0; j < NT; j++)
                acc[i][j] = _mm256_fmadd_ps(wh, xh[j], _mm256_fmadd_ps(wl, xl[j], acc[i][j]));
        }
    }
    for (; c + 8 <= d->cols; c += 8) {
        __m256 xv[T];
        for (int j = 0; j < NT; j++)
            xv[j] = load8(xkind, xr[j], c);
        for (int i = 0; i < NR; i++) {
            const __m256 wv = load8(wkind, wr[i], c);
            for (int j = 0; j < NT; j++)
                acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) {
            float s = hsum8(acc[i][j]);
            for (int64_t cc = c; cc < d->cols; cc++)
                s += load1(wkind, wr[i], cc) * load1(xkind, xr[j], cc);
            float *y = d->y + (size_t)(t0 + j) * d->y_stride + r0 + i;
            *y = d->accumulate ? *y + s : s;
        }
}

SB_INLINE void micro_nt(const sb_mm_dense *d, int wkind, int xkind, int64_t r0, const int NR, int t0, int nt) {
    if (nt == 1)
        micro(d, wkind, xkind, r0, NR, t0, 1);
    else
        micro(d, wkind, xkind, r0, NR, t0, 2);
}

/* Decode with F16 weights and an activation row of up to this many values:
 * the row is narrowed back to F16 (see rows1_f16). */
#define XH_MAX 16384

/* One token x F16 rows, as rows1_f16 in mm_dense_avx512.c: x (F16-rounded
 * F32) narrowed back to F16 bits, exactly, so that it stays in L1 beside
 * the streamed row; one row at a time (one sequential stream) with four
 * accumulators. Against the 4-row micro-tile on this path (SOLEBOX_CPU_ISA=
 * avx2 on a Zen 4, TinyLlama-shaped F16 decode, paired with a read of the
 * same threads): see bench/solebox-bench-log.md. */
SB_INLINE void rows1_f16(const sb_mm_dense *d) {
    uint16_t xh[XH_MAX] __attribute__((aligned(32)));
    const float *xf = (const float *)d->x;
    const uint8_t *xb = (const uint8_t *)xh;
    int64_t c = 0;
    for (; c + 8 <= d->cols; c += 8)
        _mm_store_si128((__m128i *)(xh + c), _mm256_cvtps_ph(_mm256_loadu_ps(xf + c), _MM_FROUND_TO_NEAREST_INT));
    for (; c < d->cols; c++)
        xh[c] = sb_f32_to_fp16(xf[c]);
    for (int64_t r = 0; r < d->rows; r++) {
        const uint8_t *w = d->w + (size_t)r * d->w_stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        for (c = 0; c + 32 <= d->cols; c += 32) {
            __m256 w0, w1, w2, w3, x0, x1, x2, x3;
            load16(1, w, c, &w0, &w1);
            load16(1, w, c + 16, &w2, &w3);
            load16(1, xb, c, &x0, &x1);
            load16(1, xb, c + 16, &x2, &x3);
            a0 = _mm256_fmadd_ps(w0, x0, a0);
            a1 = _mm256_fmadd_ps(w1, x1, a1);
            a2 = _mm256_fmadd_ps(w2, x2, a2);
            a3 = _mm256_fmadd_ps(w3, x3, a3);
        }
        for (; c + 8 <= d->cols; c += 8)
            a0 = _mm256_fmadd_ps(load8(1, w, c), load8(1, xb, c), a0);
        float s = hsum8(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; c < d->cols; c++)
            s += load1(1, w, c) * load1(1, xb, c);
        float *y = d->y + r;
        *y = d->accumulate ? *y + s : s;
    }
}

SB_INLINE void dense(const sb_mm_dense *d, int wkind, int xkind) {
    if (d->nt == 1 && wkind == 1 && d->cols <= XH_MAX) {
        rows1_f16(d);
        return;
    }
    for (int t0 = 0; t0 < d->nt; t0 += T) {
        const int nt = d->nt - t0 < T ? d->nt - t0 : T;
        int64_t r0 = 0;
        for (; r0 + R <= d->rows; r0 += R)
            micro_nt(d, wkind, xkind, r0, R, t0, nt);
        switch (d->rows - r0) {
        case 1:
            micro_nt(d, wkind, xkind, r0, 1, t0, nt);
            break;
        case 2:
            micro_nt(d, wkind, xkind, r0, 2, t0, nt);
            break;
        case 3:
            micro_nt(d, wkind, xkind, r0, 3, t0, nt);
            break;
        default:
            break;
        }
    }
}

void sb_mm_dense_f32_avx2(const sb_mm_dense *d) { dense(d, 0, 0); }
void sb_mm_dense_f16_avx2(const sb_mm_dense *d) { dense(d, 1, 0); }
void sb_mm_dense_bf16_avx2(const sb_mm_dense *d) { dense(d, 2, 2); }
