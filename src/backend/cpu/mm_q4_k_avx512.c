/*
 * mm_q4_k_avx512.c - Q4_K and Q5_K weights x Q8_K activations, AVX-512 VNNI.
 *
 * Per super-block of 256 columns and 16 rows (one zmm lane each): the 6-bit
 * scales and mins of the 16 rows are unpacked once with a few byte-wise
 * shifts and masks; for each of the 8 sub-blocks, 8 vpdpbusd per token sum
 * nibble x activation (Q5_K adds the fifth bit from qh), the sum is scaled by
 * the sub-block's integer scale (vpmulld), and the mins contribute
 * sum_j m_j * sum(x of sub-block j) through 4 vpdpwssd on int16 pairs. One
 * F32 multiply-add per token and super-block applies d and dmin. One token
 * (decode) walks pairs of sub-blocks instead (decode_body).
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

/* Scale of sub-block j (0..7) as int32 lanes from the unpacked byte vectors
 * (j need not be a compile-time constant). */
SB_INLINE __m512i sub_scale(__m512i lo4, __m512i hi4, int j) {
    const __m512i v = j < 4 ? lo4 : hi4;
    return _mm512_and_si512(_mm512_srl_epi32(v, _mm_cvtsi32_si128(8 * (j & 3))), _mm512_set1_epi32(0xFF));
}

/* The 16 rows' 6-bit sub-block scales (as bytes of sc[0] for sub-blocks
 * 0..3, sc[1] for 4..7, row r in lane r) and their mins spread to int16
 * pairs for vpdpwssd (mp[0..3]: sub-blocks 0-1, 2-3, 4-5, 6-7), unpacked
 * from the 192 scale bytes of the group-block at w. */
SB_INLINE void unpack_scales(const uint8_t *w, __m512i sc[2], __m512i mp[4]) {
    const __m512i m4 = _mm512_set1_epi8(0x0F), m6 = _mm512_set1_epi8(0x3F), m30 = _mm512_set1_epi8(0x30);
    /* vpshufb patterns spreading bytes (0,1) and (2,3) of each dword to int16 pairs */
    const __m512i pair01 = _mm512_broadcast_i32x4(
        _mm_setr_epi32((int32_t)0x80018000u, (int32_t)0x80058004u, (int32_t)0x80098008u, (int32_t)0x800D800Cu));
    const __m512i pair23 = _mm512_broadcast_i32x4(
        _mm_setr_epi32((int32_t)0x80038002u, (int32_t)0x80078006u, (int32_t)0x800B800Au, (int32_t)0x800F800Eu));
    const __m512i D0 = sb_ld512((const void *)(w + 64));
    const __m512i D1 = sb_ld512((const void *)(w + 128));
    const __m512i D2 = sb_ld512((const void *)(w + 192));
    sc[0] = _mm512_and_si512(D0, m6);
    sc[1] = _mm512_or_si512(_mm512_and_si512(D2, m4), _mm512_and_si512(_mm512_srli_epi32(D0, 2), m30));
    const __m512i mn_lo = _mm512_and_si512(D1, m6);
    const __m512i mn_hi = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(D2, 4), m4),
                                          _mm512_and_si512(_mm512_srli_epi32(D1, 2), m30));
    mp[0] = _mm512_shuffle_epi8(mn_lo, pair01);
    mp[1] = _mm512_shuffle_epi8(mn_lo, pair23);
    mp[2] = _mm512_shuffle_epi8(mn_hi, pair01);
    mp[3] = _mm512_shuffle_epi8(mn_hi, pair23);
}

/* acc += d * dx * isum - dmin * dx * sum_j m_j * (sum of x over sub-block j)
 * for one token: the group-block's closing step. */
SB_INLINE __m512 close_block(__m512 acc, __m512i isum, const __m512i mp[4], const sb_act_q8_K *a, const uint8_t *w) {
    const __m512 d = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)w));
    const __m512 dmin = _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)(w + 32)));
    __m512i ms = _mm512_dpwssd_epi32(_mm512_setzero_si512(), mp[0], _mm512_set1_epi32(sb_ld32(a->s32 + 0)));
    ms = _mm512_dpwssd_epi32(ms, mp[1], _mm512_set1_epi32(sb_ld32(a->s32 + 2)));
    ms = _mm512_dpwssd_epi32(ms, mp[2], _mm512_set1_epi32(sb_ld32(a->s32 + 4)));
    ms = _mm512_dpwssd_epi32(ms, mp[3], _mm512_set1_epi32(sb_ld32(a->s32 + 6)));
    const __m512 dx = _mm512_set1_ps(a->d);
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, dx), acc);
    return _mm512_fnmadd_ps(_mm512_cvtepi32_ps(ms), _mm512_mul_ps(dmin, dx), acc);
}

/* One token (decode). Per pair of sub-blocks, each 64-byte load feeds two
 * independent vpdpbusd chains, the low nibbles (even sub-block) and the high
 * ones (odd): half the loads of walking the sub-blocks one at a time (below)
 * and twice the independent work. Decode of a Q4_K_M model went from ~67%
 * to ~84% of the memory bandwidth measured beside it (Zen 4, 2 threads). */
SB_INLINE void decode_body(const sb_mm_tile *t, const bool q5) {
    __m512 acc = _mm512_loadu_ps(t->acc);
    const __m512i m4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    const size_t gb = q5 ? 2816 : 2304;
    const uint8_t *w = t->w;
    for (int64_t b = 0; b < t->nb; b++, w += gb) {
        const sb_act_q8_K *a = (const sb_act_q8_K *)(t->x + (size_t)b * t->x_bstride);
        __m512i sc[2], mp[4];
        unpack_scales(w, sc, mp);
        __m512i isum = _mm512_setzero_si512();
        for (int sp = 0; sp < 4; sp++) {
            const uint8_t *q = w + 256 + (q5 ? 512 : 0) + 512 * sp;
            const __m128i h0 = _mm_cvtsi32_si128(2 * sp), h1 = _mm_cvtsi32_si128(2 * sp + 1);
            __m512i s0 = _mm512_setzero_si512(), s1 = s0;
            for (int k = 0; k < 8; k++) {
                const __m512i v = sb_ld512((const void *)(q + 64 * k));
                __m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                if (q5) { /* bit s of each qh byte is the fifth bit of sub-block s */
                    const __m512i h = sb_ld512((const void *)(w + 256 + 64 * k));
                    lo = _mm512_ternarylogic_epi32(lo, _mm512_slli_epi32(_mm512_srl_epi32(h, h0), 4), bit4, 0xF8);
                    hi = _mm512_ternarylogic_epi32(hi, _mm512_slli_epi32(_mm512_srl_epi32(h, h1), 4), bit4, 0xF8);
                }
                s0 = sb_dpbusd_bcast(s0, lo, a->qs + 64 * sp + 4 * k);
                s1 = sb_dpbusd_bcast(s1, hi, a->qs + 64 * sp + 32 + 4 * k);
            }
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s0, sub_scale(sc[0], sc[1], 2 * sp)));
            isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(s1, sub_scale(sc[0], sc[1], 2 * sp + 1)));
        }
        acc = close_block(acc, isum, mp, a, w);
    }
    _mm512_storeu_ps(t->acc, acc);
}

/* Two or more tokens (hot weights): fully unrolled, each unpacked nibble
 * vector used by every token. */
SB_INLINE void tile_body(const sb_mm_tile *t, const bool q5, const int NT) {
    if (NT == 1) {
        decode_body(t, q5);
        return;
    }
    __m512 acc[SB_MM_NT];
    for (int j = 0; j < NT; j++)
        acc[j] = _mm512_loadu_ps(t->acc + 16 * j);
    const __m512i m4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    const size_t gb = q5 ? 2816 : 2304;
    const uint8_t *w = t->w;
    for (int64_t b = 0; b < t->nb; b++, w += gb) {
        const sb_act_q8_K *a[SB_MM_NT];
        for (int j = 0; j < NT; j++)
            a[j] = (const sb_act_q8_K *)(t->x + (size_t)j * t->x_tstride + (size_t)b * t->x_bstride);
        __m512i sc[2], mp[4];
        unpack_scales(w, sc, mp);
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
            const __m512i scale = sub_scale(sc[0], sc[1], sb);
            for (int j = 0; j < NT; j++)
                isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(s[j], scale));
        }
        for (int j = 0; j < NT; j++)
            acc[j] = close_block(acc[j], isum[j], mp, a[j], w);
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(t->acc + 16 * j, acc[j]);
}

SB_INLINE void tile_q4(const sb_mm_tile *t, const int NT) { tile_body(t, false, NT); }
SB_INLINE void tile_q5(const sb_mm_tile *t, const int NT) { tile_body(t, true, NT); }

void sb_mm_tile_q4_K_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_q4, t) }
void sb_mm_tile_q5_K_avx512(const sb_mm_tile *t) { SB_NT_DISPATCH(t->nt, tile_q5, t) }
