/*
 * test_tok_cli.c - `solebox tokenize` run as a program: ids on one line,
 * --pieces, --special, --bos/--no-bos, standard input, and the exit codes
 * (1 for errors, 2 for usage). Uses a small vocabulary written to a
 * temporary file, and llama.cpp's Llama 2 vocabulary when ../shared exists.
 */
#include "sb_alloc.h"
#include "sb_test.h"
#include "tok_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static char g_out[65536];

/* Runs a shell command; returns its exit status and leaves stdout in g_out. */
static int run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    size_t n = fread(g_out, 1, sizeof g_out - 1, p);
    g_out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char g_vocab[4096];

/* Writes the small SPM vocabulary of tok_test_util to a file. */
static bool write_small_vocab(void) {
    tt_vocab v;
    if (!tt_spm_vocab(&v))
        return false;
    snprintf(g_vocab, sizeof g_vocab, "%s/spm.gguf", sb_test_tmpdir());
    FILE *f = fopen(g_vocab, "wb");
    bool ok = f && fwrite(sb_gguf_file_data(v.g), 1, sb_gguf_file_size(v.g), f) == sb_gguf_file_size(v.g);
    if (f)
        fclose(f);
    tt_free(&v);
    return ok;
}

static void test_cli_small(void) {
    SB_CHECK(write_small_vocab());
    const char *bin = sb_test_solebox_bin();
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p 'hello world'", bin, g_vocab);
    SB_CHECK(run(cmd) == 0);
    SB_CHECKF(strcmp(g_out, "1 271 272 273 262 266\n") == 0, "got '%s'", g_out);
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p 'hello world' --no-bos", bin, g_vocab);
    SB_CHECK(run(cmd) == 0 && strcmp(g_out, "271 272 273 262 266\n") == 0);
    snprintf(cmd, sizeof cmd, "printf 'hello' | '%s' tokenize -m '%s'", bin, g_vocab);
    SB_CHECK(run(cmd) == 0 && strcmp(g_out, "1 271\n") == 0);
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p '<ctl>hello' --no-bos --special", bin, g_vocab);
    SB_CHECKF(run(cmd) == 0 && strcmp(g_out, "275 271\n") == 0, "got '%s'", g_out);
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p 'hello' --pieces", bin, g_vocab);
    SB_CHECKF(run(cmd) == 0 && strcmp(g_out, "1\t<s>\n271\t hello\n") == 0, "got '%s'", g_out);
    snprintf(cmd, sizeof cmd, "printf 'a\\nb\\377' | '%s' tokenize -m '%s' --pieces --no-bos", bin, g_vocab);
    SB_CHECKF(run(cmd) == 0 && strstr(g_out, "\\n") && strstr(g_out, "\\xff"), "got '%s'", g_out);
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p '' ", bin, g_vocab);
    SB_CHECK(run(cmd) == 0 && strcmp(g_out, "1\n") == 0);
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p '' --no-bos", bin, g_vocab);
    SB_CHECK(run(cmd) == 0 && strcmp(g_out, "\n") == 0);
    /* errors and usage */
    snprintf(cmd, sizeof cmd, "'%s' tokenize -p x 2>/dev/null", bin);
    SB_CHECK(run(cmd) == 2);
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' --bogus 2>/dev/null", bin, g_vocab);
    SB_CHECK(run(cmd) == 2);
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s/missing.gguf' -p x 2>/dev/null", bin, sb_test_tmpdir());
    SB_CHECK(run(cmd) == 1);
    snprintf(cmd, sizeof cmd, "'%s' tokenize --help", bin);
    SB_CHECK(run(cmd) == 0 && strstr(g_out, "usage"));
}

static void test_cli_llama_spm(void) {
    const char *p = sb_test_shared("models/vocab/ggml-vocab-llama-spm.gguf");
    if (!p)
        return;
    char vocab[4096], cmd[8192];
    snprintf(vocab, sizeof vocab, "%s", p);
    const char *bin = sb_test_solebox_bin();
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p 'Hello world'", bin, vocab);
    SB_CHECKF(run(cmd) == 0 && strcmp(g_out, "1 15043 3186\n") == 0, "got '%s'", g_out);
    snprintf(cmd, sizeof cmd, "'%s' tokenize -m '%s' -p '<s>Hi</s>' --special --no-bos", bin, vocab);
    SB_CHECKF(run(cmd) == 0 && strcmp(g_out, "1 6324 2\n") == 0, "got '%s'", g_out);
}

int main(void) {
    FILE *f = fopen(sb_test_solebox_bin(), "rb");
    if (!f)
        sb_test_skip("the solebox binary %s is not built", sb_test_solebox_bin());
    fclose(f);
    SB_RUN(test_cli_small);
    SB_RUN(test_cli_llama_spm);
    return sb_test_finish();
}
