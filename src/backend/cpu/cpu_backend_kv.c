/*
 * cpu_backend_kv.c - the CPU backend's paged KV cache (layout in
 * cpu_backend_internal.h) and the per-pass batch metadata that addresses it.
 */
#include "cpu_backend_internal.h"
#include "sb_alloc.h"
#include "sb_checked.h"

#include <string.h>

/* Frees the pool and the attention score rows (kv_init or destroy). */
void sb_cpu_kv_free(cpu_backend *cb) {
    sb_aligned_free(cb->k);
    sb_aligned_free(cb->v);
    sb_aligned_free(cb->att_scores);
    cb->k = cb->v = NULL;
    cb->att_scores = NULL;
    cb->kv_ready = false;
    cb->kv_bytes = 0;
}

/* Allocates the pool for cfg (replacing any previous one: its contents are
 * lost) and the per-thread attention scratch: SB_CPU_ATT_HEADS score rows,
 * each as long as the pool. */
sb_status sb_cpu_kv_init(sb_backend *b, const sb_kv_config *cfg, sb_error *err) {
    cpu_backend *cb = cpu_of(b);
    if (cfg->n_layers < 1 || cfg->n_kv_heads < 1 || cfg->head_dim_k < 1 || cfg->head_dim_v < 1 || cfg->page_size < 1 ||
        cfg->page_size > 4096 || cfg->n_pages < 1)
        return sb_error_set(
            err, SB_ERR_INVALID_ARG, "KV cache: invalid shape (%d layers, %d heads, head size %d/%d, %d pages of %d)",
            cfg->n_layers, cfg->n_kv_heads, cfg->head_dim_k, cfg->head_dim_v, cfg->n_pages, cfg->page_size);
    if (cfg->type != SB_TYPE_F32 && cfg->type != SB_TYPE_F16)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "KV cache: type %s is not supported by the CPU backend (F32, F16)",
                            sb_type_name(cfg->type));
    size_t elt = cfg->type == SB_TYPE_F32 ? 4 : 2;
    size_t kpe, vpe, kbytes, vbytes, positions, att_row, att_len, att_bytes;
    if (!sb_mul_size((size_t)cfg->n_kv_heads * (size_t)cfg->page_size, (size_t)cfg->head_dim_k, &kpe) ||
        !sb_mul_size((size_t)cfg->n_kv_heads * (size_t)cfg->page_size, (size_t)cfg->head_dim_v, &vpe) ||
        !sb_mul_size(kpe, (size_t)cfg->n_layers * (size_t)cfg->n_pages, &kbytes) ||
        !sb_mul_size(kbytes, elt, &kbytes) || kbytes > SIZE_MAX - SB_CPU_K_SLACK ||
        !sb_mul_size(vpe, (size_t)cfg->n_layers * (size_t)cfg->n_pages, &vbytes) ||
        !sb_mul_size(vbytes, elt, &vbytes) || !sb_mul_size((size_t)cfg->n_pages, (size_t)cfg->page_size, &positions) ||
        !sb_add_size(positions, 16, &att_row) || !sb_mul_size(att_row, SB_CPU_ATT_HEADS, &att_len) ||
        !sb_add_size(att_len, 15, &att_len) ||
        !sb_mul_size(att_len & ~(size_t)15, (size_t)cb->n_threads * sizeof(float), &att_bytes))
        return sb_error_set(err, SB_ERR_LIMIT, "KV cache: size overflows");
    att_len &= ~(size_t)15; /* each thread's share stays 64-byte aligned */
    sb_cpu_kv_free(cb);
    cb->k = sb_cpu_alloc_huge(kbytes + SB_CPU_K_SLACK);
    cb->v = sb_cpu_alloc_huge(vbytes);
    cb->att_scores = sb_aligned_alloc(64, att_bytes);
    if (!cb->k || !cb->v || !cb->att_scores) {
        sb_cpu_kv_free(cb);
        return sb_error_set(err, SB_ERR_NOMEM, "KV cache: out of memory for %.1f MiB",
                            (double)(kbytes + vbytes) / (1024.0 * 1024.0));
    }
    /* Touch the whole pool now: on huge pages the first store into each
     * 2 MiB faults it in and clears it, ~90 ms for TinyLlama's 44 MiB at
     * context 2048, which would otherwise land on the first request. */
    memset(cb->k, 0, kbytes + SB_CPU_K_SLACK);
    memset(cb->v, 0, vbytes);
    cb->att_scores_len = att_len;
    cb->att_row = att_row;
    cb->kv = *cfg;
    cb->kv_elt = elt;
    cb->kv_bytes = kbytes + vbytes;
    cb->kv_ready = true;
    return SB_OK;
}

/* kv_copy_page op: copies the leading n_pos slots of every layer and head; bad page ids are ignored. */
void sb_cpu_kv_copy_page(sb_backend *b, int32_t src, int32_t dst, int n_pos) {
    cpu_backend *cb = cpu_of(b);
    if (!cb->kv_ready || src < 0 || dst < 0 || src >= cb->kv.n_pages || dst >= cb->kv.n_pages || src == dst ||
        n_pos <= 0)
        return;
    if (n_pos > cb->kv.page_size)
        n_pos = cb->kv.page_size;
    const size_t krow = (size_t)cb->kv.page_size * cb->kv_elt; /* K: a row per dimension across the slots */
    for (int l = 0; l < cb->kv.n_layers; l++)
        for (int h = 0; h < cb->kv.n_kv_heads; h++) {
            uint8_t *kd = sb_cpu_k_at(cb, l, dst, h, 0);
            const uint8_t *ks = sb_cpu_k_at(cb, l, src, h, 0);
            for (int c = 0; c < cb->kv.head_dim_k; c++)
                memcpy(kd + (size_t)c * krow, ks + (size_t)c * krow, (size_t)n_pos * cb->kv_elt);
            memcpy(sb_cpu_v_at(cb, l, dst, h, 0), sb_cpu_v_at(cb, l, src, h, 0),
                   (size_t)n_pos * (size_t)cb->kv.head_dim_v * cb->kv_elt);
        }
}

/* Checks the batch against the reservation and the pool, then copies it. */
sb_status sb_cpu_set_batch(sb_backend *b, const sb_batch *bt, sb_error *err) {
    cpu_backend *cb = cpu_of(b);
    if (!cb->kv_ready)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "batch: the KV cache is not initialised");
    if (bt->n_tokens < 1 || bt->n_tokens > cb->max_tokens)
        return sb_error_set(err, SB_ERR_RANGE, "batch: %d entries, but 1..%d are reserved", bt->n_tokens,
                            cb->max_tokens);
    if (bt->n_outputs < 0 || bt->n_outputs > cb->max_outputs || bt->n_outputs > bt->n_tokens)
        return sb_error_set(err, SB_ERR_RANGE, "batch: %d output rows, but at most %d are reserved", bt->n_outputs,
                            cb->max_outputs);
    if (bt->n_seqs < 1)
        return sb_error_set(err, SB_ERR_RANGE, "batch: no sequences");
    size_t total = 0;
    for (int s = 0; s < bt->n_seqs; s++) {
        int np = bt->n_pages[s];
        if (np < 0 || np > cb->kv.n_pages)
            return sb_error_set(err, SB_ERR_RANGE, "batch: sequence %d has %d pages (pool: %d)", s, np, cb->kv.n_pages);
        for (int j = 0; j < np; j++)
            if (bt->page_tables[s][j] < 0 || bt->page_tables[s][j] >= cb->kv.n_pages)
                return sb_error_set(err, SB_ERR_RANGE, "batch: sequence %d page %d is %d, outside the pool of %d", s, j,
                                    bt->page_tables[s][j], cb->kv.n_pages);
        total += (size_t)np;
    }
    for (int i = 0; i < bt->n_tokens; i++) {
        int s = bt->seq[i];
        if (s < 0 || s >= bt->n_seqs)
            return sb_error_set(err, SB_ERR_RANGE, "batch: entry %d names sequence %d of %d", i, s, bt->n_seqs);
        if (bt->pos[i] < 0 || (int64_t)bt->pos[i] >= (int64_t)bt->n_pages[s] * cb->kv.page_size)
            return sb_error_set(err, SB_ERR_RANGE, "batch: entry %d position %d is outside its %d pages", i, bt->pos[i],
                                bt->n_pages[s]);
    }
    for (int i = 0; i < bt->n_outputs; i++)
        if (bt->output_rows[i] < 0 || bt->output_rows[i] >= bt->n_tokens ||
            (i > 0 && bt->output_rows[i] <= bt->output_rows[i - 1]))
            return sb_error_set(err, SB_ERR_RANGE, "batch: output rows must be ascending entries (row %d is %d)", i,
                                bt->output_rows[i]);

    if (bt->n_seqs > cb->cap_seqs) {
        int32_t *po = sb_reallocarray(cb->page_off, (size_t)bt->n_seqs, sizeof *po);
        if (po)
            cb->page_off = po;
        int32_t *pn = sb_reallocarray(cb->page_n, (size_t)bt->n_seqs, sizeof *pn);
        if (pn)
            cb->page_n = pn;
        if (!po || !pn)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        cb->cap_seqs = bt->n_seqs;
    }
    if (total > cb->cap_pages || !cb->pages) {
        int32_t *p = sb_reallocarray(cb->pages, total ? total : 1, sizeof *p);
        if (!p)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        cb->pages = p;
        cb->cap_pages = total ? total : 1;
    }
    size_t off = 0;
    for (int s = 0; s < bt->n_seqs; s++) {
        cb->page_off[s] = (int32_t)off;
        cb->page_n[s] = bt->n_pages[s];
        if (bt->n_pages[s])
            memcpy(cb->pages + off, bt->page_tables[s], (size_t)bt->n_pages[s] * sizeof(int32_t));
        off += (size_t)bt->n_pages[s];
    }
    cb->n_seqs = bt->n_seqs;
    cb->n_tokens = bt->n_tokens;
    memcpy(cb->tokens, bt->tokens, (size_t)bt->n_tokens * sizeof(int32_t));
    memcpy(cb->pos, bt->pos, (size_t)bt->n_tokens * sizeof(int32_t));
    memcpy(cb->seq, bt->seq, (size_t)bt->n_tokens * sizeof(int32_t));
    cb->n_outputs = bt->n_outputs;
    if (bt->n_outputs)
        memcpy(cb->out_rows, bt->output_rows, (size_t)bt->n_outputs * sizeof(int32_t));
    return SB_OK;
}

typedef struct kv_store_job {
    cpu_backend *cb;
    int layer, n;
    const float *k, *v;
} kv_store_job;

void sb_cpu_kv_store_head(const cpu_backend *cb, int layer, int i, int head, const float *k, const float *v) {
    const int dk = cb->kv.head_dim_k, dv = cb->kv.head_dim_v, ps = cb->kv.page_size;
    const int s = cb->seq[i], p = cb->pos[i];
    const int page = cb->pages[cb->page_off[s] + p / ps], slot = p % ps;
    uint8_t *kd = sb_cpu_k_at(cb, layer, page, head, slot), *vd = sb_cpu_v_at(cb, layer, page, head, slot);
    if (cb->kv.type == SB_TYPE_F32) {
        float *k32 = (float *)kd;
        for (int c = 0; c < dk; c++) /* K is transposed in the page */
            k32[(size_t)c * ps] = k[c];
        memcpy(vd, v, (size_t)dv * sizeof(float));
    } else {
        uint16_t h16[64], *k16 = (uint16_t *)kd;
        for (int c0 = 0; c0 < dk; c0 += 64) {
            const int m = dk - c0 < 64 ? dk - c0 : 64;
            cb->vec.to_f16(h16, k + c0, m);
            for (int c = 0; c < m; c++)
                k16[(size_t)(c0 + c) * ps] = h16[c];
        }
        cb->vec.to_f16((uint16_t *)vd, v, dv);
    }
}

/* A thread's entries of kv_store: every KV head of each. */
static void kv_store_part(void *ctx, int ith, int nth) {
    kv_store_job *j = ctx;
    const cpu_backend *cb = j->cb;
    const int nkv = cb->kv.n_kv_heads, dk = cb->kv.head_dim_k, dv = cb->kv.head_dim_v;
    long i0, i1;
    sb_split_range(j->n, ith, nth, 1, &i0, &i1);
    for (long i = i0; i < i1; i++)
        for (int h = 0; h < nkv; h++)
            sb_cpu_kv_store_head(cb, j->layer, (int)i, h, j->k + (size_t)i * nkv * dk + (size_t)h * dk,
                                 j->v + (size_t)i * nkv * dv + (size_t)h * dv);
}

/* kv_store op: writes the batch's K/V rows into their pages, in parallel over entries when large. */
void sb_cpu_kv_store(sb_backend *b, int layer, const sb_tensor *k, const sb_tensor *v, int n) {
    cpu_backend *cb = cpu_of(b);
    if (!cb->kv_ready || layer < 0 || layer >= cb->kv.n_layers || n > cb->n_tokens)
        return;
    kv_store_job j = {cb, layer, n, k->data, v->data};
    sb_cpu_run(cb, kv_store_part, &j, (long)n * cb->kv.n_kv_heads * (cb->kv.head_dim_k + cb->kv.head_dim_v));
}
