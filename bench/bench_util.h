/*
 * bench_util.h - pieces the CPU benchmarks share: the layer set they
 * stream and the engine's order of calls over it, random weights of a real
 * GGUF type, and the comparison their medians sort with.
 */
#ifndef SB_BENCH_UTIL_H
#define SB_BENCH_UTIL_H

#include "cpu_matmul.h"
#include "sb_rng.h"

#include <stdint.h>

/* TinyLlama-1.1B's matmul layer set, the shape both CPU benchmarks stream:
 * per layer q, k, v, o, gate, up, down (matrix l * 7 + j), then the output. */
#define BENCH_TL_DIM 2048
#define BENCH_TL_FF 5632
#define BENCH_TL_KV 256
#define BENCH_TL_LAYERS 22
#define BENCH_TL_VOCAB 32000
#define BENCH_TL_MATS_PER_LAYER 7
#define BENCH_TL_MATS (BENCH_TL_LAYERS * BENCH_TL_MATS_PER_LAYER + 1)

/* Rows and columns of matrix i (0 .. BENCH_TL_MATS - 1) of the layer set. */
void bench_tl_shape(int i, int64_t *rows, int64_t *cols);

/* Runs every matrix of the layer set once on n tokens as an engine calls
 * them: q/k/v and gate/up as one sb_cpu_matmul_multi call each, the others
 * alone. w: the BENCH_TL_MATS weights in order (the caller's); x holds at
 * least n x BENCH_TL_FF floats, y n x BENCH_TL_VOCAB; scratch is sized for
 * every call. */
void bench_tl_pass(sb_threadpool *pool, const sb_cpu_weight *const *w, int64_t n, const float *x, float *y,
                   void *scratch);

/* Bytes of scratch bench_tl_pass needs on up to n tokens with these weights:
 * the largest any of its calls asks for. */
size_t bench_tl_scratch_size(const sb_cpu_weight *const *w, int64_t n);

/* Fills the GGUF bytes of `rows` rows of `cols` values of `type` (the
 * caller's buffer, sized by sb_type_row_size) with random quants and every
 * block scale (and min) 0.01, or with values in [-1, 1] for F32 / F16 /
 * BF16: numbers that stay finite through any kernel. */
void bench_fill_weight(sb_rng *rng, uint32_t type, uint8_t *p, int64_t rows, int64_t cols);

/* qsort comparison of doubles, ascending. */
int bench_cmp_double(const void *a, const void *b);

#endif
