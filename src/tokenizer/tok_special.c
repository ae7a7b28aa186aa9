/*
 * tok_special.c - finding special tokens in text before tokenizing.
 *
 * llama.cpp (tokenizer_st_partition) takes the CONTROL, USER_DEFINED and
 * UNKNOWN tokens, longest text first, and for each one in turn cuts every
 * remaining raw fragment at its occurrences (leftmost first, non-overlapping).
 * CONTROL and UNKNOWN tokens take part only with parse_special; USER_DEFINED
 * ones always. A token with LSTRIP/RSTRIP also swallows the white space to its
 * left/right. This file does the same; a byte trie over the special texts
 * first finds which of them occur at all, so a text without specials costs
 * one pass.
 */
#define _GNU_SOURCE /* memmem */
#include "sb_alloc.h"
#include "sb_checked.h"
#include "tok_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct special_key {
    size_t len;
    int32_t id;
} special_key;

/* qsort order of the special list: longer text first, then lower id. */
static int cmp_special(const void *a, const void *b) {
    const special_key *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Whether token id is cut out of text: CONTROL and UNKNOWN only with
 * parse_special, USER_DEFINED always. */
static bool takes_part(const sb_tokenizer *t, int32_t id, bool parse_special) {
    return parse_special || !(t->attr[id] & (SB_TOKEN_ATTR_CONTROL | SB_TOKEN_ATTR_UNKNOWN));
}

sb_status sb_tok_build_special(sb_tokenizer *t, sb_error *err) {
    size_t n = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->attr[id] & (SB_TOKEN_ATTR_CONTROL | SB_TOKEN_ATTR_USER_DEFINED | SB_TOKEN_ATTR_UNKNOWN))
            n++;
    if (n == 0)
        return SB_OK;
    special_key *keys = sb_calloc(n, sizeof *keys);
    t->special = sb_calloc(n, sizeof *t->special);
    if (!keys || !t->special) {
        sb_free(keys);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory building the special-token list");
    }
    size_t k = 0;
    for (int32_t id = 0; id < t->n_vocab; id++)
        if (t->attr[id] & (SB_TOKEN_ATTR_CONTROL | SB_TOKEN_ATTR_USER_DEFINED | SB_TOKEN_ATTR_UNKNOWN))
            keys[k++] = (special_key){t->texts[id].len, id};
    /* llama.cpp sorts by length only (std::sort, unstable); ties go by id */
    qsort(keys, n, sizeof *keys, cmp_special);
    size_t total = 1;
    for (size_t i = 0; i < n; i++) {
        t->special[i] = keys[i].id;
        if (takes_part(t, keys[i].id, false))
            t->has_plain_special = true;
    }
    for (size_t i = 0; i < n; i++)
        if (!sb_add_size(total, keys[i].len, &total)) {
            sb_free(keys);
            return sb_error_set(err, SB_ERR_FORMAT, "special tokens too long");
        }
    t->n_special = n;
    sb_free(keys);

    /* trie: node 0 is the root */
    t->trie_terminal = sb_reallocarray(NULL, total, sizeof *t->trie_terminal);
    if (!t->trie_terminal || sb_u64map_reserve(&t->trie_edges, total) != SB_OK)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory building the special-token trie");
    t->trie_nodes = 1;
    t->trie_terminal[0] = -1;
    for (size_t i = 0; i < n; i++) {
        sb_str s = t->texts[t->special[i]];
        uint64_t node = 0;
        for (size_t j = 0; j < s.len; j++) {
            unsigned char c = (unsigned char)s.ptr[j];
            uint64_t child;
            if (!sb_u64map_get(&t->trie_edges, (node << 8) | c, &child)) {
                child = t->trie_nodes++;
                t->trie_terminal[child] = -1;
                if (sb_u64map_put(&t->trie_edges, (node << 8) | c, child, NULL) != SB_OK)
                    return sb_error_set(err, SB_ERR_NOMEM, "out of memory building the special-token trie");
            }
            node = child;
        }
        t->trie_terminal[node] = (int32_t)i;
        unsigned char first = (unsigned char)s.ptr[0];
        t->special_first_byte[first >> 3] |= (uint8_t)(1u << (first & 7));
    }
    return SB_OK;
}

/* Marks in present[] (one byte per special) every special text that occurs
 * anywhere in text. */
static void scan_present(const sb_tokenizer *t, const char *text, size_t len, uint8_t *present) {
    const unsigned char *s = (const unsigned char *)text;
    for (size_t p = 0; p < len; p++) {
        if (!((t->special_first_byte[s[p] >> 3] >> (s[p] & 7)) & 1))
            continue;
        uint64_t node = 0;
        for (size_t q = p; q < len; q++) {
            uint64_t child;
            if (!sb_u64map_get(&t->trie_edges, (node << 8) | s[q], &child))
                break;
            node = child;
            if (t->trie_terminal[node] >= 0)
                present[t->trie_terminal[node]] = 1;
        }
    }
}

typedef struct frag_list {
    sb_tok_frag *v;
    size_t n, cap;
} frag_list;

/* Appends one fragment (grows the list). */
static sb_status frag_push(frag_list *l, int32_t token, size_t off, size_t len) {
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        sb_tok_frag *q = sb_reallocarray(l->v, ncap, sizeof *q);
        if (!q)
            return SB_ERR_NOMEM;
        l->v = q;
        l->cap = ncap;
    }
    l->v[l->n++] = (sb_tok_frag){token, off, len};
    return SB_OK;
}

/* First occurrence of needle in hay[0..hl), or NULL. */
static const char *find_bytes(const char *hay, size_t hl, const char *needle, size_t nl) {
    if (nl == 0 || nl > hl)
        return NULL;
    return memmem(hay, hl, needle, nl);
}

/* Cuts one raw fragment at the occurrences of special token id. */
static sb_status split_fragment(const sb_tokenizer *t, const char *text, const sb_tok_frag *f, int32_t id,
                                frag_list *out) {
    sb_str tok = t->texts[id];
    uint16_t attr = t->attr[id];
    size_t base = f->off, blen = f->len;
    for (;;) {
        const char *m = find_bytes(text + base, blen, tok.ptr, tok.len);
        if (!m)
            return frag_push(out, -1, base, blen);
        size_t match = (size_t)(m - text);
        if (match > base) {
            size_t left_len = match - base;
            if (attr & SB_TOKEN_ATTR_LSTRIP)
                while (left_len > 0 && isspace((unsigned char)text[base + left_len - 1]))
                    left_len--;
            if (left_len > 0 && frag_push(out, -1, base, left_len) != SB_OK)
                return SB_ERR_NOMEM;
        }
        if (frag_push(out, id, 0, 0) != SB_OK)
            return SB_ERR_NOMEM;
        size_t rstart = match + tok.len, rend = base + blen;
        if (rstart >= rend)
            return SB_OK;
        if (attr & SB_TOKEN_ATTR_RSTRIP)
            while (rstart < rend && isspace((unsigned char)text[rstart]))
                rstart++;
        if (rstart >= rend)
            return SB_OK;
        base = rstart;
        blen = rend - rstart;
    }
}

sb_status sb_tok_partition(const sb_tokenizer *t, const char *text, size_t len, bool parse_special, sb_tok_frag **frags,
                           size_t *n, sb_error *err) {
    *frags = NULL;
    *n = 0;
    frag_list cur = {0}, next = {0};
    uint8_t *present = NULL;
    sb_status st = SB_OK;
    if (len == 0)
        return SB_OK;
    if (frag_push(&cur, -1, 0, len) != SB_OK)
        goto oom;
    if (t->n_special > 0 && (parse_special || t->has_plain_special)) {
        present = sb_calloc(t->n_special, 1);
        if (!present)
            goto oom;
        scan_present(t, text, len, present);
        for (size_t i = 0; i < t->n_special; i++) {
            int32_t id = t->special[i];
            if (!present[i] || !takes_part(t, id, parse_special))
                continue;
            next.n = 0;
            for (size_t k = 0; k < cur.n; k++) {
                if (cur.v[k].token >= 0) {
                    st = frag_push(&next, cur.v[k].token, 0, 0);
                } else {
                    st = split_fragment(t, text, &cur.v[k], id, &next);
                }
                if (st != SB_OK)
                    goto oom;
            }
            frag_list tmp = cur;
            cur = next;
            next = tmp;
        }
    }
    sb_free(present);
    sb_free(next.v);
    *frags = cur.v;
    *n = cur.n;
    return SB_OK;
oom:
    sb_free(present);
    sb_free(cur.v);
    sb_free(next.v);
    return sb_error_set(err, SB_ERR_NOMEM, "out of memory splitting %zu bytes at special tokens", len);
}
