/*
 * tok_stream.c - streaming detokenizer: emits only complete UTF-8.
 *
 * A token can end in the middle of a character (SPM byte tokens <0xF0>,
 * byte-level BPE pieces of an emoji), so the bytes of an unfinished
 * character wait in the stream until the rest arrives. Validation follows
 * the Unicode well-formedness table (no overlongs, surrogates or values above
 * U+10FFFF); a byte sequence that can never become valid is replaced by one
 * U+FFFD per maximal ill-formed subpart as soon as that is certain.
 */
#include "sb_alloc.h"
#include "tok_internal.h"

#include <string.h>

struct sb_detok_stream {
    const sb_tokenizer *t;
    bool unparse_special;
    unsigned char pending[4]; /* bytes of an unfinished character (at most 3) */
    size_t n_pending;
    char *work;
    size_t work_cap;
};

sb_detok_stream *sb_detok_stream_create(const sb_tokenizer *t, bool unparse_special) {
    sb_detok_stream *s = sb_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    s->unparse_special = unparse_special;
    return s;
}

void sb_detok_stream_free(sb_detok_stream *s) {
    if (!s)
        return;
    sb_free(s->work);
    sb_free(s);
}

static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* Appends the complete characters of buf[0..n) to out; an unfinished
 * character at the end is kept in s->pending, or replaced when final. */
static sb_status emit(sb_detok_stream *s, const unsigned char *buf, size_t n, bool final, sb_buf *out) {
    s->n_pending = 0;
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && buf[run] < 0x80)
            run++;
        if (run > i) {
            sb_status st = sb_buf_append(out, buf + i, run - i);
            if (st != SB_OK)
                return st;
            i = run;
            continue;
        }
        unsigned char c = buf[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            sb_status st = sb_buf_append(out, REPLACEMENT, 3);
            if (st != SB_OK)
                return st;
            i++;
            continue;
        }
        size_t k = 1;
        bool bad = false;
        for (; k <= need; k++) {
            if (i + k >= n)
                break;
            unsigned char b = buf[i + k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
                bad = true;
                break;
            }
        }
        if (!bad && k > need) {
            sb_status st = sb_buf_append(out, buf + i, need + 1);
            if (st != SB_OK)
                return st;
            i += need + 1;
            continue;
        }
        if (!bad && !final) { /* ran out of bytes: wait for more */
            memcpy(s->pending, buf + i, n - i);
            s->n_pending = n - i;
            return SB_OK;
        }
        sb_status st = sb_buf_append(out, REPLACEMENT, 3);
        if (st != SB_OK)
            return st;
        i += bad ? k : n - i;
    }
    return SB_OK;
}

sb_status sb_detok_stream_push(sb_detok_stream *s, int32_t id, sb_buf *out, sb_error *err) {
    const sb_tokenizer *t = s->t;
    if (!sb_tok_valid_id(t, id))
        return sb_error_set(err, SB_ERR_RANGE, "token id %d is out of range (vocabulary of %d)", (int)id,
                            (int)t->n_vocab);
    int len = sb_token_to_piece(t, id, NULL, 0, 0, s->unparse_special);
    size_t plen = len < 0 ? (size_t)-len : 0;
    size_t need = s->n_pending + plen;
    if (need > s->work_cap) {
        char *q = sb_realloc(s->work, need);
        if (!q)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory streaming tokens");
        s->work = q;
        s->work_cap = need;
    }
    if (need == 0)
        return SB_OK;
    memcpy(s->work, s->pending, s->n_pending);
    if (plen)
        sb_token_to_piece(t, id, s->work + s->n_pending, plen, 0, s->unparse_special);
    size_t start = out->len, old_pending = s->n_pending;
    sb_status st = emit(s, (const unsigned char *)s->work, need, false, out);
    if (st != SB_OK) {
        /* leave the stream and out as they were before this push */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        memcpy(s->pending, s->work, old_pending);
        s->n_pending = old_pending;
        return sb_error_set(err, st, st == SB_ERR_LIMIT ? "streamed text is over the output limit"
                                                        : "out of memory streaming tokens");
    }
    return SB_OK;
}

sb_status sb_detok_stream_flush(sb_detok_stream *s, sb_buf *out, sb_error *err) {
    unsigned char tmp[4];
    size_t n = s->n_pending;
    memcpy(tmp, s->pending, n);
    size_t start = out->len;
    sb_status st = emit(s, tmp, n, true, out);
    if (st != SB_OK) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        memcpy(s->pending, tmp, n);
        s->n_pending = n;
        return sb_error_set(err, st, st == SB_ERR_LIMIT ? "streamed text is over the output limit"
                                                        : "out of memory streaming tokens");
    }
    s->n_pending = 0;
    return SB_OK;
}
