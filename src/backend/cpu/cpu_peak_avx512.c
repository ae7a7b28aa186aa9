/*
 * cpu_peak_avx512.c - AVX-512 loops for the peak probes (cpu_peak.h). Built
 * with AVX-512 flags; called only when the kernels run on AVX-512 (the dot
 * loop only when the CPU also has VNNI).
 *
 * Every loop keeps SB_PEAK_CHAINS independent dependency chains in
 * registers, each started from a different value, and hands them to an
 * empty volatile asm once per iteration: the compiler can neither merge the
 * chains nor drop them, and nothing has to be summed afterwards to keep
 * them alive. Without that, GCC saw
 * twelve identical chains, kept one and multiplied the result: the probe
 * timed one dependent chain (latency bound) and counted twelve, which put
 * the int8 and FP32 figures at about three times what the core does.
 */
#include "cpu_peak.h"
#include "cpu_peak_chains.h"

#include <immintrin.h>

/* 16 chains (SB_PEAK_CHAINS): two FMA (or VNNI) pipes with a latency of 4-5
 * cycles need 8-10 in flight; 16 accumulators and two operands fit in the
 * 32 registers. */

#define FMA_STEP(a) (a = _mm512_fmadd_ps(a, b, c))

double sb_peak_fma_avx512(long iters) {
    const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
    __m512 a0 = _mm512_set1_ps(1.000f), a1 = _mm512_set1_ps(1.001f), a2 = _mm512_set1_ps(1.002f);
    __m512 a3 = _mm512_set1_ps(1.003f), a4 = _mm512_set1_ps(1.004f), a5 = _mm512_set1_ps(1.005f);
    __m512 a6 = _mm512_set1_ps(1.006f), a7 = _mm512_set1_ps(1.007f), a8 = _mm512_set1_ps(1.008f);
    __m512 a9 = _mm512_set1_ps(1.009f), a10 = _mm512_set1_ps(1.010f), a11 = _mm512_set1_ps(1.011f);
    __m512 a12 = _mm512_set1_ps(1.012f), a13 = _mm512_set1_ps(1.013f), a14 = _mm512_set1_ps(1.014f);
    __m512 a15 = _mm512_set1_ps(1.015f);
    for (long i = 0; i < iters; i++) {
        SB_PEAK_HIDE16("+v");
        SB_PEAK_STEPS16(FMA_STEP);
    }
    SB_PEAK_HIDE16("+v"); /* the last step is used too */
    return (double)iters * SB_PEAK_CHAINS * 16.0 * 2.0;
}

#define DOT_STEP(a) (a = _mm512_dpbusd_epi32(a, x, y))

/* VPDPBUSD, the instruction of the AVX-512 int8 kernels: 64 u8 x s8
 * multiply-adds each. */
double sb_peak_dot_avx512(long iters) {
    const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(-2);
    __m512i a0 = _mm512_set1_epi32(0), a1 = _mm512_set1_epi32(1), a2 = _mm512_set1_epi32(2);
    __m512i a3 = _mm512_set1_epi32(3), a4 = _mm512_set1_epi32(4), a5 = _mm512_set1_epi32(5);
    __m512i a6 = _mm512_set1_epi32(6), a7 = _mm512_set1_epi32(7), a8 = _mm512_set1_epi32(8);
    __m512i a9 = _mm512_set1_epi32(9), a10 = _mm512_set1_epi32(10), a11 = _mm512_set1_epi32(11);
    __m512i a12 = _mm512_set1_epi32(12), a13 = _mm512_set1_epi32(13), a14 = _mm512_set1_epi32(14);
    __m512i a15 = _mm512_set1_epi32(15);
    for (long i = 0; i < iters; i++) {
        SB_PEAK_HIDE16("+v");
        SB_PEAK_STEPS16(DOT_STEP);
    }
    SB_PEAK_HIDE16("+v");
    return (double)iters * SB_PEAK_CHAINS * 64.0 * 2.0;
}
