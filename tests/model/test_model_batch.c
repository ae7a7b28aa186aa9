/*
 * test_model_batch.c - the same positions give the same logits however the
 * batch is cut: one batch vs token by token (decode), vs chunks (chunked
 * prefill), vs two sequences interleaved in one batch, vs 1 and 2 threads;
 * plus the F16 KV cache against the golden within llama.cpp's own F16-cache
 * spread, and the synthetic loader on a tiny shape check.
 */
#include "model_test_util.h"
#include "sb_cpu_backend.h"
#include "sb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prompt B of the stories260K manifest (65 ids) and prompt C (8 ids). */
static const int32_t prompt_b[] = {1,   333, 373, 366, 370, 372, 397, 427, 426, 325, 399, 360, 320, 436, 483, 424, 510,
                                   367, 259, 376, 356, 259, 360, 413, 369, 322, 304, 485, 460, 276, 496, 467, 430, 286,
                                   503, 442, 390, 314, 286, 295, 369, 461, 478, 309, 480, 416, 468, 275, 429, 485, 370,
                                   469, 295, 479, 338, 318, 298, 325, 352, 414, 475, 295, 493, 454, 423};
static const int32_t prompt_c[] = {1, 368, 386, 443, 501, 467, 383, 503};
enum { NB = sizeof prompt_b / sizeof prompt_b[0], NC = sizeof prompt_c / sizeof prompt_c[0] };

typedef struct loaded {
    sb_backend *be;
    sb_model *m;
    int V;
} loaded;

/* The prompts folded into the model's vocabulary (the qwen files have 503). */
static int32_t g_b[NB], g_c[NC];

static void fold_prompts(int V) {
    for (int i = 0; i < NB; i++)
        g_b[i] = prompt_b[i] % V;
    for (int i = 0; i < NC; i++)
        g_c[i] = prompt_c[i] % V;
}

static bool load(const char *rel, int threads, loaded *l) {
    const char *path = sb_test_require_shared(rel);
    sb_cpu_backend_opts o = {.n_threads = threads, .repack = true};
    sb_error err;
    memset(l, 0, sizeof *l);
    if (sb_cpu_backend_create(&o, &l->be, &err) != SB_OK || sb_model_load(path, l->be, NULL, &l->m, &err) != SB_OK) {
        SB_CHECKF(false, "%s: %s", rel, err.msg);
        sb_backend_destroy(l->be);
        return false;
    }
    l->V = sb_model_get_hparams(l->m)->n_vocab;
    fold_prompts(l->V);
    return true;
}

static void unload(loaded *l) {
    sb_model_free(l->m);
    sb_backend_destroy(l->be);
}

/* All rows of prompt (n ids) in one batch. */
static float *one_batch(loaded *l, const int32_t *ids, int n, uint32_t kv_type) {
    mt_runner r;
    float *out = calloc((size_t)n * l->V, sizeof *out);
    if (mt_runner_init(&r, l->m, 1, n, n, kv_type))
        mt_forward(&r, 0, ids, n, 0, out, NULL);
    mt_runner_free(&r);
    return out;
}

/* The same rows, `chunk` entries per forward (1 = decode). */
static float *chunked(loaded *l, const int32_t *ids, int n, int chunk) {
    mt_runner r;
    float *out = calloc((size_t)n * l->V, sizeof *out);
    if (mt_runner_init(&r, l->m, 1, n, chunk, SB_TYPE_F32))
        for (int p = 0; p < n; p += chunk) {
            int k = n - p < chunk ? n - p : chunk;
            mt_forward(&r, 0, ids + p, k, p, out + (size_t)p * l->V, NULL);
        }
    mt_runner_free(&r);
    return out;
}

/* Bound on |one batch - other cuts|: the kernels may take a different path
 * for one row than for many (summation order), nothing more. With F32
 * activations that moves logits by ~1e-5; where activations are rounded to
 * F16/BF16/Q8 before a matmul, an order difference can flip one rounding and
 * move logits by ~1e-2 (measured 0.0103 on qwen3-f16); BF16 keeps 8 bits of
 * mantissa, so one flipped rounding moves them further (measured 0.049 on
 * qwen2-bf16). A chunking or paging bug moves them by O(1). */
static const double batch_bound[] = {1e-4, 0.02, 0.1};

static void check_cuts(const char *rel, int kind) {
    loaded l;
    if (!load(rel, 1, &l))
        return;
    float *full = one_batch(&l, g_b, NB, SB_TYPE_F32);
    const size_t all = (size_t)NB * l.V;
    float *tok = chunked(&l, g_b, NB, 1);
    float *ch7 = chunked(&l, g_b, NB, 7);
    float *ch32 = chunked(&l, g_b, NB, 32);
    double d1 = mt_max_abs_diff(full, tok, all), d7 = mt_max_abs_diff(full, ch7, all),
           d32 = mt_max_abs_diff(full, ch32, all);
    printf("%-40s batch vs token-by-token %.3g, chunks of 7 %.3g, chunks of 32 %.3g\n", rel, d1, d7, d32);
    SB_CHECKF(d1 <= batch_bound[kind], "%s: batch vs token by token differ by %.3g", rel, d1);
    SB_CHECKF(d7 <= batch_bound[kind], "%s: batch vs chunks of 7 differ by %.3g", rel, d7);
    SB_CHECKF(d32 <= batch_bound[kind], "%s: batch vs chunks of 32 differ by %.3g", rel, d32);
    free(full);
    free(tok);
    free(ch7);
    free(ch32);
    unload(&l);
}

static void test_cuts_f32(void) { check_cuts("models/stories260K.gguf", 0); }
static void test_cuts_q4_k_m(void) { check_cuts("models/synthetic/llama-spm512-q4_k_m.gguf", 1); }
static void test_cuts_q8_0(void) { check_cuts("models/synthetic/llama-spm512-q8_0.gguf", 1); }
static void test_cuts_qwen2_bf16(void) { check_cuts("models/synthetic/qwen2-bf16.gguf", 2); }
static void test_cuts_qwen3_f16(void) { check_cuts("models/synthetic/qwen3-f16.gguf", 1); }

/* Two sequences in one batch (entries interleaved, pages interleaved and
 * reversed) give what each gives alone. */
static void test_two_sequences(void) {
    loaded l;
    if (!load("models/synthetic/llama-spm512-q8_0.gguf", 2, &l))
        return;
    float *alone_b = one_batch(&l, g_b, NB, SB_TYPE_F32), *alone_c = one_batch(&l, g_c, NC, SB_TYPE_F32);
    mt_runner r;
    SB_CHECK(mt_runner_init(&r, l.m, 2, NB, NB + NC, SB_TYPE_F32));
    /* First pass: B[0..40) and all of C interleaved; second: rest of B. */
    enum { SPLIT = 40 };
    int n = SPLIT + NC;
    int32_t toks[SPLIT + NC], pos[SPLIT + NC], seq[SPLIT + NC], rows[SPLIT + NC];
    int ib = 0, ic = 0;
    for (int i = 0; i < n; i++) {
        bool take_c = ic < NC && (i % 3 == 1 || ib >= SPLIT);
        seq[i] = take_c ? 1 : 0;
        pos[i] = take_c ? ic : ib;
        toks[i] = take_c ? g_c[ic++] : g_b[ib++];
        rows[i] = i;
    }
    const int32_t *tables[2] = {r.tables, r.tables + r.pages_per_seq};
    int32_t np[2] = {r.pages_per_seq, r.pages_per_seq};
    sb_batch b = {n, toks, pos, seq, 2, tables, np, n, rows};
    sb_error err;
    SB_CHECK(sb_model_forward(l.m, &b, &err) == SB_OK);
    float *out = calloc((size_t)n * l.V, sizeof *out);
    SB_CHECK(sb_backend_download(l.be, sb_model_logits(l.m), out, 0, (size_t)n * l.V * sizeof(float)) == SB_OK);
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const float *ref = (seq[i] ? alone_c : alone_b) + (size_t)pos[i] * l.V;
        double d = mt_max_abs_diff(ref, out + (size_t)i * l.V, (size_t)l.V);
        worst = d > worst ? d : worst;
    }
    float *rest = calloc((size_t)(NB - SPLIT) * l.V, sizeof *rest);
    mt_forward(&r, 0, g_b + SPLIT, NB - SPLIT, SPLIT, rest, NULL);
    double d2 = mt_max_abs_diff(alone_b + (size_t)SPLIT * l.V, rest, (size_t)(NB - SPLIT) * l.V);
    printf("two sequences in one batch vs alone: %.3g, continuation %.3g\n", worst, d2);
    SB_CHECKF(worst <= batch_bound[1], "interleaved sequences differ by %.3g", worst);
    SB_CHECKF(d2 <= batch_bound[1], "continuation after the shared batch differs by %.3g", d2);
    free(out);
    free(rest);
    free(alone_b);
    free(alone_c);
    mt_runner_free(&r);
    unload(&l);
}

/* Only the output rows asked for are computed; they equal the full batch. */
static void test_sparse_outputs(void) {
    loaded l;
    if (!load("models/synthetic/qwen2-q4_k_m.gguf", 1, &l))
        return;
    float *full = one_batch(&l, g_b, NB, SB_TYPE_F32);
    mt_runner r;
    SB_CHECK(mt_runner_init(&r, l.m, 1, NB, NB, SB_TYPE_F32));
    int32_t pos[NB], seq[NB], rows[3] = {0, 17, NB - 1};
    for (int i = 0; i < NB; i++) {
        pos[i] = i;
        seq[i] = 0;
    }
    const int32_t *tables[1] = {r.tables};
    int32_t np[1] = {r.pages_per_seq};
    sb_batch b = {NB, g_b, pos, seq, 1, tables, np, 3, rows};
    sb_error err;
    SB_CHECK(sb_model_forward(l.m, &b, &err) == SB_OK);
    float *out = calloc((size_t)3 * l.V, sizeof *out);
    SB_CHECK(sb_backend_download(l.be, sb_model_logits(l.m), out, 0, (size_t)3 * l.V * sizeof(float)) == SB_OK);
    for (int i = 0; i < 3; i++) {
        double d = mt_max_abs_diff(full + (size_t)rows[i] * l.V, out + (size_t)i * l.V, (size_t)l.V);
        SB_CHECKF(d <= batch_bound[1], "output row %d differs by %.3g", rows[i], d);
    }
    /* no outputs at all: the cache is still filled */
    b.n_outputs = 0;
    SB_CHECK(sb_model_forward(l.m, &b, &err) == SB_OK);
    free(out);
    free(full);
    mt_runner_free(&r);
    unload(&l);
}

/* One and two threads compute the same numbers. */
static void test_thread_invariance(void) {
    loaded l1, l2;
    if (!load("models/synthetic/qwen3-q4_k_m.gguf", 1, &l1))
        return;
    if (!load("models/synthetic/qwen3-q4_k_m.gguf", 2, &l2)) {
        unload(&l1);
        return;
    }
    float *a = one_batch(&l1, g_b, NB, SB_TYPE_F32), *b = one_batch(&l2, g_b, NB, SB_TYPE_F32);
    double d = mt_max_abs_diff(a, b, (size_t)NB * l1.V);
    printf("1 vs 2 threads: %.3g\n", d);
    SB_CHECKF(d <= batch_bound[0], "1 vs 2 threads differ by %.3g", d);
    free(a);
    free(b);
    unload(&l1);
    unload(&l2);
}

/* F16 cache: close to the F32 one (llama.cpp's own F16-cache spread on this
 * model is 0.022, README §6). */
static void test_f16_cache(void) {
    loaded l;
    if (!load("models/stories260K.gguf", 1, &l))
        return;
    float *a = one_batch(&l, g_b, NB, SB_TYPE_F32), *b = one_batch(&l, g_b, NB, SB_TYPE_F16);
    double d = mt_max_abs_diff(a, b, (size_t)NB * l.V);
    printf("F16 vs F32 KV cache: %.3g\n", d);
    SB_CHECKF(d > 0 && d <= 0.05, "F16 vs F32 KV cache differ by %.3g", d);
    free(a);
    free(b);
    unload(&l);
}

int main(void) {
    SB_RUN(test_cuts_f32);
    SB_RUN(test_cuts_q4_k_m);
    SB_RUN(test_cuts_q8_0);
    SB_RUN(test_cuts_qwen2_bf16);
    SB_RUN(test_cuts_qwen3_f16);
    SB_RUN(test_two_sequences);
    SB_RUN(test_sparse_outputs);
    SB_RUN(test_thread_invariance);
    SB_RUN(test_f16_cache);
    return sb_test_finish();
}
