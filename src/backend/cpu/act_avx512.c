/*
 * act_avx512.c - activation quantizers with AVX-512. Each produces exactly
 * the bytes of its reference in quant_ref.c (tested bit for bit): the same
 * F32 operations, round-half-even conversions, and the scalar fp16 rounding
 * of sb_half.h for the block scales.
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"
#include "quant_ref.h"

#include "sb_half.h"
#include "sb_tensor_type.h"

/* Q8_0: d = fp16(amax / 127), q = round_even(x * (127 / amax)). */
void sb_act_q8_0_avx512(const float *x, sb_act_q8_0 *y, int64_t n, int offset) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / SB_QK8_0; b++, x += SB_QK8_0) {
        const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
        const __m512 m = _mm512_max_ps(_mm512_andnot_ps(sign, v0), _mm512_andnot_ps(sign, v1));
        const float amax = _mm512_reduce_max_ps(m);
        y[b].d = sb_fp16_to_f32(sb_f32_to_fp16(amax / 127.f));
        const __m512 id = _mm512_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        const __m512i q0 = _mm512_cvtps_epi32(_mm512_mul_ps(v0, id));
        const __m512i q1 = _mm512_cvtps_epi32(_mm512_mul_ps(v1, id));
        _mm_storeu_si128((__m128i *)y[b].qs, _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(y[b].qs + 16), _mm512_cvtepi32_epi8(q1));
        y[b].corr = sb_act_corr(offset, _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1)));
    }
}

/* Q8_K: the element of largest magnitude (the first one on ties) maps to
 * -127; d = 1 / (-127 / max). */
void sb_act_q8_K_avx512(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype) {
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / SB_QK_K; b++, x += SB_QK_K) {
        sb_act_q8_K *o = &y[b];
        memset(o, 0, sizeof *o);
        __m512 m = _mm512_setzero_ps();
        for (int i = 0; i < 16; i++)
            m = _mm512_max_ps(m, _mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * i)));
        const float amax = _mm512_reduce_max_ps(m);
        if (amax == 0.0f)
            continue;
        const __m512 va = _mm512_set1_ps(amax);
        float max = 0.0f;
        for (int i = 0; i < 16; i++) {
            const __mmask16 k = _mm512_cmp_ps_mask(_mm512_andnot_ps(sign, _mm512_loadu_ps(x + 16 * i)), va, _CMP_EQ_OQ);
            if (k) {
                max = x[16 * i + __builtin_ctz(k)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m512 vs = _mm512_set1_ps(iscale);
        const __m512i lim = _mm512_set1_epi32(127);
        for (int i = 0; i < 16; i++) {
            __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + 16 * i), vs));
            q = _mm512_min_epi32(q, lim);
            _mm_storeu_si128((__m128i *)(o->qs + 16 * i), _mm512_cvtepi32_epi8(q));
            o->bsums[i] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        o->d = 1 / iscale;
        for (int j = 0; j < SB_QK_K / 32; j++)
            o->s32[j] = (int16_t)(o->bsums[2 * j] + o->bsums[2 * j + 1]);
        if (wtype == SB_TYPE_Q6_K)
            for (int j = 0; j < SB_QK_K / 16; j++)
                o->corr[j] = -32 * o->bsums[j];
    }
}

/* F16-rounded F32 values (F16C conversions round to nearest even). */
void sb_act_f16_avx512(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        _mm512_mask_storeu_ps(y + i, k, _mm512_cvtph_ps(_mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)));
    }
}

/* BF16 with the integer round-half-even of sb_f32_to_bf16 (NaN stays NaN). */
SB_INLINE __m256i to_bf16(__m512 v) {
    const __m512i u = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    const __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
    const __m512i nan = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(64));
    const __mmask16 isnan =
        _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)), _mm512_set1_epi32(0x7F800000));
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(isnan, r, nan));
}

void sb_act_bf16_avx512(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), to_bf16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 k = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(y + i, k, to_bf16(_mm512_maskz_loadu_ps(k, x + i)));
    }
}
