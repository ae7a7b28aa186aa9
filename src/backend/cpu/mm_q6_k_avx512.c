/*
 * mm_q6_k_avx512.c - Q6_K weights x Q8_K activations, AVX-512 VNNI.
 *
 * Per super-block and 16 rows: three 64-byte loads (two of ql, one of qh)
 * give four vectors of 6-bit quants (0..63) for the four 32-column parts of
 * a half super-block, each rebuilt from a nibble and two high bits with a
 * shift, a mask and a ternary-logic merge. vpdpbusd sums per token and
 * sub-block of 16 columns start from the activation's corr = -32 * sum(x),
 * so they are the exact dot with (q - 32); the int8 sub-block scales
 * (vpmovsxbd) are applied with vpmulld. Up to 4 tokens (decode) keep the
 * four parts' sums in registers and unpack each load once; 5 to 8 tokens
 * (prefill) walk one part at a time so that the unpacking is shared by all
 * of them.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"

SB_INLINE void pass(const sb_mm_tile *t, int j0, const int NT) {
    __m512 acc[4];
    for (int j = 0; j < NT; j++)
        acc[j] = _mm512_loadu_ps(t->acc + 16 * (j0 + j));
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, 3328, 32);
        const uint16_t *wd = sb_pk_gd(t->w, b, 3328, 32);
        const sb_act_q8_K *a[4];
        __m512i isum[4];
        for (int j = 0; j < NT; j++) {
            a[j] = (const sb_act_q8_K *)(t->x + (size_t)(j0 + j) * t->x_tstride + (size_t)b * t->x_bstride);
            isum[j] = _mm512_setzero_si512();
        }
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql0 = w + 256 + h * 1536, *ql1 = ql0 + 64, *qh = ql0 + 128; /* k stride 192 */
            for (int half = 0; half < 2; half++) {
                __m512i s[4][4]; /* [part][token] */
                for (int p = 0; p < 4; p++)
                    for (int j = 0; j < NT; j++)
                        s[p][j] = _mm512_set1_epi32(a[j]->corr[8 * h + 2 * p + half]);
                for (int kk = 0; kk < 4; kk++) {
                    const int k = 4 * half + kk;
                    const __m512i L0 = sb_ld512((const void *)(ql0 + 192 * k));
                    const __m512i L1 = sb_ld512((const void *)(ql1 + 192 * k));
                    const __m512i H = sb_ld512((const void *)(qh + 192 * k));
                    /* (lo & 0x0F) | hi: ternary logic (A & C) | B = 0xEC */
                    __m512i q[4];
                    q[0] = _mm512_ternarylogic_epi32(L0, _mm512_and_si512(_mm512_slli_epi32(H, 4), m30), m4, 0xEC);
                    q[1] = _mm512_ternarylogic_epi32(L1, _mm512_and_si512(_mm512_slli_epi32(H, 2), m30), m4, 0xEC);
                    q[2] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(L0, 4), _mm512_and_si512(H, m30), m4, 0xEC);
                    q[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi32(L1, 4),
                                                     _mm512_and_si512(_mm512_srli_epi32(H, 2), m30), m4, 0xEC);
                    for (int p = 0; p < 4; p++)
                        for (int j = 0; j < NT; j++)
                            s[p][j] = sb_dpbusd_bcast(s[p][j], q[p], a[j]->qs + 128 * h + 32 * p + 16 * half + 4 * kk);
                }
                for (int p = 0; p < 4; p++) {
                    const int sub = 8 * h + 2 * p + half;
                    const __m512i sc = _mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(w + 16 * sub)));
                    for (int j = 0; j < NT; j++)
                        isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(s[p][j], sc));
                }
            }
        }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wd));
        for (int j = 0; j < NT; j++)
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_mul_ps(d, _mm512_set1_ps(a[j]->d)), acc[j]);
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(t->acc + 16 * (j0 + j), acc[j]);
}

/* 5..8 tokens: part by part, each unpacked vector used by every token. */
SB_INLINE void wide(const sb_mm_tile *t, const int NT) {
    __m512 acc[SB_MM_NT];
    for (int j = 0; j < NT; j++)
        acc[j] = _mm512_loadu_ps(t->acc + 16 * j);
    const __m512i m4 = _mm512_set1_epi8(0x0F), m30 = _mm512_set1_epi8(0x30);
    for (int64_t b = 0; b < t->nb; b++) {
        const uint8_t *w = sb_pk_gb(t->w, b, 3328, 32);
        const uint16_t *wd = sb_pk_gd(t->w, b, 3328, 32);
        const sb_act_q8_K *a[SB_MM_NT];
        __m512i isum[SB_MM_NT];
        for (int j = 0; j < NT; j++) {
            a[j] = (const sb_act_q8_K *)(t->x + (size_t)j * t->x_tstride + (size_t)b * t->x_bstride);
            isum[j] = _mm512_setzero_si512();
        }
        for (int h = 0; h < 2; h++)
            for (int p = 0; p < 4; p++) {
                const uint8_t *ql = w + 256 + h * 1536 + (p & 1) * 64, *qh = w + 256 + h * 1536 + 128;
                for (int half = 0; half < 2; half++) {
                    const int sub = 8 * h + 2 * p + half;
                    __m512i s[SB_MM_NT];
                    for (int j = 0; j < NT; j++)
                        s[j] = _mm512_set1_epi32(a[j]->corr[sub]);
                    for (int kk = 0; kk < 4; kk++) {
                        const int k = 4 * half + kk;
                        const __m512i L = sb_ld512((const void *)(ql + 192 * k));
                        const __m512i H = sb_ld512((const void *)(qh + 192 * k));
                        const __m512i lo = (p >> 1) ? _mm512_srli_epi32(L, 4) : L;
                        const __m512i hi = p == 3 ? _mm512_srli_epi32(H, 2) : _mm512_slli_epi32(H, 4 - 2 * p);
                        const __m512i q = _mm512_ternarylogic_epi32(lo, _mm512_and_si512(hi, m30), m4, 0xEC);
                        for (int j = 0; j < NT; j++)
                            s[j] = sb_dpbusd_bcast(s[j], q, a[j]->qs + 128 * h + 32 * p + 16 * half + 4 * kk);
                    }
                    const __m512i sc = _mm512_cvtepi8_epi32(_mm_load_si128((const __m128i *)(w + 16 * sub)));
                    for (int j = 0; j < NT; j++)
                        isum[j] = _mm512_add_epi32(isum[j], _mm512_mullo_epi32(s[j], sc));
                }
            }
        const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)wd));
        for (int j = 0; j < NT; j++)
            acc[j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[j]), _mm512_mul_ps(d, _mm512_set1_ps(a[j]->d)), acc[j]);
    }
    for (int j = 0; j < NT; j++)
        _mm512_storeu_ps(t->acc + 16 * j, acc[j]);
}

void sb_mm_tile_q6_K_avx512(const sb_mm_tile *t) {
    switch (t->nt) {
    case 1:
        pass(t, 0, 1);
        break;
    case 2:
        pass(t, 0, 2);
        break;
    case 3:
        pass(t, 0, 3);
        break;
    case 4:
        pass(t, 0, 4);
        break;
    case 5:
        wide(t, 5);
        break;
    case 6:
        wide(t, 6);
        break;
    case 7:
        wide(t, 7);
        break;
    default:
        wide(t, 8);
        break;
    }
}
