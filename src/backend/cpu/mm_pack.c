/*
 * mm_pack.c - the x16 packed weight layout (described in mm_kernels.h):
 * packing GGUF rows into pairs of group-blocks and rebuilding GGUF blocks
 * from them.
 * Packing only moves bytes (Q8_0 quants are offset by 128 to make them
 * unsigned); unpack(pack(x)) == x byte for byte.
 */
#include "mm_kernels.h"

#include "sb_tensor_type.h"

#include <string.h>

int sb_pk_of_type(uint32_t type) {
    switch (type) {
    case SB_TYPE_Q8_0:
        return SB_PK_Q8_0;
    case SB_TYPE_Q4_0:
        return SB_PK_Q4_0;
    case SB_TYPE_Q4_K:
        return SB_PK_Q4_K;
    case SB_TYPE_Q5_K:
        return SB_PK_Q5_K;
    case SB_TYPE_Q6_K:
        return SB_PK_Q6_K;
    case SB_TYPE_Q5_0:
        return SB_PK_Q5_0;
    case SB_TYPE_Q5_1:
        return SB_PK_Q5_1;
    case SB_TYPE_Q4_1:
        return SB_PK_Q4_1;
    default:
        return -1;
    }
}

size_t sb_pk_block_bytes(int pk) {
    static const size_t bytes[SB_PK_COUNT] = {sizeof(sb_block_q8_0), sizeof(sb_block_q4_0), sizeof(sb_block_q4_K),
                                              sizeof(sb_block_q5_K), sizeof(sb_block_q6_K), sizeof(sb_block_q5_0),
                                              sizeof(sb_block_q5_1), sizeof(sb_block_q4_1)};
    return bytes[pk];
}

size_t sb_pk_scale_bytes(int pk) {
    switch (pk) {
    case SB_PK_Q4_K:
    case SB_PK_Q5_K:
        return 0;
    case SB_PK_Q5_1:
    case SB_PK_Q4_1:
        return 4 * SB_MM_ROWS; /* d[16], m[16] */
    default:
        return 2 * SB_MM_ROWS;
    }
}

size_t sb_pk_main_bytes(int pk) { return SB_MM_ROWS * sb_pk_block_bytes(pk) - sb_pk_scale_bytes(pk); }

int sb_pk_block_cols(int pk) { return pk == SB_PK_Q4_K || pk == SB_PK_Q5_K || pk == SB_PK_Q6_K ? SB_QK_K : 32; }

size_t sb_pk_group_bytes(int pk, int64_t nb) {
    return (size_t)((nb + 1) / 2) * 2 * (sb_pk_main_bytes(pk) + sb_pk_scale_bytes(pk));
}

/* Copies 4-byte groups: dst[k * stride + 4r .. +3] = src_r[off + 4k .. 4k+3]
 * for k < nk (stride 64 packs the groups densely), as 32-bit words (the hot
 * loop of repacking at load and of packing on the fly); xor_mask is applied
 * to every byte. */
static void interleave4s(uint8_t *dst, size_t stride, const uint8_t *const src[SB_MM_ROWS], size_t off, int nk,
                         uint8_t xor_mask) {
    const uint32_t x = 0x01010101u * xor_mask;
    for (int r = 0; r < SB_MM_ROWS; r++) {
        const uint8_t *s = src[r] + off;
        uint8_t *d = dst + 4 * r;
        for (int k = 0; k < nk; k++) {
            uint32_t v;
            memcpy(&v, s + 4 * k, 4);
            v ^= x;
            memcpy(d + (size_t)k * stride, &v, 4);
        }
    }
}

static void interleave4(uint8_t *dst, const uint8_t *const src[SB_MM_ROWS], size_t off, int nk, uint8_t xor_mask) {
    interleave4s(dst, 4 * SB_MM_ROWS, src, off, nk, xor_mask);
}

/* Inverse of interleave4s for one row. */
static void deinterleave4s(uint8_t *dst, const uint8_t *src, size_t stride, int r, int nk, uint8_t xor_mask) {
    for (int k = 0; k < nk; k++)
        for (int i = 0; i < 4; i++)
            dst[4 * k + i] = src[(size_t)k * stride + 4 * (size_t)r + i] ^ xor_mask;
}

static void deinterleave4(uint8_t *dst, const uint8_t *src, int r, int nk, uint8_t xor_mask) {
    deinterleave4s(dst, src, 4 * SB_MM_ROWS, r, nk, xor_mask);
}

/* Element e of a Q5 block has its fifth bit at bit e % 8 of qh[e / 8], and
 * in the packed hb (mm_kernels.h) at bit 2k + half of byte i, where
 * e = 16 * half + 4k + i. These two move the bits between the layouts. */
static void hb_of_qh(const uint8_t qh[4], uint8_t hb[4]) {
    memset(hb, 0, 4);
    for (int e = 0; e < SB_QK4_0; e++) {
        const int i = e % 4, k = (e % 16) / 4, half = e / 16;
        hb[i] |= (uint8_t)(((qh[e / 8] >> (e % 8)) & 1) << (2 * k + half));
    }
}

static void qh_of_hb(const uint8_t hb[4], uint8_t qh[4]) {
    memset(qh, 0, 4);
    for (int e = 0; e < SB_QK4_0; e++) {
        const int i = e % 4, k = (e % 16) / 4, half = e / 16;
        qh[e / 8] |= (uint8_t)(((hb[i] >> (2 * k + half)) & 1) << (e % 8));
    }
}

/* Where the fields of a Q5_0, Q5_1 or Q4_1 block are (d leads each one);
 * 0 for a field the type lacks. */
typedef struct legacy_fields {
    size_t m, qh, qs;
} legacy_fields;

static legacy_fields legacy_fields_of(int pk) {
    switch (pk) {
    case SB_PK_Q5_0:
        return (legacy_fields){0, offsetof(sb_block_q5_0, qh), offsetof(sb_block_q5_0, qs)};
    case SB_PK_Q5_1:
        return (legacy_fields){offsetof(sb_block_q5_1, m), offsetof(sb_block_q5_1, qh), offsetof(sb_block_q5_1, qs)};
    default:
        return (legacy_fields){offsetof(sb_block_q4_1, m), 0, offsetof(sb_block_q4_1, qs)};
    }
}

/* Packs the 32-element blocks with a fifth bit or a min (Q5_0, Q5_1,
 * Q4_1): d (and m) in front of the pair, hb, then the nibbles as Q4_0. */
static void pack_legacy(int pk, const uint8_t *const b[SB_MM_ROWS], uint8_t *dst, uint8_t *dsc) {
    const legacy_fields f = legacy_fields_of(pk);
    for (int r = 0; r < SB_MM_ROWS; r++) {
        memcpy(dsc + 2 * r, b[r], 2);
        if (f.m)
            memcpy(dsc + 32 + 2 * r, b[r] + f.m, 2);
        if (f.qh)
            hb_of_qh(b[r] + f.qh, dst + 4 * r);
    }
    interleave4(dst + (f.qh ? 64 : 0), b, f.qs, 4, 0);
}

/* Inverse of pack_legacy for row r. */
static void unpack_legacy(int pk, const uint8_t *gb, const uint16_t *d, int r, uint8_t *o) {
    const legacy_fields f = legacy_fields_of(pk);
    memcpy(o, d + r, 2);
    if (f.m)
        memcpy(o + f.m, d + SB_MM_ROWS + r, 2);
    if (f.qh)
        qh_of_hb(gb + 4 * r, o + f.qh);
    deinterleave4(o + f.qs, gb + (f.qh ? 64 : 0), r, 4, 0);
}

/* Packs one group-block from the 16 rows' blocks (NULL = padding row). */
static void pack_gb(int pk, const uint8_t *const blk[SB_MM_ROWS], uint8_t *dst, uint8_t *dsc) {
    static const uint8_t zero[sizeof(sb_block_q6_K)]; /* the largest block */
    const uint8_t *b[SB_MM_ROWS];
    for (int r = 0; r < SB_MM_ROWS; r++)
        b[r] = blk[r] ? blk[r] : zero;
    switch (pk) {
    case SB_PK_Q8_0:
        for (int r = 0; r < SB_MM_ROWS; r++)
            memcpy(dsc + 2 * r, b[r] + offsetof(sb_block_q8_0, d), 2);
        interleave4(dst, b, offsetof(sb_block_q8_0, qs), 8, 0x80);
        break;
    case SB_PK_Q4_0:
        for (int r = 0; r < SB_MM_ROWS; r++)
            memcpy(dsc + 2 * r, b[r] + offsetof(sb_block_q4_0, d), 2);
        interleave4(dst, b, offsetof(sb_block_q4_0, qs), 4, 0);
        break;
    case SB_PK_Q4_K:
    case SB_PK_Q5_K: {
        const bool q5 = pk == SB_PK_Q5_K;
        for (int r = 0; r < SB_MM_ROWS; r++) {
            memcpy(dst + 2 * r, b[r] + offsetof(sb_block_q4_K, d), 2);
            memcpy(dst + 32 + 2 * r, b[r] + offsetof(sb_block_q4_K, dmin), 2);
        }
        interleave4(dst + 64, b, offsetof(sb_block_q4_K, scales), 3, 0);
        uint8_t *q = dst + 64 + 192;
        if (q5) {
            interleave4(q, b, offsetof(sb_block_q5_K, qh), 8, 0);
            q += 512;
        }
        const size_t qs_off = q5 ? offsetof(sb_block_q5_K, qs) : offsetof(sb_block_q4_K, qs);
        for (int c = 0; c < 4; c++)
            interleave4(q + c * 512, b, qs_off + 32 * c, 8, 0);
        break;
    }
    case SB_PK_Q6_K:
        for (int r = 0; r < SB_MM_ROWS; r++) {
            memcpy(dsc + 2 * r, b[r] + offsetof(sb_block_q6_K, d), 2);
            for (int j = 0; j < 16; j++)
                dst[j * SB_MM_ROWS + r] = b[r][offsetof(sb_block_q6_K, scales) + j];
        }
        /* per half h and k: [ql part 0][ql part 1][qh], 64 bytes each, in the
         * order the decode kernel reads them */
        for (int h = 0; h < 2; h++) {
            for (int p = 0; p < 2; p++)
                interleave4s(dst + 256 + h * 1536 + p * 64, 192, b, offsetof(sb_block_q6_K, ql) + 64 * h + 32 * p, 8,
                             0);
            interleave4s(dst + 256 + h * 1536 + 128, 192, b, offsetof(sb_block_q6_K, qh) + 32 * h, 8, 0);
        }
        break;
    case SB_PK_Q5_0:
    case SB_PK_Q5_1:
    case SB_PK_Q4_1:
        pack_legacy(pk, b, dst, dsc);
        break;
    default:
        break;
    }
}

void sb_pk_pack(int pk, const uint8_t *rows, size_t row_bytes, int nvalid, int64_t b0, int64_t b1, uint8_t *dst) {
    const size_t bb = sb_pk_block_bytes(pk), mb = sb_pk_main_bytes(pk), sb = sb_pk_scale_bytes(pk);
    const uint8_t *blk[SB_MM_ROWS];
    const int64_t end = b0 + ((b1 - b0 + 1) & ~(int64_t)1); /* whole pairs */
    for (int64_t b = b0; b < end; b++) {
        for (int r = 0; r < SB_MM_ROWS; r++)
            blk[r] = r < nvalid && b < b1 ? rows + (size_t)r * row_bytes + (size_t)b * bb : NULL;
        uint8_t *q = (uint8_t *)sb_pk_gb(dst, b - b0, mb, sb);
        pack_gb(pk, blk, q, sb ? (uint8_t *)sb_pk_gd(dst, b - b0, mb, sb) : NULL);
    }
}

void sb_pk_unpack_block(int pk, const uint8_t *base, int64_t b, int r, void *block) {
    const size_t mb = sb_pk_main_bytes(pk), sb = sb_pk_scale_bytes(pk);
    const uint8_t *gb = sb_pk_gb(base, b, mb, sb);
    const uint16_t *d = sb_pk_gd(base, b, mb, sb);
    uint8_t *o = block;
    switch (pk) {
    case SB_PK_Q8_0:
        memcpy(o + offsetof(sb_block_q8_0, d), d + r, 2);
        deinterleave4(o + offsetof(sb_block_q8_0, qs), gb, r, 8, 0x80);
        break;
    case SB_PK_Q4_0:
        memcpy(o + offsetof(sb_block_q4_0, d), d + r, 2);
        deinterleave4(o + offsetof(sb_block_q4_0, qs), gb, r, 4, 0);
        break;
    case SB_PK_Q4_K:
    case SB_PK_Q5_K: {
        const bool q5 = pk == SB_PK_Q5_K;
        memcpy(o + offsetof(sb_block_q4_K, d), gb + 2 * r, 2);
        memcpy(o + offsetof(sb_block_q4_K, dmin), gb + 32 + 2 * r, 2);
        deinterleave4(o + offsetof(sb_block_q4_K, scales), gb + 64, r, 3, 0);
        const uint8_t *q = gb + 64 + 192;
        if (q5) {
            deinterleave4(o + offsetof(sb_block_q5_K, qh), q, r, 8, 0);
            q += 512;
        }
        const size_t qs_off = q5 ? offsetof(sb_block_q5_K, qs) : offsetof(sb_block_q4_K, qs);
        for (int c = 0; c < 4; c++)
            deinterleave4(o + qs_off + 32 * c, q + c * 512, r, 8, 0);
        break;
    }
    case SB_PK_Q6_K:
        memcpy(o + offsetof(sb_block_q6_K, d), d + r, 2);
        for (int j = 0; j < 16; j++)
            o[offsetof(sb_block_q6_K, scales) + j] = gb[j * SB_MM_ROWS + r];
        for (int h = 0; h < 2; h++) {
            for (int p = 0; p < 2; p++)
                deinterleave4s(o + offsetof(sb_block_q6_K, ql) + 64 * h + 32 * p, gb + 256 + h * 1536 + p * 64, 192, r,
                               8, 0);
            deinterleave4s(o + offsetof(sb_block_q6_K, qh) + 32 * h, gb + 256 + h * 1536 + 128, 192, r, 8, 0);
        }
        break;
    case SB_PK_Q5_0:
    case SB_PK_Q5_1:
    case SB_PK_Q4_1:
        unpack_legacy(pk, gb, d, r, o);
        break;
    default:
        break;
    }
}

sb_act_kind sb_act_kind_of_type(uint32_t type) {
    switch (type) {
    case SB_TYPE_F16:
        return SB_ACT_F16;
    case SB_TYPE_BF16:
        return SB_ACT_BF16;
    case SB_TYPE_Q8_0:
    case SB_TYPE_Q4_0:
    case SB_TYPE_Q5_0:
    case SB_TYPE_Q5_1:
    case SB_TYPE_Q4_1:
        return SB_ACT_Q8_0;
    case SB_TYPE_Q4_K:
    case SB_TYPE_Q5_K:
    case SB_TYPE_Q6_K:
        return SB_ACT_Q8_K;
    default:
        return SB_ACT_F32;
    }
}

size_t sb_act_row_bytes(uint32_t type, int64_t cols) {
    switch (sb_act_kind_of_type(type)) {
    case SB_ACT_F16:
        return (size_t)cols * sizeof(float);
    case SB_ACT_BF16:
        return (size_t)cols * sizeof(uint16_t);
    case SB_ACT_Q8_0:
        return (size_t)(cols / SB_QK8_0) * sizeof(sb_act_q8_0);
    case SB_ACT_Q8_K:
        return (size_t)(cols / SB_QK_K) * sizeof(sb_act_q8_K);
    default:
        return (size_t)cols * sizeof(float);
    }
}
