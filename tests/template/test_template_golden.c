/*
 * test_template_golden.c - every golden chat rendering in ../shared/golden/chat
 * must come out byte-identical (README sections 7 and 7b).
 *
 * Set 1: chat/<name>.jinja x conversations.json, rendered by llama-server
 * (minja). `server_add_bos_off` is the full template output; `server` is the
 * same with the leading BOS text removed when the model's add_bos_token is
 * true (sb_template_strip_bos).
 * Set 2: the chat/templates2 results files, rendered by Python jinja2 as Hugging
 * Face does; an error result must be an error, with the exact message when
 * the template called raise_exception().
 */
#include "sb_alloc.h"
#include "sb_file.h"
#include "sb_template.h"
#include "sb_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PINNED_NOW 1721952000 /* 2024-07-26 00:00:00 UTC, the goldens' strftime_now date */

/* The models set 1 was served with (README sections 2, 4 and 7). */
typedef struct set1_template {
    const char *name;
    const char *bos, *eos;
    bool add_bos;
} set1_template;

static const set1_template k_set1[] = {
    {"llama3", "<|begin_of_text|>", "<|eot_id|>", true},               /* synthetic/llama3-rope-f16.gguf */
    {"qwen2-chatml", "<|endoftext|>", "<|im_end|>", false},            /* synthetic/qwen3-f16.gguf */
    {"qwen2-tokenizer-config", "<|endoftext|>", "<|im_end|>", false}, /* synthetic/qwen3-f16.gguf */
};

/* Reads and parses a JSON file under the shared directory (skips the test
 * when absent). The caller frees the value. */
static sb_tmpl_value *load_json(const char *rel) {
    const char *path = sb_test_require_shared(rel);
    char *text;
    size_t len;
    sb_error err = {0};
    if (sb_file_read_all(path, 64u << 20, &text, &len, &err) != SB_OK) {
        SB_CHECKF(false, "%s: %s", rel, err.msg);
        return NULL;
    }
    sb_tmpl_value *v = NULL;
    SB_CHECKF(sb_tmpl_value_from_json(text, len, &v, &err) == SB_OK, "%s: %s", rel, err.msg);
    sb_free(text);
    return v;
}

static sb_template *load_template(const char *rel) {
    const char *path = sb_test_require_shared(rel);
    char *text;
    size_t len;
    sb_error err = {0};
    if (sb_file_read_all(path, 1u << 20, &text, &len, &err) != SB_OK) {
        SB_CHECKF(false, "%s: %s", rel, err.msg);
        return NULL;
    }
    sb_template *t = NULL;
    SB_CHECKF(sb_template_compile(text, len, NULL, &t, &err) == SB_OK, "%s: %s", rel, err.msg);
    sb_free(text);
    return t;
}

/* A string field of a dict as a malloc'd C string (NULL if absent). */
static char *get_str(const sb_tmpl_value *d, const char *key) {
    sb_tmpl_value *v = sb_tmpl_dict_get(d, key);
    size_t len = 0;
    const char *s = sb_tmpl_value_string(v, &len);
    char *copy = s ? sb_strndup(s, len) : NULL;
    sb_tmpl_value_free(v);
    return copy;
}

static bool get_bool(const sb_tmpl_value *d, const char *key) {
    sb_tmpl_value *v = sb_tmpl_dict_get(d, key);
    char *json = NULL;
    sb_error err;
    bool b = v && sb_tmpl_value_to_json(v, &json, NULL, &err) == SB_OK && strcmp(json, "true") == 0;
    sb_free(json);
    sb_tmpl_value_free(v);
    return b;
}

/* The conversation named `name` in a conversations file (new handle or NULL). */
static sb_tmpl_value *find_conversation(const sb_tmpl_value *convs, const char *name) {
    for (size_t i = 0; i < sb_tmpl_value_len(convs); i++) {
        sb_tmpl_value *c = sb_tmpl_list_get(convs, i);
        char *n = get_str(c, "name");
        bool hit = n && strcmp(n, name) == 0;
        sb_free(n);
        if (hit)
            return c;
        sb_tmpl_value_free(c);
    }
    return NULL;
}

/* Renders one conversation; returns the status, *out on success. */
static sb_status render_conv(const sb_template *t, const sb_tmpl_value *conv, bool agp, const char *bos,
                             const char *eos, char **out, size_t *len, sb_error *err) {
    sb_tmpl_value *msgs = sb_tmpl_dict_get(conv, "messages"), *tools = sb_tmpl_dict_get(conv, "tools");
    sb_template_inputs in = {.messages = msgs, .tools = tools, .add_generation_prompt = agp, .now = PINNED_NOW};
    in.bos_token = sb_str_from_cstr(bos);
    in.eos_token = sb_str_from_cstr(eos);
    sb_status st = sb_template_render(t, &in, out, len, err);
    sb_tmpl_value_free(msgs);
    sb_tmpl_value_free(tools);
    return st;
}

static void test_set1(void) {
    sb_tmpl_value *convs = load_json("golden/chat/conversations.json");
    size_t total = 0, full_ok = 0, server_ok = 0;
    for (size_t k = 0; convs && k < sizeof k_set1 / sizeof k_set1[0]; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "golden/chat/%s.jinja", k_set1[k].name);
        sb_template *t = load_template(rel);
        snprintf(rel, sizeof rel, "golden/chat/%s.rendered.json", k_set1[k].name);
        sb_tmpl_value *doc = load_json(rel), *results = doc ? sb_tmpl_dict_get(doc, "results") : NULL;
        for (size_t i = 0; t && i < sb_tmpl_value_len(results); i++) {
            sb_tmpl_value *r = sb_tmpl_list_get(results, i);
            char *name = get_str(r, "conversation"), *want_full = get_str(r, "server_add_bos_off"),
                 *want_server = get_str(r, "server");
            bool agp = get_bool(r, "add_generation_prompt");
            sb_tmpl_value *conv = find_conversation(convs, name);
            char *out = NULL;
            size_t len = 0;
            sb_error err = {0};
            sb_status st = conv ? render_conv(t, conv, agp, k_set1[k].bos, k_set1[k].eos, &out, &len, &err) : SB_ERR_NOT_FOUND;
            total++;
            SB_CHECKF(st == SB_OK, "%s/%s: %s", k_set1[k].name, name, err.msg);
            if (st == SB_OK) {
                bool full = want_full && len == strlen(want_full) && memcmp(out, want_full, len) == 0;
                full_ok += full;
                SB_CHECKF(full, "%s/%s gen=%d: full rendering differs\n got:  %s\n want: %s", k_set1[k].name, name,
                          agp, out, want_full);
                if (k_set1[k].add_bos)
                    SB_CHECK(sb_template_strip_bos(out, &len, sb_str_from_cstr(k_set1[k].bos)));
                bool server = want_server && len == strlen(want_server) && memcmp(out, want_server, len) == 0;
                server_ok += server;
                SB_CHECKF(server, "%s/%s gen=%d: server rendering differs\n got:  %s\n want: %s", k_set1[k].name,
                          name, agp, out, want_server);
            }
            sb_free(out);
            sb_free(name);
            sb_free(want_full);
            sb_free(want_server);
            sb_tmpl_value_free(conv);
            sb_tmpl_value_free(r);
        }
        sb_tmpl_value_free(results);
        sb_tmpl_value_free(doc);
        sb_template_free(t);
    }
    sb_tmpl_value_free(convs);
    printf("golden set 1: %zu/%zu full renderings, %zu/%zu with the BOS text stripped\n", full_ok, total, server_ok,
           total);
    SB_CHECK(total == 36);
}

/* One set-2 result: a string, or {"error": ..., "error_type": ...}. */
static bool check_set2_result(const sb_template *t, const sb_tmpl_value *convs, const sb_tmpl_value *r,
                              const char *tname, const char *bos, const char *eos) {
    char *name = get_str(r, "conversation");
    bool agp = get_bool(r, "add_generation_prompt");
    sb_tmpl_value *want = sb_tmpl_dict_get(r, "jinja2"), *conv = find_conversation(convs, name);
    char *out = NULL;
    size_t len = 0;
    sb_error err = {0};
    bool ok = false;
    sb_status st = conv ? render_conv(t, conv, agp, bos, eos, &out, &len, &err) : SB_ERR_NOT_FOUND;
    if (sb_tmpl_value_type(want) == SB_TMPL_STRING) {
        size_t wlen;
        const char *w = sb_tmpl_value_string(want, &wlen);
        ok = st == SB_OK && len == wlen && memcmp(out, w, wlen) == 0;
        SB_CHECKF(ok, "%s/%s gen=%d: %s\n got:  %s\n want: %s", tname, name, agp, st ? err.msg : "differs",
                  out ? out : "", w);
    } else {
        char *type = get_str(want, "error_type"), *msg = get_str(want, "error");
        if (type && strcmp(type, "raise_exception") == 0)
            ok = st == SB_ERR_INVALID_ARG && msg && strcmp(err.msg, msg) == 0;
        else
            ok = st == SB_ERR_FORMAT;
        SB_CHECKF(ok, "%s/%s gen=%d: want error %s \"%s\", got status %s \"%s\"", tname, name, agp, type, msg,
                  sb_status_name(st), err.msg);
        sb_free(type);
        sb_free(msg);
    }
    sb_free(out);
    sb_free(name);
    sb_tmpl_value_free(want);
    sb_tmpl_value_free(conv);
    return ok;
}

static void test_set2(void) {
    sb_tmpl_value *convs = load_json("golden/chat/conversations2.json");
    const char *dir_path = sb_test_require_shared("golden/chat/templates2");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", dir_path);
    DIR *d = opendir(dir);
    SB_CHECK(d != NULL);
    size_t total = 0, ok = 0, files = 0;
    struct dirent *e;
    while (d && convs && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 14 || strcmp(e->d_name + n - 14, ".rendered.json") != 0)
            continue;
        files++;
        char rel[512];
        snprintf(rel, sizeof rel, "golden/chat/templates2/%s", e->d_name);
        sb_tmpl_value *doc = load_json(rel);
        char *tfile = get_str(doc, "template_file"), *bos = get_str(doc, "bos_token"), *eos = get_str(doc, "eos_token");
        snprintf(rel, sizeof rel, "golden/chat/templates2/%s", tfile ? tfile : "?");
        sb_template *t = load_template(rel);
        sb_tmpl_value *results = sb_tmpl_dict_get(doc, "results");
        for (size_t i = 0; t && i < sb_tmpl_value_len(results); i++) {
            sb_tmpl_value *r = sb_tmpl_list_get(results, i);
            ok += check_set2_result(t, convs, r, tfile, bos ? bos : "", eos ? eos : "");
            total++;
            sb_tmpl_value_free(r);
        }
        sb_tmpl_value_free(results);
        sb_template_free(t);
        sb_free(tfile);
        sb_free(bos);
        sb_free(eos);
        sb_tmpl_value_free(doc);
    }
    if (d)
        closedir(d);
    sb_tmpl_value_free(convs);
    printf("golden set 2: %zu/%zu results from %zu templates\n", ok, total, files);
    SB_CHECK(total == 110);
}

int main(void) {
    SB_RUN(test_set1);
    SB_RUN(test_set2);
    return sb_test_finish();
}
