/*
 * cpu_peak_avx2.c - AVX2 loops for the peak probes (cpu_peak.h). Built with
 * AVX2/FMA flags; called only when the kernels run on AVX2 (the dot loop
 * also for AVX-512 without VNNI, whose int8 kernels use the same pair).
 *
 * As in cpu_peak_avx512.c, the chains start from different values and an
 * empty volatile asm takes them once per iteration (cpu_peak_chains.h), so
 * that GCC can neither merge identical chains, hoist loop-invariant work
 * nor drop the results.
 */
#include "cpu_peak.h"
#include "cpu_peak_chains.h"

#include <immintrin.h>

#define FMA_STEP(a) (a = _mm256_fmadd_ps(a, b, c))

/* 12 FMA chains (two pipes x latency 4-5 needs 8-10) and two operands: 14
 * of the 16 ymm registers. */
double sb_peak_fma_avx2(long iters) {
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(1.000f), a1 = _mm256_set1_ps(1.001f), a2 = _mm256_set1_ps(1.002f);
    __m256 a3 = _mm256_set1_ps(1.003f), a4 = _mm256_set1_ps(1.004f), a5 = _mm256_set1_ps(1.005f);
    __m256 a6 = _mm256_set1_ps(1.006f), a7 = _mm256_set1_ps(1.007f), a8 = _mm256_set1_ps(1.008f);
    __m256 a9 = _mm256_set1_ps(1.009f), a10 = _mm256_set1_ps(1.010f), a11 = _mm256_set1_ps(1.011f);
    for (long i = 0; i < iters; i++) {
        SB_PEAK_HIDE12("+x");
        SB_PEAK_STEPS12(FMA_STEP);
    }
    SB_PEAK_HIDE12("+x"); /* the last step is used too */
    return (double)iters * 12.0 * 8.0 * 2.0;
}

/* acc += madd(maddubs(x, y), 1): the AVX2 kernels' int8 step, 32 u8 x s8
 * multiply-adds. Only the add is chained; the four x are distinct and
 * hidden every iteration so the products are computed every time. */
#define DOT_STEP(a, x) (a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one)))

double sb_peak_dot_avx2(long iters) {
    const __m256i y = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
    __m256i x0 = _mm256_set1_epi8(3), x1 = _mm256_set1_epi8(5), x2 = _mm256_set1_epi8(7), x3 = _mm256_set1_epi8(9);
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_set1_epi32(1), a2 = _mm256_set1_epi32(2);
    __m256i a3 = _mm256_set1_epi32(3);
    for (long i = 0; i < iters; i++) {
        __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3));
        DOT_STEP(a0, x0), DOT_STEP(a1, x1), DOT_STEP(a2, x2), DOT_STEP(a3, x3);
    }
    __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3)); /* the last step is used too */
    return (double)iters * 4.0 * 32.0 * 2.0;
}
