/*
 * tok_spm.c - SentencePiece BPE (tokenizer.ggml.model = "llama").
 *
 * As llama.cpp's llm_tokenizer_spm: the fragment (with its spaces turned
 * into U+2581 by the caller) is split into UTF-8 characters, then the pair of
 * neighbours whose concatenation is the highest-scoring token is merged,
 * repeatedly (ties: leftmost first). Pieces that are no token come out as
 * byte tokens (<0xNN>).
 */
#include "sb_alloc.h"
#include "tok_internal.h"
#include "tok_unicode.h"

#include <string.h>

/* Indices are 32-bit (a fragment has fewer than 2^31 characters) to keep
 * the heap small: a long text has millions of candidate pairs. */
#define NONE UINT32_MAX

typedef struct spm_sym {
    uint32_t prev, next;
    size_t start;
    uint32_t n;
} spm_sym;

typedef struct spm_pair {
    float score;
    uint32_t left, right, size;
} spm_pair;

typedef struct spm_heap {
    spm_pair *v;
    size_t n, cap;
} spm_heap;

/* a comes out of the heap before b: higher score, then smaller left */
static bool pair_before(const spm_pair *a, const spm_pair *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

/* Binary heap of candidate merges (grows the array). */
static sb_status heap_push(spm_heap *h, spm_pair p) {
    if (h->n == h->cap) {
        size_t ncap = h->cap ? h->cap * 2 : 64;
        spm_pair *q = sb_reallocarray(h->v, ncap, sizeof *q);
        if (!q)
            return SB_ERR_NOMEM;
        h->v = q;
        h->cap = ncap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!pair_before(&p, &h->v[parent]))
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = p;
    return SB_OK;
}

/* Removes and returns the best candidate (the heap is not empty). */
static spm_pair heap_pop(spm_heap *h) {
    spm_pair top = h->v[0];
    spm_pair last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && pair_before(&h->v[c + 1], &h->v[c]))
            c++;
        if (!pair_before(&h->v[c], &last))
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n)
        h->v[i] = last;
    return top;
}

/* Queues the merge of neighbours l and r if their text is a token. */
static sb_status try_pair(const sb_tokenizer *t, const char *text, const spm_sym *sym, uint32_t l, uint32_t r,
                          spm_heap *h) {
    if (l == NONE || r == NONE)
        return SB_OK;
    size_t size = (size_t)sym[l].n + sym[r].n;
    if (size > t->max_token_len)
        return SB_OK;
    int32_t id = sb_tok_lookup(t, text + sym[l].start, size);
    if (id < 0)
        return SB_OK;
    return heap_push(h, (spm_pair){t->scores[id], l, r, (uint32_t)size});
}

/* True when p starts with U+2581 (3 bytes must be readable). */
static bool is_space_mark(const char *p) { return memcmp(p, "\xe2\x96\x81", 3) == 0; }

/* Best-first merging of the symbols [a, b) (a chain linked through
 * prev/next), then their tokens appended to out. */
static sb_status merge_run(const sb_tokenizer *t, const char *text, spm_sym *sym, uint32_t a, uint32_t b,
                           spm_heap *heap, sb_ids *out, sb_error *err) {
    sym[a].prev = NONE;
    sym[b - 1].next = NONE;
    heap->n = 0;
    for (uint32_t i = a + 1; i < b; i++)
        if (try_pair(t, text, sym, i - 1, i, heap) != SB_OK)
            return SB_ERR_NOMEM;
    while (heap->n) {
        spm_pair p = heap_pop(heap);
        spm_sym *l = &sym[p.left], *r = &sym[p.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != p.size)
            continue;
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next != NONE)
            sym[r->next].prev = p.left;
        if (try_pair(t, text, sym, l->prev, p.left, heap) != SB_OK ||
            try_pair(t, text, sym, p.left, l->next, heap) != SB_OK)
            return SB_ERR_NOMEM;
    }
    for (uint32_t i = a; i != NONE; i = sym[i].next) {
        int32_t id = sb_tok_lookup(t, text + sym[i].start, sym[i].n);
        if (id >= 0) {
            if (sb_ids_push(out, id) != SB_OK)
                return SB_ERR_NOMEM;
            continue;
        }
        for (uint32_t k = 0; k < sym[i].n; k++) {
            unsigned char c = (unsigned char)text[sym[i].start + k];
            if (t->byte_token[c] < 0)
                return sb_error_set(err, SB_ERR_UNSUPPORTED,
                                    "the vocabulary has no byte token for 0x%02X (<0x%02X>), needed for this text", c, c);
            if (sb_ids_push(out, t->byte_token[c]) != SB_OK)
                return SB_ERR_NOMEM;
        }
    }
    return SB_OK;
}

sb_status sb_tok_spm(const sb_tokenizer *t, const char *text, size_t len, sb_ids *out, sb_error *err) {
    if (len == 0)
        return SB_OK;
    if (len >= NONE)
        return sb_error_set(err, SB_ERR_LIMIT, "text fragment of %zu bytes is too long", len);
    spm_sym *sym = sb_reallocarray(NULL, len, sizeof *sym);
    spm_heap heap = {0};
    sb_status st = SB_OK;
    if (!sym) {
        st = SB_ERR_NOMEM;
        goto done;
    }
    uint32_t n = 0;
    for (size_t off = 0; off < len;) {
        size_t cl = sb_uc_lead_len((unsigned char)text[off]);
        if (cl > len - off)
            cl = len - off;
        sym[n] = (spm_sym){n == 0 ? NONE : n - 1, n + 1, off, (uint32_t)cl};
        off += cl;
        n++;
    }
    /* Merge word by word when no token can span the start of a word (a
     * U+2581 not preceded by U+2581): the result is the same as merging the
     * whole text at once, with small heaps. */
    uint32_t a = 0;
    for (uint32_t i = 1; i < n && st == SB_OK; i++) {
        size_t p = sym[i].start;
        if (t->spm_word_split && sym[i].n == 3 && is_space_mark(text + p) && !(p >= 3 && is_space_mark(text + p - 3))) {
            st = merge_run(t, text, sym, a, i, &heap, out, err);
            a = i;
        }
    }
    if (st == SB_OK)
        st = merge_run(t, text, sym, a, n, &heap, out, err);
done:
    if (st == SB_ERR_NOMEM)
        st = sb_error_set(err, SB_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    sb_free(sym);
    sb_free(heap.v);
    return st;
}
