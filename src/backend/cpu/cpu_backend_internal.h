/*
 * cpu_backend_internal.h - the CPU backend's state, shared by its files:
 *   cpu_backend.c       creation, memory (weights, activations), reserve, stats
 *   cpu_backend_kv.c    paged KV cache, batch metadata, kv_store, kv_copy_page
 *   cpu_backend_ops.c   get_rows, gather, rmsnorm, matmul, rope, swiglu, add, scale
 *   cpu_backend_attn.c  attention over the pages
 *   cpu_backend_topk.c  sampling preparation and top-k selection
 *   cpu_backend_vec*.c  small vector loops (scalar, AVX2/F16C, AVX-512)
 *
 * KV layout. The pool holds, per layer and KV head, n_pages pages of
 * page_size positions of head_dim values. V keeps a position's values in a
 * row, K is transposed inside the page (a row per dimension, across the
 * page's slots):
 *   k[layer][kv_head][page][head_dim_k][slot], v[layer][kv_head][page][slot][head_dim_v],
 * so that attention reads one head's page as the matrices of its products
 * (scores vectorised over positions, weighted sums over values) without
 * transposing anything. A head's pages lie next to each other, so a
 * sequence whose pages are consecutive ids is one run of memory per head:
 * attention reads it cold (the weight stream evicts it every layer), and
 * 16 KiB runs read in half the time of 2 KiB pieces. The pool is on huge
 * pages for the same reason. The K pool has a little slack at its end: the
 * AVX2 scores read whole vectors past the last slot of a row.
 */
#ifndef SB_CPU_BACKEND_INTERNAL_H
#define SB_CPU_BACKEND_INTERNAL_H

#include "cpu_matmul.h"
#include "sb_backend.h"
#include "sb_threadpool.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest rotated dimension count the rope op handles (the model refuses
 * larger heads). */
#define SB_CPU_MAX_ROT 1024

/* Elementwise work below this many elements runs on the calling thread:
 * waking the pool costs more than the loop. */
#define SB_CPU_INLINE_ELEMS 16384

/* A loaded weight (sb_tensor.impl). */
typedef struct cpu_weight {
    bool has_mm;       /* mm is prepared (usage MATMUL) */
    sb_cpu_weight mm;  /* the kernels' view, possibly repacked */
    const void *rows;  /* GGUF-layout bytes for get_rows (usage ROWS), borrowed */
    float *vec;        /* owned F32 copy of a 1-D weight (usage VECTOR) */
    uint64_t resident; /* bytes this weight keeps resident (for stats) */
    uint64_t mm_bytes; /* bytes the matmul kernels read of it (usage MATMUL), for stats */
    int index;         /* position in cpu_backend.weights */
} cpu_weight;

/* Vector loops of attention and the F16 cache, picked once at creation
 * from the CPU's features (the AVX-512 kernel set replaces the *_heads
 * loops of the AVX2 table). Attention's loops take the query heads of a
 * GQA group together against one KV head's pages (layout above). */
typedef struct cpu_vec_fns {
    /* max_j s[j], j < n (n >= 1; NaNs are skipped) */
    float (*row_max)(const float *s, int n);
    /* s[j] = exp(s[j] - mx), j < n; returns the sum in double */
    double (*exp_sum)(float *s, int n, float mx);
    /* Several query heads against one KV head's page of K, transposed
     * (kt[c * ldk + j] is dimension c of position j; attention of a GQA
     * group): head h < nh reads q + h * d and writes out + h * os,
     *   out[h * os + j] = scale * sum_c q_h[c] kt[c * ldk + j], j < n <= ldk.
     * Lanes of kt past n in a row may be read (not used), also past the
     * last row by less than 16 values. */
    void (*scores_heads_f32)(const float *q, int nh, const float *kt, int ldk, int n, int d, float scale, float *out,
                             size_t os);
    void (*scores_heads_f16)(const float *q, int nh, const uint16_t *kt, int ldk, int n, int d, float scale,
                             float *out, size_t os);
    /* Weighted sums of one KV head's V rows for nh heads, over the pages of
     * a sequence: row j (j < n) is at v + pages[j / page_size] * page_stride
     * + (j % page_size) * d, and
     *   o[h * d + c] = sum_j p[h * ps + j] v_j[c], h < nh, c < d. */
    void (*wsum_heads_f32)(float *o, const float *p, size_t ps, int nh, const float *v, size_t page_stride,
                           const int32_t *pages, int page_size, int n, int d);
    void (*wsum_heads_f16)(float *o, const float *p, size_t ps, int nh, const uint16_t *v, size_t page_stride,
                           const int32_t *pages, int page_size, int n, int d);
    /* F32 -> F16, round to nearest even */
    void (*to_f16)(uint16_t *dst, const float *src, int n);
    /* y[i] = silu(g[i]) * u[i] = g / (1 + exp(-g)) * u; y may be g */
    void (*silu_mul)(float *y, const float *g, const float *u, long n);
    /* rmsnorm's sum of x[i]^2 in double, each square rounded to float first
     * (as ggml): eight running sums, element i into sum i % 8, added as
     * ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)). Every version
     * returns the same bits. */
    double (*sum_squares)(const float *x, long n);
    /* rmsnorm's scaling: y[i] = (x[i] * scale) * w[i]; y may be x */
    void (*scale_mul)(float *y, const float *x, float scale, const float *w, long n);
} cpu_vec_fns;

/* Bytes allocated past the end of the K pool (see the layout above). */
#define SB_CPU_K_SLACK 128

/* Query heads attention takes together (a larger GQA group goes in blocks
 * of this many); the per-thread score rows are sized for it. */
#define SB_CPU_ATT_HEADS 8

extern const cpu_vec_fns sb_cpu_vec_scalar;
#if defined(__x86_64__)
extern const cpu_vec_fns sb_cpu_vec_avx2; /* needs AVX2, FMA, F16C */
/* AVX-512 loops, installed over the AVX2 table (needs SB_ISA_AVX512). */
double sb_cpu_exp_sum_avx512(float *s, int n, float mx);
void sb_cpu_silu_mul_avx512(float *y, const float *g, const float *u, long n);
void sb_cpu_scores_heads_f32_avx512(const float *q, int nh, const float *kt, int ldk, int n, int d, float scale,
                                    float *out, size_t os);
void sb_cpu_scores_heads_f16_avx512(const float *q, int nh, const uint16_t *kt, int ldk, int n, int d, float scale,
                                    float *out, size_t os);
void sb_cpu_wsum_heads_f32_avx512(float *o, const float *p, size_t ps, int nh, const float *v, size_t page_stride,
                                  const int32_t *pages, int page_size, int n, int d);
void sb_cpu_wsum_heads_f16_avx512(float *o, const float *p, size_t ps, int nh, const uint16_t *v, size_t page_stride,
                                  const int32_t *pages, int page_size, int n, int d);
#endif

typedef struct cpu_backend {
    sb_backend base;
    sb_threadpool *pool;
    int n_threads;
    bool repack;
    cpu_vec_fns vec;

    /* Loaded weights (for sizing the matmul scratch). */
    cpu_weight **weights;
    int n_weights, cap_weights;
    uint64_t weight_bytes;
    uint64_t matmul_bytes; /* the loaded weights' mm_bytes */
    sb_cpu_arena arena; /* the matmul weights' copies, in load order (weight_reserve) */

    /* Reservation: buffers sized for max_tokens / max_outputs. */
    int max_tokens, max_outputs;
    void *mm_scratch;
    size_t mm_scratch_bytes;
    float *rope_theta; /* [n_threads][SB_CPU_MAX_ROT] cos/sin tables */
    float *topk_buf;   /* one logits row, as long as the longest allocated row */
    size_t topk_cap;
    uint64_t *topk_sort; /* [2][topk_cap], inside topk_buf's allocation (radix sort of a row) */

    /* The current batch (copied by set_batch). */
    int n_tokens;
    int32_t *tokens, *pos, *seq; /* [max_tokens] */
    int n_seqs, cap_seqs;
    int32_t *page_off, *page_n; /* [cap_seqs] offsets into pages */
    int32_t *pages;
    size_t cap_pages;
    int n_outputs;
    int32_t *out_rows; /* [max_outputs] */

    /* Paged KV cache. */
    bool kv_ready;
    sb_kv_config kv;
    size_t kv_elt;                     /* bytes per value: 4 (F32) or 2 (F16) */
    uint8_t *k, *v;
    uint64_t kv_bytes;
    float *att_scores;     /* [n_threads][att_scores_len]: SB_CPU_ATT_HEADS score rows */
    size_t att_scores_len; /* floats per thread */
    size_t att_row;        /* floats per score row (the pool's positions + 16) */
    atomic_int att_next; /* work counter for attention */
} cpu_backend;

static inline cpu_backend *cpu_of(sb_backend *b) { return (cpu_backend *)b; }

/* Runs fn on the pool, or on the calling thread alone when work is small. */
void sb_cpu_run(cpu_backend *cb, sb_parallel_fn fn, void *ctx, long work);

/* Address of (layer, page, kv_head, slot) in the K or V pool: for K, of the
 * slot's dimension 0 (its next dimension is page_size values further). */
static inline uint8_t *sb_cpu_k_at(const cpu_backend *cb, int layer, int page, int head, int slot) {
    size_t e = (((size_t)layer * (size_t)cb->kv.n_kv_heads + (size_t)head) * (size_t)cb->kv.n_pages + (size_t)page) *
                   (size_t)cb->kv.page_size * (size_t)cb->kv.head_dim_k +
               (size_t)slot;
    return cb->k + e * cb->kv_elt;
}
static inline uint8_t *sb_cpu_v_at(const cpu_backend *cb, int layer, int page, int head, int slot) {
    size_t e = ((((size_t)layer * (size_t)cb->kv.n_kv_heads + (size_t)head) * (size_t)cb->kv.n_pages + (size_t)page) *
                    (size_t)cb->kv.page_size +
                (size_t)slot) *
               (size_t)cb->kv.head_dim_v;
    return cb->v + e * cb->kv_elt;
}

/* A rope call's constants (cpu_backend_ops.c), shared by the rope op and
 * the fused attention op: p and the frequency factors are borrowed. */
typedef struct cpu_rope_plan {
    const sb_rope_params *p;
    const float *ff; /* per-pair frequency factors, or NULL */
    float theta_scale, corr[2];
} cpu_rope_plan;
bool sb_cpu_rope_plan_init(cpu_rope_plan *rp, const sb_rope_params *p, int head_dim);
void sb_cpu_rope_table(const cpu_rope_plan *rp, int32_t pos, float *cs);
void sb_cpu_rope_heads(const cpu_rope_plan *rp, const float *cs, float *x, int n_heads, int head_dim);

/* Stores KV head `head` of batch entry i (k: head_dim_k floats, v:
 * head_dim_v) into layer's pages at the entry's position (cpu_backend_kv.c). */
void sb_cpu_kv_store_head(const cpu_backend *cb, int layer, int i, int head, const float *k, const float *v);

/* Op implementations (the table is in cpu_backend.c). */
sb_status sb_cpu_kv_init(sb_backend *b, const sb_kv_config *cfg, sb_error *err);
void sb_cpu_kv_free(cpu_backend *cb);
void sb_cpu_kv_copy_page(sb_backend *b, int32_t src, int32_t dst, int n_pos);
sb_status sb_cpu_set_batch(sb_backend *b, const sb_batch *batch, sb_error *err);
void sb_cpu_kv_store(sb_backend *b, int layer, const sb_tensor *k, const sb_tensor *v, int n);
void sb_cpu_attention(sb_backend *b, int layer, const sb_tensor *q, int n_heads, float scale, sb_tensor *out, int n);
bool sb_cpu_attention_rope(sb_backend *b, int layer, sb_tensor *q, sb_tensor *k, const sb_tensor *v, int n_heads,
                          const sb_rope_params *p, float scale, sb_tensor *out, int n);

void sb_cpu_get_rows(sb_backend *b, const sb_tensor *table, sb_tensor *out);
void sb_cpu_gather_outputs(sb_backend *b, const sb_tensor *x, sb_tensor *out);
void sb_cpu_rmsnorm(sb_backend *b, const sb_tensor *x, const sb_tensor *w, float eps, sb_tensor *y, int n);
void sb_cpu_matmul_op(sb_backend *b, const sb_tensor *w, const sb_tensor *x, const sb_tensor *bias, sb_tensor *y, int n,
                      bool accumulate);
void sb_cpu_matmul_multi_op(sb_backend *b, const sb_tensor *const *ws, int nw, const sb_tensor *x,
                            const sb_tensor *const *biases, sb_tensor *const *ys, int n);
bool sb_cpu_matmul_pre_op(sb_backend *b, const sb_matmul_pre *pre, const sb_tensor *const *ws, int nw,
                          const sb_tensor *x, const sb_tensor *const *biases, sb_tensor *const *ys, int n,
                          bool accumulate);
void sb_cpu_rope(sb_backend *b, sb_tensor *x, int n_heads, int head_dim, const sb_rope_params *p, int n);
void sb_cpu_swiglu(sb_backend *b, const sb_tensor *gate, const sb_tensor *up, sb_tensor *y, int n);
void sb_cpu_add(sb_backend *b, const sb_tensor *a, const sb_tensor *x, sb_tensor *y, int n);
void sb_cpu_scale(sb_backend *b, const sb_tensor *x, float s, sb_tensor *y, int n);

sb_status sb_cpu_topk(sb_backend *b, const sb_tensor *logits, int row, const sb_sample_prep *prep, int k,
                      sb_candidate *out, int *n_out);

/* F32 values of a 1-D weight or an activation tensor. */
static inline const float *sb_cpu_f32(const sb_tensor *t) {
    const cpu_weight *w = t->impl;
    return w && w->vec ? w->vec : (const float *)t->data;
}

#endif
