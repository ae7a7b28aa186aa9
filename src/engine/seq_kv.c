/*
 * seq_kv.c - a sequence's page table over the shared page pool (see
 * sb_seq_kv.h).
 */
#include "sb_seq_kv.h"

#include "sb_alloc.h"

#include <string.h>

void sb_seq_kv_init(sb_seq_kv *s, sb_page_pool *pool, bool cache_prefix) {
    memset(s, 0, sizeof *s);
    s->pool = pool;
    s->cache_prefix = cache_prefix;
}

int sb_seq_kv_worst_pages(int page_size, int first_position, int max_positions) {
    if (max_positions <= first_position)
        return 1;
    int first_page = first_position / page_size;
    int end_page = (max_positions + page_size - 1) / page_size;
    return end_page - first_page + 1;
}

void sb_seq_kv_plan(const sb_page_pool *pool, const int32_t *tokens, int n, int *n_hit, int *n_live) {
    int ps = sb_page_pool_page_size(pool);
    uint64_t parent = 0;
    *n_hit = *n_live = 0;
    for (int k = 0; (k + 1) * ps <= n; k++) {
        const int32_t *t = tokens + (size_t)k * (size_t)ps;
        uint64_t h = sb_page_pool_hash(parent, t, ps);
        int32_t page = sb_page_pool_find(pool, h, parent, t);
        if (page < 0)
            break;
        (*n_hit)++;
        if (sb_page_pool_refcount(pool, page) > 0)
            (*n_live)++;
        parent = h;
    }
}

void sb_seq_kv_add_reservation(sb_seq_kv *s, int n) { s->reserved += n; }

/* One page leaves the pool for this sequence: spend a promised one. */
static void spend_reservation(sb_seq_kv *s) {
    if (s->reserved > 0) {
        s->reserved--;
        sb_page_pool_unreserve(s->pool, 1);
    }
}

static sb_status grow_pages(sb_seq_kv *s, int need, sb_error *err) {
    if (need <= s->cap_pages)
        return SB_OK;
    int cap = s->cap_pages ? s->cap_pages : 8;
    while (cap < need)
        cap *= 2;
    int32_t *p = sb_reallocarray(s->pages, (size_t)cap, sizeof(int32_t));
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "sequence page table: out of memory");
    s->pages = p;
    s->cap_pages = cap;
    return SB_OK;
}

static sb_status grow_tokens(sb_seq_kv *s, int need, sb_error *err) {
    if (need <= s->cap_tokens)
        return SB_OK;
    int cap = s->cap_tokens ? s->cap_tokens : 64;
    while (cap < need)
        cap *= 2;
    int32_t *t = sb_reallocarray(s->tokens, (size_t)cap, sizeof(int32_t));
    if (!t)
        return sb_error_set(err, SB_ERR_NOMEM, "sequence tokens: out of memory");
    s->tokens = t;
    s->cap_tokens = cap;
    return SB_OK;
}

sb_status sb_seq_kv_match_prefix(sb_seq_kv *s, const int32_t *tokens, int n, int *n_cached, sb_error *err) {
    *n_cached = 0;
    if (!s->cache_prefix || s->n_pages > 0 || n <= 0)
        return SB_OK;
    int ps = sb_page_pool_page_size(s->pool);
    int max_pages = n / ps;
    sb_status st = grow_pages(s, max_pages + 1, err);
    if (st == SB_OK)
        st = grow_tokens(s, n, err);
    if (st != SB_OK)
        return st;
    uint64_t parent = 0, before_last = 0;
    int k = 0;
    for (; k < max_pages; k++) {
        const int32_t *t = tokens + (size_t)k * (size_t)ps;
        uint64_t h = sb_page_pool_hash(parent, t, ps);
        int32_t page = sb_page_pool_find(s->pool, h, parent, t);
        if (page < 0)
            break;
        if (sb_page_pool_ref(s->pool, page))
            spend_reservation(s);
        else
            sb_page_pool_count_shared(s->pool);
        s->pages[s->n_pages++] = page;
        before_last = parent;
        parent = h;
    }
    if (k == 0)
        return SB_OK;
    memcpy(s->tokens, tokens, sizeof(int32_t) * (size_t)k * (size_t)ps);
    s->n_stored = k * ps;
    s->n_hashed = k;
    s->last_hash = parent;
    if (s->n_stored == n) {
        /* the whole prompt is cached: recompute its last token for logits;
         * the last page gets copied before that write and re-hashed after */
        s->n_stored = n - 1;
        s->n_hashed = k - 1;
        s->last_hash = before_last;
    }
    *n_cached = s->n_stored;
    return SB_OK;
}

sb_status sb_seq_kv_prepare(sb_seq_kv *s, sb_backend *backend, int n_new, sb_error *err) {
    int ps = sb_page_pool_page_size(s->pool);
    int end = s->n_stored + n_new;
    int idx = s->n_stored / ps;
    sb_status st = grow_pages(s, (end + ps - 1) / ps, err);
    if (st != SB_OK)
        return st;
    if (n_new > 0 && idx < s->n_pages) {
        int32_t old = s->pages[idx];
        if (sb_page_pool_refcount(s->pool, old) > 1 || sb_page_pool_is_published(s->pool, old)) {
            int32_t fresh = sb_page_pool_take(s->pool);
            if (fresh < 0)
                return sb_error_set(err, SB_ERR_INTERNAL, "KV cache: no page left for a copy-on-write");
            spend_reservation(s);
            if (backend && backend->ops->kv_copy_page)
                backend->ops->kv_copy_page(backend, old, fresh, s->n_stored % ps);
            sb_page_pool_unref(s->pool, old);
            s->pages[idx] = fresh;
            s->n_cow++;
        }
    }
    while (s->n_pages * ps < end) {
        int32_t fresh = sb_page_pool_take(s->pool);
        if (fresh < 0)
            return sb_error_set(err, SB_ERR_INTERNAL, "KV cache: no page left (%d positions stored)", s->n_stored);
        spend_reservation(s);
        s->pages[s->n_pages++] = fresh;
    }
    return SB_OK;
}

sb_status sb_seq_kv_commit(sb_seq_kv *s, const int32_t *tokens, int n_new, sb_error *err) {
    sb_status st = grow_tokens(s, s->n_stored + n_new, err);
    if (st != SB_OK)
        return st;
    memcpy(s->tokens + s->n_stored, tokens, sizeof(int32_t) * (size_t)n_new);
    s->n_stored += n_new;
    if (!s->cache_prefix)
        return SB_OK;
    int ps = sb_page_pool_page_size(s->pool);
    while ((s->n_hashed + 1) * ps <= s->n_stored && s->n_hashed < s->n_pages) {
        const int32_t *t = s->tokens + (size_t)s->n_hashed * (size_t)ps;
        uint64_t h = sb_page_pool_hash(s->last_hash, t, ps);
        sb_page_pool_publish(s->pool, s->pages[s->n_hashed], h, s->last_hash, t);
        s->last_hash = h;
        s->n_hashed++;
    }
    return SB_OK;
}

sb_status sb_seq_kv_fork(sb_seq_kv *dst, const sb_seq_kv *src, sb_error *err) {
    sb_status st = grow_pages(dst, src->n_pages, err);
    if (st == SB_OK)
        st = grow_tokens(dst, src->n_stored, err);
    if (st != SB_OK)
        return st;
    for (int i = 0; i < src->n_pages; i++) {
        sb_page_pool_ref(dst->pool, src->pages[i]);
        dst->pages[i] = src->pages[i];
    }
    dst->n_pages = src->n_pages;
    if (src->n_stored > 0)
        memcpy(dst->tokens, src->tokens, sizeof(int32_t) * (size_t)src->n_stored);
    dst->n_stored = src->n_stored;
    dst->n_hashed = src->n_hashed;
    dst->last_hash = src->last_hash;
    return SB_OK;
}

void sb_seq_kv_release(sb_seq_kv *s) {
    for (int i = s->n_pages - 1; i >= 0; i--)
        sb_page_pool_unref(s->pool, s->pages[i]);
    s->n_pages = 0;
    if (s->reserved > 0)
        sb_page_pool_unreserve(s->pool, s->reserved);
    s->reserved = 0;
    s->n_stored = 0;
    s->n_hashed = 0;
    s->last_hash = 0;
}

void sb_seq_kv_free(sb_seq_kv *s) {
    if (!s->pool)
        return;
    sb_seq_kv_release(s);
    sb_free(s->pages);
    sb_free(s->tokens);
    s->pages = NULL;
    s->tokens = NULL;
    s->cap_pages = s->cap_tokens = 0;
}
