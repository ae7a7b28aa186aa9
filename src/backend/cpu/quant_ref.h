/*
 * quant_ref.h - the plain scalar reference of every quantized format:
 * dequantization, the reference weight quantizers (ggml's algorithms, so that
 * files written by `solebox quantize` match llama-quantize's), the activation
 * quantizers (ggml's rounding) and the dot products, on GGUF-layout rows.
 *
 * These define the numbers. The SIMD kernels are tested against them.
 */
#ifndef SB_QUANT_REF_H
#define SB_QUANT_REF_H

#include "quant_blocks.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ggml's nearest_int: round to nearest, ties to even, for |v| <= 4194303
 * (no libm, no float-to-int conversion of out-of-range values). */
static inline int sb_nearest_int(float v) {
    float f = v + 12582912.f;
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* What x86's cvttss2si makes of v: v truncated toward zero, or INT32_MIN
 * when v is NaN or outside int32's range. ggml's simple quantizers convert
 * with C casts ((int8_t)(x * id + 8.5f)), which compile to this on x86,
 * where llama-quantize's files are made; but in C such a cast of a NaN or of
 * an out-of-range value is undefined. A NaN weight, or a denormal block
 * maximum whose inverse overflows to infinity (0 * inf = NaN), reaches it.
 * Callers narrow the result to 8 bits as the x86 code does (the low byte). */
static inline int32_t sb_trunc_i32(float v) {
    if (!(v >= -2147483648.0f && v < 2147483648.0f))
        return INT32_MIN;
    return (int32_t)v;
}

/* The 6-bit scale and min of sub-block j of a Q4_K/Q5_K block. */
static inline void sb_q4k_scale_min(int j, const uint8_t *q, uint8_t *d, uint8_t *m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
    }
}

/* The 5-bit value (0..31) of element j of a Q5_0/Q5_1 block. */
static inline int sb_q5_quant(const uint8_t qs[SB_QK4_0 / 2], const uint8_t qh[4], int j) {
    const int low = j < SB_QK4_0 / 2 ? qs[j] & 0x0F : qs[j - SB_QK4_0 / 2] >> 4;
    return low | (((qh[j / 8] >> (j % 8)) & 1) << 4);
}

/* ---- dequantization (n a multiple of the block size) ---- */
void sb_ref_dequant_q4_0(const sb_block_q4_0 *x, float *y, int64_t n);
void sb_ref_dequant_q8_0(const sb_block_q8_0 *x, float *y, int64_t n);
void sb_ref_dequant_q4_1(const sb_block_q4_1 *x, float *y, int64_t n);
void sb_ref_dequant_q5_0(const sb_block_q5_0 *x, float *y, int64_t n);
void sb_ref_dequant_q5_1(const sb_block_q5_1 *x, float *y, int64_t n);
void sb_ref_dequant_q4_K(const sb_block_q4_K *x, float *y, int64_t n);
void sb_ref_dequant_q5_K(const sb_block_q5_K *x, float *y, int64_t n);
void sb_ref_dequant_q6_K(const sb_block_q6_K *x, float *y, int64_t n);
void sb_ref_dequant_q8_K(const sb_block_q8_K *x, float *y, int64_t n);
void sb_ref_dequant_f16(const uint16_t *x, float *y, int64_t n);
void sb_ref_dequant_bf16(const uint16_t *x, float *y, int64_t n);

/* ---- reference weight quantizers (ggml's *_ref functions) ---- */
void sb_ref_quant_q4_0(const float *x, sb_block_q4_0 *y, int64_t n);
void sb_ref_quant_q8_0(const float *x, sb_block_q8_0 *y, int64_t n);
void sb_ref_quant_q4_1(const float *x, sb_block_q4_1 *y, int64_t n);
void sb_ref_quant_q5_0(const float *x, sb_block_q5_0 *y, int64_t n);
void sb_ref_quant_q5_1(const float *x, sb_block_q5_1 *y, int64_t n);
void sb_ref_quant_q4_K(const float *x, sb_block_q4_K *y, int64_t n);
void sb_ref_quant_q5_K(const float *x, sb_block_q5_K *y, int64_t n);
void sb_ref_quant_q6_K(const float *x, sb_block_q6_K *y, int64_t n);
void sb_ref_quant_q8_K(const float *x, sb_block_q8_K *y, int64_t n);
void sb_ref_quant_f16(const float *x, uint16_t *y, int64_t n);
void sb_ref_quant_bf16(const float *x, uint16_t *y, int64_t n);

/* The first element of a row of `type` (n elements, a block multiple) that
 * ggml_validate_row_data would reject: for F32, F16 and BF16 the first
 * non-finite value; for the block types the first element of the first
 * block whose F16 scale (d, and dmin or m where the type has one) is
 * infinite or NaN (Q8_K's F32 d likewise). -1 when the row is valid or the
 * type is not one of these. llama-quantize checks its output this way and
 * fails on such a row; `solebox quantize` does the same. */
int64_t sb_ref_first_invalid(uint32_t type, const void *row, int64_t n);

/* ---- activation quantizers: what ggml's CPU matmul does to the F32
 * activations before the dot product (its x86 SIMD rounding). Blocks are
 * independent, so callers may quantize any block range of a row. ---- */

/* Q8_0 blocks: d = fp16(amax / 127), q = round_even(x * 127 / amax);
 * corr = -offset * sum(q). */
void sb_ref_act_q8_0(const float *x, sb_act_q8_0 *y, int64_t n, int offset);
/* Q8_K blocks (ggml quantize_row_q8_K_ref) with the extras the kernels of
 * weight type `wtype` need (see sb_act_q8_K). */
void sb_ref_act_q8_K(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype);
/* F16-rounded values, kept as F32 (F16 weights). */
void sb_ref_act_f16(const float *x, float *y, int64_t n);
/* BF16 values (BF16 weights). */
void sb_ref_act_bf16(const float *x, uint16_t *y, int64_t n);

/* ---- reference dot products of one GGUF row with one activation row ----
 * n elements; float accumulation block by block in row order. */
float sb_ref_dot_q4_0(const sb_block_q4_0 *w, const sb_act_q8_0 *x, int64_t n);
float sb_ref_dot_q8_0(const sb_block_q8_0 *w, const sb_act_q8_0 *x, int64_t n);
float sb_ref_dot_q5_0(const sb_block_q5_0 *w, const sb_act_q8_0 *x, int64_t n);
float sb_ref_dot_q5_1(const sb_block_q5_1 *w, const sb_act_q8_0 *x, int64_t n);
float sb_ref_dot_q4_1(const sb_block_q4_1 *w, const sb_act_q8_0 *x, int64_t n);
float sb_ref_dot_q4_K(const sb_block_q4_K *w, const sb_act_q8_K *x, int64_t n);
float sb_ref_dot_q5_K(const sb_block_q5_K *w, const sb_act_q8_K *x, int64_t n);
float sb_ref_dot_q6_K(const sb_block_q6_K *w, const sb_act_q8_K *x, int64_t n);
float sb_ref_dot_f32(const float *w, const float *x, int64_t n);
float sb_ref_dot_f16(const uint16_t *w, const float *x, int64_t n);
float sb_ref_dot_bf16(const uint16_t *w, const uint16_t *x, int64_t n);

/* One block's contribution, for the scalar kernels on packed weights: they
 * rebuild a GGUF block and add exactly what the row dot would add. */
float sb_ref_dot_block_q4_0(const sb_block_q4_0 *w, const sb_act_q8_0 *x);
float sb_ref_dot_block_q8_0(const sb_block_q8_0 *w, const sb_act_q8_0 *x);
float sb_ref_dot_block_q5_0(const sb_block_q5_0 *w, const sb_act_q8_0 *x);
float sb_ref_dot_block_q5_1(const sb_block_q5_1 *w, const sb_act_q8_0 *x);
float sb_ref_dot_block_q4_1(const sb_block_q4_1 *w, const sb_act_q8_0 *x);
float sb_ref_dot_block_q4_K(const sb_block_q4_K *w, const sb_act_q8_K *x);
float sb_ref_dot_block_q5_K(const sb_block_q5_K *w, const sb_act_q8_K *x);
float sb_ref_dot_block_q6_K(const sb_block_q6_K *w, const sb_act_q8_K *x);

#endif
