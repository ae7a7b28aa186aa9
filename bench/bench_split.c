/*
 * bench_split.c - how the way two threads split one decode pass's weight
 * stream decides the fraction of the read bandwidth it reaches.
 *
 * The weights are a TinyLlama-1.1B-shaped Q4_0 layer set packed by the CPU
 * backend into one huge-page arena in load order (22 layers of q/k/v, o,
 * gate/up and down as the engine calls them, then the output matrix: 89
 * calls, 582 MB). Every pass is timed right after a 256 MiB read of the
 * engine's bandwidth probe on the same two threads, and for each way of
 * walking the pass the median of the per-pass fractions is printed
 * (quartiles beside it). The ways alternate pass by pass, so all of them
 * see the same memory regime:
 *
 *   engine      sb_cpu_matmul / sb_cpu_matmul_multi with n = 1: the decode
 *               driver (ranges, pieces, stealing, the real tiles, x
 *               quantized by each thread per call)
 *   halves      a Q4_0-shaped streaming loop (per 288 bytes: 4 loads, 8
 *               vpdpbusd, one scale FMA) over static halves of every call,
 *               the two threads meeting at a barrier after each call
 *   no-barrier  the same without the barriers: no call waits for the other
 *               thread (an upper bound; the numbers are not usable)
 *   meet        thread 0 walks each call upwards from its start, thread 1
 *               downwards from its end (every load at a lower address than
 *               the one before, bar the scale line of a block), each
 *               claiming a quarter of what is left (18 KB..1.2 MB) until
 *               they meet; a barrier after each call
 *   meet-groups the same, but thread 1 walks 18 KB groups downwards and
 *               reads each group upwards (what a tile that keeps its
 *               summation order would do)
 *
 * x86-64 with AVX-512 VNNI only (the streaming loop is written for it);
 * elsewhere it says so and exits 0.
 *
 * Usage: bench_split [--passes N]   (default 12)
 */
#include "bench_util.h"
#include "cpu_matmul.h"
#include "cpu_membw.h"
#include "sb_alloc.h"
#include "sb_tensor_type.h"
#include "sb_threadpool.h"
#include "sb_time.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define LAYERS BENCH_TL_LAYERS
#define MATS_PER_LAYER BENCH_TL_MATS_PER_LAYER
#define N_MATS BENCH_TL_MATS
#define N_CALLS (LAYERS * 4 + 1)
#define BLOCK_BYTES 288 /* one Q4_0-shaped block of the loop: 32 scale bytes, 256 quant bytes */
#define GROUP_BLOCKS 64 /* 18 KB: a 16-row group of 2048 Q4_0 columns */
#define MAX_PASSES 200
#define KERNEL __attribute__((target("avx512f,avx512bw,avx512vnni,f16c,fma")))

enum { WAY_ENGINE, WAY_HALVES, WAY_NO_BARRIER, WAY_MEET, WAY_MEET_GROUPS, N_WAYS };
static const char *const way_names[N_WAYS] = {"engine", "halves", "no-barrier", "meet", "meet-groups"};

/* One call of the pass: a contiguous byte range of the arena. */
typedef struct call_range {
    const uint8_t *p;
    size_t blocks;
} call_range;

/* State of one pass of a streaming way, shared by the two threads. */
typedef struct pass_ctx {
    int way;
    const call_range *calls;
    _Atomic int arrived[N_CALLS];         /* barrier after call c */
    _Atomic uint64_t front_back[N_CALLS]; /* meet: blocks [front, back) still unclaimed */
    volatile float sink[2];
} pass_ctx;

/* A random Q4_0 weight (every block's scale 0.01) packed into the arena. */
static void make_weight(sb_rng *rng, sb_cpu_weight *w, int64_t rows, int64_t cols, sb_cpu_arena *arena) {
    uint64_t row_bytes;
    if (!sb_type_row_size(SB_TYPE_Q4_0, cols, &row_bytes)) {
        fprintf(stderr, "bench_split: bad shape\n");
        exit(1);
    }
    uint8_t *p = sb_aligned_alloc(64, (size_t)row_bytes * (size_t)rows);
    if (!p) {
        fprintf(stderr, "bench_split: out of memory\n");
        exit(1);
    }
    bench_fill_weight(rng, SB_TYPE_Q4_0, p, rows, cols);
    sb_error err;
    if (sb_cpu_weight_init_in(w, SB_TYPE_Q4_0, rows, cols, p, true, arena, &err) != SB_OK || !w->in_arena) {
        fprintf(stderr, "bench_split: packing failed or arena full\n");
        exit(1);
    }
    sb_aligned_free(p);
}

/* The activation bytes of the streaming loop: fixed, so the loop reads
 * nothing but weights from memory. */
static const int8_t g_xq[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,  11,  12,  13,  14,  15,  16,
                                -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15, -16};

/* One block of the streaming loop; k_down walks its four quant lines downwards.
 */
KERNEL static inline __m512 stream_block(const uint8_t *blk, __m512 acc, bool k_down) {
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    __m512i s = _mm512_set1_epi32(-7);
    for (int i = 0; i < 4; i++) {
        const int k = k_down ? 3 - i : i;
        const __m512i v = _mm512_loadu_si512(blk + 32 + 64 * k);
        int32_t x0, x1;
        memcpy(&x0, g_xq + 4 * k, 4);
        memcpy(&x1, g_xq + 16 + 4 * k, 4);
        s = _mm512_dpbusd_epi32(s, _mm512_and_si512(v, m4), _mm512_set1_epi32(x0));
        s = _mm512_dpbusd_epi32(s, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4), _mm512_set1_epi32(x1));
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)blk));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(0.01f)), acc);
}

/* Blocks [0, n) at p, upwards. */
KERNEL static float stream_up(const uint8_t *p, size_t n) {
    __m512 acc = _mm512_setzero_ps();
    for (size_t b = 0; b < n; b++)
        acc = stream_block(p + b * BLOCK_BYTES, acc, false);
    return _mm512_reduce_add_ps(acc);
}

/* Blocks [0, n) at p, downwards: groups of GROUP_BLOCKS read upwards
 * (by_group) or every block and line downwards. */
KERNEL static float stream_down(const uint8_t *p, size_t n, bool by_group) {
    if (by_group) {
        float r = 0.0f;
        for (size_t g1 = n; g1 > 0;) {
            const size_t g0 = g1 > GROUP_BLOCKS ? g1 - GROUP_BLOCKS : 0;
            r += stream_up(p + g0 * BLOCK_BYTES, g1 - g0);
            g1 = g0;
        }
        return r;
    }
    __m512 acc = _mm512_setzero_ps();
    for (size_t b = n; b-- > 0;)
        acc = stream_block(p + b * BLOCK_BYTES, acc, true);
    return _mm512_reduce_add_ps(acc);
}

static inline uint64_t fb_word(uint32_t front, uint32_t back) { return ((uint64_t)back << 32) | front; }

/* Meet: claims the next piece of call c from this thread's end; false when
 * the two ends have met. */
static bool claim(pass_ctx *x, int c, int ith, size_t *b0, size_t *n) {
    uint64_t v = atomic_load_explicit(&x->front_back[c], memory_order_relaxed);
    for (;;) {
        const uint32_t f = (uint32_t)v, b = (uint32_t)(v >> 32);
        if (f >= b)
            return false;
        const uint32_t left = b - f;
        uint32_t take = left / 4;
        take = take < 64 ? (left < 64 ? left : 64) : take > 4096 ? 4096 : take;
        const uint64_t nv = ith == 0 ? fb_word(f + take, b) : fb_word(f, b - take);
        if (atomic_compare_exchange_weak_explicit(&x->front_back[c], &v, nv, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            *b0 = ith == 0 ? f : b - take;
            *n = take;
            return true;
        }
    }
}

/* One pass of a streaming way on thread ith of 2. */
static void stream_pass(void *arg, int ith, int nth) {
    pass_ctx *x = arg;
    float r = 0.0f;
    for (int c = 0; c < N_CALLS; c++) {
        const call_range *cr = &x->calls[c];
        if (x->way == WAY_HALVES || x->way == WAY_NO_BARRIER) {
            const size_t b0 = cr->blocks * (size_t)ith / (size_t)nth, b1 = cr->blocks * (size_t)(ith + 1) / (size_t)nth;
            r += stream_up(cr->p + b0 * BLOCK_BYTES, b1 - b0);
        } else {
            size_t b0, n;
            while (claim(x, c, ith, &b0, &n))
                r += ith == 0 ? stream_up(cr->p + b0 * BLOCK_BYTES, n)
                              : stream_down(cr->p + b0 * BLOCK_BYTES, n, x->way == WAY_MEET_GROUPS);
        }
        if (x->way != WAY_NO_BARRIER) {
            atomic_fetch_add_explicit(&x->arrived[c], 1, memory_order_acq_rel);
            while (atomic_load_explicit(&x->arrived[c], memory_order_acquire) < nth)
                _mm_pause();
        }
    }
    x->sink[ith] = r;
}

/* The byte range from the start of weight a to the end of weight b. */
static call_range span(const sb_cpu_weight *a, const sb_cpu_weight *b) {
    const uint8_t *p = a->packed;
    const size_t bytes = (size_t)((const uint8_t *)b->packed + b->packed_bytes - p);
    return (call_range){p, bytes / BLOCK_BYTES};
}

int main(int argc, char **argv) {
    int passes = 12;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--passes") && i + 1 < argc) {
            passes = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_split [--passes N]\n");
            return 2;
        }
    }
    if (passes < 1 || passes > MAX_PASSES) {
        fprintf(stderr, "bench_split: --passes must be 1..%d\n", MAX_PASSES);
        return 2;
    }
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512vnni") || !__builtin_cpu_supports("avx512bw")) {
        printf("bench_split: this CPU has no AVX-512 VNNI; nothing measured\n");
        return 0;
    }
    sb_rng rng;
    sb_rng_seed(&rng, 0x9E3779B97F4A7C15ull);
    sb_error err;
    sb_threadpool *pool;
    sb_cpu_arena arena;
    if (sb_threadpool_create(2, &pool, &err) != SB_OK || sb_cpu_arena_init(&arena, (size_t)640 << 20, &err) != SB_OK) {
        fprintf(stderr, "bench_split: %s\n", err.msg);
        return 1;
    }
    sb_cpu_weight m[N_MATS];
    const sb_cpu_weight *ws[N_MATS];
    for (int i = 0; i < N_MATS; i++) {
        int64_t rows, cols;
        bench_tl_shape(i, &rows, &cols);
        make_weight(&rng, &m[i], rows, cols, &arena);
        ws[i] = &m[i];
    }
    double bytes = 0;
    for (int i = 0; i < N_MATS; i++)
        bytes += (double)m[i].packed_bytes;
    call_range calls[N_CALLS];
    int nc = 0;
    for (int l = 0; l < LAYERS; l++) {
        const sb_cpu_weight *lw = m + l * MATS_PER_LAYER;
        calls[nc++] = span(&lw[0], &lw[2]);
        calls[nc++] = span(&lw[3], &lw[3]);
        calls[nc++] = span(&lw[4], &lw[5]);
        calls[nc++] = span(&lw[6], &lw[6]);
    }
    calls[nc++] = span(&m[N_MATS - 1], &m[N_MATS - 1]);

    sb_cpu_bw_probe *probe;
    if (sb_cpu_bw_probe_create(pool, (size_t)256 << 20, &probe, &err) != SB_OK) {
        fprintf(stderr, "bench_split: %s\n", err.msg);
        return 1;
    }
    float *x = sb_aligned_alloc(64, sizeof(float) * BENCH_TL_FF);
    float *y = sb_aligned_alloc(64, sizeof(float) * BENCH_TL_VOCAB);
    void *scratch = sb_aligned_alloc(64, bench_tl_scratch_size(ws, 1));
    pass_ctx *ctx = sb_aligned_alloc(64, sizeof *ctx);
    if (!x || !y || !scratch || !ctx) {
        fprintf(stderr, "bench_split: out of memory\n");
        return 1;
    }
    for (int i = 0; i < BENCH_TL_FF; i++)
        x[i] = (float)(sb_rng_next(&rng) % 2001) / 1000.0f - 1.0f;
    memset(ctx, 0, sizeof *ctx);
    ctx->calls = calls;

    static double frac[N_WAYS][MAX_PASSES], bw[MAX_PASSES * N_WAYS];
    int nbw = 0;
    printf("bench_split: %.1f MB of Q4_0 weights a pass, %d calls, 2 threads, %d "
           "passes per way\n",
           bytes / 1e6, N_CALLS, passes);
    for (int p = 0; p < passes; p++) {
        for (int k = 0; k < N_WAYS; k++) {
            const int way = (k + p) % N_WAYS; /* rotate the order pass by pass */
            const double read = sb_cpu_bw_probe_run(probe, 1);
            double t0;
            if (way == WAY_ENGINE) {
                t0 = sb_now_seconds();
                bench_tl_pass(pool, ws, 1, x, y, scratch); /* the engine's decode driver */
            } else {
                ctx->way = way;
                for (int c = 0; c < N_CALLS; c++) {
                    atomic_store(&ctx->arrived[c], 0);
                    atomic_store(&ctx->front_back[c], fb_word(0, (uint32_t)calls[c].blocks));
                }
                t0 = sb_now_seconds();
                sb_threadpool_run(pool, stream_pass, ctx);
            }
            const double t = sb_now_seconds() - t0;
            frac[way][p] = bytes / t / read;
            bw[nbw++] = read / 1e9;
        }
    }
    qsort(bw, (size_t)nbw, sizeof *bw, bench_cmp_double);
    printf("read bandwidth beside the passes: median %.1f GB/s (quartiles "
           "%.1f..%.1f)\n",
           bw[nbw / 2], bw[nbw / 4], bw[3 * nbw / 4]);
    for (int w = 0; w < N_WAYS; w++) {
        qsort(frac[w], (size_t)passes, sizeof(double), bench_cmp_double);
        printf("  %-12s %5.1f%% of the read beside it (quartiles %.1f..%.1f)\n", way_names[w],
               100 * frac[w][passes / 2], 100 * frac[w][passes / 4], 100 * frac[w][3 * passes / 4]);
    }
    sb_cpu_bw_probe_free(probe);
    sb_aligned_free(ctx);
    sb_aligned_free(scratch);
    sb_aligned_free(y);
    sb_aligned_free(x);
    for (int i = 0; i < N_MATS; i++)
        sb_cpu_weight_free(&m[i]);
    sb_cpu_arena_free(&arena);
    sb_threadpool_free(pool);
    return 0;
}
#else
int main(void) {
    printf("bench_split: x86-64 with AVX-512 VNNI only; nothing measured\n");
    return 0;
}
#endif
