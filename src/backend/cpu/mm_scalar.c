/*
 * mm_scalar.c - the scalar kernel set: works on every CPU and is the
 * reference the SIMD sets are tested against. Tiles on packed weights
 * rebuild each row's GGUF block and add exactly the contribution the
 * reference row dot (dot_ref.c) adds, so packed and unpacked results are
 * bit-identical here.
 */
#include "mm_kernels.h"
#include "quant_ref.h"

#include "sb_half.h"

/* Generic scalar tile: acc[t][r] += block dot, block by block. */
static void tile_scalar(int pk, const sb_mm_tile *t) {
    union {
        sb_block_q8_0 q8_0;
        sb_block_q4_0 q4_0;
        sb_block_q4_K q4_K;
        sb_block_q5_K q5_K;
        sb_block_q6_K q6_K;
        sb_block_q5_0 q5_0;
        sb_block_q5_1 q5_1;
        sb_block_q4_1 q4_1;
    } blk;
    for (int64_t b = 0; b < t->nb; b++) {
        for (int r = 0; r < SB_MM_ROWS; r++) {
            sb_pk_unpack_block(pk, t->w, b, r, &blk);
            for (int k = 0; k < t->nt; k++) {
                const void *x = t->x + (size_t)k * t->x_tstride + (size_t)b * t->x_bstride;
                float c = 0.0f;
                switch (pk) {
                case SB_PK_Q8_0:
                    c = sb_ref_dot_block_q8_0(&blk.q8_0, x);
                    break;
                case SB_PK_Q4_0:
                    c = sb_ref_dot_block_q4_0(&blk.q4_0, x);
                    break;
                case SB_PK_Q4_K:
                    c = sb_ref_dot_block_q4_K(&blk.q4_K, x);
                    break;
                case SB_PK_Q5_K:
                    c = sb_ref_dot_block_q5_K(&blk.q5_K, x);
                    break;
                case SB_PK_Q6_K:
                    c = sb_ref_dot_block_q6_K(&blk.q6_K, x);
                    break;
                case SB_PK_Q5_0:
                    c = sb_ref_dot_block_q5_0(&blk.q5_0, x);
                    break;
                case SB_PK_Q5_1:
                    c = sb_ref_dot_block_q5_1(&blk.q5_1, x);
                    break;
                case SB_PK_Q4_1:
                    c = sb_ref_dot_block_q4_1(&blk.q4_1, x);
                    break;
                default:
                    break;
                }
                t->acc[k * SB_MM_ROWS + r] += c;
            }
        }
    }
}

static void tile_q8_0(const sb_mm_tile *t) { tile_scalar(SB_PK_Q8_0, t); }
static void tile_q4_0(const sb_mm_tile *t) { tile_scalar(SB_PK_Q4_0, t); }
static void tile_q4_K(const sb_mm_tile *t) { tile_scalar(SB_PK_Q4_K, t); }
static void tile_q5_K(const sb_mm_tile *t) { tile_scalar(SB_PK_Q5_K, t); }
static void tile_q6_K(const sb_mm_tile *t) { tile_scalar(SB_PK_Q6_K, t); }
static void tile_q5_0(const sb_mm_tile *t) { tile_scalar(SB_PK_Q5_0, t); }
static void tile_q5_1(const sb_mm_tile *t) { tile_scalar(SB_PK_Q5_1, t); }
static void tile_q4_1(const sb_mm_tile *t) { tile_scalar(SB_PK_Q4_1, t); }

/* Writes or adds one dense result. */
static inline void put(const sb_mm_dense *d, int t, int64_t r, float v) {
    float *y = d->y + (size_t)t * d->y_stride + r;
    *y = d->accumulate ? *y + v : v;
}

static void dense_f32(const sb_mm_dense *d) {
    for (int64_t r = 0; r < d->rows; r++)
        for (int t = 0; t < d->nt; t++)
            put(d, t, r,
                sb_ref_dot_f32((const float *)(d->w + (size_t)r * d->w_stride),
                               (const float *)(d->x + (size_t)t * d->x_stride), d->cols));
}

static void dense_f16(const sb_mm_dense *d) {
    for (int64_t r = 0; r < d->rows; r++)
        for (int t = 0; t < d->nt; t++)
            put(d, t, r,
                sb_ref_dot_f16((const uint16_t *)(d->w + (size_t)r * d->w_stride),
                               (const float *)(d->x + (size_t)t * d->x_stride), d->cols));
}

static void dense_bf16(const sb_mm_dense *d) {
    for (int64_t r = 0; r < d->rows; r++)
        for (int t = 0; t < d->nt; t++)
            put(d, t, r,
                sb_ref_dot_bf16((const uint16_t *)(d->w + (size_t)r * d->w_stride),
                                (const uint16_t *)(d->x + (size_t)t * d->x_stride), d->cols));
}

static const sb_mm_kernels scalar_kernels = {
    .name = "scalar",
    .tile = {tile_q8_0, tile_q4_0, tile_q4_K, tile_q5_K, tile_q6_K, tile_q5_0, tile_q5_1, tile_q4_1},
    .q8_0_offset = 0,
    .q4_0_offset = 0,
    .q5_0_offset = 0,
    .dense_f32 = dense_f32,
    .dense_f16 = dense_f16,
    .dense_bf16 = dense_bf16,
    .act_q8_0 = sb_ref_act_q8_0,
    .act_q8_K = sb_ref_act_q8_K,
    .act_f16 = sb_ref_act_f16,
    .act_bf16 = sb_ref_act_bf16,
};

const sb_mm_kernels *sb_mm_kernels_scalar(void) { return &scalar_kernels; }

const sb_mm_kernels *sb_mm_kernels_for(sb_cpu_isa isa) {
    switch (isa) {
    case SB_ISA_SCALAR:
        return &scalar_kernels;
#if defined(__x86_64__)
    case SB_ISA_AVX2:
        return sb_mm_kernels_avx2();
    case SB_ISA_AVX512:
        return sb_mm_kernels_avx512(sb_cpu_features_get());
#endif
#if defined(__aarch64__)
    case SB_ISA_NEON:
        return sb_mm_kernels_neon(sb_cpu_features_get());
#endif
    default:
        return NULL;
    }
}
