/*
 * cpu_peak.c - the compute probe behind cpu_peak.h: thread orchestration
 * and the AVX2 / scalar loops (the AVX-512 ones are in cpu_peak_avx512.c).
 */
#include "cpu_peak.h"

#include "cpu_matmul.h"
#include "sb_time.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static double fma_avx2(long iters) {
    __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    __m256 a0 = _mm256_set1_ps(1.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,
           a9 = a0;
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_fmadd_ps(a0, b, c);
        a1 = _mm256_fmadd_ps(a1, b, c);
        a2 = _mm256_fmadd_ps(a2, b, c);
        a3 = _mm256_fmadd_ps(a3, b, c);
        a4 = _mm256_fmadd_ps(a4, b, c);
        a5 = _mm256_fmadd_ps(a5, b, c);
        a6 = _mm256_fmadd_ps(a6, b, c);
        a7 = _mm256_fmadd_ps(a7, b, c);
        a8 = _mm256_fmadd_ps(a8, b, c);
        a9 = _mm256_fmadd_ps(a9, b, c);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(a8, a9));
    float out[8];
    _mm256_storeu_ps(out, s);
    volatile float sink = out[0];
    (void)sink;
    return (double)iters * 10.0 * 8.0 * 2.0;
}

/* int8 dot as the AVX2 kernels do it: maddubs (u8 x s8 -> s16 pairs) then
 * madd with ones (-> s32): 32 multiply-adds per pair of instructions. */
__attribute__((target("avx2"))) static double dot_avx2(long iters) {
    __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(-2), one = _mm256_set1_epi16(1);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    for (long i = 0; i < iters; i++) {
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a4 = _mm256_add_epi32(a4, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        a5 = _mm256_add_epi32(a5, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), one));
        x = _mm256_xor_si256(x, a0); /* keep the loads live */
    }
    __m256i s = _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(_mm256_add_epi32(a2, a3),
                                                                            _mm256_add_epi32(a4, a5)));
    int out[8];
    _mm256_storeu_si256((__m256i *)out, s);
    volatile int sink = out[0];
    (void)sink;
    return (double)iters * 6.0 * 32.0 * 2.0;
}

#endif

static double fma_scalar(long iters) {
    float a[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 8; k++)
            a[k] = a[k] * 0.999999f + 1e-7f;
    volatile float sink = a[0] + a[7];
    (void)sink;
    return (double)iters * 8.0 * 2.0;
}

static double dot_scalar(long iters) {
    int acc[8] = {0};
    signed char x = 3, y = -2;
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 8; k++)
            acc[k] += x * y + k;
    volatile int sink = acc[0] + acc[7];
    (void)sink;
    return (double)iters * 8.0 * 2.0;
}

typedef enum probe_isa { ISA_SCALAR, ISA_AVX2, ISA_AVX512 } probe_isa;

static probe_isa pick_isa(void) {
    const sb_cpu_features *f = sb_cpu_features_get();
    if (f->avx512f && f->avx512bw && f->avx512vnni)
        return ISA_AVX512;
    if (f->avx2 && f->fma)
        return ISA_AVX2;
    return ISA_SCALAR;
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
#if defined(__x86_64__)
    if (isa == ISA_AVX512)
        return kind == 0 ? sb_peak_fma_avx512(iters) : sb_peak_dot_avx512(iters);
    if (isa == ISA_AVX2)
        return kind == 0 ? fma_avx2(iters) : dot_avx2(iters);
#endif
    return kind == 0 ? fma_scalar(iters) : dot_scalar(iters);
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

sb_status sb_cpu_probe_compute(int n_threads, double seconds, double *fma_gflops, double *int8_gops, const char **isa,
                               sb_error *err) {
    probe_shared sh;
    memset(&sh, 0, sizeof sh);
    sh.isa = pick_isa();
    sh.seconds = seconds > 0 ? seconds : 0.2;
    *isa = sh.isa == ISA_AVX512 ? "avx512-vnni" : sh.isa == ISA_AVX2 ? "avx2-fma" : "scalar";
    double ops, t;
    sh.kind = 0;
    sb_status st = run_threads(&sh, n_threads < 1 ? 1 : n_threads, &ops, &t, err);
    if (st != SB_OK)
        return st;
    *fma_gflops = t > 0 ? ops / t / 1e9 : 0;
    sh.kind = 1;
    st = run_threads(&sh, n_threads < 1 ? 1 : n_threads, &ops, &t, err);
    if (st != SB_OK)
        return st;
    *int8_gops = t > 0 ? ops / t / 1e9 : 0;
    return SB_OK;
}
