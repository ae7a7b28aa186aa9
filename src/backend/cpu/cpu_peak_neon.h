/*
 * cpu_peak_neon.h - shared by the ARM64 peak probe loops
 * (cpu_peak_neon_base.c, cpu_peak_neon.c): the empty volatile asms that take
 * sixteen accumulators a0..a15 once per iteration, so that the compiler can
 * neither merge the chains nor drop them. They emit nothing; two statements
 * because an asm takes at most 30 operands.
 */
#ifndef SB_CPU_PEAK_NEON_H
#define SB_CPU_PEAK_NEON_H

#define SB_PEAK_HIDE16                                                                                                 \
    do {                                                                                                               \
        __asm__ volatile("" : "+w"(a0), "+w"(a1), "+w"(a2), "+w"(a3), "+w"(a4), "+w"(a5), "+w"(a6), "+w"(a7));         \
        __asm__ volatile("" : "+w"(a8), "+w"(a9), "+w"(a10), "+w"(a11), "+w"(a12), "+w"(a13), "+w"(a14), "+w"(a15));   \
    } while (0)

#endif
