/*
 * test_gguf_types.c - tensor type traits against the values GGUF/ggml define
 * (ggml_type ids; elements per block and bytes per block of each block
 * struct), name lookups, row sizes, and the metadata value type table.
 */
#include "sb_gguf.h"
#include "sb_tensor_type.h"
#include "sb_test.h"

#include <string.h>

typedef struct expected_type {
    uint32_t id;
    const char *name;
    uint32_t block_size;
    uint32_t type_size;
    bool quantized;
} expected_type;

/* Written out from the GGUF type table, independently of sb_tensor_type.c;
 * the comments show how each block's bytes add up. */
static const expected_type expected[] = {
    {0, "F32", 1, 4, false},
    {1, "F16", 1, 2, false},
    {2, "Q4_0", 32, 18, true},       /* d f16 + 16 nibble bytes */
    {3, "Q4_1", 32, 20, true},       /* d, m f16 + 16 */
    {6, "Q5_0", 32, 22, true},       /* d + qh[4] + 16 */
    {7, "Q5_1", 32, 24, true},       /* d, m + qh[4] + 16 */
    {8, "Q8_0", 32, 34, true},       /* d + 32 */
    {9, "Q8_1", 32, 36, true},       /* d, s + 32 */
    {10, "Q2_K", 256, 84, true},     /* scales[16] + qs[64] + d, dmin */
    {11, "Q3_K", 256, 110, true},    /* hmask[32] + qs[64] + scales[12] + d */
    {12, "Q4_K", 256, 144, true},    /* d, dmin + scales[12] + qs[128] */
    {13, "Q5_K", 256, 176, true},    /* d, dmin + scales[12] + qh[32] + qs[128] */
    {14, "Q6_K", 256, 210, true},    /* ql[128] + qh[64] + scales[16] + d */
    {15, "Q8_K", 256, 292, true},    /* d f32 + qs[256] + bsums[16] i16 */
    {16, "IQ2_XXS", 256, 66, true},  /* d + qs[32] u16 */
    {17, "IQ2_XS", 256, 74, true},   /* d + qs[32] u16 + scales[8] */
    {18, "IQ3_XXS", 256, 98, true},  /* d + qs[96] */
    {19, "IQ1_S", 256, 50, true},    /* d + qs[32] + qh[8] u16 */
    {20, "IQ4_NL", 32, 18, true},    /* d + qs[16] */
    {21, "IQ3_S", 256, 110, true},   /* d + qs[64] + qh[8] + signs[32] + scales[4] */
    {22, "IQ2_S", 256, 82, true},    /* d + qs[64] + qh[8] + scales[8] */
    {23, "IQ4_XS", 256, 136, true},  /* d + scales_h u16 + scales_l[4] + qs[128] */
    {24, "I8", 1, 1, false},
    {25, "I16", 1, 2, false},
    {26, "I32", 1, 4, false},
    {27, "I64", 1, 8, false},
    {28, "F64", 1, 8, false},
    {29, "IQ1_M", 256, 56, true},    /* qs[32] + qh[16] + scales[8] */
    {30, "BF16", 1, 2, false},
    {34, "TQ1_0", 256, 54, true},    /* qs[48] + qh[4] + d */
    {35, "TQ2_0", 256, 66, true},    /* qs[64] + d */
    {39, "MXFP4", 32, 17, true},     /* e + qs[16] */
};
#define N_EXPECTED (sizeof expected / sizeof expected[0])

/* Ids ggml retired or never used: 4, 5 (Q4_2, Q4_3), 31-33 (Q4_0_4_4,
 * Q4_0_4_8, Q4_0_8_8), 36-38 (IQ4_NL_4_4 ... ) — files must be refused. */
static const uint32_t unknown_ids[] = {4, 5, 31, 32, 33, 36, 37, 38, 40, 41, 255, 1000, UINT32_MAX};

static void test_traits(void) {
    for (size_t i = 0; i < N_EXPECTED; i++) {
        const expected_type *e = &expected[i];
        const sb_type_traits *t = sb_type_traits_of(e->id);
        SB_CHECKF(t != NULL, "type %u (%s) has no traits", e->id, e->name);
        if (!t)
            continue;
        SB_CHECK_STR(t->name, e->name);
        SB_CHECKF(t->block_size == e->block_size, "%s block size %u, want %u", e->name, t->block_size, e->block_size);
        SB_CHECKF(t->type_size == e->type_size, "%s type size %u, want %u", e->name, t->type_size, e->type_size);
        SB_CHECKF(t->quantized == e->quantized, "%s quantized flag", e->name);
        SB_CHECK_STR(sb_type_name(e->id), e->name);
    }
    /* every id below SB_TYPE_COUNT is either in the table or unknown */
    int known = 0;
    for (uint32_t id = 0; id < SB_TYPE_COUNT + 5; id++)
        if (sb_type_traits_of(id))
            known++;
    SB_CHECK_EQ_INT(known, N_EXPECTED);
    for (size_t i = 0; i < sizeof unknown_ids / sizeof unknown_ids[0]; i++) {
        SB_CHECK(sb_type_traits_of(unknown_ids[i]) == NULL);
        SB_CHECK_STR(sb_type_name(unknown_ids[i]), "unknown");
    }
    /* the enum matches the ids */
    SB_CHECK_EQ_INT(SB_TYPE_Q4_K, 12);
    SB_CHECK_EQ_INT(SB_TYPE_IQ4_XS, 23);
    SB_CHECK_EQ_INT(SB_TYPE_BF16, 30);
    SB_CHECK_EQ_INT(SB_TYPE_MXFP4, 39);
}

static void test_names(void) {
    for (size_t i = 0; i < N_EXPECTED; i++) {
        SB_CHECK_EQ_INT(sb_type_from_name(expected[i].name), expected[i].id);
        char lower[16];
        size_t n = strlen(expected[i].name);
        for (size_t j = 0; j <= n; j++)
            lower[j] = (char)(expected[i].name[j] >= 'A' && expected[i].name[j] <= 'Z' ? expected[i].name[j] + 32
                                                                                         : expected[i].name[j]);
        SB_CHECK_EQ_INT(sb_type_from_name(lower), expected[i].id);
        SB_CHECK_EQ_INT(sb_type_from_name(sb_type_name(expected[i].id)), expected[i].id);
    }
    SB_CHECK_EQ_INT(sb_type_from_name(""), -1);
    SB_CHECK_EQ_INT(sb_type_from_name("Q4"), -1);
    SB_CHECK_EQ_INT(sb_type_from_name("Q4_K_M"), -1);
    SB_CHECK_EQ_INT(sb_type_from_name("unknown"), -1);
}

static void test_row_size(void) {
    uint64_t b;
    SB_CHECK(sb_type_row_size(SB_TYPE_F32, 7, &b) && b == 28);
    SB_CHECK(sb_type_row_size(SB_TYPE_Q4_0, 64, &b) && b == 36);
    SB_CHECK(sb_type_row_size(SB_TYPE_Q4_K, 4096, &b) && b == 16 * 144);
    SB_CHECK(sb_type_row_size(SB_TYPE_IQ4_XS, 512, &b) && b == 272);
    SB_CHECK(sb_type_row_size(SB_TYPE_MXFP4, 32, &b) && b == 17);
    SB_CHECK(sb_type_row_size(SB_TYPE_Q8_0, 0, &b) && b == 0);
    SB_CHECK(!sb_type_row_size(SB_TYPE_Q4_0, 33, &b));
    SB_CHECK(!sb_type_row_size(SB_TYPE_Q6_K, 128, &b));
    SB_CHECK(!sb_type_row_size(4, 32, &b));
    SB_CHECK(!sb_type_row_size(SB_TYPE_COUNT, 32, &b));
    /* 2^55 blocks of 144 bytes fit; 2^56 - 1 blocks of 292 bytes do not */
    SB_CHECK(sb_type_row_size(SB_TYPE_Q4_K, (uint64_t)1 << 63, &b) && b == ((uint64_t)1 << 55) * 144);
    SB_CHECK(!sb_type_row_size(SB_TYPE_Q8_K, UINT64_MAX - 255, &b));
    SB_CHECK(!sb_type_row_size(SB_TYPE_F64, UINT64_MAX, &b));
    SB_CHECK(sb_type_row_size(SB_TYPE_I8, UINT64_MAX, &b) && b == UINT64_MAX);
}

/* llama-quantize's substitutes for rows a type's block does not divide. */
static void test_type_for_row(void) {
    SB_CHECK_EQ_INT(sb_type_for_row(SB_TYPE_Q4_K, 2048), SB_TYPE_Q4_K);
    SB_CHECK_EQ_INT(sb_type_for_row(SB_TYPE_Q4_K, 896), SB_TYPE_Q5_0);
    SB_CHECK_EQ_INT(sb_type_for_row(SB_TYPE_Q5_K, 896), SB_TYPE_Q5_1);
    SB_CHECK_EQ_INT(sb_type_for_row(SB_TYPE_Q6_K, 896), SB_TYPE_Q8_0);
    SB_CHECK_EQ_INT(sb_type_for_row(SB_TYPE_Q4_K, 100), SB_TYPE_F16);
    SB_CHECK_EQ_INT(sb_type_for_row(SB_TYPE_Q4_0, 100), SB_TYPE_F16);
    SB_CHECK_EQ_INT(sb_type_for_row(SB_TYPE_F16, 7), SB_TYPE_F16);
}

static void test_value_types(void) {
    static const struct { sb_gguf_type t; size_t size; const char *name; } v[] = {
        {SB_GGUF_UINT8, 1, "u8"},   {SB_GGUF_INT8, 1, "i8"},     {SB_GGUF_UINT16, 2, "u16"},
        {SB_GGUF_INT16, 2, "i16"},  {SB_GGUF_UINT32, 4, "u32"},  {SB_GGUF_INT32, 4, "i32"},
        {SB_GGUF_FLOAT32, 4, "f32"}, {SB_GGUF_BOOL, 1, "bool"},  {SB_GGUF_STRING, 0, "str"},
        {SB_GGUF_ARRAY, 0, "arr"},  {SB_GGUF_UINT64, 8, "u64"},  {SB_GGUF_INT64, 8, "i64"},
        {SB_GGUF_FLOAT64, 8, "f64"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        SB_CHECK_EQ_INT(v[i].t, i); /* ids 0..12 as GGUF numbers them */
        SB_CHECK_EQ_INT(sb_gguf_type_size(v[i].t), v[i].size);
        SB_CHECK_STR(sb_gguf_type_name(v[i].t), v[i].name);
    }
    SB_CHECK_EQ_INT(SB_GGUF_TYPE_COUNT, 13);
    SB_CHECK_STR(sb_gguf_type_name(SB_GGUF_TYPE_COUNT), "unknown");
    SB_CHECK_STR(sb_gguf_type_name((sb_gguf_type)-1), "unknown");
    SB_CHECK_EQ_INT(sb_gguf_type_size(SB_GGUF_TYPE_COUNT), 0);
}

int main(void) {
    SB_RUN(test_traits);
    SB_RUN(test_names);
    SB_RUN(test_row_size);
    SB_RUN(test_type_for_row);
    SB_RUN(test_value_types);
    return sb_test_finish();
}
