/*
 * mm_q8_0_avx512.c - Q8_0 weights x Q8_0 activations, AVX-512 VNNI.
 *
 * One tile = 16 packed rows (one zmm lane each) x nt tokens. Per block of 32
 * columns: 8 vpdpbusd per token, each multiplying 4 weight bytes of every row
 * (stored +128, unsigned) by the token's 4 activation bytes (broadcast); the
 * int32 sum starts at the activation's corr = -128 * sum(x) so it ends as
 * the exact signed dot. Then one scale multiply-add per token in F32.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

SB_INLINE void tile_body(const sb_mm_tile *t, const int NT) {
    __m512 acc[SB_MM_NT];
    for (int j = 0; j < NT; j++)
        acc[j] = _mm512_loadu_ps(t->acc + 16 * j);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, 512, 32);
        const uint16_t *wd = sb_pk_gd(t->w, b, 512, 32);
        const sb_act_q8_0 *a[SB_MM_NT];
        __m512i s[SB_MM_NT];
        for (int j = 0; j < NT; j++) {
            a[j] = (const sb_act_q8_0 *)(t->x + (size_t)j * t->x_tstride + (size_t)b * t->x_bstride);
            s[j] = _mm512_set1_epi32(a[j]->corr);
        }
        for (int k = 0; k < 8; k++) {
            const __m512i wv = _mm512_load_si512((const void *)(w + 64 * k));
            for (int j = 0; j < NT; j++)
                s[j] = sb_dpbusd_bcast(s[j], wv, a[j]->qs + 4 * k);
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wd));
        for (int j = 0; j < NT; j++)
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j]), _mm512_mul_ps(dw, _mm512_set1_ps(a[j]->d)), acc[j]);
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(t->acc + 16 * j, acc[j]);
}

void sb_mm_tile_q8_0_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_body, t) }
