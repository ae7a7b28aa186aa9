/*
 * test_gguf_alloc_fail.c - allocation-failure injection over the GGUF reader
 * and writer.
 *
 * For n = 1, 2, ... the n-th allocation is made to fail. Every attempt that
 * meets the failure must return SB_ERR_NOMEM (and NULL), and leak nothing
 * (ASan's leak check runs at exit in the sanitizer build); the loop ends at
 * the first n whose attempt succeeds without the failure firing.
 */
#include "gguf_test_util.h"
#include "sb_alloc.h"
#include "sb_file.h"
#include "sb_gguf_writer.h"
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 100000

/* One open of path (or of the memory image when path is NULL). */
static sb_status open_once(const char *path, const void *img, size_t len, sb_gguf **g, sb_error *err) {
    return path ? sb_gguf_open(path, g, err) : sb_gguf_open_memory(img, len, g, err);
}

static void fail_each_open(const char *what, const char *path, const void *img, size_t len) {
    long n;
    int bad = 0;
    for (n = 1; n < MAX_STEPS && bad < 3; n++) {
        sb_gguf *g = (sb_gguf *)1;
        sb_error err;
        sb_error_clear(&err);
        sb_alloc_fail_nth(n);
        sb_status st = open_once(path, img, len, &g, &err);
        int fired = sb_alloc_injected_fired();
        sb_alloc_fail_nth(0);
        if (!fired) {
            SB_CHECKF(st == SB_OK, "%s: open without a failure: %s", what, err.msg);
            if (st == SB_OK)
                sb_gguf_close(g);
            break;
        }
        if (st != SB_ERR_NOMEM || g != NULL || !strstr(err.msg, "out of memory")) {
            SB_CHECKF(0, "%s: allocation %ld failed: status %s, \"%s\"", what, n, sb_status_name(st), err.msg);
            bad++;
        }
        if (st == SB_OK)
            sb_gguf_close(g);
    }
    SB_CHECKF(n < MAX_STEPS, "%s: never succeeded", what);
    printf("  %s: %ld allocations failed one at a time\n", what, n - 1);
}

/* A writer copy of g: every KV and tensor, written to memory, or to path with
 * the tensor bytes coming from a fill callback. Returns the first failure. */
static sb_status fill_from_source(void *ud, size_t index, void *dst, uint64_t size, sb_error *err) {
    const sb_gguf *g = ud;
    (void)err;
    memcpy(dst, sb_gguf_tensor_at(g, index)->data, size);
    return SB_OK;
}

static sb_status copy_once(const sb_gguf *g, const char *path, void **out, size_t *len, sb_error *err) {
    sb_gguf_writer *w = sb_gguf_writer_create();
    if (!w)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory creating the writer");
    sb_status st = SB_OK;
    char name[1024];
    for (size_t i = 0; st == SB_OK && i < sb_gguf_n_kv(g); i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(g, i);
        snprintf(name, sizeof name, "%.*s", (int)kv->key.len, kv->key.ptr);
        st = sb_gguf_writer_set_value(w, name, &kv->value, err);
    }
    for (size_t i = 0; st == SB_OK && i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        st = sb_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, path ? NULL : t->data, NULL, err);
    }
    if (st == SB_OK)
        st = path ? sb_gguf_writer_write(w, path, fill_from_source, (void *)g, NULL, NULL, err)
                  : sb_gguf_writer_write_memory(w, out, len, NULL, NULL, err);
    sb_gguf_writer_free(w);
    return st;
}

static void fail_each_copy(const char *what, const sb_gguf *g, const char *path) {
    long n;
    int bad = 0;
    for (n = 1; n < MAX_STEPS && bad < 3; n++) {
        void *out = NULL;
        size_t len = 0;
        sb_error err;
        sb_error_clear(&err);
        remove(path ? path : "");
        sb_alloc_fail_nth(n);
        sb_status st = copy_once(g, path, &out, &len, &err);
        int fired = sb_alloc_injected_fired();
        sb_alloc_fail_nth(0);
        char *file = NULL;
        if (st == SB_OK && path) {
            sb_error e2;
            SB_CHECK(sb_file_read_all(path, 64u << 20, &file, &len, &e2) == SB_OK);
            out = file;
        }
        int same = st == SB_OK && out && len == sb_gguf_file_size(g) && memcmp(out, sb_gguf_file_data(g), len) == 0;
        sb_free(out);
        if (!fired) {
            SB_CHECKF(same, "%s: copy without a failure: %s", what, err.msg);
            break;
        }
        /* the writer's directory fsync after the rename is best effort: a
         * failure there may still give a complete file */
        if (!(st == SB_ERR_NOMEM || (st == SB_OK && same))) {
            SB_CHECKF(0, "%s: allocation %ld failed: status %s, \"%s\"", what, n, sb_status_name(st), err.msg);
            bad++;
        }
    }
    SB_CHECKF(n < MAX_STEPS, "%s: never succeeded", what);
    printf("  %s: %ld allocations failed one at a time\n", what, n - 1);
}

/* A writer-made image with nested arrays, strings and a few tensors. */
static void rich_image(void **img, size_t *len) {
    sb_gguf_writer *w = sb_gguf_writer_create();
    sb_error err;
    static const sb_str strs[] = {{"a", 1}, {"", 0}, {"ccc", 3}};
    static const uint32_t u32s[] = {1, 2, 3};
    SB_CHECK(sb_gguf_writer_set_string_array(w, "toks", strs, 3, &err) == SB_OK);
    sb_gguf_value inner[3] = {
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_STRING, .count = 3, .strings = strs}},
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_UINT32, .count = 3, .raw = (const uint8_t *)u32s}},
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_STRING, .count = 0}},
    };
    sb_gguf_value mid[2] = {
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 3, .items = inner}},
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 1, .items = inner}},
    };
    sb_gguf_value v = {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 2, .items = mid}};
    SB_CHECK(sb_gguf_writer_set_value(w, "nested", &v, &err) == SB_OK);
    char key[32];
    for (int i = 0; i < 40; i++) { /* enough keys to grow the index */
        snprintf(key, sizeof key, "k.%d", i);
        SB_CHECK(sb_gguf_writer_set_u32(w, key, (uint32_t)i, &err) == SB_OK);
    }
    static uint8_t data[64 * 4];
    fill_pattern(data, sizeof data, 9);
    for (int i = 0; i < 70; i++) { /* enough tensors to grow the index */
        snprintf(key, sizeof key, "t.%d", i);
        SB_CHECK(sb_gguf_writer_add_tensor(w, key, SB_TYPE_F32, 1, (int64_t[]){64}, data, NULL, &err) == SB_OK);
    }
    SB_CHECK(sb_gguf_writer_write_memory(w, img, len, NULL, NULL, &err) == SB_OK);
    sb_gguf_writer_free(w);
}

static void test_reader(void) {
    void *img;
    size_t len;
    rich_image(&img, &len);
    fail_each_open("rich memory image", NULL, img, len);
    sb_free(img);
    const char *p = sb_test_shared("models/stories260K.gguf");
    if (p)
        fail_each_open("stories260K.gguf", p, NULL, 0);
    p = sb_test_shared("models/vocab/ggml-vocab-llama-spm.gguf");
    if (p)
        fail_each_open("ggml-vocab-llama-spm.gguf", p, NULL, 0);
}

static void test_writer(void) {
    void *img;
    size_t len;
    rich_image(&img, &len);
    sb_gguf *g;
    char path[512];
    snprintf(path, sizeof path, "%s/copy.gguf", sb_test_tmpdir());
    SB_CHECK(sb_gguf_open_memory(img, len, &g, NULL) == SB_OK);
    if (g) {
        fail_each_copy("writer, rich image to memory", g, NULL);
        fail_each_copy("writer, rich image to a file with fill", g, path);
        sb_gguf_close(g);
    }
    sb_free(img);
    const char *p = sb_test_shared("models/stories260K.gguf");
    if (p && sb_gguf_open(p, &g, NULL) == SB_OK) {
        fail_each_copy("writer, stories260K.gguf to memory", g, NULL);
        fail_each_copy("writer, stories260K.gguf to a file with fill", g, path);
        sb_gguf_close(g);
    }
}

int main(void) {
    SB_RUN(test_reader);
    SB_RUN(test_writer);
    return sb_test_finish();
}
