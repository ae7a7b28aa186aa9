/*
 * test_gguf_roundtrip.c - files built with the writer read back identically.
 *
 * Covers every metadata value type (scalars, strings incl. empty, non-ASCII
 * and embedded NUL, numeric/bool/string arrays, nested arrays, empty arrays),
 * alignments 1..4096, tensors of many types and 1-4 dims with byte-exact data
 * at aligned offsets, file output == memory output, atomic replacement, key
 * replacement keeping order, the fill and progress callbacks, writer
 * argument errors, and the reader's typed getters.
 */
#include "gguf_test_util.h"
#include "sb_alloc.h"
#include "sb_file.h"
#include "sb_gguf_writer.h"
#include "sb_test.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static sb_gguf *open_mem(const void *p, size_t n) {
    sb_gguf *g = NULL;
    sb_error err;
    sb_status st = sb_gguf_open_memory(p, n, &g, &err);
    SB_CHECKF(st == SB_OK, "open: %s", err.msg);
    return g;
}

static sb_gguf_writer *new_writer(void) {
    sb_gguf_writer *w = sb_gguf_writer_create();
    SB_CHECK(w != NULL);
    return w;
}

/* ---- metadata ----------------------------------------------------------- */

static const uint8_t u8s[] = {0, 1, 127, 128, 255};
static const int8_t i8s[] = {-128, -1, 0, 1, 127};
static const uint16_t u16s[] = {0, 1, 65535, 4660};
static const int16_t i16s[] = {-32768, -1, 0, 32767};
static const uint32_t u32s[] = {0, 1, 4294967295u, 305419896u};
static const int32_t i32s[] = {INT32_MIN, -1, 0, INT32_MAX};
static const float f32s[] = {0.0f, -0.0f, 1.5f, -3.25e-7f, 3.4028235e38f, INFINITY};
static const uint64_t u64s[] = {0, 1, UINT64_MAX, 1ull << 63};
static const int64_t i64s[] = {INT64_MIN, -1, 0, INT64_MAX};
static const double f64s[] = {0.0, -1e-300, 2.5, 1.7976931348623157e308, -INFINITY};
static const uint8_t bools[] = {1, 0, 0, 1};

static const struct {
    const char *key;
    sb_gguf_type type;
    const void *data;
    uint64_t count;
} num_arrays[] = {
    {"arr.u8", SB_GGUF_UINT8, u8s, 5},     {"arr.i8", SB_GGUF_INT8, i8s, 5},
    {"arr.u16", SB_GGUF_UINT16, u16s, 4},  {"arr.i16", SB_GGUF_INT16, i16s, 4},
    {"arr.u32", SB_GGUF_UINT32, u32s, 4},  {"arr.i32", SB_GGUF_INT32, i32s, 4},
    {"arr.f32", SB_GGUF_FLOAT32, f32s, 6}, {"arr.u64", SB_GGUF_UINT64, u64s, 4},
    {"arr.i64", SB_GGUF_INT64, i64s, 4},   {"arr.f64", SB_GGUF_FLOAT64, f64s, 5},
    {"arr.bool", SB_GGUF_BOOL, bools, 4},
};
#define N_NUM_ARRAYS (sizeof num_arrays / sizeof num_arrays[0])

static const char nonascii[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
static const char with_nul[] = {'a', 0, 'b', 0, 'c'};
static const sb_str strs[] = {{"<unk>", 5}, {"", 0}, {nonascii, sizeof nonascii - 1}, {with_nul, 5}, {"\xff\xfe", 2}};

/* Sets one key of every scalar type plus every array kind. */
static void set_all_metadata(sb_gguf_writer *w) {
    sb_error err;
    sb_gguf_value v;
#define SETV(k, T, field, val)                                                     \
    do {                                                                           \
        v = (sb_gguf_value){.type = (T)};                                          \
        v.v.field = (val);                                                         \
        SB_CHECK(sb_gguf_writer_set_value(w, (k), &v, &err) == SB_OK);             \
    } while (0)
    SETV("s.u8", SB_GGUF_UINT8, u64, 200);
    SETV("s.i8", SB_GGUF_INT8, i64, -100);
    SETV("s.u16", SB_GGUF_UINT16, u64, 60000);
    SETV("s.i16", SB_GGUF_INT16, i64, -30000);
    SETV("s.u32", SB_GGUF_UINT32, u64, 4000000000u);
    SETV("s.i32", SB_GGUF_INT32, i64, -2000000000);
    SETV("s.f32", SB_GGUF_FLOAT32, f64, 0.1f);
    SETV("s.bool", SB_GGUF_BOOL, b, true);
    SETV("s.u64", SB_GGUF_UINT64, u64, UINT64_MAX);
    SETV("s.i64", SB_GGUF_INT64, i64, INT64_MIN);
    SETV("s.f64", SB_GGUF_FLOAT64, f64, 0.1);
#undef SETV
    SB_CHECK(sb_gguf_writer_set_u32(w, "c.u32", 7, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_i32(w, "c.i32", -7, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_u64(w, "c.u64", 1ull << 50, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_f32(w, "c.f32", -2.5f, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_bool(w, "c.false", false, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "str.empty", "", 0, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "str.utf8", nonascii, strlen(nonascii), &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "str.nul", with_nul, sizeof with_nul, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "str.invalid_utf8", "\xc3\x28\xff", 3, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "\xe9\x8d\xb5.key", "x", 1, &err) == SB_OK); /* non-ASCII key */
    for (size_t i = 0; i < N_NUM_ARRAYS; i++)
        SB_CHECK(sb_gguf_writer_set_array(w, num_arrays[i].key, num_arrays[i].type, num_arrays[i].data,
                                          num_arrays[i].count, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string_array(w, "arr.str", strs, 5, &err) == SB_OK);
    /* empty arrays of a numeric type, of strings, of arrays (NULL data is fine) */
    SB_CHECK(sb_gguf_writer_set_array(w, "empty.f32", SB_GGUF_FLOAT32, NULL, 0, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string_array(w, "empty.str", NULL, 0, &err) == SB_OK);
    v = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 0}};
    SB_CHECK(sb_gguf_writer_set_value(w, "empty.arr", &v, &err) == SB_OK);
    /* arrays of arrays: [[u32 x3], [], [str x2]] is not allowed (one element
     * type per array), so: [[1,2,3],[4]] u32, [["<unk>",""],[]] str, and a
     * three-level [[[i8]]] */
    sb_gguf_value inner_u32[2] = {
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_UINT32, .count = 3, .raw = (const uint8_t *)u32s}},
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_UINT32, .count = 1, .raw = (const uint8_t *)(u32s + 3)}},
    };
    v = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 2, .items = inner_u32}};
    SB_CHECK(sb_gguf_writer_set_value(w, "nest.u32", &v, &err) == SB_OK);
    sb_gguf_value inner_str[2] = {
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_STRING, .count = 2, .strings = strs}},
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_STRING, .count = 0}},
    };
    v = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 2, .items = inner_str}};
    SB_CHECK(sb_gguf_writer_set_value(w, "nest.str", &v, &err) == SB_OK);
    sb_gguf_value lvl3 = {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_INT8, .count = 5, .raw = (const uint8_t *)i8s}};
    sb_gguf_value lvl2 = {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 1, .items = &lvl3}};
    v = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 1, .items = &lvl2}};
    SB_CHECK(sb_gguf_writer_set_value(w, "nest.3", &v, &err) == SB_OK);
}

static void check_num_array(const sb_gguf *g, const char *key, sb_gguf_type t, const void *data, uint64_t count) {
    const sb_gguf_array *a;
    SB_CHECKF(sb_gguf_get_array(g, key, &a, NULL) == SB_OK, "%s", key);
    if (!a)
        return;
    SB_CHECKF(a->elem_type == t && a->count == count, "%s type/count", key);
    SB_CHECKF(memcmp(a->raw, data, count * sb_gguf_type_size(t)) == 0, "%s bytes", key);
}

static void check_all_metadata(const sb_gguf *g) {
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    sb_str s;
    const sb_gguf_kv *kv;
    SB_CHECK((kv = sb_gguf_find(g, "s.u8")) && kv->value.type == SB_GGUF_UINT8 && kv->value.v.u64 == 200);
    SB_CHECK((kv = sb_gguf_find(g, "s.i8")) && kv->value.type == SB_GGUF_INT8 && kv->value.v.i64 == -100);
    SB_CHECK((kv = sb_gguf_find(g, "s.u16")) && kv->value.type == SB_GGUF_UINT16 && kv->value.v.u64 == 60000);
    SB_CHECK((kv = sb_gguf_find(g, "s.i16")) && kv->value.type == SB_GGUF_INT16 && kv->value.v.i64 == -30000);
    SB_CHECK((kv = sb_gguf_find(g, "s.u32")) && kv->value.type == SB_GGUF_UINT32 && kv->value.v.u64 == 4000000000u);
    SB_CHECK((kv = sb_gguf_find(g, "s.i32")) && kv->value.type == SB_GGUF_INT32 && kv->value.v.i64 == -2000000000);
    SB_CHECK((kv = sb_gguf_find(g, "s.f32")) && kv->value.type == SB_GGUF_FLOAT32 && kv->value.v.f64 == (double)0.1f);
    SB_CHECK((kv = sb_gguf_find(g, "s.bool")) && kv->value.type == SB_GGUF_BOOL && kv->value.v.b);
    SB_CHECK((kv = sb_gguf_find(g, "s.u64")) && kv->value.type == SB_GGUF_UINT64 && kv->value.v.u64 == UINT64_MAX);
    SB_CHECK((kv = sb_gguf_find(g, "s.i64")) && kv->value.type == SB_GGUF_INT64 && kv->value.v.i64 == INT64_MIN);
    SB_CHECK((kv = sb_gguf_find(g, "s.f64")) && kv->value.type == SB_GGUF_FLOAT64 && kv->value.v.f64 == 0.1);
    SB_CHECK(sb_gguf_get_uint(g, "c.u32", &u, NULL) == SB_OK && u == 7);
    SB_CHECK(sb_gguf_get_int(g, "c.i32", &i, NULL) == SB_OK && i == -7);
    SB_CHECK(sb_gguf_get_uint(g, "c.u64", &u, NULL) == SB_OK && u == 1ull << 50);
    SB_CHECK(sb_gguf_get_float(g, "c.f32", &f, NULL) == SB_OK && f == -2.5);
    SB_CHECK(sb_gguf_get_bool(g, "c.false", &b, NULL) == SB_OK && !b);
    SB_CHECK(sb_gguf_get_string(g, "str.empty", &s, NULL) == SB_OK && s.len == 0);
    SB_CHECK(sb_gguf_get_string(g, "str.utf8", &s, NULL) == SB_OK && sb_str_eq_cstr(s, nonascii));
    SB_CHECK(sb_gguf_get_string(g, "str.nul", &s, NULL) == SB_OK && s.len == 5 && memcmp(s.ptr, with_nul, 5) == 0);
    SB_CHECK(sb_gguf_get_string(g, "str.invalid_utf8", &s, NULL) == SB_OK && sb_str_eq_cstr(s, "\xc3\x28\xff"));
    SB_CHECK(sb_gguf_get_string(g, "\xe9\x8d\xb5.key", &s, NULL) == SB_OK && sb_str_eq_cstr(s, "x"));
    for (size_t k = 0; k < N_NUM_ARRAYS; k++)
        check_num_array(g, num_arrays[k].key, num_arrays[k].type, num_arrays[k].data, num_arrays[k].count);
    const sb_gguf_array *a;
    SB_CHECK(sb_gguf_get_array(g, "arr.str", &a, NULL) == SB_OK && a->elem_type == SB_GGUF_STRING && a->count == 5);
    for (uint64_t k = 0; k < 5; k++)
        SB_CHECKF(sb_str_eq(sb_gguf_array_string(a, k), strs[k]), "arr.str[%d]", (int)k);
    /* accessors convert */
    SB_CHECK(sb_gguf_get_array(g, "arr.i8", &a, NULL) == SB_OK);
    SB_CHECK(sb_gguf_array_int(a, 0) == -128 && sb_gguf_array_float(a, 4) == 127.0);
    SB_CHECK(sb_gguf_get_array(g, "arr.u64", &a, NULL) == SB_OK);
    SB_CHECK(sb_gguf_array_int(a, 2) == INT64_MAX); /* saturates */
    SB_CHECK(sb_gguf_array_float(a, 3) == 9223372036854775808.0);
    SB_CHECK(sb_gguf_get_array(g, "arr.f32", &a, NULL) == SB_OK);
    SB_CHECK(sb_gguf_array_float(a, 2) == 1.5 && isinf(sb_gguf_array_float(a, 5)) && signbit(sb_gguf_array_float(a, 1)));
    SB_CHECK(sb_gguf_get_array(g, "arr.bool", &a, NULL) == SB_OK);
    SB_CHECK(sb_gguf_array_int(a, 0) == 1 && sb_gguf_array_int(a, 1) == 0);
    SB_CHECK(sb_gguf_get_array(g, "arr.u16", &a, NULL) == SB_OK && sb_gguf_array_int(a, 2) == 65535);
    SB_CHECK(sb_gguf_get_array(g, "arr.i64", &a, NULL) == SB_OK && sb_gguf_array_int(a, 0) == INT64_MIN);
    SB_CHECK(sb_gguf_get_array(g, "empty.f32", &a, NULL) == SB_OK && a->count == 0 && a->elem_type == SB_GGUF_FLOAT32);
    SB_CHECK(sb_gguf_get_array(g, "empty.str", &a, NULL) == SB_OK && a->count == 0 && a->elem_type == SB_GGUF_STRING);
    SB_CHECK(sb_gguf_get_array(g, "empty.arr", &a, NULL) == SB_OK && a->count == 0 && a->elem_type == SB_GGUF_ARRAY);
    SB_CHECK(sb_gguf_get_array(g, "nest.u32", &a, NULL) == SB_OK && a->elem_type == SB_GGUF_ARRAY && a->count == 2);
    if (a && a->count == 2) {
        const sb_gguf_array *x = &a->items[0].v.arr, *y = &a->items[1].v.arr;
        SB_CHECK(a->items[0].type == SB_GGUF_ARRAY && x->elem_type == SB_GGUF_UINT32 && x->count == 3);
        SB_CHECK(sb_gguf_array_int(x, 2) == 4294967295ll && y->count == 1 && sb_gguf_array_int(y, 0) == 305419896);
    }
    SB_CHECK(sb_gguf_get_array(g, "nest.str", &a, NULL) == SB_OK && a->count == 2);
    if (a && a->count == 2) {
        const sb_gguf_array *x = &a->items[0].v.arr;
        SB_CHECK(x->elem_type == SB_GGUF_STRING && x->count == 2 && sb_str_eq_cstr(sb_gguf_array_string(x, 0), "<unk>"));
        SB_CHECK(a->items[1].v.arr.count == 0 && a->items[1].v.arr.elem_type == SB_GGUF_STRING);
    }
    SB_CHECK(sb_gguf_get_array(g, "nest.3", &a, NULL) == SB_OK && a->count == 1);
    if (a && a->count == 1) {
        const sb_gguf_array *l2 = &a->items[0].v.arr;
        SB_CHECK(l2->elem_type == SB_GGUF_ARRAY && l2->count == 1);
        if (l2->count == 1) {
            const sb_gguf_array *l3 = &l2->items[0].v.arr;
            SB_CHECK(l3->elem_type == SB_GGUF_INT8 && l3->count == 5 && sb_gguf_array_int(l3, 0) == -128);
        }
    }
}

static void test_metadata_roundtrip(void) {
    sb_gguf_writer *w = new_writer();
    set_all_metadata(w);
    void *img;
    size_t len;
    sb_error err;
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_OK);
    gguf_save_seed("valid_all_metadata", img, len);
    /* no tensors: the file ends right after the metadata, unpadded */
    uint8_t *c = exact_copy(img, len);
    sb_gguf *g = open_mem(c, len);
    if (g) {
        SB_CHECK_EQ_INT(sb_gguf_version(g), 3);
        SB_CHECK_EQ_INT(sb_gguf_n_tensors(g), 0);
        SB_CHECK_EQ_INT(sb_gguf_alignment(g), 32);
        SB_CHECK_EQ_INT(sb_gguf_n_kv(g), 11 + 5 + 5 + N_NUM_ARRAYS + 1 + 3 + 3);
        SB_CHECK_STR(sb_gguf_path(g), "");
        check_all_metadata(g);
        /* order is the order of setting */
        SB_CHECK(sb_str_eq_cstr(sb_gguf_kv_at(g, 0)->key, "s.u8"));
        SB_CHECK(sb_str_eq_cstr(sb_gguf_kv_at(g, sb_gguf_n_kv(g) - 1)->key, "nest.3"));
        SB_CHECK(sb_gguf_kv_at(g, sb_gguf_n_kv(g)) == NULL);
        SB_CHECK(sb_gguf_find(g, "nope") == NULL);
        SB_CHECK(sb_gguf_find(g, "") == NULL);
        sb_gguf_close(g);
    }
    free(c);
    sb_free(img);
    sb_gguf_writer_free(w);
}

/* The writer refuses what the reader would refuse. */
static void test_writer_refuses(void) {
    sb_gguf_writer *w = new_writer();
    sb_error err;
    SB_CHECK(sb_gguf_writer_set_u32(w, "", 1, &err) == SB_ERR_INVALID_ARG && strstr(err.msg, "empty"));
    SB_CHECK(sb_gguf_writer_set_array(w, "a", SB_GGUF_STRING, NULL, 0, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_gguf_writer_set_array(w, "a", SB_GGUF_BOOL, "\1\2", 2, &err) == SB_ERR_INVALID_ARG);
    SB_CHECKF(strstr(err.msg, "key 'a'") != NULL, "%s", err.msg);
    sb_gguf_value bad = {.type = SB_GGUF_TYPE_COUNT};
    SB_CHECK(sb_gguf_writer_set_value(w, "a", &bad, &err) == SB_ERR_INVALID_ARG);
    bad = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = (sb_gguf_type)77, .count = 0}};
    SB_CHECK(sb_gguf_writer_set_value(w, "a", &bad, &err) == SB_ERR_INVALID_ARG);
    /* an ARRAY-of-arrays whose item is not an array */
    sb_gguf_value notarr = {.type = SB_GGUF_UINT8, .v.u64 = 1};
    bad = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 1, .items = &notarr}};
    SB_CHECK(sb_gguf_writer_set_value(w, "a", &bad, &err) == SB_ERR_INVALID_ARG);
    /* nesting: the reader takes SB_GGUF_MAX_ARRAY_DEPTH levels, the writer too */
    sb_gguf_value lv[SB_GGUF_MAX_ARRAY_DEPTH + 1];
    lv[0] = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_UINT8, .count = 1, .raw = u8s + 1}};
    for (int d = 1; d <= SB_GGUF_MAX_ARRAY_DEPTH; d++)
        lv[d] = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 1, .items = &lv[d - 1]}};
    SB_CHECK(sb_gguf_writer_set_value(w, "deep.ok", &lv[SB_GGUF_MAX_ARRAY_DEPTH - 1], &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_value(w, "deep.bad", &lv[SB_GGUF_MAX_ARRAY_DEPTH], &err) == SB_ERR_LIMIT);
    SB_CHECKF(strstr(err.msg, "deep.bad") != NULL, "%s", err.msg);
    void *img;
    size_t len;
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_OK);
    sb_gguf *g = open_mem(img, len);
    SB_CHECK(g && sb_gguf_n_kv(g) == 1 && sb_gguf_find(g, "deep.ok"));
    sb_gguf_close(g);
    sb_free(img);

    /* tensors */
    static uint8_t d[1024];
    SB_CHECK(sb_gguf_writer_add_tensor(w, "", SB_TYPE_F32, 1, (int64_t[]){4}, d, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", SB_TYPE_F32, 0, (int64_t[]){4}, d, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", SB_TYPE_F32, 5, (int64_t[]){4, 1, 1, 1, 1}, d, NULL, &err) ==
             SB_ERR_INVALID_ARG);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", 4, 1, (int64_t[]){32}, d, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECKF(strstr(err.msg, "unknown type 4") != NULL, "%s", err.msg);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", SB_TYPE_F32, 2, (int64_t[]){4, 0}, d, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", SB_TYPE_F32, 2, (int64_t[]){4, -1}, d, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", SB_TYPE_F32, 2, (int64_t[]){INT64_MAX, 2}, d, NULL, &err) ==
             SB_ERR_INVALID_ARG);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", SB_TYPE_Q4_0, 1, (int64_t[]){48}, d, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECKF(strstr(err.msg, "not a multiple of the Q4_0 block size 32") != NULL, "%s", err.msg);
    size_t idx = 99;
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", SB_TYPE_F32, 1, (int64_t[]){4}, d, &idx, &err) == SB_OK && idx == 0);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "t", SB_TYPE_F32, 1, (int64_t[]){4}, d, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECKF(strstr(err.msg, "duplicate tensor name 't'") != NULL, "%s", err.msg);
    /* a tensor without data needs a fill callback */
    SB_CHECK(sb_gguf_writer_add_tensor(w, "u", SB_TYPE_F32, 1, (int64_t[]){4}, NULL, &idx, &err) == SB_OK && idx == 1);
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECKF(strstr(err.msg, "tensor 'u' has no data") != NULL, "%s", err.msg);
    /* general.alignment the reader would refuse is refused at write time */
    SB_CHECK(sb_gguf_writer_set_u32(w, "general.alignment", 48, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECKF(strstr(err.msg, "general.alignment 48 is not a power of two") != NULL, "%s", err.msg);
    SB_CHECK(sb_gguf_writer_set_u32(w, "general.alignment", 0, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_gguf_writer_set_u64(w, "general.alignment", 64, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_ERR_INVALID_ARG);
    SB_CHECKF(strstr(err.msg, "general.alignment has type u64") != NULL, "%s", err.msg);
    sb_gguf_writer_free(w);
    sb_gguf_writer_free(NULL);
}

/* Replacing a key keeps its position; removing closes the gap. */
static void test_replace_and_remove(void) {
    sb_gguf_writer *w = new_writer();
    sb_error err;
    SB_CHECK(sb_gguf_writer_set_u32(w, "a", 1, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_u32(w, "b", 2, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_u32(w, "c", 3, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_string(w, "b", "two", 3, &err) == SB_OK); /* new type too */
    SB_CHECK(sb_gguf_writer_set_u32(w, "d", 4, &err) == SB_OK);
    sb_gguf_writer_remove(w, "a");
    sb_gguf_writer_remove(w, "zzz");
    SB_CHECK(sb_gguf_writer_set_u32(w, "a", 5, &err) == SB_OK);
    void *img;
    size_t len;
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_OK);
    sb_gguf *g = open_mem(img, len);
    if (g) {
        const char *order[] = {"b", "c", "d", "a"};
        SB_CHECK_EQ_INT(sb_gguf_n_kv(g), 4);
        for (size_t i = 0; i < 4 && i < sb_gguf_n_kv(g); i++)
            SB_CHECKF(sb_str_eq_cstr(sb_gguf_kv_at(g, i)->key, order[i]), "key %zu", i);
        sb_str s;
        uint64_t u;
        SB_CHECK(sb_gguf_get_string(g, "b", &s, NULL) == SB_OK && sb_str_eq_cstr(s, "two"));
        SB_CHECK(sb_gguf_get_uint(g, "a", &u, NULL) == SB_OK && u == 5);
        sb_gguf_close(g);
    }
    sb_free(img);
    sb_gguf_writer_free(w);
}

/* The typed getters: conversions, wrong types, ranges, absence. */
static void test_getters(void) {
    sb_gguf_writer *w = new_writer();
    sb_error err;
    set_all_metadata(w);
    void *img;
    size_t len;
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_OK);
    sb_gguf *g = open_mem(img, len);
    int64_t i;
    uint64_t u;
    double f;
    bool b;
    sb_str s;
    const sb_gguf_array *a;
    SB_CHECK(sb_gguf_get_int(g, "s.u8", &i, &err) == SB_OK && i == 200);
    SB_CHECK(sb_gguf_get_int(g, "s.u64", &i, &err) == SB_ERR_FORMAT && strstr(err.msg, "too large"));
    SB_CHECK(sb_gguf_get_uint(g, "s.i8", &u, &err) == SB_ERR_FORMAT && strstr(err.msg, "is negative"));
    SB_CHECK(sb_gguf_get_uint(g, "c.u32", &u, &err) == SB_OK && u == 7);
    SB_CHECK(sb_gguf_get_float(g, "s.i16", &f, &err) == SB_OK && f == -30000.0);
    SB_CHECK(sb_gguf_get_float(g, "s.u64", &f, &err) == SB_OK && f == 18446744073709551615.0);
    SB_CHECK(sb_gguf_get_float(g, "str.utf8", &f, &err) == SB_ERR_FORMAT);
    SB_CHECKF(strstr(err.msg, "metadata key 'str.utf8' has type str (expected a number)") != NULL, "%s", err.msg);
    SB_CHECK(sb_gguf_get_int(g, "s.f32", &i, &err) == SB_ERR_FORMAT && strstr(err.msg, "has type f32"));
    SB_CHECK(sb_gguf_get_bool(g, "s.u8", &b, &err) == SB_ERR_FORMAT);
    SB_CHECK(sb_gguf_get_string(g, "arr.str", &s, &err) == SB_ERR_FORMAT && strstr(err.msg, "has type arr"));
    SB_CHECK(sb_gguf_get_array(g, "s.u8", &a, &err) == SB_ERR_FORMAT);
    SB_CHECK(sb_gguf_get_int(g, "missing", &i, &err) == SB_ERR_NOT_FOUND && strstr(err.msg, "'missing' is missing"));
    SB_CHECK(sb_gguf_get_string(g, "missing", &s, NULL) == SB_ERR_NOT_FOUND);
    sb_gguf_close(g);
    sb_free(img);
    sb_gguf_writer_free(w);
}

/* ---- tensors ------------------------------------------------------------ */

typedef struct tspec {
    const char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[4];
    uint64_t bytes; /* computed by hand from the block layout */
} tspec;

static const tspec tensors[] = {
    {"f32.1d", SB_TYPE_F32, 1, {7}, 28},
    {"f16.2d", SB_TYPE_F16, 2, {5, 3}, 30},
    {"bf16.3d", SB_TYPE_BF16, 3, {3, 2, 2}, 24},
    {"q4_0.2d", SB_TYPE_Q4_0, 2, {64, 3}, 2 * 3 * 18},
    {"q4_1.1d", SB_TYPE_Q4_1, 1, {32}, 20},
    {"q5_0.1d", SB_TYPE_Q5_0, 1, {96}, 66},
    {"q5_1.2d", SB_TYPE_Q5_1, 2, {32, 2}, 48},
    {"q8_0.4d", SB_TYPE_Q8_0, 4, {32, 2, 3, 2}, 12 * 34},
    {"q2_k.2d", SB_TYPE_Q2_K, 2, {256, 2}, 168},
    {"q3_k.1d", SB_TYPE_Q3_K, 1, {512}, 220},
    {"q4_k.2d", SB_TYPE_Q4_K, 2, {512, 3}, 6 * 144},
    {"q5_k.1d", SB_TYPE_Q5_K, 1, {256}, 176},
    {"q6_k.3d", SB_TYPE_Q6_K, 3, {256, 1, 2}, 420},
    {"q8_k.1d", SB_TYPE_Q8_K, 1, {256}, 292},
    {"iq4_nl.1d", SB_TYPE_IQ4_NL, 1, {64}, 36},
    {"iq4_xs.2d", SB_TYPE_IQ4_XS, 2, {256, 2}, 272},
    {"iq2_xxs.1d", SB_TYPE_IQ2_XXS, 1, {256}, 66},
    {"iq3_s.1d", SB_TYPE_IQ3_S, 1, {256}, 110},
    {"iq1_m.1d", SB_TYPE_IQ1_M, 1, {256}, 56},
    {"tq1_0.1d", SB_TYPE_TQ1_0, 1, {256}, 54},
    {"mxfp4.1d", SB_TYPE_MXFP4, 1, {64}, 34},
    {"i8.1d", SB_TYPE_I8, 1, {3}, 3},
    {"i32.2d", SB_TYPE_I32, 2, {1, 1}, 4},
    {"f64.4d", SB_TYPE_F64, 4, {1, 2, 1, 3}, 48},
    {"blk.0.attn_q.weight", SB_TYPE_F32, 2, {8, 8}, 256},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

/* Builds a writer with a little metadata and every tensor above, data from
 * pattern buffers (or NULL data to be produced by fill when use_fill). */
static sb_gguf_writer *tensor_writer(int64_t alignment, uint8_t **bufs, int use_fill) {
    sb_gguf_writer *w = new_writer();
    sb_error err;
    SB_CHECK(sb_gguf_writer_set_string(w, "general.architecture", "test", 4, &err) == SB_OK);
    if (alignment > 0)
        SB_CHECK(sb_gguf_writer_set_u32(w, "general.alignment", (uint32_t)alignment, &err) == SB_OK);
    for (size_t i = 0; i < N_TENSORS; i++) {
        bufs[i] = malloc(tensors[i].bytes);
        fill_pattern(bufs[i], tensors[i].bytes, (uint32_t)i + 1);
        size_t idx;
        SB_CHECKF(sb_gguf_writer_add_tensor(w, tensors[i].name, tensors[i].type, tensors[i].n_dims, tensors[i].ne,
                                            use_fill ? NULL : bufs[i], &idx, &err) == SB_OK,
                  "%s: %s", tensors[i].name, err.msg);
        SB_CHECK(idx == i);
    }
    return w;
}

static void check_tensors(const sb_gguf *g, uint32_t align, uint8_t **bufs) {
    SB_CHECK_EQ_INT(sb_gguf_alignment(g), align);
    SB_CHECK_EQ_INT(sb_gguf_data_offset(g) % align, 0);
    SB_CHECK_EQ_INT(sb_gguf_n_tensors(g), N_TENSORS);
    uint64_t expect_off = 0;
    for (size_t i = 0; i < N_TENSORS && i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        const tspec *e = &tensors[i];
        SB_CHECKF(sb_str_eq_cstr(t->name, e->name) && t->type == e->type && t->n_dims == e->n_dims, "%s", e->name);
        for (uint32_t d = 0; d < 4; d++)
            SB_CHECKF(t->ne[d] == (d < e->n_dims ? e->ne[d] : 1), "%s ne[%u]", e->name, d);
        SB_CHECKF(t->size == e->bytes, "%s: size %llu, want %llu", e->name, (unsigned long long)t->size,
                  (unsigned long long)e->bytes);
        SB_CHECKF(t->offset % align == 0 && t->offset == expect_off, "%s offset %llu", e->name,
                  (unsigned long long)t->offset);
        SB_CHECK(((const uint8_t *)t->data - sb_gguf_file_data(g)) % align == 0);
        SB_CHECKF(memcmp(t->data, bufs[i], e->bytes) == 0, "%s data", e->name);
        SB_CHECK(sb_gguf_find_tensor(g, e->name) == t);
        int64_t n = 1;
        for (uint32_t d = 0; d < e->n_dims; d++)
            n *= e->ne[d];
        SB_CHECK(sb_gguf_tensor_nelements(t) == n);
        expect_off = (t->offset + t->size + align - 1) / align * align;
    }
    SB_CHECK(sb_gguf_find_tensor(g, "missing") == NULL);
    SB_CHECK(sb_gguf_tensor_at(g, N_TENSORS) == NULL);
    /* the file ends with the last tensor padded to the alignment */
    SB_CHECK_EQ_INT(sb_gguf_file_size(g), sb_gguf_data_offset(g) + expect_off);
}

static void free_bufs(uint8_t **bufs) {
    for (size_t i = 0; i < N_TENSORS; i++)
        free(bufs[i]);
}

static void test_tensors_alignments(void) {
    const int64_t aligns[] = {0 /* default */, 1, 2, 8, 32, 64, 128, 4096};
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        uint8_t *bufs[N_TENSORS];
        sb_gguf_writer *w = tensor_writer(aligns[a], bufs, 0);
        void *img;
        size_t len;
        sb_error err;
        SB_CHECKF(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_OK, "%s", err.msg);
        uint8_t *c = exact_copy(img, len);
        sb_gguf *g = open_mem(c, len);
        if (aligns[a] == 8)
            gguf_save_seed("valid_tensor_types_align8", img, len);
        if (g) {
            check_tensors(g, aligns[a] ? (uint32_t)aligns[a] : 32, bufs);
            sb_gguf_close(g);
        }
        free(c);
        sb_free(img);
        sb_gguf_writer_free(w);
        free_bufs(bufs);
    }
}

/* fill callback: produces tensor `index`'s pattern and records the calls. */
typedef struct fill_state {
    uint8_t **bufs;
    size_t calls;
    size_t next;
    int fail_at; /* -1: never */
} fill_state;

static sb_status fill_cb(void *ud, size_t index, void *dst, uint64_t size, sb_error *err) {
    fill_state *f = ud;
    f->calls++;
    SB_CHECK(index == f->next);
    f->next = index + 1;
    SB_CHECK(size == tensors[index].bytes);
    if ((int)index == f->fail_at)
        return sb_error_set(err, SB_ERR_IO, "fill failed on purpose at %zu", index);
    memcpy(dst, f->bufs[index], size);
    return SB_OK;
}

typedef struct progress_state {
    size_t calls;
    uint64_t last_done, total;
    int monotonic;
} progress_state;

static void progress_cb(void *ud, uint64_t done, uint64_t total) {
    progress_state *p = ud;
    if (done <= p->last_done && p->calls > 0)
        p->monotonic = 0;
    p->calls++;
    p->last_done = done;
    p->total = total;
}

static int dir_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    return n;
}

/* Temporary names planted as symlinks (every name this process could try
 * first) are never followed: the write goes elsewhere and the file a
 * symlink points at is untouched. */
static void test_planted_temporaries(void) {
    char dir[512], path[600], victim[600], link[700];
    snprintf(dir, sizeof dir, "%s/planted", sb_test_tmpdir());
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    SB_CHECK(mkdir(dir, 0755) == 0);
    FILE *f = fopen(victim, "w");
    SB_CHECK(f && fputs("keep", f) >= 0 && fclose(f) == 0);
    for (int i = 0; i < 64; i++) {
        snprintf(link, sizeof link, "%s.tmp.%ld.%d", path, (long)getpid(), i);
        SB_CHECK(symlink(victim, link) == 0);
    }
    snprintf(link, sizeof link, "%s.tmp.%ld", path, (long)getpid()); /* the name once used */
    SB_CHECK(symlink(victim, link) == 0);
    uint8_t *bufs[N_TENSORS];
    sb_gguf_writer *w = tensor_writer(64, bufs, 0);
    sb_error err;
    SB_CHECKF(sb_gguf_writer_write(w, path, NULL, NULL, NULL, NULL, &err) == SB_OK, "%s", err.msg);
    char *data;
    size_t len;
    SB_CHECK(sb_file_read_all(victim, 1024, &data, &len, &err) == SB_OK && len == 4 && memcmp(data, "keep", 4) == 0);
    sb_free(data);
    sb_gguf *g = NULL;
    SB_CHECK(sb_gguf_open(path, &g, &err) == SB_OK);
    if (g) {
        check_tensors(g, 64, bufs);
        sb_gguf_close(g);
    }
    SB_CHECK_EQ_INT(dir_entries(dir), 2 + 65); /* model, victim, the links; no temporary left */
    sb_gguf_writer_free(w);
    for (size_t i = 0; i < N_TENSORS; i++)
        free(bufs[i]);
}

static void test_file_output(void) {
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/out", sb_test_tmpdir());
    snprintf(path, sizeof path, "%s/model.gguf", dir);
    SB_CHECK(mkdir(dir, 0755) == 0);
    uint8_t *bufs[N_TENSORS];
    sb_gguf_writer *w = tensor_writer(64, bufs, 0);
    set_all_metadata(w);
    sb_error err;
    /* memory image first */
    void *img;
    size_t len;
    SB_CHECK(sb_gguf_writer_write_memory(w, &img, &len, NULL, NULL, &err) == SB_OK);
    /* file output with progress: same bytes */
    progress_state ps = {.monotonic = 1};
    SB_CHECKF(sb_gguf_writer_write(w, path, NULL, NULL, progress_cb, &ps, &err) == SB_OK, "%s", err.msg);
    char *file;
    size_t flen;
    SB_CHECK(sb_file_read_all(path, 1 << 24, &file, &flen, &err) == SB_OK);
    SB_CHECK(flen == len && memcmp(file, img, len) == 0);
    sb_free(file);
    uint64_t total = 0;
    for (size_t i = 0; i < N_TENSORS; i++)
        total += tensors[i].bytes;
    SB_CHECK(ps.calls == N_TENSORS && ps.monotonic && ps.last_done == total && ps.total == total);
    SB_CHECK_EQ_INT(dir_entries(dir), 1); /* no temporary left behind */
    /* the file opens by path and matches */
    sb_gguf *g;
    SB_CHECK(sb_gguf_open(path, &g, &err) == SB_OK);
    if (g) {
        SB_CHECK_STR(sb_gguf_path(g), path);
        check_tensors(g, 64, bufs);
        check_all_metadata(g);
        sb_gguf_close(g);
    }

    /* fill callback path: same bytes, fill called once per tensor in order */
    uint8_t *bufs2[N_TENSORS]; /* the same patterns, handed out by fill_cb */
    sb_gguf_writer *wf = tensor_writer(64, bufs2, 1);
    set_all_metadata(wf);
    fill_state fs = {.bufs = bufs2, .fail_at = -1};
    void *img2;
    size_t len2;
    SB_CHECK(sb_gguf_writer_write_memory(wf, &img2, &len2, fill_cb, &fs, &err) == SB_OK);
    SB_CHECK(len2 == len && memcmp(img2, img, len) == 0);
    SB_CHECK(fs.calls == N_TENSORS);
    sb_free(img2);
    fs = (fill_state){.bufs = bufs2, .fail_at = -1};
    ps = (progress_state){.monotonic = 1};
    snprintf(path, sizeof path, "%s/filled.gguf", dir);
    SB_CHECK(sb_gguf_writer_write(wf, path, fill_cb, &fs, progress_cb, &ps, &err) == SB_OK);
    SB_CHECK(fs.calls == N_TENSORS && ps.calls == N_TENSORS && ps.last_done == total);
    SB_CHECK(sb_file_read_all(path, 1 << 24, &file, &flen, &err) == SB_OK);
    SB_CHECK(flen == len && memcmp(file, img, len) == 0);
    sb_free(file);

    /* a failing fill: the error comes back, the old file stays, no temporary */
    fs = (fill_state){.bufs = bufs2, .fail_at = 3};
    SB_CHECK(sb_gguf_writer_write(wf, path, fill_cb, &fs, NULL, NULL, &err) == SB_ERR_IO);
    SB_CHECKF(strstr(err.msg, "fill failed on purpose at 3") != NULL, "%s", err.msg);
    SB_CHECK(fs.calls == 4);
    SB_CHECK(sb_file_read_all(path, 1 << 24, &file, &flen, &err) == SB_OK);
    SB_CHECK(flen == len && memcmp(file, img, len) == 0);
    sb_free(file);
    SB_CHECK_EQ_INT(dir_entries(dir), 2);
    /* replacing an existing file with different content */
    sb_gguf_writer *small = new_writer();
    SB_CHECK(sb_gguf_writer_set_u32(small, "x", 1, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_write(small, path, NULL, NULL, NULL, NULL, &err) == SB_OK);
    SB_CHECK(sb_gguf_open(path, &g, &err) == SB_OK && sb_gguf_n_kv(g) == 1 && sb_gguf_n_tensors(g) == 0);
    sb_gguf_close(g);
    SB_CHECK_EQ_INT(dir_entries(dir), 2);
    /* an unwritable destination fails with an I/O error naming it */
    SB_CHECK(sb_gguf_writer_write(small, "/nonexistent-dir/x.gguf", NULL, NULL, NULL, NULL, &err) == SB_ERR_IO);
    SB_CHECKF(strstr(err.msg, "/nonexistent-dir/x.gguf") != NULL, "%s", err.msg);
    sb_gguf_writer_free(small);

    sb_gguf_writer_free(wf);
    sb_gguf_writer_free(w);
    free_bufs(bufs);
    free_bufs(bufs2);
    sb_free(img);
}

/* A hand-made image with tensors out of order and a gap still reads (GGUF
 * does not require a canonical layout), with the data where it says. */
static void test_noncanonical_layout(void) {
    sb_buf b;
    sb_buf_init(&b);
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "second", 1, (uint64_t[]){4}, SB_TYPE_F32, 64);
    gb_tensor(&b, "first", 1, (uint64_t[]){4}, SB_TYPE_F32, 0);
    gb_pad(&b, 32);
    size_t data = b.len;
    for (int i = 0; i < 96; i++)
        gb_u8(&b, (uint8_t)i);
    uint8_t *c = exact_copy(b.data, b.len);
    sb_gguf *g = open_mem(c, b.len);
    if (g) {
        SB_CHECK(sb_gguf_data_offset(g) == data);
        const sb_gguf_tensor *t = sb_gguf_find_tensor(g, "second");
        SB_CHECK(t && t->offset == 64 && ((const uint8_t *)t->data)[0] == 64);
        sb_gguf_close(g);
    }
    free(c);
    sb_buf_free(&b);
}

/* test_gguf_roundtrip [--write-seeds DIR]: also saves two valid images as
 * fuzzing seeds (see test_gguf_hostile.c). */
int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-seeds") == 0)
        gguf_seed_dir = argv[2];
    SB_RUN(test_metadata_roundtrip);
    SB_RUN(test_writer_refuses);
    SB_RUN(test_replace_and_remove);
    SB_RUN(test_getters);
    SB_RUN(test_tensors_alignments);
    SB_RUN(test_file_output);
    SB_RUN(test_planted_temporaries);
    SB_RUN(test_noncanonical_layout);
    return sb_test_finish();
}
