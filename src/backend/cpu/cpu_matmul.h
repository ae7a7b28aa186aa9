/*
 * cpu_matmul.h - quantized-weight x activation-batch products on the CPU.
 *
 * This is the hot path of the CPU backend: decode is a batch of one token
 * (a matrix-vector product that must stream each weight byte once at the
 * memory-bandwidth limit) and prefill is a batch of many (a matrix-matrix
 * product that must approach the compute limit).
 *
 * A weight is prepared once at load (sb_cpu_weight_init): it either keeps
 * pointing at the GGUF bytes (usually the mmapped file) or is repacked into
 * a kernel-friendly layout that REPLACES the mapped copy (the caller then
 * lets the mapping's pages go). Activations are F32; the kernels quantize
 * them internally to the dot-product type of the weight (Q8_0 for
 * Q4_0/Q8_0, Q8_K for K-quants, F16 for F16, BF16 for BF16), the same
 * rounding the reference implementation applies.
 *
 * Every kernel has a plain scalar reference; SIMD variants (AVX2, AVX-512
 * with VNNI/BF16, NEON with dotprod) are chosen at run time from the CPU's
 * features (sb_cpu_features) and are tested against the scalar reference.
 */
#ifndef SB_CPU_MATMUL_H
#define SB_CPU_MATMUL_H

#include "sb_error.h"
#include "sb_threadpool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A weight matrix [rows][cols] prepared for the kernels. */
typedef struct sb_cpu_weight {
    uint32_t type;     /* sb_tensor_type of the GGUF data */
    int64_t rows;      /* output features */
    int64_t cols;      /* input features (a multiple of the type's block size) */
    const void *data;  /* GGUF-layout rows: the caller's bytes (borrowed) or, for a copied
                          F32/F16/BF16 weight, == packed; NULL when repacked to another layout */
    void *packed;      /* repacked copy, owned (freed by sb_cpu_weight_free); when set, the
                          caller's bytes are no longer read */
    size_t packed_bytes;
    int layout;        /* kernel-private layout id (0 = GGUF rows) */
    bool in_arena;     /* packed lives in an sb_cpu_arena (freed with the arena, not the weight) */
} sb_cpu_weight;

/* One block of memory that weights are copied or repacked into one after
 * another, in load order (the CPU backend keeps one per model). Decode reads
 * every weight byte per token in that same order: from one block backed by
 * huge pages the threads' streams run on from one matrix into the next,
 * where ~150 separate allocations (the smaller ones on 4 KiB pages) cost
 * each call a cold start. Only the part in use is ever touched. */
typedef struct sb_cpu_arena {
    uint8_t *base;
    size_t size, used;
} sb_cpu_arena;

/* Allocates `bytes` for a large buffer that is read cold and scattered (the
 * KV pool): from 2 MiB up it starts on a 2 MiB boundary and asks for huge
 * pages, since a TLB miss per 4 KiB page doubled the time of attention's
 * cold reads. Not touched here. NULL when out of memory; the caller frees it
 * with sb_aligned_free. */
void *sb_cpu_alloc_huge(size_t bytes);

/* Reserves `bytes` (rounded up to 2 MiB) for an arena, asking for huge
 * pages. Errors: out of memory. Freed with sb_cpu_arena_free. */
sb_status sb_cpu_arena_init(sb_cpu_arena *a, size_t bytes, sb_error *err);
void sb_cpu_arena_free(sb_cpu_arena *a);

/* True if matmul supports weights of this type. */
bool sb_cpu_matmul_supports(uint32_t type);

/* Prepares w from GGUF-layout bytes `data` (rows * row_bytes). With repack,
 * the kernels copy the data into their own memory (w->packed) and stop
 * referencing `data`: quantized types in the interleaved layout of
 * mm_kernels.h, F32/F16/BF16 weights of 4 MiB or more as the same rows
 * (smaller ones stay borrowed: w->packed == NULL); either way in memory
 * backed by transparent huge pages where the OS allows (decode reads every
 * weight byte per token). Errors: unsupported type, cols not a block
 * multiple, out of memory. */
sb_status sb_cpu_weight_init(sb_cpu_weight *w, uint32_t type, int64_t rows, int64_t cols, const void *data, bool repack,
                             sb_error *err);
/* The same, placing the copy in `arena` when it has room (arena may be
 * NULL; a full arena falls back to a separate allocation). With an arena,
 * F32/F16/BF16 weights of every size are copied (so that all of a model's
 * matrices sit in one range). */
sb_status sb_cpu_weight_init_in(sb_cpu_weight *w, uint32_t type, int64_t rows, int64_t cols, const void *data,
                                bool repack, sb_cpu_arena *arena, sb_error *err);
void sb_cpu_weight_free(sb_cpu_weight *w);

/* Bytes of scratch sb_cpu_matmul needs for n activation rows. */
size_t sb_cpu_matmul_scratch_size(const sb_cpu_weight *w, int64_t n);

/* y[i][r] = sum_c x[i][c] * W[r][c]  for i < n, r < rows
 * (y[i][r] += ... when accumulate). x is n rows of cols floats, y n rows of
 * rows floats, both contiguous. scratch holds sb_cpu_matmul_scratch_size
 * bytes, 64-byte aligned. Runs on all of the pool's threads. */
void sb_cpu_matmul(sb_threadpool *pool, const sb_cpu_weight *w, const float *x, int64_t n, float *y, bool accumulate,
                   void *scratch);

/* Several weights that multiply the same activations (q, k and v; gate and
 * up), in one call: ys[i] (+)= x * ws[i]^T for i < nw (1..SB_MM_MULTI_MAX).
 * All weights have the same cols (else nothing is computed); their types may
 * differ. One wake-up of the pool and one activation quantization per
 * distinct activation format instead of one per weight, and the rows of all
 * the weights are balanced over the threads together (a decode step issues
 * ~7 matmuls per layer; this makes it 4). Results are identical to separate sb_cpu_matmul calls.
 * scratch holds sb_cpu_matmul_multi_scratch_size bytes, 64-byte aligned. */
#define SB_MM_MULTI_MAX 8
size_t sb_cpu_matmul_multi_scratch_size(const sb_cpu_weight *const *ws, int nw, int64_t n);
void sb_cpu_matmul_multi(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const float *x, int64_t n,
                         float *const *ys, bool accumulate, void *scratch);

/* What a fused call applies to its one activation row before quantizing
 * it (an rmsnorm or SwiGLU that precedes the projection): the transformed
 * row is made a run of blocks at a time where it is quantized, never
 * stored, and each thread that needs it makes it itself, so the op before
 * the matmul neither runs on one thread while the others wait nor writes a
 * row that the other cores then fetch. prepare computes the row-wide
 * values (an rms factor) into state[SB_MM_PRE_STATE]; apply writes values
 * [off, off + len) of the transformed row to out. Both may run on several
 * threads at once and must give the same bits as the op they replace. */
#define SB_MM_PRE_STATE 4
typedef struct sb_mm_pre {
    void (*prepare)(const void *ctx, const float *x, int64_t cols, float *state);
    void (*apply)(const void *ctx, const float *x, int64_t off, int64_t len, const float *state, float *out);
    const void *ctx;
} sb_mm_pre;

/* True if sb_cpu_matmul_multi_pre fuses a transform into this call (one
 * token, weights of one width, none F32); otherwise the caller applies the
 * op itself and calls sb_cpu_matmul_multi on its output. */
bool sb_cpu_matmul_pre_fuses(const sb_cpu_weight *const *ws, int nw, int64_t n);
/* sb_cpu_matmul_multi of pre(x) for a call sb_cpu_matmul_pre_fuses
 * accepts (anything else computes nothing). */
void sb_cpu_matmul_multi_pre(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const sb_mm_pre *pre,
                             const float *x, int64_t n, float *const *ys, bool accumulate, void *scratch);

/* Dequantizes row r (0 <= r < w->rows) of a prepared weight to F32 (cols
 * values), whatever its layout: a repacked weight can also serve get_rows
 * (a tied embedding), so it needs no second, GGUF-layout copy. */
void sb_cpu_weight_dequantize_row(const sb_cpu_weight *w, int64_t r, float *dst);

/* True if sb_cpu_dequantize_row reads this type. */
bool sb_cpu_dequantize_supports(uint32_t type);
/* Dequantizes n elements (a block multiple) of a row of `type` to F32
 * (zeros for a type it does not read). */
void sb_cpu_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* Quantizes n F32 elements (a block multiple) into `type`'s GGUF block
 * layout, the way the reference quantizer does (used by `solebox quantize`).
 * Supports at least F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K,
 * Q6_K. Defined for every input value; non-finite or huge values give
 * blocks that sb_cpu_row_first_invalid reports. */
sb_status sb_cpu_quantize_row(uint32_t type, const float *src, void *dst, int64_t n, sb_error *err);

/* The first element of a row of `type` (n elements, a block multiple) that
 * llama.cpp's ggml_validate_row_data rejects (a non-finite value, or a block
 * with a non-finite F16 scale), or -1 (see sb_ref_first_invalid). */
int64_t sb_cpu_row_first_invalid(uint32_t type, const void *row, int64_t n);

/* The instruction sets this process may use, and the one in use. */
typedef enum sb_cpu_isa {
    SB_ISA_SCALAR = 0,
    SB_ISA_AVX2 = 1,   /* + FMA + F16C */
    SB_ISA_AVX512 = 2, /* F, BW, VL, DQ; VNNI and BF16 used when present */
    SB_ISA_NEON = 3,   /* + dotprod when present */
} sb_cpu_isa;

typedef struct sb_cpu_features {
    bool avx2, fma, f16c, avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16, avx_vnni;
    bool neon, dotprod, i8mm, fp16;
} sb_cpu_features;

const sb_cpu_features *sb_cpu_features_get(void);
/* The ISA the kernels use: the best available, or what SOLEBOX_CPU_ISA
 * (scalar|avx2|avx512|neon) asks for if the CPU has it. */
sb_cpu_isa sb_cpu_isa_active(void);
/* Forces an ISA (tests); returns false if the CPU lacks it. */
bool sb_cpu_isa_force(sb_cpu_isa isa);
const char *sb_cpu_isa_name(sb_cpu_isa isa);

#endif
