/*
 * sb_seq_kv.h - one sequence's view of the KV cache: its page table, the
 * tokens whose K/V are stored, and its page reservation.
 *
 *   sb_seq_kv_init(&s, pool, cache_prefix)
 *   sb_seq_kv_plan(...)  / sb_page_pool_reserve   (admission)
 *   sb_seq_kv_match_prefix(&s, prompt, n)          (reuse cached pages)
 *   loop: sb_seq_kv_prepare(&s, backend, n_new)     (pages for the next positions,
 *                                                    copy-on-write of a shared page)
 *         ... forward pass writes K/V ...
 *         sb_seq_kv_commit(&s, tokens, n_new)       (publish pages that became full)
 *   sb_seq_kv_release(&s)                           (pages back: cached or free)
 *
 * Position j of the sequence lives in pages[j / page_size], slot
 * j % page_size. A sequence writes only into pages it holds alone and that
 * are not published; prepare copies a shared or published page first (the
 * backend's kv_copy_page), so sharing is invisible to the model.
 *
 * Not thread-safe: the scheduler thread owns its sequences and the pool.
 */
#ifndef SB_SEQ_KV_H
#define SB_SEQ_KV_H

#include "sb_backend.h"
#include "sb_page_pool.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sb_seq_kv {
    sb_page_pool *pool;
    bool cache_prefix;   /* publish full pages and reuse cached ones */
    int32_t *pages;      /* page table, owned */
    int n_pages, cap_pages;
    int32_t *tokens;     /* token id at each stored position, owned */
    int n_stored;        /* positions whose K/V are stored */
    int cap_tokens;
    int n_hashed;        /* leading pages whose chained hash is known */
    uint64_t last_hash;  /* hash of page n_hashed - 1 (0 if none) */
    int reserved;        /* pages still promised to this sequence */
    int n_cow;           /* copy-on-write copies made (stats) */
} sb_seq_kv;

/* Starts an empty sequence on pool (no allocation yet). */
void sb_seq_kv_init(sb_seq_kv *s, sb_page_pool *pool, bool cache_prefix);

/* Worst-case pages a sequence of up to max_positions positions needs, when
 * it starts at position first_position with that position's page possibly
 * shared: the pages covering [first_position, max_positions) plus one for
 * a copy-on-write. */
int sb_seq_kv_worst_pages(int page_size, int first_position, int max_positions);

/* Looks up how many leading full pages of tokens[0..n) are cached, without
 * taking them: *n_hit pages in all, *n_live of them in use by others
 * (those cost the pool nothing). */
void sb_seq_kv_plan(const sb_page_pool *pool, const int32_t *tokens, int n, int *n_hit, int *n_live);

/* Adds n pages to the sequence's reservation (already reserved in the
 * pool by the caller). */
void sb_seq_kv_add_reservation(sb_seq_kv *s, int n);

/* Appends the cached pages of the longest cached prefix of tokens[0..n)
 * (an empty sequence only). Returns the number of positions whose K/V are
 * now stored: a multiple of page_size, at most n - 1 (the last prompt
 * token is always recomputed so that its logits exist; its page is then
 * copied before the write). */
sb_status sb_seq_kv_match_prefix(sb_seq_kv *s, const int32_t *tokens, int n, int *n_cached, sb_error *err);

/* Makes positions [n_stored, n_stored + n_new) writable: copies a shared
 * or published page at n_stored, takes fresh pages beyond the table.
 * backend may be NULL (no copy issued; tests of the bookkeeping). */
sb_status sb_seq_kv_prepare(sb_seq_kv *s, sb_backend *backend, int n_new, sb_error *err);

/* Records that tokens[0..n_new) are now stored at n_stored.. and publishes
 * the pages that became full (when cache_prefix). */
sb_status sb_seq_kv_commit(sb_seq_kv *s, const int32_t *tokens, int n_new, sb_error *err);

/* Makes dst (empty) share src's pages and stored tokens (refcount + 1 each).
 * dst's own reservation must cover its later pages. */
sb_status sb_seq_kv_fork(sb_seq_kv *dst, const sb_seq_kv *src, sb_error *err);

/* Drops every page (last first, so the tail of a prefix is evicted before
 * its head) and the remaining reservation. The sequence is empty again. */
void sb_seq_kv_release(sb_seq_kv *s);
/* Releases and frees the arrays. */
void sb_seq_kv_free(sb_seq_kv *s);

#endif
