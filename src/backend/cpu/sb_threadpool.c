#include "sb_threadpool.h"

#include "sb_alloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long a worker spins for the next job before sleeping. */
#define SPIN_ITERATIONS 200000

typedef struct worker {
    struct sb_threadpool *pool;
    int index;
    pthread_t thread;
} worker;

struct sb_threadpool {
    int n;
    worker *workers;
    atomic_uint_fast64_t generation; /* bumped for every job */
    atomic_int finished;             /* workers done with the current job */
    atomic_int sleepers;
    atomic_bool stop;
    sb_parallel_fn fn;
    void *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* Waits until the pool's generation differs from seen (or stop). */
static uint64_t wait_for_job(sb_threadpool *p, uint64_t seen) {
    for (int i = 0; i < SPIN_ITERATIONS; i++) {
        uint64_t g = atomic_load(&p->generation);
        if (g != seen || atomic_load(&p->stop))
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    uint64_t g;
    while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    sb_threadpool *p = w->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = wait_for_job(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        p->fn(p->ctx, w->index, p->n);
        atomic_fetch_add(&p->finished, 1);
    }
}

sb_status sb_threadpool_create(int n_threads, sb_threadpool **out, sb_error *err) {
    *out = NULL;
    if (n_threads < 1 || n_threads > 1024)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "thread count %d is out of range (1..1024)", n_threads);
    sb_threadpool *p = sb_calloc(1, sizeof *p);
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    p->n = n_threads;
    p->workers = sb_calloc((size_t)n_threads, sizeof *p->workers);
    if (!p->workers) {
        sb_free(p);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 1; i < n_threads; i++) {
        p->workers[i].pool = p;
        p->workers[i].index = i;
        if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i]) != 0) {
            p->n = i; /* join only the started ones */
            sb_threadpool_free(p);
            return sb_error_set(err, SB_ERR_INTERNAL, "cannot start thread %d of %d", i, n_threads);
        }
    }
    *out = p;
    return SB_OK;
}

void sb_threadpool_free(sb_threadpool *p) {
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->workers[i].thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    sb_free(p->workers);
    sb_free(p);
}

int sb_threadpool_size(const sb_threadpool *p) { return p->n; }

void sb_threadpool_run(sb_threadpool *p, sb_parallel_fn fn, void *ctx) {
    if (p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->finished, 0);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n);
    while (atomic_load(&p->finished) != p->n - 1)
        cpu_relax();
}

void sb_split_range(long n, int ith, int nth, long align, long *begin, long *end) {
    if (align < 1)
        align = 1;
    long units = (n + align - 1) / align;
    long per = units / nth, extra = units % nth;
    long b = ith * per + (ith < extra ? ith : extra);
    long e = b + per + (ith < extra ? 1 : 0);
    b *= align;
    e *= align;
    *begin = b < n ? b : n;
    *end = e < n ? e : n;
}
