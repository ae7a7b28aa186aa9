/*
 * cpu_membw.c - read-bandwidth measurement (see cpu_membw.h). The read loop
 * uses GCC vector types, so it compiles to 16-byte (or wider) loads on every
 * target without ISA-specific code; a few independent accumulators keep
 * enough loads in flight to saturate the memory controllers.
 */
#include "cpu_membw.h"

#include "cpu_matmul.h"

#include "sb_alloc.h"
#include "sb_time.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t v2u64 __attribute__((vector_size(16)));

typedef struct bw_ctx {
    uint8_t *buf;
    size_t bytes;
    int touch;                  /* first pass: write the pages (first touch by the reading thread) */
    volatile uint64_t sink[64]; /* keeps the sums alive, one slot per thread */
} bw_ctx;

static void bw_worker(void *arg, int ith, int nth) {
    bw_ctx *c = arg;
    const size_t lines = c->bytes / 256;
    const size_t l0 = lines * (size_t)ith / (size_t)nth, l1 = lines * (size_t)(ith + 1) / (size_t)nth;
    uint8_t *p = c->buf + l0 * 256;
    const size_t n = (l1 - l0) * 256;
    if (c->touch) {
        memset(p, ith + 1, n);
        return;
    }
    v2u64 a0 = {0, 0}, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    for (size_t i = 0; i < n; i += 128) {
        const v2u64 *v = (const v2u64 *)(p + i);
        a0 ^= v[0];
        a1 ^= v[1];
        a2 ^= v[2];
        a3 ^= v[3];
        a4 ^= v[4];
        a5 ^= v[5];
        a6 ^= v[6];
        a7 ^= v[7];
    }
    const v2u64 s = a0 ^ a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7;
    c->sink[ith & 63] = s[0] ^ s[1];
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct sb_cpu_bw_probe {
    sb_threadpool *pool;
    bw_ctx *c;
};

sb_status sb_cpu_bw_probe_create(sb_threadpool *pool, size_t bytes, sb_cpu_bw_probe **out, sb_error *err) {
    *out = NULL;
    if (!pool || bytes < (1u << 20))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "bandwidth probe: a buffer of %zu bytes is too small", bytes);
    bytes &= ~(size_t)255;
    sb_cpu_bw_probe *p = sb_calloc(1, sizeof *p);
    bw_ctx *c = sb_calloc(1, sizeof *c);
    if (c) /* the same page size the repacked weights ask for (cpu_matmul.c) */
        c->buf = sb_cpu_alloc_huge(bytes);
    if (!p || !c || !c->buf) {
        if (c)
            sb_aligned_free(c->buf);
        sb_free(c);
        sb_free(p);
        return sb_error_set(err, SB_ERR_NOMEM, "bandwidth probe: out of memory for %zu bytes", bytes);
    }
    c->bytes = bytes;
    c->touch = 1;
    sb_threadpool_run(pool, bw_worker, c);
    c->touch = 0;
    sb_threadpool_run(pool, bw_worker, c); /* warm-up pass (TLB, page tables, clocks) */
    p->pool = pool;
    p->c = c;
    *out = p;
    return SB_OK;
}

double sb_cpu_bw_probe_run(sb_cpu_bw_probe *p, int reps) {
    if (!p || reps < 1 || reps > 1000)
        return 0.0;
    double t[1000];
    for (int r = 0; r < reps; r++) {
        const double t0 = sb_now_seconds();
        sb_threadpool_run(p->pool, bw_worker, p->c);
        t[r] = (double)p->c->bytes / (sb_now_seconds() - t0);
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    return reps % 2 ? t[reps / 2] : 0.5 * (t[reps / 2 - 1] + t[reps / 2]);
}

void sb_cpu_bw_probe_free(sb_cpu_bw_probe *p) {
    if (!p)
        return;
    sb_aligned_free(p->c->buf);
    sb_free(p->c);
    sb_free(p);
}

double sb_cpu_measure_read_bandwidth(sb_threadpool *pool, size_t bytes, int reps) {
    if (!pool || bytes < (1u << 20) || reps < 1 || reps > 1000)
        return 0.0;
    sb_cpu_bw_probe *p;
    if (sb_cpu_bw_probe_create(pool, bytes, &p, NULL) != SB_OK)
        return 0.0;
    const double median = sb_cpu_bw_probe_run(p, reps);
    sb_cpu_bw_probe_free(p);
    return median;
}
