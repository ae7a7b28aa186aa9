/*
 * cpu_backend_ops.c - the CPU backend's row and elementwise operations:
 * get_rows, gather_outputs, rmsnorm, matmul (through cpu_matmul.h), rope,
 * swiglu, add, scale. The order of floating-point operations follows ggml's
 * CPU ops where it matters for agreement with the reference (RMS norm sums
 * squares in double; rope builds its angles by repeated multiplication).
 */
#include "cpu_backend_internal.h"

#include <math.h>
#include <string.h>

/* ---- get_rows / gather ---------------------------------------------- */

typedef struct rows_job {
    cpu_backend *cb;
    const sb_tensor *src;
    sb_tensor *dst;
} rows_job;

/* A thread's share of get_rows: dequantizes its entries' rows (from the packed copy if repacked). */
static void get_rows_part(void *ctx, int ith, int nth) {
    rows_job *j = ctx;
    const cpu_weight *w = j->src->impl;
    const bool packed = w && w->has_mm && w->mm.packed; /* a repacked tied embedding */
    const uint8_t *table = w && w->rows ? w->rows : j->src->data;
    const int64_t ne0 = j->src->ne[0];
    const size_t rb = sb_tensor_row_bytes(j->src);
    float *out = j->dst->data;
    long i0, i1;
    sb_split_range(j->cb->n_tokens, ith, nth, 1, &i0, &i1);
    for (long i = i0; i < i1; i++) {
        int32_t t = j->cb->tokens[i];
        float *y = out + i * j->dst->ne[0];
        if (t < 0 || t >= j->src->ne[1]) { /* the model checks ids; never read outside the table */
            memset(y, 0, (size_t)ne0 * sizeof(float));
            continue;
        }
        if (packed) { /* the GGUF rows may be gone (table NULL): no address is formed from them */
            sb_cpu_weight_dequantize_row(&w->mm, t, y);
            continue;
        }
        const uint8_t *row = table + (size_t)t * rb;
        if (j->src->type == SB_TYPE_F32)
            memcpy(y, row, (size_t)ne0 * sizeof(float));
        else
            sb_cpu_dequantize_row(j->src->type, row, y, ne0);
    }
}

/* get_rows op (sb_backend.h). */
void sb_cpu_get_rows(sb_backend *b, const sb_tensor *table, sb_tensor *out) {
    cpu_backend *cb = cpu_of(b);
    rows_job j = {cb, table, out};
    sb_cpu_run(cb, get_rows_part, &j, (long)cb->n_tokens * table->ne[0] * 4);
}

/* gather_outputs op: ascending rows move forward, so memmove in order is safe in place. */
void sb_cpu_gather_outputs(sb_backend *b, const sb_tensor *x, sb_tensor *out) {
    cpu_backend *cb = cpu_of(b);
    const int64_t ne0 = x->ne[0];
    for (int i = 0; i < cb->n_outputs; i++) {
        const float *src = (const float *)x->data + (size_t)cb->out_rows[i] * ne0;
        float *dst = (float *)out->data + (size_t)i * out->ne[0];
        if (src != dst)
            memmove(dst, src, (size_t)ne0 * sizeof(float));
    }
}

/* ---- rmsnorm --------------------------------------------------------- */

typedef struct norm_job {
    const cpu_vec_fns *vec;
    const float *x, *w;
    float *y;
    float eps;
    long rows, len;
} norm_job;

/* rmsnorm's factor of one row: sum of squares in double, as ggml (the
 * fused projection uses it too, so both give the same bits). */
static float rms_scale(const cpu_vec_fns *vec, const float *x, long len, float eps) {
    const double sum = vec->sum_squares(x, len);
    const float mean = (float)(sum / (double)len);
    return 1.0f / sqrtf(mean + eps);
}

/* A thread's rows of rmsnorm: (x * scale) * w as ggml. */
static void rmsnorm_part(void *ctx, int ith, int nth) {
    norm_job *j = ctx;
    long r0, r1;
    sb_split_range(j->rows, ith, nth, 1, &r0, &r1);
    for (long r = r0; r < r1; r++) {
        const float *x = j->x + r * j->len;
        j->vec->scale_mul(j->y + r * j->len, x, rms_scale(j->vec, x, j->len, j->eps), j->w, j->len);
    }
}

/* rmsnorm op: rows of w->ne[0] (a whole activation row or one head). */
void sb_cpu_rmsnorm(sb_backend *b, const sb_tensor *x, const sb_tensor *w, float eps, sb_tensor *y, int n) {
    cpu_backend *cb = cpu_of(b);
    long len = (long)w->ne[0];
    norm_job j = {&cb->vec, x->data, sb_cpu_f32(w), y->data, eps, (long)n * (long)(x->ne[0] / len), len};
    sb_cpu_run(cb, rmsnorm_part, &j, j.rows * len);
}

/* ---- matmul ---------------------------------------------------------- */

typedef struct bias_job {
    float *y;
    const float *bias;
    long rows, len;
} bias_job;

/* A thread's rows of y += bias. */
static void bias_part(void *ctx, int ith, int nth) {
    bias_job *j = ctx;
    long r0, r1;
    sb_split_range(j->rows, ith, nth, 1, &r0, &r1);
    for (long r = r0; r < r1; r++) {
        float *y = j->y + r * j->len;
        for (long i = 0; i < j->len; i++)
            y[i] += j->bias[i];
    }
}

/* y[n][ne0] += bias (nothing when bias is NULL). */
static void add_bias(cpu_backend *cb, const sb_tensor *bias, sb_tensor *y, int n) {
    if (!bias)
        return;
    bias_job j = {y->data, sb_cpu_f32(bias), n, (long)y->ne[0]};
    sb_cpu_run(cb, bias_part, &j, (long)n * j.len);
}

void sb_cpu_matmul_op(sb_backend *b, const sb_tensor *w, const sb_tensor *x, const sb_tensor *bias, sb_tensor *y, int n,
                      bool accumulate) {
    cpu_backend *cb = cpu_of(b);
    const cpu_weight *cw = w->impl;
    sb_cpu_matmul(cb->pool, &cw->mm, x->data, n, y->data, accumulate, cb->mm_scratch);
    add_bias(cb, bias, y, n);
}

/* The kernels' weights and the output rows of a call of nw (1..SB_MM_MULTI_MAX) weights. */
static void call_weights(const sb_tensor *const *ws, sb_tensor *const *ys, int nw, const sb_cpu_weight **mw,
                         float **y) {
    for (int i = 0; i < nw; i++) {
        mw[i] = &((const cpu_weight *)ws[i]->impl)->mm;
        y[i] = ys[i]->data;
    }
}

/* ys[i] += biases[i] for the weights of a call (biases, or any of them, may be NULL). */
static void add_biases(cpu_backend *cb, const sb_tensor *const *biases, sb_tensor *const *ys, int nw, int n) {
    for (int i = 0; biases && i < nw; i++)
        add_bias(cb, biases[i], ys[i], n);
}

/* matmul_multi op: one sb_cpu_matmul_multi call (the activations quantized
 * once, the rows of all weights split over the threads together), then the
 * biases. */
void sb_cpu_matmul_multi_op(sb_backend *b, const sb_tensor *const *ws, int nw, const sb_tensor *x,
                            const sb_tensor *const *biases, sb_tensor *const *ys, int n) {
    cpu_backend *cb = cpu_of(b);
    const sb_cpu_weight *mw[SB_MM_MULTI_MAX] = {NULL};
    float *y[SB_MM_MULTI_MAX] = {NULL};
    if (nw < 1 || nw > SB_MM_MULTI_MAX)
        return;
    call_weights(ws, ys, nw, mw, y);
    if (sb_cpu_matmul_multi_scratch_size(mw, nw, n) <= cb->mm_scratch_bytes)
        sb_cpu_matmul_multi(cb->pool, mw, nw, x->data, n, y, false, cb->mm_scratch);
    else /* activation formats that do not share a buffer (mixed types): one call each */
        for (int i = 0; i < nw; i++)
            sb_cpu_matmul(cb->pool, mw[i], x->data, n, y[i], false, cb->mm_scratch);
    add_biases(cb, biases, ys, nw, n);
}

/* ---- fused projections ------------------------------------------------ */

/* What the transforms of a fused projection read (sb_mm_pre.ctx). */
typedef struct pre_ctx {
    const cpu_vec_fns *vec;
    const float *norm, *up;
    float eps;
} pre_ctx;

static void norm_prepare(const void *ctx, const float *x, int64_t cols, float *state) {
    const pre_ctx *p = ctx;
    state[0] = rms_scale(p->vec, x, (long)cols, p->eps);
}

static void norm_apply(const void *ctx, const float *x, int64_t off, int64_t len, const float *state, float *out) {
    const pre_ctx *p = ctx;
    p->vec->scale_mul(out, x + off, state[0], p->norm + off, (long)len);
}

static void swiglu_prepare(const void *ctx, const float *x, int64_t cols, float *state) {
    (void)ctx, (void)x, (void)cols, (void)state;
}

static void swiglu_apply(const void *ctx, const float *x, int64_t off, int64_t len, const float *state, float *out) {
    const pre_ctx *p = ctx;
    (void)state;
    p->vec->silu_mul(out, x + off, p->up + off, (long)len);
}

/* matmul_pre op: for one token with quantized weights, the rmsnorm or
 * SwiGLU is made by each thread as it quantizes the row (sb_mm_pre);
 * anything else is left to the model (false). */
bool sb_cpu_matmul_pre_op(sb_backend *b, const sb_matmul_pre *pre, const sb_tensor *const *ws, int nw,
                          const sb_tensor *x, const sb_tensor *const *biases, sb_tensor *const *ys, int n,
                          bool accumulate) {
    cpu_backend *cb = cpu_of(b);
    if (nw < 1 || nw > SB_MM_MULTI_MAX || (accumulate && nw != 1))
        return false;
    const sb_cpu_weight *mw[SB_MM_MULTI_MAX];
    float *y[SB_MM_MULTI_MAX];
    call_weights(ws, ys, nw, mw, y);
    const bool whole_row = pre->kind != SB_PRE_RMSNORM || pre->norm->ne[0] == x->ne[0];
    if (!whole_row || !sb_cpu_matmul_pre_fuses(mw, nw, n) ||
        sb_cpu_matmul_multi_scratch_size(mw, nw, n) > cb->mm_scratch_bytes)
        return false;
    const pre_ctx pc = {&cb->vec, pre->kind == SB_PRE_RMSNORM ? sb_cpu_f32(pre->norm) : NULL,
                        pre->kind == SB_PRE_SWIGLU ? pre->up->data : NULL, pre->eps};
    const sb_mm_pre mp = pre->kind == SB_PRE_RMSNORM ? (sb_mm_pre){norm_prepare, norm_apply, &pc}
                                                     : (sb_mm_pre){swiglu_prepare, swiglu_apply, &pc};
    sb_cpu_matmul_multi_pre(cb->pool, mw, nw, &mp, x->data, n, y, accumulate, cb->mm_scratch);
    add_biases(cb, biases, ys, nw, n);
    return true;
}

/* ---- rope ------------------------------------------------------------ */

/* ggml's YaRN helpers: the ramp between the extrapolated and interpolated
 * angle for dimension pair i0/2, and the dimension range it spans. */
static float yarn_ramp(float low, float high, int i0) {
    const float y = (float)(i0 / 2 - low) / fmaxf(0.001f, high - low);
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

/* ggml_rope_yarn_corr_dim: the dimension at which a wavelength spans n_rot turns of the original context. */
static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2.0f * (float)M_PI)) / (2.0f * logf(base));
}

/* Makes the per-call constants of rope: false if p's n_rot does not fit
 * head_dim (the model validates n_rot at load). */
bool sb_cpu_rope_plan_init(cpu_rope_plan *rp, const sb_rope_params *p, int head_dim) {
    if (p->n_rot <= 0 || p->n_rot > head_dim || p->n_rot > SB_CPU_MAX_ROT || (p->n_rot & 1))
        return false;
    *rp = (cpu_rope_plan){.p = p, .ff = p->freq_factors ? sb_cpu_f32(p->freq_factors) : NULL};
    rp->theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    if (p->ext_factor != 0.0f) {
        const float start = floorf(yarn_corr_dim(p->n_rot, p->n_ctx_orig, p->beta_fast, p->freq_base));
        const float end = ceilf(yarn_corr_dim(p->n_rot, p->n_ctx_orig, p->beta_slow, p->freq_base));
        rp->corr[0] = fmaxf(0.0f, start);
        rp->corr[1] = fminf((float)(p->n_rot - 1), end);
    }
    return true;
}

/* Fills cs[i0], cs[i0+1] with cos, sin of pair i0/2 at position pos, as
 * ggml_rope_cache_init does. */
void sb_cpu_rope_table(const cpu_rope_plan *rp, int32_t pos, float *cs) {
    const sb_rope_params *p = rp->p;
    float theta = (float)pos;
    for (int i0 = 0; i0 < p->n_rot; i0 += 2) {
        const float ff = rp->ff ? rp->ff[i0 / 2] : 1.0f;
        const float theta_extrap = theta / ff;
        const float theta_interp = p->freq_scale * theta_extrap;
        float t = theta_interp, mscale = p->attn_factor;
        if (p->ext_factor != 0.0f) {
            const float mix = yarn_ramp(rp->corr[0], rp->corr[1], i0) * p->ext_factor;
            t = theta_interp * (1 - mix) + theta_extrap * mix;
            mscale *= 1.0f + 0.1f * logf(1.0f / p->freq_scale);
        }
        cs[i0] = cosf(t) * mscale;
        cs[i0 + 1] = sinf(t) * mscale;
        theta *= rp->theta_scale;
    }
}

/* Rotates n_heads consecutive heads of head_dim values at x by the table cs. */
void sb_cpu_rope_heads(const cpu_rope_plan *rp, const float *cs, float *x, int n_heads, int head_dim) {
    const int n_rot = rp->p->n_rot, half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        if (rp->p->mode == SB_ROPE_NEOX) {
            for (int k = 0; k < half; k++) {
                const float c = cs[2 * k], s = cs[2 * k + 1];
                const float x0 = v[k], x1 = v[k + half];
                v[k] = x0 * c - x1 * s;
                v[k + half] = x0 * s + x1 * c;
            }
        } else {
            for (int k = 0; k < n_rot; k += 2) {
                const float c = cs[k], s = cs[k + 1];
                const float x0 = v[k], x1 = v[k + 1];
                v[k] = x0 * c - x1 * s;
                v[k + 1] = x0 * s + x1 * c;
            }
        }
    }
}

typedef struct rope_job {
    cpu_backend *cb;
    cpu_rope_plan plan;
    float *x;
    int n, n_heads, head_dim, row;
} rope_job;

/* A thread's entries of rope: one cos/sin table per entry, applied to every head. */
static void rope_part(void *ctx, int ith, int nth) {
    rope_job *j = ctx;
    float *cs = j->cb->rope_theta + (size_t)ith * SB_CPU_MAX_ROT;
    long i0, i1;
    sb_split_range(j->n, ith, nth, 1, &i0, &i1);
    for (long i = i0; i < i1; i++) {
        sb_cpu_rope_table(&j->plan, j->cb->pos[i], cs);
        sb_cpu_rope_heads(&j->plan, cs, j->x + (size_t)i * j->row, j->n_heads, j->head_dim);
    }
}

/* rope op: in place over n entries; YaRN corrections as ggml computes them. */
void sb_cpu_rope(sb_backend *b, sb_tensor *x, int n_heads, int head_dim, const sb_rope_params *p, int n) {
    cpu_backend *cb = cpu_of(b);
    rope_job j = {.cb = cb, .x = x->data, .n = n, .n_heads = n_heads, .head_dim = head_dim, .row = (int)x->ne[0]};
    if (n > cb->n_tokens || !sb_cpu_rope_plan_init(&j.plan, p, head_dim))
        return; /* the model validates n_rot at load */
    sb_cpu_run(cb, rope_part, &j, (long)n * n_heads * p->n_rot * 4);
}

/* ---- elementwise ----------------------------------------------------- */

typedef enum { EW_SWIGLU, EW_ADD, EW_SCALE } ew_kind;

typedef struct ew_job {
    const cpu_vec_fns *vec;
    ew_kind kind;
    const float *a, *b;
    float *y;
    float s;
    long n;
} ew_job;

/* A thread's share of an elementwise op. */
static void ew_part(void *ctx, int ith, int nth) {
    ew_job *j = ctx;
    long i0, i1;
    sb_split_range(j->n, ith, nth, 16, &i0, &i1);
    const float *a = j->a, *b = j->b;
    float *y = j->y;
    switch (j->kind) {
    case EW_SWIGLU: j->vec->silu_mul(y + i0, a + i0, b + i0, i1 - i0); break;
    case EW_ADD:
        for (long i = i0; i < i1; i++)
            y[i] = a[i] + b[i];
        break;
    case EW_SCALE:
        for (long i = i0; i < i1; i++)
            y[i] = a[i] * j->s;
        break;
    }
}

/* swiglu op: y = silu(gate) * up. */
void sb_cpu_swiglu(sb_backend *b, const sb_tensor *gate, const sb_tensor *up, sb_tensor *y, int n) {
    ew_job j = {&cpu_of(b)->vec, EW_SWIGLU, gate->data, up->data, y->data, 0, (long)n * gate->ne[0]};
    sb_cpu_run(cpu_of(b), ew_part, &j, j.n);
}

/* add op: y = a + x. */
void sb_cpu_add(sb_backend *b, const sb_tensor *a, const sb_tensor *x, sb_tensor *y, int n) {
    ew_job j = {NULL, EW_ADD, a->data, x->data, y->data, 0, (long)n * a->ne[0]};
    sb_cpu_run(cpu_of(b), ew_part, &j, j.n);
}

/* scale op: y = x * s. */
void sb_cpu_scale(sb_backend *b, const sb_tensor *x, float s, sb_tensor *y, int n) {
    ew_job j = {NULL, EW_SCALE, x->data, NULL, y->data, s, (long)n * x->ne[0]};
    sb_cpu_run(cpu_of(b), ew_part, &j, j.n);
}
