/*
 * mm_q4_0_avx512.c - Q4_0 weights x Q8_0 activations, AVX-512 VNNI.
 *
 * A 64-byte load holds 4 bytes of each of 16 rows; its low nibbles are
 * columns 4k..4k+3 of the block and its high nibbles columns 16+4k..16+4k+3.
 * The nibbles (0..15) go into vpdpbusd unsigned; the int32 sum starts at
 * corr = -8 * sum(x), which makes it the exact dot with (q - 8).
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

SB_INLINE void tile_body(const sb_mm_tile *t, const int NT) {
    __m512 acc[SB_MM_NT];
    for (int j = 0; j < NT; j++)
        acc[j] = _mm512_loadu_ps(t->acc + 16 * j);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, 256, 32);
        const uint16_t *wd = sb_pk_gd(t->w, b, 256, 32);
        const sb_act_q8_0 *a[SB_MM_NT];
        __m512i s[SB_MM_NT];
        for (int j = 0; j < NT; j++) {
            a[j] = (const sb_act_q8_0 *)(t->x + (size_t)j * t->x_tstride + (size_t)b * t->x_bstride);
            s[j] = _mm512_set1_epi32(a[j]->corr);
        }
        for (int k = 0; k < 4; k++) {
            const __m512i v = sb_ld512((const void *)(w + 64 * k));
            const __m512i lo = _mm512_and_si512(v, m4);
            const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            for (int j = 0; j < NT; j++) {
                s[j] = sb_dpbusd_bcast(s[j], lo, a[j]->qs + 4 * k);
                s[j] = sb_dpbusd_bcast(s[j], hi, a[j]->qs + 16 + 4 * k);
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wd));
        for (int j = 0; j < NT; j++)
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j]), _mm512_mul_ps(dw, _mm512_set1_ps(a[j]->d)), acc[j]);
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(t->acc + 16 * j, acc[j]);
}

void sb_mm_tile_q4_0_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_body, t) }
