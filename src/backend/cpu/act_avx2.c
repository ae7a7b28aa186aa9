/*
 * act_avx2.c - activation quantizers with AVX2 (+F16C). Each produces
 * exactly the bytes of its reference in quant_ref.c (tested bit for bit).
 */
#include "mm_kernels.h"
#include "mm_simd_x86.h"
#include "quant_ref.h"

#include "sb_half.h"
#include "sb_tensor_type.h"

SB_INLINE float hmax8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

SB_INLINE int hsum8i(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* Packs 32 int32 (in four vectors, each -128..127) to 32 int8 in order. */
SB_INLINE __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d) {
    const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    const __m256i r = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

void sb_act_q8_0_avx2(const float *x, sb_act_q8_0 *y, int64_t n, int offset) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / SB_QK8_0; b++, x += SB_QK8_0) {
        __m256 v[4], m = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            v[i] = _mm256_loadu_ps(x + 8 * i);
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, v[i]));
        }
        const float amax = hmax8(m);
        y[b].d = sb_fp16_to_f32(sb_f32_to_fp16(amax / 127.f));
        const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.f / amax : 0.0f);
        __m256i q[4];
        for (int i = 0; i < 4; i++)
            q[i] = _mm256_cvtps_epi32(_mm256_mul_ps(v[i], id));
        _mm256_storeu_si256((__m256i *)y[b].qs, pack32(q[0], q[1], q[2], q[3]));
        const __m256i sum = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
        y[b].corr = sb_act_corr(offset, hsum8i(sum));
    }
}

void sb_act_q8_K_avx2(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t b = 0; b < n / SB_QK_K; b++, x += SB_QK_K) {
        sb_act_q8_K *o = &y[b];
        memset(o, 0, sizeof *o);
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < 32; i++)
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i)));
        const float amax = hmax8(m);
        if (amax == 0.0f)
            continue;
        const __m256 va = _mm256_set1_ps(amax);
        float max = 0.0f;
        for (int i = 0; i < 32; i++) {
            const int k =
                _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + 8 * i)), va, _CMP_EQ_OQ));
            if (k) {
                max = x[8 * i + __builtin_ctz((unsigned)k)];
                break;
            }
        }
        const float iscale = -127.f / max;
        const __m256 vs = _mm256_set1_ps(iscale);
        const __m256i lim = _mm256_set1_epi32(127);
        for (int i = 0; i < 8; i++) { /* 32 elements per step */
            __m256i q[4];
            for (int k = 0; k < 4; k++)
                q[k] =
                    _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 32 * i + 8 * k), vs)), lim);
            _mm256_storeu_si256((__m256i *)(o->qs + 32 * i), pack32(q[0], q[1], q[2], q[3]));
            o->bsums[2 * i] = (int16_t)hsum8i(_mm256_add_epi32(q[0], q[1]));
            o->bsums[2 * i + 1] = (int16_t)hsum8i(_mm256_add_epi32(q[2], q[3]));
        }
        o->d = 1 / iscale;
        for (int j = 0; j < SB_QK_K / 32; j++)
            o->s32[j] = (int16_t)(o->bsums[2 * j] + o->bsums[2 * j + 1]);
        if (wtype == SB_TYPE_Q6_K)
            for (int j = 0; j < SB_QK_K / 16; j++)
                o->corr[j] = -32 * o->bsums[j];
    }
}

void sb_act_f16_avx2(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; i++)
        y[i] = sb_fp16_to_f32(sb_f32_to_fp16(x[i]));
}

void sb_act_bf16_avx2(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    const __m256i one = _mm256_set1_epi32(1), r7 = _mm256_set1_epi32(0x7FFF), q = _mm256_set1_epi32(64);
    const __m256i absm = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
    for (; i + 8 <= n; i += 8) {
        const __m256i u = _mm256_castps_si256(_mm256_loadu_ps(x + i));
        const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), one);
        const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, r7)), 16);
        const __m256i nan = _mm256_or_si256(_mm256_srli_epi32(u, 16), q);
        const __m256i isnan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absm), inf);
        const __m256i v = _mm256_blendv_epi8(r, nan, isnan);
        const __m128i p = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        _mm_storeu_si128((__m128i *)(y + i), p);
    }
    for (; i < n; i++)
        y[i] = sb_f32_to_bf16(x[i]);
}
