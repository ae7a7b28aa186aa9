/*
 * test_tok_unit.c - tokenizer behaviour: the three algorithms on small
 * in-memory vocabularies, special tokens with and without parse_special,
 * BOS/EOS, pieces and detokenize (round trips), the streaming decoder, the
 * end-of-generation set, every pre-tokenizer of the table, and (with
 * ../shared) the same on real vocabularies.
 */
#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_file.h"
#include "sb_rng.h"
#include "sb_test.h"
#include "sb_utf8.h"
#include "tok_internal.h"
#include "tok_pretok_defs.h"
#include "tok_test_util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define IDS(...) ((const int32_t[]){__VA_ARGS__}), (sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))

static bool tok_is(const sb_tokenizer *t, const char *text, bool add_special, bool parse_special, const int32_t *want,
                   size_t nwant) {
    int32_t *ids = NULL;
    size_t n = 0;
    sb_error err = {0};
    sb_status st = sb_tokenize(t, text, strlen(text), add_special, parse_special, &ids, &n, &err);
    bool ok = st == SB_OK && tt_ids_equal(ids, n, want, nwant);
    if (!ok) {
        fprintf(stderr, "  tokenize('%s') = [", text);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "%s%d", i ? " " : "", (int)ids[i]);
        fprintf(stderr, "] %s\n", st == SB_OK ? "" : err.msg);
    }
    sb_free(ids);
    return ok;
}

/* detokenize(ids) == want */
static bool detok_is(const sb_tokenizer *t, const int32_t *ids, size_t n, bool remove_special, bool unparse,
                     const char *want) {
    sb_buf b;
    sb_buf_init(&b);
    sb_error err = {0};
    sb_status st = sb_detokenize(t, ids, n, remove_special, unparse, &b, &err);
    bool ok = st == SB_OK && b.len == strlen(want) && memcmp(b.data ? b.data : "", want, b.len) == 0;
    if (!ok)
        fprintf(stderr, "  detokenize = '%s' (want '%s') %s\n", b.data ? b.data : "", want, st ? err.msg : "");
    sb_buf_free(&b);
    return ok;
}

static bool roundtrip(const sb_tokenizer *t, const char *text, size_t len, bool parse_special) {
    int32_t *ids = NULL;
    size_t n = 0;
    sb_buf b;
    sb_buf_init(&b);
    bool ok = sb_tokenize(t, text, len, false, parse_special, &ids, &n, NULL) == SB_OK &&
              sb_detokenize(t, ids, n, false, parse_special, &b, NULL) == SB_OK && b.len == len &&
              memcmp(b.data ? b.data : "", text, len) == 0;
    if (!ok)
        fprintf(stderr, "  round trip of '%.*s' gave '%s'\n", (int)len, text, b.data ? b.data : "");
    sb_free(ids);
    sb_buf_free(&b);
    return ok;
}

/* ---- synthetic vocabularies -------------------------------------------- */

static void test_spm_small(void) {
    tt_vocab v;
    SB_CHECK(tt_spm_vocab(&v));
    sb_tokenizer *t = NULL;
    sb_error err = {0};
    SB_CHECKF(sb_tokenizer_create(v.g, &t, &err) == SB_OK, "%s", err.msg);
    if (!t) {
        tt_free(&v);
        return;
    }
    tt_free(&v); /* the tokenizer keeps copies */
    SB_CHECK(sb_tokenizer_get_kind(t) == SB_TOKENIZER_SPM);
    SB_CHECK(sb_tokenizer_n_vocab(t) == 277);
    SB_CHECK(sb_tokenizer_bos(t) == 1 && sb_tokenizer_eos(t) == 2 && sb_tokenizer_unk(t) == 0);
    SB_CHECK(sb_tokenizer_add_bos(t) && !sb_tokenizer_add_eos(t) && sb_tokenizer_add_space_prefix(t));
    SB_CHECK(sb_tokenizer_nl(t) == 3 + '\n');
    /* best-scoring pair first, leftmost on ties; no "▁world" path */
    SB_CHECK(tok_is(t, "hello world", false, false, IDS(271, 272, 273, 262, 266)));
    SB_CHECK(tok_is(t, "hello world", true, false, IDS(1, 271, 272, 273, 262, 266)));
    /* byte fallback */
    SB_CHECK(tok_is(t, "hi", false, false, IDS(267, 3 + 'i')));
    SB_CHECK(tok_is(t, "\xf0\x9f\xa6\x99", false, false, IDS(259, 3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99)));
    SB_CHECK(tok_is(t, "", true, false, IDS(1)));
    /* control tokens only with parse_special; user-defined always; a space
     * prefix after each special */
    SB_CHECK(tok_is(t, "<ctl>hello", false, true, IDS(275, 271)));
    SB_CHECK(tok_is(t, "<ctl>hello", false, false, IDS(259, 3 + '<', 3 + 'c', 3 + 't', 262, 3 + '>', 260, 261, 270)));
    SB_CHECK(tok_is(t, "hello<tool>world", false, false, IDS(271, 276, 272, 273, 262, 266)));
    SB_CHECK(tok_is(t, "<s>", false, true, IDS(1)));
    /* forced BOS/EOS */
    int32_t *ids = NULL;
    size_t n = 0;
    sb_tokenize_opts o = {0, 1, false};
    SB_CHECK(sb_tokenize_ex(t, "hello", 5, &o, &ids, &n, NULL) == SB_OK && tt_ids_equal(ids, n, IDS(271, 2)));
    sb_free(ids);
    /* detokenize: leading space removed, BOS dropped with remove_special */
    SB_CHECK(detok_is(t, IDS(271, 272, 273, 262, 266), false, false, "hello world"));
    SB_CHECK(detok_is(t, IDS(1, 271), true, false, " hello"));
    SB_CHECK(detok_is(t, IDS(1, 271), false, false, " hello"));
    SB_CHECK(detok_is(t, IDS(1, 271), false, true, "<s> hello"));
    SB_CHECK(detok_is(t, IDS(3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99), false, false, "\xf0\x9f\xa6\x99"));
    SB_CHECK(roundtrip(t, "hello world hi \xf0\x9f\xa6\x99  x", strlen("hello world hi \xf0\x9f\xa6\x99  x"), false));
    /* pieces */
    char buf[16];
    SB_CHECK(sb_token_to_piece(t, 271, buf, sizeof buf, 0, false) == 6 && memcmp(buf, " hello", 6) == 0);
    SB_CHECK(sb_token_to_piece(t, 271, buf, sizeof buf, 1, false) == 5 && memcmp(buf, "hello", 5) == 0);
    SB_CHECK(sb_token_to_piece(t, 271, buf, 3, 0, false) == -6);
    SB_CHECK(sb_token_to_piece(t, 1, buf, sizeof buf, 0, false) == 0);
    SB_CHECK(sb_token_to_piece(t, 1, buf, sizeof buf, 0, true) == 3 && memcmp(buf, "<s>", 3) == 0);
    SB_CHECK(sb_token_to_piece(t, 276, buf, sizeof buf, 0, false) == 6); /* user-defined: always rendered */
    SB_CHECK(sb_token_to_piece(t, 3 + 'A', buf, sizeof buf, 0, false) == 1 && buf[0] == 'A');
    SB_CHECK(sb_tokenizer_find(t, "\xe2\x96\x81hello", 8) == 271 && sb_tokenizer_find(t, "nope", 4) == -1);
    SB_CHECK(sb_tokenizer_token_type(t, 0) == SB_TOKEN_TYPE_UNKNOWN);
    SB_CHECK(sb_tokenizer_token_type(t, 3) == SB_TOKEN_TYPE_BYTE);
    SB_CHECK(sb_tokenizer_token_type(t, 276) == SB_TOKEN_TYPE_USER_DEFINED);
    SB_CHECK(sb_tokenizer_is_eog(t, 2) && !sb_tokenizer_is_eog(t, 1) && sb_tokenizer_is_control(t, 2));
    sb_tokenizer_free(t);
}

static void test_bpe_small(void) {
    tt_vocab v;
    SB_CHECK(tt_bpe_vocab("gpt-2", &v));
    sb_tokenizer *t = NULL;
    sb_error err = {0};
    SB_CHECKF(sb_tokenizer_create(v.g, &t, &err) == SB_OK, "%s", err.msg);
    tt_free(&v);
    if (!t)
        return;
    SB_CHECK(sb_tokenizer_get_kind(t) == SB_TOKENIZER_BPE);
    SB_CHECK(!sb_tokenizer_add_bos(t));
    SB_CHECK(tok_is(t, "hello world", false, false, IDS(259, 264)));
    SB_CHECK(tok_is(t, "hello world", true, false, IDS(259, 264))); /* gpt-2 adds nothing */
    SB_CHECK(tok_is(t, "hi", false, false, IDS('h', 'i')));
    SB_CHECK(tok_is(t, "hello<|endoftext|>", false, true, IDS(259, 265)));
    SB_CHECK(tok_is(t, "a<tool>b", false, false, IDS('a', 267, 'b')));
    SB_CHECK(tok_is(t, "a\nb", false, false, IDS('a', '\n', 'b')));
    SB_CHECK(sb_tokenizer_is_eog(t, 265)); /* "<|endoftext|>" is an end-of-generation text */
    SB_CHECK(detok_is(t, IDS(259, 264), false, false, "hello world"));
    SB_CHECK(detok_is(t, IDS(259, 265), false, false, "hello"));
    SB_CHECK(detok_is(t, IDS(259, 265), false, true, "hello<|endoftext|>"));
    SB_CHECK(roundtrip(t, "hello world \xf0\x9f\xa6\x99 \xe4\xb8\xad", strlen("hello world \xf0\x9f\xa6\x99 \xe4\xb8\xad"),
                       false));
    /* forcing a BOS the model has (default id 11) works; with none it is refused */
    int32_t *ids = NULL;
    size_t n = 0;
    sb_tokenize_opts o = {1, 0, false};
    SB_CHECK(sb_tokenize_ex(t, "hello", 5, &o, &ids, &n, NULL) == SB_OK && tt_ids_equal(ids, n, IDS(11, 259)));
    sb_free(ids);
    sb_tokenizer_free(t);
}

static void test_wpm_small(void) {
    tt_vocab v;
    SB_CHECK(tt_wpm_vocab(&v));
    sb_tokenizer *t = NULL;
    sb_error err = {0};
    SB_CHECKF(sb_tokenizer_create(v.g, &t, &err) == SB_OK, "%s", err.msg);
    tt_free(&v);
    if (!t)
        return;
    SB_CHECK(sb_tokenizer_get_kind(t) == SB_TOKENIZER_WPM);
    SB_CHECK(sb_tokenizer_cls(t) == 2 && sb_tokenizer_sep(t) == 3 && sb_tokenizer_unk(t) == 1);
    SB_CHECK(tok_is(t, "Hello, WORLD!", false, false, IDS(5, 10, 6, 11)));
    SB_CHECK(tok_is(t, "Hello, WORLD!", true, false, IDS(2, 5, 10, 6, 11, 3)));
    SB_CHECK(tok_is(t, "unaffable", false, false, IDS(7, 8, 9)));
    SB_CHECK(tok_is(t, "Caf\xc3\xa9", false, false, IDS(12)));         /* NFD + mark stripping */
    SB_CHECK(tok_is(t, "Cafe\xcc\x81", false, false, IDS(12)));        /* decomposed accent */
    SB_CHECK(tok_is(t, "\xe4\xb8\xad\xe4\xb8\xad", false, false, IDS(13, 13))); /* CJK split */
    SB_CHECK(tok_is(t, "xyz hello", false, false, IDS(1, 5)));         /* [UNK] for a word */
    SB_CHECK(tok_is(t, "hello<tool>", false, false, IDS(5, 15)));
    SB_CHECK(tok_is(t, "[CLS]hello", false, true, IDS(2, 5)));
    SB_CHECK(detok_is(t, IDS(5, 10, 6, 11), false, false, " hello, world!"));
    SB_CHECK(detok_is(t, IDS(2, 5, 3), false, true, "[CLS] hello[SEP]"));
    sb_tokenizer_free(t);
}

/* Every pre-tokenizer of the table compiles and splits a mixed text. */
static void test_all_pretokenizers(void) {
    static const char text[] = "Hello, y'all! 3.14159 \xe4\xb8\xad\xe6\x96\x87 caf\xc3\xa9\t\n\n  x  \xf0\x9f\xa6\x99"
                               " \xe3\x80\x80\xef\xbc\x81 'S 's \xce\xa9\xe2\x84\xa6";
    for (size_t i = 0; i < sb_pretok_defs_count; i++) {
        for (const char *const *name = sb_pretok_defs[i].names; *name; name++) {
            tt_vocab v;
            SB_CHECK(tt_bpe_vocab(*name, &v));
            sb_tokenizer *t = NULL;
            sb_error err = {0};
            SB_CHECKF(sb_tokenizer_create(v.g, &t, &err) == SB_OK, "pre '%s': %s", *name, err.msg);
            tt_free(&v);
            if (!t)
                continue;
            if (!sb_pretok_defs[i].clean_spaces)
                SB_CHECKF(roundtrip(t, text, sizeof text - 1, false), "pre '%s'", *name);
            int32_t *ids = NULL;
            size_t n = 0;
            SB_CHECKF(sb_tokenize(t, text, sizeof text - 1, false, false, &ids, &n, &err) == SB_OK && n > 10,
                      "pre '%s': %s", *name, err.msg);
            sb_free(ids);
            sb_tokenizer_free(t);
        }
    }
}

/* llama.cpp's text-based rules: EOG strings become CONTROL + EOG, EOT/FIM
 * tokens are found by text, gpt-oss's channel tokens are USER_DEFINED,
 * "<|end|>" is no EOG next to "<|return|>" and "<|call|>", "</s>" is no EOG
 * next to "<|tool_response>". */
static void test_text_rules(void) {
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "a", "<|return|>", "<|call|>", "<|end|>", "<|channel|>",
                                       "<|tool_response>", "<|fim_pad|>", "<|endoftext|>", "<|im_end|>", "<x_unused_1>",
                                       "b"};
    int32_t types[14] = {2, 3, 1, 1, 3, 3, 3, 3, 1, 1, 1, 1, 3, 1};
    tt_spec spec = {.model = "llama", .tokens = toks, .n_tokens = 14, .types = types, .n_types = 14};
    tt_vocab v;
    SB_CHECK(tt_build(&spec, &v));
    sb_tokenizer *t = NULL;
    sb_error err = {0};
    SB_CHECKF(sb_tokenizer_create(v.g, &t, &err) == SB_OK, "%s", err.msg);
    tt_free(&v);
    if (!t)
        return;
    SB_CHECK(sb_tokenizer_is_eog(t, 4) && sb_tokenizer_is_eog(t, 5)); /* <|return|> <|call|> */
    SB_CHECK(!sb_tokenizer_is_eog(t, 6) && sb_tokenizer_token_type(t, 6) == SB_TOKEN_TYPE_USER_DEFINED);
    SB_CHECK(sb_tokenizer_token_type(t, 7) == SB_TOKEN_TYPE_USER_DEFINED);           /* <|channel|> */
    SB_CHECK(sb_tokenizer_is_eog(t, 8) && sb_tokenizer_is_control(t, 8));           /* forced CONTROL */
    SB_CHECK(!sb_tokenizer_is_eog(t, 2) && sb_tokenizer_token_type(t, 2) == SB_TOKEN_TYPE_NORMAL); /* </s> */
    SB_CHECK(sb_tokenizer_is_eog(t, 9) && sb_tokenizer_is_control(t, 9));           /* FIM pad */
    SB_CHECK(sb_tokenizer_eot(t) == 11);                                             /* highest candidate */
    SB_CHECK(sb_tokenizer_is_eog(t, 10) && sb_tokenizer_is_eog(t, 11));
    SB_CHECK(sb_tokenizer_token_attr(t, 12) & SB_TOKEN_ATTR_UNUSED);                 /* "unused" control */
    SB_CHECK(!sb_tokenizer_is_eog(t, 3) && !sb_tokenizer_is_control(t, 3));
    /* "<|end|>" is now user-defined: matched in text without parse_special */
    SB_CHECK(tok_is(t, "<|end|>", false, false, IDS(6)));
    sb_tokenizer_free(t);
}

/* ---- streaming decoder --------------------------------------------------- */

static void test_stream_small(void) {
    tt_vocab v;
    SB_CHECK(tt_spm_vocab(&v));
    sb_tokenizer *t = NULL;
    SB_CHECK(sb_tokenizer_create(v.g, &t, NULL) == SB_OK);
    tt_free(&v);
    if (!t)
        return;
    sb_detok_stream *s = sb_detok_stream_create(t, false);
    SB_CHECK(s != NULL);
    sb_buf out;
    sb_buf_init(&out);
    /* an emoji in four byte tokens comes out whole with the last one */
    const int32_t emoji[] = {3 + 0xF0, 3 + 0x9F, 3 + 0xA6, 3 + 0x99};
    SB_CHECK(sb_detok_stream_push(s, 271, &out, NULL) == SB_OK && out.len == 6);
    for (int i = 0; i < 3; i++)
        SB_CHECK(sb_detok_stream_push(s, emoji[i], &out, NULL) == SB_OK && out.len == 6);
    SB_CHECK(sb_detok_stream_push(s, emoji[3], &out, NULL) == SB_OK && out.len == 10);
    SB_CHECK(memcmp(out.data, " hello\xf0\x9f\xa6\x99", 10) == 0);
    /* a byte that can never start a character: U+FFFD at once */
    sb_buf_reset(&out);
    SB_CHECK(sb_detok_stream_push(s, 3 + 0xFF, &out, NULL) == SB_OK && out.len == 3 &&
             memcmp(out.data, "\xef\xbf\xbd", 3) == 0);
    /* a lead byte followed by a non-continuation: U+FFFD, then the letter */
    sb_buf_reset(&out);
    SB_CHECK(sb_detok_stream_push(s, 3 + 0xE2, &out, NULL) == SB_OK && out.len == 0);
    SB_CHECK(sb_detok_stream_push(s, 3 + 'a', &out, NULL) == SB_OK && out.len == 4 &&
             memcmp(out.data, "\xef\xbf\xbd" "a", 4) == 0);
    /* an unfinished character at the end: U+FFFD only at flush */
    sb_buf_reset(&out);
    SB_CHECK(sb_detok_stream_push(s, 3 + 0xE2, &out, NULL) == SB_OK);
    SB_CHECK(sb_detok_stream_push(s, 3 + 0x82, &out, NULL) == SB_OK && out.len == 0);
    SB_CHECK(sb_detok_stream_flush(s, &out, NULL) == SB_OK && out.len == 3 && memcmp(out.data, "\xef\xbf\xbd", 3) == 0);
    /* surrogates and overlongs are never valid */
    sb_buf_reset(&out);
    SB_CHECK(sb_detok_stream_push(s, 3 + 0xED, &out, NULL) == SB_OK && out.len == 0);
    SB_CHECK(sb_detok_stream_push(s, 3 + 0xA0, &out, NULL) == SB_OK && out.len == 6); /* ED, then A0 */
    SB_CHECK(sb_detok_stream_flush(s, &out, NULL) == SB_OK && out.len == 6);
    /* control tokens: hidden unless unparse_special */
    sb_buf_reset(&out);
    SB_CHECK(sb_detok_stream_push(s, 2, &out, NULL) == SB_OK && out.len == 0);
    sb_error err = {0};
    SB_CHECK(sb_detok_stream_push(s, 277, &out, &err) == SB_ERR_RANGE && strstr(err.msg, "277"));
    SB_CHECK(sb_detok_stream_push(s, -1, &out, &err) == SB_ERR_RANGE);
    sb_detok_stream_free(s);
    s = sb_detok_stream_create(t, true);
    SB_CHECK(sb_detok_stream_push(s, 2, &out, NULL) == SB_OK && out.len == 4 && memcmp(out.data, "</s>", 4) == 0);
    sb_detok_stream_free(s);
    sb_buf_free(&out);
    sb_tokenizer_free(t);
}

/* Random token sequences: every push appends valid UTF-8, and when the
 * pieces together are valid UTF-8 the stream gives exactly that text. */
static void stream_property(const sb_tokenizer *t, uint64_t seed, int rounds) {
    sb_rng r;
    sb_rng_seed(&r, seed);
    int32_t nv = sb_tokenizer_n_vocab(t);
    for (int round = 0; round < rounds; round++) {
        sb_detok_stream *s = sb_detok_stream_create(t, true);
        sb_buf out, pieces;
        sb_buf_init(&out);
        sb_buf_init(&pieces);
        int n = 1 + (int)sb_rng_below(&r, 24);
        bool chunks_valid = true;
        for (int i = 0; i < n; i++) {
            int32_t id = (int32_t)sb_rng_below(&r, (uint64_t)nv);
            char buf[512];
            int l = sb_token_to_piece(t, id, buf, sizeof buf, 0, true);
            if (l > 0)
                sb_buf_append(&pieces, buf, (size_t)l);
            size_t before = out.len;
            SB_CHECK(sb_detok_stream_push(s, id, &out, NULL) == SB_OK);
            if (!sb_utf8_valid(out.data + before, out.len - before))
                chunks_valid = false;
        }
        size_t before = out.len;
        SB_CHECK(sb_detok_stream_flush(s, &out, NULL) == SB_OK);
        chunks_valid = chunks_valid && sb_utf8_valid(out.data + before, out.len - before);
        SB_CHECK(chunks_valid);
        if (sb_utf8_valid(pieces.data ? pieces.data : "", pieces.len))
            SB_CHECK(out.len == pieces.len && memcmp(out.data ? out.data : "", pieces.data ? pieces.data : "",
                                                     out.len) == 0);
        sb_buf_free(&out);
        sb_buf_free(&pieces);
        sb_detok_stream_free(s);
    }
}

/* ---- real vocabularies (../shared) ------------------------------------- */

static void test_real_vocabs(void) {
    sb_tokenizer *t;
    if ((t = tt_shared_tokenizer("llama-spm"))) {
        SB_CHECK(tok_is(t, "Hello world", true, false, IDS(1, 15043, 3186)));
        SB_CHECK(tok_is(t, "<s>Hello", false, true, IDS(1, 15043)));
        /* llama.cpp keeps the leading space when remove_special drops the BOS */
        SB_CHECK(detok_is(t, IDS(1, 15043, 3186), true, false, " Hello world"));
        SB_CHECK(detok_is(t, IDS(15043, 3186), true, false, "Hello world"));
        /* an emoji in byte tokens through the stream */
        int32_t *ids = NULL;
        size_t n = 0;
        SB_CHECK(sb_tokenize(t, "\xf0\x9f\xa6\x99", 4, false, false, &ids, &n, NULL) == SB_OK && n == 5);
        sb_detok_stream *s = sb_detok_stream_create(t, false);
        sb_buf out;
        sb_buf_init(&out);
        for (size_t i = 0; i < n; i++) {
            SB_CHECK(sb_detok_stream_push(s, ids[i], &out, NULL) == SB_OK);
            SB_CHECK(out.len == (i + 1 < n ? 1u : 5u));
        }
        SB_CHECK(out.len == 5 && memcmp(out.data, " \xf0\x9f\xa6\x99", 5) == 0);
        sb_buf_free(&out);
        sb_detok_stream_free(s);
        sb_free(ids);
        stream_property(t, 1, 200);
        sb_tokenizer_free(t);
    }
    if ((t = tt_shared_tokenizer("llama-bpe"))) {
        SB_CHECK(tok_is(t, "Hello world", true, false, IDS(128000, 9906, 1917)));
        SB_CHECK(tok_is(t, "<|begin_of_text|>Hi", false, true, IDS(128000, 13347)));
        SB_CHECK(sb_tokenizer_add_bos(t) && sb_tokenizer_bos(t) == 128000 && sb_tokenizer_eos(t) == 128009);
        SB_CHECK(sb_tokenizer_eot(t) == 128009);
        SB_CHECK(sb_tokenizer_is_eog(t, 128001) && sb_tokenizer_is_eog(t, 128009) && !sb_tokenizer_is_eog(t, 128000));
        SB_CHECK(!sb_tokenizer_is_eog(t, 9906));
        SB_CHECK(detok_is(t, IDS(128000, 9906, 1917), true, false, "Hello world"));
        SB_CHECK(detok_is(t, IDS(128000, 9906, 1917), false, true, "<|begin_of_text|>Hello world"));
        SB_CHECK(detok_is(t, IDS(128000, 9906, 1917), false, false, "Hello world"));
        /* a byte-level emoji split over tokens streams whole */
        int32_t *ids = NULL;
        size_t n = 0;
        const char *txt = "ok \xf0\x9f\xa6\x99\xf0\x9f\xa6\x99 \xe4\xb8\xad\xe6\x96\x87";
        SB_CHECK(sb_tokenize(t, txt, strlen(txt), false, false, &ids, &n, NULL) == SB_OK);
        sb_detok_stream *s = sb_detok_stream_create(t, false);
        sb_buf out;
        sb_buf_init(&out);
        for (size_t i = 0; i < n; i++) {
            size_t before = out.len;
            SB_CHECK(sb_detok_stream_push(s, ids[i], &out, NULL) == SB_OK);
            SB_CHECK(sb_utf8_valid(out.data + before, out.len - before));
        }
        SB_CHECK(sb_detok_stream_flush(s, &out, NULL) == SB_OK);
        SB_CHECK(out.len == strlen(txt) && memcmp(out.data, txt, out.len) == 0);
        sb_buf_free(&out);
        sb_detok_stream_free(s);
        sb_free(ids);
        stream_property(t, 2, 200);
        sb_tokenizer_free(t);
    }
    if ((t = tt_shared_tokenizer("qwen2"))) {
        SB_CHECK(tok_is(t, "Hello world", true, false, IDS(9707, 1879)));
        SB_CHECK(!sb_tokenizer_add_bos(t));
        SB_CHECK(sb_tokenizer_is_eog(t, 151643) && sb_tokenizer_is_eog(t, 151645) && !sb_tokenizer_is_eog(t, 151644));
        int32_t s_id = sb_tokenizer_find(t, "</s>", 4);
        SB_CHECK(s_id >= 0 && sb_tokenizer_is_control(t, s_id) && sb_tokenizer_is_eog(t, s_id));
        SB_CHECK(tok_is(t, "<|im_start|>user", false, true, IDS(151644, 872)));
        stream_property(t, 3, 200);
        sb_tokenizer_free(t);
    }
    if ((t = tt_shared_tokenizer("gpt-2"))) {
        SB_CHECK(tok_is(t, "Hello world", false, false, IDS(15496, 995)));
        SB_CHECK(detok_is(t, IDS(15496, 995, 5633), false, false, "Hello world?")); /* " ?" cleaned up */
        sb_tokenizer_free(t);
    }
    if ((t = tt_shared_tokenizer("bert-bge"))) {
        SB_CHECK(tok_is(t, "Hello world", true, false, IDS(101, 7592, 2088, 102)));
        SB_CHECK(detok_is(t, IDS(101, 7592, 2088, 102), true, false, " hello world"));
        sb_tokenizer_free(t);
    }
}

/* Round trips where llama.cpp guarantees them, over the shared test strings:
 * SPM unless the text itself contains U+2581 (it comes back as a space);
 * byte-level BPE for valid UTF-8 (invalid bytes come back as U+FFFD), except
 * where clean_spaces rewrites " ?", " !", " .", " ,", " '". BERT never
 * (lowercasing, accents, spaces around punctuation). */
static bool has_clean_pattern(const char *s, size_t n) {
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == ' ' && strchr("?!.,'", s[i + 1]))
            return true;
    return false;
}

static bool strstr_n(const char *s, size_t n, const char *needle) {
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= n; i++)
        if (memcmp(s + i, needle, nl) == 0)
            return true;
    return false;
}

static void test_roundtrips(void) {
    const char *inp = sb_test_shared("golden/tokenize/extra.inp");
    if (!inp)
        return;
    char path[4096];
    snprintf(path, sizeof path, "%s", inp);
    char *data = NULL;
    size_t len = 0;
    SB_CHECK(sb_file_read_all(path, 1 << 24, &data, &len, NULL) == SB_OK);
    if (!data)
        return;
    static const char *const names[] = {"llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "deepseek-coder"};
    for (size_t v = 0; v < sizeof names / sizeof names[0]; v++) {
        sb_tokenizer *t = tt_shared_tokenizer(names[v]);
        if (!t)
            continue;
        bool clean = t->clean_spaces;
        size_t checked = 0, ok = 0;
        const char *sep = "\n__ggml_vocab_test__\n";
        size_t pos = 0;
        for (;;) {
            const char *hit = strstr(data + pos, sep);
            if (!hit)
                break;
            size_t l = (size_t)(hit - (data + pos));
            const char *s = data + pos;
            bool guaranteed = sb_utf8_valid(s, l) && !(clean && has_clean_pattern(s, l)) &&
                              !(t->kind == SB_TOKENIZER_SPM && strstr_n(s, l, "\xe2\x96\x81"));
            if (guaranteed) {
                checked++;
                ok += roundtrip(t, s, l, false);
            }
            pos = (size_t)(hit - data) + strlen(sep);
        }
        printf("round trip %-16s %zu/%zu\n", names[v], ok, checked);
        SB_CHECKF(ok == checked && checked > 20, "%s: %zu/%zu round trips", names[v], ok, checked);
        sb_tokenizer_free(t);
    }
    sb_free(data);
}

/* Merging word by word (the SPM fast path) gives the ids of merging the
 * whole text at once. */
static void test_spm_word_split_equivalence(void) {
    sb_tokenizer *t = tt_shared_tokenizer("llama-spm");
    if (!t)
        return;
    SB_CHECK(t->spm_word_split);
    static const char *const words[] = {"the", "quick", "brown", "fox", "jumps", "über", "naïve", "日本語", "🦙",
                                        "co-operate", "don't", "x", "", "  ", "\n", "\t", "Hello", "WORLD", "1234",
                                        "▁", "<0x0A>", "a▁b"};
    sb_rng r;
    sb_rng_seed(&r, 42);
    for (int round = 0; round < 60; round++) {
        sb_buf b;
        sb_buf_init(&b);
        int nw = 1 + (int)sb_rng_below(&r, 200);
        for (int i = 0; i < nw; i++) {
            sb_buf_puts(&b, words[sb_rng_below(&r, sizeof words / sizeof words[0])]);
            if (sb_rng_below(&r, 4))
                sb_buf_puts(&b, sb_rng_below(&r, 5) ? " " : "  ");
        }
        int32_t *a = NULL, *c = NULL;
        size_t na = 0, nc = 0;
        t->spm_word_split = true;
        SB_CHECK(sb_tokenize(t, b.data, b.len, false, false, &a, &na, NULL) == SB_OK);
        t->spm_word_split = false;
        SB_CHECK(sb_tokenize(t, b.data, b.len, false, false, &c, &nc, NULL) == SB_OK);
        t->spm_word_split = true;
        SB_CHECKF(tt_ids_equal(a, na, c, nc), "round %d: '%s'", round, b.data);
        sb_free(a);
        sb_free(c);
        sb_buf_free(&b);
    }
    sb_tokenizer_free(t);
}

/* A tokenizer is immutable: several threads tokenizing at once get the ids
 * of a single-threaded run. */
typedef struct thread_job {
    const sb_tokenizer *t;
    const char *text;
    size_t len;
    int32_t *ids;
    size_t n;
    bool ok;
} thread_job;

static void *thread_main(void *arg) {
    thread_job *j = arg;
    j->ok = true;
    for (int round = 0; round < 20 && j->ok; round++) {
        int32_t *ids = NULL;
        size_t n = 0;
        j->ok = sb_tokenize(j->t, j->text, j->len, true, true, &ids, &n, NULL) == SB_OK &&
                tt_ids_equal(ids, n, j->ids, j->n);
        sb_free(ids);
    }
    return NULL;
}

static void test_threads(void) {
    tt_vocab v;
    SB_CHECK(tt_bpe_vocab("qwen2", &v));
    sb_tokenizer *t = NULL;
    SB_CHECK(sb_tokenizer_create(v.g, &t, NULL) == SB_OK);
    tt_free(&v);
    if (!t)
        return;
    static const char text[] = "hello world<tool> <|endoftext|> caf\xc3\xa9 123456 \xf0\x9f\xa6\x99 hello, world!";
    thread_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){.t = t, .text = text, .len = sizeof text - 1};
        SB_CHECK(sb_tokenize(t, text, sizeof text - 1, true, true, &jobs[i].ids, &jobs[i].n, NULL) == SB_OK);
    }
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, thread_main, &jobs[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        SB_CHECK(jobs[i].ok);
        sb_free(jobs[i].ids);
    }
    sb_tokenizer_free(t);
}

int main(void) {
    SB_RUN(test_spm_small);
    SB_RUN(test_bpe_small);
    SB_RUN(test_wpm_small);
    SB_RUN(test_all_pretokenizers);
    SB_RUN(test_text_rules);
    SB_RUN(test_stream_small);
    SB_RUN(test_real_vocabs);
    SB_RUN(test_roundtrips);
    SB_RUN(test_spm_word_split_equivalence);
    SB_RUN(test_threads);
    return sb_test_finish();
}
