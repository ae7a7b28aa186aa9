/*
 * cpu_backend_attn.c - causal grouped-query attention over the paged KV
 * cache: for entry i and query head h (KV head h / group),
 *   s_j = (q . k_j) * scale            j = 0 .. pos_i of the entry's sequence
 *   p   = softmax(s)                   max-subtracted, sum in double (as ggml)
 *   out = sum_j p_j v_j                (the 1/sum applied once at the end)
 * Work items are (entry, KV head) pairs taken one at a time from an atomic
 * counter, so long and short rows of a prefill chunk balance across threads.
 * An item handles the query heads of its KV group together (in blocks of
 * SB_CPU_ATT_HEADS): each page of K and V is read and converted once for
 * all of them, as small matrix products (the *_heads vector loops; K is
 * stored transposed in its pages for them, see cpu_backend_internal.h).
 */
#include "cpu_backend_internal.h"

#include <math.h>

typedef struct attn_job {
    cpu_backend *cb;
    int layer, n, n_heads, group;
    float scale;
    const float *q;
    float *out;
    size_t q_row, out_row; /* floats per entry */
} attn_job;

/* One (entry, KV head): for each block of the group's query heads, scores
 * over the entry's positions page by page, softmax per head, weighted sums
 * of V. sc holds SB_CPU_ATT_HEADS score rows of cb->att_row floats. */
static void attend_group(const attn_job *j, int i, int kvh, float *sc) {
    const cpu_backend *cb = j->cb;
    const cpu_vec_fns *vf = &cb->vec;
    const int dk = cb->kv.head_dim_k, dv = cb->kv.head_dim_v, ps = cb->kv.page_size;
    const int npos = cb->pos[i] + 1;
    const size_t row = cb->att_row;
    const int32_t *table = cb->pages + cb->page_off[cb->seq[i]];
    const bool f16 = cb->kv.type == SB_TYPE_F16;
    double sum[SB_CPU_ATT_HEADS];

    for (int g0 = 0; g0 < j->group; g0 += SB_CPU_ATT_HEADS) {
        const int nh = j->group - g0 < SB_CPU_ATT_HEADS ? j->group - g0 : SB_CPU_ATT_HEADS;
        const int h0 = kvh * j->group + g0;
        const float *q = j->q + (size_t)i * j->q_row + (size_t)h0 * dk;
        float *o = j->out + (size_t)i * j->out_row + (size_t)h0 * dv;
        /* scores, page by page (one KV head's K is a d x page_size block) */
        for (int p0 = 0; p0 < npos; p0 += ps) {
            const int cnt = npos - p0 < ps ? npos - p0 : ps;
            const uint8_t *kp = sb_cpu_k_at(cb, j->layer, table[p0 / ps], kvh, 0);
            if (f16)
                vf->scores_heads_f16(q, nh, (const uint16_t *)kp, ps, cnt, dk, j->scale, sc + p0, row);
            else
                vf->scores_heads_f32(q, nh, (const float *)kp, ps, cnt, dk, j->scale, sc + p0, row);
        }
        /* softmax of each head's row */
        for (int h = 0; h < nh; h++) {
            float *s = sc + (size_t)h * row;
            sum[h] = vf->exp_sum(s, npos, vf->row_max(s, npos));
        }
        /* weighted sums of values over all pages, normalised at the end */
        const uint8_t *v0 = sb_cpu_v_at(cb, j->layer, 0, kvh, 0);
        if (f16)
            vf->wsum_heads_f16(o, sc, row, nh, (const uint16_t *)v0, cb->v_page_elems, table, ps, npos, dv);
        else
            vf->wsum_heads_f32(o, sc, row, nh, (const float *)v0, cb->v_page_elems, table, ps, npos, dv);
        for (int h = 0; h < nh; h++) {
            const float inv = (float)(1.0 / sum[h]);
            for (int c = 0; c < dv; c++)
                o[(size_t)h * dv + c] *= inv;
        }
    }
}

/* A thread's share: (entry, KV head) items taken from the shared counter until none are left. */
static void attn_part(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    cpu_backend *cb = j->cb;
    float *sc = cb->att_scores + (size_t)ith * cb->att_scores_len;
    const int nkv = cb->kv.n_kv_heads, items = j->n * nkv;
    if (nth == 1) {
        for (int it = 0; it < items; it++)
            attend_group(j, it / nkv, it % nkv, sc);
        return;
    }
    for (;;) {
        const int it = atomic_fetch_add(&cb->att_next, 1);
        if (it >= items)
            break;
        attend_group(j, it / nkv, it % nkv, sc);
    }
}

/* attention op (sb_backend.h): resets the work counter and runs attn_part where the work pays for threads. */
void sb_cpu_attention(sb_backend *b, int layer, const sb_tensor *q, int n_heads, float scale, sb_tensor *out, int n) {
    cpu_backend *cb = cpu_of(b);
    if (!cb->kv_ready || layer < 0 || layer >= cb->kv.n_layers || n > cb->n_tokens || n_heads < cb->kv.n_kv_heads ||
        n_heads % cb->kv.n_kv_heads != 0)
        return; /* the model checks its head counts at load */
    attn_job j = {.cb = cb,
                  .layer = layer,
                  .n = n,
                  .n_heads = n_heads,
                  .group = n_heads / cb->kv.n_kv_heads,
                  .scale = scale,
                  .q = q->data,
                  .out = out->data,
                  .q_row = (size_t)q->ne[0],
                  .out_row = (size_t)out->ne[0]};
    long work = 0;
    for (int i = 0; i < n; i++)
        work += (long)(cb->pos[i] + 1);
    work *= (long)n_heads * (cb->kv.head_dim_k + cb->kv.head_dim_v) / 4;
    atomic_store(&cb->att_next, 0);
    sb_cpu_run(cb, attn_part, &j, work);
}
