/*
 * test_cli.c - `solebox run`, `bench` and `quantize` through the built
 * binary: bad input gives a clear message and exit status 1 (2 for usage
 * errors), never a crash; and the stories260K goldens through `run`.
 */
#include "sb_alloc.h"
#include "sb_file.h"
#include "sb_gguf.h"
#include "sb_gguf_writer.h"
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char g_out[2048], g_errf[2048];

/* Runs `solebox ARGS` (a shell fragment); returns the exit status (or -1
 * when killed by a signal); stdout/stderr land in g_out / g_errf. */
static int sh(const char *args) {
    char cmd[8192];
    snprintf(g_out, sizeof g_out, "%s/stdout.txt", sb_test_tmpdir());
    snprintf(g_errf, sizeof g_errf, "%s/stderr.txt", sb_test_tmpdir());
    snprintf(cmd, sizeof cmd, "'%s' %s >'%s' 2>'%s' </dev/null", sb_test_solebox_bin(), args, g_out, g_errf);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static char *slurp(const char *path, size_t *len) {
    char *d = NULL;
    size_t n = 0;
    if (sb_file_read_all(path, 16 << 20, &d, &n, NULL) != SB_OK)
        return NULL;
    if (len)
        *len = n;
    return d;
}

static bool err_has(const char *needle) {
    char *e = slurp(g_errf, NULL);
    bool ok = e && strstr(e, needle) != NULL;
    if (!ok)
        fprintf(stderr, "  stderr was: %s\n", e ? e : "(none)");
    sb_free(e);
    return ok;
}

static char stories[1024];

/* A copy of stories260K's metadata with another architecture, no tensors. */
static void write_wrong_arch(const char *path) {
    sb_gguf *g = NULL;
    SB_CHECK(sb_gguf_open(stories, &g, NULL) == SB_OK);
    sb_gguf_writer *w = sb_gguf_writer_create();
    for (size_t i = 0; g && i < sb_gguf_n_kv(g); i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(g, i);
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
        sb_gguf_writer_set_value(w, key, &kv->value, NULL);
    }
    sb_gguf_writer_set_string(w, "general.architecture", "mamba", 5, NULL);
    SB_CHECK(sb_gguf_writer_write(w, path, NULL, NULL, NULL, NULL, NULL) == SB_OK);
    sb_gguf_writer_free(w);
    sb_gguf_close(g);
}

static void test_run_errors(void) {
    char args[4096], path[1200];
    SB_CHECK_EQ_INT(sh("run -m /nonexistent/m.gguf -p hi"), 1);
    SB_CHECK(err_has("/nonexistent/m.gguf"));
    snprintf(path, sizeof path, "%s/corrupt.gguf", sb_test_tmpdir());
    SB_CHECK(sb_file_write_atomic(path, "GGUF\x03\0\0\0garbage-garbage-garbage", 31, NULL) == SB_OK);
    snprintf(args, sizeof args, "run -m '%s' -p hi", path);
    SB_CHECK_EQ_INT(sh(args), 1);
    SB_CHECK(err_has("corrupt.gguf"));
    snprintf(path, sizeof path, "%s/empty.gguf", sb_test_tmpdir());
    SB_CHECK(sb_file_write_atomic(path, "", 0, NULL) == SB_OK);
    snprintf(args, sizeof args, "run -m '%s' -p hi", path);
    SB_CHECK_EQ_INT(sh(args), 1);
    snprintf(path, sizeof path, "%s/mamba.gguf", sb_test_tmpdir());
    write_wrong_arch(path);
    snprintf(args, sizeof args, "run -m '%s' -p hi", path);
    SB_CHECK_EQ_INT(sh(args), 1);
    SB_CHECK(err_has("mamba"));
    const char *vocab = sb_test_shared("models/vocab/ggml-vocab-llama-bpe.gguf");
    if (vocab) {
        snprintf(args, sizeof args, "run -m '%s' -p hi", vocab);
        SB_CHECK_EQ_INT(sh(args), 1);
    }
    snprintf(args, sizeof args, "run -m '%s' -p hi -n 0", stories);
    SB_CHECK_EQ_INT(sh(args), 1);
    SB_CHECK(err_has("-n 0"));
    /* a prompt longer than the context */
    snprintf(args, sizeof args,
             "run -m '%s' --ctx 16 -n 4 -p 'one two three four five six seven eight nine ten eleven twelve "
             "thirteen fourteen fifteen sixteen seventeen'",
             stories);
    SB_CHECK_EQ_INT(sh(args), 1);
    SB_CHECK(err_has("context"));
    /* prompt + n beyond the context: refused, not truncated */
    snprintf(args, sizeof args, "run -m '%s' --ctx 32 -n 40 -p 'Once'", stories);
    SB_CHECK_EQ_INT(sh(args), 1);
    SB_CHECK(err_has("max_tokens"));
    SB_CHECK_EQ_INT(sh("run -p hi"), 2);
    snprintf(args, sizeof args, "run -m '%s' -p hi --temp abc", stories);
    SB_CHECK_EQ_INT(sh(args), 2);
    snprintf(args, sizeof args, "run -m '%s' -p hi --kv-type q4", stories);
    SB_CHECK_EQ_INT(sh(args), 2);
    SB_CHECK_EQ_INT(sh("run --help"), 0);
}

static void test_run_goldens(void) {
    char args[4096];
    size_t glen = 0, olen = 0;
    /* BOS only: the whole golden text is the continuation */
    char *gold = slurp(sb_test_require_shared("golden/text/stories260K.bos-only.n200.txt"), &glen);
    snprintf(args, sizeof args, "run -m '%s' -p '' -n 200 --temp 0 --kv-type f32 -t 2 --ignore-eos", stories);
    SB_CHECK_EQ_INT(sh(args), 0);
    char *out = slurp(g_out, &olen);
    SB_CHECKF(gold && out && olen == glen && memcmp(gold, out, glen) == 0, "BOS-only golden differs");
    SB_CHECK(err_has("tok/s"));
    sb_free(gold);
    sb_free(out);
    /* "Once upon a time": golden = " Once upon a time" (the prompt,
     * detokenized with its leading space) + the continuation */
    gold = slurp(sb_test_require_shared("golden/text/stories260K.once-upon-a-time.n200.txt"), &glen);
    snprintf(args, sizeof args, "run -m '%s' -p 'Once upon a time' -n 200 --temp 0 --kv-type f32 -t 1", stories);
    SB_CHECK_EQ_INT(sh(args), 0);
    out = slurp(g_out, &olen);
    const char *pre = " Once upon a time";
    size_t pl = strlen(pre);
    SB_CHECKF(gold && out && glen == pl + olen && memcmp(gold, pre, pl) == 0 && memcmp(gold + pl, out, olen) == 0,
              "once-upon-a-time golden differs");
    sb_free(gold);
    sb_free(out);
    /* sampling with a seed is reproducible */
    snprintf(args, sizeof args, "run -m '%s' -p 'Once upon a time' -n 40 --temp 0.9 --seed 7", stories);
    SB_CHECK_EQ_INT(sh(args), 0);
    char *a = slurp(g_out, &olen);
    SB_CHECK_EQ_INT(sh(args), 0);
    char *b = slurp(g_out, &glen);
    SB_CHECK(a && b && olen == glen && memcmp(a, b, olen) == 0);
    SB_CHECK(err_has("seed:      7"));
    sb_free(a);
    sb_free(b);
    /* --chat works with the built-in ChatML and says so */
    snprintf(args, sizeof args, "run -m '%s' -p 'Hello' -n 8 --temp 0 --chat --system 'Be brief.'", stories);
    SB_CHECK_EQ_INT(sh(args), 0);
    SB_CHECK(err_has("ChatML"));
}

static void test_bench_cli(void) {
    char args[4096];
    SB_CHECK_EQ_INT(sh("bench --synthetic nosuch-shape:q4_0 -p 4 -n 4 --no-probe"), 1);
    SB_CHECK_EQ_INT(sh("bench -m /nonexistent.gguf"), 1);
    SB_CHECK_EQ_INT(sh("bench"), 2);
    snprintf(args, sizeof args, "bench -m '%s' --synthetic tinyllama-1.1b:q4_0", stories);
    SB_CHECK_EQ_INT(sh(args), 2);
    snprintf(args, sizeof args, "bench -m '%s' -p 16 -n 8 -r 2 --json --no-probe", stories);
    SB_CHECK_EQ_INT(sh(args), 0);
    char *out = slurp(g_out, NULL);
    SB_CHECK(out && out[0] == '{' && strstr(out, "\"decode\"") && strstr(out, "\"prefill\""));
    sb_free(out);
    /* -d: decode after 40 positions; the KV bytes a token reads are those of
     * the mean decode position, 40 + (4 + 1) / 2, over 2 layers x 2 KV heads x
     * (64 + 64) F16 values */
    SB_CHECK_EQ_INT(sh("bench --synthetic micro-llama:q8_0 -p 8 -n 4 -d -1 --no-probe"), 2);
    SB_CHECK_EQ_INT(sh("bench --synthetic micro-llama:q8_0 -p 8 -n 4 -d 40 -r 1 --json --no-probe"), 0);
    out = slurp(g_out, NULL);
    SB_CHECKF(out && strstr(out, "\"depth\":40,") && strstr(out, "\"kv_bytes_per_token\":43520,"), "output: %s",
              out ? out : "(none)");
    sb_free(out);
}

static void test_quantize_cli(void) {
    char args[4096], out[1200];
    snprintf(out, sizeof out, "%s/q.gguf", sb_test_tmpdir());
    char base_buf[1024], q8_buf[1024]; /* sb_test_shared's string is overwritten by the next call */
    const char *p = sb_test_shared("models/synthetic/llama-spm512-f32.gguf");
    const char *base = p ? strcpy(base_buf, p) : NULL;
    p = sb_test_shared("models/synthetic/llama-spm512-q8_0.gguf");
    const char *q8 = p ? strcpy(q8_buf, p) : NULL;
    SB_CHECK_EQ_INT(sh("quantize"), 2);
    snprintf(args, sizeof args, "quantize /nonexistent.gguf '%s' q4_0", out);
    SB_CHECK_EQ_INT(sh(args), 1);
    if (base) {
        snprintf(args, sizeof args, "quantize '%s' '%s' q3_k_s", base, out);
        SB_CHECK_EQ_INT(sh(args), 1);
        SB_CHECK(err_has("q3_k_s"));
        snprintf(args, sizeof args, "quantize '%s' '%s' Q4_K_M", base, out);
        SB_CHECK_EQ_INT(sh(args), 0);
        SB_CHECK(err_has("Q6_K"));
        snprintf(args, sizeof args, "run -m '%s' -p 'Once' -n 4 --temp 0", out);
        SB_CHECK_EQ_INT(sh(args), 0);
    }
    if (q8) {
        snprintf(args, sizeof args, "quantize '%s' '%s' q4_0", q8, out);
        SB_CHECK_EQ_INT(sh(args), 1);
        SB_CHECK(err_has("requantiz"));
    }
    /* a NaN weight: refused with the tensor and where, no output file */
    char nan_in[1200];
    snprintf(nan_in, sizeof nan_in, "%s/nan-f32.gguf", sb_test_tmpdir());
    float w[64 * 2];
    for (int i = 0; i < 128; i++)
        w[i] = (float)(i % 9) - 4.0f;
    w[64 + 3] = __builtin_nanf("");
    const int64_t ne[2] = {64, 2};
    sb_gguf_writer *g = sb_gguf_writer_create();
    SB_CHECK(g && sb_gguf_writer_add_tensor(g, "blk.0.ffn_up.weight", SB_TYPE_F32, 2, ne, w, NULL, NULL) == SB_OK &&
             sb_gguf_writer_write(g, nan_in, NULL, NULL, NULL, NULL, NULL) == SB_OK);
    sb_gguf_writer_free(g);
    remove(out);
    snprintf(args, sizeof args, "quantize '%s' '%s' q8_0", nan_in, out);
    SB_CHECK_EQ_INT(sh(args), 1);
    SB_CHECK(err_has("'blk.0.ffn_up.weight': row 1, column 3 holds NaN"));
    FILE *f = fopen(out, "rb");
    SB_CHECK(f == NULL);
    if (f)
        fclose(f);
    remove(nan_in);
}

int main(void) {
    snprintf(stories, sizeof stories, "%s", sb_test_require_shared("models/stories260K.gguf"));
    SB_RUN(test_run_errors);
    SB_RUN(test_run_goldens);
    SB_RUN(test_bench_cli);
    SB_RUN(test_quantize_cli);
    return sb_test_finish();
}
