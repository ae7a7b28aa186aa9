/*
 * tok_pretok_defs.h - the pre-tokenizer table: for each `tokenizer.ggml.pre`
 * name, the regex pipeline and flags llama.cpp uses for it.
 *
 * Each regex of a pipeline splits every piece the previous one produced;
 * matches and the text between them both become pieces. Two regexes have
 * hand-written splitters in llama.cpp (and here): GPT-2's and Llama 3's.
 * The others are matched with PCRE2 the way llama.cpp feeds them to
 * std::regex: when a regex uses \p{..}, over a "collapsed" text with one byte
 * per code point (see tok_pretok.c); otherwise over the code points with
 * non-ASCII white space turned into U+000B.
 */
#ifndef SB_TOK_PRETOK_DEFS_H
#define SB_TOK_PRETOK_DEFS_H

#include <stdbool.h>
#include <stddef.h>

#define SB_PRETOK_MAX_REGEX 6

/* Stand-ins for the regexes llama.cpp implements by hand. */
#define SB_RX_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define SB_RX_LLAMA3                                                                                               \
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "          \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

typedef struct sb_pretok_def {
    const char *const *names; /* NULL-terminated aliases */
    const char *regex[SB_PRETOK_MAX_REGEX];
    bool clean_spaces;
    bool ignore_merges;
    bool add_bos;
    bool add_sep;
    bool bos_null;
} sb_pretok_def;

extern const sb_pretok_def sb_pretok_defs[];
extern const size_t sb_pretok_defs_count;

#endif
