/* tok_test_util.c - see tok_test_util.h. */
#include "tok_test_util.h"

#include "sb_alloc.h"
#include "sb_test.h"

#include <stdio.h>
#include <string.h>

bool tt_build(const tt_spec *s, tt_vocab *out) {
    memset(out, 0, sizeof *out);
    sb_error err = {0};
    sb_gguf_writer *w = sb_gguf_writer_create();
    if (!w)
        return false;
    sb_status st = sb_gguf_writer_set_string(w, "general.architecture", "llama", 5, &err);
    if (st == SB_OK && s->model)
        st = sb_gguf_writer_set_string(w, "tokenizer.ggml.model", s->model, strlen(s->model), &err);
    if (st == SB_OK && s->pre)
        st = sb_gguf_writer_set_string(w, "tokenizer.ggml.pre", s->pre, strlen(s->pre), &err);
    if (st == SB_OK && s->tokens) {
        sb_str *strs = sb_calloc(s->n_tokens ? s->n_tokens : 1, sizeof *strs);
        for (size_t i = 0; strs && i < s->n_tokens; i++)
            strs[i] = sb_str_from_cstr(s->tokens[i]);
        st = strs ? sb_gguf_writer_set_string_array(w, "tokenizer.ggml.tokens", strs, s->n_tokens, &err) : SB_ERR_NOMEM;
        sb_free(strs);
    }
    if (st == SB_OK && s->types)
        st = sb_gguf_writer_set_array(w, "tokenizer.ggml.token_type", SB_GGUF_INT32, s->types, s->n_types, &err);
    if (st == SB_OK && s->scores)
        st = sb_gguf_writer_set_array(w, "tokenizer.ggml.scores", SB_GGUF_FLOAT32, s->scores, s->n_scores, &err);
    if (st == SB_OK && (s->merges || s->empty_merges)) {
        sb_str *strs = sb_calloc(s->n_merges ? s->n_merges : 1, sizeof *strs);
        for (size_t i = 0; strs && i < s->n_merges; i++)
            strs[i] = sb_str_from_cstr(s->merges[i]);
        st = strs ? sb_gguf_writer_set_string_array(w, "tokenizer.ggml.merges", strs, s->n_merges, &err) : SB_ERR_NOMEM;
        sb_free(strs);
    }
    if (st == SB_OK && s->extra)
        st = s->extra(w, s->ud);
    size_t len = 0;
    if (st == SB_OK)
        st = sb_gguf_writer_write_memory(w, &out->mem, &len, NULL, NULL, &err);
    sb_gguf_writer_free(w);
    if (st == SB_OK)
        st = sb_gguf_open_memory(out->mem, len, &out->g, &err);
    if (st != SB_OK) {
        fprintf(stderr, "tt_build: %s\n", err.msg);
        tt_free(out);
        return false;
    }
    return true;
}

void tt_free(tt_vocab *v) {
    sb_gguf_close(v->g);
    sb_free(v->mem);
    memset(v, 0, sizeof *v);
}

/* ---- SPM: <unk> <s> </s>, 256 byte tokens, a few pieces ----------------- */

static const char *const SPM_PIECES[] = {"\xe2\x96\x81", "h", "e", "l", "o", "w", "r", "d", "\xe2\x96\x81h", "ll",
                                         "\xe2\x96\x81he", "llo", "\xe2\x96\x81hello", "\xe2\x96\x81w", "or",
                                         "\xe2\x96\x81world", "<ctl>", "<tool>"};
#define SPM_N (3 + 256 + sizeof SPM_PIECES / sizeof SPM_PIECES[0])

bool tt_spm_vocab(tt_vocab *out) {
    static char bytes[256][8];
    const char *tokens[SPM_N];
    int32_t types[SPM_N];
    float scores[SPM_N];
    tokens[0] = "<unk>";
    tokens[1] = "<s>";
    tokens[2] = "</s>";
    types[0] = SB_TOKEN_TYPE_UNKNOWN;
    types[1] = types[2] = SB_TOKEN_TYPE_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        tokens[3 + b] = bytes[b];
        types[3 + b] = SB_TOKEN_TYPE_BYTE;
    }
    size_t np = sizeof SPM_PIECES / sizeof SPM_PIECES[0];
    for (size_t i = 0; i < np; i++) {
        tokens[259 + i] = SPM_PIECES[i];
        types[259 + i] = SB_TOKEN_TYPE_NORMAL;
        scores[259 + i] = -100.0f + (float)strlen(SPM_PIECES[i]);
    }
    types[259 + np - 2] = SB_TOKEN_TYPE_CONTROL;
    types[259 + np - 1] = SB_TOKEN_TYPE_USER_DEFINED;
    for (int i = 0; i < 259; i++)
        scores[i] = 0;
    tt_spec s = {.model = "llama", .pre = "default", .tokens = tokens, .n_tokens = SPM_N, .types = types,
                 .n_types = SPM_N, .scores = scores, .n_scores = SPM_N};
    return tt_build(&s, out);
}

/* ---- BPE: the 256 GPT-2 byte characters, merges for "hello world" ------- */

static const char *const BPE_EXTRA[] = {"he", "ll", "hell", "hello", "\xc4\xa0w", "\xc4\xa0wo", "rl", "\xc4\xa0worl",
                                        "\xc4\xa0world", "<|endoftext|>", "<ctl>", "<tool>"};
static const char *const BPE_MERGES[] = {"h e", "l l", "he ll", "hell o", "\xc4\xa0 w", "\xc4\xa0w o", "r l",
                                         "\xc4\xa0wo rl", "\xc4\xa0worl d"};
#define BPE_N (256 + sizeof BPE_EXTRA / sizeof BPE_EXTRA[0])

static uint32_t byte_cp(unsigned b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
        return b;
    unsigned n = 0;
    for (unsigned c = 0; c < b; c++)
        if (!((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE))
            n++;
    return 256 + n;
}

/* a separator, for the pre-tokenizers that set add_sep (roberta-bpe, ...) */
static sb_status bpe_keys(sb_gguf_writer *w, void *ud) {
    (void)ud;
    return sb_gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", 266, NULL);
}

bool tt_bpe_vocab(const char *pre, tt_vocab *out) {
    static char chars[256][4];
    const char *tokens[BPE_N];
    int32_t types[BPE_N];
    for (unsigned b = 0; b < 256; b++) {
        uint32_t cp = byte_cp(b);
        if (cp < 0x80) {
            chars[b][0] = (char)cp;
            chars[b][1] = 0;
        } else {
            chars[b][0] = (char)(0xC0 | (cp >> 6));
            chars[b][1] = (char)(0x80 | (cp & 0x3F));
            chars[b][2] = 0;
        }
        tokens[b] = chars[b];
        types[b] = SB_TOKEN_TYPE_NORMAL;
    }
    size_t ne = sizeof BPE_EXTRA / sizeof BPE_EXTRA[0];
    for (size_t i = 0; i < ne; i++) {
        tokens[256 + i] = BPE_EXTRA[i];
        types[256 + i] = SB_TOKEN_TYPE_NORMAL;
    }
    types[256 + ne - 3] = SB_TOKEN_TYPE_CONTROL;
    types[256 + ne - 2] = SB_TOKEN_TYPE_CONTROL;
    types[256 + ne - 1] = SB_TOKEN_TYPE_USER_DEFINED;
    tt_spec s = {.model = "gpt2", .pre = pre, .tokens = tokens, .n_tokens = BPE_N, .types = types, .n_types = BPE_N,
                 .merges = BPE_MERGES, .n_merges = sizeof BPE_MERGES / sizeof BPE_MERGES[0], .extra = bpe_keys};
    return tt_build(&s, out);
}

/* ---- WPM: [PAD] [UNK] [CLS] [SEP] [MASK], a few word pieces ------------- */

static const char *const WPM_TOKENS[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "\xe2\x96\x81hello",
                                         "\xe2\x96\x81world", "\xe2\x96\x81un", "aff", "able", "\xe2\x96\x81,",
                                         "\xe2\x96\x81!", "\xe2\x96\x81" "cafe", "\xe2\x96\x81\xe4\xb8\xad", "<ctl>",
                                         "<tool>"};
#define WPM_N (sizeof WPM_TOKENS / sizeof WPM_TOKENS[0])

static sb_status wpm_keys(sb_gguf_writer *w, void *ud) {
    (void)ud;
    sb_error err;
    sb_status st = sb_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 0, &err);
    if (st == SB_OK)
        st = sb_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 1, &err);
    if (st == SB_OK)
        st = sb_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 2, &err);
    if (st == SB_OK)
        st = sb_gguf_writer_set_u32(w, "tokenizer.ggml.seperator_token_id", 3, &err);
    if (st == SB_OK)
        st = sb_gguf_writer_set_u32(w, "tokenizer.ggml.mask_token_id", 4, &err);
    return st;
}

bool tt_wpm_vocab(tt_vocab *out) {
    int32_t types[WPM_N];
    for (size_t i = 0; i < WPM_N; i++)
        types[i] = i < 5 ? SB_TOKEN_TYPE_CONTROL : SB_TOKEN_TYPE_NORMAL;
    types[WPM_N - 2] = SB_TOKEN_TYPE_CONTROL;
    types[WPM_N - 1] = SB_TOKEN_TYPE_USER_DEFINED;
    tt_spec s = {.model = "bert", .pre = "bert-bge", .tokens = WPM_TOKENS, .n_tokens = WPM_N, .types = types,
                 .n_types = WPM_N, .extra = wpm_keys};
    return tt_build(&s, out);
}

sb_tokenizer *tt_shared_tokenizer(const char *name) {
    char rel[256];
    snprintf(rel, sizeof rel, "models/vocab/ggml-vocab-%s.gguf", name);
    const char *path = sb_test_shared(rel);
    if (!path)
        return NULL;
    sb_gguf *g = NULL;
    sb_tokenizer *t = NULL;
    sb_error err = {0};
    if (sb_gguf_open(path, &g, &err) != SB_OK || sb_tokenizer_create(g, &t, &err) != SB_OK)
        fprintf(stderr, "%s: %s\n", rel, err.msg);
    sb_gguf_close(g);
    return t;
}

bool tt_ids_equal(const int32_t *got, size_t ngot, const int32_t *want, size_t nwant) {
    if (ngot != nwant)
        return false;
    for (size_t i = 0; i < ngot; i++)
        if (got[i] != want[i])
            return false;
    return true;
}
