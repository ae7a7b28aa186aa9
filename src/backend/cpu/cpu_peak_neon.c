/*
 * cpu_peak_neon.c - the int8 peak probe loop for ARM64 with the dotprod
 * extension (cpu_peak.h): SDOT, the instruction of the dotprod kernels.
 * Built with +dotprod; called only when the CPU has it. Chains as in
 * cpu_peak_neon_base.c (cpu_peak_chains.h).
 */
#include "cpu_peak.h"

#if defined(__aarch64__)
#include "cpu_peak_chains.h"

#include <arm_neon.h>

#define DOT_STEP(a) (a = vdotq_s32(a, x, y))

/* 16 SDOT chains, 16 multiply-adds each. */
double sb_peak_dot_neon_dot(long iters) {
    const int8x16_t x = vdupq_n_s8(3), y = vdupq_n_s8(-2);
    int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(1), a2 = vdupq_n_s32(2), a3 = vdupq_n_s32(3);
    int32x4_t a4 = vdupq_n_s32(4), a5 = vdupq_n_s32(5), a6 = vdupq_n_s32(6), a7 = vdupq_n_s32(7);
    int32x4_t a8 = vdupq_n_s32(8), a9 = vdupq_n_s32(9), a10 = vdupq_n_s32(10), a11 = vdupq_n_s32(11);
    int32x4_t a12 = vdupq_n_s32(12), a13 = vdupq_n_s32(13), a14 = vdupq_n_s32(14), a15 = vdupq_n_s32(15);
    for (long i = 0; i < iters; i++) {
        SB_PEAK_HIDE16("+w");
        SB_PEAK_STEPS16(DOT_STEP);
    }
    SB_PEAK_HIDE16("+w"); /* the last step is used too */
    return (double)iters * SB_PEAK_CHAINS * 16.0 * 2.0;
}
#endif
