/*
 * cpu_peak_chains.h - shared by the peak probe loops that keep many
 * chains: sixteen (cpu_peak_avx512.c, cpu_peak_neon_base.c,
 * cpu_peak_neon.c) or, where there are only 16 vector registers, twelve
 * (cpu_peak_avx2.c). The accumulators are named variables a0..a15 (GCC
 * keeps an array hidden by an asm in memory), each started from a
 * different value.
 *
 * SB_PEAK_HIDE16(C) / SB_PEAK_HIDE12(C) hand them to an empty volatile asm
 * with register constraint C ("+v" or "+x" for x86 vector registers, "+w"
 * for ARM64 ones) once per iteration and once after the loop, so the
 * compiler can neither merge the chains nor drop them (see
 * cpu_peak_avx512.c for what it did without). The asms emit nothing; more
 * than one statement because an asm takes at most 30 operands.
 *
 * SB_PEAK_STEPS16(STEP) / SB_PEAK_STEPS12(STEP) are one step of all the
 * chains: STEP(a) is one instruction on accumulator a.
 */
#ifndef SB_CPU_PEAK_CHAINS_H
#define SB_CPU_PEAK_CHAINS_H

#define SB_PEAK_CHAINS 16

#define SB_PEAK_HIDE12(C)                                                                                              \
    do {                                                                                                               \
        __asm__ volatile("" : C(a0), C(a1), C(a2), C(a3), C(a4), C(a5));                                               \
        __asm__ volatile("" : C(a6), C(a7), C(a8), C(a9), C(a10), C(a11));                                             \
    } while (0)

#define SB_PEAK_HIDE16(C)                                                                                              \
    do {                                                                                                               \
        SB_PEAK_HIDE12(C);                                                                                             \
        __asm__ volatile("" : C(a12), C(a13), C(a14), C(a15));                                                         \
    } while (0)

#define SB_PEAK_STEPS12(STEP)                                                                                          \
    do {                                                                                                               \
        STEP(a0), STEP(a1), STEP(a2), STEP(a3), STEP(a4), STEP(a5);                                                    \
        STEP(a6), STEP(a7), STEP(a8), STEP(a9), STEP(a10), STEP(a11);                                                  \
    } while (0)

#define SB_PEAK_STEPS16(STEP)                                                                                          \
    do {                                                                                                               \
        SB_PEAK_STEPS12(STEP);                                                                                         \
        STEP(a12), STEP(a13), STEP(a14), STEP(a15);                                                                    \
    } while (0)

#endif
