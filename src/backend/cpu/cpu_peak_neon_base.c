/*
 * cpu_peak_neon_base.c - peak probe loops for baseline ARMv8-A NEON
 * (cpu_peak.h): FP32 FMLA, and the int8 step of the kernels without
 * dotprod (SMULL/SMULL2, ADDP, SADALP).
 *
 * The chains start from different values and an empty volatile asm takes
 * them once per iteration (SB_PEAK_HIDE16, cpu_peak_chains.h).
 */
#include "cpu_peak.h"

#if defined(__aarch64__)
#include "cpu_peak_chains.h"

#include <arm_neon.h>

#define FMA_STEP(a) (a = vfmaq_f32(c, a, b))

/* 16 FMLA chains: up to four pipes x latency 4 on current cores. */
double sb_peak_fma_neon(long iters) {
    const float32x4_t b = vdupq_n_f32(0.999999f), c = vdupq_n_f32(1e-7f);
    float32x4_t a0 = vdupq_n_f32(1.000f), a1 = vdupq_n_f32(1.001f), a2 = vdupq_n_f32(1.002f);
    float32x4_t a3 = vdupq_n_f32(1.003f), a4 = vdupq_n_f32(1.004f), a5 = vdupq_n_f32(1.005f);
    float32x4_t a6 = vdupq_n_f32(1.006f), a7 = vdupq_n_f32(1.007f), a8 = vdupq_n_f32(1.008f);
    float32x4_t a9 = vdupq_n_f32(1.009f), a10 = vdupq_n_f32(1.010f), a11 = vdupq_n_f32(1.011f);
    float32x4_t a12 = vdupq_n_f32(1.012f), a13 = vdupq_n_f32(1.013f), a14 = vdupq_n_f32(1.014f);
    float32x4_t a15 = vdupq_n_f32(1.015f);
    for (long i = 0; i < iters; i++) {
        SB_PEAK_HIDE16("+w");
        SB_PEAK_STEPS16(FMA_STEP);
    }
    SB_PEAK_HIDE16("+w"); /* the last step is used too */
    return (double)iters * SB_PEAK_CHAINS * 4.0 * 2.0;
}

/* acc += pairwise(x * y): 16 s8 x s8 multiply-adds. Only the accumulate is
 * chained; the four x are distinct and hidden every iteration. */
#define DOT_STEP(a, x) (a = vpadalq_s16(a, vpaddq_s16(vmull_s8(vget_low_s8(x), vget_low_s8(y)), vmull_high_s8(x, y))))

double sb_peak_dot_neon(long iters) {
    const int8x16_t y = vdupq_n_s8(-2);
    int8x16_t x0 = vdupq_n_s8(3), x1 = vdupq_n_s8(5), x2 = vdupq_n_s8(7), x3 = vdupq_n_s8(9);
    int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(1), a2 = vdupq_n_s32(2), a3 = vdupq_n_s32(3);
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+w"(x0), "+w"(x1), "+w"(x2), "+w"(x3), "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3));
        DOT_STEP(a0, x0), DOT_STEP(a1, x1), DOT_STEP(a2, x2), DOT_STEP(a3, x3);
    }
    __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3)); /* the last step is used too */
    return (double)iters * 4.0 * 16.0 * 2.0;
}
#endif
