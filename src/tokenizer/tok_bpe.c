/*
 * tok_bpe.c - byte-level BPE (tokenizer.ggml.model = "gpt2").
 *
 * As llama.cpp's llm_tokenizer_bpe: the pre-tokenizer cuts the text into
 * words, each word's bytes are written with the GPT-2 byte -> character map,
 * and within a word the neighbouring pair with the lowest merge rank is
 * merged until no pair has a rank (ties: leftmost first). With ignore_merges
 * (Llama 3) a word that is itself a token is taken whole. Merge ranks are
 * looked up by token-id pair in a hash map; the candidates wait in a binary
 * heap, so a word of n characters costs O(n log n).
 */
#include "sb_alloc.h"
#include "tok_internal.h"
#include "tok_unicode.h"

#include <string.h>

#define NONE SIZE_MAX

typedef struct bpe_sym {
    size_t prev, next;
    size_t start, n;
    int32_t id; /* token of the symbol's text, -1 if none */
} bpe_sym;

typedef struct bpe_pair {
    uint32_t rank;
    int32_t result;
    size_t left, right;
    size_t nl, nr; /* sizes of the two symbols when the pair was made */
} bpe_pair;

typedef struct bpe_work {
    bpe_sym *sym;
    size_t sym_cap;
    bpe_pair *heap;
    size_t heap_n, heap_cap;
    char *word; /* the byte-encoded word */
    size_t word_cap;
} bpe_work;

/* Heap order, as llama.cpp's queue: lower rank first, then the leftmost. */
static bool pair_before(const bpe_pair *a, const bpe_pair *b) {
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

/* Binary heap of candidate merges (grows the work buffer). */
static sb_status heap_push(bpe_work *w, bpe_pair p) {
    if (w->heap_n == w->heap_cap) {
        size_t ncap = w->heap_cap ? w->heap_cap * 2 : 64;
        bpe_pair *q = sb_reallocarray(w->heap, ncap, sizeof *q);
        if (!q)
            return SB_ERR_NOMEM;
        w->heap = q;
        w->heap_cap = ncap;
    }
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &w->heap[parent]))
            break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = p;
    return SB_OK;
}

/* Removes and returns the best candidate (the heap is not empty). */
static bpe_pair heap_pop(bpe_work *w) {
    bpe_pair *h = w->heap;
    bpe_pair top = h[0];
    bpe_pair last = h[--w->heap_n];
    size_t n = w->heap_n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && pair_before(&h[c + 1], &h[c]))
            c++;
        if (!pair_before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (n)
        h[i] = last;
    return top;
}

/* Queues the merge of symbols l and r if the merge list has it. */
static sb_status try_pair(const sb_tokenizer *t, bpe_work *w, size_t l, size_t r) {
    if (l == NONE || r == NONE)
        return SB_OK;
    const bpe_sym *a = &w->sym[l], *b = &w->sym[r];
    if (a->id < 0 || b->id < 0)
        return SB_OK;
    uint64_t v;
    if (!sb_u64map_get(&t->merges, ((uint64_t)(uint32_t)a->id << 32) | (uint32_t)b->id, &v))
        return SB_OK;
    return heap_push(w, (bpe_pair){(uint32_t)(v >> 32), (int32_t)(uint32_t)v, l, r, a->n, b->n});
}

/* The token of one symbol (a UTF-8 character of the encoded word). */
static int32_t symbol_token(const sb_tokenizer *t, const char *s, size_t n) {
    if (n <= 2) {
        uint32_t cp;
        if (sb_uc_decode(s, n, &cp) == n) {
            int b = sb_uc_cp_to_byte(cp);
            if (b >= 0)
                return t->byte_token[b];
        }
    }
    return sb_tok_lookup(t, s, n);
}

/* Merges one byte-encoded word and appends its tokens to out. */
static sb_status bpe_word(const sb_tokenizer *t, bpe_work *w, const char *word, size_t len, sb_ids *out) {
    if (len == 0)
        return SB_OK;
    if (t->ignore_merges) {
        int32_t id = sb_tok_lookup(t, word, len);
        if (id >= 0)
            return sb_ids_push(out, id);
    }
    if (len > w->sym_cap) {
        bpe_sym *q = sb_reallocarray(w->sym, len, sizeof *q);
        if (!q)
            return SB_ERR_NOMEM;
        w->sym = q;
        w->sym_cap = len;
    }
    bpe_sym *sym = w->sym;
    size_t n = 0;
    for (size_t off = 0; off < len;) {
        size_t cl = sb_uc_lead_len((unsigned char)word[off]);
        if (cl > len - off)
            cl = len - off;
        sym[n] = (bpe_sym){n == 0 ? NONE : n - 1, off + cl == len ? NONE : n + 1, off, cl,
                           symbol_token(t, word + off, cl)};
        off += cl;
        n++;
    }
    w->heap_n = 0;
    for (size_t i = 1; i < n; i++)
        if (try_pair(t, w, i - 1, i) != SB_OK)
            return SB_ERR_NOMEM;
    while (w->heap_n) {
        bpe_pair p = heap_pop(w);
        bpe_sym *l = &sym[p.left], *r = &sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n != p.nl || r->n != p.nr)
            continue;
        l->n += r->n;
        l->id = p.result;
        r->n = 0;
        l->next = r->next;
        if (r->next != NONE)
            sym[r->next].prev = p.left;
        if (try_pair(t, w, l->prev, p.left) != SB_OK || try_pair(t, w, p.left, l->next) != SB_OK)
            return SB_ERR_NOMEM;
    }
    for (size_t i = 0; i != NONE; i = sym[i].next) {
        if (sym[i].id >= 0) {
            if (sb_ids_push(out, sym[i].id) != SB_OK)
                return SB_ERR_NOMEM;
            continue;
        }
        /* no token: llama.cpp looks each byte of the text up on its own */
        for (size_t k = 0; k < sym[i].n; k++) {
            int32_t id = sb_tok_lookup(t, word + sym[i].start + k, 1);
            if (id >= 0 && sb_ids_push(out, id) != SB_OK)
                return SB_ERR_NOMEM;
        }
    }
    return SB_OK;
}

sb_status sb_tok_bpe(const sb_tokenizer *t, const char *text, size_t len, sb_pretok_words *words, sb_ids *out,
                     sb_error *err) {
    sb_status st = sb_pretok_split(t->pretok, text, len, words, err);
    if (st != SB_OK)
        return st;
    bpe_work w = {0};
    size_t start = 0;
    for (size_t k = 0; k < words->n && st == SB_OK; k++) {
        size_t end = words->ends[k];
        size_t wl = end - start;
        if (wl * 2 > w.word_cap) {
            size_t ncap = wl * 2 > 256 ? wl * 2 : 256;
            char *q = sb_realloc(w.word, ncap);
            if (!q) {
                st = SB_ERR_NOMEM;
                break;
            }
            w.word = q;
            w.word_cap = ncap;
        }
        /* GPT-2 byte encoding: every byte becomes a 1- or 2-byte character */
        size_t o = 0;
        for (size_t i = start; i < end; i++) {
            uint32_t cp = sb_uc_byte_to_cp((uint8_t)words->src[i]);
            if (cp < 0x80) {
                w.word[o++] = (char)cp;
            } else {
                w.word[o++] = (char)(0xC0 | (cp >> 6));
                w.word[o++] = (char)(0x80 | (cp & 0x3F));
            }
        }
        st = bpe_word(t, &w, w.word, o, out);
        start = end;
    }
    sb_free(w.sym);
    sb_free(w.heap);
    sb_free(w.word);
    if (st == SB_ERR_NOMEM)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    return st;
}
