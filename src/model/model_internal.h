/*
 * model_internal.h - what the model's files share:
 *   model_hparams.c   hyperparameters from the GGUF keys (llama.cpp defaults)
 *   model_weights.c   the list of weights of an architecture, binding them
 *   model_load.c      sb_model_load*, free, accessors
 *   transformer.c     the decoder forward pass over backend ops
 *   arch_*.c          one descriptor per architecture
 *   synthetic.c       random-weight models of known shapes, built in memory
 */
#ifndef SB_MODEL_INTERNAL_H
#define SB_MODEL_INTERNAL_H

#include "sb_model.h"

/* What distinguishes one llama-family architecture from another. */
typedef struct sb_arch {
    const char *name; /* general.architecture */
    sb_rope_mode rope_mode;
    bool qkv_bias; /* attn_q/k/v.bias are required (otherwise used when present) */
    bool qk_norm;  /* attn_q_norm / attn_k_norm: RMS norm of each head before rope */
    /* Architecture-specific keys and checks, after the common ones; NULL if none. */
    sb_status (*check)(const sb_gguf *g, sb_model_hparams *hp, sb_error *err);
} sb_arch;

extern const sb_arch sb_arch_llama, sb_arch_qwen2, sb_arch_qwen3;

/* The architecture named `name`, or NULL. */
const sb_arch *sb_arch_find(const char *name);
/* "llama, qwen2, qwen3" (static storage). */
const char *sb_arch_list(void);

/* Largest head size the model accepts (the CPU rope table's bound). */
#define SB_MODEL_MAX_HEAD_DIM 1024

/* Reads the hyperparameters of architecture `arch` (keys `<arch>.*`, with
 * llama.cpp's defaults) into hp. n_vocab and tied_output are left to the
 * caller (they come from the tensors). */
sb_status sb_model_read_hparams(const sb_gguf *g, const sb_arch *arch, sb_model_hparams *hp, sb_error *err);
/* Checks the relations between hyperparameters (head counts divide, rope
 * dims even and within the head, sizes positive and bounded). */
sb_status sb_model_check_hparams(const sb_model_hparams *hp, sb_error *err);

/* The role of a weight in the forward pass. */
typedef enum sb_weight_role {
    SB_W_TOKEN_EMBD,
    SB_W_OUTPUT_NORM,
    SB_W_OUTPUT,
    SB_W_ROPE_FREQS,
    SB_W_ATTN_NORM,
    SB_W_Q,
    SB_W_K,
    SB_W_V,
    SB_W_O,
    SB_W_Q_BIAS,
    SB_W_K_BIAS,
    SB_W_V_BIAS,
    SB_W_O_BIAS,
    SB_W_Q_NORM,
    SB_W_K_NORM,
    SB_W_FFN_NORM,
    SB_W_GATE,
    SB_W_UP,
    SB_W_DOWN,
} sb_weight_role;

/* One weight the architecture expects: GGUF name, shape, how it is used. */
typedef struct sb_weight_spec {
    char name[64];
    sb_weight_role role;
    int layer; /* -1 for model-level weights */
    int n_dims;
    int64_t ne[2];
    uint32_t usage;
    bool required;
} sb_weight_spec;

/* Upper bound on the number of weights for hp (for sizing arrays). */
int sb_model_max_weights(const sb_model_hparams *hp);
/* Fills specs (sb_model_max_weights entries) with the weights of this
 * architecture and hyperparameters; returns how many. */
int sb_model_weight_specs(const sb_model_hparams *hp, const sb_arch *arch, sb_weight_spec *specs);

/* One decoder block's weights (NULL: absent optional weight). */
typedef struct sb_layer {
    const sb_tensor *attn_norm, *wq, *wk, *wv, *wo;
    const sb_tensor *bq, *bk, *bv, *bo;
    const sb_tensor *q_norm, *k_norm;
    const sb_tensor *ffn_norm, *w_gate, *w_up, *w_down;
} sb_layer;

struct sb_model {
    sb_model_hparams hp;
    const sb_arch *arch;
    sb_gguf *gguf;       /* owned; NULL for a synthetic model */
    sb_backend *backend; /* borrowed */

    bool no_repack;     /* sb_model_load_opts.repack was false */
    sb_tensor *tensors; /* every loaded weight (fixed capacity: pointers into it are stable) */
    int n_tensors, cap_tensors;
    void **owned; /* host bytes the model owns (synthetic weights) */
    int n_owned, cap_owned;

    const sb_tensor *tok_embd, *output_norm, *output, *rope_freqs;
    sb_layer *layers;

    /* Scratch activations, sized by sb_model_reserve. */
    int max_tokens, max_outputs;
    sb_tensor x, xb, q, k, v, att, hb, hb2, logits;
    bool scratch_ready;
};

/* An empty model for hp/arch on backend (arrays sized, nothing loaded).
 * Frees with sb_model_free. */
sb_status sb_model_alloc(const sb_model_hparams *hp, const sb_arch *arch, sb_backend *backend, sb_model **out,
                         sb_error *err);
/* Before binding: the matmul weights' GGUF bytes, so the backend can keep them in one block. */
sb_status sb_model_reserve_weights(sb_model *m, const uint64_t *bytes_by_type, sb_error *err);
/* Loads weight `s` from GGUF-layout bytes `host` of `type` onto the backend
 * and binds it to its role. */
sb_status sb_model_bind_weight(sb_model *m, const sb_weight_spec *s, uint32_t type, const void *host, sb_error *err);
/* After all weights are bound: checks the required ones are there, fills
 * the derived hparams (rope factors, bias/norm flags, counts). */
sb_status sb_model_finish(sb_model *m, sb_error *err);
/* Releases the scratch activations. */
void sb_model_release_scratch(sb_model *m);

#endif
