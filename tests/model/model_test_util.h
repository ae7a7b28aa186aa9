/*
 * model_test_util.h - helpers shared by the model tests: running token ids
 * through a model with a private KV cache (one batch, token by token, in
 * chunks, several sequences), comparing logits rows, and building tiny
 * llama-family GGUF images in memory (optionally broken on purpose).
 */
#ifndef MODEL_TEST_UTIL_H
#define MODEL_TEST_UTIL_H

#include "sb_model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A model with its own KV pool: n_seqs sequences of up to max_pos
 * positions each, pages of 16 positions; sequence s owns pages taken from
 * the pool in a scrambled (out of order, interleaved) order. */
typedef struct mt_runner {
    sb_model *m;
    sb_backend *be;
    int n_seqs, pages_per_seq, n_vocab;
    int32_t *tables; /* [n_seqs][pages_per_seq] */
} mt_runner;

/* Sets up the runner (KV pool, scratch for batches of max_batch entries,
 * every entry an output). Returns false (with a test failure) on error. */
bool mt_runner_init(mt_runner *r, sb_model *m, int n_seqs, int max_pos, int max_batch, uint32_t kv_type);
void mt_runner_free(mt_runner *r);

/* One forward pass of n entries of sequence seq at positions pos0..; if
 * out is not NULL, every entry is an output and its logits row goes to
 * out[i][n_vocab]; otherwise only the last entry's row goes to last (may be
 * NULL). */
bool mt_forward(mt_runner *r, int seq, const int32_t *toks, int n, int pos0, float *out, float *last);

/* Largest |a - b| over n values. */
double mt_max_abs_diff(const float *a, const float *b, size_t n);
/* KL(softmax(ref) || softmax(x)) of one row, in double. */
double mt_kl(const float *ref, const float *x, int n);
/* Argmax, ties to the lowest index. */
int mt_argmax(const float *x, int n);

/* A tiny llama-family model as a GGUF image: n_embd 64, 2 heads of 32,
 * 1 KV head, n_ff 96, 2 layers, vocab 40, all F32 weights. The knobs break
 * it on purpose for the error tests. */
typedef struct mt_tiny {
    const char *arch;        /* "llama" by default */
    const char *skip_tensor; /* leave this tensor out */
    const char *bad_shape;   /* give this tensor a wrong second dimension */
    const char *odd_type;    /* store this tensor as type odd_type_id */
    uint32_t odd_type_id;
    bool skip_eps;         /* leave out attention.layer_norm_rms_epsilon */
    int64_t expert_count;  /* > 0: write llama.expert_count */
    const char *rope_type; /* rope.scaling.type, if set */
    float rope_factor;     /* rope.scaling.factor, if > 0 */
    int rope_orig_ctx;     /* rope.scaling.original_context_length, if > 0 */
    float freq_base;       /* rope.freq_base, if > 0 */
} mt_tiny;

/* Builds the image; the caller frees *data with sb_free. */
bool mt_tiny_gguf(const mt_tiny *t, void **data, size_t *len);
/* Same, written to path. */
bool mt_tiny_gguf_file(const mt_tiny *t, const char *path);

/* Runs the solebox binary with args (argv[0] excluded, NULL-terminated),
 * returns its exit status and the first cap-1 bytes of stdout/stderr. */
int mt_run_solebox(const char *const *args, char *out, size_t out_cap, char *errs, size_t err_cap);

#endif
