/*
 * mm_tables.c - the SIMD kernel sets, assembled from the kernels in the
 * ISA-specific files. This file is compiled for the baseline ISA: it only
 * picks pointers, so nothing here can fault on a CPU without the ISA.
 */
#include "mm_kernels.h"

#if defined(__x86_64__)
/* AVX-512 (act_avx512.c, mm_*_avx512.c) */
void sb_act_q8_0_avx512(const float *x, sb_act_q8_0 *y, int64_t n, int offset);
void sb_act_q8_K_avx512(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype);
void sb_act_f16_avx512(const float *x, float *y, int64_t n);
void sb_act_bf16_avx512(const float *x, uint16_t *y, int64_t n);
void sb_mm_tile_q8_0_avx512(const sb_mm_tile *t);
void sb_mm_tile_q4_0_avx512(const sb_mm_tile *t);
void sb_mm_tile_q4_K_avx512(const sb_mm_tile *t);
void sb_mm_tile_q5_K_avx512(const sb_mm_tile *t);
void sb_mm_tile_q6_K_avx512(const sb_mm_tile *t);
void sb_mm_tile_q5_0_avx512(const sb_mm_tile *t);
void sb_mm_tile_q5_1_avx512(const sb_mm_tile *t);
void sb_mm_tile_q4_1_avx512(const sb_mm_tile *t);
void sb_mm_dense_f32_avx512(const sb_mm_dense *d);
void sb_mm_dense_f16_avx512(const sb_mm_dense *d);
void sb_mm_dense_bf16_avx512(const sb_mm_dense *d);
void sb_mm_dense_bf16dp_avx512(const sb_mm_dense *d);

/* AVX2 (act_avx2.c, mm_*_avx2.c) */
void sb_act_q8_0_avx2(const float *x, sb_act_q8_0 *y, int64_t n, int offset);
void sb_act_q8_K_avx2(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype);
void sb_act_f16_avx2(const float *x, float *y, int64_t n);
void sb_act_bf16_avx2(const float *x, uint16_t *y, int64_t n);
void sb_mm_tile_q8_0_avx2(const sb_mm_tile *t);
void sb_mm_tile_q4_0_avx2(const sb_mm_tile *t);
void sb_mm_tile_q4_K_avx2(const sb_mm_tile *t);
void sb_mm_tile_q5_K_avx2(const sb_mm_tile *t);
void sb_mm_tile_q6_K_avx2(const sb_mm_tile *t);
void sb_mm_tile_q5_0_avx2(const sb_mm_tile *t);
void sb_mm_tile_q5_1_avx2(const sb_mm_tile *t);
void sb_mm_tile_q4_1_avx2(const sb_mm_tile *t);
void sb_mm_dense_f32_avx2(const sb_mm_dense *d);
void sb_mm_dense_f16_avx2(const sb_mm_dense *d);
void sb_mm_dense_bf16_avx2(const sb_mm_dense *d);

static const sb_mm_kernels k_avx2 = {
    .name = "avx2",
    .tile = {sb_mm_tile_q8_0_avx2, sb_mm_tile_q4_0_avx2, sb_mm_tile_q4_K_avx2, sb_mm_tile_q5_K_avx2,
             sb_mm_tile_q6_K_avx2, sb_mm_tile_q5_0_avx2, sb_mm_tile_q5_1_avx2,
                 sb_mm_tile_q4_1_avx2},
    .q8_0_offset = 0,
    .q4_0_offset = 8,
    .q5_0_offset = 16,
    .dense_f32 = sb_mm_dense_f32_avx2,
    .dense_f16 = sb_mm_dense_f16_avx2,
    .dense_bf16 = sb_mm_dense_bf16_avx2,
    .act_q8_0 = sb_act_q8_0_avx2,
    .act_q8_K = sb_act_q8_K_avx2,
    .act_f16 = sb_act_f16_avx2,
    .act_bf16 = sb_act_bf16_avx2,
};

const sb_mm_kernels *sb_mm_kernels_avx2(void) { return &k_avx2; }

/* With VNNI: the AVX-512 int8 tiles; BF16 weights use vdpbf16ps when the
 * CPU has AVX512_BF16. Without VNNI the int8 tiles of the AVX2 set are used. */
const sb_mm_kernels *sb_mm_kernels_avx512(const sb_cpu_features *f) {
    static const sb_mm_kernels k_vnni_bf16 = {
        .name = "avx512-vnni-bf16",
        .tile = {sb_mm_tile_q8_0_avx512, sb_mm_tile_q4_0_avx512, sb_mm_tile_q4_K_avx512, sb_mm_tile_q5_K_avx512,
                 sb_mm_tile_q6_K_avx512, sb_mm_tile_q5_0_avx512, sb_mm_tile_q5_1_avx512,
                 sb_mm_tile_q4_1_avx512},
        .q8_0_offset = 128,
        .q4_0_offset = 8,
        .q5_0_offset = 16,
        .dense_f32 = sb_mm_dense_f32_avx512,
        .dense_f16 = sb_mm_dense_f16_avx512,
        .dense_bf16 = sb_mm_dense_bf16dp_avx512,
        .act_q8_0 = sb_act_q8_0_avx512,
        .act_q8_K = sb_act_q8_K_avx512,
        .act_f16 = sb_act_f16_avx512,
        .act_bf16 = sb_act_bf16_avx512,
    };
    static const sb_mm_kernels k_vnni = {
        .name = "avx512-vnni",
        .tile = {sb_mm_tile_q8_0_avx512, sb_mm_tile_q4_0_avx512, sb_mm_tile_q4_K_avx512, sb_mm_tile_q5_K_avx512,
                 sb_mm_tile_q6_K_avx512, sb_mm_tile_q5_0_avx512, sb_mm_tile_q5_1_avx512,
                 sb_mm_tile_q4_1_avx512},
        .q8_0_offset = 128,
        .q4_0_offset = 8,
        .q5_0_offset = 16,
        .dense_f32 = sb_mm_dense_f32_avx512,
        .dense_f16 = sb_mm_dense_f16_avx512,
        .dense_bf16 = sb_mm_dense_bf16_avx512,
        .act_q8_0 = sb_act_q8_0_avx512,
        .act_q8_K = sb_act_q8_K_avx512,
        .act_f16 = sb_act_f16_avx512,
        .act_bf16 = sb_act_bf16_avx512,
    };
    /* AVX-512 without VNNI (Skylake-X): AVX2 int8 tiles, AVX-512 dense */
    static const sb_mm_kernels k_plain = {
        .name = "avx512-novnni",
        .tile = {sb_mm_tile_q8_0_avx2, sb_mm_tile_q4_0_avx2, sb_mm_tile_q4_K_avx2, sb_mm_tile_q5_K_avx2,
                 sb_mm_tile_q6_K_avx2, sb_mm_tile_q5_0_avx2, sb_mm_tile_q5_1_avx2,
                 sb_mm_tile_q4_1_avx2},
        .q8_0_offset = 0,
        .q4_0_offset = 8,
        .q5_0_offset = 16,
        .dense_f32 = sb_mm_dense_f32_avx512,
        .dense_f16 = sb_mm_dense_f16_avx512,
        .dense_bf16 = sb_mm_dense_bf16_avx512,
        .act_q8_0 = sb_act_q8_0_avx512,
        .act_q8_K = sb_act_q8_K_avx512,
        .act_f16 = sb_act_f16_avx512,
        .act_bf16 = sb_act_bf16_avx512,
    };
    if (!f->avx512vnni)
        return &k_plain;
    return f->avx512bf16 ? &k_vnni_bf16 : &k_vnni;
}
#endif

#if defined(__aarch64__)
/* NEON (act_neon_base.c, mm_dense_neon_base.c, mm_tiles_neon[_base].c) */
void sb_act_q8_0_neon(const float *x, sb_act_q8_0 *y, int64_t n, int offset);
void sb_act_q8_K_neon(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype);
void sb_act_f16_neon(const float *x, float *y, int64_t n);
void sb_act_bf16_neon(const float *x, uint16_t *y, int64_t n);
void sb_mm_dense_f32_neon(const sb_mm_dense *d);
void sb_mm_dense_f16_neon(const sb_mm_dense *d);
void sb_mm_dense_bf16_neon(const sb_mm_dense *d);
void sb_mm_tile_q8_0_neon(const sb_mm_tile *t);
void sb_mm_tile_q4_0_neon(const sb_mm_tile *t);
void sb_mm_tile_q4_K_neon(const sb_mm_tile *t);
void sb_mm_tile_q5_K_neon(const sb_mm_tile *t);
void sb_mm_tile_q6_K_neon(const sb_mm_tile *t);
void sb_mm_tile_q5_0_neon(const sb_mm_tile *t);
void sb_mm_tile_q5_1_neon(const sb_mm_tile *t);
void sb_mm_tile_q4_1_neon(const sb_mm_tile *t);
void sb_mm_tile_q8_0_neon_dot(const sb_mm_tile *t);
void sb_mm_tile_q4_0_neon_dot(const sb_mm_tile *t);
void sb_mm_tile_q4_K_neon_dot(const sb_mm_tile *t);
void sb_mm_tile_q5_K_neon_dot(const sb_mm_tile *t);
void sb_mm_tile_q6_K_neon_dot(const sb_mm_tile *t);
void sb_mm_tile_q5_0_neon_dot(const sb_mm_tile *t);
void sb_mm_tile_q5_1_neon_dot(const sb_mm_tile *t);
void sb_mm_tile_q4_1_neon_dot(const sb_mm_tile *t);

/* With dotprod: sdot tiles; without: widening-multiply tiles. */
const sb_mm_kernels *sb_mm_kernels_neon(const sb_cpu_features *f) {
    static const sb_mm_kernels k_dot = {
        .name = "neon-dotprod",
        .tile = {sb_mm_tile_q8_0_neon_dot, sb_mm_tile_q4_0_neon_dot, sb_mm_tile_q4_K_neon_dot, sb_mm_tile_q5_K_neon_dot,
                 sb_mm_tile_q6_K_neon_dot, sb_mm_tile_q5_0_neon_dot, sb_mm_tile_q5_1_neon_dot,
                 sb_mm_tile_q4_1_neon_dot},
        .q8_0_offset = 0,
        .q4_0_offset = 8,
        .q5_0_offset = 16,
        .dense_f32 = sb_mm_dense_f32_neon,
        .dense_f16 = sb_mm_dense_f16_neon,
        .dense_bf16 = sb_mm_dense_bf16_neon,
        .act_q8_0 = sb_act_q8_0_neon,
        .act_q8_K = sb_act_q8_K_neon,
        .act_f16 = sb_act_f16_neon,
        .act_bf16 = sb_act_bf16_neon,
    };
    static const sb_mm_kernels k_base = {
        .name = "neon",
        .tile = {sb_mm_tile_q8_0_neon, sb_mm_tile_q4_0_neon, sb_mm_tile_q4_K_neon, sb_mm_tile_q5_K_neon,
                 sb_mm_tile_q6_K_neon, sb_mm_tile_q5_0_neon, sb_mm_tile_q5_1_neon,
                 sb_mm_tile_q4_1_neon},
        .q8_0_offset = 0,
        .q4_0_offset = 8,
        .q5_0_offset = 16,
        .dense_f32 = sb_mm_dense_f32_neon,
        .dense_f16 = sb_mm_dense_f16_neon,
        .dense_bf16 = sb_mm_dense_bf16_neon,
        .act_q8_0 = sb_act_q8_0_neon,
        .act_q8_K = sb_act_q8_K_neon,
        .act_f16 = sb_act_f16_neon,
        .act_bf16 = sb_act_bf16_neon,
    };
    return f->dotprod ? &k_dot : &k_base;
}
#endif
