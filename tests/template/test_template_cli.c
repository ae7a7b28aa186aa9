/*
 * test_template_cli.c - `solebox template` end to end: the chat template and
 * BOS/EOS texts come from the GGUF file, and the printed prompt equals the
 * golden renderings of ../shared/golden/chat byte for byte (with and without
 * --bos-text-strip); a model without a template falls back to ChatML with a
 * note; usage errors exit 2, other errors 1.
 */
#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_file.h"
#include "sb_template.h"
#include "sb_test.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Runs the solebox binary with args; captures stdout (and stderr to a
 * file in the temp dir). Returns the exit status, -1 if it did not run. */
static int run_solebox(const char *const *args, sb_buf *out, sb_buf *err_text) {
    char *argv[24];
    size_t n = 0;
    argv[n++] = (char *)sb_test_solebox_bin();
    for (size_t i = 0; args[i] && n + 1 < sizeof argv / sizeof argv[0]; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    char err_path[512];
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", sb_test_tmpdir());
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    posix_spawn_file_actions_addopen(&fa, 2, err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    if (rc != 0) {
        close(pipefd[0]);
        return -1;
    }
    char chunk[65536];
    ssize_t got;
    while ((got = read(pipefd[0], chunk, sizeof chunk)) > 0)
        sb_buf_append(out, chunk, (size_t)got);
    close(pipefd[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    char *e;
    size_t elen;
    sb_error err;
    if (err_text && sb_file_read_all(err_path, 1u << 20, &e, &elen, &err) == SB_OK) {
        sb_buf_append(err_text, e, elen);
        sb_free(e);
    }
    return WEXITSTATUS(status);
}

static bool buf_equals_file(const sb_buf *b, const char *path) {
    char *want;
    size_t len;
    sb_error err;
    if (sb_file_read_all(path, 1u << 20, &want, &len, &err) != SB_OK)
        return false;
    bool eq = b->len == len && (len == 0 || memcmp(b->data, want, len) == 0);
    sb_free(want);
    return eq;
}

/* Writes conversation i of conversations.json as a messages file; returns its path. */
static const char *write_messages(const sb_tmpl_value *convs, size_t i, char *name, size_t cap) {
    static char path[512];
    sb_tmpl_value *conv = sb_tmpl_list_get(convs, i), *msgs = sb_tmpl_dict_get(conv, "messages"),
                  *cname = sb_tmpl_dict_get(conv, "name");
    size_t nlen;
    const char *s = sb_tmpl_value_string(cname, &nlen);
    snprintf(name, cap, "%.*s", (int)nlen, s ? s : "?");
    char *json = NULL;
    size_t len = 0;
    sb_error err;
    snprintf(path, sizeof path, "%s/%s.json", sb_test_tmpdir(), name);
    SB_CHECK(sb_tmpl_value_to_json(msgs, &json, &len, &err) == SB_OK);
    SB_CHECK(json && sb_file_write_atomic(path, json, len, &err) == SB_OK);
    sb_free(json);
    sb_tmpl_value_free(cname);
    sb_tmpl_value_free(msgs);
    sb_tmpl_value_free(conv);
    return path;
}

/* One model + golden template directory: every conversation, with and
 * without the generation prompt, with and without --bos-text-strip. */
static void check_model(const char *model_rel, const char *golden_dir) {
    char model[4096], dir[4096];
    snprintf(model, sizeof model, "%s", sb_test_require_shared(model_rel));
    snprintf(dir, sizeof dir, "%s", sb_test_require_shared(golden_dir));
    const char *conv_path = sb_test_require_shared("golden/chat/conversations.json");
    char *text;
    size_t len;
    sb_error err;
    SB_CHECK(sb_file_read_all(conv_path, 1u << 20, &text, &len, &err) == SB_OK);
    sb_tmpl_value *convs = NULL;
    SB_CHECK(sb_tmpl_value_from_json(text, len, &convs, &err) == SB_OK);
    sb_free(text);
    size_t checked = 0, same = 0;
    for (size_t i = 0; i < sb_tmpl_value_len(convs); i++) {
        char name[128];
        const char *msgs = write_messages(convs, i, name, sizeof name);
        for (int gen = 0; gen < 2; gen++)
            for (int strip = 0; strip < 2; strip++) {
                const char *args[8] = {"template", "-m", model, "--messages", msgs};
                size_t k = 5;
                if (gen)
                    args[k++] = "--add-generation-prompt";
                if (strip)
                    args[k++] = "--bos-text-strip";
                args[k] = NULL;
                sb_buf out, errs;
                sb_buf_init(&out);
                sb_buf_init(&errs);
                int rc = run_solebox(args, &out, &errs);
                char want[4096 + 256];
                snprintf(want, sizeof want, "%s/%s.%s.%s.txt", dir, name, gen ? "gen" : "nogen",
                         strip ? "server" : "server_add_bos_off");
                bool eq = rc == 0 && buf_equals_file(&out, want);
                SB_CHECKF(eq, "%s %s gen=%d strip=%d: rc %d, stderr: %s", model_rel, name, gen, strip, rc,
                          errs.data ? errs.data : "");
                checked++;
                same += eq;
                sb_buf_free(&out);
                sb_buf_free(&errs);
            }
    }
    printf("solebox template with %s: %zu/%zu golden renderings identical\n", model_rel, same, checked);
    sb_tmpl_value_free(convs);
}

static void test_llama3(void) { check_model("models/synthetic/llama3-rope-f16.gguf", "golden/chat/llama3"); }
static void test_qwen(void) { check_model("models/synthetic/qwen3-f16.gguf", "golden/chat/qwen2-chatml"); }

static void test_no_template_and_errors(void) {
    char model[4096];
    snprintf(model, sizeof model, "%s", sb_test_require_shared("models/synthetic/llama-spm512-f32.gguf"));
    char msgs[512];
    snprintf(msgs, sizeof msgs, "%s/obj.json", sb_test_tmpdir());
    const char *doc = "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"add_generation_prompt\": true}";
    sb_error err;
    SB_CHECK(sb_file_write_atomic(msgs, doc, strlen(doc), &err) == SB_OK);

    sb_buf out, errs;
    sb_buf_init(&out);
    sb_buf_init(&errs);
    const char *args[] = {"template", "-m", model, "--messages", msgs, NULL};
    SB_CHECK(run_solebox(args, &out, &errs) == 0);
    SB_CHECK(out.data && strcmp(out.data, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") == 0);
    SB_CHECKF(errs.data && strstr(errs.data, "ChatML") != NULL, "stderr: %s", errs.data ? errs.data : "");
    sb_buf_free(&out);
    sb_buf_free(&errs);

    const char *usage_args[] = {"template", "--messages", msgs, NULL};
    sb_buf_init(&out);
    SB_CHECK(run_solebox(usage_args, &out, NULL) == 2);
    SB_CHECK(out.len == 0);
    sb_buf_free(&out);

    const char *missing[] = {"template", "-m", model, "--messages", "/nonexistent/messages.json", NULL};
    sb_buf_init(&out);
    SB_CHECK(run_solebox(missing, &out, NULL) == 1);
    SB_CHECK(out.len == 0);
    sb_buf_free(&out);

    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/refuse.jinja", sb_test_tmpdir());
    const char *src = "{{ raise_exception('System role not supported') }}";
    SB_CHECK(sb_file_write_atomic(tmpl, src, strlen(src), &err) == SB_OK);
    const char *refused[] = {"template", "--template", tmpl, "--messages", msgs, NULL};
    sb_buf_init(&out);
    sb_buf_init(&errs);
    SB_CHECK(run_solebox(refused, &out, &errs) == 1);
    SB_CHECKF(errs.data && strstr(errs.data, "System role not supported") != NULL, "stderr: %s",
              errs.data ? errs.data : "");
    sb_buf_free(&out);
    sb_buf_free(&errs);
}

int main(void) {
    SB_RUN(test_no_template_and_errors);
    SB_RUN(test_llama3);
    SB_RUN(test_qwen);
    return sb_test_finish();
}
