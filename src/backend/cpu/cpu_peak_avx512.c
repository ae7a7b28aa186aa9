/*
 * cpu_peak_avx512.c - AVX-512 loops for the peak probes (cpu_peak.h). Built
 * with AVX-512 flags; called only when the kernels run on AVX-512 (the dot
 * loop only when the CPU also has VNNI).
 *
 * Every loop keeps SB_PEAK_CHAINS independent dependency chains in
 * registers, each started from a different value, and hides them from the
 * compiler once per iteration with an empty asm. Without that, GCC saw
 * twelve identical chains, kept one and multiplied the result: the probe
 * timed one dependent chain (latency bound) and counted twelve, which put
 * the int8 and FP32 figures at about three times what the core does.
 */
#include "cpu_peak.h"

#include <immintrin.h>

/* 16 chains: two FMA (or VNNI) pipes with a latency of 4-5 cycles need 8-10
 * in flight; 16 accumulators and two operands fit in the 32 registers.
 * Named variables, not an array: GCC keeps an array hidden by an asm in
 * memory. */
#define SB_PEAK_CHAINS 16

/* The empty asms that make the accumulators opaque once per iteration
 * (they emit nothing; two statements because an asm takes at most 30
 * operands). */
#define SB_PEAK_HIDE                                                                                                   \
    do {                                                                                                               \
        __asm__("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7));                  \
        __asm__("" : "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11), "+v"(a12), "+v"(a13), "+v"(a14), "+v"(a15));            \
    } while (0)

/* One step of all 16 chains: STEP(a) = one instruction on accumulator a. */
#define SB_PEAK_STEPS(STEP)                                                                                            \
    do {                                                                                                               \
        STEP(a0), STEP(a1), STEP(a2), STEP(a3), STEP(a4), STEP(a5), STEP(a6), STEP(a7);                                \
        STEP(a8), STEP(a9), STEP(a10), STEP(a11), STEP(a12), STEP(a13), STEP(a14), STEP(a15);                          \
    } while (0)

#define FMA_STEP(a) (a = _mm512_fmadd_ps(a, b, c))

double sb_peak_fma_avx512(long iters) {
    const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f), d = _mm512_set1_ps(0.001f);
    __m512 a0 = _mm512_set1_ps(1.0f), a1 = _mm512_add_ps(a0, d), a2 = _mm512_add_ps(a1, d), a3 = _mm512_add_ps(a2, d);
    __m512 a4 = _mm512_add_ps(a3, d), a5 = _mm512_add_ps(a4, d), a6 = _mm512_add_ps(a5, d), a7 = _mm512_add_ps(a6, d);
    __m512 a8 = _mm512_add_ps(a7, d), a9 = _mm512_add_ps(a8, d), a10 = _mm512_add_ps(a9, d);
    __m512 a11 = _mm512_add_ps(a10, d), a12 = _mm512_add_ps(a11, d), a13 = _mm512_add_ps(a12, d);
    __m512 a14 = _mm512_add_ps(a13, d), a15 = _mm512_add_ps(a14, d);
    for (long i = 0; i < iters; i++) {
        SB_PEAK_HIDE;
        SB_PEAK_STEPS(FMA_STEP);
    }
    const __m512 s = _mm512_add_ps(
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                      _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7))),
        _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                      _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
    volatile float sink = _mm512_reduce_add_ps(s);
    (void)sink;
    return (double)iters * SB_PEAK_CHAINS * 16.0 * 2.0;
}

#define DOT_STEP(a) (a = _mm512_dpbusd_epi32(a, x, y))

/* VPDPBUSD, the instruction of the AVX-512 int8 kernels: 64 u8 x s8
 * multiply-adds each. */
double sb_peak_dot_avx512(long iters) {
    const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2), d = _mm512_set1_epi32(1);
    __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_add_epi32(a0, d), a2 = _mm512_add_epi32(a1, d);
    __m512i a3 = _mm512_add_epi32(a2, d), a4 = _mm512_add_epi32(a3, d), a5 = _mm512_add_epi32(a4, d);
    __m512i a6 = _mm512_add_epi32(a5, d), a7 = _mm512_add_epi32(a6, d), a8 = _mm512_add_epi32(a7, d);
    __m512i a9 = _mm512_add_epi32(a8, d), a10 = _mm512_add_epi32(a9, d), a11 = _mm512_add_epi32(a10, d);
    __m512i a12 = _mm512_add_epi32(a11, d), a13 = _mm512_add_epi32(a12, d), a14 = _mm512_add_epi32(a13, d);
    __m512i a15 = _mm512_add_epi32(a14, d);
    for (long i = 0; i < iters; i++) {
        SB_PEAK_HIDE;
        SB_PEAK_STEPS(DOT_STEP);
    }
    const __m512i s = _mm512_add_epi32(
        _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)),
                         _mm512_add_epi32(_mm512_add_epi32(a4, a5), _mm512_add_epi32(a6, a7))),
        _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a8, a9), _mm512_add_epi32(a10, a11)),
                         _mm512_add_epi32(_mm512_add_epi32(a12, a13), _mm512_add_epi32(a14, a15))));
    volatile int sink = _mm512_reduce_add_epi32(s);
    (void)sink;
    return (double)iters * SB_PEAK_CHAINS * 64.0 * 2.0;
}
