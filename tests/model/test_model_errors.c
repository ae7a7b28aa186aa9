/*
 * test_model_errors.c - bad input is refused with a clear message, never a
 * crash: corrupt and truncated files, an unsupported architecture, tensor
 * type, missing tensor or key, a wrong shape, mixture-of-experts, failing
 * allocations; and `solebox eval` with bad ids, too many tokens, bad files
 * (exit code 1 and a message, via the built binary).
 */
#include "model_test_util.h"
#include "sb_alloc.h"
#include "sb_cpu_backend.h"
#include "sb_test.h"

#include "cpu_matmul.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sb_backend *g_be;

/* Loads the tiny image with knobs t; returns the status and the message. */
static sb_status load_tiny(const mt_tiny *t, char *msg, size_t cap) {
    void *data = NULL;
    size_t len = 0;
    if (!mt_tiny_gguf(t, &data, &len)) {
        snprintf(msg, cap, "cannot build the image");
        return SB_ERR_INTERNAL;
    }
    sb_gguf *g = NULL;
    sb_model *m = NULL;
    sb_error err;
    sb_error_clear(&err);
    sb_status st = sb_gguf_open_memory(data, len, &g, &err);
    if (st == SB_OK)
        st = sb_model_load_gguf(g, g_be, NULL, &m, &err);
    snprintf(msg, cap, "%s", err.msg);
    sb_model_free(m);
    sb_free(data);
    return st;
}

static void expect_refused(const mt_tiny *t, sb_status code, const char *s1, const char *s2) {
    char msg[600];
    sb_status st = load_tiny(t, msg, sizeof msg);
    SB_CHECKF(st == code, "status %d, expected %d (%s)", st, code, msg);
    SB_CHECKF(strstr(msg, s1) != NULL, "message '%s' lacks '%s'", msg, s1);
    if (s2)
        SB_CHECKF(strstr(msg, s2) != NULL, "message '%s' lacks '%s'", msg, s2);
}

static void test_tiny_loads_and_runs(void) {
    void *data;
    size_t len;
    mt_tiny t = {0};
    SB_CHECK(mt_tiny_gguf(&t, &data, &len));
    sb_gguf *g;
    sb_model *m = NULL;
    sb_error err;
    SB_CHECK(sb_gguf_open_memory(data, len, &g, &err) == SB_OK);
    SB_CHECK(sb_model_load_gguf(g, g_be, NULL, &m, &err) == SB_OK);
    if (m) {
        const sb_model_hparams *hp = sb_model_get_hparams(m);
        SB_CHECK_EQ_INT(hp->n_vocab, 40);
        SB_CHECK_EQ_INT(hp->head_dim_k, 32);
        SB_CHECK(!hp->tied_output);
        mt_runner r;
        int32_t ids[5] = {1, 5, 9, 39, 0};
        float out[5 * 40];
        SB_CHECK(mt_runner_init(&r, m, 1, 8, 5, SB_TYPE_F32));
        SB_CHECK(mt_forward(&r, 0, ids, 5, 0, out, NULL));
        bool finite = true;
        for (int i = 0; i < 5 * 40; i++)
            finite = finite && out[i] == out[i] && out[i] < 1e30f && out[i] > -1e30f;
        SB_CHECK(finite);
        /* an id outside the vocabulary is refused by the forward pass */
        ids[2] = 40;
        sb_error e2;
        int32_t pos[1] = {5}, seq[1] = {0}, row[1] = {0};
        const int32_t *tables[1] = {r.tables};
        int32_t np = r.pages_per_seq;
        sb_batch b = {1, ids + 2, pos, seq, 1, tables, &np, 1, row};
        SB_CHECK(sb_model_forward(m, &b, &e2) == SB_ERR_RANGE);
        SB_CHECK(strstr(e2.msg, "40") != NULL);
        /* a position outside the sequence's pages is refused by the backend */
        ids[2] = 3;
        pos[0] = r.pages_per_seq * 16;
        SB_CHECK(sb_model_forward(m, &b, &e2) == SB_ERR_RANGE);
        mt_runner_free(&r);
    }
    sb_model_free(m);
    sb_free(data);
}

static void test_unsupported_arch(void) {
    mt_tiny t = {.arch = "gpt2"};
    expect_refused(&t, SB_ERR_UNSUPPORTED, "'gpt2'", "not supported");
}

static void test_unsupported_type(void) {
    /* a type the file format knows but the CPU kernels cannot multiply */
    const uint32_t candidates[] = {SB_TYPE_Q4_1, SB_TYPE_Q5_0, SB_TYPE_Q5_1, SB_TYPE_IQ4_NL};
    uint32_t odd = SB_TYPE_COUNT;
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0] && odd == SB_TYPE_COUNT; i++)
        if (!sb_cpu_matmul_supports(candidates[i]))
            odd = candidates[i];
    if (odd == SB_TYPE_COUNT)
        return; /* the kernels support them all: nothing to refuse */
    mt_tiny t = {.odd_type = "blk.1.attn_q.weight", .odd_type_id = odd};
    expect_refused(&t, SB_ERR_UNSUPPORTED, "blk.1.attn_q.weight", sb_type_name(odd));
    /* an embedding table only looked up by rows, in a type nothing dequantizes */
    mt_tiny t3 = {.odd_type = "token_embd.weight", .odd_type_id = odd};
    expect_refused(&t3, SB_ERR_UNSUPPORTED, "token_embd.weight", sb_type_name(odd));
    /* a norm weight in a quantized type */
    mt_tiny t2 = {.odd_type = "blk.0.ffn_norm.weight", .odd_type_id = SB_TYPE_Q8_0};
    expect_refused(&t2, SB_ERR_UNSUPPORTED, "blk.0.ffn_norm.weight", "Q8_0");
}

static void test_missing_tensor(void) {
    mt_tiny t = {.skip_tensor = "blk.1.ffn_up.weight"};
    expect_refused(&t, SB_ERR_NOT_FOUND, "blk.1.ffn_up.weight", "missing");
    mt_tiny t2 = {.skip_tensor = "token_embd.weight"};
    expect_refused(&t2, SB_ERR_NOT_FOUND, "token_embd.weight", "missing");
}

static void test_wrong_shape(void) {
    mt_tiny t = {.bad_shape = "blk.0.attn_k.weight"};
    expect_refused(&t, SB_ERR_FORMAT, "blk.0.attn_k.weight", "[64, 33]");
    mt_tiny t2 = {.bad_shape = "output_norm.weight"};
    expect_refused(&t2, SB_ERR_FORMAT, "output_norm.weight", "expected [64]");
}

static void test_missing_key(void) {
    mt_tiny t = {.skip_eps = true};
    expect_refused(&t, SB_ERR_FORMAT, "llama.attention.layer_norm_rms_epsilon", "missing");
}

static void test_moe_refused(void) {
    mt_tiny t = {.expert_count = 8};
    expect_refused(&t, SB_ERR_UNSUPPORTED, "mixture-of-experts", "8");
}

static void test_corrupt_files(void) {
    char path[512];
    sb_model *m = NULL;
    sb_error err;
    /* not a GGUF at all */
    snprintf(path, sizeof path, "%s/garbage.gguf", sb_test_tmpdir());
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 4096; i++)
        fputc((i * 131 + 7) & 255, f);
    fclose(f);
    SB_CHECK(sb_model_load(path, g_be, NULL, &m, &err) != SB_OK);
    SB_CHECKF(strstr(err.msg, "garbage.gguf") != NULL, "message '%s' lacks the path", err.msg);
    /* a real model cut short */
    const char *src = sb_test_shared("models/stories260K.gguf");
    if (src) {
        FILE *in = fopen(src, "rb");
        snprintf(path, sizeof path, "%s/truncated.gguf", sb_test_tmpdir());
        FILE *out = fopen(path, "wb");
        char buf[4096];
        size_t total = 0, got;
        while (total < 100000 && (got = fread(buf, 1, sizeof buf, in)) > 0) {
            fwrite(buf, 1, got, out);
            total += got;
        }
        fclose(in);
        fclose(out);
        SB_CHECK(sb_model_load(path, g_be, NULL, &m, &err) != SB_OK);
        SB_CHECKF(err.msg[0] != 0, "no message for a truncated file");
    }
    /* no file */
    SB_CHECK(sb_model_load("/nonexistent/model.gguf", g_be, NULL, &m, &err) != SB_OK);
    SB_CHECKF(strstr(err.msg, "/nonexistent/model.gguf") != NULL, "message '%s' lacks the path", err.msg);
    SB_CHECK(m == NULL);
}

/* Every allocation of load + reserve + forward may fail: the error is
 * reported and nothing leaks (ASan) or crashes. */
static void test_alloc_failures(void) {
    void *data;
    size_t len;
    mt_tiny t = {0};
    SB_CHECK(mt_tiny_gguf(&t, &data, &len));
    int fired = 0;
    for (long n = 1; n < 2000; n++) {
        sb_backend *be = NULL;
        sb_gguf *g = NULL;
        sb_model *m = NULL;
        sb_error err;
        sb_cpu_backend_opts o = {.n_threads = 1, .repack = true};
        sb_alloc_fail_nth(n);
        sb_status st = sb_cpu_backend_create(&o, &be, &err);
        if (st == SB_OK)
            st = sb_gguf_open_memory(data, len, &g, &err);
        if (st == SB_OK)
            st = sb_model_load_gguf(g, be, NULL, &m, &err);
        if (st == SB_OK) {
            sb_kv_config kv = sb_model_kv_config(m, 16, 2, SB_TYPE_F32);
            st = sb_backend_kv_init(be, &kv, &err);
        }
        if (st == SB_OK)
            st = sb_model_reserve(m, 4, 4, &err);
        if (st == SB_OK) {
            int32_t ids[4] = {1, 2, 3, 4}, pos[4] = {0, 1, 2, 3}, seq[4] = {0}, rows[4] = {0, 1, 2, 3},
                    table[2] = {0, 1};
            const int32_t *tables[1] = {table};
            int32_t np = 2;
            sb_batch b = {4, ids, pos, seq, 1, tables, &np, 4, rows};
            st = sb_model_forward(m, &b, &err);
        }
        bool hit = sb_alloc_injected_fired();
        sb_alloc_fail_nth(0);
        if (hit) {
            fired++;
            SB_CHECKF(st == SB_ERR_NOMEM, "allocation %ld failed but the status is %d (%s)", n, st, err.msg);
        } else {
            SB_CHECKF(st == SB_OK, "no injected failure but status %d (%s)", st, err.msg);
        }
        sb_model_free(m);
        sb_backend_destroy(be);
        if (!hit)
            break;
    }
    SB_CHECK(fired > 10);
    sb_free(data);
}

/* ---- solebox eval ------------------------------------------------------ */

static int eval(const char *const *args, char *out, char *errs) { return mt_run_solebox(args, out, 4096, errs, 4096); }

static void test_eval_cli(void) {
    char model[512], bad_arch[512], bad_type[512], garbage[512], logits[512];
    snprintf(model, sizeof model, "%s/tiny.gguf", sb_test_tmpdir());
    snprintf(bad_arch, sizeof bad_arch, "%s/tiny-gpt2.gguf", sb_test_tmpdir());
    snprintf(bad_type, sizeof bad_type, "%s/tiny-q8norm.gguf", sb_test_tmpdir());
    snprintf(garbage, sizeof garbage, "%s/not-a-model.gguf", sb_test_tmpdir());
    snprintf(logits, sizeof logits, "%s/logits.f32", sb_test_tmpdir());
    mt_tiny ok = {0}, arch = {.arch = "gpt2"}, type = {.odd_type = "output_norm.weight", .odd_type_id = SB_TYPE_Q8_0};
    SB_CHECK(mt_tiny_gguf_file(&ok, model));
    SB_CHECK(mt_tiny_gguf_file(&arch, bad_arch));
    SB_CHECK(mt_tiny_gguf_file(&type, bad_type));
    FILE *f = fopen(garbage, "wb");
    fputs("GGUF but not really", f);
    fclose(f);
    char out[4096], errs[4096];

    const char *good[] = {"eval", "-m", model, "--tokens", "1 2 3", "--greedy", "3", "--logits-out", logits, NULL};
    int rc = eval(good, out, errs);
    SB_CHECKF(rc == 0, "eval exit %d: %s", rc, errs);
    int a, b, c;
    SB_CHECKF(sscanf(out, "%d %d %d", &a, &b, &c) == 3, "greedy output '%s'", out);
    f = fopen(logits, "rb");
    SB_CHECK(f != NULL);
    if (f) {
        fseek(f, 0, SEEK_END);
        SB_CHECK_EQ_INT(ftell(f), 3 * 40 * 4);
        fclose(f);
    }

    struct {
        const char *args[12];
        const char *expect;
    } bad[] = {
        {{"eval", "-m", model, "--tokens", "1 2 40", NULL}, "out of range"},
        {{"eval", "-m", model, "--tokens", "-1", NULL}, "out of range"},
        {{"eval", "-m", model, "--tokens", "", NULL}, "empty"},
        {{"eval", "-m", model, "--tokens", " , ", NULL}, "empty"},
        {{"eval", "-m", model, "--tokens", "1 x 2", NULL}, "not a token id"},
        {{"eval", "-m", model, "--tokens", "99999999999999", NULL}, "not a token id"},
        {{"eval", "-m", model, "--tokens", "1 2 3 4 5", "--ctx", "4", NULL}, "context"},
        {{"eval", "-m", model, "--tokens", "1 2 3", "--ctx", "4", "--greedy", "3", NULL}, "context"},
        {{"eval", "-m", "/nonexistent/x.gguf", "--tokens", "1", NULL}, "/nonexistent/x.gguf"},
        {{"eval", "-m", garbage, "--tokens", "1", NULL}, "not-a-model.gguf"},
        {{"eval", "-m", bad_arch, "--tokens", "1", NULL}, "'gpt2' is not supported"},
        {{"eval", "-m", bad_type, "--tokens", "1", NULL}, "output_norm.weight"},
        {{"eval", "-m", "synthetic:gpt5:q4_0", "--tokens", "1", NULL}, "unknown shape"},
        {{"eval", "-m", "synthetic:tinyllama-1.1b:q3_k", "--tokens", "1", NULL}, "unknown type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = eval(bad[i].args, out, errs);
        SB_CHECKF(rc == 1, "case %zu (%s): exit %d, expected 1; stderr: %s", i, bad[i].expect, rc, errs);
        SB_CHECKF(strstr(errs, bad[i].expect) != NULL, "case %zu: stderr '%s' lacks '%s'", i, errs, bad[i].expect);
    }
    const char *usage[] = {"eval", "--tokens", "1", NULL};
    SB_CHECK_EQ_INT(eval(usage, out, errs), 2);
    const char *usage2[] = {"eval", "-m", model, "--tokens", "1", "--greedy", "many", NULL};
    SB_CHECK_EQ_INT(eval(usage2, out, errs), 2);
}

int main(void) {
    sb_cpu_backend_opts o = {.n_threads = 2, .repack = true};
    sb_error err;
    if (sb_cpu_backend_create(&o, &g_be, &err) != SB_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    SB_RUN(test_tiny_loads_and_runs);
    SB_RUN(test_unsupported_arch);
    SB_RUN(test_unsupported_type);
    SB_RUN(test_missing_tensor);
    SB_RUN(test_wrong_shape);
    SB_RUN(test_missing_key);
    SB_RUN(test_moe_refused);
    SB_RUN(test_corrupt_files);
    SB_RUN(test_alloc_failures);
    SB_RUN(test_eval_cli);
    sb_backend_destroy(g_be);
    return sb_test_finish();
}
