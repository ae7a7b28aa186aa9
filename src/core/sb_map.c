#include "sb_map.h"

#include "sb_alloc.h"
#include "sb_checked.h"

#include <string.h>

uint64_t sb_hash_u64(uint64_t x) {
    /* splitmix64 finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t sb_hash_bytes(const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return sb_hash_u64(h ^ len);
}

/* Smallest power of two holding n entries at <= 50% load. */
static bool table_size_for(size_t n, size_t *cap) {
    size_t c = 16;
    size_t need;
    if (!sb_mul_size(n, 2, &need))
        return false;
    while (c < need) {
        if (!sb_mul_size(c, 2, &c))
            return false;
    }
    *cap = c;
    return true;
}

void sb_strmap_init(sb_strmap *m) { memset(m, 0, sizeof *m); }

void sb_strmap_free(sb_strmap *m) {
    sb_free(m->slots);
    memset(m, 0, sizeof *m);
}

static void strmap_insert_slot(sb_strmap_slot *slots, size_t cap, const sb_strmap_slot *s) {
    size_t i = s->hash & (cap - 1);
    while (slots[i].key)
        i = (i + 1) & (cap - 1);
    slots[i] = *s;
}

sb_status sb_strmap_reserve(sb_strmap *m, size_t n) {
    size_t cap;
    if (!table_size_for(n, &cap))
        return SB_ERR_NOMEM;
    if (cap <= m->cap)
        return SB_OK;
    sb_strmap_slot *slots = sb_calloc(cap, sizeof *slots);
    if (!slots)
        return SB_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            strmap_insert_slot(slots, cap, &m->slots[i]);
    sb_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return SB_OK;
}

static sb_strmap_slot *strmap_find(const sb_strmap *m, const char *key, size_t len, uint64_t h) {
    if (!m->cap)
        return NULL;
    size_t i = h & (m->cap - 1);
    while (m->slots[i].key) {
        sb_strmap_slot *s = &m->slots[i];
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

sb_status sb_strmap_put(sb_strmap *m, const char *key, size_t len, uint64_t value, bool *existed) {
    /* An empty key still needs a non-NULL pointer to mark the slot used. */
    static const char empty_key[1] = {0};
    if (!key)
        key = empty_key;
    uint64_t h = sb_hash_bytes(key, len);
    if (strmap_find(m, key, len, h)) {
        if (existed)
            *existed = true;
        return SB_OK;
    }
    if (existed)
        *existed = false;
    if ((m->count + 1) * 2 > m->cap) {
        sb_status st = sb_strmap_reserve(m, m->count + 1 > 8 ? (m->count + 1) * 2 : 8);
        if (st != SB_OK)
            return st;
    }
    sb_strmap_slot s = {key, len, h, value};
    strmap_insert_slot(m->slots, m->cap, &s);
    m->count++;
    return SB_OK;
}

bool sb_strmap_get(const sb_strmap *m, const char *key, size_t len, uint64_t *value) {
    if (!key)
        key = "";
    sb_strmap_slot *s = strmap_find(m, key, len, sb_hash_bytes(key, len));
    if (!s)
        return false;
    if (value)
        *value = s->value;
    return true;
}

void sb_u64map_init(sb_u64map *m) { memset(m, 0, sizeof *m); }

void sb_u64map_free(sb_u64map *m) {
    sb_free(m->slots);
    memset(m, 0, sizeof *m);
}

static void u64map_insert_slot(sb_u64map_slot *slots, size_t cap, uint64_t key, uint64_t value) {
    size_t i = sb_hash_u64(key) & (cap - 1);
    while (slots[i].used)
        i = (i + 1) & (cap - 1);
    slots[i].key = key;
    slots[i].value = value;
    slots[i].used = true;
}

sb_status sb_u64map_reserve(sb_u64map *m, size_t n) {
    size_t cap;
    if (!table_size_for(n, &cap))
        return SB_ERR_NOMEM;
    if (cap <= m->cap)
        return SB_OK;
    sb_u64map_slot *slots = sb_calloc(cap, sizeof *slots);
    if (!slots)
        return SB_ERR_NOMEM;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].used)
            u64map_insert_slot(slots, cap, m->slots[i].key, m->slots[i].value);
    sb_free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return SB_OK;
}

static sb_u64map_slot *u64map_find(const sb_u64map *m, uint64_t key) {
    if (!m->cap)
        return NULL;
    size_t i = sb_hash_u64(key) & (m->cap - 1);
    while (m->slots[i].used) {
        if (m->slots[i].key == key)
            return &m->slots[i];
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

sb_status sb_u64map_put(sb_u64map *m, uint64_t key, uint64_t value, bool *existed) {
    if (u64map_find(m, key)) {
        if (existed)
            *existed = true;
        return SB_OK;
    }
    if (existed)
        *existed = false;
    if ((m->count + 1) * 2 > m->cap) {
        sb_status st = sb_u64map_reserve(m, m->count + 1 > 8 ? (m->count + 1) * 2 : 8);
        if (st != SB_OK)
            return st;
    }
    u64map_insert_slot(m->slots, m->cap, key, value);
    m->count++;
    return SB_OK;
}

bool sb_u64map_get(const sb_u64map *m, uint64_t key, uint64_t *value) {
    sb_u64map_slot *s = u64map_find(m, key);
    if (!s)
        return false;
    if (value)
        *value = s->value;
    return true;
}
