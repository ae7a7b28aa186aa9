/*
 * test_inspect.c - `solebox inspect` run as a process: human and --json
 * output on stories260K.gguf and on a writer-made file full of awkward
 * values, a hostile file, and usage errors, with their exit codes. The JSON
 * is parsed with jansson.
 */
#include "gguf_test_util.h"
#include "sb_alloc.h"
#include "sb_file.h"
#include "sb_gguf_writer.h"
#include "sb_test.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

typedef struct result {
    int rc;
    char *out, *err;
    size_t out_len, err_len; /* (an empty capture is not NUL-terminated: sb_buf_detach, see the report) */
} result;

static void result_free(result *r) {
    sb_free(r->out);
    sb_free(r->err);
}

/* Runs `solebox inspect ARGS` with stdout and stderr captured. */
static result run(const char *args) {
    result r = {-1, NULL, NULL, 0, 0};
    char out_path[512], err_path[512], cmd[4096];
    snprintf(out_path, sizeof out_path, "%s/stdout", sb_test_tmpdir());
    snprintf(err_path, sizeof err_path, "%s/stderr", sb_test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' inspect %s >'%s' 2>'%s'", sb_test_solebox_bin(), args, out_path, err_path);
    int st = system(cmd);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    sb_error e;
    if (sb_file_read_all(out_path, 1u << 28, &r.out, &r.out_len, &e) != SB_OK ||
        sb_file_read_all(err_path, 1u << 20, &r.err, &r.err_len, &e) != SB_OK) {
        SB_CHECKF(0, "cannot read the captured output: %s", e.msg);
        r.rc = -1;
    }
    /* sb_buf_detach leaves an empty buffer unterminated (its 1+ bytes exist) */
    if (r.out && r.out_len == 0)
        r.out[0] = '\0';
    if (r.err && r.err_len == 0)
        r.err[0] = '\0';
    return r;
}

#define CONTAINS(hay, needle) SB_CHECKF((hay) && strstr((hay), (needle)) != NULL, "output lacks \"%s\"", (needle))

static json_t *parse(const result *r) {
    json_error_t je;
    json_t *j = json_loadb(r->out, r->out_len, JSON_ALLOW_NUL, &je);
    SB_CHECKF(j != NULL, "invalid JSON: %s at line %d col %d", je.text, je.line, je.column);
    return j;
}

/* The metadata entry with this key (as a UTF-8 JSON string). */
static json_t *meta(json_t *doc, const char *key) {
    json_t *m = json_object_get(doc, "metadata");
    size_t i;
    json_t *e;
    json_array_foreach(m, i, e) {
        if (strcmp(json_string_value(json_object_get(e, "key")), key) == 0)
            return e;
    }
    SB_CHECKF(0, "no metadata entry '%s'", key);
    return NULL;
}

static void test_stories(const char *path) {
    char args[8192];
    snprintf(args, sizeof args, "'%s'", path);
    result r = run(args);
    SB_CHECK_EQ_INT(r.rc, 0);
    SB_CHECKF(r.err_len == 0, "stderr: %.*s", (int)r.err_len, r.err);
    CONTAINS(r.out, "version:      3\n");
    CONTAINS(r.out, "alignment:    32\n");
    CONTAINS(r.out, "data offset:  14176\n");
    CONTAINS(r.out, "metadata:     19 keys\n");
    CONTAINS(r.out, "tokenizer.ggml.tokens                   arr   [512 str] \"<unk>\", \"<s>\", \"</s>\", ");
    CONTAINS(r.out, ", ...\n");
    CONTAINS(r.out, "general.architecture                    str   \"llama\"\n");
    CONTAINS(r.out, "tokenizer.ggml.seperator_token_id       u32   4294967295\n");
    CONTAINS(r.out, "llama.attention.layer_norm_rms_epsilon  f32   1e-05\n");
    CONTAINS(r.out, "tensors:      48\n");
    CONTAINS(r.out, "  blk.4.ffn_down.weight     F32      [172, 64]");
    CONTAINS(r.out, "  token_embd.weight         F32      [64, 512]                           0       131072\n");
    CONTAINS(r.out, "total:        48 tensors, 292800 parameters, 1171200 bytes (1.1 MiB), 32.00 bits per weight\n");
    result_free(&r);

    snprintf(args, sizeof args, "--json '%s'", path);
    r = run(args);
    SB_CHECK_EQ_INT(r.rc, 0);
    json_t *doc = parse(&r);
    if (doc) {
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(doc, "version")), 3);
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(doc, "size")), 1185376);
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(doc, "data_offset")), 14176);
        SB_CHECK_STR(json_string_value(json_object_get(doc, "file")), path);
        json_t *md = json_object_get(doc, "metadata");
        SB_CHECK_EQ_INT(json_array_size(md), 19);
        /* same order as the reader */
        sb_gguf *g;
        if (sb_gguf_open(path, &g, NULL) == SB_OK) {
            for (size_t i = 0; i < sb_gguf_n_kv(g) && i < json_array_size(md); i++) {
                const char *k = json_string_value(json_object_get(json_array_get(md, i), "key"));
                SB_CHECKF(k && sb_str_eq_cstr(sb_gguf_kv_at(g, i)->key, k), "key %zu", i);
            }
            sb_gguf_close(g);
        }
        json_t *tok = meta(doc, "tokenizer.ggml.tokens");
        SB_CHECK_STR(json_string_value(json_object_get(tok, "type")), "arr");
        SB_CHECK_STR(json_string_value(json_object_get(tok, "elem_type")), "str");
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(tok, "count")), 512);
        SB_CHECK_EQ_INT(json_array_size(json_object_get(tok, "value")), 512);
        SB_CHECK_STR(json_string_value(json_array_get(json_object_get(tok, "value"), 1)), "<s>");
        SB_CHECK_STR(json_string_value(json_array_get(json_object_get(tok, "value"), 258)), "<0xFF>");
        SB_CHECK(json_object_get(tok, "truncated") == NULL);
        json_t *sc = meta(doc, "tokenizer.ggml.scores");
        SB_CHECK(json_is_number(json_array_get(json_object_get(sc, "value"), 511)));
        json_t *eps = meta(doc, "llama.attention.layer_norm_rms_epsilon");
        SB_CHECK_STR(json_string_value(json_object_get(eps, "type")), "f32");
        SB_CHECK((float)json_real_value(json_object_get(eps, "value")) == 1e-5f);
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(meta(doc, "llama.block_count"), "value")), 5);
        json_t *ts = json_object_get(doc, "tensors");
        SB_CHECK_EQ_INT(json_array_size(ts), 48);
        json_t *t0 = json_array_get(ts, 0);
        SB_CHECK_STR(json_string_value(json_object_get(t0, "name")), "token_embd.weight");
        SB_CHECK_STR(json_string_value(json_object_get(t0, "type")), "F32");
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(t0, "type_id")), 0);
        SB_CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(t0, "shape"), 1)), 512);
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(t0, "bytes")), 131072);
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(t0, "elements")), 32768);
        json_t *tot = json_object_get(doc, "totals");
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(tot, "parameters")), 292800);
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(tot, "bytes")), 1171200);
        SB_CHECK(json_number_value(json_object_get(tot, "bits_per_weight")) == 32.0);
        json_decref(doc);
    }
    result_free(&r);

    snprintf(args, sizeof args, "--json --max-array 3 '%s'", path);
    r = run(args);
    SB_CHECK_EQ_INT(r.rc, 0);
    doc = parse(&r);
    if (doc) {
        json_t *tok = meta(doc, "tokenizer.ggml.tokens");
        SB_CHECK_EQ_INT(json_array_size(json_object_get(tok, "value")), 3);
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(tok, "count")), 512);
        SB_CHECK(json_is_true(json_object_get(tok, "truncated")));
        json_decref(doc);
    }
    result_free(&r);
}

/* A file with awkward values: long, invalid-UTF-8, NUL-holding and control
 * character strings, u64 max, NaN, nested and empty arrays. */
static void write_awkward(const char *path) {
    sb_gguf_writer *w = sb_gguf_writer_create();
    sb_error err;
    char tmpl[300];
    for (size_t i = 0; i < sizeof tmpl; i++)
        tmpl[i] = (char)('a' + i % 26);
    tmpl[10] = '\n';
    SB_CHECK(sb_gguf_writer_set_string(w, "tokenizer.chat_template", tmpl, sizeof tmpl, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "bad.utf8", "\xff\xfe" "A", 3, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "key.\xc3\x28", "v", 1, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "nul", "a\0b", 3, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "quote", "say \"hi\"\\\t\x01", 11, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "utf8", "h\xc3\xa9 \xe2\x9c\x93", 7, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_u64(w, "u64.max", UINT64_MAX, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_f32(w, "f32.nan", NAN, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_f32(w, "f32.inf", -INFINITY, &err) == SB_OK);
    sb_gguf_value v = {.type = SB_GGUF_INT64, .v.i64 = INT64_MIN};
    SB_CHECK(sb_gguf_writer_set_value(w, "i64.min", &v, &err) == SB_OK);
    static const uint32_t u32s[] = {1, 2, 3};
    static const sb_str strs[] = {{"x", 1}, {"\xff", 1}};
    sb_gguf_value inner[2] = {
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_UINT32, .count = 3, .raw = (const uint8_t *)u32s}},
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_UINT32, .count = 0}},
    };
    v = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 2, .items = inner}};
    SB_CHECK(sb_gguf_writer_set_value(w, "nested", &v, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string_array(w, "strs", strs, 2, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_array(w, "empty", SB_GGUF_FLOAT64, NULL, 0, &err) == SB_OK);
    static uint8_t q[2 * 144];
    SB_CHECK(sb_gguf_writer_add_tensor(w, "q.weight", SB_TYPE_Q4_K, 2, (int64_t[]){256, 2}, q, NULL, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_write(w, path, NULL, NULL, NULL, NULL, &err) == SB_OK);
    sb_gguf_writer_free(w);
}

static void test_awkward(void) {
    char path[512], args[8192];
    snprintf(path, sizeof path, "%s/awkward.gguf", sb_test_tmpdir());
    write_awkward(path);
    snprintf(args, sizeof args, "'%s'", path);
    result r = run(args);
    SB_CHECK_EQ_INT(r.rc, 0);
    CONTAINS(r.out, "\"abcdefghij\\nlmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl...\" (300 bytes)");
    CONTAINS(r.out, "\"\\xff\\xfeA\"");
    CONTAINS(r.out, "key.\\xc3(");
    CONTAINS(r.out, "\"a\\x00b\"");
    CONTAINS(r.out, "\"say \\\"hi\\\"\\\\\\t\\x01\"");
    CONTAINS(r.out, "\"h\xc3\xa9 \xe2\x9c\x93\"");
    CONTAINS(r.out, "18446744073709551615");
    CONTAINS(r.out, "-9223372036854775808");
    CONTAINS(r.out, " nan\n");
    CONTAINS(r.out, " -inf\n");
    CONTAINS(r.out, "[2 arr] [3 u32: 1, 2, 3], [0 u32]\n");
    CONTAINS(r.out, "[0 f64]\n");
    CONTAINS(r.out, "q.weight  Q4_K     [256, 2]");
    CONTAINS(r.out, "1 tensors, 512 parameters, 288 bytes (288 B), 4.50 bits per weight");
    result_free(&r);

    snprintf(args, sizeof args, "--full '%s'", path);
    r = run(args);
    SB_CHECK_EQ_INT(r.rc, 0);
    CONTAINS(r.out, "uvwxyzabcdefghijklmn\"\n"); /* the template's end: 300 % 26 == 14 */
    SB_CHECK(strstr(r.out, "(300 bytes)") == NULL);
    result_free(&r);

    snprintf(args, sizeof args, "--json '%s'", path);
    r = run(args);
    SB_CHECK_EQ_INT(r.rc, 0);
    json_t *doc = parse(&r);
    if (doc) {
        SB_CHECK_EQ_INT(json_string_length(json_object_get(meta(doc, "tokenizer.chat_template"), "value")), 300);
        SB_CHECK_STR(json_string_value(json_object_get(meta(doc, "bad.utf8"), "value")), "\xef\xbf\xbd\xef\xbf\xbd" "A");
        json_t *nul = json_object_get(meta(doc, "nul"), "value");
        SB_CHECK(json_string_length(nul) == 3 && memcmp(json_string_value(nul), "a\0b", 3) == 0);
        SB_CHECK_STR(json_string_value(json_object_get(meta(doc, "quote"), "value")), "say \"hi\"\\\t\x01");
        SB_CHECK_STR(json_string_value(json_object_get(meta(doc, "utf8"), "value")), "h\xc3\xa9 \xe2\x9c\x93");
        meta(doc, "key.\xef\xbf\xbd(");
        SB_CHECK_STR(json_string_value(json_object_get(meta(doc, "u64.max"), "value")), "18446744073709551615");
        SB_CHECK(json_integer_value(json_object_get(meta(doc, "i64.min"), "value")) == INT64_MIN);
        SB_CHECK_STR(json_string_value(json_object_get(meta(doc, "f32.nan"), "value")), "nan");
        SB_CHECK_STR(json_string_value(json_object_get(meta(doc, "f32.inf"), "value")), "-inf");
        json_t *n = meta(doc, "nested");
        SB_CHECK_STR(json_string_value(json_object_get(n, "elem_type")), "arr");
        json_t *n0 = json_array_get(json_object_get(n, "value"), 0);
        SB_CHECK_STR(json_string_value(json_object_get(n0, "elem_type")), "u32");
        SB_CHECK_EQ_INT(json_integer_value(json_array_get(json_object_get(n0, "value"), 2)), 3);
        json_t *n1 = json_array_get(json_object_get(n, "value"), 1);
        SB_CHECK(json_array_size(json_object_get(n1, "value")) == 0 && json_integer_value(json_object_get(n1, "count")) == 0);
        SB_CHECK_STR(json_string_value(json_array_get(json_object_get(meta(doc, "strs"), "value"), 1)), "\xef\xbf\xbd");
        SB_CHECK(json_array_size(json_object_get(meta(doc, "empty"), "value")) == 0);
        json_t *t = json_array_get(json_object_get(doc, "tensors"), 0);
        SB_CHECK_STR(json_string_value(json_object_get(t, "type")), "Q4_K");
        SB_CHECK_EQ_INT(json_integer_value(json_object_get(t, "type_id")), 12);
        SB_CHECK(json_number_value(json_object_get(json_object_get(doc, "totals"), "bits_per_weight")) == 4.5);
        json_decref(doc);
    }
    result_free(&r);

    /* --max-array applies to nested arrays too */
    snprintf(args, sizeof args, "--json --max-array=1 '%s'", path);
    r = run(args);
    doc = parse(&r);
    if (doc) {
        json_t *n = meta(doc, "nested");
        SB_CHECK(json_array_size(json_object_get(n, "value")) == 1 && json_is_true(json_object_get(n, "truncated")));
        json_t *n0 = json_array_get(json_object_get(n, "value"), 0);
        SB_CHECK(json_array_size(json_object_get(n0, "value")) == 1 && json_is_true(json_object_get(n0, "truncated")));
        json_decref(doc);
    }
    result_free(&r);
}

static void test_errors(void) {
    /* a hostile file: unknown tensor type */
    sb_buf b;
    sb_buf_init(&b);
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, "blk.0.attn_q.weight", 1, (uint64_t[]){8}, 99, 0);
    gb_pad(&b, 32);
    for (int i = 0; i < 64; i++)
        gb_u8(&b, 0);
    char path[512], args[8192];
    snprintf(path, sizeof path, "%s/hostile.gguf", sb_test_tmpdir());
    sb_error err;
    SB_CHECK(sb_file_write_atomic(path, b.data, b.len, &err) == SB_OK);
    sb_buf_free(&b);
    for (int json = 0; json < 2; json++) {
        snprintf(args, sizeof args, "%s'%s'", json ? "--json " : "", path);
        result r = run(args);
        SB_CHECK_EQ_INT(r.rc, 1);
        CONTAINS(r.err, "solebox inspect: ");
        CONTAINS(r.err, path);
        CONTAINS(r.err, "tensor 'blk.0.attn_q.weight': type 99 is unknown");
        SB_CHECK(r.out_len == 0);
        result_free(&r);
    }
    /* a truncated file */
    sb_buf_init(&b);
    gb_bytes(&b, "GGUF\3\0\0\0", 8);
    snprintf(path, sizeof path, "%s/short.gguf", sb_test_tmpdir());
    SB_CHECK(sb_file_write_atomic(path, b.data, b.len, &err) == SB_OK);
    sb_buf_free(&b);
    snprintf(args, sizeof args, "'%s'", path);
    result r = run(args);
    SB_CHECK_EQ_INT(r.rc, 1);
    CONTAINS(r.err, "truncated file");
    result_free(&r);

    r = run("/nonexistent/model.gguf");
    SB_CHECK_EQ_INT(r.rc, 1);
    CONTAINS(r.err, "cannot open /nonexistent/model.gguf");
    result_free(&r);
    /* usage errors */
    const char *usage_cases[] = {"", "--bogus x.gguf", "a.gguf b.gguf", "--max-array x.gguf", "--max-array -1 x.gguf",
                                 "--max-array=abc x.gguf"};
    for (size_t i = 0; i < sizeof usage_cases / sizeof usage_cases[0]; i++) {
        r = run(usage_cases[i]);
        SB_CHECKF(r.rc == 2, "'%s': exit %d", usage_cases[i], r.rc);
        CONTAINS(r.err, "usage: solebox inspect");
        result_free(&r);
    }
    r = run("--help");
    SB_CHECK_EQ_INT(r.rc, 0);
    CONTAINS(r.out, "usage: solebox inspect FILE");
    result_free(&r);
}

int main(void) {
    struct stat st;
    if (stat(sb_test_solebox_bin(), &st) != 0) {
        fprintf(stderr, "%s is missing: build the solebox target first\n", sb_test_solebox_bin());
        return 1;
    }
    SB_RUN(test_awkward);
    SB_RUN(test_errors);
    const char *stories = sb_test_shared("models/stories260K.gguf");
    if (!stories)
        sb_test_skip("models/stories260K.gguf is absent: its part of the test was skipped");
    static char path[4096];
    snprintf(path, sizeof path, "%s", stories);
    test_stories(path);
    return sb_test_finish();
}
