/*
 * sb_half.h - IEEE half (F16) and bfloat16 (BF16) conversions.
 *
 * Rounding is round-to-nearest-even, the same as the hardware conversions
 * (F16C, AVX512-BF16) and as ggml's reference code, so that values rounded
 * here match values rounded by the reference implementation bit for bit.
 */
#ifndef SB_HALF_H
#define SB_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t sb_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float sb_f32_from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float sb_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t mant = h & 0x3FF;
    if (exp == 0) {
        if (mant == 0)
            return sb_f32_from_bits(sign);
        /* subnormal: value = mant * 2^-24 */
        float v = (float)mant * 5.9604644775390625e-08f;
        return sign ? -v : v;
    }
    if (exp == 31)
        return sb_f32_from_bits(sign | 0x7F800000u | (mant << 13));
    return sb_f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

static inline uint16_t sb_f32_to_fp16(float f) {
    uint32_t x = sb_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7FFFFFFF;
    if (absx >= 0x7F800000) /* inf or nan */
        return (uint16_t)(sign | 0x7C00 | (absx > 0x7F800000 ? 0x200 : 0));
    if (absx >= 0x477FF000) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7C00);
    if (absx < 0x38800000) { /* below the smallest normal half: subnormal or zero */
        /* Adding 0.5f aligns the mantissa so the FPU does the RNE rounding. */
        float a = sb_f32_from_bits(absx) + 0.5f;
        return (uint16_t)(sign | (sb_f32_bits(a) - 0x3F000000u));
    }
    uint32_t mant_odd = (absx >> 13) & 1;
    absx += 0xC8000FFFu + mant_odd; /* rebias exponent (-112 << 23) and round */
    return (uint16_t)(sign | (absx >> 13));
}

static inline float sb_bf16_to_f32(uint16_t h) { return sb_f32_from_bits((uint32_t)h << 16); }

static inline uint16_t sb_f32_to_bf16(float f) {
    uint32_t u = sb_f32_bits(f);
    if ((u & 0x7FFFFFFF) > 0x7F800000) /* nan: keep it a quiet nan */
        return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}

#endif
