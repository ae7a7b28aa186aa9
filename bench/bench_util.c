/*
 * bench_util.c - see bench_util.h.
 */
#include "bench_util.h"

#include "sb_half.h"
#include "sb_tensor_type.h"

#include <string.h>

void bench_tl_shape(int i, int64_t *rows, int64_t *cols) {
    static const int64_t layer[BENCH_TL_MATS_PER_LAYER][2] = {
        {BENCH_TL_DIM, BENCH_TL_DIM}, {BENCH_TL_KV, BENCH_TL_DIM}, {BENCH_TL_KV, BENCH_TL_DIM},
        {BENCH_TL_DIM, BENCH_TL_DIM}, {BENCH_TL_FF, BENCH_TL_DIM}, {BENCH_TL_FF, BENCH_TL_DIM},
        {BENCH_TL_DIM, BENCH_TL_FF}};
    if (i >= BENCH_TL_LAYERS * BENCH_TL_MATS_PER_LAYER) {
        *rows = BENCH_TL_VOCAB;
        *cols = BENCH_TL_DIM;
        return;
    }
    *rows = layer[i % BENCH_TL_MATS_PER_LAYER][0];
    *cols = layer[i % BENCH_TL_MATS_PER_LAYER][1];
}

void bench_tl_pass(sb_threadpool *pool, const sb_cpu_weight *const *w, int64_t n, const float *x, float *y,
                   void *scratch) {
    for (int l = 0; l < BENCH_TL_LAYERS; l++) {
        const sb_cpu_weight *const *lw = w + l * BENCH_TL_MATS_PER_LAYER;
        float *yq[3] = {y, y + n * BENCH_TL_DIM, y + n * (BENCH_TL_DIM + BENCH_TL_KV)};
        sb_cpu_matmul_multi(pool, lw, 3, x, n, yq, false, scratch);
        sb_cpu_matmul(pool, lw[3], x, n, y, false, scratch);
        float *yg[2] = {y, y + n * BENCH_TL_FF};
        sb_cpu_matmul_multi(pool, lw + 4, 2, x, n, yg, false, scratch);
        sb_cpu_matmul(pool, lw[6], x, n, y, false, scratch);
    }
    sb_cpu_matmul(pool, w[BENCH_TL_MATS - 1], x, n, y, false, scratch);
}

size_t bench_tl_scratch_size(const sb_cpu_weight *const *w, int64_t n) {
    size_t need = sb_cpu_matmul_scratch_size(w[BENCH_TL_MATS - 1], n);
    for (int l = 0; l < BENCH_TL_LAYERS; l++) {
        const sb_cpu_weight *const *lw = w + l * BENCH_TL_MATS_PER_LAYER;
        const size_t s[4] = {sb_cpu_matmul_multi_scratch_size(lw, 3, n), sb_cpu_matmul_scratch_size(lw[3], n),
                             sb_cpu_matmul_multi_scratch_size(lw + 4, 2, n), sb_cpu_matmul_scratch_size(lw[6], n)};
        for (int i = 0; i < 4; i++)
            need = s[i] > need ? s[i] : need;
    }
    return need;
}

void bench_fill_weight(sb_rng *rng, uint32_t type, uint8_t *p, int64_t rows, int64_t cols) {
    uint64_t rb = 0;
    sb_type_row_size(type, (uint64_t)cols, &rb);
    const size_t bytes = (size_t)(rb * (uint64_t)rows);
    if (type == SB_TYPE_F16 || type == SB_TYPE_BF16 || type == SB_TYPE_F32) {
        /* values drawn from a small table: converting each one to F16 would
         * take longer than the benchmark */
        static float table[4096];
        if (table[1] == 0.0f)
            for (int i = 0; i < 4096; i++)
                table[i] = (float)((double)(sb_rng_next(rng) % 20001) / 10000.0 - 1.0);
        const size_t n = bytes / (type == SB_TYPE_F32 ? 4 : 2);
        for (size_t i = 0; i < n; i++) {
            const float v = table[sb_rng_next(rng) & 4095];
            if (type == SB_TYPE_F32)
                ((float *)p)[i] = v;
            else
                ((uint16_t *)p)[i] = type == SB_TYPE_F16 ? sb_f32_to_fp16(v) : sb_f32_to_bf16(v);
        }
        return;
    }
    for (size_t i = 0; i + 8 <= bytes; i += 8) {
        const uint64_t r = sb_rng_next(rng);
        memcpy(p + i, &r, 8);
    }
    const uint32_t bs = sb_type_traits_of(type)->block_size, ts = sb_type_traits_of(type)->type_size;
    const size_t nblocks = (size_t)rows * (size_t)(cols / bs);
    const uint16_t d = sb_f32_to_fp16(0.01f);
    for (size_t b = 0; b < nblocks; b++) {
        uint8_t *blk = p + b * ts;
        switch (type) {
        case SB_TYPE_Q6_K: memcpy(blk + 208, &d, 2); break;
        case SB_TYPE_Q4_K:
        case SB_TYPE_Q5_K:
        case SB_TYPE_Q4_1:
        case SB_TYPE_Q5_1:
            memcpy(blk, &d, 2);
            memcpy(blk + 2, &d, 2);
            break;
        default: memcpy(blk, &d, 2); break;
        }
    }
}

int bench_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
