/*
 * bench_util.h - pieces the CPU benchmarks share: random weights of a real
 * GGUF type, and the comparison their medians sort with.
 */
#ifndef SB_BENCH_UTIL_H
#define SB_BENCH_UTIL_H

#include "sb_rng.h"

#include <stdint.h>

/* Fills the GGUF bytes of `rows` rows of `cols` values of `type` (the
 * caller's buffer, sized by sb_type_row_size) with random quants and every
 * block scale (and min) 0.01, or with values in [-1, 1] for F32 / F16 /
 * BF16: numbers that stay finite through any kernel. */
void bench_fill_weight(sb_rng *rng, uint32_t type, uint8_t *p, int64_t rows, int64_t cols);

/* qsort comparison of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

#endif
