/*
 * cmd_bench.c - `solebox bench`: prefill and decode speed of one model,
 * each beside the machine limit that bounds it, measured in the same run.
 *
 *   decode   one token per forward pass at positions d..d+n-1 (as llama-bench's
 *            tg test; -d fills the KV cache with d prompt positions first,
 *            llama-bench's depth): it must stream every weight byte and the
 *            KV cache once per token, so its bound is the memory read
 *            bandwidth;
 *   prefill  one forward pass over p prompt tokens (llama-bench's pp test,
 *            logits for the last token only): bound by compute, int8 dot
 *            throughput for quantized weights (the kernels quantize the
 *            activations to 8 bits), FP32 FMA throughput for F32/F16/BF16.
 *
 * Each figure is the median of -r repetitions after one warm-up. No
 * sampling and no scheduler: the model's forward pass alone, on the same
 * engine object `run` and `serve` use.
 */
#include "cli_args.h"
#include "commands.h"

#include "cpu_membw.h"
#include "cpu_peak.h"
#include "sb_alloc.h"
#include "sb_cpu_backend.h"
#include "sb_engine.h"
#include "sb_proc.h"
#include "sb_threadpool.h"
#include "sb_time.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_args {
    const char *model, *synthetic;
    int p, n, d, threads, reps;
    bool json, no_probe;
    uint32_t kv_type;
} bench_args;

static void usage(FILE *out) {
    fprintf(out, "usage: solebox bench (-m MODEL | --synthetic SHAPE:TYPE) [options]\n"
                 "\n"
                 "  -m, --model FILE          GGUF model\n"
                 "      --synthetic S:T       random-weight model of a real shape, e.g. tinyllama-1.1b:q4_0\n"
                 "                            (shapes: tinyllama-1.1b llama2-7b llama2-13b llama3-8b qwen2.5-0.5b\n"
                 "                            qwen2.5-7b qwen2.5-32b micro-llama micro-qwen2; types: f32 f16 bf16 q8_0\n"
                 "                            q4_0 q4_k_m q5_k_m q6_k, any case)\n"
                 "  -p N                      prompt tokens for the prefill test (default 128; 0 = skip)\n"
                 "  -n N                      tokens for the decode test (default 64; 0 = skip)\n"
                 "  -d N                      decode after N positions already in the KV cache (default 0)\n"
                 "  -t N                      threads (default: all CPUs)\n"
                 "  -r N                      repetitions, the median is reported (default 5)\n"
                 "      --kv-type f16|f32     KV cache type (default f16)\n"
                 "      --no-probe            skip the bandwidth / compute probes\n"
                 "      --json                one JSON object on stdout\n");
}

static int parse_args(int argc, char **argv, bench_args *a) {
    memset(a, 0, sizeof *a);
    a->p = 128;
    a->n = 64;
    a->reps = 5;
    a->kv_type = SB_TYPE_F16;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(o, "--json")) {
            a->json = true;
            continue;
        }
        if (!strcmp(o, "--no-probe")) {
            a->no_probe = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "solebox bench: option '%s' needs a value (or is unknown)\n", o);
            return 2;
        }
        const char *v = argv[++i];
        bool ok = true;
        if (!strcmp(o, "-m") || !strcmp(o, "--model"))
            a->model = v;
        else if (!strcmp(o, "--synthetic"))
            a->synthetic = v;
        else if (!strcmp(o, "-p"))
            ok = sb_cli_int(v, 0, 1 << 16, &a->p);
        else if (!strcmp(o, "-n"))
            ok = sb_cli_int(v, 0, 1 << 16, &a->n);
        else if (!strcmp(o, "-d") || !strcmp(o, "--depth"))
            ok = sb_cli_int(v, 0, 1 << 20, &a->d);
        else if (!strcmp(o, "-t") || !strcmp(o, "--threads"))
            ok = sb_cli_int(v, 1, 1024, &a->threads);
        else if (!strcmp(o, "-r"))
            ok = sb_cli_int(v, 1, 1000, &a->reps);
        else if (!strcmp(o, "--kv-type")) {
            ok = !strcmp(v, "f16") || !strcmp(v, "f32");
            a->kv_type = !strcmp(v, "f32") ? SB_TYPE_F32 : SB_TYPE_F16;
        } else {
            fprintf(stderr, "solebox bench: unknown option '%s'\n", o);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "solebox bench: invalid value '%s' for %s\n", v, o);
            return 2;
        }
    }
    if (!a->model == !a->synthetic) {
        fprintf(stderr, "solebox bench: give exactly one of -m MODEL and --synthetic SHAPE:TYPE\n\n");
        usage(stderr);
        return 2;
    }
    if (a->p == 0 && a->n == 0) {
        fprintf(stderr, "solebox bench: -p and -n are both 0: nothing to measure\n");
        return 2;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The tensor type most weights of a file type have (for synthetic models,
 * whose bytes are not in a GGUF). */
static uint32_t base_type_of_ftype(uint32_t ft) {
    switch (ft) {
    case 0:
        return SB_TYPE_F32;
    case 1:
        return SB_TYPE_F16;
    case 32:
        return SB_TYPE_BF16;
    case 7:
        return SB_TYPE_Q8_0;
    case 2:
        return SB_TYPE_Q4_0;
    case 15:
    case 14:
        return SB_TYPE_Q4_K;
    case 17:
    case 16:
        return SB_TYPE_Q5_K;
    case 18:
        return SB_TYPE_Q6_K;
    default:
        return SB_TYPE_Q8_0;
    }
}

/* Bytes of the token embedding table, which a forward pass reads one row
 * of per token (not streamed unless it is also the output projection). */
static uint64_t embedding_bytes(const sb_engine *e) {
    const sb_gguf *g = sb_model_gguf(sb_engine_model(e));
    const sb_model_hparams *hp = sb_engine_hparams(e);
    if (g) {
        const sb_gguf_tensor *t = sb_gguf_find_tensor(g, "token_embd.weight");
        return t ? t->size : 0;
    }
    uint64_t row = 0;
    sb_type_row_size(base_type_of_ftype(hp->file_type), (uint64_t)hp->n_embd, &row);
    return row * (uint64_t)hp->n_vocab;
}

typedef struct bench_result {
    double pp_tps, pp_min, pp_max, tg_tps, tg_min, tg_max;
    /* decode paired with the bandwidth: one more pass of n tokens, each
     * preceded by a 256 MiB read on the same threads */
    double pair_frac, pair_frac_lo, pair_frac_hi, pair_bw, pair_bw_lo, pair_bw_hi;
    int pair_n;
    double read_gbs, fma_gflops, int8_gops;
    const char *isa;
    uint64_t rss_load, hwm_load, rss_end, hwm_end;
    uint64_t weight_bytes_per_token, kv_bytes_per_token;
    double prefill_ops_per_token;
    double h2d_per_step, d2h_per_step;
    bool quantized;
} bench_result;

/* Positions of sequence 0 the tests use: the prefill test's p, or the
 * depth and the decode test after it. */
static int positions_used(const bench_args *a) { return a->p > a->d + a->n ? a->p : a->d + a->n; }

/* Tokens one forward pass may take: the prefill test's p, and at least
 * enough (up to 512) to fill the depth in a few passes. */
static int batch_tokens(const bench_args *a) {
    const int fill = a->d < 512 ? a->d : 512;
    const int b = a->p > fill ? a->p : fill;
    return b > 1 ? b : 1;
}

/* One forward pass over tokens [0, n) at positions pos0.. of sequence 0. */
static sb_status forward_range(sb_engine *e, const int32_t *tokens, int n, int pos0, const int32_t *pages, int n_pages,
                               int32_t *pos_buf, int32_t *seq_buf, sb_error *err) {
    for (int i = 0; i < n; i++) {
        pos_buf[i] = pos0 + i;
        seq_buf[i] = 0;
    }
    int32_t out_row = n - 1;
    const int32_t *tables[1] = {pages};
    int32_t np[1] = {n_pages};
    sb_batch b = {.n_tokens = n,
                  .tokens = tokens,
                  .pos = pos_buf,
                  .seq = seq_buf,
                  .n_seqs = 1,
                  .page_tables = tables,
                  .n_pages = np,
                  .n_outputs = 1,
                  .output_rows = &out_row};
    return sb_model_forward(sb_engine_model(e), &b, err);
}

/* One decode step: token q at position q of sequence 0, over the pages that
 * hold positions 0..q. */
static sb_status decode_at(sb_engine *e, const int32_t *tokens, int q, const int32_t *pages, int ps, int32_t *pos_buf,
                           int32_t *seq_buf, sb_error *err) {
    return forward_range(e, tokens + q, 1, q, pages, q / ps + 1, pos_buf, seq_buf, err);
}

/* Median and quartiles of v[0..n) (sorted in place). */
static void quartiles(double *v, int n, double *med, double *lo, double *hi) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    *med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    *lo = v[n / 4];
    *hi = v[(3 * n) / 4 < n ? (3 * n) / 4 : n - 1];
}

static sb_status run_bench(sb_engine *e, const bench_args *a, bench_result *r, sb_cpu_bw_probe *probe, sb_error *err) {
    const sb_model_hparams *hp = sb_engine_hparams(e);
    int n_pages = sb_engine_kv_pages(e);
    int longest = positions_used(a);
    int32_t *pages = sb_calloc((size_t)n_pages, sizeof(int32_t));
    int32_t *tokens = sb_calloc((size_t)longest + 1, sizeof(int32_t));
    int32_t *pos = sb_calloc((size_t)longest + 1, sizeof(int32_t));
    int32_t *seq = sb_calloc((size_t)longest + 1, sizeof(int32_t));
    double *times = sb_calloc((size_t)a->reps, sizeof(double));
    sb_status st = pages && tokens && pos && seq && times ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    uint32_t x = 12345;
    for (int i = 0; st == SB_OK && i <= longest; i++) {
        x = x * 1664525u + 1013904223u;
        tokens[i] = (int32_t)((x >> 8) % (uint32_t)hp->n_vocab);
    }
    for (int i = 0; st == SB_OK && i < n_pages; i++)
        pages[i] = i;
    int ps = sb_engine_page_size(e);
    if (st == SB_OK && a->p > 0) {
        int np = (a->p + ps - 1) / ps;
        st = forward_range(e, tokens, a->p, 0, pages, np, pos, seq, err); /* warm-up */
        for (int k = 0; st == SB_OK && k < a->reps; k++) {
            uint64_t t0 = sb_now_ns();
            st = forward_range(e, tokens, a->p, 0, pages, np, pos, seq, err);
            times[k] = (double)(sb_now_ns() - t0) / 1e9;
        }
        if (st == SB_OK) {
            for (int k = 0; k < a->reps; k++)
                times[k] = a->p / times[k];
            r->pp_tps = median(times, a->reps);
            r->pp_min = times[0];
            r->pp_max = times[a->reps - 1];
        }
    }
    if (st == SB_OK && a->n > 0) {
        sb_backend *b = sb_engine_backend(e);
        const int d = a->d, chunk = batch_tokens(a);
        /* the depth: positions 0..d-1 in the KV cache, as a prompt leaves them
         * (in passes of the engine's batch size); each rep then rewrites
         * positions d.. only */
        for (int i = 0; st == SB_OK && i < d; i += chunk) {
            const int m = d - i < chunk ? d - i : chunk;
            st = forward_range(e, tokens + i, m, i, pages, (i + m - 1) / ps + 1, pos, seq, err);
        }
        for (int i = 0; st == SB_OK && i < 4 && i < a->n; i++) /* warm-up */
            st = decode_at(e, tokens, d + i, pages, ps, pos, seq, err);
        sb_backend_stats s0, s1;
        b->ops->stats(b, &s0);
        for (int k = 0; st == SB_OK && k < a->reps; k++) {
            uint64_t t0 = sb_now_ns();
            for (int i = 0; st == SB_OK && i < a->n; i++)
                st = decode_at(e, tokens, d + i, pages, ps, pos, seq, err);
            times[k] = a->n / ((double)(sb_now_ns() - t0) / 1e9);
        }
        b->ops->stats(b, &s1);
        if (st == SB_OK) {
            double steps = (double)a->n * a->reps;
            r->h2d_per_step = (double)(s1.h2d_bytes - s0.h2d_bytes) / steps;
            r->d2h_per_step = (double)(s1.d2h_bytes - s0.d2h_bytes) / steps;
            r->tg_tps = median(times, a->reps);
            r->tg_min = times[0];
            r->tg_max = times[a->reps - 1];
        }
        /* The same tokens once more, each right after a bandwidth measurement
         * on the same threads: the fraction of each pair does not depend on
         * how the machine's bandwidth drifts during the run. */
        double *fr = probe ? sb_calloc((size_t)a->n, sizeof(double)) : NULL;
        double *bw = probe ? sb_calloc((size_t)a->n, sizeof(double)) : NULL;
        if (st == SB_OK && fr && bw) {
            const double bytes = (double)r->weight_bytes_per_token + (double)r->kv_bytes_per_token;
            for (int i = 0; st == SB_OK && i < a->n; i++) {
                bw[i] = sb_cpu_bw_probe_run(probe, 1);
                uint64_t t0 = sb_now_ns();
                st = decode_at(e, tokens, d + i, pages, ps, pos, seq, err);
                fr[i] = bytes / ((double)(sb_now_ns() - t0) / 1e9) / bw[i];
            }
            if (st == SB_OK) {
                r->pair_n = a->n;
                quartiles(fr, a->n, &r->pair_frac, &r->pair_frac_lo, &r->pair_frac_hi);
                quartiles(bw, a->n, &r->pair_bw, &r->pair_bw_lo, &r->pair_bw_hi);
                r->pair_bw /= 1e9;
                r->pair_bw_lo /= 1e9;
                r->pair_bw_hi /= 1e9;
            }
        }
        sb_free(fr);
        sb_free(bw);
    }
    sb_free(pages);
    sb_free(tokens);
    sb_free(pos);
    sb_free(seq);
    sb_free(times);
    return st;
}

/* What the model costs per token: weight bytes streamed in decode, KV bytes
 * read at the mean decode position, and prefill operations. */
static void model_costs(const sb_engine *e, const bench_args *a, bench_result *r) {
    const sb_model_hparams *hp = sb_engine_hparams(e);
    uint64_t emb = embedding_bytes(e);
    r->weight_bytes_per_token = hp->weight_bytes - (hp->tied_output ? 0 : emb);
    /* the matmul weights as the backend holds them where it says: a backend
     * that converts a type at load streams more than the file holds */
    sb_backend *b = sb_engine_backend(e);
    sb_backend_stats s;
    b->ops->stats(b, &s);
    if (s.matmul_bytes > 0)
        r->weight_bytes_per_token = s.matmul_bytes;
    double kv_elem = a->kv_type == SB_TYPE_F32 ? 4.0 : 2.0;
    double mean_pos = a->n > 0 ? a->d + (a->n + 1) / 2.0 : 0;
    r->kv_bytes_per_token = (uint64_t)((double)hp->n_layers * hp->n_kv_heads * (hp->head_dim_k + hp->head_dim_v) *
                                       kv_elem * mean_pos);
    double out_params = (double)hp->n_vocab * hp->n_embd;
    double layer_params = (double)hp->n_params - out_params - (hp->tied_output ? 0 : out_params);
    double attn = 2.0 * 2.0 * hp->n_layers * hp->n_heads * hp->head_dim_k * ((a->p + 1) / 2.0);
    r->prefill_ops_per_token = 2.0 * layer_params + attn + (a->p > 0 ? 2.0 * out_params / a->p : 0);
    uint32_t bt = base_type_of_ftype(hp->file_type);
    const sb_type_traits *tr = sb_type_traits_of(bt);
    r->quantized = tr && tr->quantized;
}

static void print_text(const sb_engine *e, const bench_args *a, const bench_result *r) {
    const sb_model_hparams *hp = sb_engine_hparams(e);
    printf("model:     %s (%s, %.3f B params, %.1f MiB weights, file type %u, %d layers)\n",
           a->synthetic ? a->synthetic : a->model, hp->arch, hp->n_params / 1e9, hp->weight_bytes / 1048576.0,
           hp->file_type, hp->n_layers);
    printf("threads:   %d; KV cache %s; load %.2f s\n", sb_cpu_backend_n_threads(sb_engine_backend(e)),
           a->kv_type == SB_TYPE_F32 ? "f32" : "f16", sb_engine_load_seconds(e));
    printf("memory:    after load VmRSS %.1f MiB, VmHWM %.1f MiB; at the end VmRSS %.1f MiB, VmHWM %.1f MiB\n",
           r->rss_load / 1048576.0, r->hwm_load / 1048576.0, r->rss_end / 1048576.0, r->hwm_end / 1048576.0);
    if (!a->no_probe)
        printf("machine:   read bandwidth %.1f GB/s (median of 5 reads of 512 MiB); FP32 FMA %.1f GFLOP/s; "
               "int8 dot %.1f Gop/s (%s)\n",
               r->read_gbs, r->fma_gflops, r->int8_gops, r->isa);
    if (a->p > 0) {
        double gops = r->pp_tps * r->prefill_ops_per_token / 1e9;
        double peak = r->quantized ? r->int8_gops : r->fma_gflops;
        printf("prefill:   p=%d: %.2f tok/s (median of %d, %.2f..%.2f) = %.1f Gop/s", a->p, r->pp_tps, a->reps,
               r->pp_min, r->pp_max, gops);
        if (!a->no_probe && peak > 0)
            printf(" = %.1f%% of the %s peak", 100.0 * gops / peak, r->quantized ? "int8-dot" : "FP32-FMA");
        printf("\n");
    }
    if (a->n > 0) {
        double bytes = (double)r->weight_bytes_per_token + (double)r->kv_bytes_per_token;
        double gbs = r->tg_tps * bytes / 1e9;
        printf("decode:    n=%d", a->n);
        if (a->d > 0)
            printf(" at depth %d", a->d);
        printf(": %.2f tok/s (median of %d, %.2f..%.2f); %.1f MB weights + %.2f MB KV read per token = %.1f GB/s",
               r->tg_tps, a->reps, r->tg_min, r->tg_max, r->weight_bytes_per_token / 1e6,
               r->kv_bytes_per_token / 1e6, gbs);
        if (!a->no_probe && r->read_gbs > 0)
            printf(" = %.1f%% of the read bandwidth", 100.0 * gbs / r->read_gbs);
        printf("\n");
        if (r->pair_n > 0)
            printf("paired:    each token after a 256 MiB read on the same threads: median %.1f%% of the bandwidth "
                   "beside it (quartiles %.1f..%.1f%%; bandwidth median %.1f GB/s, quartiles %.1f..%.1f)\n",
                   100.0 * r->pair_frac, 100.0 * r->pair_frac_lo, 100.0 * r->pair_frac_hi, r->pair_bw, r->pair_bw_lo,
                   r->pair_bw_hi);
        printf("transfer:  host->device %.0f B, device->host %.0f B per decode step\n", r->h2d_per_step,
               r->d2h_per_step);
    }
}

static void print_json(const sb_engine *e, const bench_args *a, const bench_result *r) {
    const sb_model_hparams *hp = sb_engine_hparams(e);
    double bytes = (double)r->weight_bytes_per_token + (double)r->kv_bytes_per_token;
    double peak = r->quantized ? r->int8_gops : r->fma_gflops;
    double pp_gops = r->pp_tps * r->prefill_ops_per_token / 1e9;
    double tg_gbs = r->tg_tps * bytes / 1e9;
    const char *name = a->synthetic ? a->synthetic : a->model;
    printf("{\"model\":\"");
    for (const char *c = name; *c; c++) {
        if (*c == '"' || *c == '\\')
            printf("\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            printf("\\u%04x", (unsigned char)*c);
        else
            putchar(*c);
    }
    printf("\",\"arch\":\"%s\",\"n_params\":%llu,\"weight_bytes\":%llu,\"file_type\":%u,\"threads\":%d,"
           "\"kv_type\":\"%s\",\"load_s\":%.3f,"
           "\"rss_after_load\":%llu,\"hwm_after_load\":%llu,\"rss_end\":%llu,\"hwm_end\":%llu,",
           hp->arch, (unsigned long long)hp->n_params, (unsigned long long)hp->weight_bytes, hp->file_type,
           sb_cpu_backend_n_threads(sb_engine_backend(e)), a->kv_type == SB_TYPE_F32 ? "f32" : "f16",
           sb_engine_load_seconds(e), (unsigned long long)r->rss_load, (unsigned long long)r->hwm_load,
           (unsigned long long)r->rss_end, (unsigned long long)r->hwm_end);
    if (!a->no_probe)
        printf("\"read_bandwidth_gbs\":%.2f,\"read_bandwidth_source\":\"sb_cpu_measure_read_bandwidth 512 MiB x5\","
               "\"fma_gflops\":%.2f,\"int8_gops\":%.2f,\"probe_isa\":\"%s\",",
               r->read_gbs, r->fma_gflops, r->int8_gops, r->isa);
    printf("\"reps\":%d,\"prefill\":{\"tokens\":%d,\"tok_s\":%.3f,\"tok_s_min\":%.3f,\"tok_s_max\":%.3f,"
           "\"ops_per_token\":%.0f,\"gops\":%.2f,\"limit\":\"%s\",\"fraction\":%.4f},",
           a->reps, a->p, r->pp_tps, r->pp_min, r->pp_max, r->prefill_ops_per_token, pp_gops,
           r->quantized ? "int8_dot" : "fp32_fma", (!a->no_probe && peak > 0) ? pp_gops / peak : 0.0);
    printf("\"decode\":{\"tokens\":%d,\"depth\":%d,\"tok_s\":%.3f,\"tok_s_min\":%.3f,\"tok_s_max\":%.3f,"
           "\"weight_bytes_per_token\":%llu,\"kv_bytes_per_token\":%llu,\"gbs\":%.2f,\"fraction\":%.4f,"
           "\"h2d_bytes_per_step\":%.0f,\"d2h_bytes_per_step\":%.0f,\"paired_tokens\":%d,"
           "\"paired_fraction\":%.4f,\"paired_fraction_q1\":%.4f,\"paired_fraction_q3\":%.4f,"
           "\"paired_bw_gbs\":%.2f,\"paired_bw_gbs_q1\":%.2f,\"paired_bw_gbs_q3\":%.2f}}\n",
           a->n, a->d, r->tg_tps, r->tg_min, r->tg_max, (unsigned long long)r->weight_bytes_per_token,
           (unsigned long long)r->kv_bytes_per_token, tg_gbs,
           (!a->no_probe && r->read_gbs > 0) ? tg_gbs / r->read_gbs : 0.0, r->h2d_per_step, r->d2h_per_step,
           r->pair_n, r->pair_frac, r->pair_frac_lo, r->pair_frac_hi, r->pair_bw, r->pair_bw_lo, r->pair_bw_hi);
}

int sb_cmd_bench(int argc, char **argv) {
    bench_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    sb_error err;
    sb_error_clear(&err);
    sb_engine_opts eo = sb_engine_opts_default();
    eo.model_path = a.model;
    eo.synthetic = a.synthetic;
    eo.n_threads = a.threads;
    int longest = positions_used(&a);
    eo.n_ctx = longest + 1 > 16 ? longest + 1 : 16;
    eo.batch_tokens = batch_tokens(&a);
    eo.cache_pages = 0;
    eo.kv_type = a.kv_type;
    eo.start_scheduler = false;
    sb_engine *e = NULL;
    if (sb_engine_create(&eo, &e, &err) != SB_OK) {
        fprintf(stderr, "solebox bench: %s\n", err.msg);
        return 1;
    }
    bench_result r;
    memset(&r, 0, sizeof r);
    sb_proc_memory(&r.rss_load, &r.hwm_load);
    sb_cpu_bw_probe *probe = NULL;
    if (!a.no_probe) {
        /* on the backend's own pool: the same threads as the model, and no
         * second pool spinning beside it */
        int nt = sb_cpu_backend_n_threads(sb_engine_backend(e));
        sb_threadpool *pool = sb_cpu_backend_pool(sb_engine_backend(e));
        r.read_gbs = sb_cpu_measure_read_bandwidth(pool, (size_t)512 << 20, 5) / 1e9;
        if (r.read_gbs <= 0.0)
            sb_error_set(&err, SB_ERR_NOMEM, "cannot measure the read bandwidth (512 MiB buffer)");
        if (r.read_gbs <= 0.0 || sb_cpu_probe_compute(nt, 0.2, &r.fma_gflops, &r.int8_gops, &r.isa, &err) != SB_OK ||
            (a.n > 0 && sb_cpu_bw_probe_create(pool, (size_t)256 << 20, &probe, &err) != SB_OK)) {
            fprintf(stderr, "solebox bench: probe: %s\n", err.msg);
            sb_engine_free(e);
            return 1;
        }
    }
    model_costs(e, &a, &r);
    sb_status bst = run_bench(e, &a, &r, probe, &err);
    sb_cpu_bw_probe_free(probe);
    if (bst != SB_OK) {
        fprintf(stderr, "solebox bench: forward pass failed: %s\n", err.msg);
        sb_engine_free(e);
        return 1;
    }
    sb_proc_memory(&r.rss_end, &r.hwm_end);
    if (a.json)
        print_json(e, &a, &r);
    else
        print_text(e, &a, &r);
    sb_engine_free(e);
    return 0;
}
