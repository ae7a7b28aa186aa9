/*
 * fuzz_gguf.c - libFuzzer target for the GGUF reader (and, on what it
 * accepts, the writer).
 *
 * Each input is opened with sb_gguf_open_memory. A refused input must come
 * back with a status equal to the error's code and a message. An accepted
 * one is walked completely: every metadata value (array elements through the
 * accessors, nested arrays recursively), every lookup by key and name, every
 * tensor's first and last data byte. It is then copied through the writer
 * (sb_gguf_writer_set_value + add_tensor), re-read, and the two tables must
 * be equal. Any disagreement traps, so the fuzzer reports it.
 */
#include "fuzz_check.h"

#include "sb_alloc.h"
#include "sb_gguf.h"
#include "sb_gguf_writer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void touch_str(sb_str s) {
    FUZZ_ASSERT(s.len == 0 || s.ptr != NULL);
    if (s.len)
        g_sink += (uint8_t)s.ptr[0] + (uint8_t)s.ptr[s.len - 1];
}

static void walk_array(const sb_gguf_array *a, int depth) {
    FUZZ_ASSERT(depth < SB_GGUF_MAX_ARRAY_DEPTH);
    FUZZ_ASSERT((unsigned)a->elem_type < SB_GGUF_TYPE_COUNT);
    for (uint64_t i = 0; i < a->count; i++) {
        switch (a->elem_type) {
        case SB_GGUF_STRING: touch_str(sb_gguf_array_string(a, i)); break;
        case SB_GGUF_ARRAY:
            FUZZ_ASSERT(a->items[i].type == SB_GGUF_ARRAY);
            walk_array(&a->items[i].v.arr, depth + 1);
            break;
        case SB_GGUF_FLOAT32:
        case SB_GGUF_FLOAT64: {
            double d = sb_gguf_array_float(a, i);
            uint64_t bits;
            memcpy(&bits, &d, 8);
            g_sink += bits;
            break;
        }
        case SB_GGUF_BOOL: {
            int64_t b = sb_gguf_array_int(a, i);
            FUZZ_ASSERT(b == 0 || b == 1);
            g_sink += (uint64_t)b;
            break;
        }
        default: {
            double d = sb_gguf_array_float(a, i);
            uint64_t bits;
            memcpy(&bits, &d, 8);
            g_sink += (uint64_t)sb_gguf_array_int(a, i) + bits;
            break;
        }
        }
    }
}

/* A NUL-terminated copy of s in buf, or false if s holds a NUL or is too long. */
static int to_cstr(sb_str s, char *buf, size_t cap) {
    if (s.len >= cap || memchr(s.ptr, 0, s.len))
        return 0;
    memcpy(buf, s.ptr, s.len);
    buf[s.len] = '\0';
    return 1;
}

static void walk(const sb_gguf *g) {
    char name[1024];
    for (size_t i = 0; i < sb_gguf_n_kv(g); i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(g, i);
        FUZZ_ASSERT(kv && kv->key.len > 0);
        touch_str(kv->key);
        const sb_gguf_value *v = &kv->value;
        if (v->type == SB_GGUF_STRING)
            touch_str(v->v.str);
        else if (v->type == SB_GGUF_ARRAY)
            walk_array(&v->v.arr, 0);
        else
            g_sink += v->v.u64;
        if (to_cstr(kv->key, name, sizeof name)) {
            FUZZ_ASSERT(sb_gguf_find(g, name) == kv);
            int64_t iv;
            uint64_t uv;
            double fv;
            bool bv;
            sb_str sv;
            const sb_gguf_array *av;
            sb_error err;
            g_sink += (uint64_t)sb_gguf_get_int(g, name, &iv, &err) + (uint64_t)sb_gguf_get_uint(g, name, &uv, &err) +
                      (uint64_t)sb_gguf_get_float(g, name, &fv, &err) + (uint64_t)sb_gguf_get_bool(g, name, &bv, &err) +
                      (uint64_t)sb_gguf_get_string(g, name, &sv, &err) + (uint64_t)sb_gguf_get_array(g, name, &av, &err);
        }
    }
    FUZZ_ASSERT(sb_gguf_kv_at(g, sb_gguf_n_kv(g)) == NULL);
    uint64_t data_off = sb_gguf_data_offset(g), size = sb_gguf_file_size(g);
    const uint8_t *base = sb_gguf_file_data(g);
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        FUZZ_ASSERT(t && t->name.len > 0 && t->n_dims >= 1 && t->n_dims <= SB_GGUF_MAX_DIMS);
        FUZZ_ASSERT(sb_type_traits_of(t->type) != NULL && t->size > 0);
        FUZZ_ASSERT(t->offset % sb_gguf_alignment(g) == 0);
        const uint8_t *d = t->data;
        FUZZ_ASSERT(d == base + data_off + t->offset && t->offset + t->size <= size - data_off);
        g_sink += d[0] + d[t->size - 1] + (uint64_t)sb_gguf_tensor_nelements(t);
        if (to_cstr(t->name, name, sizeof name))
            FUZZ_ASSERT(sb_gguf_find_tensor(g, name) == t);
    }
    FUZZ_ASSERT(sb_gguf_tensor_at(g, sb_gguf_n_tensors(g)) == NULL);
}

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
    default: return memcmp(&a->v.u64, &b->v.u64, 8) == 0; /* bits: NaNs compare equal to themselves */
    }
}

/* Copies an accepted file through the writer and checks the copy reads back
 * with the same metadata and tensors. Keys or names holding a NUL cannot be
 * passed to the writer's C-string API; such files are skipped. */
static void rewrite_and_compare(const sb_gguf *g) {
    char name[1024];
    sb_error err;
    sb_gguf_writer *w = sb_gguf_writer_create();
    FUZZ_ASSERT(w);
    for (size_t i = 0; i < sb_gguf_n_kv(g); i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(g, i);
        if (!to_cstr(kv->key, name, sizeof name))
            goto out;
        sb_status st = sb_gguf_writer_set_value(w, name, &kv->value, &err);
        if (st != SB_OK)
            fprintf(stderr, "set_value '%s': %s\n", name, err.msg);
        FUZZ_ASSERT(st == SB_OK);
    }
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        if (!to_cstr(t->name, name, sizeof name))
            goto out;
        sb_status st = sb_gguf_writer_add_tensor(w, name, t->type, t->n_dims, t->ne, t->data, NULL, &err);
        if (st != SB_OK)
            fprintf(stderr, "add_tensor '%s': %s\n", name, err.msg);
        FUZZ_ASSERT(st == SB_OK);
    }
    void *out;
    size_t out_len;
    sb_status st = sb_gguf_writer_write_memory(w, &out, &out_len, NULL, NULL, &err);
    if (st != SB_OK)
        fprintf(stderr, "write_memory: %s\n", err.msg);
    FUZZ_ASSERT(st == SB_OK);
    sb_gguf *h;
    st = sb_gguf_open_memory(out, out_len, &h, &err);
    if (st != SB_OK)
        fprintf(stderr, "re-read: %s\n", err.msg);
    FUZZ_ASSERT(st == SB_OK);
    FUZZ_ASSERT(sb_gguf_n_kv(h) == sb_gguf_n_kv(g) && sb_gguf_n_tensors(h) == sb_gguf_n_tensors(g));
    FUZZ_ASSERT(sb_gguf_alignment(h) == sb_gguf_alignment(g));
    for (size_t i = 0; i < sb_gguf_n_kv(g); i++) {
        const sb_gguf_kv *a = sb_gguf_kv_at(g, i), *b = sb_gguf_kv_at(h, i);
        FUZZ_ASSERT(sb_str_eq(a->key, b->key) && values_equal(&a->value, &b->value));
    }
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *a = sb_gguf_tensor_at(g, i), *b = sb_gguf_tensor_at(h, i);
        FUZZ_ASSERT(sb_str_eq(a->name, b->name) && a->type == b->type && a->n_dims == b->n_dims);
        FUZZ_ASSERT(memcmp(a->ne, b->ne, sizeof a->ne) == 0 && a->size == b->size);
        FUZZ_ASSERT(memcmp(a->data, b->data, a->size) == 0);
    }
    sb_gguf_close(h);
    sb_free(out);
out:
    sb_gguf_writer_free(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sb_gguf *g = NULL;
    sb_error err;
    sb_error_clear(&err);
    sb_status st = sb_gguf_open_memory(data, size, &g, &err);
    if (st != SB_OK) {
        fuzz_check_refusal(st, &err);
        FUZZ_ASSERT(g == NULL);
        /* Without an error struct the status must be the same. */
        sb_gguf *g2 = NULL;
        FUZZ_ASSERT(sb_gguf_open_memory(data, size, &g2, NULL) == st && g2 == NULL);
        return 0;
    }
    FUZZ_ASSERT(g != NULL);
    walk(g);
    /* Bound the writer's copy to inputs whose rewritten data section is small
     * (tensors may overlap in the input, and each is padded in the copy). */
    uint64_t total = 0;
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++)
        total += sb_gguf_tensor_at(g, i)->size + sb_gguf_alignment(g);
    if (total <= (8u << 20))
        rewrite_and_compare(g);
    sb_gguf_close(g);
    return 0;
}
