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
 * The fused op (attention_rope) also rotates and stores each item's heads
 * first, on the thread that attends with them.
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
    /* attention_rope only: the rows to rotate and store first */
    const cpu_rope_plan *rope;
    float *q_rot, *k;
    const float *v;
    size_t k_row, v_row;
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
            vf->wsum_heads_f16(o, sc, row, nh, (const uint16_t *)v0, (size_t)ps * dv, table, ps, npos, dv);
        else
            vf->wsum_heads_f32(o, sc, row, nh, (const float *)v0, (size_t)ps * dv, table, ps, npos, dv);
        for (int h = 0; h < nh; h++) {
            const float inv = (float)(1.0 / sum[h]);
            for (int c = 0; c < dv; c++)
                o[(size_t)h * dv + c] *= inv;
        }
    }
}

/* One item of attention_rope: rotates the group's query heads and the KV
 * head of entry i, stores the KV head in its slot, then attends. cs is the
 * thread's cos/sin table, made for entry *cs_entry (-1: none yet). */
static void rope_store_attend(const attn_job *j, int i, int kvh, float *sc, float *cs, int *cs_entry) {
    const cpu_backend *cb = j->cb;
    const int dk = cb->kv.head_dim_k;
    if (*cs_entry != i) {
        sb_cpu_rope_table(j->rope, cb->pos[i], cs);
        *cs_entry = i;
    }
    float *k = j->k + (size_t)i * j->k_row + (size_t)kvh * dk;
    sb_cpu_rope_heads(j->rope, cs, j->q_rot + (size_t)i * j->q_row + (size_t)kvh * j->group * dk, j->group, dk);
    sb_cpu_rope_heads(j->rope, cs, k, 1, dk);
    sb_cpu_kv_store_head(cb, j->layer, i, kvh, k, j->v + (size_t)i * j->v_row + (size_t)kvh * cb->kv.head_dim_v);
    attend_group(j, i, kvh, sc);
}

/* A thread's share: (entry, KV head) items taken from the shared counter until none are left. */
static void attn_part(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    cpu_backend *cb = j->cb;
    float *sc = cb->att_scores + (size_t)ith * cb->att_scores_len;
    float *cs = cb->rope_theta + (size_t)ith * SB_CPU_MAX_ROT;
    const int nkv = cb->kv.n_kv_heads, items = j->n * nkv;
    int cs_entry = -1;
    for (int k = 0;; k++) {
        const int it = nth == 1 ? k : atomic_fetch_add(&cb->att_next, 1);
        if (it >= items)
            break;
        if (j->rope)
            rope_store_attend(j, it / nkv, it % nkv, sc, cs, &cs_entry);
        else
            attend_group(j, it / nkv, it % nkv, sc);
    }
}

/* The work estimate that decides whether attention wakes the pool. */
static long attn_work(const cpu_backend *cb, int n, int n_heads) {
    long work = 0;
    for (int i = 0; i < n; i++)
        work += (long)(cb->pos[i] + 1);
    return work * (long)n_heads * (cb->kv.head_dim_k + cb->kv.head_dim_v) / 4;
}

/* Checks an attention call against the pool and the batch and fills the
 * job's common part; false (nothing to run) on a call that cannot be right
 * (the model checks its head counts at load). */
static bool attn_job_init(attn_job *j, cpu_backend *cb, int layer, const sb_tensor *q, int n_heads, float scale,
                          sb_tensor *out, int n) {
    if (!cb->kv_ready || layer < 0 || layer >= cb->kv.n_layers || n < 1 || n > cb->n_tokens ||
        n_heads < cb->kv.n_kv_heads || n_heads % cb->kv.n_kv_heads != 0)
        return false;
    *j = (attn_job){.cb = cb,
                    .layer = layer,
                    .n = n,
                    .n_heads = n_heads,
                    .group = n_heads / cb->kv.n_kv_heads,
                    .scale = scale,
                    .q = q->data,
                    .out = out->data,
                    .q_row = (size_t)q->ne[0],
                    .out_row = (size_t)out->ne[0]};
    return true;
}

/* Resets the work counter and runs attn_part where the work pays for threads. */
static void attn_run(attn_job *j) {
    atomic_store(&j->cb->att_next, 0);
    sb_cpu_run(j->cb, attn_part, j, attn_work(j->cb, j->n, j->n_heads));
}

/* attention op (sb_backend.h). */
void sb_cpu_attention(sb_backend *b, int layer, const sb_tensor *q, int n_heads, float scale, sb_tensor *out, int n) {
    attn_job j;
    if (attn_job_init(&j, cpu_of(b), layer, q, n_heads, scale, out, n))
        attn_run(&j);
}

/* True when no two of the batch's n entries are in the same sequence (then
 * an entry's attention reads no other entry's K/V). Batches longer than 64
 * are not checked: false. */
static bool entries_in_distinct_seqs(const cpu_backend *cb, int n) {
    if (n > 64)
        return false;
    for (int i = 1; i < n; i++)
        for (int k = 0; k < i; k++)
            if (cb->seq[i] == cb->seq[k])
                return false;
    return true;
}

/* attention_rope op (sb_backend.h): for a batch whose entries are in
 * distinct sequences (decode), each (entry, KV head) item rotates, stores
 * and attends on the thread that takes it: the rope and the store run in
 * parallel, and the pool is woken once instead of after two serial ops.
 * Computes the same bits as rope, rope, kv_store and attention. */
bool sb_cpu_attention_rope(sb_backend *b, int layer, sb_tensor *q, sb_tensor *k, const sb_tensor *v, int n_heads,
                          const sb_rope_params *p, float scale, sb_tensor *out, int n) {
    cpu_backend *cb = cpu_of(b);
    cpu_rope_plan plan;
    attn_job j;
    if (!attn_job_init(&j, cb, layer, q, n_heads, scale, out, n) ||
        !sb_cpu_rope_plan_init(&plan, p, cb->kv.head_dim_k) || !entries_in_distinct_seqs(cb, n))
        return false;
    j.rope = &plan;
    j.q_rot = q->data;
    j.k = k->data;
    j.v = v->data;
    j.k_row = (size_t)k->ne[0];
    j.v_row = (size_t)v->ne[0];
    attn_run(&j);
    return true;
}
