/*
 * mm_q4_0_avx512.c - the 32-element nibble formats (Q4_0, Q4_1, Q5_0,
 * Q5_1) x Q8_0 activations, AVX-512 VNNI (layouts in mm_kernels.h).
 *
 * A 64-byte load holds 4 bytes of each of 16 rows; its low nibbles are
 * columns 4k..4k+3 of the block and its high nibbles columns 16+4k..16+4k+3.
 * For Q5_0 and Q5_1 the fifth bit of every quant sits in hb, arranged so
 * that for load k one 16-bit shift and a masked OR (vpternlogd) put it at
 * bit 4 of the low (high) nibble bytes. The quants (0..15 or 0..31) go into
 * vpdpbusd unsigned. Without a min the int32 sum starts at corr = -8 (Q4_0)
 * or -16 (Q5_0) times sum(x), which makes it the exact dot with (q - 8) or
 * (q - 16). Q4_1 and Q5_1 (w = d * q + m) start at 0 and add the min term
 * m * d_x * sum(x) per block, sum(x) being -corr (SB_MM_MIN_OFFSET).
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

/* x with bit 4 of every byte replaced by bit (4 - SHIFT) of hb's byte
 * (SHIFT may be negative). x's bit 4 is clear. */
SB_INLINE __m512i or_bit4(__m512i x, __m512i hb, const int shift) {
    const __m512i h = shift >= 0 ? _mm512_slli_epi16(hb, shift) : _mm512_srli_epi16(hb, -shift);
    /* x | (h & 0x10): vpternlogd with A = x, B = h, C = 0x10 */
    return _mm512_ternarylogic_epi32(x, h, _mm512_set1_epi8(0x10), 0xF8);
}

SB_INLINE void tile_body(const sb_mm_tile *t, const bool HB, const bool MIN, const int NT) {
    const size_t mb = HB ? 320 : 256, sb = MIN ? 64 : 32;
    __m512 acc[SB_MM_NT];
    for (int j = 0; j < NT; j++)
        acc[j] = _mm512_loadu_ps(t->acc + 16 * j);
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, mb, sb);
        const uint16_t *wd = sb_pk_gd(t->w, b, mb, sb);
        const sb_act_q8_0 *a[SB_MM_NT];
        __m512i s[SB_MM_NT];
        for (int j = 0; j < NT; j++) {
            a[j] = (const sb_act_q8_0 *)(t->x + (size_t)j * t->x_tstride + (size_t)b * t->x_bstride);
            s[j] = MIN ? _mm512_setzero_si512() : _mm512_set1_epi32(a[j]->corr);
        }
        const __m512i hb = HB ? sb_ld512(w) : _mm512_setzero_si512();
        const uint8_t *q = w + (HB ? 64 : 0);
        for (int k = 0; k < 4; k++) {
            const __m512i v = sb_ld512(q + 64 * k);
            __m512i lo = _mm512_and_si512(v, m4);
            __m512i hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
            if (HB) {
                lo = or_bit4(lo, hb, 4 - 2 * k);
                hi = or_bit4(hi, hb, 3 - 2 * k);
            }
            for (int j = 0; j < NT; j++) {
                s[j] = sb_dpbusd_bcast(s[j], lo, a[j]->qs + 4 * k);
                s[j] = sb_dpbusd_bcast(s[j], hi, a[j]->qs + 16 + 4 * k);
            }
        }
        const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wd));
        for (int j = 0; j < NT; j++)
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s[j]), _mm512_mul_ps(dw, _mm512_set1_ps(a[j]->d)), acc[j]);
        if (MIN) {
            const __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(wd + SB_MM_ROWS)));
            for (int j = 0; j < NT; j++)
                acc[j] = _mm512_fmadd_ps(dm, _mm512_set1_ps(a[j]->d * -(float)a[j]->corr), acc[j]);
        }
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(t->acc + 16 * j, acc[j]);
}

void sb_mm_tile_q4_0_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_body, t, false, false) }
void sb_mm_tile_q5_0_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_body, t, true, false) }
void sb_mm_tile_q5_1_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_body, t, true, true) }
void sb_mm_tile_q4_1_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_body, t, false, true) }
