/*
 * test_gguf_models.c - every real GGUF file under the shared models
 * directory opens, and copying it through the writer (every KV with
 * sb_gguf_writer_set_value, every tensor with add_tensor) reproduces the
 * same metadata and tensor tables. Files whose layout is canonical (what the
 * writer produces: tensors in order, each padded to the alignment, and the
 * data section after the infos) must come out byte-identical; the test
 * prints which ones are. Skips (77) when the shared data is absent.
 */
#define _GNU_SOURCE
#include "gguf_test_util.h"
#include "sb_alloc.h"
#include "sb_gguf_writer.h"
#include "sb_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int values_equal(const sb_gguf_value *a, const sb_gguf_value *b);

static int arrays_equal(const sb_gguf_array *a, const sb_gguf_array *b) {
    if (a->elem_type != b->elem_type || a->count != b->count)
        return 0;
    for (uint64_t i = 0; i < a->count; i++) {
        if (a->elem_type == SB_GGUF_STRING && !sb_str_eq(a->strings[i], b->strings[i]))
            return 0;
        if (a->elem_type == SB_GGUF_ARRAY && !values_equal(&a->items[i], &b->items[i]))
            return 0;
    }
    size_t es = sb_gguf_type_size(a->elem_type);
    return es == 0 || a->count == 0 || memcmp(a->raw, b->raw, a->count * es) == 0;
}

static int values_equal(const sb_gguf_value *a, const sb_gguf_value *b) {
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SB_GGUF_STRING: return sb_str_eq(a->v.str, b->v.str);
    case SB_GGUF_ARRAY: return arrays_equal(&a->v.arr, &b->v.arr);
    case SB_GGUF_BOOL: return a->v.b == b->v.b;
    default: return memcmp(&a->v.u64, &b->v.u64, 8) == 0;
    }
}

/* True if the file is laid out exactly as the writer would lay it out. */
static int canonical_layout(const sb_gguf *g) {
    uint64_t off = 0, a = sb_gguf_alignment(g);
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        if (t->offset != off)
            return 0;
        off = (t->offset + t->size + a - 1) / a * a;
    }
    uint64_t end = sb_gguf_n_tensors(g) ? sb_gguf_data_offset(g) + off : 0;
    return sb_gguf_n_tensors(g) == 0 || end == sb_gguf_file_size(g);
}

/* Copies g through the writer into memory; the caller frees *out. */
static sb_status rewrite(const sb_gguf *g, void **out, size_t *len, sb_error *err) {
    sb_gguf_writer *w = sb_gguf_writer_create();
    if (!w)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    sb_status st = SB_OK;
    for (size_t i = 0; st == SB_OK && i < sb_gguf_n_kv(g); i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(g, i);
        char *key = sb_strndup(kv->key.ptr, kv->key.len);
        st = key ? sb_gguf_writer_set_value(w, key, &kv->value, err) : sb_error_set(err, SB_ERR_NOMEM, "oom");
        sb_free(key);
    }
    for (size_t i = 0; st == SB_OK && i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        char *name = sb_strndup(t->name.ptr, t->name.len);
        st = name ? sb_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, NULL, err)
                  : sb_error_set(err, SB_ERR_NOMEM, "oom");
        sb_free(name);
    }
    if (st == SB_OK)
        st = sb_gguf_writer_write_memory(w, out, len, NULL, NULL, err);
    sb_gguf_writer_free(w);
    return st;
}

static void compare_tables(const char *file, const sb_gguf *a, const sb_gguf *b) {
    SB_CHECKF(sb_gguf_n_kv(a) == sb_gguf_n_kv(b), "%s: kv count", file);
    SB_CHECKF(sb_gguf_n_tensors(a) == sb_gguf_n_tensors(b), "%s: tensor count", file);
    SB_CHECKF(sb_gguf_alignment(a) == sb_gguf_alignment(b), "%s: alignment", file);
    for (size_t i = 0; i < sb_gguf_n_kv(a) && i < sb_gguf_n_kv(b); i++) {
        const sb_gguf_kv *x = sb_gguf_kv_at(a, i), *y = sb_gguf_kv_at(b, i);
        SB_CHECKF(sb_str_eq(x->key, y->key) && values_equal(&x->value, &y->value), "%s: kv %zu '%.*s' differs", file,
                  i, (int)x->key.len, x->key.ptr);
    }
    for (size_t i = 0; i < sb_gguf_n_tensors(a) && i < sb_gguf_n_tensors(b); i++) {
        const sb_gguf_tensor *x = sb_gguf_tensor_at(a, i), *y = sb_gguf_tensor_at(b, i);
        int same = sb_str_eq(x->name, y->name) && x->type == y->type && x->n_dims == y->n_dims &&
                   memcmp(x->ne, y->ne, sizeof x->ne) == 0 && x->size == y->size &&
                   memcmp(x->data, y->data, x->size) == 0;
        SB_CHECKF(same, "%s: tensor %zu '%.*s' differs", file, i, (int)x->name.len, x->name.ptr);
    }
}

static int n_files, n_identical;

static void check_file(const char *path, const char *rel) {
    sb_gguf *g;
    sb_error err;
    sb_status st = sb_gguf_open(path, &g, &err);
    SB_CHECKF(st == SB_OK, "%s: %s", rel, err.msg);
    if (st != SB_OK)
        return;
    n_files++;
    SB_CHECK(sb_gguf_version(g) == 3 || sb_gguf_version(g) == 2);
    void *img;
    size_t len;
    st = rewrite(g, &img, &len, &err);
    SB_CHECKF(st == SB_OK, "%s: rewrite: %s", rel, err.msg);
    if (st == SB_OK) {
        sb_gguf *h;
        st = sb_gguf_open_memory(img, len, &h, &err);
        SB_CHECKF(st == SB_OK, "%s: reading the copy: %s", rel, err.msg);
        if (st == SB_OK) {
            compare_tables(rel, g, h);
            int canon = canonical_layout(g);
            int identical = len == sb_gguf_file_size(g) && memcmp(img, sb_gguf_file_data(g), len) == 0;
            /* A canonical file must come back byte for byte. A file without
             * tensors has no data section; some writers still pad it to the
             * alignment, ours does not: the copy must then equal the file up
             * to that zero padding. */
            const uint8_t *orig = sb_gguf_file_data(g);
            uint64_t osize = sb_gguf_file_size(g);
            int padded_only = 0;
            if (!identical && sb_gguf_n_tensors(g) == 0 && len < osize && osize - len < sb_gguf_alignment(g) &&
                osize % sb_gguf_alignment(g) == 0 && memcmp(img, orig, len) == 0) {
                padded_only = 1;
                for (uint64_t k = len; k < osize; k++)
                    padded_only &= orig[k] == 0;
            }
            SB_CHECKF(!canon || identical || padded_only, "%s: canonical layout but the copy differs (%zu vs %llu bytes)",
                      rel, len, (unsigned long long)osize);
            size_t first_diff = 0;
            while (!identical && first_diff < len && first_diff < sb_gguf_file_size(g) &&
                   ((const uint8_t *)img)[first_diff] == sb_gguf_file_data(g)[first_diff])
                first_diff++;
            printf("  %-45s v%u %3zu kv %4zu tensors align %-4u %s", rel, sb_gguf_version(g), sb_gguf_n_kv(g),
                   sb_gguf_n_tensors(g), sb_gguf_alignment(g), canon ? "canonical" : "not canonical");
            if (identical)
                printf(", copy byte-identical\n");
            else if (padded_only)
                printf(", copy identical but for the file's %llu bytes of trailing zero padding\n",
                       (unsigned long long)(osize - len));
            else
                printf(", copy differs: %zu vs %llu bytes, first difference at %zu\n", len,
                       (unsigned long long)sb_gguf_file_size(g), first_diff);
            n_identical += identical;
            sb_gguf_close(h);
        }
        sb_free(img);
    }
    sb_gguf_close(g);
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static void walk(const char *dir, const char *rel) {
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, by_name);
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        char path[4096], r[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", name);
        struct stat st;
        if (name[0] != '.' && stat(path, &st) == 0) {
            size_t l = strlen(name);
            if (S_ISDIR(st.st_mode))
                walk(path, r);
            else if (l > 5 && strcmp(name + l - 5, ".gguf") == 0)
                check_file(path, r);
        }
        free(ents[i]);
    }
    if (n >= 0)
        free(ents);
}

static void test_all_models(void) {
    static char dir[4096];
    snprintf(dir, sizeof dir, "%s", sb_test_require_shared("models"));
    walk(dir, "");
    printf("  %d files, %d copies byte-identical\n", n_files, n_identical);
    SB_CHECK(n_files >= 3);
}

/* Known facts about stories260K.gguf (PROVENANCE.md section 2.1). */
static void test_stories_facts(void) {
    const char *path = sb_test_shared("models/stories260K.gguf");
    if (!path)
        return;
    sb_gguf *g;
    sb_error err;
    SB_CHECK(sb_gguf_open(path, &g, &err) == SB_OK);
    if (!g)
        return;
    SB_CHECK_EQ_INT(sb_gguf_version(g), 3);
    SB_CHECK_EQ_INT(sb_gguf_n_kv(g), 19);
    SB_CHECK_EQ_INT(sb_gguf_n_tensors(g), 48);
    SB_CHECK_EQ_INT(sb_gguf_alignment(g), 32);
    SB_CHECK_EQ_INT(sb_gguf_data_offset(g), 14176);
    SB_CHECK_EQ_INT(sb_gguf_file_size(g), 1185376);
    sb_str s;
    uint64_t u;
    double f;
    SB_CHECK(sb_gguf_get_string(g, "general.architecture", &s, NULL) == SB_OK && sb_str_eq_cstr(s, "llama"));
    SB_CHECK(sb_gguf_get_uint(g, "llama.block_count", &u, NULL) == SB_OK && u == 5);
    SB_CHECK(sb_gguf_get_uint(g, "llama.feed_forward_length", &u, NULL) == SB_OK && u == 172);
    SB_CHECK(sb_gguf_get_uint(g, "tokenizer.ggml.seperator_token_id", &u, NULL) == SB_OK && u == 4294967295u);
    SB_CHECK(sb_gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", &f, NULL) == SB_OK && f == (double)1e-5f);
    const sb_gguf_array *a;
    SB_CHECK(sb_gguf_get_array(g, "tokenizer.ggml.tokens", &a, NULL) == SB_OK && a->count == 512);
    SB_CHECK(a && sb_str_eq_cstr(sb_gguf_array_string(a, 1), "<s>") && sb_str_eq_cstr(sb_gguf_array_string(a, 3), "<0x00>"));
    SB_CHECK(sb_gguf_get_array(g, "tokenizer.ggml.scores", &a, NULL) == SB_OK && a->elem_type == SB_GGUF_FLOAT32);
    int64_t params = 0;
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        SB_CHECK(t->type == SB_TYPE_F32);
        params += sb_gguf_tensor_nelements(t);
    }
    SB_CHECK_EQ_INT(params, 292800);
    const sb_gguf_tensor *t = sb_gguf_find_tensor(g, "blk.4.ffn_down.weight");
    SB_CHECK(t && t->n_dims == 2 && t->ne[0] == 172 && t->ne[1] == 64);
    sb_gguf_close(g);

    path = sb_test_shared("models/llama-2-tiny-random.gguf");
    if (!path)
        return;
    SB_CHECK(sb_gguf_open(path, &g, &err) == SB_OK);
    if (!g)
        return;
    int f16 = 0;
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++)
        f16 += sb_gguf_tensor_at(g, i)->type == SB_TYPE_F16;
    SB_CHECK_EQ_INT(sb_gguf_n_tensors(g), 12);
    SB_CHECK_EQ_INT(f16, 9);
    SB_CHECK(sb_gguf_get_array(g, "tokenizer.ggml.tokens", &a, NULL) == SB_OK && a->count == 32000);
    sb_gguf_close(g);
}

int main(void) {
    SB_RUN(test_all_models);
    SB_RUN(test_stories_facts);
    return sb_test_finish();
}
