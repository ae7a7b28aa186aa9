/*
 * sb_threadpool.h - the CPU backend's own thread pool.
 *
 * A pool of n threads (the caller's thread counts as thread 0) that runs one
 * parallel function at a time: sb_threadpool_run calls fn(ctx, ith, nth) on
 * every thread and returns when all have finished. Between jobs, workers
 * spin briefly (a decode step issues hundreds of small jobs back to back),
 * then sleep, so an idle server costs no CPU.
 *
 * Two kinds of job:
 *  - sb_threadpool_run: every thread runs fn once, concurrently, so fn may
 *    synchronise its threads (a barrier). If a worker is descheduled (a
 *    busy machine), the whole job waits for it.
 *  - sb_threadpool_run_chunks: n independent chunks handed out one at a
 *    time; whichever threads are awake take them, the caller included, so a
 *    worker that is late or descheduled delays at most the chunk it holds.
 *    Prefer it for work that needs no barrier.
 *
 * One pool serves one caller thread at a time: it is not reentrant, and
 * neither run function may be called from inside a job.
 */
#ifndef SB_THREADPOOL_H
#define SB_THREADPOOL_H

#include "sb_error.h"

typedef struct sb_threadpool sb_threadpool;

typedef void (*sb_parallel_fn)(void *ctx, int ith, int nth);

/* Creates a pool of n_threads >= 1 threads in total (n_threads - 1 are
 * started). Freed with sb_threadpool_free, which joins the workers. */
sb_status sb_threadpool_create(int n_threads, sb_threadpool **out, sb_error *err);
void sb_threadpool_free(sb_threadpool *pool);
int sb_threadpool_size(const sb_threadpool *pool);

/* Runs fn(ctx, ith, nth) for ith = 0..nth-1, one call per thread; the
 * calling thread runs ith = 0. Returns when every call has returned. */
void sb_threadpool_run(sb_threadpool *pool, sb_parallel_fn fn, void *ctx);

typedef void (*sb_chunk_fn)(void *ctx, long chunk, int ith);

/* Runs fn(ctx, chunk, ith) for every chunk in [0, n_chunks) exactly once,
 * chunks handed out dynamically; ith is the index of the thread running it
 * (for per-thread scratch: a thread runs its chunks one after another).
 * Returns when all chunks are done. n_chunks < 2^31. */
void sb_threadpool_run_chunks(sb_threadpool *pool, long n_chunks, sb_chunk_fn fn, void *ctx);

/* Splits [0, n) into nth near-equal contiguous parts; part ith is
 * [*begin, *end). Parts are aligned to `align` elements where possible. */
void sb_split_range(long n, int ith, int nth, long align, long *begin, long *end);

#endif
