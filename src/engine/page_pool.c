/*
 * page_pool.c - page ids, refcounts, the LRU list of cached prefix pages and
 * reservations (see sb_page_pool.h).
 */
#include "sb_page_pool.h"

#include "prefix_index.h"
#include "sb_alloc.h"

#include <assert.h>
#include <string.h>

struct sb_page_pool {
    int n_pages;
    int page_size;
    int32_t *refcount;  /* [n_pages] */
    int32_t *free_stack; /* free page ids; top at n_free - 1 */
    int n_free;
    /* LRU list of cached pages: head = least recently used */
    int32_t *lru_prev, *lru_next;
    int32_t lru_head, lru_tail;
    int n_cached;
    int n_used;
    int n_reserved;
    uint64_t n_evicted, n_revived, n_shared;
    sb_prefix_index index;
};

/* Allocates the bookkeeping for n_pages pages; all start free. */
sb_status sb_page_pool_create(int n_pages, int page_size, sb_page_pool **out, sb_error *err) {
    *out = NULL;
    if (n_pages < 1 || n_pages > (1 << 28) || page_size < 1 || page_size > 1024)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "page pool: %d pages of %d positions is out of range", n_pages,
                            page_size);
    sb_page_pool *p = sb_calloc(1, sizeof *p);
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "page pool: out of memory");
    p->n_pages = n_pages;
    p->page_size = page_size;
    p->refcount = sb_calloc((size_t)n_pages, sizeof(int32_t));
    p->free_stack = sb_malloc(sizeof(int32_t) * (size_t)n_pages);
    p->lru_prev = sb_malloc(sizeof(int32_t) * (size_t)n_pages);
    p->lru_next = sb_malloc(sizeof(int32_t) * (size_t)n_pages);
    if (!p->refcount || !p->free_stack || !p->lru_prev || !p->lru_next) {
        sb_page_pool_free(p);
        return sb_error_set(err, SB_ERR_NOMEM, "page pool: out of memory for %d pages", n_pages);
    }
    sb_status st = sb_prefix_index_init(&p->index, n_pages, page_size, err);
    if (st != SB_OK) {
        sb_page_pool_free(p);
        return st;
    }
    /* pages come out in ascending order: page 0 first */
    for (int i = 0; i < n_pages; i++)
        p->free_stack[i] = n_pages - 1 - i;
    p->n_free = n_pages;
    for (int i = 0; i < n_pages; i++)
        p->lru_prev[i] = p->lru_next[i] = -1;
    p->lru_head = p->lru_tail = -1;
    *out = p;
    return SB_OK;
}

void sb_page_pool_free(sb_page_pool *p) {
    if (!p)
        return;
    sb_free(p->refcount);
    sb_free(p->free_stack);
    sb_free(p->lru_prev);
    sb_free(p->lru_next);
    sb_prefix_index_free(&p->index);
    sb_free(p);
}

int sb_page_pool_page_size(const sb_page_pool *p) { return p->page_size; }
int sb_page_pool_n_pages(const sb_page_pool *p) { return p->n_pages; }

void sb_page_pool_get_stats(const sb_page_pool *p, sb_page_pool_stats *out) {
    out->n_pages = p->n_pages;
    out->page_size = p->page_size;
    out->n_used = p->n_used;
    out->n_cached = p->n_cached;
    out->n_free = p->n_free;
    out->n_reserved = p->n_reserved;
    out->n_evicted = p->n_evicted;
    out->n_revived = p->n_revived;
    out->n_shared = p->n_shared;
}

int sb_page_pool_unreserved(const sb_page_pool *p) { return p->n_free + p->n_cached - p->n_reserved; }

bool sb_page_pool_reserve(sb_page_pool *p, int n) {
    if (n < 0 || n > sb_page_pool_unreserved(p))
        return false;
    p->n_reserved += n;
    return true;
}

void sb_page_pool_unreserve(sb_page_pool *p, int n) {
    assert(n >= 0 && n <= p->n_reserved);
    p->n_reserved -= n;
}

static void lru_unlink(sb_page_pool *p, int32_t page) {
    int32_t prev = p->lru_prev[page], next = p->lru_next[page];
    if (prev >= 0)
        p->lru_next[prev] = next;
    else
        p->lru_head = next;
    if (next >= 0)
        p->lru_prev[next] = prev;
    else
        p->lru_tail = prev;
    p->lru_prev[page] = p->lru_next[page] = -1;
    p->n_cached--;
}

static void lru_push_tail(sb_page_pool *p, int32_t page) {
    p->lru_prev[page] = p->lru_tail;
    p->lru_next[page] = -1;
    if (p->lru_tail >= 0)
        p->lru_next[p->lru_tail] = page;
    else
        p->lru_head = page;
    p->lru_tail = page;
    p->n_cached++;
}

/* Free pages first (they hold nothing worth keeping), then the least
 * recently used cached page. */
int32_t sb_page_pool_take(sb_page_pool *p) {
    int32_t page;
    if (p->n_free > 0) {
        page = p->free_stack[--p->n_free];
    } else if (p->lru_head >= 0) {
        page = p->lru_head;
        lru_unlink(p, page);
        sb_prefix_index_remove(&p->index, page);
        p->n_evicted++;
    } else {
        return -1;
    }
    assert(p->refcount[page] == 0);
    p->refcount[page] = 1;
    p->n_used++;
    return page;
}

bool sb_page_pool_ref(sb_page_pool *p, int32_t page) {
    assert(page >= 0 && page < p->n_pages);
    bool revived = false;
    if (p->refcount[page] == 0) {
        /* only a cached page can be referenced at zero */
        assert(p->index.present[page]);
        lru_unlink(p, page);
        p->n_used++;
        p->n_revived++;
        revived = true;
    }
    p->refcount[page]++;
    return revived;
}

void sb_page_pool_unref(sb_page_pool *p, int32_t page) {
    assert(page >= 0 && page < p->n_pages && p->refcount[page] > 0);
    if (--p->refcount[page] > 0)
        return;
    p->n_used--;
    if (p->index.present[page])
        lru_push_tail(p, page);
    else
        p->free_stack[p->n_free++] = page;
}

int sb_page_pool_refcount(const sb_page_pool *p, int32_t page) {
    if (page < 0 || page >= p->n_pages)
        return 0;
    return p->refcount[page];
}

uint64_t sb_page_pool_hash(uint64_t parent, const int32_t *tokens, int n) { return sb_prefix_hash(parent, tokens, n); }

int32_t sb_page_pool_find(const sb_page_pool *p, uint64_t hash, uint64_t parent, const int32_t *tokens) {
    return sb_prefix_index_find(&p->index, hash, parent, tokens);
}

bool sb_page_pool_publish(sb_page_pool *p, int32_t page, uint64_t hash, uint64_t parent, const int32_t *tokens) {
    assert(page >= 0 && page < p->n_pages && p->refcount[page] > 0);
    if (p->index.present[page] || sb_prefix_index_find(&p->index, hash, parent, tokens) >= 0)
        return false;
    sb_prefix_index_insert(&p->index, page, hash, parent, tokens);
    return true;
}

bool sb_page_pool_is_published(const sb_page_pool *p, int32_t page) {
    return page >= 0 && page < p->n_pages && p->index.present[page];
}

void sb_page_pool_drop_cached(sb_page_pool *p) {
    while (p->lru_head >= 0) {
        int32_t page = p->lru_head;
        lru_unlink(p, page);
        sb_prefix_index_remove(&p->index, page);
        p->free_stack[p->n_free++] = page;
        p->n_evicted++;
    }
}

void sb_page_pool_count_shared(sb_page_pool *p) { p->n_shared++; }
