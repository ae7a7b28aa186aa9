/*
 * sb_map.h - open-addressing hash maps.
 *
 * sb_strmap maps byte strings to uint64 values. Keys are BORROWED: the map
 * stores the caller's pointer and length, so the key bytes must outlive the
 * map (typically they live in a mapped GGUF file or in the owner's arena).
 * sb_u64map maps uint64 keys to uint64 values (e.g. a BPE merge pair to its
 * rank). Both are owned by the caller: init, use, free.
 */
#ifndef SB_MAP_H
#define SB_MAP_H

#include "sb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_strmap_slot {
    const char *key; /* NULL = empty */
    size_t len;
    uint64_t hash;
    uint64_t value;
} sb_strmap_slot;

typedef struct sb_strmap {
    sb_strmap_slot *slots;
    size_t cap; /* power of two */
    size_t count;
} sb_strmap;

void sb_strmap_init(sb_strmap *m);
void sb_strmap_free(sb_strmap *m);
/* Reserves room for n entries (avoids rehashing while filling). */
sb_status sb_strmap_reserve(sb_strmap *m, size_t n);
/* Inserts key -> value. If the key exists, leaves it unchanged and sets
 * *existed (if not NULL) to true. */
sb_status sb_strmap_put(sb_strmap *m, const char *key, size_t len, uint64_t value, bool *existed);
bool sb_strmap_get(const sb_strmap *m, const char *key, size_t len, uint64_t *value);

typedef struct sb_u64map_slot {
    uint64_t key;
    uint64_t value;
    bool used;
} sb_u64map_slot;

typedef struct sb_u64map {
    sb_u64map_slot *slots;
    size_t cap;
    size_t count;
} sb_u64map;

void sb_u64map_init(sb_u64map *m);
void sb_u64map_free(sb_u64map *m);
sb_status sb_u64map_reserve(sb_u64map *m, size_t n);
sb_status sb_u64map_put(sb_u64map *m, uint64_t key, uint64_t value, bool *existed);
bool sb_u64map_get(const sb_u64map *m, uint64_t key, uint64_t *value);

/* 64-bit FNV-1a style hash with a final mix; stable across runs. */
uint64_t sb_hash_bytes(const void *data, size_t len);
uint64_t sb_hash_u64(uint64_t x);

#endif
