/*
 * model_weights.c - the weights of a llama-family decoder: their GGUF names
 * and shapes (ggml order, innermost first), how each is used, and binding
 * loaded tensors to their place in the model.
 */
#include "model_internal.h"

#include "sb_alloc.h"

#include <stdio.h>
#include <string.h>

int sb_model_max_weights(const sb_model_hparams *hp) { return 4 + hp->n_layers * 15; }

static void spec(sb_weight_spec *s, int *n, sb_weight_role role, int layer, const char *suffix, int n_dims, int64_t ne0,
                 int64_t ne1, uint32_t usage, bool required) {
    sb_weight_spec *w = &s[(*n)++];
    memset(w, 0, sizeof *w);
    if (layer >= 0)
        snprintf(w->name, sizeof w->name, "blk.%d.%s", layer, suffix);
    else
        snprintf(w->name, sizeof w->name, "%s", suffix);
    w->role = role;
    w->layer = layer;
    w->n_dims = n_dims;
    w->ne[0] = ne0;
    w->ne[1] = n_dims > 1 ? ne1 : 1;
    w->usage = usage;
    w->required = required;
}

/* Shapes in ggml order: a matrix is [in, out]; biases and norms are 1-D. */
int sb_model_weight_specs(const sb_model_hparams *hp, const sb_arch *arch, sb_weight_spec *s) {
    const int64_t E = hp->n_embd, V = hp->n_vocab, F = hp->n_ff;
    const int64_t QK = (int64_t)hp->n_heads * hp->head_dim_k, KK = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t QV = (int64_t)hp->n_heads * hp->head_dim_v, KV = (int64_t)hp->n_kv_heads * hp->head_dim_v;
    const uint32_t M = SB_USE_MATMUL, R = SB_USE_ROWS, VEC = SB_USE_VECTOR;
    int n = 0;
    spec(s, &n, SB_W_TOKEN_EMBD, -1, "token_embd.weight", 2, E, V, hp->tied_output ? (R | M) : R, true);
    spec(s, &n, SB_W_OUTPUT_NORM, -1, "output_norm.weight", 1, E, 1, VEC, true);
    if (!hp->tied_output)
        spec(s, &n, SB_W_OUTPUT, -1, "output.weight", 2, E, V, M, true);
    spec(s, &n, SB_W_ROPE_FREQS, -1, "rope_freqs.weight", 1, hp->rope.n_rot / 2, 1, VEC, false);
    for (int l = 0; l < hp->n_layers; l++) {
        spec(s, &n, SB_W_ATTN_NORM, l, "attn_norm.weight", 1, E, 1, VEC, true);
        spec(s, &n, SB_W_Q, l, "attn_q.weight", 2, E, QK, M, true);
        spec(s, &n, SB_W_K, l, "attn_k.weight", 2, E, KK, M, true);
        spec(s, &n, SB_W_V, l, "attn_v.weight", 2, E, KV, M, true);
        spec(s, &n, SB_W_O, l, "attn_output.weight", 2, QV, E, M, true);
        spec(s, &n, SB_W_Q_BIAS, l, "attn_q.bias", 1, QK, 1, VEC, arch->qkv_bias);
        spec(s, &n, SB_W_K_BIAS, l, "attn_k.bias", 1, KK, 1, VEC, arch->qkv_bias);
        spec(s, &n, SB_W_V_BIAS, l, "attn_v.bias", 1, KV, 1, VEC, arch->qkv_bias);
        spec(s, &n, SB_W_O_BIAS, l, "attn_output.bias", 1, E, 1, VEC, false);
        if (arch->qk_norm) {
            spec(s, &n, SB_W_Q_NORM, l, "attn_q_norm.weight", 1, hp->head_dim_k, 1, VEC, true);
            spec(s, &n, SB_W_K_NORM, l, "attn_k_norm.weight", 1, hp->head_dim_k, 1, VEC, true);
        }
        spec(s, &n, SB_W_FFN_NORM, l, "ffn_norm.weight", 1, E, 1, VEC, true);
        spec(s, &n, SB_W_GATE, l, "ffn_gate.weight", 2, E, F, M, true);
        spec(s, &n, SB_W_UP, l, "ffn_up.weight", 2, E, F, M, true);
        spec(s, &n, SB_W_DOWN, l, "ffn_down.weight", 2, F, E, M, true);
    }
    return n;
}

sb_status sb_model_alloc(const sb_model_hparams *hp, const sb_arch *arch, sb_backend *backend, sb_model **out,
                         sb_error *err) {
    *out = NULL;
    sb_model *m = sb_calloc(1, sizeof *m);
    if (!m)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    m->hp = *hp;
    m->arch = arch;
    m->backend = backend;
    m->cap_tensors = sb_model_max_weights(hp);
    m->tensors = sb_calloc((size_t)m->cap_tensors, sizeof *m->tensors);
    m->layers = sb_calloc((size_t)hp->n_layers, sizeof *m->layers);
    if (!m->tensors || !m->layers) {
        sb_free(m->tensors);
        sb_free(m->layers);
        sb_free(m);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    *out = m;
    return SB_OK;
}

/* Tells the backend how many bytes of matmul weights of each type are
 * coming (bytes_by_type[SB_TYPE_COUNT], before the first
 * sb_model_bind_weight), so it can keep them in one block in load order,
 * which is also the order a forward pass reads them in. */
sb_status sb_model_reserve_weights(sb_model *m, const uint64_t *bytes_by_type, sb_error *err) {
    if (m->backend->ops->weight_reserve && !m->no_repack)
        return m->backend->ops->weight_reserve(m->backend, bytes_by_type, err);
    return SB_OK;
}

/* Loads the weight on the backend, then points the model's role slot at it. */
sb_status sb_model_bind_weight(sb_model *m, const sb_weight_spec *s, uint32_t type, const void *host, sb_error *err) {
    if (m->n_tensors >= m->cap_tensors)
        return sb_error_set(err, SB_ERR_INTERNAL, "tensor '%s': more weights than expected", s->name);
    sb_tensor *t = &m->tensors[m->n_tensors];
    sb_tensor_init(t, s->name, type, s->n_dims, s->ne);
    t->usage = s->usage | (m->no_repack && (s->usage & SB_USE_MATMUL) ? SB_USE_NO_REPACK : 0);
    /* Only a model opened from a file may have its mapped pages dropped after a repack. */
    if (m->gguf && sb_gguf_path(m->gguf)[0])
        t->usage |= SB_USE_HOST_FILE;
    sb_status st = m->backend->ops->weight_load(m->backend, t, host, err);
    if (st != SB_OK)
        return st;
    m->n_tensors++;
    uint64_t bytes = 0;
    sb_type_row_size(type, (uint64_t)s->ne[0], &bytes);
    m->hp.n_params += (uint64_t)sb_tensor_nelements(t);
    m->hp.weight_bytes += bytes * (uint64_t)s->ne[1];

    sb_layer *L = s->layer >= 0 ? &m->layers[s->layer] : NULL;
    switch (s->role) {
    case SB_W_TOKEN_EMBD: m->tok_embd = t; break;
    case SB_W_OUTPUT_NORM: m->output_norm = t; break;
    case SB_W_OUTPUT: m->output = t; break;
    case SB_W_ROPE_FREQS: m->rope_freqs = t; break;
    case SB_W_ATTN_NORM: L->attn_norm = t; break;
    case SB_W_Q: L->wq = t; break;
    case SB_W_K: L->wk = t; break;
    case SB_W_V: L->wv = t; break;
    case SB_W_O: L->wo = t; break;
    case SB_W_Q_BIAS: L->bq = t; break;
    case SB_W_K_BIAS: L->bk = t; break;
    case SB_W_V_BIAS: L->bv = t; break;
    case SB_W_O_BIAS: L->bo = t; break;
    case SB_W_Q_NORM: L->q_norm = t; break;
    case SB_W_K_NORM: L->k_norm = t; break;
    case SB_W_FFN_NORM: L->ffn_norm = t; break;
    case SB_W_GATE: L->w_gate = t; break;
    case SB_W_UP: L->w_up = t; break;
    case SB_W_DOWN: L->w_down = t; break;
    }
    return SB_OK;
}

/* The type most matmul weights have (general.file_type stand-in). */
static uint32_t common_type(const sb_model *m) {
    int count[SB_TYPE_COUNT] = {0};
    uint32_t best = SB_TYPE_F32;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].n_dims == 2 && m->tensors[i].type < SB_TYPE_COUNT)
            count[m->tensors[i].type]++;
    for (uint32_t t = 0; t < SB_TYPE_COUNT; t++)
        if (count[t] > count[best])
            best = t;
    return best;
}

/* Ties the output to the embedding when absent and checks every layer is complete. */
sb_status sb_model_finish(sb_model *m, sb_error *err) {
    sb_model_hparams *hp = &m->hp;
    if (!m->tok_embd || !m->output_norm)
        return sb_error_set(err, SB_ERR_NOT_FOUND, "tensor '%s' is missing",
                            m->tok_embd ? "output_norm.weight" : "token_embd.weight");
    if (hp->tied_output)
        m->output = m->tok_embd;
    for (int l = 0; l < hp->n_layers; l++) {
        const sb_layer *L = &m->layers[l];
        if (!L->attn_norm || !L->wq || !L->wk || !L->wv || !L->wo || !L->ffn_norm || !L->w_gate || !L->w_up ||
            !L->w_down || (m->arch->qk_norm && (!L->q_norm || !L->k_norm)) ||
            (m->arch->qkv_bias && (!L->bq || !L->bk || !L->bv)))
            return sb_error_set(err, SB_ERR_NOT_FOUND, "layer %d: a required tensor is missing", l);
    }
    hp->rope.freq_factors = m->rope_freqs;
    hp->qkv_bias = m->layers[0].bq != NULL;
    hp->qk_norm = m->layers[0].q_norm != NULL;
    if (!hp->file_type)
        hp->file_type = common_type(m);
    return SB_OK;
}
