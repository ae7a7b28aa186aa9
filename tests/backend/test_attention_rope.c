/*
 * test_attention_rope.c - the CPU backend's fused attention op
 * (attention_rope: rope on q and k, kv_store, attention) against the four
 * ops it replaces, bit for bit: the rotated q and k, the attention output
 * and every byte of the K/V pool. Two backends get the same history and the
 * same decode batch; one runs the fused op, the other the four ops. Covers
 * F32 and F16 caches, normal and neox rope (partial rotation, frequency
 * factors, YaRN), query groups of 1, 8 and 12 heads, 1 and 2 threads, one
 * entry and entries of distinct sequences (scrambled page tables), and the
 * batches the op refuses (two entries of one sequence), which must leave
 * every buffer as it was.
 */
#include "backend_test_util.h"
#include "cpu_backend_internal.h"
#include "sb_cpu_backend.h"
#include "sb_rng.h"
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KV_HEADS = 2, HEAD_DIM = 64, PAGE = 16, PAGES = 30, SEQS = 3 };

static sb_rng g_rng;

/* Page tables: three sequences of ten pages, out of order over the pool. */
static const int32_t seq_pages[SEQS][10] = {{7, 19, 2, 23, 11, 5, 16, 0, 27, 25},
                                            {3, 14, 21, 9, 1, 18, 12, 6, 29, 24},
                                            {22, 10, 4, 17, 8, 20, 13, 15, 26, 28}};

static sb_backend *make_backend(int threads, uint32_t kv_type) {
    sb_cpu_backend_opts o = {.n_threads = threads, .repack = true};
    sb_backend *b = NULL;
    sb_error err;
    SB_CHECKF(sb_cpu_backend_create(&o, &b, &err) == SB_OK, "%s", err.msg);
    sb_kv_config kv = {1, KV_HEADS, HEAD_DIM, HEAD_DIM, PAGE, PAGES, kv_type};
    SB_CHECKF(sb_backend_kv_init(b, &kv, &err) == SB_OK, "%s", err.msg);
    cpu_backend *cb = (cpu_backend *)b; /* the pool is not cleared: slots never stored hold anything */
    memset(cb->k, 0, (size_t)PAGES * KV_HEADS * PAGE * HEAD_DIM * cb->kv_elt);
    memset(cb->v, 0, (size_t)PAGES * KV_HEADS * PAGE * HEAD_DIM * cb->kv_elt);
    SB_CHECKF(sb_backend_reserve(b, 256, 256, &err) == SB_OK, "%s", err.msg);
    return b;
}

/* An F32 activation [rows][width] holding a copy of values. */
static sb_tensor act(sb_backend *b, const char *name, int64_t width, int64_t rows, const float *values) {
    sb_tensor t = bt_act_f32(b, name, width, rows);
    memcpy(t.data, values, sizeof(float) * (size_t)(width * rows));
    return t;
}

static float *random_floats(size_t n) {
    float *p = malloc(sizeof(float) * n);
    SB_CHECK(p != NULL);
    for (size_t i = 0; i < n; i++)
        p[i] = 2.0f * sb_rng_uniformf(&g_rng) - 1.0f;
    return p;
}

static void set_batch(sb_backend *b, int n, const int32_t *seq, const int32_t *pos) {
    int32_t tok[256] = {0}, rows[256];
    for (int i = 0; i < n; i++)
        rows[i] = i;
    const int32_t *tables[SEQS] = {seq_pages[0], seq_pages[1], seq_pages[2]};
    int32_t np[SEQS] = {10, 10, 10};
    sb_batch bt = {n, tok, pos, seq, SEQS, tables, np, n, rows};
    sb_error err;
    SB_CHECKF(sb_backend_set_batch(b, &bt, &err) == SB_OK, "%s", err.msg);
}

/* Fills both backends' caches with the same history: positions
 * 0..len[s]-1 of each sequence, stored with the kv_store op. */
static void fill_history(sb_backend *const be[2], const int *len) {
    int32_t seq[256], pos[256];
    int n = 0;
    for (int s = 0; s < SEQS; s++)
        for (int p = 0; p < len[s]; p++, n++) {
            seq[n] = s;
            pos[n] = p;
        }
    float *k = random_floats((size_t)n * KV_HEADS * HEAD_DIM), *v = random_floats((size_t)n * KV_HEADS * HEAD_DIM);
    for (int b = 0; b < 2; b++) {
        set_batch(be[b], n, seq, pos);
        sb_tensor tk = act(be[b], "k", KV_HEADS * HEAD_DIM, n, k), tv = act(be[b], "v", KV_HEADS * HEAD_DIM, n, v);
        be[b]->ops->kv_store(be[b], 0, &tk, &tv, n);
        sb_backend_release(be[b], &tk);
        sb_backend_release(be[b], &tv);
    }
    free(k);
    free(v);
}

static bool same_pool(sb_backend *a, sb_backend *b) {
    const cpu_backend *ca = (const cpu_backend *)a, *cb = (const cpu_backend *)b;
    size_t kb = (size_t)PAGES * KV_HEADS * PAGE * HEAD_DIM * ca->kv_elt;
    return memcmp(ca->k, cb->k, kb) == 0 && memcmp(ca->v, cb->v, kb) == 0;
}

typedef struct rope_case {
    sb_rope_mode mode;
    int n_rot;
    bool factors, yarn;
} rope_case;

/* One decode batch (n entries at seq[i] / pos[i]) through the fused op on
 * be[0] and the four ops on be[1]; expect_fused false: the op must refuse
 * it and leave be[0]'s buffers untouched. */
static void run_batch(sb_backend *const be[2], const rope_case *rc, int n_heads, int n, const int32_t *seq,
                      const int32_t *pos, bool expect_fused, const char *what) {
    const size_t qw = (size_t)n_heads * HEAD_DIM, kw = (size_t)KV_HEADS * HEAD_DIM;
    float *q = random_floats(qw * n), *k = random_floats(kw * n), *v = random_floats(kw * n);
    float ffv[HEAD_DIM / 2];
    for (int i = 0; i < HEAD_DIM / 2; i++)
        ffv[i] = 1.0f + 7.0f * sb_rng_uniformf(&g_rng);
    sb_tensor t[2][5];
    sb_rope_params p[2];
    for (int b = 0; b < 2; b++) {
        set_batch(be[b], n, seq, pos);
        float *zero = calloc(qw * n, sizeof(float));
        SB_CHECK(zero != NULL);
        t[b][0] = act(be[b], "q", (int64_t)qw, n, q);
        t[b][1] = act(be[b], "k", (int64_t)kw, n, k);
        t[b][2] = act(be[b], "v", (int64_t)kw, n, v);
        t[b][3] = act(be[b], "out", (int64_t)qw, n, zero);
        int64_t nff = rc->n_rot / 2;
        sb_tensor_init(&t[b][4], "ff", SB_TYPE_F32, 1, &nff);
        t[b][4].usage = SB_USE_VECTOR;
        sb_error err;
        SB_CHECKF(sb_backend_weight_load(be[b], &t[b][4], ffv, &err) == SB_OK, "%s", err.msg);
        free(zero);
        p[b] = (sb_rope_params){.mode = rc->mode,
                                .n_rot = rc->n_rot,
                                .freq_base = 10000.0f,
                                .freq_scale = rc->yarn ? 0.25f : 1.0f,
                                .freq_factors = rc->factors ? &t[b][4] : NULL,
                                .ext_factor = rc->yarn ? 1.0f : 0.0f,
                                .attn_factor = rc->yarn ? 0.9f : 1.0f,
                                .beta_fast = 32.0f,
                                .beta_slow = 1.0f,
                                .n_ctx_orig = 512};
    }
    const float scale = 0.125f;
    sb_backend *f = be[0], *u = be[1];
    bool fused = f->ops->attention_rope(f, 0, &t[0][0], &t[0][1], &t[0][2], n_heads, &p[0], scale, &t[0][3], n);
    SB_CHECKF(fused == expect_fused, "%s: fused %d, expected %d", what, fused, expect_fused);
    if (!fused) { /* nothing may have changed yet: compare before u runs */
        SB_CHECKF(memcmp(t[0][0].data, q, sizeof(float) * qw * n) == 0 &&
                      memcmp(t[0][1].data, k, sizeof(float) * kw * n) == 0 && same_pool(f, u),
                  "%s: a refused call changed q, k or the cache", what);
        f->ops->rope(f, &t[0][0], n_heads, HEAD_DIM, &p[0], n);
        f->ops->rope(f, &t[0][1], KV_HEADS, HEAD_DIM, &p[0], n);
        f->ops->kv_store(f, 0, &t[0][1], &t[0][2], n);
        f->ops->attention(f, 0, &t[0][0], n_heads, scale, &t[0][3], n);
    }
    u->ops->rope(u, &t[1][0], n_heads, HEAD_DIM, &p[1], n);
    u->ops->rope(u, &t[1][1], KV_HEADS, HEAD_DIM, &p[1], n);
    u->ops->kv_store(u, 0, &t[1][1], &t[1][2], n);
    u->ops->attention(u, 0, &t[1][0], n_heads, scale, &t[1][3], n);
    SB_CHECKF(memcmp(t[0][0].data, t[1][0].data, sizeof(float) * qw * n) == 0, "%s: rotated q differs", what);
    SB_CHECKF(memcmp(t[0][1].data, t[1][1].data, sizeof(float) * kw * n) == 0, "%s: rotated k differs", what);
    SB_CHECKF(memcmp(t[0][3].data, t[1][3].data, sizeof(float) * qw * n) == 0, "%s: attention output differs", what);
    SB_CHECKF(same_pool(f, u), "%s: the caches differ", what);
    for (int b = 0; b < 2; b++)
        for (int i = 0; i < 5; i++)
            sb_backend_release(be[b], &t[b][i]);
    free(q);
    free(k);
    free(v);
}

static void run_case(int threads, uint32_t kv_type, const rope_case *rc, int group) {
    char what[160];
    snprintf(what, sizeof what, "%d threads, %s cache, rope mode %d n_rot %d factors %d yarn %d, group %d", threads,
             kv_type == SB_TYPE_F16 ? "F16" : "F32", rc->mode, rc->n_rot, rc->factors, rc->yarn, group);
    sb_backend *be[2] = {make_backend(threads, kv_type), make_backend(threads, kv_type)};
    const int len[SEQS] = {100, 37, 70}, n_heads = group * KV_HEADS;
    fill_history(be, len);
    /* one entry: long enough that two threads share the work */
    run_batch(be, rc, n_heads, 1, (const int32_t[]){0}, (const int32_t[]){100}, true, what);
    /* three sequences at once, listed out of order */
    run_batch(be, rc, n_heads, 3, (const int32_t[]){2, 0, 1}, (const int32_t[]){70, 101, 37}, true, what);
    /* two entries of sequence 1: the second attends to the first, so not fused */
    run_batch(be, rc, n_heads, 2, (const int32_t[]){1, 1}, (const int32_t[]){38, 39}, false, what);
    /* sequence 1 again, beside the longest one */
    run_batch(be, rc, n_heads, 2, (const int32_t[]){1, 0}, (const int32_t[]){40, 102}, true, what);
    sb_backend_destroy(be[0]);
    sb_backend_destroy(be[1]);
}

static void test_attention_rope_matches_ops(void) {
    const rope_case cases[] = {{SB_ROPE_NORMAL, HEAD_DIM, false, false},
                               {SB_ROPE_NEOX, HEAD_DIM, true, false},
                               {SB_ROPE_NORMAL, 32, false, true},
                               {SB_ROPE_NEOX, 32, true, true}};
    for (int c = 0; c < 4; c++)
        for (int threads = 1; threads <= 2; threads++) {
            run_case(threads, SB_TYPE_F16, &cases[c], 8);
            run_case(threads, SB_TYPE_F32, &cases[c], c % 2 ? 12 : 1);
        }
}

/* The op refuses what the four ops would refuse too, computing nothing. */
static void test_attention_rope_refuses(void) {
    sb_backend *be = make_backend(2, SB_TYPE_F16);
    set_batch(be, 1, (const int32_t[]){0}, (const int32_t[]){3});
    float *q = random_floats(8 * HEAD_DIM), *k = random_floats(KV_HEADS * HEAD_DIM);
    sb_tensor tq = act(be, "q", 8 * HEAD_DIM, 1, q), tk = act(be, "k", KV_HEADS * HEAD_DIM, 1, k);
    sb_tensor tv = act(be, "v", KV_HEADS * HEAD_DIM, 1, k), to = act(be, "out", 8 * HEAD_DIM, 1, q);
    sb_rope_params odd = {.mode = SB_ROPE_NORMAL, .n_rot = 7, .freq_base = 10000.0f, .freq_scale = 1.0f};
    sb_rope_params ok = odd;
    ok.n_rot = HEAD_DIM;
    SB_CHECK(!be->ops->attention_rope(be, 0, &tq, &tk, &tv, 8, &odd, 1.0f, &to, 1)); /* odd n_rot */
    SB_CHECK(!be->ops->attention_rope(be, 1, &tq, &tk, &tv, 8, &ok, 1.0f, &to, 1));  /* no such layer */
    SB_CHECK(!be->ops->attention_rope(be, 0, &tq, &tk, &tv, 7, &ok, 1.0f, &to, 1));  /* 7 heads over 2 */
    SB_CHECK(!be->ops->attention_rope(be, 0, &tq, &tk, &tv, 8, &ok, 1.0f, &to, 2));  /* more than the batch */
    SB_CHECK(memcmp(tq.data, q, sizeof(float) * 8 * HEAD_DIM) == 0 &&
             memcmp(tk.data, k, sizeof(float) * KV_HEADS * HEAD_DIM) == 0);
    SB_CHECK(be->ops->attention_rope(be, 0, &tq, &tk, &tv, 8, &ok, 1.0f, &to, 1));
    sb_backend_release(be, &tq);
    sb_backend_release(be, &tk);
    sb_backend_release(be, &tv);
    sb_backend_release(be, &to);
    free(q);
    free(k);
    sb_backend_destroy(be);
}

int main(void) {
    sb_rng_seed(&g_rng, 4242);
    SB_RUN(test_attention_rope_matches_ops);
    SB_RUN(test_attention_rope_refuses);
    return sb_test_finish();
}
