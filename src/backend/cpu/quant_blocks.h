/*
 * quant_blocks.h - block layouts of the quantized types, exactly as GGUF
 * (ggml) stores them, plus the activation blocks the kernels use.
 *
 * A weight row of n elements is n / block_size consecutive blocks. All
 * scales are IEEE half (fp16) unless noted. Sizes are checked at compile time
 * here and against the type traits of src/gguf (sb_tensor_type.c) by the
 * tests, so a wrong struct can never silently misread a file.
 */
#ifndef SB_QUANT_BLOCKS_H
#define SB_QUANT_BLOCKS_H

#include <stdint.h>

#define SB_QK4_0 32
#define SB_QK8_0 32
#define SB_QK_K 256
#define SB_K_SCALE_SIZE 12

/* Q4_0: 32 weights, w = d * (q - 8), q in 0..15. Byte j holds element j in its
 * low nibble and element j + 16 in its high nibble. */
typedef struct {
    uint16_t d;
    uint8_t qs[SB_QK4_0 / 2];
} sb_block_q4_0;
_Static_assert(sizeof(sb_block_q4_0) == 18, "block_q4_0 size");

/* Q8_0: 32 weights, w = d * q, q signed. */
typedef struct {
    uint16_t d;
    int8_t qs[SB_QK8_0];
} sb_block_q8_0;
_Static_assert(sizeof(sb_block_q8_0) == 34, "block_q8_0 size");

/* Q4_1: 32 weights, w = d * q + m, q in 0..15, nibbles as Q4_0. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[SB_QK4_0 / 2];
} sb_block_q4_1;
_Static_assert(sizeof(sb_block_q4_1) == 20, "block_q4_1 size");

/* Q5_0: 32 weights, w = d * (q - 16), q in 0..31: the low four bits as the
 * nibbles of Q4_0, the fifth bit of element j as bit j of qh (a
 * little-endian 32-bit word). */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[SB_QK4_0 / 2];
} sb_block_q5_0;
_Static_assert(sizeof(sb_block_q5_0) == 22, "block_q5_0 size");

/* Q5_1: Q5_0's bits with w = d * q + m. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[SB_QK4_0 / 2];
} sb_block_q5_1;
_Static_assert(sizeof(sb_block_q5_1) == 24, "block_q5_1 size");

/* Q4_K: 256 weights in 8 sub-blocks of 32; w = d * sc[j] * q - dmin * m[j],
 * q in 0..15, sc/m 6-bit packed in `scales` (see sb_q4k_scale_min). qs holds
 * 4 chunks of 64 elements as 32 bytes each: low nibbles are elements 0..31 of
 * the chunk, high nibbles elements 32..63. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[SB_K_SCALE_SIZE];
    uint8_t qs[SB_QK_K / 2];
} sb_block_q4_K;
_Static_assert(sizeof(sb_block_q4_K) == 144, "block_q4_K size");

/* Q5_K: Q4_K plus a fifth bit per weight: bit 2c of qh[l] is the high bit of
 * element l of chunk c's low half, bit 2c+1 of its high half. q in 0..31. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[SB_K_SCALE_SIZE];
    uint8_t qh[SB_QK_K / 8];
    uint8_t qs[SB_QK_K / 2];
} sb_block_q5_K;
_Static_assert(sizeof(sb_block_q5_K) == 176, "block_q5_K size");

/* Q6_K: 256 weights in 16 sub-blocks of 16; w = d * scales[j] * (q - 32),
 * q in 0..63 split into 4 low bits (ql) and 2 high bits (qh). */
typedef struct {
    uint8_t ql[SB_QK_K / 2];
    uint8_t qh[SB_QK_K / 4];
    int8_t scales[SB_QK_K / 16];
    uint16_t d;
} sb_block_q6_K;
_Static_assert(sizeof(sb_block_q6_K) == 210, "block_q6_K size");

/* Q8_K: ggml's activation type for K-quant dot products: f32 scale, int8
 * quants, and the sum of each group of 16 quants. */
typedef struct {
    float d;
    int8_t qs[SB_QK_K];
    int16_t bsums[SB_QK_K / 16];
} sb_block_q8_K;
_Static_assert(sizeof(sb_block_q8_K) == 292, "block_q8_K size");

/* F16 and BF16 elements are 2-byte blocks of one element. */
typedef uint16_t sb_f16;
typedef uint16_t sb_bf16;
_Static_assert(sizeof(sb_f16) == 2 && sizeof(sb_bf16) == 2, "half sizes");

/* ---- Activation blocks (kernel scratch, never written to files) ---- */

/* A Q8_0 activation block: ggml's block_q8_0 content with the fp16 scale
 * already widened (d is exactly an fp16 value) and a per-kernel integer
 * correction: corr = -offset * sum(qs), where offset is what the kernel adds
 * to the weight quants to make them unsigned (128 for Q8_0 on VNNI, 8 for
 * Q4_0, 16 for Q5_0, 0 where the kernel works signed; 1 for Q4_1 and Q5_1,
 * whose min term needs sum(qs)). */
typedef struct {
    float d;
    int32_t corr;
    int8_t qs[SB_QK8_0];
} sb_act_q8_0;
_Static_assert(sizeof(sb_act_q8_0) == 40, "act_q8_0 size");

/* corr from the block's quant sum, in the wrapping arithmetic of the
 * kernels' int32 lanes. Finite activations stay far from the limit (|sum| <=
 * 32 * 127); non-finite ones (a hostile or broken model) give garbage quants
 * whose product may not fit, and that must not be undefined behaviour. */
static inline int32_t sb_act_corr(int offset, int32_t sum) {
    return (int32_t)(0u - (uint32_t)offset * (uint32_t)sum);
}

/* A Q8_K activation block: ggml's block_q8_K content (qs, d, bsums) plus
 * what the packed K-quant kernels need precomputed per weight type:
 *   Q4_K, Q5_K: s32[j] = bsums[2j] + bsums[2j+1] (sums of the 8 sub-blocks
 *               of 32), as int16 pairs for pmaddwd-style products;
 *   Q6_K:       corr[j] = -32 * bsums[j].
 * qs comes first so that it is 64-byte aligned in scratch. */
typedef struct {
    int8_t qs[SB_QK_K];
    float d;
    int16_t bsums[SB_QK_K / 16];
    int16_t s32[SB_QK_K / 32];
    int32_t corr[SB_QK_K / 16];
    uint8_t pad[12];
} sb_act_q8_K;
_Static_assert(sizeof(sb_act_q8_K) == 384, "act_q8_K size");

#endif
