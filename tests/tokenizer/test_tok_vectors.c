/*
 * test_tok_vectors.c - the tokenizer against llama.cpp's test vectors.
 *
 * 1. Every shared/models/vocab/<name>.gguf.inp/.out pair whose GGUF exists
 *    (pairs without a GGUF are reported and skipped): add_special and
 *    parse_special off, as llama.cpp's tests/test-tokenizer-0.
 * 2. Every shared/golden/tokenize/<vocab>.extra.out (parse_special off) and
 *    <vocab>.extra.special.out (on) against extra.inp.
 * Both must match exactly; each vocabulary and set prints "N/N".
 */
#define _GNU_SOURCE /* memmem, strndup */
#include "sb_alloc.h"
#include "sb_file.h"
#include "sb_gguf.h"
#include "sb_test.h"
#include "sb_tokenizer.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP "\n__ggml_vocab_test__\n"

typedef struct strlist {
    char **s;
    size_t *len;
    size_t n;
} strlist;

/* Splits an .inp file at the separator (the text after the last one is
 * dropped, as it is empty in every file). */
static bool read_inputs(const char *path, strlist *out) {
    char *data;
    size_t len;
    if (sb_file_read_all(path, 1 << 24, &data, &len, NULL) != SB_OK)
        return false;
    memset(out, 0, sizeof *out);
    size_t cap = 64;
    out->s = calloc(cap, sizeof *out->s);
    out->len = calloc(cap, sizeof *out->len);
    size_t pos = 0, sl = strlen(SEP);
    for (;;) {
        char *hit = memmem(data + pos, len - pos, SEP, sl);
        if (!hit)
            break;
        size_t l = (size_t)(hit - (data + pos));
        if (out->n == cap) {
            cap *= 2;
            out->s = realloc(out->s, cap * sizeof *out->s);
            out->len = realloc(out->len, cap * sizeof *out->len);
        }
        out->s[out->n] = malloc(l + 1);
        memcpy(out->s[out->n], data + pos, l);
        out->s[out->n][l] = 0;
        out->len[out->n++] = l;
        pos = (size_t)(hit - data) + sl;
    }
    sb_free(data);
    return true;
}

/* One line per input: ids separated by spaces. */
static bool read_outputs(const char *path, strlist *out) {
    char *data;
    size_t len;
    if (sb_file_read_all(path, 1 << 24, &data, &len, NULL) != SB_OK)
        return false;
    memset(out, 0, sizeof *out);
    size_t cap = 64;
    out->s = calloc(cap, sizeof *out->s);
    out->len = calloc(cap, sizeof *out->len);
    size_t pos = 0;
    while (pos < len) {
        char *nl = memchr(data + pos, '\n', len - pos);
        size_t l = nl ? (size_t)(nl - (data + pos)) : len - pos;
        if (out->n == cap) {
            cap *= 2;
            out->s = realloc(out->s, cap * sizeof *out->s);
            out->len = realloc(out->len, cap * sizeof *out->len);
        }
        out->s[out->n] = malloc(l + 1);
        memcpy(out->s[out->n], data + pos, l);
        out->s[out->n][l] = 0;
        out->len[out->n++] = l;
        pos += l + 1;
    }
    sb_free(data);
    return true;
}

static void free_list(strlist *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    free(l->len);
}

static bool same_ids(const char *expect, const int32_t *ids, size_t n) {
    const char *p = expect;
    for (size_t i = 0; i < n; i++) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v != ids[i])
            return false;
        p = end;
    }
    while (*p == ' ')
        p++;
    return *p == '\0';
}

static void print_ids(const char *label, const int32_t *ids, size_t n) {
    fprintf(stderr, "    %s:", label);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, "\n");
}

static int g_vocabs_run;

/* Runs one set; returns the number of mismatches. */
static size_t run_set(const char *vocab_path, const char *inp, const char *outp, bool parse_special,
                      const char *label) {
    strlist in, out;
    if (!read_inputs(inp, &in) || !read_outputs(outp, &out)) {
        SB_CHECKF(false, "cannot read %s / %s", inp, outp);
        return 1;
    }
    sb_gguf *g = NULL;
    sb_tokenizer *t = NULL;
    sb_error err = {0};
    sb_status st = sb_gguf_open(vocab_path, &g, &err);
    if (st == SB_OK)
        st = sb_tokenizer_create(g, &t, &err);
    SB_CHECKF(st == SB_OK, "%s: %s", vocab_path, err.msg);
    size_t bad = 0;
    if (st == SB_OK) {
        SB_CHECKF(in.n == out.n, "%s: %zu inputs but %zu outputs", label, in.n, out.n);
        size_t n = in.n < out.n ? in.n : out.n;
        for (size_t i = 0; i < n; i++) {
            int32_t *ids = NULL;
            size_t nids = 0;
            st = sb_tokenize(t, in.s[i], in.len[i], false, parse_special, &ids, &nids, &err);
            if (st != SB_OK || !same_ids(out.s[i], ids, nids)) {
                bad++;
                if (bad <= 5) {
                    fprintf(stderr, "  %s: string %zu mismatch (%s)\n    text: '%s'\n    want:%s\n", label, i,
                            st == SB_OK ? "ids" : err.msg, in.s[i], out.s[i]);
                    print_ids("got ", ids, nids);
                }
            }
            sb_free(ids);
        }
        printf("%-40s %zu/%zu%s", label, n - bad, n, bad ? "  MISMATCH\n" : "\n");
        SB_CHECKF(bad == 0, "%s: %zu of %zu strings differ from llama.cpp", label, bad, n);
        g_vocabs_run++;
    }
    sb_tokenizer_free(t);
    sb_gguf_close(g);
    free_list(&in);
    free_list(&out);
    return bad;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_vocab_vectors(void) {
    const char *dir = sb_test_shared("models/vocab");
    if (!dir) {
        printf("models/vocab absent: vocab vectors skipped\n");
        return;
    }
    char dirpath[4096];
    snprintf(dirpath, sizeof dirpath, "%s", dir);
    DIR *d = opendir(dirpath);
    SB_CHECK(d != NULL);
    if (!d)
        return;
    char *names[256];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 256) {
        size_t l = strlen(e->d_name);
        if (l > 9 && strcmp(e->d_name + l - 9, ".gguf.inp") == 0)
            names[nn++] = strndup(e->d_name, l - 4);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        char gguf[4400], inp[4410], outp[4410];
        snprintf(gguf, sizeof gguf, "%s/%s", dirpath, names[i]);
        snprintf(inp, sizeof inp, "%s.inp", gguf);
        snprintf(outp, sizeof outp, "%s.out", gguf);
        FILE *f = fopen(gguf, "rb");
        if (!f) {
            printf("%-40s skipped: %s is not in models/vocab\n", names[i], names[i]);
        } else {
            fclose(f);
            run_set(gguf, inp, outp, false, names[i]);
        }
        free(names[i]);
    }
}

static void test_extra_sets(void) {
    const char *dir = sb_test_shared("golden/tokenize");
    if (!dir) {
        printf("golden/tokenize absent: extra sets skipped\n");
        return;
    }
    char dirpath[4096];
    snprintf(dirpath, sizeof dirpath, "%s", dir);
    DIR *d = opendir(dirpath);
    SB_CHECK(d != NULL);
    if (!d)
        return;
    char *names[256];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 256) {
        size_t l = strlen(e->d_name);
        if (l > 10 && strcmp(e->d_name + l - 10, ".extra.out") == 0)
            names[nn++] = strndup(e->d_name, l - 10);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    for (size_t i = 0; i < nn; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "models/vocab/ggml-vocab-%s.gguf", names[i]);
        const char *g = sb_test_shared(rel);
        if (!g) {
            printf("%-40s skipped: %s is absent\n", names[i], rel);
            free(names[i]);
            continue;
        }
        char gguf[4400], inp[4400], outp[4400], label[300];
        snprintf(gguf, sizeof gguf, "%s", g);
        snprintf(inp, sizeof inp, "%s/extra.inp", dirpath);
        snprintf(outp, sizeof outp, "%s/%s.extra.out", dirpath, names[i]);
        snprintf(label, sizeof label, "%s.extra", names[i]);
        run_set(gguf, inp, outp, false, label);
        snprintf(outp, sizeof outp, "%s/%s.extra.special.out", dirpath, names[i]);
        snprintf(label, sizeof label, "%s.extra.special", names[i]);
        run_set(gguf, inp, outp, true, label);
        free(names[i]);
    }
}

int main(void) {
    sb_test_require_shared("models");
    SB_RUN(test_vocab_vectors);
    SB_RUN(test_extra_sets);
    if (g_vocabs_run == 0)
        sb_test_skip("no vocabulary with test vectors found");
    return sb_test_finish();
}
