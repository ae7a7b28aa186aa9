/*
 * mm_q6_k_avx2.c - Q6_K weights x Q8_K activations, AVX2.
 *
 * The 6-bit quants are rebuilt as in the AVX-512 kernel, made signed
 * (q - 32, in -32..31) and multiplied as |q - 32| x sign(x, q - 32) with
 * vpmaddubsw; a sub-block of 16 columns (4 loads) fits in int16 pair sums
 * (4 x 2 x 32 x 127 < 2^15), and vpmaddwd with the sub-block scale in both
 * int16 halves of each lane gives the scaled int32 sum.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

SB_INLINE void body(const sb_mm_tile *t, int j0, const int NT) {
    const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), c32 = _mm256_set1_epi8(32);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, 3328, 32);
        const uint16_t *wd = sb_pk_gd(t->w, b, 3328, 32);
        const sb_act_q8_K *a[2];
        for (int j = 0; j < NT; j++)
            a[j] = (const sb_act_q8_K *)(t->x + (size_t)(j0 + j) * t->x_tstride + (size_t)b * t->x_bstride);
        for (int hr = 0; hr < 2; hr++) { /* row half */
            __m256i isum[2];
            for (int j = 0; j < NT; j++)
                isum[j] = _mm256_setzero_si256();
            for (int h = 0; h < 2; h++)
                for (int p = 0; p < 4; p++) {
                    const uint8_t *ql = w + 256 + h * 1536 + (p & 1) * 64 + 32 * hr; /* k stride 192 */
                    const uint8_t *qh = w + 256 + h * 1536 + 128 + 32 * hr;
                    for (int half = 0; half < 2; half++) {
                        const int sub = 8 * h + 2 * p + half;
                        const __m256i sc32 =
                            _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(w + 16 * sub + 8 * hr)));
                        const __m256i scale = _mm256_blend_epi16(sc32, _mm256_slli_epi32(sc32, 16), 0xAA);
                        __m256i s[2];
                        for (int j = 0; j < NT; j++)
                            s[j] = _mm256_setzero_si256();
                        for (int kk = 0; kk < 4; kk++) {
                            const int k = 4 * half + kk;
                            const __m256i L = sb_ld256(ql + 192 * k);
                            const __m256i H = sb_ld256(qh + 192 * k);
                            const __m256i lo = (p >> 1) ? _mm256_srli_epi16(L, 4) : L;
                            const __m256i hi = p == 3 ? _mm256_srli_epi32(H, 2) : _mm256_slli_epi32(H, 4 - 2 * p);
                            const __m256i q = _mm256_sub_epi8(
                                _mm256_or_si256(_mm256_and_si256(lo, m4), _mm256_and_si256(hi, m30)), c32);
                            const __m256i aq = _mm256_sign_epi8(q, q);
                            for (int j = 0; j < NT; j++) {
                                const __m256i xv =
                                    _mm256_set1_epi32(sb_ld32(a[j]->qs + 128 * h + 32 * p + 16 * half + 4 * kk));
                                s[j] = _mm256_add_epi16(s[j], _mm256_maddubs_epi16(aq, _mm256_sign_epi8(xv, q)));
                            }
                        }
                        for (int j = 0; j < NT; j++)
                            isum[j] = _mm256_add_epi32(isum[j], _mm256_madd_epi16(s[j], scale));
                    }
                }
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(wd + 8 * hr)));
            for (int j = 0; j < NT; j++) {
                float *accp = t->acc + 16 * (j0 + j) + 8 * hr;
                const __m256 acc = _mm256_loadu_ps(accp);
                _mm256_storeu_ps(
                    accp, _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[j]), _mm256_mul_ps(d, _mm256_set1_ps(a[j]->d)), acc));
            }
        }
    }
}

void sb_mm_tile_q6_K_avx2(const sb_mm_tile *t) {
    int j = 0;
    for (; j + 2 <= t->nt; j += 2)
        body(t, j, 2);
    if (j < t->nt)
        body(t, j, 1);
}
