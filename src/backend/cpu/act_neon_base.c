/*
 * act_neon_base.c - activation quantizers with baseline NEON (ARMv8-A).
 * Each produces exactly the bytes of its reference in quant_ref.c: F32
 * multiplies, vcvtnq (round half to even) conversions, the scalar fp16
 * rounding of sb_half.h for block scales, FCVTN/FCVTL for F16 values.
 */
#if defined(__aarch64__)
#include "mm_kernels.h"
#include "quant_ref.h"

#include "sb_half.h"
#include "sb_tensor_type.h"

#include <arm_neon.h>

void sb_act_q8_0_neon(const float *x, sb_act_q8_0 *y, int64_t n, int offset) {
    for (int64_t b = 0; b < n / SB_QK8_0; b++, x += SB_QK8_0) {
        float32x4_t v[8], m = vdupq_n_f32(0.0f);
        for (int i = 0; i < 8; i++) {
            v[i] = vld1q_f32(x + 4 * i);
            m = vmaxq_f32(m, vabsq_f32(v[i]));
        }
        const float amax = vmaxvq_f32(m);
        y[b].d = sb_fp16_to_f32(sb_f32_to_fp16(amax / 127.f));
        const float id = amax != 0.0f ? 127.f / amax : 0.0f;
        int32x4_t sum = vdupq_n_s32(0);
        for (int i = 0; i < 8; i += 2) {
            const int32x4_t q0 = vcvtnq_s32_f32(vmulq_n_f32(v[i], id));
            const int32x4_t q1 = vcvtnq_s32_f32(vmulq_n_f32(v[i + 1], id));
            sum = vaddq_s32(sum, vaddq_s32(q0, q1));
            const int16x8_t h = vcombine_s16(vmovn_s32(q0), vmovn_s32(q1));
            vst1_s8(y[b].qs + 4 * i, vmovn_s16(h));
        }
        y[b].corr = sb_act_corr(offset, vaddvq_s32(sum));
    }
}

void sb_act_q8_K_neon(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype) {
    for (int64_t b = 0; b < n / SB_QK_K; b++, x += SB_QK_K) {
        sb_act_q8_K *o = &y[b];
        memset(o, 0, sizeof *o);
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int i = 0; i < 64; i++)
            m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + 4 * i)));
        const float amax = vmaxvq_f32(m);
        if (amax == 0.0f)
            continue;
        float max = 0.0f;
        for (int j = 0; j < SB_QK_K; j++)
            if (x[j] == amax || x[j] == -amax) {
                max = x[j];
                break;
            }
        const float iscale = -127.f / max;
        const int32x4_t lim = vdupq_n_s32(127);
        for (int g = 0; g < 16; g++) {
            int32x4_t s = vdupq_n_s32(0);
            for (int i = 0; i < 4; i += 2) {
                const int32x4_t q0 = vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * g + 4 * i), iscale)), lim);
                const int32x4_t q1 =
                    vminq_s32(vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(x + 16 * g + 4 * i + 4), iscale)), lim);
                s = vaddq_s32(s, vaddq_s32(q0, q1));
                vst1_s8(o->qs + 16 * g + 4 * i, vmovn_s16(vcombine_s16(vmovn_s32(q0), vmovn_s32(q1))));
            }
            o->bsums[g] = (int16_t)vaddvq_s32(s);
        }
        o->d = 1 / iscale;
        for (int j = 0; j < SB_QK_K / 32; j++)
            o->s32[j] = (int16_t)(o->bsums[2 * j] + o->bsums[2 * j + 1]);
        if (wtype == SB_TYPE_Q6_K)
            for (int j = 0; j < SB_QK_K / 16; j++)
                o->corr[j] = -32 * o->bsums[j];
    }
}

void sb_act_f16_neon(const float *x, float *y, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        vst1q_f32(y + i, vcvt_f32_f16(vcvt_f16_f32(vld1q_f32(x + i))));
    for (; i < n; i++)
        y[i] = sb_fp16_to_f32(sb_f32_to_fp16(x[i]));
}

void sb_act_bf16_neon(const float *x, uint16_t *y, int64_t n) {
    int64_t i = 0;
    const uint32x4_t one = vdupq_n_u32(1), r7 = vdupq_n_u32(0x7FFF), q = vdupq_n_u32(64);
    const uint32x4_t absm = vdupq_n_u32(0x7FFFFFFF), inf = vdupq_n_u32(0x7F800000);
    for (; i + 4 <= n; i += 4) {
        const uint32x4_t u = vreinterpretq_u32_f32(vld1q_f32(x + i));
        const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), one);
        const uint32x4_t r = vshrq_n_u32(vaddq_u32(u, vaddq_u32(lsb, r7)), 16);
        const uint32x4_t nan = vorrq_u32(vshrq_n_u32(u, 16), q);
        const uint32x4_t isnan = vcgtq_u32(vandq_u32(u, absm), inf);
        vst1_u16(y + i, vmovn_u32(vbslq_u32(isnan, nan, r)));
    }
    for (; i < n; i++)
        y[i] = sb_f32_to_bf16(x[i]);
}
#endif
