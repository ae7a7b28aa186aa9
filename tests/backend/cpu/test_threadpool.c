/*
 * test_threadpool.c - the CPU backend's thread pool: every job runs once per
 * thread with the right (ith, nth), many jobs back to back (the decode
 * pattern), pools of 1..4 threads, a pool that went to sleep wakes up, and
 * sb_split_range covers [0, n) exactly with aligned, ordered parts.
 */
#include "sb_test.h"
#include "sb_threadpool.h"

#include <stdatomic.h>
#include <time.h>

typedef struct job {
    atomic_int calls;
    atomic_long sum;
    atomic_int bad_nth;
    int expect_nth;
} job;

static void job_fn(void *arg, int ith, int nth) {
    job *j = arg;
    atomic_fetch_add(&j->calls, 1);
    atomic_fetch_add(&j->sum, 1L << ith);
    if (nth != j->expect_nth)
        atomic_fetch_add(&j->bad_nth, 1);
}

static void test_many_jobs(void) {
    for (int n = 1; n <= 4; n++) {
        sb_threadpool *p = NULL;
        SB_CHECK(sb_threadpool_create(n, &p, NULL) == SB_OK);
        SB_CHECK(sb_threadpool_size(p) == n);
        int bad = 0;
        /* more threads than this 2-core test machine has: a descheduled worker
         * costs a time slice per job, so fewer jobs */
        const int jobs = n <= 2 ? 2000 : 50;
        for (int it = 0; it < jobs; it++) {
            job j = {.expect_nth = n};
            atomic_init(&j.calls, 0);
            atomic_init(&j.sum, 0);
            atomic_init(&j.bad_nth, 0);
            sb_threadpool_run(p, job_fn, &j);
            bad += atomic_load(&j.calls) != n || atomic_load(&j.sum) != (1L << n) - 1 || atomic_load(&j.bad_nth);
        }
        SB_CHECKF(bad == 0, "%d threads: %d jobs ran wrong", n, bad);
        sb_threadpool_free(p);
    }
}

static void test_wake_after_sleep(void) {
    sb_threadpool *p = NULL;
    SB_CHECK(sb_threadpool_create(3, &p, NULL) == SB_OK);
    for (int round = 0; round < 2; round++) {
        struct timespec ts = {0, 50 * 1000 * 1000}; /* long enough for the workers to go to sleep */
        nanosleep(&ts, NULL);
        job j = {.expect_nth = 3};
        atomic_init(&j.calls, 0);
        atomic_init(&j.sum, 0);
        atomic_init(&j.bad_nth, 0);
        sb_threadpool_run(p, job_fn, &j);
        SB_CHECK(atomic_load(&j.calls) == 3 && atomic_load(&j.sum) == 7);
    }
    sb_threadpool_free(p);
    sb_threadpool_free(NULL);
}

static void test_create_errors(void) {
    sb_threadpool *p = (sb_threadpool *)1;
    sb_error err;
    SB_CHECK(sb_threadpool_create(0, &p, &err) == SB_ERR_INVALID_ARG && p == NULL);
    SB_CHECK(sb_threadpool_create(100000, &p, &err) == SB_ERR_INVALID_ARG);
}

static void test_split_range(void) {
    const long ns[] = {0, 1, 5, 16, 17, 100, 1000, 32000};
    const long aligns[] = {1, 4, 16, 64};
    int bad = 0;
    for (size_t a = 0; a < 4; a++)
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (int nth = 1; nth <= 5; nth++) {
                long prev = 0;
                for (int ith = 0; ith < nth; ith++) {
                    long b, e;
                    sb_split_range(ns[i], ith, nth, aligns[a], &b, &e);
                    if (b != prev || e < b || e > ns[i])
                        bad++;
                    if (b % aligns[a] != 0 && b != ns[i])
                        bad++;
                    prev = e;
                }
                if (prev != ns[i])
                    bad++;
            }
    SB_CHECK(bad == 0);
    long b, e;
    sb_split_range(32, 0, 2, 16, &b, &e);
    SB_CHECK(b == 0 && e == 16);
    sb_split_range(32, 1, 2, 16, &b, &e);
    SB_CHECK(b == 16 && e == 32);
}

/* Dynamic chunks and per-thread runs interleaved, for 1..4 threads (more
 * threads than cores: a descheduled worker must not lose or repeat work). */
#define MAX_PIECES 256

static atomic_int hits[MAX_PIECES];
static atomic_int per_thread_max[8];

static void chunk_fn(void *ctx, long k, int ith) {
    (void)ctx;
    atomic_fetch_add(&hits[k], 1);
    if (ith >= 0 && ith < 8)
        atomic_fetch_add(&per_thread_max[ith], 1);
}

static void all_fn(void *ctx, int ith, int nth) {
    int *seen_nth = ctx;
    atomic_fetch_add(&hits[ith], 1);
    *seen_nth = nth;
}

static void reset(void) {
    for (int i = 0; i < MAX_PIECES; i++)
        atomic_store(&hits[i], 0);
}

static int count_bad(int n) {
    int bad = 0;
    for (int i = 0; i < n; i++)
        bad += atomic_load(&hits[i]) != 1;
    for (int i = n; i < MAX_PIECES; i++)
        bad += atomic_load(&hits[i]) != 0;
    return bad;
}

static void test_chunks_and_runs_interleaved(void) {
    for (int nt = 1; nt <= 4; nt++) {
        sb_threadpool *p;
        sb_error err;
        SB_CHECK(sb_threadpool_create(nt, &p, &err) == SB_OK);
        SB_CHECK_EQ_INT(sb_threadpool_size(p), nt);
        int bad = 0;
        int reps = nt <= 2 ? 3000 : 400; /* oversubscribed: every run() waits for a descheduled worker */
        for (int rep = 0; rep < reps; rep++) {
            reset();
            if (rep % 3 == 0) {
                int seen = 0;
                sb_threadpool_run(p, all_fn, &seen);
                bad += count_bad(nt) + (seen != nt);
            } else {
                long n = 1 + (rep * 7) % 200;
                sb_threadpool_run_chunks(p, n, chunk_fn, NULL);
                bad += count_bad((int)n);
            }
        }
        SB_CHECKF(bad == 0, "%d threads: %d pieces run other than once", nt, bad);
        reset();
        sb_threadpool_run_chunks(p, 0, chunk_fn, NULL);
        SB_CHECK(count_bad(0) == 0);
        sb_threadpool_free(p);
    }
}

int main(void) {
    SB_RUN(test_create_errors);
    SB_RUN(test_split_range);
    SB_RUN(test_many_jobs);
    SB_RUN(test_wake_after_sleep);
    SB_RUN(test_chunks_and_runs_interleaved);
    return sb_test_finish();
}
