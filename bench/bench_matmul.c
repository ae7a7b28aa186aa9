/*
 * bench_matmul.c - speed of the CPU matmul kernels on a TinyLlama-1.1B-shaped
 * layer set (dim 2048, ff 5632, kv 256, 22 layers, vocab 32000; random
 * weights of the real size, far larger than the L3 cache):
 *
 *   (a) the machine's read bandwidth with the pool's threads (1 GiB buffer,
 *       median of reps), measured again right before each type's decode run;
 *   (b) decode: every matmul of one token (n = 1) in model order, median
 *       over tokens, as GB/s of weight bytes streamed (GGUF bytes) and the
 *       fraction of the bandwidth measured in the same run: each token is
 *       paired with a bandwidth measurement (256 MiB) taken just before it,
 *       and the median of the per-token fractions is reported, because this
 *       machine's bandwidth drifts by up to 2x within a minute; q/k/v and
 *       gate/up go through sb_cpu_matmul_multi as an engine would call them,
 *       and the same is timed with one call per matrix (interleaved);
 *   (c) prefill: the same matmuls with n = 128 and 512 tokens, as tokens/s
 *       and GOP/s (2 x multiply-adds).
 *
 * Usage: bench_matmul [--threads N] [--types q8_0,q4_0,q4_k_m,f16,bf16,q4_k,
 *        q5_k,q6_k,f32] [--tokens T] [--gemm 128,512 | --no-gemm]
 *        [--bw-mib M] [--reps R] [--isa scalar|avx2|avx512|neon] [--no-repack]
 * Q4_K_M is llama-quantize's mix: Q4_K, with Q6_K for the output and for
 * attn_v / ffn_down of the layers its use_more_bits rule picks.
 */
#include "bench_util.h"
#include "cpu_matmul.h"
#include "cpu_membw.h"
#include "sb_alloc.h"
#include "sb_tensor_type.h"
#include "sb_time.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM BENCH_TL_DIM
#define FF BENCH_TL_FF
#define KV BENCH_TL_KV
#define LAYERS BENCH_TL_LAYERS
#define VOCAB BENCH_TL_VOCAB
#define MATS_PER_LAYER BENCH_TL_MATS_PER_LAYER
#define N_MATS BENCH_TL_MATS

typedef struct mat {
    int64_t rows, cols;
    uint32_t type;
    sb_cpu_weight w;
} mat;

/* Random weights and activations, the same on every run. */
static sb_rng g_rng;

/* llama.cpp's rule for the layers that get more bits in Q4_K_M. */
static bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* The matrices of the model for a weight-type name, in decode order. */
static int build(const char *tname, mat *m, bool repack) {
    int q4km = strcmp(tname, "q4_k_m") == 0;
    const int base = q4km ? SB_TYPE_Q4_K : sb_type_from_name(tname);
    if (base < 0 || !sb_cpu_matmul_supports((uint32_t)base)) {
        fprintf(stderr, "unknown or unsupported type %s\n", tname);
        return -1;
    }
    int k = 0;
    for (int l = 0; l < LAYERS; l++) {
        const bool more = q4km && use_more_bits(l, LAYERS);
        for (int j = 0; j < MATS_PER_LAYER; j++) {
            bench_tl_shape(k, &m[k].rows, &m[k].cols);
            m[k].type = (uint32_t)base;
            if (more && (j == 2 || j == 6))
                m[k].type = SB_TYPE_Q6_K;
            k++;
        }
    }
    bench_tl_shape(k, &m[k].rows, &m[k].cols);
    m[k].type = q4km ? SB_TYPE_Q6_K : (uint32_t)base;
    k++;
    for (int i = 0; i < k; i++) {
        uint64_t rb = 0;
        sb_type_row_size(m[i].type, (uint64_t)m[i].cols, &rb);
        uint8_t *g = sb_aligned_alloc(64, (size_t)(rb * (uint64_t)m[i].rows));
        if (!g) {
            fprintf(stderr, "out of memory\n");
            return -1;
        }
        bench_fill_weight(&g_rng, m[i].type, g, m[i].rows, m[i].cols);
        sb_error err;
        if (sb_cpu_weight_init(&m[i].w, m[i].type, m[i].rows, m[i].cols, g, repack, &err) != SB_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
        if (m[i].w.packed)
            sb_aligned_free(g); /* the packed copy replaces the GGUF bytes */
    }
    return k;
}

static void release(mat *m, int n) {
    for (int i = 0; i < n; i++) {
        if (!m[i].w.packed)
            sb_aligned_free((void *)m[i].w.data);
        sb_cpu_weight_free(&m[i].w);
    }
}

/* Runs every matmul once with n tokens; returns seconds. fused: q/k/v and
 * gate/up as one sb_cpu_matmul_multi call each (what an engine does),
 * else one call per matrix. */
static double pass(sb_threadpool *pool, const sb_cpu_weight *const *ws, int64_t n, const float *x, float *y,
                   void *scratch, bool fused) {
    const double t0 = sb_now_seconds();
    if (fused)
        bench_tl_pass(pool, ws, n, x, y, scratch);
    else
        for (int i = 0; i < N_MATS; i++)
            sb_cpu_matmul(pool, ws[i], x, n, y, false, scratch);
    return sb_now_seconds() - t0;
}

int main(int argc, char **argv) {
    int threads = 2, tokens = 12, reps = 5;
    sb_rng_seed(&g_rng, 0x9E3779B97F4A7C15ull);
    size_t bw_mib = 1024;
    const char *types = "q8_0,q4_0,q4_k_m,f16";
    char gemm_list[64] = "128,512";
    bool repack = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--threads") && v)
            threads = atoi(argv[++i]);
        else if (!strcmp(a, "--types") && v)
            types = argv[++i];
        else if (!strcmp(a, "--tokens") && v)
            tokens = atoi(argv[++i]);
        else if (!strcmp(a, "--reps") && v)
            reps = atoi(argv[++i]);
        else if (!strcmp(a, "--bw-mib") && v)
            bw_mib = (size_t)atol(argv[++i]);
        else if (!strcmp(a, "--gemm") && v)
            snprintf(gemm_list, sizeof gemm_list, "%s", argv[++i]);
        else if (!strcmp(a, "--no-gemm"))
            gemm_list[0] = 0;
        else if (!strcmp(a, "--no-repack"))
            repack = false;
        else if (!strcmp(a, "--isa") && v) {
            const char *names[] = {"scalar", "avx2", "avx512", "neon"};
            int ok = 0;
            for (int k = 0; k < 4; k++)
                if (!strcmp(argv[i + 1], names[k]))
                    ok = sb_cpu_isa_force((sb_cpu_isa)k);
            if (!ok) {
                fprintf(stderr, "ISA %s is not available\n", argv[i + 1]);
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "usage: see the header of bench/bench_matmul.c\n");
            return 2;
        }
    }
    if (tokens < 1)
        tokens = 1;
    sb_threadpool *pool = NULL;
    if (sb_threadpool_create(threads, &pool, NULL) != SB_OK)
        return 1;
    printf(
        "bench_matmul: %d threads, kernels %s, TinyLlama-1.1B shapes (%d layers, dim %d, ff %d, kv %d, vocab %d)%s\n",
        threads, sb_cpu_isa_name(sb_cpu_isa_active()), LAYERS, DIM, FF, KV, VOCAB, repack ? "" : ", no repack");
    const double bw0 = sb_cpu_measure_read_bandwidth(pool, bw_mib << 20, reps);
    printf("read bandwidth: %.1f GB/s (%zu MiB buffer, median of %d)\n", bw0 / 1e9, bw_mib, reps);
    fflush(stdout);

    int64_t gemm_n[8];
    int n_gemm = 0;
    for (char *s = gemm_list; *s && n_gemm < 8;) {
        gemm_n[n_gemm++] = strtol(s, &s, 10);
        if (*s == ',')
            s++;
        else
            break;
    }
    int64_t max_n = tokens > 0 ? 1 : 1;
    for (int i = 0; i < n_gemm; i++)
        max_n = gemm_n[i] > max_n ? gemm_n[i] : max_n;
    float *x = sb_aligned_alloc(64, (size_t)max_n * FF * sizeof(float));
    float *y = sb_aligned_alloc(64, (size_t)max_n * VOCAB * sizeof(float));
    if (!x || !y)
        return 1;
    for (int64_t i = 0; i < max_n * FF; i++)
        x[i] = (float)((double)(sb_rng_next(&g_rng) % 20001) / 10000.0 - 1.0);

    char tl[256];
    snprintf(tl, sizeof tl, "%s", types);
    for (char *save = NULL, *tn = strtok_r(tl, ",", &save); tn; tn = strtok_r(NULL, ",", &save)) {
        static mat m[N_MATS];
        memset(m, 0, sizeof m);
        const int nm = build(tn, m, repack);
        if (nm < 0)
            return 1;
        const sb_cpu_weight *ws[N_MATS];
        for (int i = 0; i < nm; i++)
            ws[i] = &m[i].w;
        double bytes = 0.0, macs = 0.0;
        size_t scratch_bytes = bench_tl_scratch_size(ws, max_n); /* and one call per matrix: */
        for (int i = 0; i < nm; i++) {
            uint64_t rb = 0;
            sb_type_row_size(m[i].type, (uint64_t)m[i].cols, &rb);
            bytes += (double)rb * (double)m[i].rows;
            macs += (double)m[i].rows * (double)m[i].cols;
            const size_t s = sb_cpu_matmul_scratch_size(&m[i].w, max_n);
            scratch_bytes = s > scratch_bytes ? s : scratch_bytes;
        }
        void *scratch = sb_aligned_alloc(64, scratch_bytes);
        /* (b) decode. The machine's bandwidth drifts (other tenants), so each
         * token is paired with a bandwidth measurement taken just before it
         * (256 MiB, one pass) and the fraction is the median of the pairs. */
        pass(pool, ws, 1, x, y, scratch, true); /* warm-up */
        double *t = sb_malloc((size_t)tokens * sizeof(double)), *tu = sb_malloc((size_t)tokens * sizeof(double));
        double *fr = sb_malloc((size_t)tokens * sizeof(double)), *fru = sb_malloc((size_t)tokens * sizeof(double));
        double *bws = sb_malloc((size_t)tokens * sizeof(double));
        for (int k = 0; k < tokens; k++) { /* fused and per-matrix passes interleaved: same conditions */
            bws[k] = sb_cpu_measure_read_bandwidth(pool, (size_t)256 << 20, 1);
            t[k] = pass(pool, ws, 1, x, y, scratch, true);
            tu[k] = pass(pool, ws, 1, x, y, scratch, false);
            fr[k] = bytes / t[k] / bws[k];
            fru[k] = bytes / tu[k] / bws[k];
        }
        qsort(t, (size_t)tokens, sizeof *t, bench_cmp_double);
        qsort(tu, (size_t)tokens, sizeof *tu, bench_cmp_double);
        qsort(fr, (size_t)tokens, sizeof *fr, bench_cmp_double);
        qsort(fru, (size_t)tokens, sizeof *fru, bench_cmp_double);
        qsort(bws, (size_t)tokens, sizeof *bws, bench_cmp_double);
        const double tok = t[tokens / 2], toku = tu[tokens / 2];
        printf("%-7s %7.1f MB  decode: %6.2f ms/token (best %.2f)  %5.1f GB/s = %5.1f%% of the bandwidth measured "
               "beside each token (median %.1f GB/s, range %.1f-%.1f)\n",
               tn, bytes / 1e6, tok * 1e3, t[0] * 1e3, bytes / tok / 1e9, 100.0 * fr[tokens / 2], bws[tokens / 2] / 1e9,
               bws[0] / 1e9, bws[tokens - 1] / 1e9);
        printf("%-7s            one call per matrix: %6.2f ms/token  %5.1f GB/s = %5.1f%%\n", tn, toku * 1e3,
               bytes / toku / 1e9, 100.0 * fru[tokens / 2]);
        fflush(stdout);
        sb_free(t);
        sb_free(tu);
        sb_free(fr);
        sb_free(fru);
        sb_free(bws);
        /* (c) prefill */
        for (int g = 0; g < n_gemm; g++) {
            const int64_t n = gemm_n[g];
            if (n < 1 || n > max_n)
                continue;
            pass(pool, ws, n, x, y, scratch, true);
            double best = 1e30, sum = 0.0;
            const int runs = 3;
            double tr[3];
            for (int r = 0; r < runs; r++) {
                tr[r] = pass(pool, ws, n, x, y, scratch, true);
                best = tr[r] < best ? tr[r] : best;
                sum += tr[r];
            }
            qsort(tr, runs, sizeof tr[0], bench_cmp_double);
            printf("%-7s          prefill n=%-4lld %7.1f tok/s (best %.1f)  %6.1f GOP/s\n", tn, (long long)n,
                   (double)n / tr[1], (double)n / best, 2.0 * macs * (double)n / tr[1] / 1e9);
            fflush(stdout);
        }
        sb_aligned_free(scratch);
        release(m, nm);
    }
    sb_aligned_free(x);
    sb_aligned_free(y);
    sb_threadpool_free(pool);
    return 0;
}
