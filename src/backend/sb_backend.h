/*
 * sb_backend.h - the interface between the model code and a compute backend.
 *
 * A backend is a table of operations plus the memory it owns: the weights,
 * the paged KV cache and the scratch activations. Model code (src/model)
 * describes tensors and calls operations; it never reads or writes tensor
 * bytes itself. Only the CPU backend's operations know SIMD, only the CUDA
 * backend's know the GPU.
 *
 * Execution model. Operations are issued in order on one thread (the
 * model's). A backend may run each one at once (CPU) or queue it (CUDA);
 * results reach the host only through sb_backend_download /
 * sb_backend_topk, which wait for the queued work. Per forward pass the host
 * sends one sb_batch (token ids, positions, page tables) and receives logits
 * rows or a short candidate list: on a GPU backend nothing else crosses the
 * bus, and the backend counts those bytes (sb_backend_stats).
 *
 * Shapes. Tensors have up to 4 dimensions, innermost first (ne[0] is the row
 * length), rows contiguous. Activations are F32 matrices [rows][ne0]; ops
 * take the number of rows in use (n <= ne[1]) so that scratch tensors sized
 * for the largest batch serve every batch.
 *
 * KV cache. One pool of fixed-size pages per model. Page p of layer l holds
 * `page_size` positions, each with n_kv_heads * head_dim K values and as many
 * V values. A sequence owns an ordered list of pages (its page table):
 * position j of the sequence lives in page table[j / page_size], slot
 * j % page_size. Sequences that share a prompt prefix share its pages; the
 * engine (src/engine) allocates, shares and frees pages, the backend only
 * stores and reads them.
 */
#ifndef SB_BACKEND_H
#define SB_BACKEND_H

#include "sb_error.h"
#include "sb_tensor_type.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_backend sb_backend;

/* How the model uses a weight (set before weight_load). A backend may
 * repack a matmul weight into its own layout; get_rows must still work on a
 * weight that is both (a tied embedding). */
typedef enum sb_tensor_usage {
    SB_USE_MATMUL = 1,    /* [rows][cols] matrix multiplied by activations */
    SB_USE_ROWS = 2,      /* table whose rows get_rows dequantizes */
    SB_USE_VECTOR = 4,    /* 1-D parameter: norm weight, bias, rope factors */
    SB_USE_NO_REPACK = 8, /* keep the GGUF layout (sb_model_load_opts.repack = false) */
    SB_USE_HOST_FILE = 16, /* the host bytes are a read-only file mapping: a backend that copied
                              them may drop those pages (never set for heap or caller memory) */
} sb_tensor_usage;

/* A tensor in a backend's memory. The shape fields are public; `data` and
 * `impl` belong to the backend (device pointer, repacked layout, ...). */
typedef struct sb_tensor {
    uint32_t type; /* sb_tensor_type */
    int n_dims;
    int64_t ne[4];
    char name[64];
    uint32_t usage; /* sb_tensor_usage bits, weights only */
    void *data;
    void *impl;
    sb_backend *backend;
} sb_tensor;

/* Rotary embedding parameters of a model. */
typedef enum sb_rope_mode {
    SB_ROPE_NORMAL = 0, /* rotate pairs (2i, 2i+1): llama, mistral */
    SB_ROPE_NEOX = 2,   /* rotate pairs (i, i + n_rot/2): qwen2, qwen3, gpt-neox */
} sb_rope_mode;

typedef struct sb_rope_params {
    sb_rope_mode mode;
    int n_rot;                   /* rotated dimensions per head (<= head_dim, even) */
    float freq_base;             /* theta */
    float freq_scale;            /* 1 / linear scaling factor */
    const sb_tensor *freq_factors; /* [n_rot/2] F32 divisors (llama 3.1 rope_freqs), or NULL */
    /* YaRN (rope_scaling.type = yarn); ext_factor 0 disables */
    float ext_factor, attn_factor, beta_fast, beta_slow;
    int n_ctx_orig;
} sb_rope_params;

/* Shape of the paged KV cache. */
typedef struct sb_kv_config {
    int n_layers;
    int n_kv_heads;
    int head_dim_k;
    int head_dim_v;
    int page_size; /* positions per page (16 or 32) */
    int n_pages;
    uint32_t type; /* SB_TYPE_F32 or SB_TYPE_F16 (BF16 and Q8_0 where a backend supports them) */
} sb_kv_config;

/* One forward pass: n_tokens entries (sequence, position, token). The arrays
 * are host memory owned by the caller; sb_backend_set_batch copies what the
 * backend needs. Each entry attends to positions 0..pos of its own sequence
 * (causal), whose K/V must be stored before the attention op of that layer:
 * the model stores the batch's own K/V first, then attends. */
typedef struct sb_batch {
    int n_tokens;
    const int32_t *tokens; /* [n_tokens] */
    const int32_t *pos;    /* [n_tokens] position of each entry in its sequence */
    const int32_t *seq;    /* [n_tokens] index into page_tables */
    int n_seqs;
    const int32_t *const *page_tables; /* [n_seqs] page ids of each sequence, in order */
    const int32_t *n_pages;            /* [n_seqs] length of each page table */
    int n_outputs;
    const int32_t *output_rows; /* [n_outputs] entries whose logits are wanted, ascending */
} sb_batch;

/* One sampling candidate. */
typedef struct sb_candidate {
    int32_t id;
    float logit;
} sb_candidate;

/* What the backend does to one logits row before picking candidates: the
 * heavy, vocabulary-sized part of sampling. Penalties follow the usual
 * definitions (repetition: divide positive / multiply negative logits of
 * tokens seen in the window; presence: subtract once per seen token;
 * frequency: subtract count times). */
typedef struct sb_sample_prep {
    float temperature; /* <= 0: no scaling (greedy callers take candidate 0) */
    float repeat_penalty, presence_penalty, frequency_penalty;
    const int32_t *penalty_tokens; /* distinct token ids seen in the window */
    const int32_t *penalty_counts; /* their counts */
    int n_penalty;
    const int32_t *bias_tokens; /* logit bias */
    const float *bias_values;
    int n_bias;
} sb_sample_prep;

/* The op that a fused projection (matmul_pre) applies to its input first. */
typedef enum sb_pre_kind {
    SB_PRE_RMSNORM = 1, /* u = rmsnorm(x) * norm, as the rmsnorm op with a whole-row weight */
    SB_PRE_SWIGLU = 2,  /* u = silu(x) * up, as the swiglu op */
} sb_pre_kind;

typedef struct sb_matmul_pre {
    sb_pre_kind kind;
    const sb_tensor *norm; /* RMSNORM: [ne0 of x] */
    float eps;             /* RMSNORM */
    const sb_tensor *up;   /* SWIGLU: the shape of x */
    sb_tensor *tmp;        /* scratch of x's shape where the op may put u (afterwards unspecified) */
} sb_matmul_pre;

/* Bytes that crossed between host and device (zero for the CPU backend). */
typedef struct sb_backend_stats {
    uint64_t h2d_bytes;
    uint64_t d2h_bytes;
    uint64_t weight_bytes; /* resident weight bytes */
    uint64_t matmul_bytes; /* of those, the matmul weights as the backend holds them: what a
                              decode step streams (0 if the backend does not say) */
    uint64_t kv_bytes;     /* KV cache bytes */
} sb_backend_stats;

/* The operation table. Every op works on n rows of its F32 activation
 * operands; `x`, `y` may not alias unless the op says so. */
typedef struct sb_backend_ops {
    const char *name;
    void (*destroy)(sb_backend *b);

    /* Memory. weight_load takes a tensor whose shape/type/name/usage are set
     * and whose bytes are `host` (GGUF layout, usually the mmapped file, which
     * must outlive the tensor unless the backend copied or repacked it). A
     * backend that repacks may drop the pages of the host range (madvise
     * DONTNEED on its page-aligned interior) so one copy stays resident: the
     * caller must not read those bytes afterwards. On success t->data equals
     * host exactly when the backend still reads the host bytes; otherwise
     * it keeps no pointer into them and the caller may free them (a model
     * built in memory then holds one copy, not two). Errors name the tensor
     * (unsupported type or shape, out of memory).
     * alloc gives an activation/scratch tensor its memory. */
    sb_status (*weight_load)(sb_backend *b, sb_tensor *t, const void *host, sb_error *err);
    sb_status (*alloc)(sb_backend *b, sb_tensor *t, sb_error *err);
    void (*release)(sb_backend *b, sb_tensor *t);
    sb_status (*upload)(sb_backend *b, sb_tensor *t, const void *src, size_t offset, size_t bytes);
    sb_status (*download)(sb_backend *b, const sb_tensor *t, void *dst, size_t offset, size_t bytes);

    /* KV cache (one pool per model). */
    sb_status (*kv_init)(sb_backend *b, const sb_kv_config *cfg, sb_error *err);
    /* Copies `n_pos` leading positions of page src into page dst, all layers
     * (copy-on-write of a shared, partially filled page). */
    void (*kv_copy_page)(sb_backend *b, int32_t src, int32_t dst, int n_pos);

    /* Sizes the backend's per-pass buffers (matmul scratch for every loaded
     * weight, batch copies, rope tables) for batches of up to max_tokens
     * entries and max_outputs output rows, so that no op allocates. Called
     * after the weights are loaded (again to grow); weights loaded later
     * grow the buffers themselves. */
    sb_status (*reserve)(sb_backend *b, int max_tokens, int max_outputs, sb_error *err);

    /* Per-pass metadata: copies tokens, positions, page tables, outputs.
     * Checks them against the reservation and the KV pool (positions inside
     * the sequence's pages, page ids inside the pool, output rows ascending)
     * and refuses a bad batch with SB_ERR_RANGE. Token ids are the model's
     * to check. */
    sb_status (*set_batch)(sb_backend *b, const sb_batch *batch, sb_error *err);

    /* out[i] = row tokens[i] of table (dequantized), i < n_tokens. */
    void (*get_rows)(sb_backend *b, const sb_tensor *table, sb_tensor *out);
    /* out[i] = x[output_rows[i]], i < n_outputs. out may be x itself (the
     * rows move towards the front: output rows are ascending). */
    void (*gather_outputs)(sb_backend *b, const sb_tensor *x, sb_tensor *out);
    /* y = x / rms(x) * w over rows of length w->ne[0]; x is n rows of any
     * multiple of that length (per-head norms use a [head_dim] weight).
     * x and y may alias. */
    void (*rmsnorm)(sb_backend *b, const sb_tensor *x, const sb_tensor *w, float eps, sb_tensor *y, int n);
    /* y[n][W.ne1] = x[n][W.ne0] . W^T (+ bias) (+ y if accumulate). */
    void (*matmul)(sb_backend *b, const sb_tensor *w, const sb_tensor *x, const sb_tensor *bias, sb_tensor *y, int n,
                   bool accumulate);
    /* Rotates each head of x ([n][n_heads * head_dim]) in place by its
     * entry's position (from set_batch). */
    void (*rope)(sb_backend *b, sb_tensor *x, int n_heads, int head_dim, const sb_rope_params *p, int n);
    /* Stores k, v ([n][n_kv_heads * head_dim]) of the batch's entries into
     * layer's pages at their positions. */
    void (*kv_store)(sb_backend *b, int layer, const sb_tensor *k, const sb_tensor *v, int n);
    /* out[i] = softmax(q[i] . K^T * scale) . V over the entry's positions
     * 0..pos, grouped-query: head h reads KV head h / (n_heads / n_kv_heads). */
    void (*attention)(sb_backend *b, int layer, const sb_tensor *q, int n_heads, float scale, sb_tensor *out, int n);
    /* y = silu(gate) * up, elementwise over n rows. y may alias gate. */
    void (*swiglu)(sb_backend *b, const sb_tensor *gate, const sb_tensor *up, sb_tensor *y, int n);
    /* y = a + b elementwise over n rows. y may alias a. */
    void (*add)(sb_backend *b, const sb_tensor *a, const sb_tensor *x, sb_tensor *y, int n);
    /* y = x * s elementwise over n rows. y may alias x. */
    void (*scale)(sb_backend *b, const sb_tensor *x, float s, sb_tensor *y, int n);

    /* Sampling: applies prep to logits row `row` and returns the k highest
     * (id, logit) pairs in descending logit order (ties: lower id first).
     * NaN logits rank after every number, -inf included, and come back as
     * NaN: a NaN first candidate means the whole row is NaN. */
    sb_status (*topk)(sb_backend *b, const sb_tensor *logits, int row, const sb_sample_prep *prep, int k,
                      sb_candidate *out, int *n_out);

    void (*stats)(sb_backend *b, sb_backend_stats *out);

    /* Optional (may be NULL). Called once before the weights are loaded
     * with the GGUF bytes of the matmul weights to come, per tensor type
     * (bytes_by_type[SB_TYPE_COUNT]: a backend that converts a type holds
     * a different size), so that a backend can place its copies of them in
     * one block, in load order. Errors: out of memory. */
    sb_status (*weight_reserve)(sb_backend *b, const uint64_t *bytes_by_type, sb_error *err);
    /* Optional (may be NULL: the model calls matmul once per weight).
     * ys[i] = x . ws[i]^T (+ biases[i], which may be NULL) for i < nw
     * (1..8), every ws[i] with the same ne[0]: q, k and v, or gate and up,
     * in one op so that a backend reads x once and splits the rows of all
     * of them over its threads together. */
    void (*matmul_multi)(sb_backend *b, const sb_tensor *const *ws, int nw, const sb_tensor *x,
                         const sb_tensor *const *biases, sb_tensor *const *ys, int n);
    /* Optional (may be NULL). ys[i] (+)= u . ws[i]^T (+ biases[i]) for
     * i < nw (1..8, the same ne[0]; accumulate only with nw = 1), where u =
     * pre applied to x: the rmsnorm or SwiGLU before a projection, fused
     * into it, so that a backend can make u where it reads it instead of
     * storing it and waiting for it. The same results as the two ops; x
     * and pre->up are left as they are. Returns false, having computed
     * nothing, for a call the backend does not fuse: the model then runs
     * pre's op into pre->tmp (which may be x itself) and the projection. */
    bool (*matmul_pre)(sb_backend *b, const sb_matmul_pre *pre, const sb_tensor *const *ws, int nw, const sb_tensor *x,
                       const sb_tensor *const *biases, sb_tensor *const *ys, int n, bool accumulate);
    /* Optional (may be NULL). rope on q ([n][n_heads * head_dim_k]) and k
     * (in place, as the rope op), kv_store of k and v, then attention into
     * out: the four ops of a layer's attention as one, so that a backend
     * can rotate and store each KV head's rows on the thread (or block)
     * that attends with them. The same results as the four ops. Returns
     * false, having done nothing, for a call the backend does not fuse:
     * the model then calls the four. */
    bool (*attention_rope)(sb_backend *b, int layer, sb_tensor *q, sb_tensor *k, const sb_tensor *v, int n_heads,
                           const sb_rope_params *p, float scale, sb_tensor *out, int n);
} sb_backend_ops;

/* Every backend struct starts with this header. */
struct sb_backend {
    const sb_backend_ops *ops;
};

/* Convenience wrappers (inline calls through the table). */
static inline sb_status sb_backend_weight_load(sb_backend *b, sb_tensor *t, const void *host, sb_error *err) {
    return b->ops->weight_load(b, t, host, err);
}
static inline sb_status sb_backend_alloc(sb_backend *b, sb_tensor *t, sb_error *err) { return b->ops->alloc(b, t, err); }
static inline void sb_backend_release(sb_backend *b, sb_tensor *t) { b->ops->release(b, t); }
static inline sb_status sb_backend_reserve(sb_backend *b, int max_tokens, int max_outputs, sb_error *err) {
    return b->ops->reserve(b, max_tokens, max_outputs, err);
}
static inline sb_status sb_backend_set_batch(sb_backend *b, const sb_batch *batch, sb_error *err) {
    return b->ops->set_batch(b, batch, err);
}
static inline sb_status sb_backend_kv_init(sb_backend *b, const sb_kv_config *cfg, sb_error *err) {
    return b->ops->kv_init(b, cfg, err);
}
static inline sb_status sb_backend_download(sb_backend *b, const sb_tensor *t, void *dst, size_t offset, size_t bytes) {
    return b->ops->download(b, t, dst, offset, bytes);
}
static inline sb_status sb_backend_topk(sb_backend *b, const sb_tensor *logits, int row, const sb_sample_prep *prep,
                                        int k, sb_candidate *out, int *n_out) {
    return b->ops->topk(b, logits, row, prep, k, out, n_out);
}
static inline void sb_backend_destroy(sb_backend *b) {
    if (b)
        b->ops->destroy(b);
}

/* Fills a tensor descriptor (no memory yet). */
void sb_tensor_init(sb_tensor *t, const char *name, uint32_t type, int n_dims, const int64_t *ne);
/* Number of elements. */
int64_t sb_tensor_nelements(const sb_tensor *t);
/* Bytes of one row (ne[0] elements) in the tensor's type (GGUF layout). */
size_t sb_tensor_row_bytes(const sb_tensor *t);

#endif
