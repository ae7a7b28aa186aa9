/*
 * mm_kernels.h - the interface between the matmul driver (cpu_matmul.c) and
 * the per-ISA kernels, and the packed weight layout they share.
 *
 * Packed layout ("x16"). Quantized weights are repacked in groups of 16 rows
 * (the last group padded with zero rows). Per block of the type (32 or 256
 * columns) a group has one group-block: the 16 rows' quants (and, for the
 * K-quants, their sub-block scales), interleaved so that one 64-byte load
 * gives 4 consecutive quant bytes of each of the 16 rows: lane r (a 32-bit
 * lane) = row r: one zmm, two ymm or four NEON registers per load; a
 * dot-product instruction then works on 16 rows at once with the
 * activation's 4 bytes broadcast. Group-blocks go in pairs, and the fp16
 * block scales of Q8_0, Q4_0, Q5_0 and Q6_K (16 x 2 bytes per block; Q4_1
 * and Q5_1: d[16] then m[16], 64 bytes) sit in front of their pair:
 * [scales b][scales b+1][quants b][quants b+1]. So a
 * thread reads one sequential stream (two streams cost ~20% of the memory
 * bandwidth of a core) and every quant load is cache-line aligned. A group
 * is ceil(nb / 2) pairs; an odd last pair is padded with a zero block.
 * Every ISA reads the same layout, so a weight packed once can be used by
 * any kernel set. The repack only moves (and for Q8_0 offsets by 128) bytes;
 * it never re-quantizes.
 *
 *   quants of one group-block                             scales in the pair
 *   Q8_0  (512 B)  q[8][16][4] u8 = qs[4k+i] + 128           d[16] fp16
 *   Q4_0  (256 B)  q[4][16][4] = qs[4k+i] (low nibble:        d[16] fp16
 *                  element 4k+i, high: 16+4k+i)
 *   Q4_1  (256 B)  as Q4_0                                   d[16] m[16] fp16
 *   Q5_0  (320 B)  hb[16][4] | q[4][16][4] as Q4_0           d[16] fp16
 *   Q5_1  (320 B)  as Q5_0                                   d[16] m[16] fp16
 *                  hb: the fifth bits, byte i of row r: bit 2k = element
 *                  4k+i, bit 2k+1 = element 16+4k+i (k = 0..3), so the
 *                  bit for the low (high) nibbles of load k is one shift
 *                  and a mask away
 *   Q4_K (2304 B)  d[16] dmin[16] fp16 | sc[3][16][4] =       -
 *                  scales[4k+i] | q[4 chunks][8][16][4] = qs[32c+4k+i]
 *   Q5_K (2816 B)  d[16] dmin[16] | sc[3][16][4] |            -
 *                  qh[8][16][4] = qh[4k+i] | q[4][8][16][4]
 *   Q6_K (3328 B)  scales[16 sub-blocks][16 rows] int8 |      d[16] fp16
 *                  [2 halves h][8 k][ql part 0, ql part 1, qh][16][4]
 *                  with ql part p = ql[64h+32p+4k+i], qh = qh[32h+4k+i]
 *                  (the order decode reads them: one sequential stream)
 *
 * F32, F16 and BF16 weights stay in GGUF row layout (dense kernels).
 */
#ifndef SB_MM_KERNELS_H
#define SB_MM_KERNELS_H

#include "cpu_matmul.h"
#include "quant_blocks.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_MM_ROWS 16 /* rows per packed group = output lanes of a tile */
#define SB_MM_NT 8    /* most tokens one tile call handles */

/* Packed formats (index into the kernel tables). */
typedef enum sb_pk {
    SB_PK_Q8_0 = 0,
    SB_PK_Q4_0,
    SB_PK_Q4_K,
    SB_PK_Q5_K,
    SB_PK_Q6_K,
    SB_PK_Q5_0,
    SB_PK_Q5_1,
    SB_PK_Q4_1,
    SB_PK_COUNT
} sb_pk;

/* The Q8_0 activation offset of the tiles of weights with a min (Q4_1,
 * Q5_1) on every ISA: their quants are unsigned already, and corr =
 * -sum(qs) is the block sum their min term needs. */
#define SB_MM_MIN_OFFSET 1

/* Weight layouts (sb_cpu_weight.layout). */
#define SB_LAYOUT_GGUF 0
#define SB_LAYOUT_X16 1

/* Activation formats. */
typedef enum sb_act_kind {
    SB_ACT_F32 = 0, /* the caller's F32 rows, unchanged (F32 weights) */
    SB_ACT_F16,     /* F16-rounded, kept as F32 */
    SB_ACT_BF16,    /* BF16 */
    SB_ACT_Q8_0,    /* sb_act_q8_0 blocks */
    SB_ACT_Q8_K,    /* sb_act_q8_K blocks */
} sb_act_kind;

/* One tile: rows of one packed group times nt tokens, over nb consecutive
 * group-blocks. acc[t * 16 + r] += dot(row r, token t) for this range. */
typedef struct sb_mm_tile {
    const uint8_t *w; /* the pair holding the first group-block (an even block) */
    int64_t nb;       /* group-blocks */
    const uint8_t *x; /* token 0's activation block matching the first group-block */
    size_t x_tstride; /* bytes between two tokens' blocks */
    size_t x_bstride; /* bytes between a token's consecutive blocks */
    int nt;           /* tokens, 1..SB_MM_NT */
    float *acc;       /* [nt][16] */
} sb_mm_tile;
typedef void (*sb_mm_tile_fn)(const sb_mm_tile *t);

/* Dense (F32/F16/BF16, row layout): y[t * y_stride + r] (+)= dot(w row r,
 * x row t) for r < rows, t < nt. */
typedef struct sb_mm_dense {
    const uint8_t *w;
    size_t w_stride; /* bytes between weight rows */
    int64_t rows, cols;
    const uint8_t *x;
    size_t x_stride; /* bytes between activation rows */
    int nt;
    float *y;
    size_t y_stride; /* floats between output rows */
    bool accumulate;
} sb_mm_dense;
typedef void (*sb_mm_dense_fn)(const sb_mm_dense *d);

/* A kernel set. Activation quantizers handle any whole-block range. */
typedef struct sb_mm_kernels {
    const char *name;
    sb_mm_tile_fn tile[SB_PK_COUNT];
    int q8_0_offset; /* corr offset the Q8_0 tile wants (sb_act_q8_0.corr) */
    int q4_0_offset;
    int q5_0_offset;
    sb_mm_dense_fn dense_f32, dense_f16, dense_bf16;
    void (*act_q8_0)(const float *x, sb_act_q8_0 *y, int64_t n, int offset);
    void (*act_q8_K)(const float *x, sb_act_q8_K *y, int64_t n, uint32_t wtype);
    void (*act_f16)(const float *x, float *y, int64_t n);
    void (*act_bf16)(const float *x, uint16_t *y, int64_t n);
} sb_mm_kernels;

/* The kernel set for an ISA given the current features, or NULL when this
 * build has none for it. */
const sb_mm_kernels *sb_mm_kernels_for(sb_cpu_isa isa);

/* Per-ISA sets (NULL where the CPU lacks what they need). */
const sb_mm_kernels *sb_mm_kernels_scalar(void);
#if defined(__x86_64__)
const sb_mm_kernels *sb_mm_kernels_avx2(void);
const sb_mm_kernels *sb_mm_kernels_avx512(const sb_cpu_features *f);
#endif
#if defined(__aarch64__)
const sb_mm_kernels *sb_mm_kernels_neon(const sb_cpu_features *f);
#endif

/* Test hook: replaces the detected features (NULL restores detection). The
 * active ISA is not re-chosen; call sb_cpu_isa_force after. */
void sb_cpu_features_override(const sb_cpu_features *f);

/* ---- packed layout helpers (mm_pack.c) ---- */

/* The packed format of a weight type, or -1 if it is not packed. */
int sb_pk_of_type(uint32_t type);
/* Bytes of one group-block's quants, and of its scales in front of the
 * pair (32 or 0). */
size_t sb_pk_main_bytes(int pk);
size_t sb_pk_scale_bytes(int pk);

/* Quants and scales of group-block b, counted from the pair at base
 * (mb = main bytes, sb = scale bytes of the format). */
static inline const uint8_t *sb_pk_gb(const uint8_t *base, int64_t b, size_t mb, size_t sb) {
    return base + (size_t)(b >> 1) * 2 * (mb + sb) + 2 * sb + (size_t)(b & 1) * mb;
}
static inline const uint16_t *sb_pk_gd(const uint8_t *base, int64_t b, size_t mb, size_t sb) {
    return (const uint16_t *)(base + (size_t)(b >> 1) * 2 * (mb + sb) + (size_t)(b & 1) * sb);
}
/* Bytes of one GGUF block of the format's type. */
size_t sb_pk_block_bytes(int pk);
/* Columns per block of a packed format (32 or 256). */
int sb_pk_block_cols(int pk);
/* Bytes of the pairs of nb group-blocks (a multiple of 64). */
size_t sb_pk_group_bytes(int pk, int64_t nb);
/* Packs group-blocks [b0, b1) (b0 even) of the 16 rows starting at `rows`
 * (GGUF layout, row_bytes apart; rows >= nvalid are padding) as pairs at
 * dst; an odd b1 - b0 pads the last pair with a zero block. */
void sb_pk_pack(int pk, const uint8_t *rows, size_t row_bytes, int nvalid, int64_t b0, int64_t b1, uint8_t *dst);
/* Rebuilds the GGUF block of row r (0..15) of group-block b of the pairs
 * at base. */
void sb_pk_unpack_block(int pk, const uint8_t *base, int64_t b, int r, void *block);

/* Activation format and row bytes for a weight type with cols columns. */
sb_act_kind sb_act_kind_of_type(uint32_t type);
size_t sb_act_row_bytes(uint32_t type, int64_t cols);

#endif
