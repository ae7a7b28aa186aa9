/*
 * mm_simd_x86.h - small helpers shared by the x86 kernel files (included
 * only from *_avx2.c / *_avx512.c, which are compiled with those ISAs).
 */
#ifndef SB_MM_SIMD_X86_H
#define SB_MM_SIMD_X86_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define SB_INLINE static inline __attribute__((always_inline))

/* 4 bytes at p as one int32 (for broadcasts), without alignment or aliasing
 * assumptions. */
SB_INLINE int32_t sb_ld32(const void *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* A 32-byte aligned load kept as a plain load (see sb_ld512). */
SB_INLINE __m256i sb_ld256(const void *p) {
    __m256i v = _mm256_load_si256((const __m256i *)p);
    __asm__("" : "+x"(v));
    return v;
}

#if defined(__AVX512F__)
/* A 64-byte aligned load kept as a plain load: the empty asm stops GCC from
 * folding it into the consumer (vpandd/vpsrlw/vcvtph2ps with a memory
 * operand), a form that streams weights from DRAM markedly slower on Zen 4
 * than a plain load followed by register operations. */
SB_INLINE __m512i sb_ld512(const void *p) {
    __m512i v = _mm512_load_si512(p);
    __asm__("" : "+v"(v));
    return v;
}

/* acc += vpdpbusd(w, the 4 bytes at p broadcast to every lane). Written as
 * a separate broadcast load: the {1to16} memory form (inline asm; GCC 12
 * does not fold it) measured 1% faster in the hot-cache GEMM but 20%
 * slower when the weights stream from DRAM (decode), on Zen 4. */
SB_INLINE __m512i sb_dpbusd_bcast(__m512i acc, __m512i w, const void *p) {
    return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(sb_ld32(p)));
}
#endif

/* Expands a switch over the token count of a tile into calls of an
 * always-inline body specialised for each count (NT = 1..8). */
#define SB_NT_DISPATCH(nt, body, ...)                                                                                  \
    switch (nt) {                                                                                                      \
    case 1:                                                                                                            \
        body(__VA_ARGS__, 1);                                                                                          \
        break;                                                                                                         \
    case 2:                                                                                                            \
        body(__VA_ARGS__, 2);                                                                                          \
        break;                                                                                                         \
    case 3:                                                                                                            \
        body(__VA_ARGS__, 3);                                                                                          \
        break;                                                                                                         \
    case 4:                                                                                                            \
        body(__VA_ARGS__, 4);                                                                                          \
        break;                                                                                                         \
    case 5:                                                                                                            \
        body(__VA_ARGS__, 5);                                                                                          \
        break;                                                                                                         \
    case 6:                                                                                                            \
        body(__VA_ARGS__, 6);                                                                                          \
        break;                                                                                                         \
    case 7:                                                                                                            \
        body(__VA_ARGS__, 7);                                                                                          \
        break;                                                                                                         \
    default:                                                                                                           \
        body(__VA_ARGS__, 8);                                                                                          \
        break;                                                                                                         \
    }

#endif
