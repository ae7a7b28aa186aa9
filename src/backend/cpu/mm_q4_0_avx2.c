/*
 * mm_q4_0_avx2.c - the 32-element nibble formats (Q4_0, Q4_1, Q5_0, Q5_1)
 * x Q8_0 activations, AVX2 (layouts in mm_kernels.h; the AVX-512 form is
 * mm_q4_0_avx512.c).
 *
 * The 16 rows of a packed group are two ymm halves (rows 0-7 and 8-15 of
 * each 64-byte load), one 32-bit lane per row. The quants (0..15, or 0..31
 * with the fifth bit from hb) go into vpmaddubsw unsigned against the
 * signed activation bytes. 4-bit quants let a whole block of int16 pair
 * sums add up (8 x 2 x 15 x 127) before one widening to int32; 5-bit ones
 * reach 2 x 2 x 31 x 128 per load, so each load's sums are widened at once.
 * Without a min the int32 sum starts at corr = -8 (Q4_0) or -16 (Q5_0)
 * times sum(x), making it the dot with (q - 8) or (q - 16); Q4_1 and Q5_1
 * (w = d * q + m) start at 0 and add the min term m * d_x * sum(x), sum(x)
 * being -corr. AVX2 has 16 ymm registers, so tokens go two at a time.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

/* x with bit 4 of every byte set from bit (4 - SHIFT) of hb's byte. */
SB_INLINE __m256i or_bit4(__m256i x, __m256i hb, const int shift) {
    const __m256i h = shift >= 0 ? _mm256_slli_epi16(hb, shift) : _mm256_srli_epi16(hb, -shift);
    return _mm256_or_si256(x, _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
}

SB_INLINE void nibble_pair(const sb_mm_tile *t, int j0, const bool HB, const bool MIN, const int NT) {
    const size_t mb = HB ? 320 : 256, sb = MIN ? 64 : 32;
    __m256 acc[2][2];
    for (int j = 0; j < NT; j++)
        for (int h = 0; h < 2; h++)
            acc[j][h] = _mm256_loadu_ps(t->acc + 16 * (j0 + j) + 8 * h);
    const __m256i m4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, mb, sb);
        const uint16_t *wd = sb_pk_gd(t->w, b, mb, sb);
        const uint8_t *q = w + (HB ? 64 : 0);
        const sb_act_q8_0 *a[2];
        __m256i s[2][2], p16[2][2];
        for (int j = 0; j < NT; j++) {
            a[j] = (const sb_act_q8_0 *)(t->x + (size_t)(j0 + j) * t->x_tstride + (size_t)b * t->x_bstride);
            s[j][0] = s[j][1] = MIN ? _mm256_setzero_si256() : _mm256_set1_epi32(a[j]->corr);
            p16[j][0] = p16[j][1] = _mm256_setzero_si256();
        }
        const __m256i hb[2] = {HB ? sb_ld256(w) : _mm256_setzero_si256(), HB ? sb_ld256(w + 32) : _mm256_setzero_si256()};
        for (int k = 0; k < 4; k++) {
            for (int h = 0; h < 2; h++) {
                const __m256i v = sb_ld256(q + 64 * k + 32 * h);
                __m256i lo = _mm256_and_si256(v, m4);
                __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
                if (HB) {
                    lo = or_bit4(lo, hb[h], 4 - 2 * k);
                    hi = or_bit4(hi, hb[h], 3 - 2 * k);
                }
                for (int j = 0; j < NT; j++) {
                    const __m256i xl = _mm256_set1_epi32(sb_ld32(a[j]->qs + 4 * k));
                    const __m256i xh = _mm256_set1_epi32(sb_ld32(a[j]->qs + 16 + 4 * k));
                    const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_maddubs_epi16(hi, xh));
                    if (HB)
                        s[j][h] = _mm256_add_epi32(s[j][h], _mm256_madd_epi16(p, ones));
                    else
                        p16[j][h] = _mm256_add_epi16(p16[j][h], p);
                }
            }
        }
        const __m256 d0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)wd));
        const __m256 d1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + 8)));
        for (int j = 0; j < NT; j++) {
            if (!HB)
                for (int h = 0; h < 2; h++)
                    s[j][h] = _mm256_add_epi32(s[j][h], _mm256_madd_epi16(p16[j][h], ones));
            const __m256 dx = _mm256_set1_ps(a[j]->d);
            acc[j][0] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[j][0]), _mm256_mul_ps(d0, dx), acc[j][0]);
            acc[j][1] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[j][1]), _mm256_mul_ps(d1, dx), acc[j][1]);
        }
        if (MIN) {
            const __m256 m0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + SB_MM_ROWS)));
            const __m256 m1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + SB_MM_ROWS + 8)));
            for (int j = 0; j < NT; j++) {
                const __m256 sx = _mm256_set1_ps(a[j]->d * -(float)a[j]->corr);
                acc[j][0] = _mm256_fmadd_ps(m0, sx, acc[j][0]);
                acc[j][1] = _mm256_fmadd_ps(m1, sx, acc[j][1]);
            }
        }
    }
    for (int j = 0; j < NT; j++)
        for (int h = 0; h < 2; h++)
            _mm256_storeu_ps(t->acc + 16 * (j0 + j) + 8 * h, acc[j][h]);
}

/* Runs a tile two tokens at a time. */
SB_INLINE void nibble_tile(const sb_mm_tile *t, const bool HB, const bool MIN) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        nibble_pair(t, j, HB, MIN, 2);
    if (j < t->nt)
        nibble_pair(t, j, HB, MIN, 1);
}

void sb_mm_tile_q4_0_avx2(const sb_mm_tile *t) { nibble_tile(t, false, false); }
void sb_mm_tile_q5_0_avx2(const sb_mm_tile *t) { nibble_tile(t, true, false); }
void sb_mm_tile_q5_1_avx2(const sb_mm_tile *t) { nibble_tile(t, true, true); }
void sb_mm_tile_q4_1_avx2(const sb_mm_tile *t) { nibble_tile(t, false, true); }
