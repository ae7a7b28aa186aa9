/*
 * prefix_index.h - the page pool's hash index of published prefix pages
 * (internal to src/engine).
 *
 * An intrusive chained hash table over page ids: every page has one `next`
 * link, so inserting and removing never allocate after create. Each entry
 * remembers the page's hash, its parent hash and a copy of its tokens, so a
 * lookup is exact even if two prefixes collide in 64 bits.
 *
 * Not thread-safe (owned by the page pool).
 */
#ifndef SB_PREFIX_INDEX_H
#define SB_PREFIX_INDEX_H

#include "sb_error.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sb_prefix_index {
    int n_pages;
    int page_size;
    uint32_t n_buckets;   /* power of two */
    int32_t *buckets;     /* [n_buckets] first page of each chain, -1 = empty */
    int32_t *next;        /* [n_pages] next page in the chain */
    uint64_t *hash;       /* [n_pages] */
    uint64_t *parent;     /* [n_pages] */
    int32_t *tokens;      /* [n_pages * page_size] */
    bool *present;        /* [n_pages] in the index */
    int count;
} sb_prefix_index;

/* Allocates the index for n_pages pages (all absent). */
sb_status sb_prefix_index_init(sb_prefix_index *ix, int n_pages, int page_size, sb_error *err);
void sb_prefix_index_free(sb_prefix_index *ix);

/* The page holding exactly (hash, parent, tokens), or -1. */
int32_t sb_prefix_index_find(const sb_prefix_index *ix, uint64_t hash, uint64_t parent, const int32_t *tokens);
/* Adds page (absent) under hash; tokens are copied. */
void sb_prefix_index_insert(sb_prefix_index *ix, int32_t page, uint64_t hash, uint64_t parent, const int32_t *tokens);
/* Removes page if present. */
void sb_prefix_index_remove(sb_prefix_index *ix, int32_t page);

/* The chained hash of a page's tokens after the prefix named by parent. */
uint64_t sb_prefix_hash(uint64_t parent, const int32_t *tokens, int n);

#endif
