/*
 * transformer.c - the llama-family decoder forward pass, over backend ops.
 *
 * Shapes: n = entries in the batch, E = n_embd, H = n_heads, Hkv = n_kv_heads,
 * dk/dv = head sizes, F = n_ff, V = n_vocab, O = output rows. Activations are
 * F32 row-major [rows][width]; the scratch is sized once by sb_model_reserve
 * and reused by every pass (no allocation per step).
 *
 *   x = embed(tokens)                                    x [n][E]
 *   for each layer:
 *       xb = rmsnorm(x) * attn_norm                      xb [n][E]
 *       q = xb Wq (+bq)   k = xb Wk (+bk)   v = xb Wv    q [n][H dk], k [n][Hkv dk], v [n][Hkv dv]
 *       (qwen3) q, k = rmsnorm per head * q_norm, k_norm
 *       q, k = rope(q, k, positions)
 *       KV cache <- k, v at the entries' positions
 *       att = softmax(q K^T / sqrt(dk)) V, causal, GQA  att [n][H dv]
 *       (these three as one op where the backend fuses them: attention_rope)
 *       x = x + att Wo (+bo)
 *       xb = rmsnorm(x) * ffn_norm
 *       x = x + (silu(xb Wgate) * (xb Wup)) Wdown        hidden [n][F]
 *   logits = (rmsnorm(x) * output_norm) Wout             logits [O][V]
 *
 * In the last layer only the O output rows continue after attention (as
 * llama.cpp does): their residual and attention rows are gathered first.
 * Each rmsnorm and the SwiGLU go to the backend with the projection that
 * reads them (matmul_pre), so that a backend can fuse the two.
 */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>

void sb_model_release_scratch(sb_model *m) {
    sb_tensor *ts[] = {&m->x, &m->xb, &m->q, &m->k, &m->v, &m->att, &m->hb, &m->hb2, &m->logits};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        if (ts[i]->data)
            sb_backend_release(m->backend, ts[i]);
    m->scratch_ready = false;
    m->max_tokens = m->max_outputs = 0;
}

static sb_status scratch(sb_model *m, sb_tensor *t, const char *name, int64_t width, int64_t rows, sb_error *err) {
    int64_t ne[2] = {width, rows};
    sb_tensor_init(t, name, SB_TYPE_F32, 2, ne);
    return sb_backend_alloc(m->backend, t, err);
}

sb_status sb_model_reserve(sb_model *m, int max_tokens, int max_outputs, sb_error *err) {
    if (max_tokens < 1 || max_outputs < 1 || max_outputs > max_tokens)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "reserve: %d tokens / %d outputs is not a valid batch size",
                            max_tokens, max_outputs);
    if (m->scratch_ready && max_tokens <= m->max_tokens && max_outputs <= m->max_outputs)
        return SB_OK;
    if (m->scratch_ready) { /* grow: keep the larger of old and new */
        if (max_tokens < m->max_tokens)
            max_tokens = m->max_tokens;
        if (max_outputs < m->max_outputs)
            max_outputs = m->max_outputs;
    }
    sb_model_release_scratch(m);
    const sb_model_hparams *hp = &m->hp;
    const int64_t n = max_tokens, E = hp->n_embd, F = hp->n_ff;
    const int64_t q_w = (int64_t)hp->n_heads * hp->head_dim_k, k_w = (int64_t)hp->n_kv_heads * hp->head_dim_k;
    const int64_t v_w = (int64_t)hp->n_kv_heads * hp->head_dim_v, att_w = (int64_t)hp->n_heads * hp->head_dim_v;
    sb_status st;
    if ((st = scratch(m, &m->x, "x", E, n, err)) || (st = scratch(m, &m->xb, "xb", E, n, err)) ||
        (st = scratch(m, &m->q, "q", q_w, n, err)) || (st = scratch(m, &m->k, "k", k_w, n, err)) ||
        (st = scratch(m, &m->v, "v", v_w, n, err)) || (st = scratch(m, &m->att, "att", att_w, n, err)) ||
        (st = scratch(m, &m->hb, "hb", F, n, err)) || (st = scratch(m, &m->hb2, "hb2", F, n, err)) ||
        (st = scratch(m, &m->logits, "logits", hp->n_vocab, max_outputs, err)) ||
        (st = sb_backend_reserve(m->backend, max_tokens, max_outputs, err))) {
        sb_model_release_scratch(m);
        return st;
    }
    m->max_tokens = max_tokens;
    m->max_outputs = max_outputs;
    m->scratch_ready = true;
    return SB_OK;
}

/* Checks what the backend cannot: reservation and token ids. */
static sb_status check_batch(const sb_model *m, const sb_batch *b, sb_error *err) {
    if (!m->scratch_ready)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "forward: sb_model_reserve was not called");
    if (b->n_tokens < 1 || b->n_tokens > m->max_tokens)
        return sb_error_set(err, SB_ERR_RANGE, "forward: %d entries, but the model reserved 1..%d", b->n_tokens,
                            m->max_tokens);
    if (b->n_outputs < 0 || b->n_outputs > m->max_outputs)
        return sb_error_set(err, SB_ERR_RANGE, "forward: %d output rows, but the model reserved %d", b->n_outputs,
                            m->max_outputs);
    for (int i = 0; i < b->n_tokens; i++)
        if (b->tokens[i] < 0 || b->tokens[i] >= m->hp.n_vocab)
            return sb_error_set(err, SB_ERR_RANGE, "token id %d at entry %d is out of range (vocabulary of %d)",
                                b->tokens[i], i, m->hp.n_vocab);
    return SB_OK;
}

/* ys[i] = x . ws[i]^T + bs[i] for weights that read the same activations
 * (q/k/v, gate/up): one matmul_multi op where the backend has it (x read
 * once, all rows split over its threads together), else one matmul each. */
static void project(sb_backend *be, const sb_tensor *const *ws, const sb_tensor *const *bs, int nw, const sb_tensor *x,
                    sb_tensor *const *ys, int n) {
    const sb_backend_ops *op = be->ops;
    if (op->matmul_multi) {
        op->matmul_multi(be, ws, nw, x, bs, ys, n);
        return;
    }
    for (int i = 0; i < nw; i++)
        op->matmul(be, ws[i], x, bs[i], ys[i], n, false);
}

/* ys (+)= pre(x) . ws^T (+ bs): the rmsnorm or SwiGLU before a projection,
 * in one op where the backend fuses them, else the op into pre->tmp and
 * then the projection. accumulate only with nw = 1. */
static void project_pre(sb_backend *be, const sb_matmul_pre *pre, const sb_tensor *const *ws,
                        const sb_tensor *const *bs, int nw, const sb_tensor *x, sb_tensor *const *ys, int n,
                        bool accumulate) {
    const sb_backend_ops *op = be->ops;
    if (op->matmul_pre && op->matmul_pre(be, pre, ws, nw, x, bs, ys, n, accumulate))
        return;
    if (pre->kind == SB_PRE_RMSNORM)
        op->rmsnorm(be, x, pre->norm, pre->eps, pre->tmp, n);
    else
        op->swiglu(be, x, pre->up, pre->tmp, n);
    if (nw == 1)
        op->matmul(be, ws[0], pre->tmp, bs[0], ys[0], n, accumulate);
    else
        project(be, ws, bs, nw, pre->tmp, ys, n);
}

sb_status sb_model_forward(sb_model *m, const sb_batch *batch, sb_error *err) {
    sb_status st = check_batch(m, batch, err);
    if (st == SB_OK)
        st = sb_backend_set_batch(m->backend, batch, err);
    if (st != SB_OK)
        return st;

    const sb_model_hparams *hp = &m->hp;
    sb_backend *be = m->backend;
    const sb_backend_ops *op = be->ops;
    const float eps = hp->rms_eps, kq_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    const int n_out = batch->n_outputs;
    int n = batch->n_tokens;

    op->get_rows(be, m->tok_embd, &m->x); /* x [n][E] */
    for (int l = 0; l < hp->n_layers; l++) {
        const sb_layer *L = &m->layers[l];
        const bool last = l == hp->n_layers - 1;

        /* self-attention */
        const sb_matmul_pre attn_norm = {SB_PRE_RMSNORM, L->attn_norm, eps, NULL, &m->xb}; /* xb [n][E] */
        const sb_tensor *wqkv[3] = {L->wq, L->wk, L->wv}, *bqkv[3] = {L->bq, L->bk, L->bv};
        sb_tensor *qkv[3] = {&m->q, &m->k, &m->v}; /* q [n][H dk], k [n][Hkv dk], v [n][Hkv dv] */
        project_pre(be, &attn_norm, wqkv, bqkv, 3, &m->x, qkv, n, false);
        if (L->q_norm) {
            op->rmsnorm(be, &m->q, L->q_norm, eps, &m->q, n); /* per head of dk */
            op->rmsnorm(be, &m->k, L->k_norm, eps, &m->k, n);
        }
        if (last && n_out == 0) { /* nobody wants logits: fill the cache and stop */
            op->rope(be, &m->k, hp->n_kv_heads, hp->head_dim_k, &hp->rope, n);
            op->kv_store(be, l, &m->k, &m->v, n);
            return SB_OK;
        }
        if (!op->attention_rope ||
            !op->attention_rope(be, l, &m->q, &m->k, &m->v, hp->n_heads, &hp->rope, kq_scale, &m->att, n)) {
            op->rope(be, &m->q, hp->n_heads, hp->head_dim_k, &hp->rope, n);
            op->rope(be, &m->k, hp->n_kv_heads, hp->head_dim_k, &hp->rope, n);
            op->kv_store(be, l, &m->k, &m->v, n);
            op->attention(be, l, &m->q, hp->n_heads, kq_scale, &m->att, n); /* att [n][H dv] */
        }
        if (last && n_out < n) {
            op->gather_outputs(be, &m->att, &m->att); /* att [O][H dv] */
            op->gather_outputs(be, &m->x, &m->x);     /* x [O][E] */
            n = n_out;
        }
        op->matmul(be, L->wo, &m->att, L->bo, &m->x, n, true); /* x += att Wo */

        /* feed-forward (SwiGLU) */
        const sb_matmul_pre ffn_norm = {SB_PRE_RMSNORM, L->ffn_norm, eps, NULL, &m->xb};
        const sb_tensor *wgu[2] = {L->w_gate, L->w_up}, *bgu[2] = {NULL, NULL};
        sb_tensor *gu[2] = {&m->hb, &m->hb2}; /* hb [n][F], hb2 [n][F] */
        project_pre(be, &ffn_norm, wgu, bgu, 2, &m->x, gu, n, false);
        const sb_matmul_pre swiglu = {SB_PRE_SWIGLU, NULL, 0.0f, &m->hb2, &m->hb}; /* silu(hb) * hb2 */
        const sb_tensor *wdown[1] = {L->w_down}, *bdown[1] = {NULL};
        sb_tensor *xs[1] = {&m->x};
        project_pre(be, &swiglu, wdown, bdown, 1, &m->hb, xs, n, true); /* x += hb Wdown */
    }
    const sb_matmul_pre out_norm = {SB_PRE_RMSNORM, m->output_norm, eps, NULL, &m->x}; /* x [O][E] */
    const sb_tensor *wout[1] = {m->output}, *bout[1] = {NULL};
    sb_tensor *ls[1] = {&m->logits};
    project_pre(be, &out_norm, wout, bout, 1, &m->x, ls, n, false); /* logits [O][V] */
    return SB_OK;
}

const sb_tensor *sb_model_logits(const sb_model *m) { return &m->logits; }
