/*
 * cpu_backend.c - the CPU backend: creation, the operation table, memory
 * (weights and activations), reservation and statistics.
 */
#include "sb_cpu_backend.h"

#include "cpu_backend_internal.h"
#include "sb_alloc.h"
#include "sb_checked.h"
#include "sb_half.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Runs an op job on every pool thread, or inline when the work is too small to pay for waking them. */
void sb_cpu_run(cpu_backend *cb, sb_parallel_fn fn, void *ctx, long work) {
    if (cb->n_threads == 1 || work < SB_CPU_INLINE_ELEMS)
        fn(ctx, 0, 1);
    else
        sb_threadpool_run(cb->pool, fn, ctx);
}

/* ---- weights -------------------------------------------------------- */

/* Lets the kernel drop the mapped pages of [p, p + n): only whole pages
 * strictly inside the range, so neighbouring tensors are untouched. Only for
 * read-only file mappings (SB_USE_HOST_FILE): on anonymous memory
 * MADV_DONTNEED would zero the caller's bytes. */
static void drop_pages(const void *p, size_t n) {
    long ps = sysconf(_SC_PAGESIZE);
    if (ps <= 0)
        return;
    uintptr_t a = (uintptr_t)p, e = a + n;
    uintptr_t first = (a + (uintptr_t)ps - 1) & ~((uintptr_t)ps - 1);
    uintptr_t last = e & ~((uintptr_t)ps - 1);
    if (last > first)
        madvise((void *)first, last - first, MADV_DONTNEED);
}

/* Records a loaded weight so reserve can size the matmul scratch for every weight. */
static sb_status track_weight(cpu_backend *cb, cpu_weight *w, sb_error *err) {
    if (cb->n_weights == cb->cap_weights) {
        int cap = cb->cap_weights ? cb->cap_weights * 2 : 64;
        cpu_weight **nw = sb_reallocarray(cb->weights, (size_t)cap, sizeof *nw);
        if (!nw)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        cb->weights = nw;
        cb->cap_weights = cap;
    }
    w->index = cb->n_weights;
    cb->weights[cb->n_weights++] = w;
    return SB_OK;
}

/* Grows the matmul scratch to what weight w needs for n rows. */
static sb_status grow_mm_scratch(cpu_backend *cb, const cpu_weight *w, int n, sb_error *err) {
    if (!w->has_mm || n <= 0)
        return SB_OK;
    size_t need = sb_cpu_matmul_scratch_size(&w->mm, n);
    if (need <= cb->mm_scratch_bytes)
        return SB_OK;
    need = (need + 63) & ~(size_t)63;
    void *p = sb_aligned_alloc(64, need);
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory for %zu bytes of matmul scratch", need);
    sb_aligned_free(cb->mm_scratch);
    cb->mm_scratch = p;
    cb->mm_scratch_bytes = need;
    return SB_OK;
}

/* Copies a 1-D parameter into an owned F32 array. */
static sb_status load_vector(cpu_weight *w, const sb_tensor *t, const void *host, sb_error *err) {
    int64_t n = sb_tensor_nelements(t);
    if (t->type != SB_TYPE_F32 && t->type != SB_TYPE_F16 && t->type != SB_TYPE_BF16)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "tensor '%s': type %s is not supported for a 1-D parameter",
                            t->name, sb_type_name(t->type));
    w->vec = sb_aligned_alloc(64, (size_t)n * sizeof(float) + 64);
    if (!w->vec)
        return sb_error_set(err, SB_ERR_NOMEM, "tensor '%s': out of memory", t->name);
    const uint8_t *src = host;
    for (int64_t i = 0; i < n; i++) {
        if (t->type == SB_TYPE_F32)
            memcpy(&w->vec[i], src + 4 * i, 4);
        else {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            w->vec[i] = t->type == SB_TYPE_F16 ? sb_fp16_to_f32(h) : sb_bf16_to_f32(h);
        }
    }
    w->resident = (uint64_t)n * sizeof(float);
    return SB_OK;
}

/* Frees a weight's backend state (packed copy, F32 vector) and forgets it; host bytes stay the caller's. */
static void weight_free(cpu_backend *cb, cpu_weight *w) {
    if (!w)
        return;
    if (w->has_mm)
        sb_cpu_weight_free(&w->mm);
    sb_aligned_free(w->vec);
    if (cb && w->index >= 0 && w->index < cb->n_weights && cb->weights[w->index] == w) {
        cb->weights[w->index] = cb->weights[--cb->n_weights];
        cb->weights[w->index]->index = w->index;
        cb->weight_bytes -= w->resident;
        cb->matmul_bytes -= w->mm_bytes;
        if (cb->n_weights == 0) /* the model is gone: the next one gets a fresh arena */
            sb_cpu_arena_free(&cb->arena);
    }
    sb_free(w);
}

/* Prepares a matrix for get_rows and/or matmul. The kernels may repack a
 * matmul weight (then the mapped pages are dropped, and a tied embedding's
 * rows are dequantized from the packed copy); a get_rows-only table stays in
 * the mapping, where reading a few rows per step costs nothing. */
static sb_status load_matrix(cpu_backend *cb, cpu_weight *w, sb_tensor *t, uint32_t usage, const void *host,
                             uint64_t bytes, sb_error *err) {
    if (usage & SB_USE_ROWS) {
        if (!sb_cpu_dequantize_supports(t->type))
            return sb_error_set(err, SB_ERR_UNSUPPORTED, "tensor '%s': type %s is not supported for row lookups",
                                t->name, sb_type_name(t->type));
        w->rows = host;
        w->resident = bytes;
    }
    if (usage & SB_USE_MATMUL) {
        if (!sb_cpu_matmul_supports(t->type))
            return sb_error_set(err, SB_ERR_UNSUPPORTED,
                                "tensor '%s': type %s is not supported by the CPU matmul kernels", t->name,
                                sb_type_name(t->type));
        const bool repack = cb->repack && !(usage & SB_USE_NO_REPACK);
        sb_status st = sb_cpu_weight_init_in(&w->mm, t->type, t->ne[1], t->ne[0], host, repack, &cb->arena, err);
        if (st != SB_OK)
            return sb_error_prefix(err, "tensor '%s': ", t->name);
        w->has_mm = true;
        w->mm_bytes = w->mm.packed ? w->mm.packed_bytes : bytes;
        if (w->mm.packed) {
            if (usage & SB_USE_HOST_FILE)
                drop_pages(host, (size_t)bytes);
            w->rows = NULL;
            w->resident = w->mm.packed_bytes;
        } else {
            w->resident = bytes;
        }
    }
    t->data = w->mm.packed ? NULL : (void *)host;
    return SB_OK;
}

/* weight_load: validates the tensor, then prepares it by usage; on failure nothing is kept. */
static sb_status cpu_weight_load(sb_backend *b, sb_tensor *t, const void *host, sb_error *err) {
    cpu_backend *cb = cpu_of(b);
    uint64_t row_bytes = 0, bytes = 0;
    if (!sb_type_traits_of(t->type))
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "tensor '%s': type %u is unknown", t->name, t->type);
    if (!sb_type_row_size(t->type, (uint64_t)t->ne[0], &row_bytes))
        return sb_error_set(err, SB_ERR_FORMAT, "tensor '%s': row of %lld elements does not fit type %s", t->name,
                            (long long)t->ne[0], sb_type_name(t->type));
    const uint32_t usage = t->usage ? t->usage : (t->n_dims == 1 ? SB_USE_VECTOR : SB_USE_MATMUL);
    if ((usage & (SB_USE_MATMUL | SB_USE_ROWS)) && (t->ne[2] != 1 || t->ne[3] != 1))
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "tensor '%s': a matrix must have 2 dimensions", t->name);
    if (!sb_mul_u64(row_bytes, (uint64_t)(t->ne[1] * t->ne[2] * t->ne[3]), &bytes))
        return sb_error_set(err, SB_ERR_FORMAT, "tensor '%s': size overflows", t->name);

    cpu_weight *w = sb_calloc(1, sizeof *w);
    if (!w)
        return sb_error_set(err, SB_ERR_NOMEM, "tensor '%s': out of memory", t->name);
    w->index = -1;
    sb_status st;
    if (usage & SB_USE_VECTOR) {
        st = load_vector(w, t, host, err);
        t->data = w->vec;
    } else {
        st = load_matrix(cb, w, t, usage, host, bytes, err);
    }
    if (st == SB_OK && (st = track_weight(cb, w, err)) == SB_OK) {
        cb->weight_bytes += w->resident;
        cb->matmul_bytes += w->mm_bytes;
    }
    if (st == SB_OK && cb->max_tokens > 0)
        st = grow_mm_scratch(cb, w, cb->max_tokens, err);
    if (st != SB_OK) {
        weight_free(cb, w);
        t->data = NULL;
        return st;
    }
    t->impl = w;
    t->backend = b;
    return SB_OK;
}

/* ---- activations ------------------------------------------------------ */

/* alloc: 64-byte aligned host memory for an activation; also grows the topk row copy for F32 rows. */
static sb_status cpu_alloc(sb_backend *b, sb_tensor *t, sb_error *err) {
    cpu_backend *cb = cpu_of(b);
    uint64_t row = 0, bytes = 0;
    if (!sb_type_row_size(t->type, (uint64_t)t->ne[0], &row) ||
        !sb_mul_u64(row, (uint64_t)t->ne[1] * (uint64_t)t->ne[2] * (uint64_t)t->ne[3], &bytes) || bytes > SIZE_MAX / 2)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "tensor '%s': bad shape or type for an activation", t->name);
    void *p = sb_aligned_alloc(64, bytes ? (size_t)bytes : 64);
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "tensor '%s': out of memory for %llu bytes", t->name,
                            (unsigned long long)bytes);
    /* topk copies one row of any F32 activation it is given. */
    if (t->type == SB_TYPE_F32 && (size_t)t->ne[0] > cb->topk_cap) {
        /* the row copy, then two radix-sort buffers of one uint64 per value */
        const size_t cap = (size_t)t->ne[0];
        float *nb = cap <= SIZE_MAX / 64 ? sb_aligned_alloc(64, cap * (sizeof(float) + 2 * sizeof(uint64_t)) + 64) : NULL;
        if (!nb) {
            sb_aligned_free(p);
            return sb_error_set(err, SB_ERR_NOMEM, "tensor '%s': out of memory", t->name);
        }
        sb_aligned_free(cb->topk_buf);
        cb->topk_buf = nb;
        cb->topk_cap = cap;
        cb->topk_sort = (uint64_t *)(void *)((uint8_t *)nb + ((cap * sizeof(float) + 63) & ~(size_t)63));
    }
    t->data = p;
    t->impl = NULL;
    t->backend = b;
    return SB_OK;
}

/* release: frees a weight's state or an activation's memory (the tensor descriptor stays the caller's). */
static void cpu_release(sb_backend *b, sb_tensor *t) {
    if (!t)
        return;
    if (t->impl)
        weight_free(cpu_of(b), t->impl);
    else
        sb_aligned_free(t->data);
    t->impl = NULL;
    t->data = NULL;
}

/* Bytes of a tensor in its GGUF layout. */
static size_t tensor_bytes(const sb_tensor *t) {
    return sb_tensor_row_bytes(t) * (size_t)(t->ne[1] * t->ne[2] * t->ne[3]);
}

/* upload: host memory is the device here: a bounds-checked copy into an activation. */
static sb_status cpu_upload(sb_backend *b, sb_tensor *t, const void *src, size_t offset, size_t bytes) {
    (void)b;
    if (t->impl || !t->data || !sb_range_ok(offset, bytes, tensor_bytes(t)))
        return SB_ERR_RANGE;
    memcpy((uint8_t *)t->data + offset, src, bytes);
    return SB_OK;
}

/* download: a bounds-checked copy out of an activation. */
static sb_status cpu_download(sb_backend *b, const sb_tensor *t, void *dst, size_t offset, size_t bytes) {
    (void)b;
    if (t->impl || !t->data || !sb_range_ok(offset, bytes, tensor_bytes(t)))
        return SB_ERR_RANGE;
    memcpy(dst, (const uint8_t *)t->data + offset, bytes);
    return SB_OK;
}

/* ---- reservation and stats ------------------------------------------ */

/* Grows an int32 array to n entries (contents kept). */
static sb_status grow_i32(int32_t **p, size_t n, sb_error *err) {
    int32_t *q = sb_reallocarray(*p, n ? n : 1, sizeof *q);
    if (!q)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    *p = q;
    return SB_OK;
}

/* reserve: grows the batch copies and the matmul scratch; never shrinks. */
static sb_status cpu_reserve(sb_backend *b, int max_tokens, int max_outputs, sb_error *err) {
    cpu_backend *cb = cpu_of(b);
    if (max_tokens < 1 || max_outputs < 0 || max_outputs > max_tokens)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "reserve: %d tokens / %d outputs is not a valid batch size",
                            max_tokens, max_outputs);
    if (max_tokens > cb->max_tokens) {
        sb_status st;
        if ((st = grow_i32(&cb->tokens, (size_t)max_tokens, err)) ||
            (st = grow_i32(&cb->pos, (size_t)max_tokens, err)) || (st = grow_i32(&cb->seq, (size_t)max_tokens, err)))
            return st;
        for (int i = 0; i < cb->n_weights; i++)
            if ((st = grow_mm_scratch(cb, cb->weights[i], max_tokens, err)))
                return st;
        cb->max_tokens = max_tokens;
    }
    if (max_outputs > cb->max_outputs) {
        sb_status st = grow_i32(&cb->out_rows, (size_t)max_outputs, err);
        if (st)
            return st;
        cb->max_outputs = max_outputs;
    }
    return SB_OK;
}

/* stats: nothing crosses a bus on the CPU; reports resident weight and KV bytes. */
static void cpu_stats(sb_backend *b, sb_backend_stats *out) {
    cpu_backend *cb = cpu_of(b);
    memset(out, 0, sizeof *out);
    out->weight_bytes = cb->weight_bytes;
    out->matmul_bytes = cb->matmul_bytes;
    out->kv_bytes = cb->kv_bytes;
}

/* weight_reserve: one arena for the copies of the matmul weights to come
 * (the kernels hold every type in as many bytes as the file), plus slack
 * for row and pair padding (a few percent; only what is used is ever
 * touched). */
static sb_status cpu_weight_reserve(sb_backend *b, const uint64_t *bytes_by_type, sb_error *err) {
    cpu_backend *cb = cpu_of(b);
    if (!cb->repack || cb->arena.base)
        return SB_OK;
    uint64_t matmul_bytes = 0;
    for (uint32_t t = 0; t < SB_TYPE_COUNT; t++) {
        const uint64_t held = bytes_by_type[t];
        if (held > (uint64_t)SIZE_MAX / 4 || matmul_bytes > (uint64_t)SIZE_MAX / 4 - held)
            return sb_error_set(err, SB_ERR_LIMIT, "weights of more than %llu bytes are too large",
                                (unsigned long long)(SIZE_MAX / 4));
        matmul_bytes += held;
    }
    if (matmul_bytes == 0)
        return SB_OK;
    const size_t bytes = (size_t)matmul_bytes + (size_t)(matmul_bytes / 32) + ((size_t)4 << 20);
    return sb_cpu_arena_init(&cb->arena, bytes, err);
}

/* destroy: frees everything the backend owns, including weights whose tensors were not released. */
static void cpu_destroy(sb_backend *b) {
    cpu_backend *cb = cpu_of(b);
    /* Weights still loaded belong to tensors the caller forgot; free ours. */
    while (cb->n_weights > 0)
        weight_free(cb, cb->weights[cb->n_weights - 1]);
    sb_free(cb->weights);
    sb_cpu_arena_free(&cb->arena);
    sb_cpu_kv_free(cb);
    sb_aligned_free(cb->mm_scratch);
    sb_aligned_free(cb->rope_theta);
    sb_aligned_free(cb->topk_buf);
    sb_free(cb->tokens);
    sb_free(cb->pos);
    sb_free(cb->seq);
    sb_free(cb->page_off);
    sb_free(cb->page_n);
    sb_free(cb->pages);
    sb_free(cb->out_rows);
    sb_threadpool_free(cb->pool);
    sb_free(cb);
}

static const sb_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .weight_load = cpu_weight_load,
    .alloc = cpu_alloc,
    .release = cpu_release,
    .upload = cpu_upload,
    .download = cpu_download,
    .kv_init = sb_cpu_kv_init,
    .kv_copy_page = sb_cpu_kv_copy_page,
    .reserve = cpu_reserve,
    .set_batch = sb_cpu_set_batch,
    .get_rows = sb_cpu_get_rows,
    .gather_outputs = sb_cpu_gather_outputs,
    .rmsnorm = sb_cpu_rmsnorm,
    .matmul = sb_cpu_matmul_op,
    .rope = sb_cpu_rope,
    .kv_store = sb_cpu_kv_store,
    .attention = sb_cpu_attention,
    .swiglu = sb_cpu_swiglu,
    .add = sb_cpu_add,
    .scale = sb_cpu_scale,
    .topk = sb_cpu_topk,
    .stats = cpu_stats,
    .weight_reserve = cpu_weight_reserve,
    .matmul_multi = sb_cpu_matmul_multi_op,
    .matmul_pre = sb_cpu_matmul_pre_op,
    .attention_rope = sb_cpu_attention_rope,
};

sb_cpu_backend_opts sb_cpu_backend_default_opts(void) {
    sb_cpu_backend_opts o = {.n_threads = 0, .repack = true};
    return o;
}

sb_status sb_cpu_backend_create(const sb_cpu_backend_opts *opts, sb_backend **out, sb_error *err) {
    *out = NULL;
    sb_cpu_backend_opts o = opts ? *opts : sb_cpu_backend_default_opts();
    if (o.n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.n_threads = n > 0 ? (int)(n > 256 ? 256 : n) : 1;
    }
    cpu_backend *cb = sb_calloc(1, sizeof *cb);
    if (!cb)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    cb->base.ops = &cpu_ops;
    cb->n_threads = o.n_threads;
    cb->repack = o.repack;
    sb_status st = sb_threadpool_create(o.n_threads, &cb->pool, err);
    if (st != SB_OK) {
        sb_free(cb);
        return st;
    }
    cb->rope_theta = sb_aligned_alloc(64, (size_t)o.n_threads * SB_CPU_MAX_ROT * sizeof(float));
    if (!cb->rope_theta) {
        cpu_destroy(&cb->base);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    cb->vec = sb_cpu_vec_scalar;
#if defined(__x86_64__)
    sb_cpu_isa isa = sb_cpu_isa_active();
    const sb_cpu_features *f = sb_cpu_features_get();
    if ((isa == SB_ISA_AVX2 || isa == SB_ISA_AVX512) && f->avx2 && f->fma && f->f16c)
        cb->vec = sb_cpu_vec_avx2;
    if (isa == SB_ISA_AVX512) {
        cb->vec.scores_heads_f32 = sb_cpu_scores_heads_f32_avx512;
        cb->vec.scores_heads_f16 = sb_cpu_scores_heads_f16_avx512;
        cb->vec.wsum_heads_f32 = sb_cpu_wsum_heads_f32_avx512;
        cb->vec.wsum_heads_f16 = sb_cpu_wsum_heads_f16_avx512;
        cb->vec.exp_sum = sb_cpu_exp_sum_avx512;
        cb->vec.silu_mul = sb_cpu_silu_mul_avx512;
    }
#endif
    *out = &cb->base;
    return SB_OK;
}

int sb_cpu_backend_n_threads(const sb_backend *b) { return ((const cpu_backend *)b)->n_threads; }

struct sb_threadpool *sb_cpu_backend_pool(sb_backend *b) { return cpu_of(b)->pool; }
