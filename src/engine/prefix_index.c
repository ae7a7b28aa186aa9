/*
 * prefix_index.c - hash index of published prefix pages (see prefix_index.h).
 */
#include "prefix_index.h"

#include "sb_alloc.h"
#include "sb_map.h"

#include <string.h>

/* Allocates every array up front; nothing allocates afterwards. */
sb_status sb_prefix_index_init(sb_prefix_index *ix, int n_pages, int page_size, sb_error *err) {
    memset(ix, 0, sizeof *ix);
    uint32_t nb = 16;
    while (nb < (uint32_t)n_pages * 2u && nb < (1u << 30))
        nb <<= 1;
    ix->n_pages = n_pages;
    ix->page_size = page_size;
    ix->n_buckets = nb;
    ix->buckets = sb_malloc(sizeof(int32_t) * nb);
    ix->next = sb_malloc(sizeof(int32_t) * (size_t)n_pages);
    ix->hash = sb_calloc((size_t)n_pages, sizeof(uint64_t));
    ix->parent = sb_calloc((size_t)n_pages, sizeof(uint64_t));
    ix->tokens = sb_calloc((size_t)n_pages * (size_t)page_size, sizeof(int32_t));
    ix->present = sb_calloc((size_t)n_pages, sizeof(bool));
    if (!ix->buckets || !ix->next || !ix->hash || !ix->parent || !ix->tokens || !ix->present) {
        sb_prefix_index_free(ix);
        return sb_error_set(err, SB_ERR_NOMEM, "prefix index: out of memory for %d pages", n_pages);
    }
    for (uint32_t i = 0; i < nb; i++)
        ix->buckets[i] = -1;
    for (int i = 0; i < n_pages; i++)
        ix->next[i] = -1;
    return SB_OK;
}

void sb_prefix_index_free(sb_prefix_index *ix) {
    sb_free(ix->buckets);
    sb_free(ix->next);
    sb_free(ix->hash);
    sb_free(ix->parent);
    sb_free(ix->tokens);
    sb_free(ix->present);
    memset(ix, 0, sizeof *ix);
}

static uint32_t bucket_of(const sb_prefix_index *ix, uint64_t hash) {
    return (uint32_t)(sb_hash_u64(hash) & (ix->n_buckets - 1));
}

/* Walks one chain and compares everything, not just the hash. */
int32_t sb_prefix_index_find(const sb_prefix_index *ix, uint64_t hash, uint64_t parent, const int32_t *tokens) {
    size_t bytes = sizeof(int32_t) * (size_t)ix->page_size;
    for (int32_t p = ix->buckets[bucket_of(ix, hash)]; p >= 0; p = ix->next[p]) {
        if (ix->hash[p] == hash && ix->parent[p] == parent &&
            memcmp(ix->tokens + (size_t)p * (size_t)ix->page_size, tokens, bytes) == 0)
            return p;
    }
    return -1;
}

void sb_prefix_index_insert(sb_prefix_index *ix, int32_t page, uint64_t hash, uint64_t parent, const int32_t *tokens) {
    uint32_t b = bucket_of(ix, hash);
    ix->hash[page] = hash;
    ix->parent[page] = parent;
    memcpy(ix->tokens + (size_t)page * (size_t)ix->page_size, tokens, sizeof(int32_t) * (size_t)ix->page_size);
    ix->next[page] = ix->buckets[b];
    ix->buckets[b] = page;
    ix->present[page] = true;
    ix->count++;
}

void sb_prefix_index_remove(sb_prefix_index *ix, int32_t page) {
    if (!ix->present[page])
        return;
    int32_t *link = &ix->buckets[bucket_of(ix, ix->hash[page])];
    while (*link >= 0 && *link != page)
        link = &ix->next[*link];
    if (*link == page)
        *link = ix->next[page];
    ix->next[page] = -1;
    ix->present[page] = false;
    ix->count--;
}

/* FNV-1a over the parent hash and the token ids, then a final mix: stable
 * across runs and platforms (little-endian token bytes are hashed as
 * values, not as memory). */
uint64_t sb_prefix_hash(uint64_t parent, const int32_t *tokens, int n) {
    uint64_t h = 0xcbf29ce484222325ULL ^ sb_hash_u64(parent + 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < n; i++) {
        uint32_t t = (uint32_t)tokens[i];
        for (int b = 0; b < 4; b++) {
            h ^= (t >> (8 * b)) & 0xffu;
            h *= 0x100000001b3ULL;
        }
    }
    h = sb_hash_u64(h ^ (uint64_t)n);
    return h ? h : 1; /* 0 is reserved for "no parent" */
}
