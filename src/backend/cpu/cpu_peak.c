/*
 * cpu_peak.c - the compute probe behind cpu_peak.h: thread orchestration
 * and the plain C loops (the SIMD ones are in cpu_peak_{avx2,avx512,neon,
 * neon_base}.c).
 */
#include "cpu_peak.h"

#include "cpu_matmul.h"
#include "sb_time.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Plain C: eight float chains from different starting values (without
 * -ffast-math the compiler may not merge or reorder them). */
static double fma_scalar(long iters) {
    float a0 = 1.000f, a1 = 1.001f, a2 = 1.002f, a3 = 1.003f, a4 = 1.004f, a5 = 1.005f, a6 = 1.006f, a7 = 1.007f;
    const float b = 0.999999f, c = 1e-7f;
    for (long i = 0; i < iters; i++) {
        a0 = a0 * b + c, a1 = a1 * b + c, a2 = a2 * b + c, a3 = a3 * b + c;
        a4 = a4 * b + c, a5 = a5 * b + c, a6 = a6 * b + c, a7 = a7 * b + c;
    }
    volatile float sink = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
    (void)sink;
    return (double)iters * 8.0 * 2.0;
}

/* Plain C int8 multiply-adds: four chains whose operands an empty asm hides
 * every iteration (otherwise the loop folds into one multiplication). */
static double dot_scalar(long iters) {
    int32_t a0 = 0, a1 = 1, a2 = 2, a3 = 3, x0 = 3, x1 = 5, x2 = 7, x3 = 9;
    const int32_t y = -2;
    for (long i = 0; i < iters; i++) {
        __asm__("" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(a0), "+r"(a1), "+r"(a2), "+r"(a3));
        a0 += (int8_t)x0 * y, a1 += (int8_t)x1 * y, a2 += (int8_t)x2 * y, a3 += (int8_t)x3 * y;
    }
    volatile int32_t sink = a0 + a1 + a2 + a3;
    (void)sink;
    return (double)iters * 4.0 * 2.0;
}

/* The loops that match the kernels in use (sb_cpu_isa_active, which
 * honours SOLEBOX_CPU_ISA): the FP32 loop of that ISA, and the int8 loop of
 * the instructions its quantized kernels multiply with. */
typedef enum probe_isa { ISA_SCALAR, ISA_AVX2, ISA_AVX512, ISA_AVX512_VNNI, ISA_NEON, ISA_NEON_DOT } probe_isa;

static probe_isa pick_isa(void) {
    const sb_cpu_features *f = sb_cpu_features_get();
    switch (sb_cpu_isa_active()) {
    case SB_ISA_AVX512: return f->avx512vnni ? ISA_AVX512_VNNI : ISA_AVX512;
    case SB_ISA_AVX2: return ISA_AVX2;
    case SB_ISA_NEON: return f->dotprod ? ISA_NEON_DOT : ISA_NEON;
    default: return ISA_SCALAR;
    }
}

static const char *isa_label(probe_isa isa) {
    switch (isa) {
    case ISA_AVX512_VNNI: return "avx512-vnni";
    case ISA_AVX512: return "avx512";
    case ISA_AVX2: return "avx2-fma";
    case ISA_NEON_DOT: return "neon-dotprod";
    case ISA_NEON: return "neon";
    default: return "scalar";
    }
}

/* ---- threads ---- */

typedef struct probe_shared {
    atomic_int go;
    int kind; /* 0 fma, 1 dot */
    probe_isa isa;
    double seconds;
} probe_shared;

typedef struct probe_thread {
    probe_shared *sh;
    int index;
    double ops; /* operations done */
    double elapsed;
} probe_thread;

static double run_kernel(probe_isa isa, int kind, long iters) {
    switch (isa) {
#if defined(__x86_64__)
    case ISA_AVX512_VNNI: return kind == 0 ? sb_peak_fma_avx512(iters) : sb_peak_dot_avx512(iters);
    case ISA_AVX512: return kind == 0 ? sb_peak_fma_avx512(iters) : sb_peak_dot_avx2(iters);
    case ISA_AVX2: return kind == 0 ? sb_peak_fma_avx2(iters) : sb_peak_dot_avx2(iters);
#endif
#if defined(__aarch64__)
    case ISA_NEON_DOT: return kind == 0 ? sb_peak_fma_neon(iters) : sb_peak_dot_neon_dot(iters);
    case ISA_NEON: return kind == 0 ? sb_peak_fma_neon(iters) : sb_peak_dot_neon(iters);
#endif
    default: return kind == 0 ? fma_scalar(iters) : dot_scalar(iters);
    }
}

static void *probe_main(void *arg) {
    probe_thread *t = arg;
    probe_shared *sh = t->sh;
    while (!atomic_load(&sh->go))
        sched_yield();
    uint64_t t0 = sb_now_ns();
    uint64_t deadline = t0 + (uint64_t)(sh->seconds * 1e9);
    do
        t->ops += run_kernel(sh->isa, sh->kind, 20000);
    while (sb_now_ns() < deadline);
    t->elapsed = (double)(sb_now_ns() - t0) / 1e9;
    return NULL;
}

/* Runs one probe on n threads (the caller is thread 0); returns the
 * slowest thread's time and the total of ops. */
static sb_status run_threads(probe_shared *sh, int n, double *ops, double *elapsed, sb_error *err) {
    probe_thread th[256];
    pthread_t id[256];
    bool started[256] = {false};
    if (n > 256)
        n = 256;
    memset(th, 0, sizeof th);
    atomic_store(&sh->go, 0);
    for (int i = 0; i < n; i++) {
        th[i].sh = sh;
        th[i].index = i;
    }
    int running = 1;
    for (int i = 1; i < n; i++) {
        started[i] = pthread_create(&id[i], NULL, probe_main, &th[i]) == 0;
        running += started[i];
    }
    atomic_store(&sh->go, 1);
    probe_main(&th[0]);
    for (int i = 1; i < n; i++)
        if (started[i])
            pthread_join(id[i], NULL);
    if (running < n)
        return sb_error_set(err, SB_ERR_INTERNAL, "peak probe: only %d of %d threads started", running, n);
    *ops = 0;
    *elapsed = 0;
    for (int i = 0; i < n; i++) {
        *ops += th[i].ops;
        if (th[i].elapsed > *elapsed)
            *elapsed = th[i].elapsed;
    }
    return SB_OK;
}

/* Rounds each kind of loop is timed in. A limit is what the machine reaches
 * when nothing disturbs it, and on a shared machine a single 0.2 s window
 * read anywhere from 173 to 227 GFLOP/s (FP32) and 825 to 928 Gop/s (int8)
 * from one run to the next: the best of several shorter rounds, the two
 * kinds taking turns, is the steadier estimate. */
#define PROBE_ROUNDS 5

sb_status sb_cpu_probe_compute(int n_threads, double seconds, double *fma_gflops, double *int8_gops, const char **isa,
                               sb_error *err) {
    probe_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.isa = pick_isa();
    sh.seconds = (seconds > 0 ? seconds : 0.2) / PROBE_ROUNDS;
    *isa = isa_label(sh.isa);
    *fma_gflops = 0;
    *int8_gops = 0;
    for (int r = 0; r < PROBE_ROUNDS; r++)
        for (int kind = 0; kind < 2; kind++) {
            double ops, t;
            sh.kind = kind;
            sb_status st = run_threads(&sh, n_threads < 1 ? 1 : n_threads, &ops, &t, err);
            if (st != SB_OK)
                return st;
            double *best = kind == 0 ? fma_gflops : int8_gops;
            if (t > 0 && ops / t / 1e9 > *best)
                *best = ops / t / 1e9;
        }
    return SB_OK;
}
