/*
 * tok_test_util.h - helpers for the tokenizer tests: small vocabularies
 * built in memory with the GGUF writer, and shared vocab files.
 */
#ifndef TOK_TEST_UTIL_H
#define TOK_TEST_UTIL_H

#include "sb_gguf.h"
#include "sb_gguf_writer.h"
#include "sb_tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What to put in a vocabulary GGUF; NULL/0 fields are left out. */
typedef struct tt_spec {
    const char *model;
    const char *pre;
    const char *const *tokens;
    size_t n_tokens;
    const int32_t *types;
    size_t n_types;
    const float *scores;
    size_t n_scores;
    const char *const *merges;
    size_t n_merges;
    bool empty_merges; /* write a merges array with 0 entries */
    /* more keys (special ids, flags, broken values) */
    sb_status (*extra)(sb_gguf_writer *w, void *ud);
    void *ud;
} tt_spec;

/* A GGUF image in memory and the reader over it. */
typedef struct tt_vocab {
    void *mem;
    sb_gguf *g;
} tt_vocab;

/* Writes and opens the vocabulary; false (with a message) on failure. */
bool tt_build(const tt_spec *s, tt_vocab *out);
void tt_free(tt_vocab *v);

/* Ready-made small vocabularies of each kind. Each has a CONTROL token
 * "<ctl>" and a USER_DEFINED token "<tool>" (see tok_test_util.c). */
bool tt_spm_vocab(tt_vocab *out);
bool tt_bpe_vocab(const char *pre, tt_vocab *out);
bool tt_wpm_vocab(tt_vocab *out);

/* Opens shared/models/vocab/ggml-vocab-<name>.gguf; NULL if absent. */
sb_tokenizer *tt_shared_tokenizer(const char *name);

/* Tokenizes (asserting success) and compares with want[0..n). */
bool tt_ids_equal(const int32_t *got, size_t ngot, const int32_t *want, size_t nwant);

#endif
