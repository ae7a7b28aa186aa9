/*
 * tok_wpm.c - WordPiece (tokenizer.ggml.model = "bert").
 *
 * As llama.cpp's llm_tokenizer_wpm. Normalisation: decode (invalid bytes ->
 * U+FFFD), with strip_accents replace each code point by the first code
 * point of its NFD form and drop marks (Mn/Mc/Me), drop NUL, U+FFFD and
 * control/format characters, lowercase (simple mapping), split at white
 * space, and make every punctuation character, ASCII symbol and CJK
 * ideograph a word of its own. Each word gets the "▁" prefix the GGUF
 * converter put on word-initial pieces, and is cut greedily into the longest
 * vocabulary matches; a word with no full cover becomes [UNK].
 */
#include "sb_alloc.h"
#include "tok_internal.h"
#include "tok_unicode.h"

#include <string.h>

/* The CJK ranges BERT splits into single-character words. */
static bool is_chinese_char(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
           (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) ||
           (cp >= 0x2B920 && cp <= 0x2CEAF) || /* sic: HF uses 0x2B920, not 0x2B820 */
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

/* Greedy longest-match of "▁" + word (word at buf + 3, buf[0..3) = "▁"). */
static sb_status wpm_word(const sb_tokenizer *t, const char *buf, size_t n, sb_ids *out) {
    size_t mark = out->n;
    for (size_t i = 0; i < n; i++) {
        bool match = false;
        size_t jmax = i + t->max_token_len + 1 < n ? i + t->max_token_len + 1 : n;
        for (size_t j = jmax; j > i; j--) {
            int32_t id = sb_tok_lookup(t, buf + i, j - i);
            if (id >= 0) {
                if (sb_ids_push(out, id) != SB_OK)
                    return SB_ERR_NOMEM;
                match = true;
                i = j - 1;
                break;
            }
        }
        if (!match) {
            out->n = mark;
            break;
        }
    }
    if (out->n == mark && t->unk >= 0)
        return sb_ids_push(out, t->unk);
    return SB_OK;
}

sb_status sb_tok_wpm(const sb_tokenizer *t, const char *text, size_t len, sb_ids *out, sb_error *err) {
    /* a word is at most 4 bytes per input byte, plus the 3-byte prefix */
    size_t cap = len * 4 + 8;
    char *buf = sb_malloc(cap);
    if (!buf)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    memcpy(buf, "\xe2\x96\x81", 3);
    size_t wl = 3; /* current word = buf[3 .. wl) */
    sb_status st = SB_OK;
    for (size_t i = 0; i < len && st == SB_OK;) {
        uint32_t cp;
        i += sb_uc_decode(text + i, len - i, &cp);
        if (t->norm_strip_accents)
            cp = sb_uc_nfd_first(cp);
        uint16_t f = sb_uc_flags(cp);
        if (f & SB_UC_WHITESPACE) {
            if (wl > 3)
                st = wpm_word(t, buf, wl, out);
            wl = 3;
            continue;
        }
        if (cp == 0 || cp == 0xFFFD || (f & SB_UC_CONTROL))
            continue;
        if (t->norm_strip_accents && (f & SB_UC_MARK))
            continue;
        char enc[4];
        size_t el = sb_uc_encode(t->norm_lowercase ? sb_uc_tolower(cp) : cp, enc);
        if (el == 0) /* above U+10FFFF: llama.cpp cannot encode it; skipped */
            continue;
        if ((f & SB_UC_PUNCT) || (cp < 0x7F && (f & SB_UC_SYMBOL)) || is_chinese_char(cp)) {
            if (wl > 3 && (st = wpm_word(t, buf, wl, out)) != SB_OK)
                break;
            memcpy(buf + 3, enc, el);
            st = wpm_word(t, buf, 3 + el, out);
            wl = 3;
            continue;
        }
        memcpy(buf + wl, enc, el);
        wl += el;
    }
    if (st == SB_OK && wl > 3)
        st = wpm_word(t, buf, wl, out);
    sb_free(buf);
    if (st == SB_ERR_NOMEM)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    return st;
}
