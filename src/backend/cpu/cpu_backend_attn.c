/*
 * cpu_backend_attn.c - causal grouped-query attention over the paged KV
 * cache: for entry i and query head h (KV head h / group),
 *   s_j = (q . k_j) * scale            j = 0 .. pos_i of the entry's sequence
 *   p   = softmax(s)                   max-subtracted, sum in double (as ggml)
 *   out = sum_j p_j v_j                (the 1/sum applied once at the end)
 * Work items are (entry, head) pairs handed out in chunks of one KV group
 * from an atomic counter, so long and short rows of a prefill chunk balance
 * across threads and the group's heads reuse the K/V rows from cache.
 */
#include "cpu_backend_internal.h"

#include <math.h>
#include <string.h>

typedef struct attn_job {
    cpu_backend *cb;
    int layer, n, n_heads, group;
    float scale;
    const float *q;
    float *out;
    size_t q_row, out_row; /* floats per entry */
} attn_job;

/* One (entry, query head): scores over the entry's positions page by page, softmax, weighted sum of V. */
static void attend(const attn_job *j, int i, int h, float *sc) {
    const cpu_backend *cb = j->cb;
    const cpu_vec_fns *vf = &cb->vec;
    const int dk = cb->kv.head_dim_k, dv = cb->kv.head_dim_v, ps = cb->kv.page_size;
    const int kvh = h / j->group, npos = cb->pos[i] + 1;
    const int32_t *table = cb->pages + cb->page_off[cb->seq[i]];
    const float *q = j->q + (size_t)i * j->q_row + (size_t)h * dk;
    float *o = j->out + (size_t)i * j->out_row + (size_t)h * dv;
    const bool f16 = cb->kv.type == SB_TYPE_F16;

    /* scores, page by page (one KV head's slots are contiguous in a page) */
    for (int p0 = 0; p0 < npos; p0 += ps) {
        const int cnt = npos - p0 < ps ? npos - p0 : ps;
        const uint8_t *kp = sb_cpu_k_at(cb, j->layer, table[p0 / ps], kvh, 0);
        if (f16)
            vf->scores_f16(q, (const uint16_t *)kp, cnt, dk, j->scale, sc + p0);
        else
            vf->scores_f32(q, (const float *)kp, cnt, dk, j->scale, sc + p0);
    }
    /* softmax */
    float mx = -INFINITY;
    for (int p = 0; p < npos; p++)
        mx = sc[p] > mx ? sc[p] : mx;
    const double sum = vf->exp_sum(sc, npos, mx);
    const float inv = (float)(1.0 / sum);
    /* weighted sum of values, normalised at the end */
    memset(o, 0, (size_t)dv * sizeof(float));
    for (int p0 = 0; p0 < npos; p0 += ps) {
        const int cnt = npos - p0 < ps ? npos - p0 : ps;
        const uint8_t *vp = sb_cpu_v_at(cb, j->layer, table[p0 / ps], kvh, 0);
        if (f16)
            vf->wsum_f16(o, sc + p0, (const uint16_t *)vp, cnt, dv);
        else
            vf->wsum_f32(o, sc + p0, (const float *)vp, cnt, dv);
    }
    for (int c = 0; c < dv; c++)
        o[c] *= inv;
}

/* A thread's share: chunks of one KV group taken from the shared counter until none are left. */
static void attn_part(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    cpu_backend *cb = j->cb;
    float *sc = cb->att_scores + (size_t)ith * cb->att_scores_len;
    const int items = j->n * j->n_heads, chunk = j->group;
    if (nth == 1) {
        for (int it = 0; it < items; it++)
            attend(j, it / j->n_heads, it % j->n_heads, sc);
        return;
    }
    for (;;) {
        const int start = atomic_fetch_add(&cb->att_next, chunk);
        if (start >= items)
            break;
        const int end = start + chunk < items ? start + chunk : items;
        for (int it = start; it < end; it++)
            attend(j, it / j->n_heads, it % j->n_heads, sc);
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
