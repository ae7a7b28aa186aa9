/*
 * sb_tokenizer.h - text <-> token ids, exactly as llama.cpp does it.
 *
 * A tokenizer is built from a GGUF file's `tokenizer.ggml.*` metadata:
 *   model "llama"  SentencePiece BPE (scores, byte fallback <0xNN>, "▁" spaces)
 *   model "gpt2"   byte-level BPE (merges) after the pre-tokenizer named by
 *                  `tokenizer.ggml.pre` (default, gpt-2, llama-bpe, qwen2,
 *                  deepseek-llm, deepseek-coder, falcon, starcoder, refact,
 *                  mpt, dbrx, ... and their llama.cpp aliases)
 *   model "bert"   WordPiece with BERT normalisation (lowercase, accent
 *                  stripping, punctuation and CJK splitting, [UNK])
 * Anything else is SB_ERR_UNSUPPORTED with a message naming it.
 *
 * Behaviour follows llama.cpp (llama_tokenize, llama_token_to_piece,
 * llama_detokenize) including its quirks: special-token attributes forced
 * from their text (end-of-generation strings become CONTROL), user-defined
 * tokens matched even without parse_special, UNKNOWN/USER_DEFINED tokens
 * matched as special with parse_special, phi-3's rstrip on special tokens,
 * the GPT-2 unknown-byte "[UNK_BYTE_0x..]" piece, clean-up of spaces.
 *
 * OWNERSHIP: sb_tokenizer_create COPIES everything it needs out of the GGUF
 * (token texts, scores, types, merges): the sb_gguf may be closed right after.
 * A tokenizer is immutable once created; every function below may be called
 * from several threads at once on the same tokenizer. Strings it hands out
 * (sb_tokenizer_token_text) stay valid until sb_tokenizer_free.
 */
#ifndef SB_TOKENIZER_H
#define SB_TOKENIZER_H

#include "sb_buf.h"
#include "sb_error.h"
#include "sb_gguf.h"
#include "sb_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sb_tokenizer sb_tokenizer;

typedef enum sb_tokenizer_kind {
    SB_TOKENIZER_SPM = 1, /* tokenizer.ggml.model = llama */
    SB_TOKENIZER_BPE = 2, /* gpt2 */
    SB_TOKENIZER_WPM = 3, /* bert */
} sb_tokenizer_kind;

/* GGUF token types (tokenizer.ggml.token_type values). */
typedef enum sb_token_type {
    SB_TOKEN_TYPE_UNDEFINED = 0,
    SB_TOKEN_TYPE_NORMAL = 1,
    SB_TOKEN_TYPE_UNKNOWN = 2,
    SB_TOKEN_TYPE_CONTROL = 3,
    SB_TOKEN_TYPE_USER_DEFINED = 4,
    SB_TOKEN_TYPE_UNUSED = 5,
    SB_TOKEN_TYPE_BYTE = 6,
} sb_token_type;

/* Token attribute bits, the same values as llama.cpp's llama_token_attr. */
enum {
    SB_TOKEN_ATTR_UNDEFINED = 0,
    SB_TOKEN_ATTR_UNKNOWN = 1 << 0,
    SB_TOKEN_ATTR_UNUSED = 1 << 1,
    SB_TOKEN_ATTR_NORMAL = 1 << 2,
    SB_TOKEN_ATTR_CONTROL = 1 << 3,
    SB_TOKEN_ATTR_USER_DEFINED = 1 << 4,
    SB_TOKEN_ATTR_BYTE = 1 << 5,
    SB_TOKEN_ATTR_NORMALIZED = 1 << 6,
    SB_TOKEN_ATTR_LSTRIP = 1 << 7,
    SB_TOKEN_ATTR_RSTRIP = 1 << 8,
    SB_TOKEN_ATTR_SINGLE_WORD = 1 << 9,
};

/* Builds the tokenizer of a GGUF file (validating the metadata: token and
 * merge arrays, their types and lengths, special ids). The caller frees it
 * with sb_tokenizer_free; the gguf is not referenced afterwards. */
sb_status sb_tokenizer_create(const sb_gguf *g, sb_tokenizer **out, sb_error *err);
void sb_tokenizer_free(sb_tokenizer *t);

/* Tokenizes text[0..len) (any bytes; invalid UTF-8 is handled as llama.cpp
 * does). add_special adds BOS/EOS as the model says (llama_tokenize's
 * add_special; for BERT that is [CLS] ... [SEP]); parse_special turns the text
 * of control tokens into those tokens. On success *ids (free with sb_free;
 * NULL when *n is 0) holds *n ids. */
sb_status sb_tokenize(const sb_tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                      int32_t **ids, size_t *n, sb_error *err);

#define SB_TOK_MODEL_DEFAULT (-1)

typedef struct sb_tokenize_opts {
    int add_bos;        /* SB_TOK_MODEL_DEFAULT (the model's add_bos), 0 = never, 1 = always */
    int add_eos;        /* same for EOS (for BERT: the final [SEP]) */
    bool parse_special; /* as in sb_tokenize */
} sb_tokenize_opts;

/* sb_tokenize with BOS/EOS forced on or off. Forcing a token the model does
 * not have is SB_ERR_UNSUPPORTED. */
sb_status sb_tokenize_ex(const sb_tokenizer *t, const char *text, size_t len, const sb_tokenize_opts *opts,
                         int32_t **ids, size_t *n, sb_error *err);

/* Vocabulary facts. Special ids are -1 when the model has none. */
sb_tokenizer_kind sb_tokenizer_get_kind(const sb_tokenizer *t);
const char *sb_tokenizer_model_name(const sb_tokenizer *t); /* "llama", "gpt2", "bert" */
const char *sb_tokenizer_pre_name(const sb_tokenizer *t);   /* tokenizer.ggml.pre ("" when absent) */
int32_t sb_tokenizer_n_vocab(const sb_tokenizer *t);
int32_t sb_tokenizer_bos(const sb_tokenizer *t);
int32_t sb_tokenizer_eos(const sb_tokenizer *t);
int32_t sb_tokenizer_eot(const sb_tokenizer *t);
int32_t sb_tokenizer_pad(const sb_tokenizer *t);
int32_t sb_tokenizer_unk(const sb_tokenizer *t);
int32_t sb_tokenizer_sep(const sb_tokenizer *t);
int32_t sb_tokenizer_cls(const sb_tokenizer *t); /* cls_token_id, else BOS (llama.cpp's llama_vocab_cls) */
int32_t sb_tokenizer_nl(const sb_tokenizer *t);  /* the newline token (llama_vocab_nl) */
bool sb_tokenizer_add_bos(const sb_tokenizer *t);
bool sb_tokenizer_add_eos(const sb_tokenizer *t);
bool sb_tokenizer_add_space_prefix(const sb_tokenizer *t);

/* Per-token queries; ids out of range give false / -1 / empty. */
bool sb_tokenizer_is_eog(const sb_tokenizer *t, int32_t id);
bool sb_tokenizer_is_control(const sb_tokenizer *t, int32_t id);
sb_str sb_tokenizer_token_text(const sb_tokenizer *t, int32_t id); /* raw vocab string */
sb_token_type sb_tokenizer_token_type(const sb_tokenizer *t, int32_t id); /* from the effective attributes */
uint32_t sb_tokenizer_token_attr(const sb_tokenizer *t, int32_t id);     /* SB_TOKEN_ATTR_* bits */
float sb_tokenizer_token_score(const sb_tokenizer *t, int32_t id);
/* Exact vocab lookup of text[0..len); -1 when absent. */
int32_t sb_tokenizer_find(const sb_tokenizer *t, const char *text, size_t len);

/* llama_token_to_piece: writes the piece of one token into buf (no NUL) and
 * returns its length, or minus the length needed when cap is too small.
 * Skips up to lstrip leading spaces. With special false, CONTROL and UNKNOWN
 * tokens give "". An id out of range gives 0. */
int sb_token_to_piece(const sb_tokenizer *t, int32_t id, char *buf, size_t cap, int lstrip, bool special);

/* llama_detokenize: appends the text of ids[0..n) to out. remove_special
 * drops a leading BOS / trailing EOS the model adds; unparse_special renders
 * control tokens as their text. An id out of range is SB_ERR_RANGE (naming
 * it) and leaves out unchanged. */
sb_status sb_detokenize(const sb_tokenizer *t, const int32_t *ids, size_t n, bool remove_special, bool unparse_special,
                        sb_buf *out, sb_error *err);

/* Streaming decoder for generated tokens: push ids one at a time; each push
 * appends to out only complete UTF-8 (a character split over several tokens
 * comes out whole once its last byte arrives). Bytes that can never become a
 * valid character are replaced by U+FFFD when that is certain; flush emits
 * what is left (an unfinished character becomes U+FFFD) and resets the
 * stream. The text is the concatenation of the token pieces
 * (sb_token_to_piece with lstrip 0 and special = unparse_special), which is
 * what llama-server streams; it does not apply detokenize's space clean-up.
 * The stream borrows the tokenizer (which must outlive it). */
typedef struct sb_detok_stream sb_detok_stream;
sb_detok_stream *sb_detok_stream_create(const sb_tokenizer *t, bool unparse_special); /* NULL on OOM */
sb_status sb_detok_stream_push(sb_detok_stream *s, int32_t id, sb_buf *out, sb_error *err);
sb_status sb_detok_stream_flush(sb_detok_stream *s, sb_buf *out, sb_error *err);
void sb_detok_stream_free(sb_detok_stream *s);

#endif
