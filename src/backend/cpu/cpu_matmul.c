/*
 * cpu_matmul.c - the public matmul API: prepares weights (repacking
 * quantized ones into the x16 layout of mm_kernels.h), row (de)quantization,
 * and the entry points of the threaded driver (mm_driver.c).
 */
#include "cpu_matmul.h"

#include "mm_driver.h"
#include "mm_kernels.h"
#include "quant_ref.h"
#include "sb_alloc.h"
#include "sb_checked.h"
#include "sb_tensor_type.h"

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

/* Every weight type the CPU dequantizes is also multiplied, except Q8_K:
 * only an activation format. */
bool sb_cpu_matmul_supports(uint32_t type) { return type != SB_TYPE_Q8_K && sb_cpu_dequantize_supports(type); }

/* F32/F16/BF16 weights at least this large are copied at load (repack). */
#define SB_DENSE_COPY_MIN ((uint64_t)4 << 20)

/* Weights of 4 MiB and more start on a 2 MiB boundary, so that all of them
 * can be huge pages. */
static size_t weight_align(size_t n) { return n >= ((size_t)4 << 20) ? (size_t)2 << 20 : 64; }

/* Asks for transparent huge pages on the 2 MiB-aligned interior of a large,
 * not yet touched buffer: decode streams every weight byte per token, and
 * with 4 KiB pages that is one TLB miss per 4 KiB. Advice only; failures are
 * ignored (no THP support, THP disabled). */
static void advise_huge(void *p, size_t n) {
#if defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    const uintptr_t b = ((uintptr_t)p + huge - 1) & ~(huge - 1), e = ((uintptr_t)p + n) & ~(huge - 1);
    if (e > b)
        (void)madvise((void *)b, e - b, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

void *sb_cpu_alloc_huge(size_t bytes) {
    const size_t huge = (size_t)2 << 20;
    void *p = sb_aligned_alloc(bytes >= huge ? huge : 64, bytes);
    if (p)
        advise_huge(p, bytes);
    return p;
}

sb_status sb_cpu_arena_init(sb_cpu_arena *a, size_t bytes, sb_error *err) {
    const size_t huge = (size_t)2 << 20;
    memset(a, 0, sizeof *a);
    if (bytes > SIZE_MAX / 2)
        return sb_error_set(err, SB_ERR_LIMIT, "weight arena of %zu bytes is too large", bytes);
    bytes = (bytes + huge - 1) & ~(huge - 1);
    a->base = sb_aligned_alloc(huge, bytes ? bytes : huge);
    if (!a->base)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory reserving %zu bytes for the weights", bytes);
    a->size = bytes ? bytes : huge;
    advise_huge(a->base, a->size);
    return SB_OK;
}

void sb_cpu_arena_free(sb_cpu_arena *a) {
    if (!a)
        return;
    sb_aligned_free(a->base);
    memset(a, 0, sizeof *a);
}

/* Memory for a weight's copy: from the arena when it has room, else its own
 * allocation (align as weight_align). */
static uint8_t *weight_mem(sb_cpu_weight *w, sb_cpu_arena *arena, size_t bytes) {
    if (arena && arena->base && bytes <= arena->size - arena->used) {
        uint8_t *p = arena->base + arena->used;
        arena->used = (arena->used + bytes + 63) & ~(size_t)63;
        if (arena->used > arena->size)
            arena->used = arena->size;
        w->in_arena = true;
        return p;
    }
    uint8_t *p = sb_aligned_alloc(weight_align(bytes), bytes);
    if (p)
        advise_huge(p, bytes);
    return p;
}

sb_status sb_cpu_weight_init(sb_cpu_weight *w, uint32_t type, int64_t rows, int64_t cols, const void *data, bool repack,
                             sb_error *err) {
    return sb_cpu_weight_init_in(w, type, rows, cols, data, repack, NULL, err);
}

sb_status sb_cpu_weight_init_in(sb_cpu_weight *w, uint32_t type, int64_t rows, int64_t cols, const void *data,
                                bool repack, sb_cpu_arena *arena, sb_error *err) {
    memset(w, 0, sizeof *w);
    const sb_type_traits *tr = sb_type_traits_of(type);
    if (!tr || !sb_cpu_matmul_supports(type))
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "matmul: weight type %s (%u) is not supported", sb_type_name(type),
                            (unsigned)type);
    if (rows <= 0 || cols <= 0 || cols % tr->block_size != 0)
        return sb_error_set(err, SB_ERR_INVALID_ARG,
                            "matmul: %s weight of %lld x %lld: columns must be a positive multiple of %u", tr->name,
                            (long long)rows, (long long)cols, (unsigned)tr->block_size);
    uint64_t row_bytes, total;
    if (!sb_type_row_size(type, (uint64_t)cols, &row_bytes) || !sb_mul_u64(row_bytes, (uint64_t)rows, &total) ||
        total > (uint64_t)SIZE_MAX / 2)
        return sb_error_set(err, SB_ERR_LIMIT, "matmul: %s weight of %lld x %lld is too large", tr->name,
                            (long long)rows, (long long)cols);
    if (!data)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "matmul: weight data is NULL");
    w->type = type;
    w->rows = rows;
    w->cols = cols;
    const int pk = sb_pk_of_type(type);
    if (!repack || (pk < 0 && total < SB_DENSE_COPY_MIN && !(arena && arena->base))) {
        w->data = data;
        w->layout = SB_LAYOUT_GGUF;
        return SB_OK;
    }
    if (pk < 0) {
        /* F32/F16/BF16 of 4 MiB or more: the same rows, copied into memory
         * backed by huge pages. Decode streams every byte per token; from
         * 4 KiB pages (a mapped file) a core reads them at ~2/3 of the
         * speed. Smaller ones gain nothing and stay borrowed. */
        uint8_t *p = weight_mem(w, arena, (size_t)total);
        if (!p)
            return sb_error_set(err, SB_ERR_NOMEM, "matmul: out of memory copying a %lld x %lld %s weight (%llu bytes)",
                                (long long)rows, (long long)cols, tr->name, (unsigned long long)total);
        memcpy(p, data, (size_t)total);
        w->packed = p;
        w->packed_bytes = (size_t)total;
        w->data = p;
        w->layout = SB_LAYOUT_GGUF;
        return SB_OK;
    }
    const int64_t groups = (rows + SB_MM_ROWS - 1) / SB_MM_ROWS;
    const int64_t nb = cols / sb_pk_block_cols(pk);
    uint64_t bytes;
    if (!sb_mul_u64((uint64_t)groups, sb_pk_group_bytes(pk, nb), &bytes) || bytes > (uint64_t)SIZE_MAX / 2)
        return sb_error_set(err, SB_ERR_LIMIT, "matmul: %s weight of %lld x %lld is too large", tr->name,
                            (long long)rows, (long long)cols);
    uint8_t *p = weight_mem(w, arena, (size_t)bytes);
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "matmul: out of memory repacking a %lld x %lld %s weight (%llu bytes)",
                            (long long)rows, (long long)cols, tr->name, (unsigned long long)bytes);
    const size_t gbytes = sb_pk_group_bytes(pk, nb);
    for (int64_t g = 0; g < groups; g++) {
        const int64_t r0 = g * SB_MM_ROWS;
        const int nvalid = rows - r0 < SB_MM_ROWS ? (int)(rows - r0) : SB_MM_ROWS;
        sb_pk_pack(pk, (const uint8_t *)data + (size_t)r0 * row_bytes, (size_t)row_bytes, nvalid, 0, nb,
                   p + (size_t)g * gbytes);
    }
    w->packed = p;
    w->packed_bytes = (size_t)bytes;
    w->layout = SB_LAYOUT_X16;
    return SB_OK;
}

void sb_cpu_weight_free(sb_cpu_weight *w) {
    if (!w)
        return;
    if (!w->in_arena)
        sb_aligned_free(w->packed);
    w->packed = NULL;
    w->in_arena = false;
    w->packed_bytes = 0;
    w->data = NULL;
}

size_t sb_cpu_matmul_scratch_size(const sb_cpu_weight *w, int64_t n) { return sb_mm_scratch_size(&w, 1, n); }

void sb_cpu_matmul(sb_threadpool *pool, const sb_cpu_weight *w, const float *x, int64_t n, float *y, bool accumulate,
                   void *scratch) {
    sb_mm_run(pool, &w, 1, x, n, &y, accumulate, scratch);
}

size_t sb_cpu_matmul_multi_scratch_size(const sb_cpu_weight *const *ws, int nw, int64_t n) {
    return sb_mm_scratch_size(ws, nw, n);
}

void sb_cpu_matmul_multi(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const float *x, int64_t n,
                         float *const *ys, bool accumulate, void *scratch) {
    sb_mm_run(pool, ws, nw, x, n, ys, accumulate, scratch);
}

bool sb_cpu_matmul_pre_fuses(const sb_cpu_weight *const *ws, int nw, int64_t n) {
    return sb_mm_pre_fuses(ws, nw, n);
}

void sb_cpu_matmul_multi_pre(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const sb_mm_pre *pre,
                             const float *x, int64_t n, float *const *ys, bool accumulate, void *scratch) {
    sb_mm_run_pre(pool, ws, nw, pre, x, n, ys, accumulate, scratch);
}

void sb_cpu_weight_dequantize_row(const sb_cpu_weight *w, int64_t r, float *dst) {
    uint64_t row_bytes = 0;
    sb_type_row_size(w->type, (uint64_t)w->cols, &row_bytes);
    if (w->layout == SB_LAYOUT_GGUF) {
        sb_cpu_dequantize_row(w->type, (const uint8_t *)w->data + (size_t)r * row_bytes, dst, w->cols);
        return;
    }
    const int pk = sb_pk_of_type(w->type);
    const int bc = sb_pk_block_cols(pk);
    const int64_t nb = w->cols / bc;
    const uint8_t *g = (const uint8_t *)w->packed + (size_t)(r / SB_MM_ROWS) * sb_pk_group_bytes(pk, nb);
    _Alignas(8) uint8_t blk[sizeof(sb_block_q6_K) + 6]; /* the largest block */
    for (int64_t b = 0; b < nb; b++) {
        sb_pk_unpack_block(pk, g, b, (int)(r % SB_MM_ROWS), blk);
        sb_cpu_dequantize_row(w->type, blk, dst + b * bc, bc);
    }
}

bool sb_cpu_dequantize_supports(uint32_t type) {
    switch (type) {
    case SB_TYPE_F32:
    case SB_TYPE_F16:
    case SB_TYPE_BF16:
    case SB_TYPE_Q8_0:
    case SB_TYPE_Q4_0:
    case SB_TYPE_Q4_1:
    case SB_TYPE_Q5_0:
    case SB_TYPE_Q5_1:
    case SB_TYPE_Q4_K:
    case SB_TYPE_Q5_K:
    case SB_TYPE_Q6_K:
    case SB_TYPE_Q8_K:
        return true;
    default:
        return false;
    }
}

void sb_cpu_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    switch (type) {
    case SB_TYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case SB_TYPE_F16:
        sb_ref_dequant_f16(src, dst, n);
        break;
    case SB_TYPE_BF16:
        sb_ref_dequant_bf16(src, dst, n);
        break;
    case SB_TYPE_Q8_0:
        sb_ref_dequant_q8_0(src, dst, n);
        break;
    case SB_TYPE_Q4_0:
        sb_ref_dequant_q4_0(src, dst, n);
        break;
    case SB_TYPE_Q4_1:
        sb_ref_dequant_q4_1(src, dst, n);
        break;
    case SB_TYPE_Q5_0:
        sb_ref_dequant_q5_0(src, dst, n);
        break;
    case SB_TYPE_Q5_1:
        sb_ref_dequant_q5_1(src, dst, n);
        break;
    case SB_TYPE_Q4_K:
        sb_ref_dequant_q4_K(src, dst, n);
        break;
    case SB_TYPE_Q5_K:
        sb_ref_dequant_q5_K(src, dst, n);
        break;
    case SB_TYPE_Q6_K:
        sb_ref_dequant_q6_K(src, dst, n);
        break;
    case SB_TYPE_Q8_K:
        sb_ref_dequant_q8_K(src, dst, n);
        break;
    default:
        memset(dst, 0, (size_t)n * sizeof(float));
        break;
    }
}

int64_t sb_cpu_row_first_invalid(uint32_t type, const void *row, int64_t n) {
    return sb_ref_first_invalid(type, row, n);
}

sb_status sb_cpu_quantize_row(uint32_t type, const float *src, void *dst, int64_t n, sb_error *err) {
    const sb_type_traits *tr = sb_type_traits_of(type);
    if (!tr)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "quantize: type %u is unknown", (unsigned)type);
    if (n < 0 || n % tr->block_size != 0)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "quantize: %lld elements is not a multiple of %s's block of %u",
                            (long long)n, tr->name, (unsigned)tr->block_size);
    switch (type) {
    case SB_TYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        return SB_OK;
    case SB_TYPE_F16:
        sb_ref_quant_f16(src, dst, n);
        return SB_OK;
    case SB_TYPE_BF16:
        sb_ref_quant_bf16(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q8_0:
        sb_ref_quant_q8_0(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q4_0:
        sb_ref_quant_q4_0(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q4_1:
        sb_ref_quant_q4_1(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q5_0:
        sb_ref_quant_q5_0(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q5_1:
        sb_ref_quant_q5_1(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q4_K:
        sb_ref_quant_q4_K(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q5_K:
        sb_ref_quant_q5_K(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q6_K:
        sb_ref_quant_q6_K(src, dst, n);
        return SB_OK;
    case SB_TYPE_Q8_K:
        sb_ref_quant_q8_K(src, dst, n);
        return SB_OK;
    default:
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "quantize: type %s is not supported", tr->name);
    }
}
