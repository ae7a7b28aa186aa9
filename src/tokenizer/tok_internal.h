/*
 * tok_internal.h - the tokenizer's private state, shared by its source files.
 *
 * Files: tok_vocab.c (loading and validating the GGUF metadata, llama.cpp's
 * attribute fix-ups), tok_special.c (special-token partitioning),
 * tok_tokenize.c (the public tokenize entry points), tok_spm.c, tok_bpe.c,
 * tok_wpm.c (the three algorithms), tok_pretok.c (pre-tokenizer regexes),
 * tok_detok.c (pieces, detokenize), tok_stream.c (streaming decoder),
 * tok_unicode.c + tok_unicode_data.c (Unicode tables).
 */
#ifndef SB_TOK_INTERNAL_H
#define SB_TOK_INTERNAL_H

#include "sb_map.h"
#include "sb_tokenizer.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A growable array of token ids (the output of one tokenize call). */
typedef struct sb_ids {
    int32_t *v;
    size_t n, cap;
} sb_ids;

sb_status sb_ids_push(sb_ids *a, int32_t id);

/* The pre-tokenizer of a byte-level BPE vocabulary (tok_pretok.c). */
typedef struct sb_pretok sb_pretok;

/* Per-pre-tokenizer settings llama.cpp ties to the `tokenizer.ggml.pre` name. */
typedef struct sb_pretok_flags {
    bool clean_spaces;
    bool ignore_merges;
    bool add_bos;  /* set add_bos (before the GGUF key may override it) */
    bool add_sep;  /* set add_sep */
    bool bos_null; /* clear the default BOS id */
} sb_pretok_flags;

/* Looks up the pre-tokenizer `name` ("" = default) and compiles its regexes
 * (once; PCRE2 with JIT). SB_ERR_UNSUPPORTED names an unknown pre-tokenizer.
 * The caller frees *out with sb_pretok_free. */
sb_status sb_pretok_create(const char *name, sb_pretok **out, sb_pretok_flags *flags, sb_error *err);
void sb_pretok_free(sb_pretok *p);

/* The words of one text fragment: word i is src[ends[i-1] .. ends[i]) with
 * ends[-1] = 0. src is the fragment itself when it is valid UTF-8, else the
 * fragment re-encoded the way llama.cpp does (invalid bytes -> U+FFFD). */
typedef struct sb_pretok_words {
    const char *src;
    size_t *ends;
    size_t n;
    /* owned scratch, reused across calls: */
    char *canon;
    size_t canon_cap;
    size_t ends_cap;
} sb_pretok_words;

/* Splits text[0..len) into words (replacing the previous contents of w).
 * Free the scratch with sb_pretok_words_free. */
sb_status sb_pretok_split(const sb_pretok *p, const char *text, size_t len, sb_pretok_words *w, sb_error *err);
void sb_pretok_words_free(sb_pretok_words *w);

struct sb_tokenizer {
    sb_tokenizer_kind kind;
    char model_name[16];
    char *pre_name; /* owned, "" when absent */
    int32_t n_vocab;

    /* Vocabulary: texts point into text_arena (owned copies). */
    char *text_arena;
    sb_str *texts;
    float *scores;
    uint16_t *attr; /* SB_TOKEN_ATTR_* */
    sb_strmap text_map; /* text -> id; keys borrowed from text_arena */
    size_t max_token_len;

    /* token_to_piece(id, special = true) for every id, as llama.cpp caches. */
    char *piece_arena;
    sb_str *pieces;

    int32_t bos, eos, eot, eom, unk, sep, pad, cls, mask, nl;
    int32_t fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;
    bool add_bos, add_eos, add_sep, add_space_prefix, clean_spaces, ignore_merges, escape_whitespaces;
    bool remove_extra_whitespaces;
    bool norm_lowercase, norm_strip_accents;

    uint8_t *eog_bits; /* n_vocab bits */

    /* Tokens matched in text before tokenizing (CONTROL, USER_DEFINED,
     * UNKNOWN), longest text first; ties by id. */
    int32_t *special;
    size_t n_special;
    bool has_plain_special; /* some entry is matched even without parse_special */
    /* A byte trie over the special texts, to find cheaply which occur. */
    int32_t *trie_terminal; /* node -> index into special[], or -1 */
    size_t trie_nodes;
    sb_u64map trie_edges; /* (node << 8 | byte) -> child node */
    uint8_t special_first_byte[32]; /* bitset of first bytes */

    /* BPE */
    sb_u64map merges;       /* (left id << 32 | right id) -> (rank << 32 | result id as uint32) */
    int32_t byte_token[256]; /* BPE: token of each byte's GPT-2 character; SPM: byte fallback token */
    /* SPM: no token has U+2581 after anything but U+2581, so no merge can
     * cross the start of a word and words can be merged one by one. */
    bool spm_word_split;
    sb_pretok *pretok;
};

static inline bool sb_tok_valid_id(const sb_tokenizer *t, int32_t id) { return id >= 0 && id < t->n_vocab; }

/* The id of the token whose text is exactly s[0..n), or -1. */
static inline int32_t sb_tok_lookup(const sb_tokenizer *t, const char *s, size_t n) {
    uint64_t v;
    return sb_strmap_get(&t->text_map, s, n, &v) ? (int32_t)v : -1;
}

/* tok_vocab.c */
sb_status sb_tok_load(sb_tokenizer *t, const sb_gguf *g, sb_error *err);

/* tok_detok.c: fills t->pieces (call once the attributes are final). */
sb_status sb_tok_build_pieces(sb_tokenizer *t, sb_error *err);

/* tok_special.c: builds the special list and trie from the attributes. */
sb_status sb_tok_build_special(sb_tokenizer *t, sb_error *err);

/* One fragment of text after special-token partitioning: a token id, or a
 * byte range [off, off + len) of the input when token < 0. */
typedef struct sb_tok_frag {
    int32_t token;
    size_t off, len;
} sb_tok_frag;

/* Splits text into raw fragments and special tokens as llama.cpp's
 * tokenizer_st_partition does. *frags (sb_free) gets *n entries. */
sb_status sb_tok_partition(const sb_tokenizer *t, const char *text, size_t len, bool parse_special, sb_tok_frag **frags,
                           size_t *n, sb_error *err);

/* The algorithms: each appends the ids of one raw fragment to out. */
sb_status sb_tok_spm(const sb_tokenizer *t, const char *text, size_t len, sb_ids *out, sb_error *err);
sb_status sb_tok_bpe(const sb_tokenizer *t, const char *text, size_t len, sb_pretok_words *scratch, sb_ids *out,
                     sb_error *err);
sb_status sb_tok_wpm(const sb_tokenizer *t, const char *text, size_t len, sb_ids *out, sb_error *err);

#endif
