/*
 * mm_driver.c - runs one matmul call on the pool: quantizes the activations
 * once, then splits the output rows of every weight of the call over the
 * threads and calls the active kernel set's tiles (packed weights), the
 * on-the-fly packer (GGUF-layout quantized weights) or the dense kernels
 * (F32/F16/BF16).
 *
 * No job waits for all threads at once (a worker the OS deschedules must
 * not stall the call): the activations of a batch are quantized by one
 * chunked job (for a single token every thread quantizes the row itself,
 * on its stack), and the rows by a second one whose nth "tickets" each own
 * a contiguous range of 16-row groups. Whoever holds a ticket walks its
 * range front to back a piece at a time (one sequential stream, as decode
 * needs; pieces of up to 1 MB of weights that shrink as the range runs
 * out). A thread whose range is empty takes the upper half of the fullest
 * other range as its own range and walks that the same way, until no range
 * is left. A late or descheduled thread thus delays the call by at most the
 * piece it is working on, and the threads finish together.
 *
 * A call may carry several weights that multiply the same activations
 * (q, k and v; gate and up): one wake-up of the pool, the activations
 * quantized once per distinct format, and the rows of all of them
 * balanced over the threads together.
 */
#include "mm_driver.h"

#include "sb_tensor_type.h"

#include <stdatomic.h>
#include <string.h>

/* Prefill walks the tokens in chunks whose quantized activations stay in L2
 * (about SB_MM_ACT_L2_BYTES) while every row group of the thread passes over
 * them; each chunk streams the weights from memory once, so bigger chunks
 * mean fewer passes over the weights. */
#define SB_MM_TOKEN_CHUNK_MAX 256
#define SB_MM_ACT_L2_BYTES (512 * 1024)
/* Weight bytes of one group walked by all tiles of a token chunk before
 * moving on (prefill): they stay in L1 beside one tile's activations. */
#define SB_MM_L1_WEIGHT_BYTES 16384
/* Decode: weight bytes prefetched at the start of a thread's range. */
#define SB_MM_DECODE_RAMP_BYTES 16384
/* Decode activations each thread quantizes for itself, on its stack. */
#define SB_MM_PRIVATE_ACT_BYTES 32768
/* Stack room for repacking GGUF-layout group-blocks on the fly. */
#define SB_MM_ONTHEFLY_BYTES 16384
/* Weight bytes a thread takes at a time for one or two tokens. Every new
 * piece costs the stream about a memory latency on Zen 4: in the fast
 * memory regime (2 threads, TinyLlama-shaped Q8_0 decode, tokens paired with
 * a bandwidth read, variants alternating token by token) 32 KB pieces
 * reached 81.5% of the read bandwidth, 256 KB 85-87%, 512 KB 87.6%, 1 MB
 * 87-89%, 2 and 4 MB no more. Pieces are large while a range is long and
 * shrink as it runs out (take()), so the threads still finish within a
 * group or two of each other. With more tokens one 16-row group is already
 * plenty of work. */
#define SB_MM_PIECE_BYTES (1024 * 1024)
/* A piece is at most this fraction (1/n) of what is left of its range. */
#define SB_MM_PIECE_SHARE 4
/* Tickets (contiguous row ranges) of one call: one per thread, up to this. */
#define SB_MM_MAX_TICKETS 64
/* Chunks of a batch's activation quantization job, per thread. */
#define SB_MM_QUANT_CHUNKS_PER_THREAD 2

/* One activation format of a call and its rows in scratch. Quantized
 * blocks (Q8_0, Q8_K) are stored tile by tile: the tokens are taken W at a
 * time (W = min(n, SB_MM_NT), the width of a kernel tile) and within a tile
 * the W tokens' blocks of one column block are adjacent, so a tile reads
 * one sequential stream of activations. F16/BF16 values are token rows. */
typedef struct mm_act {
    sb_act_kind kind;
    uint32_t wtype; /* Q8_K: the type whose extras are filled (Q6_K: corr) */
    int offset;     /* Q8_0: corr offset */
    size_t at;      /* where its rows start in the scratch (or private buffer) */
    uint8_t *buf;   /* the rows: that buffer + at */
    int64_t w;         /* tokens per tile (1 for token rows) */
    size_t ab;         /* bytes per block (per token row for F16/BF16) */
    int64_t nb;        /* blocks per token (1 for F16/BF16) */
    size_t tile_bytes; /* bytes per tile of w tokens, a multiple of 64 */
} mm_act;

/* One weight of a call. */
typedef struct mm_job {
    const sb_cpu_weight *w;
    float *y;
    int act;       /* index into acts, -1 for F32 weights (x used as is) */
    int pk;        /* packed format, -1 for dense types */
    int64_t units; /* 16-row groups */
    int64_t unit0; /* first unit in the call's numbering */
} mm_job;

/* Everything one matmul call shares between its threads (read-only while
 * the rows run). */
typedef struct mm_ctx {
    const sb_mm_kernels *k;
    const float *x;
    const sb_mm_pre *pre; /* one token: x is transformed as it is quantized (NULL: used as is) */
    float pre_state[SB_MM_PRE_STATE]; /* pre's row-wide values, made once by whoever quantizes */
    int64_t n, cols;
    bool accumulate;
    mm_job jobs[SB_MM_MULTI_MAX];
    int njobs;
    mm_act acts[SB_MM_MULTI_MAX];
    int nacts;
    int64_t units;
} mm_ctx;

/* A ticket's range of units, [front, back) packed in one word (front in
 * the low 32 bits), alone on its cache line: the ticket's holder advances
 * front, a thief lowers back to take the upper half, both by
 * compare-and-swap (see steal_half for the one plain store). */
typedef struct mm_range {
    _Alignas(64) atomic_uint_fast64_t fb;
} mm_range;

/* The word of range [f, b), and its two ends. */
static inline uint_fast64_t range_word(int64_t f, int64_t b) { return ((uint_fast64_t)b << 32) | (uint_fast64_t)f; }
static inline int64_t range_front(uint_fast64_t v) { return (int64_t)(v & 0xFFFFFFFFu); }
static inline int64_t range_back(uint_fast64_t v) { return (int64_t)(v >> 32); }

/* The row job of a call: the tickets' ranges and how to run them. */
typedef struct mm_sched {
    const mm_ctx *c;
    bool private_act; /* single token: each ticket quantizes the row itself */
    int64_t piece;    /* units taken at a time */
    int ntickets;
    long qchunks; /* chunks of the quantization job */
    mm_range ranges[SB_MM_MAX_TICKETS];
} mm_sched;

/* The layout of type's activations for n tokens of cols values. */
static void act_layout(mm_act *a, uint32_t type, int64_t cols, int64_t n) {
    const sb_act_kind kind = sb_act_kind_of_type(type);
    if (kind == SB_ACT_Q8_0 || kind == SB_ACT_Q8_K) {
        a->ab = kind == SB_ACT_Q8_0 ? sizeof(sb_act_q8_0) : sizeof(sb_act_q8_K);
        a->nb = cols / (kind == SB_ACT_Q8_0 ? SB_QK8_0 : SB_QK_K);
        a->w = n < SB_MM_NT ? n : SB_MM_NT;
    } else {
        a->ab = sb_act_row_bytes(type, cols);
        a->nb = 1;
        a->w = 1;
    }
    a->tile_bytes = ((size_t)a->w * (size_t)a->nb * a->ab + 63) & ~(size_t)63;
}

/* Bytes of n tokens' activations in that layout. */
static size_t act_bytes(const mm_act *a, int64_t n) { return (size_t)((n + a->w - 1) / a->w) * a->tile_bytes; }

/* Address of block b of token t. */
static inline uint8_t *act_at(const mm_act *a, int64_t t, int64_t b) {
    return a->buf + (size_t)(t / a->w) * a->tile_bytes + ((size_t)b * (size_t)a->w + (size_t)(t % a->w)) * a->ab;
}

/* Floats of the transformed row made at a time (a multiple of every block size). */
#define SB_MM_PRE_RUN 512

/* quantize_share for one token whose row is pre(x) (c->pre_state
 * prepared): part ith of nth of the blocks, made SB_MM_PRE_RUN values at a
 * time in a stack buffer and quantized from there. The act functions work
 * block by block (elementwise for F16/BF16), so the bits are those of
 * quantizing the stored row. */
static void quantize_pre_share(const mm_ctx *c, const mm_act *a, int ith, int nth) {
    const int64_t bs = a->kind == SB_ACT_Q8_0 ? SB_QK8_0 : a->kind == SB_ACT_Q8_K ? SB_QK_K : 64;
    const int64_t nb = (c->cols + bs - 1) / bs, run = SB_MM_PRE_RUN / bs;
    long u0, u1;
    sb_split_range((long)nb, ith, nth, 1, &u0, &u1);
    if (u0 >= u1)
        return;
    _Alignas(64) float buf[SB_MM_PRE_RUN];
    for (int64_t b0 = u0; b0 < u1; b0 += run) {
        const int64_t b1 = b0 + run < u1 ? b0 + run : u1;
        const int64_t e0 = b0 * bs, e1 = b1 * bs < c->cols ? b1 * bs : c->cols;
        c->pre->apply(c->pre->ctx, c->x, e0, e1 - e0, c->pre_state, buf);
        switch (a->kind) {
        case SB_ACT_Q8_0: c->k->act_q8_0(buf, (sb_act_q8_0 *)act_at(a, 0, b0), e1 - e0, a->offset); break;
        case SB_ACT_Q8_K: c->k->act_q8_K(buf, (sb_act_q8_K *)act_at(a, 0, b0), e1 - e0, a->wtype); break;
        case SB_ACT_F16: c->k->act_f16(buf, (float *)act_at(a, 0, 0) + e0, e1 - e0); break;
        case SB_ACT_BF16: c->k->act_bf16(buf, (uint16_t *)act_at(a, 0, 0) + e0, e1 - e0); break;
        default: break;
        }
    }
}

/* Quantizes this thread's share of the (token, block) units of one format.
 * Runs of blocks are quantized into a stack buffer and then put in their
 * tile slots (in place when a tile holds one token). */
static void quantize_share(const mm_ctx *c, const mm_act *a, int ith, int nth) {
    if (c->pre) {
        quantize_pre_share(c, a, ith, nth);
        return;
    }
    const int64_t bs = a->kind == SB_ACT_Q8_0 ? SB_QK8_0 : a->kind == SB_ACT_Q8_K ? SB_QK_K : 64;
    const int64_t nb = (c->cols + bs - 1) / bs; /* F16/BF16: units of up to 64 elements */
    long u0, u1;
    sb_split_range((long)(c->n * nb), ith, nth, 1, &u0, &u1);
    _Alignas(64) uint8_t tmp[16 * sizeof(sb_act_q8_K)];
    for (long u = u0; u < u1;) {
        const int64_t t = u / nb, b0 = u % nb;
        int64_t b1 = (t + 1) * nb <= u1 ? nb : b0 + (u1 - u);
        const float *x = c->x + t * c->cols + b0 * bs;
        switch (a->kind) {
        case SB_ACT_Q8_0:
        case SB_ACT_Q8_K: {
            const int64_t run = (int64_t)(sizeof tmp / a->ab);
            if (a->w > 1 && b1 - b0 > run)
                b1 = b0 + run;
            uint8_t *dst = a->w == 1 ? act_at(a, t, b0) : tmp;
            if (a->kind == SB_ACT_Q8_0)
                c->k->act_q8_0(x, (sb_act_q8_0 *)dst, (b1 - b0) * bs, a->offset);
            else
                c->k->act_q8_K(x, (sb_act_q8_K *)dst, (b1 - b0) * bs, a->wtype);
            if (a->w > 1 && a->ab == sizeof(sb_act_q8_0)) /* a fixed size: copied inline, not by a call */
                for (int64_t b = b0; b < b1; b++)
                    memcpy(act_at(a, t, b), tmp + (size_t)(b - b0) * sizeof(sb_act_q8_0), sizeof(sb_act_q8_0));
            else if (a->w > 1)
                for (int64_t b = b0; b < b1; b++)
                    memcpy(act_at(a, t, b), tmp + (size_t)(b - b0) * a->ab, a->ab);
            break;
        }
        case SB_ACT_F16: {
            const int64_t e0 = b0 * bs, e1 = b1 * bs < c->cols ? b1 * bs : c->cols;
            c->k->act_f16(x, (float *)act_at(a, t, 0) + e0, e1 - e0);
            break;
        }
        case SB_ACT_BF16: {
            const int64_t e0 = b0 * bs, e1 = b1 * bs < c->cols ? b1 * bs : c->cols;
            c->k->act_bf16(x, (uint16_t *)act_at(a, t, 0) + e0, e1 - e0);
            break;
        }
        default:
            break;
        }
        u += b1 - b0;
    }
}

/* Tokens per prefill chunk for activations of this format: a multiple of
 * the tile width, 8..SB_MM_TOKEN_CHUNK_MAX. */
static int64_t token_chunk(const mm_act *a) {
    int64_t t = (int64_t)(SB_MM_ACT_L2_BYTES / ((size_t)a->nb * a->ab)) / SB_MM_NT * SB_MM_NT;
    if (t < SB_MM_NT)
        t = SB_MM_NT;
    return t > SB_MM_TOKEN_CHUNK_MAX ? SB_MM_TOKEN_CHUNK_MAX : t;
}

/* Where the result of token t for row r of job j goes (y is [n][rows]). */
static inline float *result_at(const mm_job *j, int64_t t, int64_t r) { return j->y + t * j->w->rows + r; }

/* Stores 16 rows x nt tokens of results (only rows < w->rows). */
static void store_tile(const mm_ctx *c, const mm_job *j, int64_t r0, int64_t t0, int nt, const float *acc) {
    const int64_t rows = j->w->rows;
    const int nr = rows - r0 < SB_MM_ROWS ? (int)(rows - r0) : SB_MM_ROWS;
    for (int t = 0; t < nt; t++) {
        float *y = result_at(j, t0 + t, r0);
        const float *a = acc + t * SB_MM_ROWS;
        if (c->accumulate && nr == SB_MM_ROWS) { /* a fixed size, through a copy: vector adds */
            float sum[SB_MM_ROWS];
            memcpy(sum, y, sizeof sum);
            for (int r = 0; r < SB_MM_ROWS; r++)
                sum[r] += a[r];
            memcpy(y, sum, sizeof sum);
        } else if (c->accumulate)
            for (int r = 0; r < nr; r++)
                y[r] += a[r];
        else if (nr == SB_MM_ROWS) /* a fixed size: copied inline, not by a call */
            memcpy(y, a, SB_MM_ROWS * sizeof(float));
        else
            memcpy(y, a, (size_t)nr * sizeof(float));
    }
}

/* Packed weights: groups [g0, g1) times all tokens. With more than one tile
 * of tokens, a group is walked in column chunks of about 16 KB of weights,
 * which stay in L1 while every tile of the token chunk passes over them. */
static void run_packed(const mm_ctx *c, const mm_job *j, int64_t g0, int64_t g1, bool stream_start) {
    const sb_cpu_weight *w = j->w;
    const int pk = j->pk;
    const mm_act *a = &c->acts[j->act];
    const int64_t nb = w->cols / sb_pk_block_cols(pk);
    const size_t mb = sb_pk_main_bytes(pk), sbytes = sb_pk_scale_bytes(pk);
    const size_t gbytes = sb_pk_group_bytes(pk, nb);
    const sb_mm_tile_fn fn = c->k->tile[pk];
    /* column chunks of whole pairs */
    int64_t kc = c->n > SB_MM_NT ? (int64_t)(SB_MM_L1_WEIGHT_BYTES / (2 * (mb + sbytes))) * 2 : nb;
    if (kc < 2)
        kc = 2;
    const int64_t chunk = token_chunk(a);
    if (c->n <= 2 && stream_start) {
        /* decode: start this thread's weight stream at once (the hardware
         * prefetchers then keep ahead of the tiles) */
        const uint8_t *p = (const uint8_t *)w->packed + (size_t)g0 * gbytes;
        const size_t range = (size_t)(g1 - g0) * gbytes;
        for (size_t o = 0; o < SB_MM_DECODE_RAMP_BYTES && o < range; o += 64)
            __builtin_prefetch(p + o, 0, 2);
    }
    _Alignas(64) float acc[SB_MM_TOKEN_CHUNK_MAX * SB_MM_ROWS];
    for (int64_t tc = 0; tc < c->n; tc += chunk) {
        const int64_t tc1 = tc + chunk < c->n ? tc + chunk : c->n;
        for (int64_t g = g0; g < g1; g++) {
            const uint8_t *gp = (const uint8_t *)w->packed + (size_t)g * gbytes;
            memset(acc, 0, (size_t)(tc1 - tc) * SB_MM_ROWS * sizeof(float));
            for (int64_t b0 = 0; b0 < nb; b0 += kc) {
                const int64_t b1 = b0 + kc < nb ? b0 + kc : nb;
                /* While the tiles work on this column chunk (from L1), fetch the
                 * next one (this group's or the next group's first) a slice per
                 * tile: the first tile of a chunk would otherwise wait for
                 * 16 KB from memory (~10% of Q8_0 prefill). */
                const uint8_t *next = b1 < nb ? gp + (size_t)(b1 / 2) * 2 * (mb + sbytes) : gp + gbytes;
                const size_t next_bytes = b1 < nb ? (size_t)((b1 + kc < nb ? kc : nb - b1) + 1) / 2 * 2 * (mb + sbytes)
                                                  : (g + 1 < g1 ? (size_t)(kc + 1) / 2 * 2 * (mb + sbytes) : 0);
                const int64_t ntiles = (tc1 - tc + SB_MM_NT - 1) / SB_MM_NT;
                const size_t slice = ((next_bytes / (size_t)ntiles) + 63) & ~(size_t)63;
                size_t pf = 0;
                for (int64_t t = tc; t < tc1; t += SB_MM_NT) {
                    const int nt = tc1 - t < SB_MM_NT ? (int)(tc1 - t) : SB_MM_NT;
                    if (c->n > SB_MM_NT) {
                        for (size_t e = pf + slice < next_bytes ? pf + slice : next_bytes; pf < e; pf += 64)
                            __builtin_prefetch(next + pf, 0, 3);
                        if (b0 == 0) /* the tile's result lines, long before they are written */
                            for (int k = 0; k < nt; k++)
                                __builtin_prefetch(result_at(j, t + k, g * SB_MM_ROWS), 1, 3);
                    }
                    const sb_mm_tile tile = {gp + (size_t)(b0 / 2) * 2 * (mb + sbytes),
                                             b1 - b0,
                                             act_at(a, t, b0),
                                             a->ab,
                                             a->ab * (size_t)a->w,
                                             nt,
                                             acc + (t - tc) * SB_MM_ROWS};
                    fn(&tile);
                }
            }
            for (int64_t t = tc; t < tc1; t += SB_MM_NT) {
                const int nt = tc1 - t < SB_MM_NT ? (int)(tc1 - t) : SB_MM_NT;
                store_tile(c, j, g * SB_MM_ROWS, t, nt, acc + (t - tc) * SB_MM_ROWS);
            }
        }
    }
}

/* GGUF-layout quantized weights: each 16-row group is packed on the fly,
 * a few group-blocks at a time, into a stack buffer. Much slower than
 * packing at load (about 6 GB/s of weights per core against the bandwidth
 * limit) but needs no extra memory. */
static void run_onthefly(const mm_ctx *c, const mm_job *j, int64_t g0, int64_t g1) {
    const sb_cpu_weight *w = j->w;
    const int pk = j->pk;
    const mm_act *a = &c->acts[j->act];
    const int64_t nb = w->cols / sb_pk_block_cols(pk);
    const size_t mb = sb_pk_main_bytes(pk), sbytes = sb_pk_scale_bytes(pk);
    const size_t row_bytes = (size_t)nb * sb_pk_block_bytes(pk);
    int64_t chunk = (int64_t)(SB_MM_ONTHEFLY_BYTES / (2 * (mb + sbytes))) * 2; /* whole pairs */
    if (chunk < 2)
        chunk = 2;
    _Alignas(64) uint8_t buf[SB_MM_ONTHEFLY_BYTES];
    const int64_t tchunk = token_chunk(a);
    _Alignas(64) float acc[SB_MM_TOKEN_CHUNK_MAX * SB_MM_ROWS];
    for (int64_t tc = 0; tc < c->n; tc += tchunk) {
        const int64_t tc1 = tc + tchunk < c->n ? tc + tchunk : c->n;
        for (int64_t g = g0; g < g1; g++) {
            const int64_t r0 = g * SB_MM_ROWS;
            const int nvalid = w->rows - r0 < SB_MM_ROWS ? (int)(w->rows - r0) : SB_MM_ROWS;
            memset(acc, 0, (size_t)(tc1 - tc) * SB_MM_ROWS * sizeof(float));
            for (int64_t b0 = 0; b0 < nb; b0 += chunk) {
                const int64_t b1 = b0 + chunk < nb ? b0 + chunk : nb;
                sb_pk_pack(pk, (const uint8_t *)w->data + (size_t)r0 * row_bytes, row_bytes, nvalid, b0, b1, buf);
                for (int64_t t = tc; t < tc1; t += SB_MM_NT) {
                    const int nt = tc1 - t < SB_MM_NT ? (int)(tc1 - t) : SB_MM_NT;
                    const sb_mm_tile tile = {
                        buf, b1 - b0, act_at(a, t, b0), a->ab, a->ab * (size_t)a->w, nt, acc + (t - tc) * SB_MM_ROWS};
                    c->k->tile[pk](&tile);
                }
            }
            for (int64_t t = tc; t < tc1; t += SB_MM_NT) {
                const int nt = tc1 - t < SB_MM_NT ? (int)(tc1 - t) : SB_MM_NT;
                store_tile(c, j, r0, t, nt, acc + (t - tc) * SB_MM_ROWS);
            }
        }
    }
}

/* F32/F16/BF16 rows [r0, r1) times all tokens, tokens in tiles. */
static void run_dense(const mm_ctx *c, const mm_job *j, int64_t r0, int64_t r1, bool stream_start) {
    const sb_cpu_weight *w = j->w;
    uint64_t row_bytes = 0;
    sb_type_row_size(w->type, (uint64_t)w->cols, &row_bytes);
    const sb_mm_dense_fn fn = w->type == SB_TYPE_F32   ? c->k->dense_f32
                              : w->type == SB_TYPE_F16 ? c->k->dense_f16
                                                       : c->k->dense_bf16;
    if (c->n <= 2 && stream_start) /* decode: start this thread's weight stream at once */
        for (size_t o = 0; o < SB_MM_DECODE_RAMP_BYTES && o < (size_t)(r1 - r0) * row_bytes; o += 64)
            __builtin_prefetch((const uint8_t *)w->data + (size_t)r0 * row_bytes + o, 0, 2);
    const mm_act *a = j->act >= 0 ? &c->acts[j->act] : NULL;
    const uint8_t *x = a ? a->buf : (const uint8_t *)c->x;
    const size_t xs = a ? a->tile_bytes : (size_t)w->cols * sizeof(float);
    for (int64_t t = 0; t < c->n; t += SB_MM_NT) {
        const int nt = c->n - t < SB_MM_NT ? (int)(c->n - t) : SB_MM_NT;
        const sb_mm_dense d = {(const uint8_t *)w->data + (size_t)r0 * row_bytes,
                               (size_t)row_bytes,
                               r1 - r0,
                               w->cols,
                               x + (size_t)t * xs,
                               xs,
                               nt,
                               result_at(j, t, r0),
                               (size_t)w->rows,
                               c->accumulate};
        fn(&d);
    }
}

/* Units [u0, u1) of the call's numbering: the row groups of every weight
 * they cover. stream_start: not the continuation of the previous piece. */
static void run_units(const mm_ctx *c, int64_t u0, int64_t u1, bool stream_start) {
    for (int i = 0; i < c->njobs; i++) {
        const mm_job *j = &c->jobs[i];
        const int64_t g0 = u0 > j->unit0 ? u0 - j->unit0 : 0;
        const int64_t g1 = u1 - j->unit0 < j->units ? u1 - j->unit0 : j->units;
        if (g1 <= g0)
            continue;
        if (j->pk < 0) {
            const int64_t r1 = g1 * SB_MM_ROWS < j->w->rows ? g1 * SB_MM_ROWS : j->w->rows;
            run_dense(c, j, g0 * SB_MM_ROWS, r1, stream_start);
        } else if (j->w->layout == SB_LAYOUT_X16) {
            run_packed(c, j, g0, g1, stream_start);
        } else {
            run_onthefly(c, j, g0, g1);
        }
    }
}

/* Takes up to `piece` units, and at most 1/SB_MM_PIECE_SHARE of what is
 * left (at least one), from the front of range r; false when it is empty. */
static bool take(mm_range *r, int64_t piece, int64_t *u0, int64_t *u1) {
    uint_fast64_t v = atomic_load_explicit(&r->fb, memory_order_relaxed);
    for (;;) {
        const int64_t f = range_front(v), b = range_back(v);
        if (f >= b)
            return false;
        const int64_t share = (b - f + SB_MM_PIECE_SHARE - 1) / SB_MM_PIECE_SHARE;
        const int64_t nf = f + (piece < share ? piece : share);
        const uint_fast64_t nv = range_word(nf, b);
        if (atomic_compare_exchange_weak_explicit(&r->fb, &v, nv, memory_order_acq_rel, memory_order_relaxed)) {
            *u0 = f;
            *u1 = nf;
            return true;
        }
    }
}

/* Moves the upper half of the fullest range other than t (all of it when
 * one unit is left) into range t, which is empty; false when every range
 * is empty. The thief then walks what it took front to back as one stream,
 * and the others can still split it in turn. Taking pieces from the back
 * instead started a new stream for each piece, each costing the thief about
 * a memory latency and the prefetchers' ramp: in the fast memory regime
 * (two threads; tokens paired with a bandwidth read, the two rules
 * alternating token by token) decode gained 1-3 points of the read
 * bandwidth for Q4_0, 3-4.5 for Q4_K_M and about 1 for Q8_0. */
static bool steal_half(mm_sched *s, int t) {
    for (;;) {
        int victim = -1;
        int64_t most = 0;
        uint_fast64_t v = 0;
        for (int k = 1; k < s->ntickets; k++) {
            const int i = (t + k) % s->ntickets;
            const uint_fast64_t x = atomic_load_explicit(&s->ranges[i].fb, memory_order_relaxed);
            const int64_t left = range_back(x) - range_front(x);
            if (left > most) {
                most = left;
                victim = i;
                v = x;
            }
        }
        if (victim < 0)
            return false;
        const int64_t f = range_front(v), b = range_back(v);
        const int64_t m = f + most / 2; /* the owner keeps [f, m) */
        const uint_fast64_t kept = range_word(f, m);
        if (atomic_compare_exchange_weak_explicit(&s->ranges[victim].fb, &v, kept, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            /* range t is empty, so nobody else writes it: a plain store publishes [m, b) */
            atomic_store_explicit(&s->ranges[t].fb, range_word(m, b), memory_order_release);
            return true;
        }
    }
}

/* Ticket t with the activations of c: its own range front to back, then
 * halves of the others' (steal_half) until none is left. */
static void run_ticket(mm_sched *s, const mm_ctx *c, int t) {
    int64_t u0, u1, last = -1;
    do {
        while (take(&s->ranges[t], s->piece, &u0, &u1)) {
            run_units(c, u0, u1, u0 != last);
            last = u1;
        }
    } while (steal_half(s, t));
}

/* The row job: chunk = ticket. For a single token each ticket first
 * quantizes the activation row into its own stack buffer (a few
 * microseconds of duplicated work, and no wait between quantizing and
 * multiplying). */
static void mm_rows_chunk(void *arg, long chunk, int ith) {
    (void)ith;
    mm_sched *s = arg;
    if (!s->private_act) {
        run_ticket(s, s->c, (int)chunk);
        return;
    }
    _Alignas(64) uint8_t priv[SB_MM_PRIVATE_ACT_BYTES];
    mm_ctx local;
    memcpy(&local, s->c, sizeof local);
    if (local.pre) /* once for all the call's formats */
        local.pre->prepare(local.pre->ctx, local.x, local.cols, local.pre_state);
    for (int i = 0; i < local.nacts; i++) {
        local.acts[i].buf = priv + local.acts[i].at;
        quantize_share(&local, &local.acts[i], 0, 1);
    }
    run_ticket(s, &local, (int)chunk);
}

/* The quantization job of a batch: part `chunk` of qchunks, every format. */
static void mm_quant_chunk(void *arg, long chunk, int ith) {
    (void)ith;
    const mm_sched *s = arg;
    for (int i = 0; i < s->c->nacts; i++)
        quantize_share(s->c, &s->c->acts[i], (int)chunk, (int)s->qchunks);
}

/* The corr offset (sb_act_q8_0) the kernel set's tile for a weight type
 * with Q8_0 activations wants. */
static int act_offset(const sb_mm_kernels *k, uint32_t type) {
    switch (type) {
    case SB_TYPE_Q8_0:
        return k->q8_0_offset;
    case SB_TYPE_Q4_0:
        return k->q4_0_offset;
    case SB_TYPE_Q5_0:
        return k->q5_0_offset;
    default: /* Q4_1, Q5_1 */
        return SB_MM_MIN_OFFSET;
    }
}

/* The activation buffer a weight reads, shared with an earlier weight of
 * the call when the format is the same. A new buffer is placed at byte
 * *next of the scratch, and *next moves past it. */
static int act_for(mm_ctx *c, const sb_cpu_weight *w, size_t *next) {
    const sb_act_kind kind = sb_act_kind_of_type(w->type);
    if (kind == SB_ACT_F32)
        return -1;
    const int offset = kind != SB_ACT_Q8_0 ? 0 : act_offset(c->k, w->type);
    for (int i = 0; i < c->nacts; i++)
        if (c->acts[i].kind == kind && c->acts[i].offset == offset) {
            if (w->type == SB_TYPE_Q6_K)
                c->acts[i].wtype = SB_TYPE_Q6_K; /* the Q6_K extras serve every K-quant */
            return i;
        }
    mm_act *a = &c->acts[c->nacts];
    a->kind = kind;
    a->wtype = w->type;
    a->offset = offset;
    act_layout(a, w->type, w->cols, c->n);
    a->at = *next;
    *next += act_bytes(a, c->n);
    return c->nacts++;
}

/* The activation formats of a call of ws on n tokens, as sb_mm_run lays
 * them out; returns the scratch bytes they take. */
static size_t plan_acts(mm_ctx *c, const sb_cpu_weight *const *ws, int nw, int64_t n) {
    memset(c, 0, sizeof *c);
    c->k = sb_mm_kernels_for(sb_cpu_isa_active());
    if (!c->k)
        c->k = sb_mm_kernels_scalar();
    c->n = n;
    c->cols = ws[0]->cols;
    size_t next = 0;
    for (int i = 0; i < nw; i++) {
        mm_job *j = &c->jobs[c->njobs++];
        j->w = ws[i];
        j->pk = sb_pk_of_type(ws[i]->type);
        j->act = act_for(c, ws[i], &next);
        j->units = (ws[i]->rows + SB_MM_ROWS - 1) / SB_MM_ROWS;
        j->unit0 = c->units;
        c->units += j->units;
    }
    return next;
}

/* Weights of one call that share a format share its activations, so a
 * fused call (q, k, v) needs no more scratch than its widest format. */
size_t sb_mm_scratch_size(const sb_cpu_weight *const *ws, int nw, int64_t n) {
    if (n <= 0 || nw <= 0 || nw > SB_MM_MULTI_MAX)
        return 64;
    mm_ctx c;
    for (int i = 1; i < nw; i++)
        if (ws[i]->cols != ws[0]->cols) { /* sb_mm_run refuses the call; size it as separate ones */
            size_t total = 64;
            for (int k = 0; k < nw; k++)
                total += plan_acts(&c, &ws[k], 1, n);
            return total;
        }
    return 64 + plan_acts(&c, ws, nw, n);
}

/* A transform fuses into a call of one token whose every weight reads
 * quantized or converted activations (an F32 weight reads x itself). */
bool sb_mm_pre_fuses(const sb_cpu_weight *const *ws, int nw, int64_t n) {
    if (n != 1 || nw <= 0 || nw > SB_MM_MULTI_MAX)
        return false;
    for (int i = 0; i < nw; i++)
        if (ws[i]->cols != ws[0]->cols || sb_act_kind_of_type(ws[i]->type) == SB_ACT_F32)
            return false;
    return true;
}

static void mm_run(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const sb_mm_pre *pre, const float *x,
                   int64_t n, float *const *ys, bool accumulate, void *scratch);

void sb_mm_run(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const float *x, int64_t n, float *const *ys,
               bool accumulate, void *scratch) {
    mm_run(pool, ws, nw, NULL, x, n, ys, accumulate, scratch);
}

void sb_mm_run_pre(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const sb_mm_pre *pre, const float *x,
                   int64_t n, float *const *ys, bool accumulate, void *scratch) {
    if (pre && sb_mm_pre_fuses(ws, nw, n))
        mm_run(pool, ws, nw, pre, x, n, ys, accumulate, scratch);
}

static void mm_run(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const sb_mm_pre *pre, const float *x,
                   int64_t n, float *const *ys, bool accumulate, void *scratch) {
    if (n <= 0 || nw <= 0 || nw > SB_MM_MULTI_MAX)
        return;
    for (int i = 1; i < nw; i++)
        if (ws[i]->cols != ws[0]->cols)
            return; /* a caller bug (documented): nothing is computed */
    mm_ctx c;
    const size_t act_need = plan_acts(&c, ws, nw, n);
    c.x = x;
    c.pre = pre;
    c.accumulate = accumulate;
    for (int i = 0; i < nw; i++)
        c.jobs[i].y = ys[i];
    for (int i = 0; i < c.nacts; i++)
        c.acts[i].buf = (uint8_t *)scratch + c.acts[i].at;
    const int nth = pool ? sb_threadpool_size(pool) : 1;
    mm_sched sc;
    sc.c = &c;
    sc.ntickets = nth < SB_MM_MAX_TICKETS ? nth : SB_MM_MAX_TICKETS;
    if ((int64_t)sc.ntickets > c.units)
        sc.ntickets = (int)c.units;
    /* one or two tokens: pieces of ~SB_MM_PIECE_BYTES of weights */
    size_t unit_bytes = 0;
    for (int i = 0; i < c.njobs; i++) {
        uint64_t rb = 0;
        sb_type_row_size(c.jobs[i].w->type, (uint64_t)c.cols, &rb);
        if ((size_t)rb * SB_MM_ROWS > unit_bytes)
            unit_bytes = (size_t)rb * SB_MM_ROWS;
    }
    sc.piece = n <= 2 && unit_bytes > 0 && unit_bytes < SB_MM_PIECE_BYTES ? (int64_t)(SB_MM_PIECE_BYTES / unit_bytes)
                                                                           : 1;
    for (int t = 0; t < sc.ntickets; t++) {
        long a, b;
        sb_split_range((long)c.units, t, sc.ntickets, 1, &a, &b);
        atomic_init(&sc.ranges[t].fb, range_word(a, b));
    }
    sc.private_act = c.nacts > 0 && n == 1 && sc.ntickets > 1 && act_need <= SB_MM_PRIVATE_ACT_BYTES;
    sc.qchunks = 0;
    if (c.nacts > 0 && !sc.private_act) {
        if (pre) /* once for every chunk of the quantization job */
            pre->prepare(pre->ctx, x, c.cols, c.pre_state);
        sc.qchunks = nth > 1 ? (long)nth * SB_MM_QUANT_CHUNKS_PER_THREAD : 1;
        if (pool && nth > 1)
            sb_threadpool_run_chunks(pool, sc.qchunks, mm_quant_chunk, &sc);
        else
            mm_quant_chunk(&sc, 0, 0);
    }
    if (pool && sc.ntickets > 1)
        sb_threadpool_run_chunks(pool, sc.ntickets, mm_rows_chunk, &sc);
    else
        for (int t = 0; t < sc.ntickets; t++)
            mm_rows_chunk(&sc, t, 0);
}
