/*
 * mm_neon_impl.h - the NEON int8 tiles (Q8_0, Q4_0, Q5_0, Q5_1, Q4_1, Q4_K,
 * Q5_K, Q6_K), written
 * once and compiled twice: by mm_tiles_neon.c with the dotprod extension
 * (SB_NEON_DOT 1: vdotq_laneq_s32, 16 multiply-adds per instruction) and by
 * mm_tiles_neon_base.c for baseline ARMv8-A (SB_NEON_DOT 0: vmull_s8 +
 * vpaddq_s16 + vpadalq_s16, no int16 overflow because every product pair is
 * at most 2 x 128 x 127). Define SB_NEON_DOT and SB_NEON_SUFFIX(name) before
 * including.
 *
 * Layout: a 64-byte load of the packed group is four int8x16 vectors, each
 * 4 rows x 4 bytes; one int32x4 accumulator per 4 rows. Tokens two at a time
 * (32 vector registers). Q8_0 quants are stored +128 and flipped back to
 * signed here, so its activation offset is 0; Q4_0 uses corr = -8 * sum(x),
 * Q6_K corr = -32 * sum(x) per sub-block, as on x86.
 */
#include "mm_kernels.h"

#include <arm_neon.h>
#include <string.h>

#define SB_INLINE static inline __attribute__((always_inline))

/* acc[r] += dot(4 bytes of row r of w, 4 bytes of x at lane `lane` of xv).
 * The lane must be an immediate: the switch folds away once the callers'
 * loops are unrolled (lane is always a constant there). */
SB_INLINE int32x4_t dot4(int32x4_t acc, int8x16_t w, int8x16_t xv, const int lane) {
#if SB_NEON_DOT
    switch (lane) {
    case 0: return vdotq_laneq_s32(acc, w, xv, 0);
    case 1: return vdotq_laneq_s32(acc, w, xv, 1);
    case 2: return vdotq_laneq_s32(acc, w, xv, 2);
    default: return vdotq_laneq_s32(acc, w, xv, 3);
    }
#else
    int32x4_t xl;
    switch (lane) {
    case 0: xl = vdupq_laneq_s32(vreinterpretq_s32_s8(xv), 0); break;
    case 1: xl = vdupq_laneq_s32(vreinterpretq_s32_s8(xv), 1); break;
    case 2: xl = vdupq_laneq_s32(vreinterpretq_s32_s8(xv), 2); break;
    default: xl = vdupq_laneq_s32(vreinterpretq_s32_s8(xv), 3); break;
    }
    const int8x16_t xb = vreinterpretq_s8_s32(xl);
    const int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(xb));
    const int16x8_t q = vmull_high_s8(w, xb);
    return vpadalq_s16(acc, vpaddq_s16(p, q));
#endif
}
#define DOT4(acc, w, xv, lane) dot4((acc), (w), (xv), (lane))

SB_INLINE int8x16_t ld(const uint8_t *p) { return vreinterpretq_s8_u8(vld1q_u8(p)); }

/* Loads 4 fp16 scales as F32. */
SB_INLINE float32x4_t ld_f16x4(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

/* ---- the 32-element formats (Q8_0 and the nibble formats) ---- */

/* Block b's activations for the NT (1 or 2) tokens from j0: a[j], its 32
 * quants as x0[j] / x1[j], and the four int32 sums of 4 rows started at
 * corr (start_corr) or at 0. */
SB_INLINE void pair_acts(const sb_mm_tile *t, int j0, int64_t b, const bool start_corr, const int NT,
                         const sb_act_q8_0 *a[2], int32x4_t s[2][4], int8x16_t x0[2], int8x16_t x1[2]) {
    for (int j = 0; j < NT; j++) {
        a[j] = (const sb_act_q8_0 *)(t->x + (size_t)(j0 + j) * t->x_tstride + (size_t)b * t->x_bstride);
        for (int r = 0; r < 4; r++)
            s[j][r] = vdupq_n_s32(start_corr ? a[j]->corr : 0);
        x0[j] = vld1q_s8(a[j]->qs);
        x1[j] = vld1q_s8(a[j]->qs + 16);
    }
}

/* acc += the block's int32 sums times d_w * d_x, and with a min (MIN) the
 * min term m * d_x * sum(x), sum(x) being -corr; wd: the block's 16 scales
 * (then its 16 mins). The F32 sums live in the tile's acc array: 32
 * registers hold the int32 sums, activations and weights, not also 8
 * accumulators. */
SB_INLINE void pair_scale(const sb_mm_tile *t, int j0, const uint16_t *wd, const bool MIN, const int NT,
                          const sb_act_q8_0 *a[2], int32x4_t s[2][4]) {
    for (int r = 0; r < 4; r++) {
        const float32x4_t dw = ld_f16x4(wd + 4 * r);
        const float32x4_t dm = MIN ? ld_f16x4(wd + SB_MM_ROWS + 4 * r) : vdupq_n_f32(0.0f);
        for (int j = 0; j < NT; j++) {
            float *accp = t->acc + 16 * (j0 + j) + 4 * r;
            float32x4_t acc = vfmaq_f32(vld1q_f32(accp), vcvtq_f32_s32(s[j][r]), vmulq_n_f32(dw, a[j]->d));
            if (MIN)
                acc = vfmaq_n_f32(acc, dm, a[j]->d * -(float)a[j]->corr);
            vst1q_f32(accp, acc);
        }
    }
}

/* ---- Q8_0 ---- */

SB_INLINE void q8_0_pair(const sb_mm_tile *t, int j0, const int NT) {
    const uint8x16_t flip = vdupq_n_u8(0x80);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, 512, 32);
        const uint16_t *wd = sb_pk_gd(t->w, b, 512, 32);
        const sb_act_q8_0 *a[2];
        int32x4_t s[2][4];
        int8x16_t x0[2], x1[2];
        pair_acts(t, j0, b, true, NT, a, s, x0, x1);
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                const int8x16_t v = vreinterpretq_s8_u8(veorq_u8(vld1q_u8(w + 64 * k + 16 * r), flip));
                for (int j = 0; j < NT; j++)
                    s[j][r] = DOT4(s[j][r], v, k < 4 ? x0[j] : x1[j], k & 3);
            }
        pair_scale(t, j0, wd, false, NT, a, s);
    }
}

void SB_NEON_SUFFIX(sb_mm_tile_q8_0)(const sb_mm_tile *t) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        q8_0_pair(t, j, 2);
    if (j < t->nt)
        q8_0_pair(t, j, 1);
}

/* ---- Q4_0, Q4_1, Q5_0 and Q5_1 (the 32-element nibble formats) ----
 * Without a min the int32 sum starts at corr = -8 (Q4_0) or -16 (Q5_0)
 * times sum(x); Q4_1 and Q5_1 start at 0 and add the min term
 * m * d_x * sum(x), sum(x) being -corr. The fifth bit of Q5_0 / Q5_1 comes
 * from hb (mm_kernels.h) by one shift and mask per load. */

SB_INLINE void nibble_pair(const sb_mm_tile *t, int j0, const bool HB, const bool MIN, const int NT) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F), bit4 = vdupq_n_u8(0x10);
    const size_t mb = HB ? 320 : 256, sbytes = MIN ? 64 : 32;
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, mb, sbytes);
        const uint16_t *wd = sb_pk_gd(t->w, b, mb, sbytes);
        const uint8_t *q = w + (HB ? 64 : 0);
        const sb_act_q8_0 *a[2];
        int32x4_t s[2][4];
        int8x16_t x0[2], x1[2];
        pair_acts(t, j0, b, !MIN, NT, a, s, x0, x1);
        uint16x8_t hb[4];
        for (int r = 0; r < 4; r++)
            hb[r] = HB ? vld1q_u16((const uint16_t *)(w + 16 * r)) : vdupq_n_u16(0);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
#pragma GCC unroll 4
            for (int r = 0; r < 4; r++) {
                const uint8x16_t v = vld1q_u8(q + 64 * k + 16 * r);
                uint8x16_t lo = vandq_u8(v, m4), hi = vshrq_n_u8(v, 4);
                if (HB) {
                    const uint8x16_t hl = vreinterpretq_u8_u16(vshlq_u16(hb[r], vdupq_n_s16((int16_t)(4 - 2 * k))));
                    const uint8x16_t hh = vreinterpretq_u8_u16(vshlq_u16(hb[r], vdupq_n_s16((int16_t)(3 - 2 * k))));
                    lo = vorrq_u8(lo, vandq_u8(hl, bit4));
                    hi = vorrq_u8(hi, vandq_u8(hh, bit4));
                }
                for (int j = 0; j < NT; j++) {
                    s[j][r] = DOT4(s[j][r], vreinterpretq_s8_u8(lo), x0[j], k);
                    s[j][r] = DOT4(s[j][r], vreinterpretq_s8_u8(hi), x1[j], k);
                }
            }
        pair_scale(t, j0, wd, MIN, NT, a, s);
    }
}

/* Runs a tile two tokens at a time. */
SB_INLINE void nibble_tile(const sb_mm_tile *t, const bool HB, const bool MIN) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        nibble_pair(t, j, HB, MIN, 2);
    if (j < t->nt)
        nibble_pair(t, j, HB, MIN, 1);
}

void SB_NEON_SUFFIX(sb_mm_tile_q4_0)(const sb_mm_tile *t) { nibble_tile(t, false, false); }
void SB_NEON_SUFFIX(sb_mm_tile_q5_0)(const sb_mm_tile *t) { nibble_tile(t, true, false); }
void SB_NEON_SUFFIX(sb_mm_tile_q5_1)(const sb_mm_tile *t) { nibble_tile(t, true, true); }
void SB_NEON_SUFFIX(sb_mm_tile_q4_1)(const sb_mm_tile *t) { nibble_tile(t, false, true); }

/* ---- Q4_K and Q5_K ---- */

SB_INLINE void qk_pair(const sb_mm_tile *t, int j0, const bool q5, const int NT) {
    const uint32x4_t m4 = vdupq_n_u32(0x0F0F0F0F), m6 = vdupq_n_u32(0x3F3F3F3F), m30 = vdupq_n_u32(0x30303030);
    const uint32x4_t bit4 = vdupq_n_u32(0x10101010), ff = vdupq_n_u32(0xFF);
    const size_t gb = q5 ? 2816 : 2304;
    const uint8_t *w = t->w;
    for (int64_t b = 0; b < t->nb; b++, w += gb) {
        const sb_act_q8_K *a[2];
        for (int j = 0; j < NT; j++)
            a[j] = (const sb_act_q8_K *)(t->x + (size_t)(j0 + j) * t->x_tstride + (size_t)b * t->x_bstride);
        for (int r = 0; r < 4; r++) { /* 4 rows at a time */
            const uint32x4_t D0 = vld1q_u32((const uint32_t *)(w + 64 + 16 * r));
            const uint32x4_t D1 = vld1q_u32((const uint32_t *)(w + 128 + 16 * r));
            const uint32x4_t D2 = vld1q_u32((const uint32_t *)(w + 192 + 16 * r));
            const uint32x4_t sc_lo = vandq_u32(D0, m6);
            const uint32x4_t sc_hi = vorrq_u32(vandq_u32(D2, m4), vandq_u32(vshrq_n_u32(D0, 2), m30));
            const uint32x4_t mn_lo = vandq_u32(D1, m6);
            const uint32x4_t mn_hi = vorrq_u32(vandq_u32(vshrq_n_u32(D2, 4), m4), vandq_u32(vshrq_n_u32(D1, 2), m30));
            int32x4_t isum[2], msum[2];
            for (int j = 0; j < NT; j++)
                isum[j] = msum[j] = vdupq_n_s32(0);
            const uint8_t *q = w + 256 + (q5 ? 512 : 0) + 16 * r;
            for (int sb = 0; sb < 8; sb++) {
                int32x4_t s[2];
                int8x16_t xa[2], xb[2];
                for (int j = 0; j < NT; j++) {
                    s[j] = vdupq_n_s32(0);
                    xa[j] = vld1q_s8(a[j]->qs + 32 * sb);
                    xb[j] = vld1q_s8(a[j]->qs + 32 * sb + 16);
                }
                const int32x4_t hshift = vdupq_n_s32(4 - sb); /* bit sb of qh -> bit 4 */
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++) {
                    const uint8x16_t v = vld1q_u8(q + (sb / 2) * 512 + 64 * k);
                    uint8x16_t nib = (sb & 1) ? vshrq_n_u8(v, 4) : vandq_u8(v, vreinterpretq_u8_u32(m4));
                    if (q5) {
                        const uint32x4_t hv = vld1q_u32((const uint32_t *)(w + 256 + 64 * k + 16 * r));
                        nib = vorrq_u8(nib, vreinterpretq_u8_u32(vandq_u32(vshlq_u32(hv, hshift), bit4)));
                    }
                    for (int j = 0; j < NT; j++)
                        s[j] = DOT4(s[j], vreinterpretq_s8_u8(nib), k < 4 ? xa[j] : xb[j], k & 3);
                }
                const uint32x4_t scv = vandq_u32(vshlq_u32(sb < 4 ? sc_lo : sc_hi, vdupq_n_s32(-8 * (sb & 3))), ff);
                const uint32x4_t mnv = vandq_u32(vshlq_u32(sb < 4 ? mn_lo : mn_hi, vdupq_n_s32(-8 * (sb & 3))), ff);
                for (int j = 0; j < NT; j++) {
                    isum[j] = vmlaq_s32(isum[j], s[j], vreinterpretq_s32_u32(scv));
                    msum[j] = vmlaq_n_s32(msum[j], vreinterpretq_s32_u32(mnv), a[j]->s32[sb]);
                }
            }
            const float32x4_t d = ld_f16x4((const uint16_t *)w + 4 * r);
            const float32x4_t dmin = ld_f16x4((const uint16_t *)(w + 32) + 4 * r);
            for (int j = 0; j < NT; j++) {
                float *accp = t->acc + 16 * (j0 + j) + 4 * r;
                float32x4_t acc = vld1q_f32(accp);
                acc = vfmaq_f32(acc, vcvtq_f32_s32(isum[j]), vmulq_n_f32(d, a[j]->d));
                acc = vfmsq_f32(acc, vcvtq_f32_s32(msum[j]), vmulq_n_f32(dmin, a[j]->d));
                vst1q_f32(accp, acc);
            }
        }
    }
}

void SB_NEON_SUFFIX(sb_mm_tile_q4_K)(const sb_mm_tile *t) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        qk_pair(t, j, false, 2);
    if (j < t->nt)
        qk_pair(t, j, false, 1);
}

void SB_NEON_SUFFIX(sb_mm_tile_q5_K)(const sb_mm_tile *t) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        qk_pair(t, j, true, 2);
    if (j < t->nt)
        qk_pair(t, j, true, 1);
}

/* ---- Q6_K ---- */

SB_INLINE void q6_pair(const sb_mm_tile *t, int j0, const int NT) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F), m30 = vdupq_n_u8(0x30);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, 3328, 32);
        const uint16_t *wd = sb_pk_gd(t->w, b, 3328, 32);
        const sb_act_q8_K *a[2];
        for (int j = 0; j < NT; j++)
            a[j] = (const sb_act_q8_K *)(t->x + (size_t)(j0 + j) * t->x_tstride + (size_t)b * t->x_bstride);
        for (int r = 0; r < 4; r++) {
            int32x4_t isum[2];
            for (int j = 0; j < NT; j++)
                isum[j] = vdupq_n_s32(0);
            for (int h = 0; h < 2; h++)
                for (int p = 0; p < 4; p++) {
                    const uint8_t *ql = w + 256 + h * 1536 + (p & 1) * 64 + 16 * r; /* k stride 192 */
                    const uint8_t *qh = w + 256 + h * 1536 + 128 + 16 * r;
                    const int32x4_t hshift = vdupq_n_s32(4 - 2 * p);
                    for (int half = 0; half < 2; half++) {
                        const int sub = 8 * h + 2 * p + half;
                        int32x4_t s[2];
                        int8x16_t xv[2];
                        for (int j = 0; j < NT; j++) {
                            s[j] = vdupq_n_s32(a[j]->corr[sub]);
                            xv[j] = vld1q_s8(a[j]->qs + 128 * h + 32 * p + 16 * half);
                        }
#pragma GCC unroll 4
                        for (int kk = 0; kk < 4; kk++) {
                            const int k = 4 * half + kk;
                            const uint8x16_t L = vld1q_u8(ql + 192 * k);
                            const uint32x4_t H = vld1q_u32((const uint32_t *)(qh + 192 * k));
                            const uint8x16_t lo = (p >> 1) ? vshrq_n_u8(L, 4) : vandq_u8(L, m4);
                            const uint8x16_t hi = vandq_u8(vreinterpretq_u8_u32(vshlq_u32(H, hshift)), m30);
                            const int8x16_t q = vreinterpretq_s8_u8(vorrq_u8(lo, hi));
                            for (int j = 0; j < NT; j++)
                                s[j] = DOT4(s[j], q, xv[j], kk);
                        }
                        const int32x4_t sc =
                            vmovl_s16(vget_low_s16(vmovl_s8(vld1_s8((const int8_t *)w + 16 * sub + 4 * r))));
                        for (int j = 0; j < NT; j++)
                            isum[j] = vmlaq_s32(isum[j], s[j], sc);
                    }
                }
            const float32x4_t d = ld_f16x4(wd + 4 * r);
            for (int j = 0; j < NT; j++) {
                float *accp = t->acc + 16 * (j0 + j) + 4 * r;
                vst1q_f32(accp, vfmaq_f32(vld1q_f32(accp), vcvtq_f32_s32(isum[j]), vmulq_n_f32(d, a[j]->d)));
            }
        }
    }
}

void SB_NEON_SUFFIX(sb_mm_tile_q6_K)(const sb_mm_tile *t) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        q6_pair(t, j, 2);
    if (j < t->nt)
        q6_pair(t, j, 1);
}
