/*
 * mm_q8_0_avx2.c - Q8_0 weights x Q8_0 activations, AVX2 (the nibble
 * formats are in mm_q4_0_avx2.c).
 *
 * The 16 rows of a packed group are two ymm halves (rows 0-7 and 8-15 of
 * each 64-byte load), one 32-bit lane per row. vpmaddubsw multiplies
 * unsigned by signed bytes into int16 pairs: Q8_0 (stored +128) is turned
 * back to signed and multiplied as |w| x sign(x, w), which cannot saturate
 * (at most 2 x 128 x 127). AVX2 has 16 ymm registers, so tokens are
 * processed two at a time.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

/* Sums of 4 adjacent int8 products per 32-bit lane, signed x signed. */
SB_INLINE __m256i dot_ss(__m256i w, __m256i x) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

SB_INLINE void q8_0_pair(const sb_mm_tile *t, int j0, const int NT) {
    __m256 acc[2][2];
    for (int j = 0; j < NT; j++)
        for (int h = 0; h < 2; h++)
            acc[j][h] = _mm256_loadu_ps(t->acc + 16 * (j0 + j) + 8 * h);
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, 512, 32);
        const uint16_t *wd = sb_pk_gd(t->w, b, 512, 32);
        const sb_act_q8_0 *a[2];
        __m256i s[2][2];
        for (int j = 0; j < NT; j++) {
            a[j] = (const sb_act_q8_0 *)(t->x + (size_t)(j0 + j) * t->x_tstride + (size_t)b * t->x_bstride);
            s[j][0] = s[j][1] = _mm256_setzero_si256();
        }
        for (int k = 0; k < 8; k++) {
            const __m256i w0 = _mm256_xor_si256(sb_ld256(w + 64 * k), flip);
            const __m256i w1 = _mm256_xor_si256(sb_ld256(w + 64 * k + 32), flip);
            for (int j = 0; j < NT; j++) {
                const __m256i xv = _mm256_set1_epi32(sb_ld32(a[j]->qs + 4 * k));
                s[j][0] = _mm256_add_epi32(s[j][0], dot_ss(w0, xv));
                s[j][1] = _mm256_add_epi32(s[j][1], dot_ss(w1, xv));
            }
        }
        const __m256 d0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)wd));
        const __m256 d1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + 8)));
        for (int j = 0; j < NT; j++) {
            const __m256 dx = _mm256_set1_ps(a[j]->d);
            acc[j][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[j][0]), _mm256_mul_ps(d0, dx), acc[j][0]);
            acc[j][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[j][1]), _mm256_mul_ps(d1, dx), acc[j][1]);
        }
    }
    for (int j = 0; j < NT; j++)
        for (int h = 0; h < 2; h++)
            _mm256_storeu_ps(t->acc + 16 * (j0 + j) + 8 * h, acc[j][h]);
}

void sb_mm_tile_q8_0_avx2(const sb_mm_tile *t) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        q8_0_pair(t, j, 2);
    if (j < t->nt)
        q8_0_pair(t, j, 1);
}
