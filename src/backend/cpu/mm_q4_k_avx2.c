/*
 * mm_q4_k_avx2.c - Q4_K and Q5_K weights x Q8_K activations, AVX2.
 *
 * Each 64-byte load of the packed group is two ymm halves (rows 0-7, 8-15).
 * Nibbles (plus the fifth bit for Q5_K) times activation bytes go through
 * vpmaddubsw into int16 pair sums, which hold a whole sub-block for Q4_K
 * (8 x 2 x 15 x 127 < 2^15) and half of one for Q5_K; vpmaddwd with the
 * sub-block scale in both int16 halves of each lane then gives the scaled
 * int32 sum in one step. Mins: vpmaddwd of the int16 (m_2i, m_2i+1) pairs
 * with the activation's sub-block sums. Tokens two at a time; the F32
 * accumulators live in the tile's acc array.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

/* vpshufb pattern putting byte j (0..3) of each dword into both int16 halves. */
SB_INLINE __m256i dup_byte(int j) {
    const int32_t p = 0x80008000 | j | (j << 16);
    return _mm256_setr_epi32(p, p + 0x40004, p + 0x80008, p + 0xC000C, p, p + 0x40004, p + 0x80008, p + 0xC000C);
}

/* vpshufb pattern spreading bytes (j, j+1) of each dword to an int16 pair. */
SB_INLINE __m256i pair_bytes(int j) {
    const int32_t p = 0x80008000 | j | ((j + 1) << 16);
    return _mm256_setr_epi32(p, p + 0x40004, p + 0x80008, p + 0xC000C, p, p + 0x40004, p + 0x80008, p + 0xC000C);
}

SB_INLINE void body(const sb_mm_tile *t, int j0, const bool q5, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m6 = _mm256_set1_epi8(0x3F), m30 = _mm256_set1_epi8(0x30);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    const size_t gb = q5 ? 2816 : 2304;
    const uint8_t *w = t->w;
    for (int64_t b = 0; b < t->nb; b++, w += gb) {
        const sb_act_q8_K *a[2];
        for (int j = 0; j < NT; j++)
            a[j] = (const sb_act_q8_K *)(t->x + (size_t)(j0 + j) * t->x_tstride + (size_t)b * t->x_bstride);
        for (int h = 0; h < 2; h++) {
            const __m256i D0 = sb_ld256(w + 64 + 32 * h);
            const __m256i D1 = sb_ld256(w + 128 + 32 * h);
            const __m256i D2 = sb_ld256(w + 192 + 32 * h);
            const __m256i sc_lo = _mm256_and_si256(D0, m6);
            const __m256i sc_hi =
                _mm256_or_si256(_mm256_and_si256(D2, m4), _mm256_and_si256(_mm256_srli_epi32(D0, 2), m30));
            __m256i isum[2];
            for (int j = 0; j < NT; j++)
                isum[j] = _mm256_setzero_si256();
            const uint8_t *q = w + 256 + (q5 ? 512 : 0) + 32 * h;
            for (int sb = 0; sb < 8; sb++) {
                const __m256i scale = _mm256_shuffle_epi8(sb < 4 ? sc_lo : sc_hi, dup_byte(sb & 3));
                for (int part = 0; part < (q5 ? 2 : 1); part++) {
                    __m256i s[2];
                    for (int j = 0; j < NT; j++)
                        s[j] = _mm256_setzero_si256();
                    const int k0 = q5 ? 4 * part : 0, k1 = q5 ? k0 + 4 : 8;
                    for (int k = k0; k < k1; k++) {
                        const __m256i v = sb_ld256(q + (sb / 2) * 512 + 64 * k);
                        __m256i nib =
                            (sb & 1) ? _mm256_and_si256(_mm256_srli_epi16(v, 4), m4) : _mm256_and_si256(v, m4);
                        if (q5) {
                            const __m256i hv = sb_ld256(w + 256 + 32 * h + 64 * k);
                            const __m256i hb = sb <= 4 ? _mm256_slli_epi32(hv, 4 - sb) : _mm256_srli_epi32(hv, sb - 4);
                            nib = _mm256_or_si256(nib, _mm256_and_si256(hb, bit4));
                        }
                        for (int j = 0; j < NT; j++)
                            s[j] = _mm256_add_epi16(
                                s[j],
                                _mm256_maddubs_epi16(nib, _mm256_set1_epi32(sb_ld32(a[j]->qs + 32 * sb + 4 * k))));
                    }
                    for (int j = 0; j < NT; j++)
                        isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(s[j], scale));
                }
            }
            const __m256i mn_lo = _mm256_and_si256(D1, m6);
            const __m256i mn_hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(D2, 4), m4),
                                                  _mm256_and_si256(_mm256_srli_epi32(D1, 2), m30));
            const __m256 d = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(w + 16 * h)));
            const __m256 dmin = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(w + 32 + 16 * h)));
            for (int j = 0; j < NT; j++) {
                __m256i ms = _mm256_madd_epi16(_mm256_shuffle_epi8(mn_lo, pair_bytes(0)),
                                               _mm256_set1_epi32(sb_ld32(a[j]->s32 + 0)));
                ms = _mm256_add_epi32(ms, _mm256_madd_epi16(_mm256_shuffle_epi8(mn_lo, pair_bytes(2)),
                                                            _mm256_set1_epi32(sb_ld32(a[j]->s32 + 2))));
                ms = _mm256_add_epi32(ms, _mm256_madd_epi16(_mm256_shuffle_epi8(mn_hi, pair_bytes(0)),
                                                            _mm256_set1_epi32(sb_ld32(a[j]->s32 + 4))));
                ms = _mm256_add_epi32(ms, _mm256_madd_epi16(_mm256_shuffle_epi8(mn_hi, pair_bytes(2)),
                                                            _mm256_set1_epi32(sb_ld32(a[j]->s32 + 6))));
                const __m256 dx = _mm256_set1_ps(a[j]->d);
                float *accp = t->acc + 16 * (j0 + j) + 8 * h;
                __m256 acc = _mm256_loadu_ps(accp);
                acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_mul_ps(d, dx), acc);
                acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(ms), _mm256_mul_ps(dmin, dx), acc);
                _mm256_storeu_ps(accp, acc);
            }
        }
    }
}

SB_INLINE void tiles(const sb_mm_tile *t, bool q5) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        body(t, j, q5, 2);
    if (j < t->nt)
        body(t, j, q5, 1);
}

void sb_mm_tile_q4_K_avx2(const sb_mm_tile *t) { tiles(t, false); }
void sb_mm_tile_q5_K_avx2(const sb_mm_tile *t) { tiles(t, true); }
