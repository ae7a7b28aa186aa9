/*
 * quantize_k.c - reference quantizers of the K-quants (Q4_K, Q5_K, Q6_K).
 *
 * They follow ggml's quantize_row_q{4,5,6}_K_ref step for step (the scale
 * search of make_qkx2_quants / make_qx_quants, the same float operations in
 * the same order), which is what llama-quantize runs when it has no
 * importance matrix, so `solebox quantize` writes the same blocks. This file
 * is compiled with -ffp-contract=off so that no multiply-add is fused where
 * ggml's x86 build does not fuse one.
 */
#include "quant_ref.h"

#include "sb_half.h"

#include <math.h>

#define GROUP_MAX_EPS 1e-15f

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }

/* Fits x[i] ~ scale * L[i] - min with L in 0..nmax by trying nstep+1 scales
 * around nmax / (max - min) and keeping the least weighted squared error
 * (ggml make_qkx2_quants, use_mad false). Returns the scale; *the_min gets
 * the (non-negative) offset. Laux is scratch of n bytes. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                              uint8_t *Laux, float rmin, float rdelta, int nstep) {
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        const float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        const int l = sb_nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)imax(0, imin(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = diff * diff;
        best_error += weights[i] * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = sb_nearest_int(iscale * (x[i] - min));
            l = imax(0, imin(nmax, l));
            Laux[i] = (uint8_t)l;
            const float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        const float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = diff * diff;
                cur_error += weights[i] * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; i++)
                    L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* Symmetric fit x[i] ~ scale * (L[i] - nmax), L in 0..2*nmax-1, weighting
 * each element by x^2 and trying 19 scales around -nmax / max (ggml
 * make_qx_quants with rmse_type 1 and no importance weights). */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        const float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = sb_nearest_int(iscale * x[i]);
        l = imax(-nmax, imin(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        const float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = sb_nearest_int(iscale * x[i]);
            l = imax(-nmax, imin(nmax - 1, l));
            const float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                const int l = sb_nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Packs 6-bit scale ls and min lm of sub-block j into the 12 scale bytes. */
static void pack_scale_min(uint8_t *scales, int j, uint8_t ls, uint8_t lm) {
    if (j < 4) {
        scales[j] = ls;
        scales[j + 4] = lm;
    } else {
        scales[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
        scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
        scales[j - 0] |= (uint8_t)((lm >> 4) << 6);
    }
}

/* Shared by Q4_K and Q5_K: finds the 8 sub-block scales/mins of one
 * super-block, stores d, dmin and the packed scales, and returns the final
 * quants (0..nmax) in L, re-derived from the rounded scales. */
static void quantize_k_superblock(const float *x, int nmax, float rmin, int nstep, uint16_t *yd, uint16_t *ydmin,
                                  uint8_t *yscales, uint8_t *L) {
    uint8_t Laux[32];
    float weights[32], mins[SB_QK_K / 32], scales[SB_QK_K / 32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < SB_QK_K / 32; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++)
            sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++)
            weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = make_qkx2_quants(32, nmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin, 0.1f, nstep);
        if (scales[j] > max_scale)
            max_scale = scales[j];
        if (mins[j] > max_min)
            max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    memset(yscales, 0, SB_K_SCALE_SIZE);
    for (int j = 0; j < SB_QK_K / 32; j++) {
        uint8_t ls = (uint8_t)sb_nearest_int(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)sb_nearest_int(inv_min * mins[j]);
        ls = ls < 63 ? ls : 63;
        lm = lm < 63 ? lm : 63;
        pack_scale_min(yscales, j, ls, lm);
    }
    *yd = sb_f32_to_fp16(max_scale / 63.f);
    *ydmin = sb_f32_to_fp16(max_min / 63.f);
    for (int j = 0; j < SB_QK_K / 32; j++) {
        uint8_t sc, m;
        sb_q4k_scale_min(j, yscales, &sc, &m);
        const float d = sb_fp16_to_f32(*yd) * sc;
        if (d == 0.0f)
            continue;
        const float dm = sb_fp16_to_f32(*ydmin) * m;
        for (int ii = 0; ii < 32; ii++) {
            const int l = sb_nearest_int((x[32 * j + ii] + dm) / d);
            L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
        }
    }
}

/* Q4_K (ggml quantize_row_q4_K_ref). */
void sb_ref_quant_q4_K(const float *x, sb_block_q4_K *y, int64_t n) {
    uint8_t L[SB_QK_K];
    for (int64_t b = 0; b < n / SB_QK_K; b++, x += SB_QK_K) {
        quantize_k_superblock(x, 15, -1.f, 20, &y[b].d, &y[b].dmin, y[b].scales, L);
        uint8_t *q = y[b].qs;
        for (int j = 0; j < SB_QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++)
                q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

/* Q5_K (ggml quantize_row_q5_K_ref). */
void sb_ref_quant_q5_K(const float *x, sb_block_q5_K *y, int64_t n) {
    uint8_t L[SB_QK_K];
    for (int64_t b = 0; b < n / SB_QK_K; b++, x += SB_QK_K) {
        quantize_k_superblock(x, 31, -0.5f, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
        uint8_t *qh = y[b].qh, *ql = y[b].qs;
        memset(qh, 0, SB_QK_K / 8);
        uint8_t m1 = 1, m2 = 2;
        for (int c = 0; c < SB_QK_K; c += 64, ql += 32, m1 <<= 2, m2 <<= 2) {
            for (int j = 0; j < 32; j++) {
                int l1 = L[c + j], l2 = L[c + j + 32];
                if (l1 > 15) {
                    l1 -= 16;
                    qh[j] |= m1;
                }
                if (l2 > 15) {
                    l2 -= 16;
                    qh[j] |= m2;
                }
                ql[j] = (uint8_t)(l1 | (l2 << 4));
            }
        }
    }
}

/* Q6_K (ggml quantize_row_q6_K_ref). */
void sb_ref_quant_q6_K(const float *x, sb_block_q6_K *y, int64_t n) {
    int8_t L[SB_QK_K];
    float scales[SB_QK_K / 16];
    for (int64_t b = 0; b < n / SB_QK_K; b++, x += SB_QK_K) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < SB_QK_K / 16; ib++) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            if (fabsf(scale) > max_abs_scale) {
                max_abs_scale = fabsf(scale);
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -128.f / max_scale;
        y[b].d = sb_f32_to_fp16(1 / iscale);
        for (int ib = 0; ib < SB_QK_K / 16; ib++)
            y[b].scales[ib] = (int8_t)imin(127, sb_nearest_int(iscale * scales[ib]));
        for (int j = 0; j < SB_QK_K / 16; j++) {
            const float d = sb_fp16_to_f32(y[b].d) * y[b].scales[j];
            if (d == 0.0f)
                continue;
            for (int ii = 0; ii < 16; ii++) {
                const int l = sb_nearest_int(x[16 * j + ii] / d);
                L[16 * j + ii] = (int8_t)(imax(-32, imin(31, l)) + 32);
            }
        }
        uint8_t *ql = y[b].ql, *qh = y[b].qh;
        for (int j = 0; j < SB_QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF;
                const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}
