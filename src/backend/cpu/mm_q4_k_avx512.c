/*
 * mm_q4_k_avx512.c - Q4_K and Q5_K weights x Q8_K activations, AVX-512 VNNI.
 *
 * Per super-block of 256 columns and 16 rows (one zmm lane each): the 6-bit
 * scales and mins of the 16 rows are unpacked once with a few byte-wise
 * shifts and masks; for each of the 8 sub-blocks, 8 vpdpbusd per token sum
 * nibble x activation (Q5_K adds the fifth bit from qh), the sum is scaled by
 * the sub-block's integer scale (vpmulld), and the mins contribute
 * sum_j m_j * sum(x of sub-block j) through 4 vpdpwssd on int16 pairs. One
 * F32 multiply-add per token and super-block applies d and dmin.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

/* Scale of sub-block j (0..7) as int32 lanes from the unpacked byte vectors. */
SB_INLINE __m512i sub_scale(__m512i lo4, __m512i hi4, int j) {
    const __m512i v = j < 4 ? lo4 : hi4;
    return _mm512_and_si512(_mm512_srli_epi32(v, 8 * (j & 3)), _mm512_set1_epi32(0xFF));
}

SB_INLINE void tile_body(const sb_mm_tile *t, const bool q5, const int NT) {
    __m512 acc[SB_MM_NT];
    for (int j = 0; j < NT; j++)
        acc[j] = _mm512_loadu_ps(t->acc + 16 * j);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m6 = _mm512_set1_epi8(0x3F), m30 = _mm512_set1_epi8(0x30);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    /* vpshufb patterns spreading bytes (0,1) and (2,3) of each dword to int16 pairs */
    const __m512i pair01 = _mm512_broadcast_i32x4(
        _mm_setr_epi32((int32_t)0x80018000u, (int32_t)0x80058004u, (int32_t)0x80098008u, (int32_t)0x800D800Cu));
    const __m512i pair23 = _mm512_broadcast_i32x4(
        _mm_setr_epi32((int32_t)0x80038002u, (int32_t)0x80078006u, (int32_t)0x800B800Au, (int32_t)0x800F800Eu));
    const size_t gb = q5 ? 2816 : 2304;
    const uint8_t *w = t->w;
    for (int64_t b = 0; b < t->nb; b++, w += gb) {
        const sb_act_q8_K *a[SB_MM_NT];
        for (int j = 0; j < NT; j++)
            a[j] = (const sb_act_q8_K *)(t->x + (size_t)j * t->x_tstride + (size_t)b * t->x_bstride);
        const __m512i D0 = sb_ld512((const void *)(w + 64));
        const __m512i D1 = sb_ld512((const void *)(w + 128));
        const __m512i D2 = sb_ld512((const void *)(w + 192));
        const __m512i sc_lo = _mm512_and_si512(D0, m6);
        const __m512i sc_hi =
            _mm512_or_si512(_mm512_and_si512(D2, m4), _mm512_and_si512(_mm512_srli_epi32(D0, 2), m30));
        const __m512i mn_lo = _mm512_and_si512(D1, m6);
        const __m512i mn_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(D2, 4), m4),
                                              _mm512_and_si512(_mm512_srli_epi32(D1, 2), m30));
        const __m512i mp[4] = {_mm512_shuffle_epi8(mn_lo, pair01), _mm512_shuffle_epi8(mn_lo, pair23),
                               _mm512_shuffle_epi8(mn_hi, pair01), _mm512_shuffle_epi8(mn_hi, pair23)};
        __m512i isum[SB_MM_NT];
        for (int j = 0; j < NT; j++)
            isum[j] = _mm512_setzero_si512();
        const uint8_t *q = w + 256 + (q5 ? 512 : 0);
        for (int sb = 0; sb < 8; sb++) {
            __m512i s[SB_MM_NT];
            for (int j = 0; j < NT; j++)
                s[j] = _mm512_setzero_si512();
            for (int k = 0; k < 8; k++) {
                const __m512i v = sb_ld512((const void *)(q + (sb / 2) * 512 + 64 * k));
                __m512i nib = (sb & 1) ? _mm512_and_si512(_mm512_srli_epi16(v, 4), m4) : _mm512_and_si512(v, m4);
                if (q5) {
                    const __m512i h = sb_ld512((const void *)(w + 256 + 64 * k));
                    const __m512i hb = sb <= 4 ? _mm512_slli_epi32(h, 4 - sb) : _mm512_srli_epi32(h, sb - 4);
                    nib = _mm512_ternarylogic_epi32(nib, hb, bit4, 0xF8); /* nib | (hb & 0x10) */
                }
                for (int j = 0; j < NT; j++)
                    s[j] = sb_dpbusd_bcast(s[j], nib, a[j]->qs + 32 * sb + 4 * k);
            }
            const __m512i scale = sub_scale(sc_lo, sc_hi, sb);
            for (int j = 0; j < NT; j++)
                isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(s[j], scale));
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)w));
        const __m512 dmin = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(w + 32)));
        for (int j = 0; j < NT; j++) {
            __m512i ms = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mp[0], _mm512_set1_epi32(sb_ld32(a[j]->s32 + 0)));
            ms = _mm512_dpwssd_epi32(ms, mp[1], _mm512_set1_epi32(sb_ld32(a[j]->s32 + 2)));
            ms = _mm512_dpwssd_epi32(ms, mp[2], _mm512_set1_epi32(sb_ld32(a[j]->s32 + 4)));
            ms = _mm512_dpwssd_epi32(ms, mp[3], _mm512_set1_epi32(sb_ld32(a[j]->s32 + 6)));
            const __m512 dx = _mm512_set1_ps(a[j]->d);
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_mul_ps(d, dx), acc[j]);
            acc[j] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms), _mm512_mul_ps(dmin, dx), acc[j]);
        }
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(t->acc + 16 * j, acc[j]);
}

SB_INLINE void tile_q4(const sb_mm_tile *t, const int NT) { tile_body(t, false, NT); }
SB_INLINE void tile_q5(const sb_mm_tile *t, const int NT) { tile_body(t, true, NT); }

void sb_mm_tile_q4_K_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_q4, t) }
void sb_mm_tile_q5_K_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_q5, t) }
