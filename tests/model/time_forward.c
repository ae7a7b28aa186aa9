/*
 * time_forward.c - times forward passes of a synthetic model (not a test:
 * a measuring tool for the model/backend engineers; `solebox bench` is the
 * product's benchmark).
 *
 *   time_forward SHAPE:TYPE [THREADS] [DECODE_STEPS] [PREFILL ...]
 *   e.g. time_forward tinyllama-1.1b:q4_0 2 64 128 512
 *
 * Prints decode tok/s (one entry per forward after an 8-token prompt) with
 * the weight bytes streamed per second beside a measured read bandwidth of
 * this machine, and prefill tok/s for each prompt length (one batch, only
 * the last position's logits).
 */
#include "sb_alloc.h"
#include "sb_cpu_backend.h"
#include "sb_model.h"
#include "sb_proc.h"
#include "sb_threadpool.h"
#include "sb_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bw_job {
    const uint64_t *p;
    size_t n;
    uint64_t sums[64];
} bw_job;

static void bw_part(void *ctx, int ith, int nth) {
    bw_job *j = ctx;
    long b, e;
    sb_split_range((long)j->n, ith, nth, 64, &b, &e);
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (long i = b; i + 4 <= e; i += 4) {
        s0 += j->p[i];
        s1 += j->p[i + 1];
        s2 += j->p[i + 2];
        s3 += j->p[i + 3];
    }
    j->sums[ith & 63] = s0 + s1 + s2 + s3;
}

/* Read bandwidth over 1 GiB with the pool's threads, best of 5 (GB/s). */
static double read_bandwidth(int threads) {
    const size_t bytes = (size_t)1 << 30;
    uint64_t *p = sb_aligned_alloc(64, bytes);
    if (!p)
        return 0;
    memset(p, 1, bytes);
    sb_threadpool *pool;
    if (sb_threadpool_create(threads, &pool, NULL) != SB_OK) {
        sb_aligned_free(p);
        return 0;
    }
    bw_job j = {.p = p, .n = bytes / 8};
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double t0 = sb_now_seconds();
        sb_threadpool_run(pool, bw_part, &j);
        double gbs = (double)bytes / (sb_now_seconds() - t0) / 1e9;
        best = gbs > best ? gbs : best;
    }
    sb_threadpool_free(pool);
    sb_aligned_free(p);
    return best;
}

/* Resident set size of this process in GB. */
static double rss_gb(void) {
    uint64_t rss = 0;
    sb_proc_memory(&rss, NULL);
    return (double)rss / 1e9;
}

static int forward(sb_model *m, const int32_t *toks, int n, int pos0, int32_t *pos, int32_t *seq, const int32_t *table,
                   int n_pages) {
    for (int i = 0; i < n; i++) {
        pos[i] = pos0 + i;
        seq[i] = 0;
    }
    int32_t row = n - 1;
    const int32_t *tables[1] = {table};
    sb_batch b = {n, toks, pos, seq, 1, tables, &n_pages, 1, &row};
    sb_error err;
    if (sb_model_forward(m, &b, &err) != SB_OK) {
        fprintf(stderr, "forward: %s\n", err.msg);
        return 1;
    }
    /* the step ends when its logits are read (as a caller would) */
    float first;
    sb_backend_download(sb_model_backend(m), sb_model_logits(m), &first, 0, sizeof first);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: time_forward SHAPE:TYPE [THREADS] [DECODE_STEPS] [PREFILL ...]\n");
        return 2;
    }
    const int threads = argc > 2 ? atoi(argv[2]) : 2, steps = argc > 3 ? atoi(argv[3]) : 64;
    int prefill[8], n_prefill = 0, max_prefill = 8;
    for (int i = 4; i < argc && n_prefill < 8; i++) {
        prefill[n_prefill] = atoi(argv[i]);
        if (prefill[n_prefill] > max_prefill)
            max_prefill = prefill[n_prefill];
        n_prefill++;
    }
    sb_cpu_backend_opts o = {.n_threads = threads, .repack = true};
    sb_backend *be;
    sb_model *m;
    sb_error err;
    if (sb_cpu_backend_create(&o, &be, &err) != SB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double t0 = sb_now_seconds();
    if (sb_model_load_synthetic(argv[1], be, NULL, &m, &err) != SB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        sb_backend_destroy(be);
        return 1;
    }
    const sb_model_hparams *hp = sb_model_get_hparams(m);
    sb_backend_stats st;
    be->ops->stats(be, &st);
    printf("%s: %.2f GB of weights (backend holds %.2f GB; process RSS %.2f GB), built in %.1f s, %d threads\n",
           hp->name, (double)hp->weight_bytes / 1e9, (double)st.weight_bytes / 1e9, rss_gb(), sb_now_seconds() - t0,
           threads);

    const int ctx = max_prefill + steps + 16, ps = 32, n_pages = (ctx + ps - 1) / ps;
    sb_kv_config kv = sb_model_kv_config(m, ps, n_pages, SB_TYPE_F32);
    int32_t *table = calloc((size_t)n_pages, sizeof *table), *toks = calloc((size_t)ctx, sizeof *toks);
    int32_t *pos = calloc((size_t)ctx, sizeof *pos), *seq = calloc((size_t)ctx, sizeof *seq);
    for (int i = 0; i < n_pages; i++)
        table[i] = i;
    for (int i = 0; i < ctx; i++)
        toks[i] = (int32_t)((i * 7919 + 13) % hp->n_vocab);
    if (sb_backend_kv_init(be, &kv, &err) != SB_OK || sb_model_reserve(m, max_prefill, 1, &err) != SB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }

    /* decode: 8-token prompt, then one entry per forward */
    if (steps > 0) {
        forward(m, toks, 8, 0, pos, seq, table, n_pages);
        forward(m, toks + 8, 1, 8, pos, seq, table, n_pages); /* warm-up */
        t0 = sb_now_seconds();
        for (int s = 0; s < steps; s++)
            if (forward(m, toks + 9 + s, 1, 9 + s, pos, seq, table, n_pages))
                return 1;
        double dt = sb_now_seconds() - t0, tps = steps / dt;
        double bw = read_bandwidth(threads), gbs = (double)st.weight_bytes * tps / 1e9;
        printf("decode: %.2f tok/s, %.1f ms/token, weights streamed at %.1f GB/s = %.0f%% of measured read bandwidth "
               "%.1f GB/s\n",
               tps, 1000 * dt / steps, gbs, bw > 0 ? 100 * gbs / bw : 0, bw);
    }
    /* prefill: one batch of P entries */
    for (int i = 0; i < n_prefill; i++) {
        const int P = prefill[i];
        t0 = sb_now_seconds();
        if (forward(m, toks, P, 0, pos, seq, table, n_pages))
            return 1;
        double dt = sb_now_seconds() - t0;
        /* per entry: every layer weight once (embedding and output excluded) */
        const double layer_params = (double)hp->n_params - (double)hp->n_vocab * hp->n_embd * (hp->tied_output ? 1 : 2);
        printf("prefill %d: %.1f tok/s (%.2f s), %.1f GFLOP/s in the layers' matmuls\n", P, P / dt, dt,
               2.0 * layer_params * P / dt / 1e9);
    }
    free(table);
    free(toks);
    free(pos);
    free(seq);
    sb_model_free(m);
    sb_backend_destroy(be);
    return 0;
}
