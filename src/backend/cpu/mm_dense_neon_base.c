/*
 * mm_dense_neon_base.c - F32, F16 and BF16 weights (GGUF row layout),
 * baseline NEON: 4 rows x up to 2 tokens per micro-tile, 8 columns per step
 * in two float32x4 halves, widened to F32 (FCVTL for F16, a 16-bit shift for
 * BF16); the column tail (cols % 8) in scalar code.
 */
#if defined(__aarch64__)
#include "mm_kernels.h"

#include "sb_half.h"

#include <arm_neon.h>

#define SB_INLINE static inline __attribute__((always_inline))
#define R 4
#define T 2

/* 8 elements at column c of a row as two F32 vectors. */
SB_INLINE void load8(int kind, const uint8_t *row, int64_t c, float32x4_t *lo, float32x4_t *hi) {
    if (kind == 0) {
        *lo = vld1q_f32((const float *)row + c);
        *hi = vld1q_f32((const float *)row + c + 4);
    } else if (kind == 1) {
        const float16x8_t h = vreinterpretq_f16_u16(vld1q_u16((const uint16_t *)row + c));
        *lo = vcvt_f32_f16(vget_low_f16(h));
        *hi = vcvt_high_f32_f16(h);
    } else {
        const uint16x8_t h = vld1q_u16((const uint16_t *)row + c);
        *lo = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(h), 16));
        *hi = vreinterpretq_f32_u32(vshll_high_n_u16(h, 16));
    }
}

SB_INLINE float load1(int kind, const uint8_t *row, int64_t c) {
    if (kind == 0)
        return ((const float *)row)[c];
    if (kind == 1)
        return sb_fp16_to_f32(((const uint16_t *)row)[c]);
    return sb_bf16_to_f32(((const uint16_t *)row)[c]);
}

/* NR rows x NT tokens (compile-time) from row r0, token t0. */
SB_INLINE void micro(const sb_mm_dense *d, int wkind, int xkind, int64_t r0, const int NR, int t0, const int NT) {
    float32x4_t acc[R][T];
    const uint8_t *wr[R], *xr[T];
    for (int i = 0; i < NR; i++) {
        wr[i] = d->w + (size_t)(r0 + i) * d->w_stride;
        for (int j = 0; j < NT; j++)
            acc[i][j] = vdupq_n_f32(0.0f);
    }
    for (int j = 0; j < NT; j++)
        xr[j] = d->x + (size_t)(t0 + j) * d->x_stride;
    int64_t c = 0;
    for (; c + 8 <= d->cols; c += 8) {
        float32x4_t xl[T], xh[T];
        for (int j = 0; j < NT; j++)
            load8(xkind, xr[j], c, &xl[j], &xh[j]);
        for (int i = 0; i < NR; i++) {
            float32x4_t wl, wh;
            load8(wkind, wr[i], c, &wl, &wh);
            for (int j = 0; j < NT; j++)
                acc[i][j] = vfmaq_f32(vfmaq_f32(acc[i][j], wl, xl[j]), wh, xh[j]);
        }
    }
    for (int i = 0; i < NR; i++)
        for (int j = 0; j < NT; j++) {
            float s = vaddvq_f32(acc[i][j]);
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

SB_INLINE void dense(const sb_mm_dense *d, int wkind, int xkind) {
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

void sb_mm_dense_f32_neon(const sb_mm_dense *d) { dense(d, 0, 0); }
void sb_mm_dense_f16_neon(const sb_mm_dense *d) { dense(d, 1, 0); }
void sb_mm_dense_bf16_neon(const sb_mm_dense *d) { dense(d, 2, 2); }
#endif
