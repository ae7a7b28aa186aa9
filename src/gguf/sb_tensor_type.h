/*
 * sb_tensor_type.h - tensor element types, numbered as in GGUF (ggml_type).
 *
 * Each type stores its elements in blocks: `block_size` elements take
 * `type_size` bytes. A row of n elements (n a multiple of block_size) takes
 * n / block_size * type_size bytes. The traits of every type a GGUF file may
 * name are known here, so a file can be read (and refused by name) even when
 * the engine cannot compute with a type.
 */
#ifndef SB_TENSOR_TYPE_H
#define SB_TENSOR_TYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sb_tensor_type {
    SB_TYPE_F32 = 0,
    SB_TYPE_F16 = 1,
    SB_TYPE_Q4_0 = 2,
    SB_TYPE_Q4_1 = 3,
    SB_TYPE_Q5_0 = 6,
    SB_TYPE_Q5_1 = 7,
    SB_TYPE_Q8_0 = 8,
    SB_TYPE_Q8_1 = 9,
    SB_TYPE_Q2_K = 10,
    SB_TYPE_Q3_K = 11,
    SB_TYPE_Q4_K = 12,
    SB_TYPE_Q5_K = 13,
    SB_TYPE_Q6_K = 14,
    SB_TYPE_Q8_K = 15,
    SB_TYPE_IQ2_XXS = 16,
    SB_TYPE_IQ2_XS = 17,
    SB_TYPE_IQ3_XXS = 18,
    SB_TYPE_IQ1_S = 19,
    SB_TYPE_IQ4_NL = 20,
    SB_TYPE_IQ3_S = 21,
    SB_TYPE_IQ2_S = 22,
    SB_TYPE_IQ4_XS = 23,
    SB_TYPE_I8 = 24,
    SB_TYPE_I16 = 25,
    SB_TYPE_I32 = 26,
    SB_TYPE_I64 = 27,
    SB_TYPE_F64 = 28,
    SB_TYPE_IQ1_M = 29,
    SB_TYPE_BF16 = 30,
    SB_TYPE_TQ1_0 = 34,
    SB_TYPE_TQ2_0 = 35,
    SB_TYPE_MXFP4 = 39,
    SB_TYPE_COUNT = 40 /* one past the largest id; not every id below is a type */
} sb_tensor_type;

typedef struct sb_type_traits {
    const char *name;    /* "Q4_K", as GGUF tools print it */
    uint32_t block_size; /* elements per block */
    uint32_t type_size;  /* bytes per block */
    bool quantized;
} sb_type_traits;

/* Traits of a type id, or NULL for an id that names no known type. */
const sb_type_traits *sb_type_traits_of(uint32_t type);

/* Name of a type id; "unknown" for ids with no type. Static storage. */
const char *sb_type_name(uint32_t type);

/* Type id for a name (case-insensitive, e.g. "q4_k"); -1 if none. */
int sb_type_from_name(const char *name);

/* Bytes of a row of n elements: false if the type is unknown, n is not a
 * multiple of the block size, or the size overflows. */
bool sb_type_row_size(uint32_t type, uint64_t n, uint64_t *bytes);

/* The type llama-quantize writes for rows of n elements that `type`
 * should have: type itself where its block divides n, else its substitute
 * (Q4_K -> Q5_0, Q5_K -> Q5_1, any other -> Q8_0), else F16 where even 32
 * does not divide n. Used by the quantizer and the synthetic models. */
uint32_t sb_type_for_row(uint32_t type, int64_t n);

#endif
