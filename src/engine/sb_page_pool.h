/*
 * sb_page_pool.h - the KV cache's pages, seen from the engine: who uses
 * which page, which pages hold a reusable prompt prefix, and which are free.
 *
 * The backend stores the K/V bytes of `n_pages` pages of `page_size`
 * positions (sb_backend kv_init); this pool only hands out page ids and
 * counts references. A page is in one of three states:
 *
 *   used    refcount > 0: in the page table of one or more sequences
 *   cached  refcount 0, but it holds a full page of a known token prefix
 *           (published): a later sequence with the same prefix may revive
 *           it instead of recomputing it. Cached pages sit in LRU order and
 *           are evicted (made free) when a fresh page is needed and none is
 *           free.
 *   free    refcount 0 and empty.
 *
 * Prefix identity (vLLM style): a full page is named by
 *   hash = H(parent_hash, its page_size token ids)
 * where parent_hash names the page before it (0 for the first page), so a
 * hash names the whole prefix up to the end of the page. A lookup also
 * compares the parent hash and the token ids, so a 64-bit collision cannot
 * hand out the wrong page.
 *
 * Reservations. The scheduler admits a sequence only when the pool can give
 * it every page it may ever need (free + cached - already reserved), and
 * reserves that many; taking or reviving a page then spends one reserved
 * page. This way a running sequence never runs out of pages (no preemption
 * is needed) and admission is the only place that waits for memory.
 *
 * Threading: not thread-safe. The scheduler thread owns the pool; other
 * threads read counters through the scheduler's metrics.
 */
#ifndef SB_PAGE_POOL_H
#define SB_PAGE_POOL_H

#include "sb_error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sb_page_pool sb_page_pool;

typedef struct sb_page_pool_stats {
    int n_pages;         /* total pages */
    int page_size;       /* positions per page */
    int n_used;          /* refcount > 0 */
    int n_cached;        /* refcount 0, holding a reusable prefix page */
    int n_free;          /* refcount 0, empty */
    int n_reserved;      /* promised to admitted sequences, not yet taken */
    uint64_t n_evicted;  /* cached pages evicted so far */
    uint64_t n_revived;  /* cached pages brought back by a prefix hit */
    uint64_t n_shared;   /* prefix hits on pages already in use */
} sb_page_pool_stats;

/* Creates a pool of n_pages pages of page_size positions (page_size 1..1024,
 * n_pages >= 1). Caller frees with sb_page_pool_free. */
sb_status sb_page_pool_create(int n_pages, int page_size, sb_page_pool **out, sb_error *err);
void sb_page_pool_free(sb_page_pool *p);

int sb_page_pool_page_size(const sb_page_pool *p);
int sb_page_pool_n_pages(const sb_page_pool *p);
void sb_page_pool_get_stats(const sb_page_pool *p, sb_page_pool_stats *out);

/* Pages that can still be promised: free + cached - reserved. */
int sb_page_pool_unreserved(const sb_page_pool *p);
/* Promises n pages; false (and nothing reserved) if fewer are unreserved. */
bool sb_page_pool_reserve(sb_page_pool *p, int n);
/* Gives back n promised pages (n <= reserved). */
void sb_page_pool_unreserve(sb_page_pool *p, int n);

/* A fresh page with refcount 1: a free one, else the least recently used
 * cached one (evicted: it leaves the prefix index). -1 if there is none.
 * The caller spends its reservation (sb_page_pool_unreserve) itself. */
int32_t sb_page_pool_take(sb_page_pool *p);
/* Adds a reference to a used or cached page. Returns true if the page was
 * cached (it left the LRU list: one more page is taken from the pool). */
bool sb_page_pool_ref(sb_page_pool *p, int32_t page);
/* Drops a reference. At zero, a published page becomes cached (most
 * recently used end of the LRU list) and any other page becomes free. */
void sb_page_pool_unref(sb_page_pool *p, int32_t page);
int sb_page_pool_refcount(const sb_page_pool *p, int32_t page);

/* The hash naming a full page with these page_size tokens after the prefix
 * named by parent (0 for the first page). */
uint64_t sb_page_pool_hash(uint64_t parent, const int32_t *tokens, int n);
/* The published page holding exactly this prefix page, or -1. Takes no
 * reference. */
int32_t sb_page_pool_find(const sb_page_pool *p, uint64_t hash, uint64_t parent, const int32_t *tokens);
/* Publishes a full, used page under hash (its tokens are copied). If another
 * page already holds this prefix, nothing happens and false is returned. */
bool sb_page_pool_publish(sb_page_pool *p, int32_t page, uint64_t hash, uint64_t parent, const int32_t *tokens);
/* True if the page is in the prefix index (its contents must not change). */
bool sb_page_pool_is_published(const sb_page_pool *p, int32_t page);
/* Evicts every cached page (they become free). */
void sb_page_pool_drop_cached(sb_page_pool *p);

/* Counts a prefix hit on a used page (for the stats only). */
void sb_page_pool_count_shared(sb_page_pool *p);

#endif
