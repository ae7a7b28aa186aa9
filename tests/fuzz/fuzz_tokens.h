/*
 * fuzz_tokens.h - the check fuzz_model and fuzz_tokenize run on a
 * tokenizer: encode, every id in the vocabulary, decode whole and as a
 * stream, the stream's text valid UTF-8. Header-only (static), so each
 * target links it with its own instrumentation.
 */
#ifndef FUZZ_TOKENS_H
#define FUZZ_TOKENS_H

#include "fuzz_check.h"

#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_tokenizer.h"
#include "sb_utf8.h"

#include <stdbool.h>
#include <stddef.h>

/* Tokenizes text[0..len) and checks the ids and their decodings; a refusal
 * must name its reason (status equal to the error's code, a message). */
static void fuzz_tokens_roundtrip(const sb_tokenizer *t, const char *text, size_t len, bool add_special,
                                  bool parse_special, bool remove_special) {
    const int32_t n_vocab = sb_tokenizer_n_vocab(t);
    int32_t *ids = NULL;
    size_t n = 0;
    sb_error err;
    sb_error_clear(&err);
    sb_status st = sb_tokenize(t, text, len, add_special, parse_special, &ids, &n, &err);
    if (st != SB_OK) {
        fuzz_check_refusal(st, &err);
        sb_free(ids);
        return;
    }
    for (size_t i = 0; i < n; i++)
        FUZZ_ASSERT(ids[i] >= 0 && ids[i] < n_vocab);
    sb_buf out;
    sb_buf_init(&out);
    st = sb_detokenize(t, ids, n, remove_special, parse_special, &out, &err);
    FUZZ_ASSERT(st == SB_OK || (st == SB_ERR_NOMEM && err.msg[0] != '\0'));
    sb_buf_reset(&out);
    sb_detok_stream *s = sb_detok_stream_create(t, parse_special);
    if (s) {
        st = SB_OK;
        for (size_t i = 0; i < n && st == SB_OK; i++)
            st = sb_detok_stream_push(s, ids[i], &out, &err);
        if (st == SB_OK)
            st = sb_detok_stream_flush(s, &out, &err);
        FUZZ_ASSERT(st == SB_OK || (st == SB_ERR_NOMEM && err.msg[0] != '\0'));
        if (st == SB_OK)
            FUZZ_ASSERT(sb_utf8_valid(out.data, out.len));
        sb_detok_stream_free(s);
    }
    g_sink += out.len;
    sb_buf_free(&out);
    sb_free(ids);
}

#endif
