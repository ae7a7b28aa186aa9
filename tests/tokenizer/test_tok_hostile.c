/*
 * test_tok_hostile.c - broken tokenizer metadata, allocation failures and
 * ids out of range: every case is a clear error, never a crash or a leak
 * (the ASan build checks the latter).
 */
#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_test.h"
#include "tok_test_util.h"

#include <stdio.h>
#include <string.h>

static const char *const FIVE[] = {"a", "b", "c", "ab", "abc"};
static const int32_t FIVE_TYPES[] = {1, 1, 1, 1, 1};
static const float FIVE_SCORES[] = {0, 0, 0, -1, -2};
static const char *const FIVE_MERGES[] = {"a b", "ab c"};

/* Builds spec, creates a tokenizer, expects status `want` and `needle` in
 * the message. */
static void expect_error(const char *what, const tt_spec *spec, sb_status want, const char *needle) {
    tt_vocab v;
    if (!tt_build(spec, &v)) {
        SB_CHECKF(false, "%s: cannot build the vocabulary", what);
        return;
    }
    sb_tokenizer *t = NULL;
    sb_error err = {0};
    sb_status st = sb_tokenizer_create(v.g, &t, &err);
    SB_CHECKF(st == want && t == NULL, "%s: status %s (want %s): %s", what, sb_status_name(st), sb_status_name(want),
              err.msg);
    SB_CHECKF(!needle || strstr(err.msg, needle), "%s: message '%s' lacks '%s'", what, err.msg, needle);
    sb_tokenizer_free(t);
    tt_free(&v);
}

static sb_status k_tokens_as_ints(sb_gguf_writer *w, void *ud) {
    (void)ud;
    int32_t v[3] = {1, 2, 3};
    return sb_gguf_writer_set_array(w, "tokenizer.ggml.tokens", SB_GGUF_INT32, v, 3, NULL);
}
static sb_status k_tokens_as_string(sb_gguf_writer *w, void *ud) {
    (void)ud;
    return sb_gguf_writer_set_string(w, "tokenizer.ggml.tokens", "abc", 3, NULL);
}
static sb_status k_scores_strings(sb_gguf_writer *w, void *ud) {
    (void)ud;
    sb_str s[5] = {{"1", 1}, {"2", 1}, {"3", 1}, {"4", 1}, {"5", 1}};
    return sb_gguf_writer_set_string_array(w, "tokenizer.ggml.scores", s, 5, NULL);
}
static sb_status k_types_float(sb_gguf_writer *w, void *ud) {
    (void)ud;
    float v[5] = {1, 1, 1, 1, 1};
    return sb_gguf_writer_set_array(w, "tokenizer.ggml.token_type", SB_GGUF_FLOAT32, v, 5, NULL);
}
static sb_status k_merges_ints(sb_gguf_writer *w, void *ud) {
    (void)ud;
    int32_t v[2] = {1, 2};
    return sb_gguf_writer_set_array(w, "tokenizer.ggml.merges", SB_GGUF_INT32, v, 2, NULL);
}
static sb_status k_bos_big(sb_gguf_writer *w, void *ud) {
    (void)ud;
    return sb_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 99999, NULL);
}
static sb_status k_eos_negative(sb_gguf_writer *w, void *ud) {
    (void)ud;
    return sb_gguf_writer_set_i32(w, "tokenizer.ggml.eos_token_id", -5, NULL);
}
static sb_status k_unk_string(sb_gguf_writer *w, void *ud) {
    (void)ud;
    return sb_gguf_writer_set_string(w, "tokenizer.ggml.unknown_token_id", "0", 1, NULL);
}
static sb_status k_pad_unset(sb_gguf_writer *w, void *ud) {
    (void)ud;
    sb_status st = sb_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 4294967295u, NULL);
    if (st == SB_OK)
        st = sb_gguf_writer_set_i32(w, "tokenizer.ggml.seperator_token_id", -1, NULL);
    return st;
}
static sb_status k_add_bos(sb_gguf_writer *w, void *ud) {
    (void)ud;
    return sb_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", true, NULL);
}
static sb_status k_add_bos_u32(sb_gguf_writer *w, void *ud) {
    (void)ud;
    return sb_gguf_writer_set_u32(w, "tokenizer.ggml.add_bos_token", 1, NULL);
}
static sb_status k_pre_int(sb_gguf_writer *w, void *ud) {
    (void)ud;
    return sb_gguf_writer_set_u32(w, "tokenizer.ggml.pre", 3, NULL);
}

static void test_hostile_metadata(void) {
    tt_spec base = {.model = "llama", .tokens = FIVE, .n_tokens = 5, .types = FIVE_TYPES, .n_types = 5,
                    .scores = FIVE_SCORES, .n_scores = 5};
    tt_spec s;

    s = base;
    s.model = NULL;
    expect_error("no model key", &s, SB_ERR_NOT_FOUND, "tokenizer.ggml.model");
    s = base;
    s.model = "t5";
    expect_error("unknown model", &s, SB_ERR_UNSUPPORTED, "'t5'");
    s = base;
    s.model = "gpt2";
    s.pre = "no-such-pre";
    s.merges = FIVE_MERGES;
    s.n_merges = 2;
    expect_error("unknown pre", &s, SB_ERR_UNSUPPORTED, "'no-such-pre'");
    s.pre = NULL;
    s.extra = k_pre_int;
    expect_error("pre of the wrong type", &s, SB_ERR_FORMAT, "tokenizer.ggml.pre");
    s = base;
    s.tokens = NULL;
    expect_error("no tokens", &s, SB_ERR_FORMAT, "tokenizer.ggml.tokens");
    s.extra = k_tokens_as_ints;
    expect_error("tokens of ints", &s, SB_ERR_FORMAT, "tokenizer.ggml.tokens");
    s.extra = k_tokens_as_string;
    expect_error("tokens as one string", &s, SB_ERR_FORMAT, "tokenizer.ggml.tokens");
    s = base;
    s.n_tokens = 0;
    s.n_types = s.n_scores = 0;
    expect_error("empty vocabulary", &s, SB_ERR_FORMAT, "tokenizer.ggml.tokens");
    s = base;
    s.n_scores = 4;
    expect_error("short scores", &s, SB_ERR_FORMAT, "scores");
    s = base;
    s.scores = NULL;
    s.extra = k_scores_strings;
    expect_error("scores of strings", &s, SB_ERR_FORMAT, "scores");
    s = base;
    s.n_types = 3;
    expect_error("short token_type", &s, SB_ERR_FORMAT, "token_type");
    s = base;
    s.types = NULL;
    s.extra = k_types_float;
    expect_error("token_type of floats", &s, SB_ERR_FORMAT, "token_type");
    static const char *const DUP[] = {"a", "b", "a", "ab", "abc"};
    s = base;
    s.tokens = DUP;
    expect_error("duplicate token", &s, SB_ERR_FORMAT, "duplicate");

    tt_spec bpe = {.model = "gpt2", .pre = "gpt-2", .tokens = FIVE, .n_tokens = 5, .types = FIVE_TYPES, .n_types = 5,
                   .merges = FIVE_MERGES, .n_merges = 2};
    s = bpe;
    s.merges = NULL;
    s.n_merges = 0;
    expect_error("no merges", &s, SB_ERR_FORMAT, "merges");
    s.extra = k_merges_ints;
    expect_error("merges of ints", &s, SB_ERR_FORMAT, "merges");
    static const char *const NOSPACE[] = {"a b", "abc"};
    s = bpe;
    s.merges = NOSPACE;
    expect_error("merge without a space", &s, SB_ERR_FORMAT, "merges[1]");
    static const char *const LEADSPACE[] = {" ab"};
    s.merges = LEADSPACE;
    s.n_merges = 1;
    expect_error("merge with only a leading space", &s, SB_ERR_FORMAT, "merges[0]");
    static const char *const UNKNOWN[] = {"a b", "ab zz"};
    s.merges = UNKNOWN;
    s.n_merges = 2;
    expect_error("merge of an unknown token", &s, SB_ERR_FORMAT, "'zz'");
    static const char *const EMPTY_RIGHT[] = {"a "};
    s.merges = EMPTY_RIGHT;
    s.n_merges = 1;
    expect_error("merge with an empty right side", &s, SB_ERR_FORMAT, "unknown token");

    s = base;
    s.extra = k_bos_big;
    expect_error("bos out of range", &s, SB_ERR_FORMAT, "bos_token_id = 99999");
    s.extra = k_eos_negative;
    expect_error("negative eos", &s, SB_ERR_FORMAT, "eos_token_id = -5");
    s.extra = k_unk_string;
    expect_error("unk of the wrong type", &s, SB_ERR_FORMAT, "unknown_token_id");
    /* gpt2's default BOS (11) does not exist in 5 tokens: add_bos cannot hold */
    s = bpe;
    s.extra = k_add_bos;
    expect_error("add_bos without a bos", &s, SB_ERR_FORMAT, "add_bos_token");
    s = base;
    s.extra = k_add_bos_u32;
    expect_error("add_bos of the wrong type", &s, SB_ERR_FORMAT, "add_bos_token");

    /* "not set" sentinels keep llama.cpp's defaults */
    s = base;
    s.extra = k_pad_unset;
    tt_vocab v;
    SB_CHECK(tt_build(&s, &v));
    sb_tokenizer *t = NULL;
    sb_error err = {0};
    SB_CHECKF(sb_tokenizer_create(v.g, &t, &err) == SB_OK, "%s", err.msg);
    if (t) {
        SB_CHECK(sb_tokenizer_pad(t) == -1 && sb_tokenizer_sep(t) == -1);
        SB_CHECK(sb_tokenizer_bos(t) == 1 && sb_tokenizer_eos(t) == 2 && sb_tokenizer_unk(t) == 0);
    }
    sb_tokenizer_free(t);
    tt_free(&v);
    /* an empty token gets llama.cpp's placeholder text */
    static const char *const WITH_EMPTY[] = {"a", "", "c", "ab", "abc"};
    s = base;
    s.tokens = WITH_EMPTY;
    SB_CHECK(tt_build(&s, &v));
    t = NULL;
    SB_CHECK(sb_tokenizer_create(v.g, &t, &err) == SB_OK);
    if (t) {
        sb_str txt = sb_tokenizer_token_text(t, 1);
        SB_CHECK(sb_str_eq_cstr(txt, "[EMPTY_1]"));
    }
    sb_tokenizer_free(t);
    tt_free(&v);
}

static void test_ids_out_of_range(void) {
    tt_vocab v;
    SB_CHECK(tt_spm_vocab(&v));
    sb_tokenizer *t = NULL;
    SB_CHECK(sb_tokenizer_create(v.g, &t, NULL) == SB_OK);
    tt_free(&v);
    if (!t)
        return;
    int32_t n = sb_tokenizer_n_vocab(t);
    const int32_t bad[][3] = {{271, n, 271}, {-1, 271, 271}, {271, 271, INT32_MAX}, {INT32_MIN, 0, 0}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sb_buf b;
        sb_buf_init(&b);
        sb_buf_puts(&b, "keep");
        sb_error err = {0};
        SB_CHECK(sb_detokenize(t, bad[i], 3, false, true, &b, &err) == SB_ERR_RANGE);
        char num[32];
        int32_t id = bad[i][0] != 271 ? bad[i][0] : bad[i][1] != 271 ? bad[i][1] : bad[i][2];
        snprintf(num, sizeof num, "%d", (int)id);
        SB_CHECKF(strstr(err.msg, num) != NULL, "message '%s' lacks %s", err.msg, num);
        SB_CHECK(b.len == 4 && strcmp(b.data, "keep") == 0);
        sb_buf_free(&b);
    }
    char buf[8];
    SB_CHECK(sb_token_to_piece(t, n, buf, sizeof buf, 0, true) == 0);
    SB_CHECK(sb_token_to_piece(t, -3, buf, sizeof buf, 0, true) == 0);
    SB_CHECK(!sb_tokenizer_is_eog(t, n) && !sb_tokenizer_is_eog(t, -1) && !sb_tokenizer_is_control(t, n));
    SB_CHECK(sb_tokenizer_token_text(t, n).len == 0);
    SB_CHECK(sb_tokenizer_token_type(t, -1) == SB_TOKEN_TYPE_UNDEFINED);
    sb_tokenizer_free(t);
}

/* Fails the 1st, 2nd, ... allocation of create + tokenize + detokenize +
 * stream until a run goes through; every failed run must report NOMEM. */
static void alloc_fail_loop(const char *what, const tt_vocab *v, const char *text) {
    long limit = 20000;
    long n;
    for (n = 1; n < limit; n++) {
        sb_alloc_fail_nth(n);
        sb_tokenizer *t = NULL;
        int32_t *ids = NULL;
        size_t nids = 0;
        sb_buf b;
        sb_buf_init(&b);
        sb_detok_stream *s = NULL;
        sb_error err = {0};
        sb_status st = sb_tokenizer_create(v->g, &t, &err);
        if (st == SB_OK)
            st = sb_tokenize(t, text, strlen(text), true, true, &ids, &nids, &err);
        if (st == SB_OK)
            st = sb_detokenize(t, ids, nids, false, true, &b, &err);
        if (st == SB_OK) {
            s = sb_detok_stream_create(t, true);
            st = s ? SB_OK : SB_ERR_NOMEM;
            for (size_t i = 0; st == SB_OK && i < nids; i++)
                st = sb_detok_stream_push(s, ids[i], &b, &err);
            if (st == SB_OK)
                st = sb_detok_stream_flush(s, &b, &err);
        }
        bool fired = sb_alloc_injected_fired() != 0;
        sb_alloc_fail_nth(0);
        if (fired)
            SB_CHECKF(st == SB_ERR_NOMEM, "%s: allocation %ld failed but status is %s (%s)", what, n,
                      sb_status_name(st), err.msg);
        else
            SB_CHECKF(st == SB_OK, "%s: %s", what, err.msg);
        sb_detok_stream_free(s);
        sb_buf_free(&b);
        sb_free(ids);
        sb_tokenizer_free(t);
        if (!fired)
            break;
    }
    SB_CHECKF(n < limit, "%s: still failing after %ld allocations", what, limit);
    printf("%s: %ld allocation points checked\n", what, n - 1);
}

static void test_alloc_failures(void) {
    static const char text[] = "hello world<ctl> hi<tool>\xf0\x9f\xa6\x99 Caf\xc3\xa9, \xe4\xb8\xad 123 'S\n";
    tt_vocab v;
    SB_CHECK(tt_spm_vocab(&v));
    alloc_fail_loop("spm", &v, text);
    tt_free(&v);
    static const char *const pres[] = {"gpt-2", "llama-bpe", "qwen2", "deepseek-coder", "deepseek-llm", "default"};
    for (size_t i = 0; i < sizeof pres / sizeof pres[0]; i++) {
        SB_CHECK(tt_bpe_vocab(pres[i], &v));
        char what[64];
        snprintf(what, sizeof what, "bpe/%s", pres[i]);
        alloc_fail_loop(what, &v, text);
        tt_free(&v);
    }
    SB_CHECK(tt_wpm_vocab(&v));
    alloc_fail_loop("wpm", &v, text);
    tt_free(&v);
}

int main(void) {
    SB_RUN(test_hostile_metadata);
    SB_RUN(test_ids_out_of_range);
    SB_RUN(test_alloc_failures);
    return sb_test_finish();
}
