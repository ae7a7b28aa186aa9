/*
 * test_gguf_hostile.c - the GGUF reader against damaged and hostile images.
 *
 * Every case must be refused with its own message (checked by substring) and
 * the right status, with and without an sb_error, never crash or read out of
 * bounds (run under ASan: each image is an exact-size heap copy).
 *
 *   test_gguf_hostile [--write-seeds DIR]
 * With --write-seeds, every hand-made image (valid bases and hostile cases)
 * is also saved as DIR/<case>.gguf: that is how tests/fuzz/corpus/gguf/ was
 * made.
 */
#include "gguf_test_util.h"
#include "sb_alloc.h"
#include "sb_file.h"
#include "sb_gguf_writer.h"
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small valid images ------------------------------------------------- */

/* One u32 key and one F32 [8, 2] tensor "w": a valid 1-tensor image. */
static void base_image(sb_buf *b) {
    sb_buf_init(b);
    gb_header(b, 3, 1, 1);
    gb_key(b, "a", SB_GGUF_UINT32);
    gb_u32(b, 7);
    gb_tensor(b, "w", 2, (uint64_t[]){8, 2}, SB_TYPE_F32, 0);
    gb_pad(b, 32);
    for (int i = 0; i < 16; i++) {
        float f = (float)i;
        gb_bytes(b, &f, 4);
    }
}

static void test_base_images_open(void) {
    sb_buf b;
    base_image(&b);
    gguf_save_seed("valid_base", b.data, b.len);
    uint8_t *c = exact_copy(b.data, b.len);
    sb_gguf *g;
    sb_error err;
    SB_CHECK(sb_gguf_open_memory(c, b.len, &g, &err) == SB_OK);
    SB_CHECK_EQ_INT(sb_gguf_n_tensors(g), 1);
    SB_CHECK_EQ_INT(sb_gguf_data_offset(g), 96);
    sb_gguf_close(g);
    free(c);
    /* version 2 is read like version 3 */
    memcpy(b.data + 4, &(uint32_t){2}, 4);
    gguf_save_seed("valid_v2", b.data, b.len);
    c = exact_copy(b.data, b.len);
    SB_CHECK(sb_gguf_open_memory(c, b.len, &g, &err) == SB_OK);
    SB_CHECK_EQ_INT(sb_gguf_version(g), 2);
    sb_gguf_close(g);
    free(c);
    sb_buf_free(&b);
}

/* ---- header ------------------------------------------------------------- */

static void test_header(void) {
    sb_buf b;
    base_image(&b);
    memcpy(b.data, "GGUG", 4);
    EXPECT_FAIL("bad_magic", &b, SB_ERR_FORMAT, "bad magic 47 47 55 47");
    memcpy(b.data, "FUGG", 4);
    EXPECT_FAIL("bad_magic_reversed", &b, SB_ERR_FORMAT, "not a GGUF file");
    memcpy(b.data, "GGUF", 4);
    memcpy(b.data + 4, &(uint32_t){1}, 4);
    EXPECT_FAIL("version1", &b, SB_ERR_UNSUPPORTED, "GGUF version 1 is not supported");
    memcpy(b.data + 4, &(uint32_t){4}, 4);
    EXPECT_FAIL("version4", &b, SB_ERR_UNSUPPORTED, "GGUF version 4 is not supported");
    memcpy(b.data + 4, &(uint32_t){0x03000000u}, 4);
    EXPECT_FAIL("version_big_endian", &b, SB_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
    memcpy(b.data + 4, &(uint32_t){0x02000000u}, 4);
    EXPECT_FAIL("version_big_endian2", &b, SB_ERR_UNSUPPORTED, "big-endian");
    memcpy(b.data + 4, &(uint32_t){0}, 4);
    EXPECT_FAIL("version0", &b, SB_ERR_UNSUPPORTED, "GGUF version 0 is not supported");
    sb_buf_free(&b);

    sb_buf e;
    sb_buf_init(&e);
    EXPECT_FAIL("empty", &e, SB_ERR_FORMAT, "not a GGUF file: it is only 0 bytes long");
    gb_bytes(&e, "GGU", 3);
    EXPECT_FAIL("three_bytes", &e, SB_ERR_FORMAT, "only 3 bytes long");
    gb_bytes(&e, "F", 1);
    gb_u32(&e, 3);
    EXPECT_FAIL("no_counts", &e, SB_ERR_FORMAT, "truncated file: tensor count needs 8 bytes at offset 8");
    sb_buf_free(&e);
}

/* n_tensors / n_kv that the bytes present cannot hold. */
static void test_absurd_counts(void) {
    sb_buf b;
    base_image(&b);
    uint64_t n_kv_pos = 16, n_t_pos = 8;
    uint64_t after_header = b.len - 24;
    memcpy(b.data + n_kv_pos, &(uint64_t){(1ull << 63) - 1}, 8);
    EXPECT_FAIL("n_kv_2e63", &b, SB_ERR_FORMAT, "metadata count 9223372036854775807 is more than the file's");
    memcpy(b.data + n_kv_pos, &(uint64_t){UINT64_MAX}, 8);
    EXPECT_FAIL("n_kv_max", &b, SB_ERR_FORMAT, "metadata count 18446744073709551615");
    /* just above what the file can hold (13 bytes per entry at least) */
    memcpy(b.data + n_kv_pos, &(uint64_t){after_header / 13 + 1}, 8);
    EXPECT_FAIL("n_kv_just_above", &b, SB_ERR_FORMAT, "is more than the file's");
    /* within the bound but more than present: read as metadata, fails there */
    memcpy(b.data + n_kv_pos, &(uint64_t){after_header / 13}, 8);
    EXPECT_FAIL("n_kv_more_than_present", &b, SB_ERR_FORMAT, "metadata entry ");
    memcpy(b.data + n_kv_pos, &(uint64_t){1}, 8);

    memcpy(b.data + n_t_pos, &(uint64_t){(1ull << 63) + 5}, 8);
    EXPECT_FAIL("n_tensors_2e63", &b, SB_ERR_FORMAT, "tensor count 9223372036854775813 is more than the file's");
    memcpy(b.data + n_t_pos, &(uint64_t){after_header / 32 + 1}, 8);
    EXPECT_FAIL("n_tensors_just_above", &b, SB_ERR_FORMAT, "tensor count");
    /* two tensors claimed, one present: the second info runs into the data */
    memcpy(b.data + n_t_pos, &(uint64_t){2}, 8);
    EXPECT_FAIL("n_tensors_one_more", &b, SB_ERR_FORMAT, "tensor 1");
    sb_buf_free(&b);
}

/* ---- metadata ----------------------------------------------------------- */

/* A header claiming n_kv entries and no tensors, ready for raw entries. */
static void kv_image(sb_buf *b, uint64_t n_kv) {
    sb_buf_init(b);
    gb_header(b, 3, 0, n_kv);
}

static void test_string_lengths(void) {
    sb_buf b;
    /* key length past the end */
    kv_image(&b, 1);
    gb_u64(&b, 1000);
    gb_bytes(&b, "abcdefghijklmnop", 16);
    EXPECT_FAIL("key_len_past_end", &b, SB_ERR_FORMAT,
                "metadata entry 0: metadata key: string length 1000 at offset 24 runs past the end of the file");
    sb_buf_free(&b);
    kv_image(&b, 1);
    gb_u64(&b, UINT64_MAX);
    gb_bytes(&b, "abcdefghijklmnop", 16);
    EXPECT_FAIL("key_len_max", &b, SB_ERR_FORMAT, "string length 18446744073709551615");
    sb_buf_free(&b);
    /* string value */
    kv_image(&b, 1);
    gb_key(&b, "s", SB_GGUF_STRING);
    gb_u64(&b, 17);
    gb_bytes(&b, "sixteen bytes...", 16);
    EXPECT_FAIL("str_value_past_end", &b, SB_ERR_FORMAT, "key 's': string value: string length 17");
    sb_buf_free(&b);
    /* string array element */
    kv_image(&b, 1);
    gb_key(&b, "tokens", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_STRING);
    gb_u64(&b, 3);
    gb_str(&b, "a");
    gb_u64(&b, 1u << 20);
    gb_bytes(&b, "bbbbbbbbbbbbbbbb", 16);
    EXPECT_FAIL("str_elem_past_end", &b, SB_ERR_FORMAT, "key 'tokens' element 1: array string: string length 1048576");
    sb_buf_free(&b);
    /* tensor name */
    sb_buf_init(&b);
    gb_header(&b, 3, 1, 0);
    gb_u64(&b, 40);
    gb_bytes(&b, "name_that_is_cut_short_xxxxxxxxx", 32);
    EXPECT_FAIL("tensor_name_past_end", &b, SB_ERR_FORMAT, "tensor 0: tensor name: string length 40");
    sb_buf_free(&b);
}

static void test_value_types(void) {
    sb_buf b;
    kv_image(&b, 1);
    gb_key(&b, "k", 13);
    gb_u64(&b, 0);
    gb_u64(&b, 0);
    EXPECT_FAIL("value_type_13", &b, SB_ERR_FORMAT, "key 'k': value type 13 is unknown");
    sb_buf_free(&b);
    kv_image(&b, 1);
    gb_key(&b, "k", 0xFFFFFFFFu);
    gb_u64(&b, 0);
    EXPECT_FAIL("value_type_max", &b, SB_ERR_FORMAT, "value type 4294967295 is unknown");
    sb_buf_free(&b);
    kv_image(&b, 1);
    gb_key(&b, "arr", SB_GGUF_ARRAY);
    gb_u32(&b, 13);
    gb_u64(&b, 1);
    gb_u64(&b, 0);
    EXPECT_FAIL("array_elem_type_13", &b, SB_ERR_FORMAT, "key 'arr': array element type 13 is unknown");
    sb_buf_free(&b);
    /* an unknown type inside a nested array */
    kv_image(&b, 1);
    gb_key(&b, "nest", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_ARRAY);
    gb_u64(&b, 1);
    gb_u32(&b, 99);
    gb_u64(&b, 0);
    gb_u64(&b, 0);
    EXPECT_FAIL("nested_elem_type_99", &b, SB_ERR_FORMAT, "key 'nest': array element type 99 is unknown");
    sb_buf_free(&b);
    /* a scalar cut short */
    kv_image(&b, 1);
    gb_key(&b, "big", SB_GGUF_UINT64);
    gb_u32(&b, 0);
    EXPECT_FAIL("scalar_cut", &b, SB_ERR_FORMAT, "key 'big': truncated file: value needs 8 bytes");
    sb_buf_free(&b);
    /* no value type at all */
    kv_image(&b, 1);
    gb_str(&b, "lonely");
    EXPECT_FAIL("no_value_type", &b, SB_ERR_FORMAT, "key 'lonely': truncated file: value type needs 4 bytes");
    sb_buf_free(&b);
}

/* depth arrays nested inside each other, the innermost holding one u8. */
static void nested_image(sb_buf *b, int depth) {
    kv_image(b, 1);
    gb_key(b, "deep", SB_GGUF_ARRAY);
    for (int i = 1; i < depth; i++) {
        gb_u32(b, SB_GGUF_ARRAY);
        gb_u64(b, 1);
    }
    gb_u32(b, SB_GGUF_UINT8);
    gb_u64(b, 1);
    gb_u8(b, 42);
}

static void test_nesting_and_counts(void) {
    sb_buf b;
    nested_image(&b, SB_GGUF_MAX_ARRAY_DEPTH);
    gguf_save_seed("valid_nested_max", b.data, b.len);
    uint8_t *c = exact_copy(b.data, b.len);
    sb_gguf *g;
    SB_CHECK(sb_gguf_open_memory(c, b.len, &g, NULL) == SB_OK);
    const sb_gguf_array *a;
    SB_CHECK(sb_gguf_get_array(g, "deep", &a, NULL) == SB_OK);
    for (int i = 1; i < SB_GGUF_MAX_ARRAY_DEPTH; i++) {
        SB_CHECK(a->elem_type == SB_GGUF_ARRAY && a->count == 1);
        a = &a->items[0].v.arr;
    }
    SB_CHECK(a->elem_type == SB_GGUF_UINT8 && sb_gguf_array_int(a, 0) == 42);
    sb_gguf_close(g);
    free(c);
    sb_buf_free(&b);
    nested_image(&b, SB_GGUF_MAX_ARRAY_DEPTH + 1);
    EXPECT_FAIL("nested_too_deep", &b, SB_ERR_FORMAT, "key 'deep': arrays nested deeper than 8 levels");
    sb_buf_free(&b);
    nested_image(&b, 1000);
    EXPECT_FAIL("nested_1000", &b, SB_ERR_FORMAT, "nested deeper than 8 levels");
    sb_buf_free(&b);

    /* array counts past the end, for each kind of element */
    kv_image(&b, 1);
    gb_key(&b, "n", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_UINT32);
    gb_u64(&b, 5);
    gb_u32(&b, 1);
    gb_u32(&b, 2);
    EXPECT_FAIL("array_u32_count_past_end", &b, SB_ERR_FORMAT,
                "key 'n': array of 5 u32 elements runs past the end of the file (8 bytes remain)");
    sb_buf_free(&b);
    kv_image(&b, 1);
    gb_key(&b, "n", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_FLOAT64);
    gb_u64(&b, UINT64_MAX / 8 + 2);
    gb_u64(&b, 0);
    EXPECT_FAIL("array_f64_count_wraps", &b, SB_ERR_FORMAT, "array of 2305843009213693953 f64 elements runs past");
    sb_buf_free(&b);
    kv_image(&b, 1);
    gb_key(&b, "n", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_STRING);
    gb_u64(&b, 1ull << 62);
    gb_str(&b, "x");
    EXPECT_FAIL("array_str_count_huge", &b, SB_ERR_FORMAT, "array of 4611686018427387904 str elements runs past");
    sb_buf_free(&b);
    kv_image(&b, 1);
    gb_key(&b, "n", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_ARRAY);
    gb_u64(&b, 3);
    gb_u32(&b, SB_GGUF_UINT8);
    gb_u64(&b, 0);
    EXPECT_FAIL("array_arr_count_past_end", &b, SB_ERR_FORMAT, "array of 3 arr elements runs past");
    sb_buf_free(&b);
    /* a string array whose count fits the bound but whose strings are missing:
     * memory must follow the strings actually read (checked under ASan's
     * allocator limits), and the error names the element */
    kv_image(&b, 1);
    gb_key(&b, "t", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_STRING);
    gb_u64(&b, 150);
    for (int i = 0; i < 100; i++)
        gb_str(&b, "tok");
    for (int i = 0; i < 500; i++)
        gb_u8(&b, 0xEE);
    EXPECT_FAIL("array_str_missing", &b, SB_ERR_FORMAT, "key 't' element 100: array string: string length");
    sb_buf_free(&b);
}

static void test_bools(void) {
    sb_buf b;
    kv_image(&b, 1);
    gb_key(&b, "flag", SB_GGUF_BOOL);
    gb_u8(&b, 2);
    EXPECT_FAIL("bool_2", &b, SB_ERR_FORMAT, "key 'flag': bool value 2 is neither 0 nor 1");
    sb_buf_free(&b);
    kv_image(&b, 1);
    gb_key(&b, "flag", SB_GGUF_BOOL);
    gb_u8(&b, 0xFF);
    EXPECT_FAIL("bool_255", &b, SB_ERR_FORMAT, "bool value 255");
    sb_buf_free(&b);
    kv_image(&b, 1);
    gb_key(&b, "flags", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_BOOL);
    gb_u64(&b, 4);
    gb_bytes(&b, "\1\0\1\7", 4);
    EXPECT_FAIL("bool_array_7", &b, SB_ERR_FORMAT, "key 'flags' element 3: bool value 7 is neither 0 nor 1");
    sb_buf_free(&b);
}

static void test_duplicates_and_empty(void) {
    sb_buf b;
    kv_image(&b, 3);
    gb_key(&b, "a", SB_GGUF_UINT8);
    gb_u8(&b, 1);
    gb_key(&b, "b", SB_GGUF_UINT8);
    gb_u8(&b, 1);
    gb_key(&b, "a", SB_GGUF_STRING);
    gb_str(&b, "again");
    EXPECT_FAIL("duplicate_key", &b, SB_ERR_FORMAT, "duplicate metadata key 'a'");
    sb_buf_free(&b);
    kv_image(&b, 2);
    gb_key(&b, "a", SB_GGUF_UINT8);
    gb_u8(&b, 1);
    gb_key(&b, "", SB_GGUF_UINT8);
    gb_u8(&b, 1);
    EXPECT_FAIL("empty_key", &b, SB_ERR_FORMAT, "metadata entry 1 has an empty key");
    sb_buf_free(&b);

    sb_buf_init(&b);
    gb_header(&b, 3, 2, 0);
    gb_tensor(&b, "t", 1, (uint64_t[]){8}, SB_TYPE_F32, 0);
    gb_tensor(&b, "t", 1, (uint64_t[]){8}, SB_TYPE_F32, 32);
    gb_pad(&b, 32);
    for (int i = 0; i < 64; i++)
        gb_u8(&b, (uint8_t)i);
    EXPECT_FAIL("duplicate_tensor", &b, SB_ERR_FORMAT, "duplicate tensor name 't'");
    sb_buf_free(&b);
    sb_buf_init(&b);
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, "", 1, (uint64_t[]){8}, SB_TYPE_F32, 0);
    gb_pad(&b, 32);
    for (int i = 0; i < 32; i++)
        gb_u8(&b, 0);
    EXPECT_FAIL("empty_tensor_name", &b, SB_ERR_FORMAT, "tensor 0 has an empty name");
    sb_buf_free(&b);

    /* a huge key: the message shows only a bounded part of it */
    kv_image(&b, 1);
    char key[1001];
    memset(key, 'k', 1000);
    key[1000] = '\0';
    gb_key(&b, key, 77);
    const char *msg = EXPECT_FAIL("long_key", &b, SB_ERR_FORMAT, "value type 77 is unknown");
    SB_CHECK(strlen(msg) < 300);
    sb_buf_free(&b);
}

/* ---- alignment ---------------------------------------------------------- */

/* general.alignment of the given type/value followed by one F32[8] tensor
 * placed at 0 in a data section aligned to 32. */
static void align_image(sb_buf *b, uint32_t type, uint64_t value) {
    sb_buf_init(b);
    gb_header(b, 3, 1, 1);
    gb_key(b, "general.alignment", type);
    if (type == SB_GGUF_UINT64)
        gb_u64(b, value);
    else if (type == SB_GGUF_STRING)
        gb_str(b, "32");
    else
        gb_u32(b, (uint32_t)value);
    gb_tensor(b, "t", 1, (uint64_t[]){8}, SB_TYPE_F32, 0);
    gb_pad(b, 32);
    for (int i = 0; i < 32; i++)
        gb_u8(b, 0);
}

static void test_alignment(void) {
    sb_buf b;
    align_image(&b, SB_GGUF_UINT64, 32);
    EXPECT_FAIL("align_u64", &b, SB_ERR_FORMAT, "general.alignment has type u64 (must be u32)");
    sb_buf_free(&b);
    align_image(&b, SB_GGUF_INT32, 32);
    EXPECT_FAIL("align_i32", &b, SB_ERR_FORMAT, "general.alignment has type i32 (must be u32)");
    sb_buf_free(&b);
    align_image(&b, SB_GGUF_STRING, 0);
    EXPECT_FAIL("align_str", &b, SB_ERR_FORMAT, "general.alignment has type str");
    sb_buf_free(&b);
    align_image(&b, SB_GGUF_UINT32, 0);
    EXPECT_FAIL("align_zero", &b, SB_ERR_FORMAT, "general.alignment 0 is not a power of two");
    sb_buf_free(&b);
    align_image(&b, SB_GGUF_UINT32, 48);
    EXPECT_FAIL("align_48", &b, SB_ERR_FORMAT, "general.alignment 48 is not a power of two");
    sb_buf_free(&b);
    align_image(&b, SB_GGUF_UINT32, 0x80000001u);
    EXPECT_FAIL("align_odd_big", &b, SB_ERR_FORMAT, "general.alignment 2147483649 is not a power of two");
    sb_buf_free(&b);
    /* a legal but huge alignment puts the data section past the end */
    align_image(&b, SB_GGUF_UINT32, 1u << 20);
    EXPECT_FAIL("align_1m", &b, SB_ERR_FORMAT, "truncated file: the data section starts at 1048576");
    sb_buf_free(&b);
    /* legal alignments open */
    uint32_t ok[] = {1, 2, 8, 16, 32};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        align_image(&b, SB_GGUF_UINT32, ok[i]);
        uint8_t *c = exact_copy(b.data, b.len);
        sb_gguf *g;
        sb_error err;
        SB_CHECKF(sb_gguf_open_memory(c, b.len, &g, &err) == SB_OK, "alignment %u: %s", ok[i], err.msg);
        if (g) {
            SB_CHECK_EQ_INT(sb_gguf_alignment(g), ok[i]);
            SB_CHECK_EQ_INT(sb_gguf_data_offset(g) % ok[i], 0);
            sb_gguf_close(g);
        }
        free(c);
        sb_buf_free(&b);
    }
}

/* ---- tensor infos ------------------------------------------------------- */

/* One tensor info with the given dims/type/offset and `data` bytes of data. */
static void tensor_image(sb_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                         uint64_t offset, size_t data) {
    sb_buf_init(b);
    gb_header(b, 3, 1, 0);
    gb_tensor(b, name, n_dims, ne, type, offset);
    gb_pad(b, 32);
    for (size_t i = 0; i < data; i++)
        gb_u8(b, (uint8_t)i);
}

static void test_tensor_infos(void) {
    sb_buf b;
    tensor_image(&b, "w", 1, (uint64_t[]){8}, SB_TYPE_F32, 0xFFFFFFFFFFFFFFE0ull, 64);
    EXPECT_FAIL("offset_overflow", &b, SB_ERR_FORMAT, "tensor 'w': offset 18446744073709551584 + size 32 overflows");
    sb_buf_free(&b);
    tensor_image(&b, "w", 1, (uint64_t[]){8}, SB_TYPE_F32, 64, 64);
    EXPECT_FAIL("offset_past_end", &b, SB_ERR_FORMAT,
                "tensor 'w': data [64, 96) lies past the end of the data section (64 bytes");
    sb_buf_free(&b);
    tensor_image(&b, "w", 1, (uint64_t[]){8}, SB_TYPE_F32, 0, 31);
    EXPECT_FAIL("data_cut_short", &b, SB_ERR_FORMAT, "tensor 'w': data [0, 32) lies past the end");
    sb_buf_free(&b);
    tensor_image(&b, "w", 1, (uint64_t[]){8}, SB_TYPE_F32, 4, 64);
    EXPECT_FAIL("offset_misaligned", &b, SB_ERR_FORMAT, "tensor 'w': offset 4 is not a multiple of the alignment 32");
    sb_buf_free(&b);
    tensor_image(&b, "w", 2, (uint64_t[]){1ull << 32, 1ull << 32}, SB_TYPE_F32, 0, 32);
    EXPECT_FAIL("dims_product_overflow", &b, SB_ERR_FORMAT, "tensor 'w': the product of its dimensions overflows");
    sb_buf_free(&b);
    tensor_image(&b, "w", 4, (uint64_t[]){1ull << 20, 1ull << 20, 1ull << 20, 1ull << 20}, SB_TYPE_F32, 0, 32);
    EXPECT_FAIL("dims4_product_overflow", &b, SB_ERR_FORMAT, "product of its dimensions overflows");
    sb_buf_free(&b);
    /* elements fit int64 but bytes do not */
    tensor_image(&b, "w", 2, (uint64_t[]){1ull << 31, 1ull << 31}, SB_TYPE_F64, 0, 32);
    EXPECT_FAIL("bytes_overflow", &b, SB_ERR_FORMAT, "tensor 'w': its byte size overflows");
    sb_buf_free(&b);
    tensor_image(&b, "w", 3, (uint64_t[]){8, 0, 2}, SB_TYPE_F32, 0, 32);
    EXPECT_FAIL("dim_zero", &b, SB_ERR_FORMAT, "tensor 'w': dimension 1 is zero");
    sb_buf_free(&b);
    tensor_image(&b, "w", 2, (uint64_t[]){1ull << 63, 1}, SB_TYPE_F32, 0, 32);
    EXPECT_FAIL("dim_negative", &b, SB_ERR_FORMAT, "tensor 'w': dimension 0 is negative (-9223372036854775808)");
    sb_buf_free(&b);
    tensor_image(&b, "w", 2, (uint64_t[]){8, UINT64_MAX}, SB_TYPE_F32, 0, 32);
    EXPECT_FAIL("dim_minus_one", &b, SB_ERR_FORMAT, "dimension 1 is negative (-1)");
    sb_buf_free(&b);
    tensor_image(&b, "w", 0, NULL, SB_TYPE_F32, 0, 32);
    EXPECT_FAIL("n_dims_0", &b, SB_ERR_FORMAT, "tensor 'w': 0 dimensions (must be 1 to 4)");
    sb_buf_free(&b);
    tensor_image(&b, "w", 5, (uint64_t[]){8, 1, 1, 1, 1}, SB_TYPE_F32, 0, 32);
    EXPECT_FAIL("n_dims_5", &b, SB_ERR_FORMAT, "tensor 'w': 5 dimensions (must be 1 to 4)");
    sb_buf_free(&b);
    tensor_image(&b, "blk.0.attn_q.weight", 1, (uint64_t[]){8}, 99, 0, 64);
    EXPECT_FAIL("type_99", &b, SB_ERR_UNSUPPORTED, "tensor 'blk.0.attn_q.weight': type 99 is unknown");
    sb_buf_free(&b);
    tensor_image(&b, "old", 1, (uint64_t[]){32}, 4, 0, 64); /* Q4_2, removed from ggml */
    EXPECT_FAIL("type_4_removed", &b, SB_ERR_UNSUPPORTED, "tensor 'old': type 4 is unknown");
    sb_buf_free(&b);
    tensor_image(&b, "w", 1, (uint64_t[]){8}, SB_TYPE_COUNT, 0, 64);
    EXPECT_FAIL("type_count", &b, SB_ERR_UNSUPPORTED, "type 40 is unknown");
    sb_buf_free(&b);
    tensor_image(&b, "q", 2, (uint64_t[]){33, 2}, SB_TYPE_Q4_0, 0, 64);
    EXPECT_FAIL("q4_0_not_block_multiple", &b, SB_ERR_FORMAT,
                "tensor 'q': first dimension 33 is not a multiple of the block size 32 of type Q4_0");
    sb_buf_free(&b);
    tensor_image(&b, "k", 1, (uint64_t[]){64}, SB_TYPE_Q4_K, 0, 256);
    EXPECT_FAIL("q4_k_not_block_multiple", &b, SB_ERR_FORMAT, "first dimension 64 is not a multiple of the block size 256 of type Q4_K");
    sb_buf_free(&b);
    /* cut inside the tensor info: each field names the tensor */
    /* (a 24-byte name, so that the count check passes and the cut is met) */
    const char *nm = "a_twenty_four_byte_name_";
    tensor_image(&b, nm, 2, (uint64_t[]){8, 2}, SB_TYPE_F32, 0, 0);
    b.len = 24 + 32 + 4 + 8 + 3;
    EXPECT_FAIL("tensor_dim_cut", &b, SB_ERR_FORMAT,
                "tensor 'a_twenty_four_byte_name_': truncated file: tensor dimension needs 8 bytes");
    b.len = 24 + 32 + 2;
    EXPECT_FAIL("tensor_ndims_cut", &b, SB_ERR_FORMAT, "tensor 'a_twenty_four_byte_name_': truncated file: tensor n_dims");
    b.len = 24 + 32 + 4 + 16 + 2;
    EXPECT_FAIL("tensor_type_cut", &b, SB_ERR_FORMAT, "truncated file: tensor type needs 4 bytes");
    b.len = 24 + 32 + 4 + 16 + 4 + 7;
    EXPECT_FAIL("tensor_offset_cut", &b, SB_ERR_FORMAT, "truncated file: tensor offset needs 8 bytes");
    sb_buf_free(&b);
    /* with tensors, the data section must start inside the file */
    sb_buf_init(&b);
    gb_header(&b, 3, 1, 0);
    gb_tensor(&b, "w", 1, (uint64_t[]){8}, SB_TYPE_F32, 0);
    EXPECT_FAIL("no_data_section", &b, SB_ERR_FORMAT, "truncated file: the data section starts at 64 but the file has 57 bytes");
    sb_buf_free(&b);
}

/* A file opened by path reports the path in its message. */
static void test_path_in_message(void) {
    sb_buf b;
    tensor_image(&b, "w", 1, (uint64_t[]){8}, 99, 0, 64);
    char path[512];
    snprintf(path, sizeof path, "%s/bad_type.gguf", sb_test_tmpdir());
    sb_error err;
    SB_CHECK(sb_file_write_atomic(path, b.data, b.len, &err) == SB_OK);
    sb_gguf *g = (sb_gguf *)1;
    SB_CHECK(sb_gguf_open(path, &g, &err) == SB_ERR_UNSUPPORTED && g == NULL);
    SB_CHECKF(strstr(err.msg, path) == err.msg && strstr(err.msg, "tensor 'w': type 99 is unknown"), "%s", err.msg);
    SB_CHECK(sb_gguf_open("/nonexistent/x.gguf", &g, &err) == SB_ERR_IO && g == NULL);
    SB_CHECKF(strstr(err.msg, "/nonexistent/x.gguf") != NULL, "%s", err.msg);
    SB_CHECK(sb_gguf_open(sb_test_tmpdir(), &g, &err) == SB_ERR_IO && g == NULL);
    sb_buf_free(&b);
}

/* ---- truncation at every offset ----------------------------------------- */

static int acceptable_truncation_message(const char *m) {
    return strstr(m, "truncated") || strstr(m, "runs past the end") || strstr(m, "can hold") ||
           strstr(m, "not a GGUF file") || strstr(m, "lies past the end");
}

/* Opens every prefix [0, n) of img for n in [from, to): each shorter than
 * min_ok must fail with SB_ERR_FORMAT and a truncation message, each at least
 * min_ok long must open. */
static void truncate_each(const char *what, const uint8_t *img, size_t from, size_t to, size_t min_ok) {
    int bad = 0;
    for (size_t n = from; n < to && bad < 5; n++) {
        uint8_t *c = exact_copy(img, n);
        sb_gguf *g;
        sb_error err;
        sb_error_clear(&err);
        sb_status st = sb_gguf_open_memory(c, n, &g, &err);
        if (n < min_ok) {
            if (st != SB_ERR_FORMAT || !acceptable_truncation_message(err.msg)) {
                SB_CHECKF(0, "%s cut at %zu: status %s, \"%s\"", what, n, sb_status_name(st), err.msg);
                bad++;
            }
        } else if (st != SB_OK) {
            SB_CHECKF(0, "%s cut at %zu (>= %zu) should open: %s", what, n, min_ok, err.msg);
            bad++;
        }
        if (st == SB_OK)
            sb_gguf_close(g);
        free(c);
    }
    SB_CHECK(bad == 0);
}

/* End of the last byte of tensor data: the shortest prefix that must open. */
static size_t min_valid_len(const uint8_t *img, size_t n) {
    sb_gguf *g;
    if (sb_gguf_open_memory(img, n, &g, NULL) != SB_OK)
        return (size_t)-1;
    size_t end = 0;
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        size_t e = (size_t)(sb_gguf_data_offset(g) + t->offset + t->size);
        if (e > end)
            end = e;
    }
    if (sb_gguf_n_tensors(g) == 0)
        end = n; /* with no tensors, every metadata byte is needed */
    sb_gguf_close(g);
    return end;
}

/* A small writer-made file with every value type and a few tensors. */
static void small_valid_file(void **out, size_t *len) {
    sb_gguf_writer *w = sb_gguf_writer_create();
    sb_error err;
    SB_CHECK(sb_gguf_writer_set_string(w, "general.architecture", "llama", 5, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_u32(w, "general.alignment", 64, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_i32(w, "i32", -5, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_u64(w, "u64", 1ull << 40, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_f32(w, "f32", 1.5f, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_set_bool(w, "bool", true, &err) == SB_OK);
    sb_gguf_value v = {.type = SB_GGUF_INT8, .v.i64 = -3};
    SB_CHECK(sb_gguf_writer_set_value(w, "i8", &v, &err) == SB_OK);
    v = (sb_gguf_value){.type = SB_GGUF_FLOAT64, .v.f64 = 2.25};
    SB_CHECK(sb_gguf_writer_set_value(w, "f64", &v, &err) == SB_OK);
    uint16_t u16s[3] = {1, 2, 65535};
    SB_CHECK(sb_gguf_writer_set_array(w, "u16s", SB_GGUF_UINT16, u16s, 3, &err) == SB_OK);
    sb_str toks[3] = {{"<s>", 3}, {"", 0}, {"h\xc3\xa9", 3}};
    SB_CHECK(sb_gguf_writer_set_string_array(w, "toks", toks, 3, &err) == SB_OK);
    uint8_t inner_raw[2] = {1, 0};
    sb_gguf_value inner[2] = {
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_BOOL, .count = 2, .raw = inner_raw}},
        {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_STRING, .count = 1, .strings = toks}},
    };
    v = (sb_gguf_value){.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_ARRAY, .count = 2, .items = inner}};
    SB_CHECK(sb_gguf_writer_set_value(w, "nested", &v, &err) == SB_OK);
    static uint8_t d1[32 * 4 * 2], d2[34 * 2], d3[6];
    fill_pattern(d1, sizeof d1, 1);
    fill_pattern(d2, sizeof d2, 2);
    fill_pattern(d3, sizeof d3, 3);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "a", SB_TYPE_F32, 2, (int64_t[]){32, 2}, d1, NULL, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "b", SB_TYPE_Q8_0, 2, (int64_t[]){32, 2}, d2, NULL, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_add_tensor(w, "c", SB_TYPE_F16, 1, (int64_t[]){3}, d3, NULL, &err) == SB_OK);
    SB_CHECK(sb_gguf_writer_write_memory(w, out, len, NULL, NULL, &err) == SB_OK);
    sb_gguf_writer_free(w);
}

static void test_truncate_small_file(void) {
    void *img;
    size_t len;
    small_valid_file(&img, &len);
    gguf_save_seed("valid_small_all_types", img, len);
    size_t min_ok = min_valid_len(img, len);
    SB_CHECK(min_ok != (size_t)-1 && min_ok <= len);
    SB_CHECK(min_ok < len); /* the last tensor (6 bytes) is followed by padding */
    truncate_each("small file", img, 0, len + 1, min_ok);
    sb_free(img);

    /* a file without tensors: every byte of its metadata counts */
    sb_buf b;
    kv_image(&b, 2);
    gb_key(&b, "x", SB_GGUF_STRING);
    gb_str(&b, "value");
    gb_key(&b, "y", SB_GGUF_ARRAY);
    gb_u32(&b, SB_GGUF_STRING);
    gb_u64(&b, 2);
    gb_str(&b, "p");
    gb_str(&b, "q");
    gguf_save_seed("valid_no_tensors", b.data, b.len);
    truncate_each("no-tensor file", (const uint8_t *)b.data, 0, b.len + 1, b.len);
    sb_buf_free(&b);
}

static void test_truncate_stories(void) {
    const char *path = sb_test_shared("models/stories260K.gguf");
    if (!path) {
        printf("stories260K.gguf absent: truncation of a real header skipped\n");
        return;
    }
    char *data;
    size_t len;
    sb_error err;
    SB_CHECK(sb_file_read_all(path, 64u << 20, &data, &len, &err) == SB_OK);
    size_t min_ok = min_valid_len((const uint8_t *)data, len);
    SB_CHECK_EQ_INT(min_ok, len);
    /* every cut inside the header region and the first tensor's data... */
    truncate_each("stories260K.gguf", (const uint8_t *)data, 0, 14176 + 64, min_ok);
    /* ...then a sample through the data section, and its last bytes */
    for (size_t n = 14176 + 64; n < len - 64; n += 4093)
        truncate_each("stories260K.gguf", (const uint8_t *)data, n, n + 1, min_ok);
    truncate_each("stories260K.gguf", (const uint8_t *)data, len - 64, len + 1, min_ok);
    sb_free(data);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--write-seeds") == 0 && i + 1 < argc)
            gguf_seed_dir = argv[++i];
    SB_RUN(test_base_images_open);
    SB_RUN(test_header);
    SB_RUN(test_absurd_counts);
    SB_RUN(test_string_lengths);
    SB_RUN(test_value_types);
    SB_RUN(test_nesting_and_counts);
    SB_RUN(test_bools);
    SB_RUN(test_duplicates_and_empty);
    SB_RUN(test_alignment);
    SB_RUN(test_tensor_infos);
    SB_RUN(test_path_in_message);
    SB_RUN(test_truncate_small_file);
    SB_RUN(test_truncate_stories);
    return sb_test_finish();
}
