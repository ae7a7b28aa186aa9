/*
 * quantize.c - GGUF model quantization with llama-quantize's type mixes
 * (see sb_quantize.h for the rules).
 */
#include "sb_quantize.h"

#include "cpu_matmul.h"
#include "sb_alloc.h"
#include "sb_checked.h"
#include "sb_gguf.h"
#include "sb_time.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct ftype_info {
    const char *name;
    uint32_t ftype;
    uint32_t base; /* default tensor type */
} ftype_info;

static const ftype_info ftypes[] = {
    {"Q8_0", SB_FTYPE_MOSTLY_Q8_0, SB_TYPE_Q8_0},       {"Q4_0", SB_FTYPE_MOSTLY_Q4_0, SB_TYPE_Q4_0},
    {"Q4_K_M", SB_FTYPE_MOSTLY_Q4_K_M, SB_TYPE_Q4_K},   {"Q5_K_M", SB_FTYPE_MOSTLY_Q5_K_M, SB_TYPE_Q5_K},
    {"Q6_K", SB_FTYPE_MOSTLY_Q6_K, SB_TYPE_Q6_K},
};

static const ftype_info *ftype_find(uint32_t ftype) {
    for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
        if (ftypes[i].ftype == ftype)
            return &ftypes[i];
    return NULL;
}

int sb_quantize_ftype_from_name(const char *name) {
    for (size_t i = 0; i < sizeof ftypes / sizeof ftypes[0]; i++)
        if (strcasecmp(ftypes[i].name, name) == 0)
            return (int)ftypes[i].ftype;
    return -1;
}

const char *sb_quantize_ftype_name(uint32_t ftype) {
    const ftype_info *f = ftype_find(ftype);
    return f ? f->name : "?";
}

static bool contains(const char *s, const char *sub) { return strstr(s, sub) != NULL; }

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and
 * every third layer in between. */
static bool use_more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

/* Whether llama-quantize quantizes a tensor at all. */
static bool is_quantizable(const char *name, int n_dims) {
    return ends_with(name, "weight") && n_dims >= 2 && !contains(name, "_norm.weight") &&
           !contains(name, "ffn_gate_inp.weight") && strcmp(name, "position_embd.weight") != 0 &&
           strcmp(name, "token_types.weight") != 0 && !contains(name, "ssm_conv1d.weight") &&
           !contains(name, "attn_rel_b.weight");
}

static uint32_t block_of(uint32_t type) {
    const sb_type_traits *t = sb_type_traits_of(type);
    return t ? t->block_size : 1;
}

uint32_t sb_quantize_choose_type(sb_quant_ctx *c, const char *name, int n_dims, const int64_t *ne, uint32_t src_type,
                                 bool *quantize, bool *fallback) {
    *quantize = false;
    *fallback = false;
    const ftype_info *f = ftype_find(c->ftype);
    if (!f || !is_quantizable(name, n_dims))
        return src_type;
    uint32_t t = f->base;
    bool k_m = c->ftype == SB_FTYPE_MOSTLY_Q4_K_M || c->ftype == SB_FTYPE_MOSTLY_Q5_K_M;
    int64_t nx = ne[0];
    if (strcmp(name, "output.weight") == 0 || (!c->has_output && strcmp(name, "token_embd.weight") == 0)) {
        if (nx % block_of(t) != 0)
            t = SB_TYPE_Q8_0;
        else if (t != SB_TYPE_Q8_0)
            t = SB_TYPE_Q6_K;
    } else if (strcmp(name, "token_embd.weight") == 0) {
        /* the base type */
    } else if (contains(name, "attn_v.weight")) {
        if (k_m && use_more_bits(c->i_attn_v, c->n_attn_v))
            t = SB_TYPE_Q6_K;
        c->i_attn_v++;
    } else if (contains(name, "ffn_down")) {
        if (k_m && use_more_bits(c->i_ffn_down, c->n_ffn_down))
            t = SB_TYPE_Q6_K;
        c->i_ffn_down++;
    } else if (contains(name, "attn_qkv.weight")) {
        if (c->ftype == SB_FTYPE_MOSTLY_Q4_K_M)
            t = SB_TYPE_Q5_K;
        else if (c->ftype == SB_FTYPE_MOSTLY_Q5_K_M)
            t = SB_TYPE_Q6_K;
    }
    const uint32_t planned = t;
    t = sb_type_for_row(planned, nx); /* rows that are not whole blocks: llama-quantize's substitutes */
    *fallback = t != planned;
    *quantize = t != src_type;
    return t;
}

/* ---- the file ---- */

typedef struct plan_entry {
    const sb_gguf_tensor *src;
    uint32_t type;
    bool quantize;
    uint64_t size;
} plan_entry;

typedef struct qjob {
    plan_entry *plan;
    size_t n;
    int n_threads;
    sb_status st;
    sb_error err;
} qjob;

typedef struct qrows {
    const plan_entry *pe;
    void *dst;
    int64_t r0, r1, ne0;
    size_t src_row, dst_row;
    sb_status st;
    sb_error err;
} qrows;

/* The largest magnitude in the block of `block` values holding column c. */
static float block_amax(const float *row, int64_t ne0, int64_t c, int64_t block) {
    const int64_t b0 = c - c % block, b1 = b0 + block < ne0 ? b0 + block : ne0;
    float m = 0.0f;
    for (int64_t i = b0; i < b1; i++)
        m = fabsf(row[i]) > m ? fabsf(row[i]) : m;
    return m;
}

/* Quantizes one row (buf: its F32 values) into dst, refusing what
 * llama-quantize refuses: a non-finite weight, and a result that
 * ggml_validate_row_data rejects (values too large for the type's F16
 * scales, or for F16 itself). Either would otherwise be written as a block
 * that decodes to infinities or NaNs. */
static sb_status quantize_row_checked(const qrows *q, int64_t r, const float *buf, void *dst, sb_error *err) {
    const uint32_t type = q->pe->type;
    int64_t bad = sb_cpu_row_first_invalid(SB_TYPE_F32, buf, q->ne0);
    if (bad >= 0)
        return sb_error_set(err, SB_ERR_FORMAT,
                            "row %lld, column %lld holds %s: a weight must be finite to be quantized", (long long)r,
                            (long long)bad, isnan(buf[bad]) ? "NaN" : "an infinity");
    sb_status st = sb_cpu_quantize_row(type, buf, dst, q->ne0, err);
    if (st != SB_OK)
        return st;
    bad = sb_cpu_row_first_invalid(type, dst, q->ne0);
    if (bad >= 0) {
        const int64_t block = (int64_t)block_of(type);
        return sb_error_set(err, SB_ERR_RANGE,
                            "row %lld, columns %lld..%lld: values up to %g in magnitude are too large for %s "
                            "(its F16 scale or value overflows)",
                            (long long)r, (long long)(bad - bad % block), (long long)(bad - bad % block + block - 1),
                            (double)block_amax(buf, q->ne0, bad, block), sb_type_name(type));
    }
    return SB_OK;
}

/* Converts and quantizes rows [r0, r1) of one tensor. */
static void *quantize_rows(void *arg) {
    qrows *q = arg;
    float *buf = sb_malloc(sizeof(float) * (size_t)q->ne0);
    if (!buf) {
        q->st = sb_error_set(&q->err, SB_ERR_NOMEM, "out of memory");
        return NULL;
    }
    const uint8_t *src = q->pe->src->data;
    uint8_t *dst = q->dst;
    for (int64_t r = q->r0; r < q->r1 && q->st == SB_OK; r++) {
        sb_cpu_dequantize_row(q->pe->src->type, src + (size_t)r * q->src_row, buf, q->ne0);
        q->st = quantize_row_checked(q, r, buf, dst + (size_t)r * q->dst_row, &q->err);
    }
    sb_free(buf);
    return NULL;
}

/* The writer's fill callback: one tensor's bytes, quantized on n threads. */
static sb_status fill_tensor(void *ud, size_t index, void *dst, uint64_t size, sb_error *err) {
    qjob *j = ud;
    const plan_entry *pe = &j->plan[index];
    if (size != pe->size)
        return sb_error_set(err, SB_ERR_INTERNAL, "tensor '%.*s': size mismatch", (int)pe->src->name.len,
                            pe->src->name.ptr);
    if (!pe->quantize) {
        memcpy(dst, pe->src->data, size);
        return SB_OK;
    }
    int64_t ne0 = pe->src->ne[0];
    int64_t rows = sb_gguf_tensor_nelements(pe->src) / ne0;
    uint64_t src_row = 0, dst_row = 0;
    sb_type_row_size(pe->src->type, (uint64_t)ne0, &src_row);
    sb_type_row_size(pe->type, (uint64_t)ne0, &dst_row);
    int nt = j->n_threads;
    if (nt > rows / 4)
        nt = rows / 4 > 0 ? (int)(rows / 4) : 1;
    qrows parts[64];
    pthread_t th[64];
    if (nt > 64)
        nt = 64;
    for (int t = 0; t < nt; t++) {
        parts[t] = (qrows){.pe = pe,
                           .dst = dst,
                           .r0 = rows * t / nt,
                           .r1 = rows * (t + 1) / nt,
                           .ne0 = ne0,
                           .src_row = (size_t)src_row,
                           .dst_row = (size_t)dst_row,
                           .st = SB_OK};
    }
    bool started[64] = {false};
    for (int t = 1; t < nt; t++)
        started[t] = pthread_create(&th[t], NULL, quantize_rows, &parts[t]) == 0;
    quantize_rows(&parts[0]);
    for (int t = 1; t < nt; t++) {
        if (started[t])
            pthread_join(th[t], NULL);
        else
            quantize_rows(&parts[t]); /* could not start a thread: do it here */
    }
    for (int t = 0; t < nt; t++)
        if (parts[t].st != SB_OK) {
            sb_error_set(err, parts[t].st, "tensor '%.*s': %s", (int)pe->src->name.len, pe->src->name.ptr,
                         parts[t].err.msg);
            return parts[t].st;
        }
    return SB_OK;
}

static int count_layers(const sb_gguf *g) {
    const sb_gguf_kv *arch = sb_gguf_find(g, "general.architecture");
    if (arch && arch->value.type == SB_GGUF_STRING) {
        char key[96];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch->value.v.str.len, arch->value.v.str.ptr);
        int64_t n;
        if (sb_gguf_get_int(g, key, &n, NULL) == SB_OK && n > 0 && n < 100000)
            return (int)n;
    }
    int n = 0;
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        n += contains(name, "ffn_down") != 0;
    }
    return n;
}

static sb_status plan_sorted(const sb_gguf *g, const sb_gguf_tensor **order, size_t nt, uint32_t ftype,
                             sb_gguf_writer *w, plan_entry *plan, sb_quantize_report *rep, sb_error *err);

/* llama.cpp's tensor order (llama_model_loader's weight_name_comparer):
 * tensors outside layers first, then layer by layer, by name within. */
static int layer_of(const sb_gguf_tensor *t) {
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(t->name.len < 63 ? t->name.len : 63), t->name.ptr);
    int layer = -1;
    if (sscanf(name, "blk.%d.", &layer) != 1)
        layer = -1;
    return layer;
}

static int cmp_tensor(const void *a, const void *b) {
    const sb_gguf_tensor *x = *(const sb_gguf_tensor *const *)a, *y = *(const sb_gguf_tensor *const *)b;
    int lx = layer_of(x), ly = layer_of(y);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
    int c = memcmp(x->name.ptr, y->name.ptr, n);
    if (c)
        return c;
    return (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

/* Chooses every tensor's type and registers it with the writer, in
 * llama.cpp's order. */
static sb_status plan_tensors(const sb_gguf *g, uint32_t ftype, sb_gguf_writer *w, plan_entry *plan,
                              sb_quantize_report *rep, sb_error *err) {
    size_t nt = sb_gguf_n_tensors(g);
    const sb_gguf_tensor **order = sb_calloc(nt ? nt : 1, sizeof *order);
    if (!order)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < nt; i++)
        order[i] = sb_gguf_tensor_at(g, i);
    qsort(order, nt, sizeof *order, cmp_tensor);
    sb_status st = plan_sorted(g, order, nt, ftype, w, plan, rep, err);
    sb_free(order);
    return st;
}

static sb_status plan_sorted(const sb_gguf *g, const sb_gguf_tensor **order, size_t nt, uint32_t ftype,
                             sb_gguf_writer *w, plan_entry *plan, sb_quantize_report *rep, sb_error *err) {
    sb_quant_ctx c = {.ftype = ftype, .n_ffn_down = count_layers(g)};
    c.has_output = sb_gguf_find_tensor(g, "output.weight") != NULL;
    for (size_t i = 0; i < nt; i++) {
        const sb_gguf_tensor *t = order[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (contains(name, "attn_v.weight") || contains(name, "attn_qkv.weight") || contains(name, "attn_kv_b.weight"))
            c.n_attn_v++;
    }
    for (size_t i = 0; i < nt; i++) {
        const sb_gguf_tensor *t = order[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        bool q, fb;
        uint32_t type = sb_quantize_choose_type(&c, name, (int)t->n_dims, t->ne, t->type, &q, &fb);
        if (q) {
            const sb_type_traits *st = sb_type_traits_of(t->type);
            if (!st || (t->type != SB_TYPE_F32 && t->type != SB_TYPE_F16 && t->type != SB_TYPE_BF16))
                return sb_error_set(err, SB_ERR_UNSUPPORTED,
                                    "tensor '%s' is %s; quantize from an F32, F16 or BF16 model (requantizing is not "
                                    "supported)",
                                    name, sb_type_name(t->type));
        }
        uint64_t rows = (uint64_t)(sb_gguf_tensor_nelements(t) / t->ne[0]), row = 0, size = 0;
        if (!sb_type_row_size(type, (uint64_t)t->ne[0], &row) || !sb_mul_u64(rows, row, &size))
            return sb_error_set(err, SB_ERR_FORMAT, "tensor '%s': size overflows", name);
        plan[i] = (plan_entry){t, type, q, size};
        sb_status st = sb_gguf_writer_add_tensor(w, name, type, t->n_dims, t->ne, NULL, NULL, err);
        if (st != SB_OK)
            return st;
        rep->n_tensors++;
        rep->n_quantized += q;
        rep->n_copied += !q;
        rep->n_fallback += fb;
        if (type < 40)
            rep->count_by_type[type]++;
        rep->bytes_in += t->size;
        rep->bytes_out += size;
    }
    return SB_OK;
}

sb_status sb_quantize_file(const char *in_path, const char *out_path, const sb_quantize_opts *o,
                           sb_quantize_report *report, sb_error *err) {
    sb_quantize_report local;
    sb_quantize_report *rep = report ? report : &local;
    memset(rep, 0, sizeof *rep);
    uint64_t t0 = sb_now_ns();
    if (!ftype_find(o->ftype))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "file type %u is not supported (Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K)",
                            (unsigned)o->ftype);
    sb_gguf *g = NULL;
    sb_status st = sb_gguf_open(in_path, &g, err);
    if (st != SB_OK)
        return st;
    sb_gguf_writer *w = sb_gguf_writer_create();
    size_t nt = sb_gguf_n_tensors(g);
    plan_entry *plan = sb_calloc(nt ? nt : 1, sizeof *plan);
    if (!w || !plan)
        st = sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; st == SB_OK && i < sb_gguf_n_kv(g); i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(g, i);
        char key[512];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
        st = sb_gguf_writer_set_value(w, key, &kv->value, err);
    }
    /* like gguf's set_val: an existing key is removed and appended again */
    if (st == SB_OK) {
        sb_gguf_writer_remove(w, "general.quantization_version");
        sb_gguf_writer_remove(w, "general.file_type");
        st = sb_gguf_writer_set_u32(w, "general.quantization_version", 2, err);
    }
    if (st == SB_OK)
        st = sb_gguf_writer_set_u32(w, "general.file_type", o->ftype, err);
    if (st == SB_OK)
        st = plan_tensors(g, o->ftype, w, plan, rep, err);
    if (st == SB_OK) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        qjob job = {.plan = plan, .n = nt, .n_threads = o->n_threads > 0 ? o->n_threads : (int)(ncpu > 0 ? ncpu : 1)};
        st = sb_gguf_writer_write(w, out_path, fill_tensor, &job, o->progress, o->progress_ud, err);
    }
    sb_free(plan);
    sb_gguf_writer_free(w);
    sb_gguf_close(g);
    rep->seconds = (double)(sb_now_ns() - t0) / 1e9;
    return st;
}
