/*
 * tok_detok.c - token ids back to text (llama_token_to_piece and
 * llama_detokenize semantics).
 *
 * Every token's piece is computed once at load, as llama.cpp caches it:
 * CONTROL / UNKNOWN / USER_DEFINED tokens are their raw text; NORMAL SPM and
 * BERT tokens have U+2581 turned into spaces; NORMAL byte-level BPE tokens are
 * mapped back through the GPT-2 byte map (a character outside that map
 * becomes "[UNK_BYTE_0x<hex>" + the whole token text + "]", llama.cpp's
 * quirk); BYTE tokens <0xNN> are that byte; UNUSED/UNDEFINED tokens are "".
 */
#include "sb_alloc.h"
#include "sb_buf.h"
#include "tok_internal.h"
#include "tok_unicode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE_MAX (1u << 20) /* no real token comes near; a hostile one is refused */

/* Appends s with every U+2581 turned into a space (SPM / BERT pieces). */
static sb_status unescape_spaces(sb_buf *b, sb_str s) {
    for (size_t i = 0; i < s.len;) {
        if (i + 3 <= s.len && memcmp(s.ptr + i, "\xe2\x96\x81", 3) == 0) {
            if (sb_buf_putc(b, ' ') != SB_OK)
                return SB_ERR_NOMEM;
            i += 3;
            continue;
        }
        size_t j = i;
        while (j < s.len && !(j + 3 <= s.len && memcmp(s.ptr + j, "\xe2\x96\x81", 3) == 0))
            j++;
        if (sb_buf_append(b, s.ptr + i, j - i) != SB_OK)
            return SB_ERR_NOMEM;
        i = j;
    }
    return SB_OK;
}

/* Appends the bytes a GPT-2 byte-level token text stands for. */
static sb_status decode_byte_level(sb_buf *b, sb_str s) {
    for (size_t i = 0; i < s.len;) {
        uint32_t cp;
        i += sb_uc_decode(s.ptr + i, s.len - i, &cp);
        int byte = sb_uc_cp_to_byte(cp);
        if (byte >= 0) {
            if (sb_buf_putc(b, (char)byte) != SB_OK)
                return SB_ERR_NOMEM;
            continue;
        }
        char enc[4];
        size_t el = sb_uc_encode(cp, enc);
        if (sb_buf_puts(b, "[UNK_BYTE_0x") != SB_OK)
            return SB_ERR_NOMEM;
        for (size_t k = 0; k < el; k++)
            if (sb_buf_printf(b, "%02x", (unsigned char)enc[k]) != SB_OK)
                return SB_ERR_NOMEM;
        if (sb_buf_append(b, s.ptr, s.len) != SB_OK || sb_buf_putc(b, ']') != SB_OK)
            return SB_ERR_NOMEM;
        if (b->len > PIECE_MAX)
            return SB_ERR_LIMIT;
    }
    return SB_OK;
}

/* <0xNN>: llama.cpp parses text[3..5) with strtol base 16. */
static char byte_of(sb_str s) {
    char hex[3] = {0, 0, 0};
    for (size_t k = 0; k < 2 && 3 + k < s.len; k++)
        hex[k] = s.ptr[3 + k];
    return (char)strtol(hex, NULL, 16);
}

/* Appends the piece of token id (llama.cpp token_to_piece, special on). */
static sb_status piece_of(const sb_tokenizer *t, int32_t id, sb_buf *b) {
    uint16_t a = t->attr[id];
    sb_str s = t->texts[id];
    if (a & (SB_TOKEN_ATTR_UNKNOWN | SB_TOKEN_ATTR_CONTROL | SB_TOKEN_ATTR_USER_DEFINED))
        return sb_buf_append(b, s.ptr, s.len) == SB_OK ? SB_OK : SB_ERR_NOMEM;
    if (a & SB_TOKEN_ATTR_NORMAL) {
        if (t->kind != SB_TOKENIZER_BPE || t->escape_whitespaces)
            return unescape_spaces(b, s);
        return decode_byte_level(b, s);
    }
    if (a & SB_TOKEN_ATTR_BYTE)
        return sb_buf_putc(b, byte_of(s)) == SB_OK ? SB_OK : SB_ERR_NOMEM;
    return SB_OK;
}

sb_status sb_tok_build_pieces(sb_tokenizer *t, sb_error *err) {
    sb_buf b;
    sb_buf_init(&b);
    size_t *offs = sb_reallocarray(NULL, (size_t)t->n_vocab + 1, sizeof *offs);
    t->pieces = sb_calloc((size_t)t->n_vocab, sizeof *t->pieces);
    if (!offs || !t->pieces || sb_buf_reserve(&b, (size_t)t->n_vocab * 4) != SB_OK) {
        sb_free(offs);
        sb_buf_free(&b);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory building token pieces");
    }
    for (int32_t id = 0; id < t->n_vocab; id++) {
        offs[id] = b.len;
        sb_status st = piece_of(t, id, &b);
        if (st == SB_OK && b.len - offs[id] > PIECE_MAX)
            st = SB_ERR_LIMIT;
        if (st != SB_OK) {
            sb_free(offs);
            sb_buf_free(&b);
            if (st == SB_ERR_LIMIT)
                return sb_error_set(err, SB_ERR_FORMAT, "token %d: its text expands to a piece over %u bytes", (int)id,
                                    PIECE_MAX);
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory building token pieces");
        }
    }
    offs[t->n_vocab] = b.len;
    if (sb_buf_putc(&b, '\0') != SB_OK) { /* make sure data is allocated */
        sb_free(offs);
        sb_buf_free(&b);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory building token pieces");
    }
    t->piece_arena = b.data;
    for (int32_t id = 0; id < t->n_vocab; id++)
        t->pieces[id] = (sb_str){t->piece_arena + offs[id], offs[id + 1] - offs[id]};
    sb_free(offs);
    return SB_OK;
}

/* The piece of id after llama.cpp's special filter and lstrip (a view into
 * the piece arena). */
static sb_str piece_view(const sb_tokenizer *t, int32_t id, int lstrip, bool special) {
    if (!special && (t->attr[id] & (SB_TOKEN_ATTR_UNKNOWN | SB_TOKEN_ATTR_CONTROL)))
        return (sb_str){"", 0};
    sb_str p = t->pieces[id];
    for (int i = 0; i < lstrip && p.len && p.ptr[0] == ' '; i++) {
        p.ptr++;
        p.len--;
    }
    return p;
}

int sb_token_to_piece(const sb_tokenizer *t, int32_t id, char *buf, size_t cap, int lstrip, bool special) {
    if (!t || !sb_tok_valid_id(t, id))
        return 0;
    sb_str p = piece_view(t, id, lstrip, special);
    if (cap < p.len)
        return -(int)p.len;
    if (p.len)
        memcpy(buf, p.ptr, p.len);
    return (int)p.len;
}

/* llama.cpp's clean_up_tokenization_spaces, three in-place passes. */
static size_t clean_spaces(char *text, size_t total) {
    /* " ?", " !", " .", " ," lose the space */
    size_t total1 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total1; i++) {
        char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ','))
            total--;
        text[total++] = x;
    }
    /* " ' " becomes "'" */
    size_t total2 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total2; i++) {
        char x = text[i];
        if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ') {
            total--;
            text[++i] = '\0';
        }
        text[total++] = x;
    }
    /* " 's", " 'm", " 're", " 've" lose the space */
    size_t total3 = total;
    total = total ? 1 : 0;
    for (size_t i = 1; i < total3; i++) {
        char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3) {
            char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm')
                total--;
            else if (i + 2 < total3 && ((x1 == 'r' && text[i + 2] == 'e') || (x1 == 'v' && text[i + 2] == 'e')))
                total--;
        }
        text[total++] = x;
    }
    return total;
}

sb_status sb_detokenize(const sb_tokenizer *t, const int32_t *ids, size_t n, bool remove_special, bool unparse_special,
                        sb_buf *out, sb_error *err) {
    for (size_t i = 0; i < n; i++)
        if (!sb_tok_valid_id(t, ids[i]))
            return sb_error_set(err, SB_ERR_RANGE, "token id %d (at position %zu) is out of range (vocabulary of %d)",
                                (int)ids[i], i, (int)t->n_vocab);
    bool remove_space = t->add_space_prefix;
    if (remove_special && t->add_bos && n > 0 && ids[0] == t->bos) {
        remove_space = false;
        ids++;
        n--;
    }
    if (remove_special && t->add_eos && n > 0 && ids[n - 1] == t->eos)
        n--;
    size_t start = out->len;
    for (size_t i = 0; i < n; i++) {
        sb_str p = piece_view(t, ids[i], remove_space ? 1 : 0, unparse_special);
        remove_space = false;
        sb_status st = p.len ? sb_buf_append(out, p.ptr, p.len) : SB_OK;
        if (st != SB_OK) {
            out->len = start;
            if (out->data)
                out->data[start] = '\0';
            return sb_error_set(err, st, st == SB_ERR_LIMIT ? "detokenized text is over the output limit"
                                                            : "out of memory detokenizing %zu tokens",
                                n);
        }
    }
    if (t->clean_spaces && out->len > start) {
        out->len = start + clean_spaces(out->data + start, out->len - start);
        out->data[out->len] = '\0';
    }
    return SB_OK;
}
