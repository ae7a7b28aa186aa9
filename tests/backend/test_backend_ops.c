/*
 * test_backend_ops.c - the CPU backend's operations against naive reference
 * implementations (double precision) on random data: rmsnorm, rope (normal,
 * neox, freq factors, YaRN, partial rotation), kv_store and kv_copy_page,
 * paged attention (GQA, page tables out of order, several sequences, F32
 * and F16 caches, 1 and 2 threads), get_rows, gather_outputs, matmul with
 * bias and accumulate, fused projections (matmul_pre) against the ops they
 * fuse (and which calls are left to the model), swiglu/add/scale, topk with penalties/bias/temperature,
 * batch validation, and the SIMD vector loops against the scalar ones.
 */
#include "backend_test_util.h"
#include "cpu_backend_internal.h"
#include "sb_cpu_backend.h"
#include "sb_half.h"
#include "sb_rng.h"
#include "sb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sb_rng g_rng;

static float frand(void) { return 2.0f * sb_rng_uniformf(&g_rng) - 1.0f; }

static sb_backend *make_backend(int threads) {
    sb_cpu_backend_opts o = {.n_threads = threads, .repack = true};
    sb_backend *b = NULL;
    sb_error err;
    SB_CHECKF(sb_cpu_backend_create(&o, &b, &err) == SB_OK, "%s", err.msg);
    return b;
}

/* An F32 activation [rows][width] filled with values (or random if NULL). */
static sb_tensor act(sb_backend *b, const char *name, int64_t width, int64_t rows, const float *values) {
    sb_tensor t = bt_act_f32(b, name, width, rows);
    float *p = t.data;
    for (int64_t i = 0; i < width * rows; i++)
        p[i] = values ? values[i] : frand();
    return t;
}

/* A 1-D F32 weight. */
static sb_tensor vec_weight(sb_backend *b, const char *name, const float *v, int64_t n) {
    sb_tensor t;
    sb_tensor_init(&t, name, SB_TYPE_F32, 1, &n);
    t.usage = SB_USE_VECTOR;
    sb_error err;
    SB_CHECKF(sb_backend_weight_load(b, &t, v, &err) == SB_OK, "%s", err.msg);
    return t;
}

static double max_diff(const float *a, const double *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        m = d > m || isnan(d) ? (isnan(d) ? INFINITY : d) : m;
    }
    return m;
}

/* A batch of one sequence 0..n-1 plus a KV pool, for ops that read positions. */
typedef struct simple_batch {
    int32_t tok[64], pos[64], seq[64], rows[64], table[16];
    const int32_t *tables[1];
    int32_t np;
    sb_batch b;
} simple_batch;

static void setup_simple(sb_backend *be, simple_batch *s, int n, int pos0) {
    sb_kv_config kv = {.n_layers = 1,
                       .n_kv_heads = 1,
                       .head_dim_k = 8,
                       .head_dim_v = 8,
                       .page_size = 16,
                       .n_pages = 16,
                       .type = SB_TYPE_F32};
    sb_error err;
    SB_CHECK(sb_backend_kv_init(be, &kv, &err) == SB_OK);
    SB_CHECK(sb_backend_reserve(be, 64, 64, &err) == SB_OK);
    for (int i = 0; i < n; i++) {
        s->tok[i] = i % 7;
        s->pos[i] = pos0 + 3 * i;
        s->seq[i] = 0;
        s->rows[i] = i;
    }
    for (int i = 0; i < 16; i++)
        s->table[i] = 15 - i;
    s->tables[0] = s->table;
    s->np = 16;
    s->b = (sb_batch){n, s->tok, s->pos, s->seq, 1, s->tables, &s->np, n, s->rows};
    SB_CHECKF(sb_backend_set_batch(be, &s->b, &err) == SB_OK, "%s", err.msg);
}

/* ---- rmsnorm ------------------------------------------------------------- */

static void test_rmsnorm(void) {
    sb_backend *be = make_backend(2);
    const int n = 5, W = 48, H = 16;
    float w[48], wh[16];
    for (int i = 0; i < W; i++)
        w[i] = 1.0f + 0.3f * frand();
    for (int i = 0; i < H; i++)
        wh[i] = 1.0f + 0.3f * frand();
    sb_tensor x = act(be, "x", W, n, NULL), y = act(be, "y", W, n, NULL);
    sb_tensor tw = vec_weight(be, "w", w, W), twh = vec_weight(be, "wh", wh, H);
    const float eps = 1e-5f;
    double ref[5 * 48];
    /* full rows */
    for (int r = 0; r < n; r++) {
        const float *xr = (float *)x.data + r * W;
        double ss = 0;
        for (int i = 0; i < W; i++)
            ss += (double)xr[i] * xr[i];
        double sc = 1.0 / sqrt(ss / W + eps);
        for (int i = 0; i < W; i++)
            ref[r * W + i] = xr[i] * sc * w[i];
    }
    be->ops->rmsnorm(be, &x, &tw, eps, &y, n);
    SB_CHECKF(max_diff(y.data, ref, (size_t)n * W) < 1e-5, "rmsnorm rows: %g", max_diff(y.data, ref, (size_t)n * W));
    /* per head of 16, in place */
    for (int r = 0; r < n * W / H; r++) {
        const float *xr = (float *)x.data + r * H;
        double ss = 0;
        for (int i = 0; i < H; i++)
            ss += (double)xr[i] * xr[i];
        double sc = 1.0 / sqrt(ss / H + eps);
        for (int i = 0; i < H; i++)
            ref[r * H + i] = xr[i] * sc * wh[i];
    }
    be->ops->rmsnorm(be, &x, &twh, eps, &x, n);
    SB_CHECKF(max_diff(x.data, ref, (size_t)n * W) < 1e-5, "rmsnorm heads: %g", max_diff(x.data, ref, (size_t)n * W));
    sb_backend_release(be, &x);
    sb_backend_release(be, &y);
    sb_backend_release(be, &tw);
    sb_backend_release(be, &twh);
    sb_backend_destroy(be);
}

/* ---- rope ---------------------------------------------------------------- */

/* The rotation angle of pair i at position p (YaRN included), in double. */
static void ref_angle(const sb_rope_params *p, const float *ff, int pos, int i, double *theta, double *mscale) {
    double base = pow((double)p->freq_base, -2.0 * i / p->n_rot);
    double ext = pos * base / (ff ? ff[i] : 1.0);
    double interp = p->freq_scale * ext;
    *theta = interp;
    *mscale = p->attn_factor;
    if (p->ext_factor != 0.0f) {
        double cd0 = p->n_rot * log(p->n_ctx_orig / (p->beta_fast * 2 * M_PI)) / (2 * log(p->freq_base));
        double cd1 = p->n_rot * log(p->n_ctx_orig / (p->beta_slow * 2 * M_PI)) / (2 * log(p->freq_base));
        double lo = fmax(0, floor(cd0)), hi = fmin(p->n_rot - 1, ceil(cd1));
        double y = (i - lo) / fmax(0.001, hi - lo);
        double mix = (1 - fmin(1, fmax(0, y))) * p->ext_factor;
        *theta = interp * (1 - mix) + ext * mix;
        *mscale *= 1 + 0.1 * log(1.0 / p->freq_scale);
    }
}

static void check_rope(sb_backend *be, sb_rope_mode mode, int n_rot, bool factors, bool yarn) {
    const int n = 6, heads = 3, hd = 16;
    simple_batch sbt;
    setup_simple(be, &sbt, n, 2);
    float ffv[8];
    for (int i = 0; i < 8; i++)
        ffv[i] = 1.0f + 7.0f * sb_rng_uniformf(&g_rng);
    sb_tensor tff = vec_weight(be, "ff", ffv, n_rot / 2);
    sb_rope_params p = {.mode = mode,
                        .n_rot = n_rot,
                        .freq_base = 10000.0f,
                        .freq_scale = yarn ? 0.25f : 1.0f,
                        .freq_factors = factors ? &tff : NULL,
                        .ext_factor = yarn ? 1.0f : 0.0f,
                        .attn_factor = yarn ? 0.9f : 1.0f,
                        .beta_fast = 32.0f,
                        .beta_slow = 1.0f,
                        .n_ctx_orig = 512};
    sb_tensor x = act(be, "x", heads * hd, n, NULL);
    float *orig = malloc(sizeof(float) * heads * hd * n);
    memcpy(orig, x.data, sizeof(float) * heads * hd * n);
    double *ref = malloc(sizeof(double) * heads * hd * n);
    for (int e = 0; e < n; e++)
        for (int h = 0; h < heads; h++) {
            const float *v = orig + (e * heads + h) * hd;
            double *o = ref + (e * heads + h) * hd;
            for (int d = 0; d < hd; d++)
                o[d] = v[d];
            for (int i = 0; i < n_rot / 2; i++) {
                double th, ms;
                ref_angle(&p, factors ? ffv : NULL, sbt.pos[e], i, &th, &ms);
                int a = mode == SB_ROPE_NEOX ? i : 2 * i, b = mode == SB_ROPE_NEOX ? i + n_rot / 2 : 2 * i + 1;
                o[a] = ms * (v[a] * cos(th) - v[b] * sin(th));
                o[b] = ms * (v[a] * sin(th) + v[b] * cos(th));
            }
        }
    be->ops->rope(be, &x, heads, hd, &p, n);
    double d = max_diff(x.data, ref, (size_t)heads * hd * n);
    SB_CHECKF(d < 2e-4, "rope mode %d n_rot %d factors %d yarn %d: %g", mode, n_rot, factors, yarn, d);
    free(orig);
    free(ref);
    sb_backend_release(be, &x);
    sb_backend_release(be, &tff);
}

static void test_rope(void) {
    sb_backend *be = make_backend(1);
    check_rope(be, SB_ROPE_NORMAL, 16, false, false);
    check_rope(be, SB_ROPE_NEOX, 16, false, false);
    check_rope(be, SB_ROPE_NORMAL, 16, true, false);
    check_rope(be, SB_ROPE_NEOX, 16, true, false);
    check_rope(be, SB_ROPE_NORMAL, 8, false, false); /* partial rotation: the rest stays */
    check_rope(be, SB_ROPE_NEOX, 8, false, false);
    check_rope(be, SB_ROPE_NORMAL, 16, false, true);
    check_rope(be, SB_ROPE_NEOX, 16, true, true);
    sb_backend_destroy(be);
}

/* ---- KV cache and attention ------------------------------------------------ */

enum { A_HEADS = 6, A_KV = 2, A_DK = 16, A_DV = 24, A_PS = 4, A_PAGES = 24, A_LAYERS = 2 };

/* Host mirror of what was stored, for the reference: [seq][pos][kv][d]. */
typedef struct kv_mirror {
    float k[3][40][A_KV][A_DK];
    float v[3][40][A_KV][A_DV];
} kv_mirror;

/* Tables: 3 sequences of 8 pages each, scrambled over the 24 pages. */
static const int32_t seq_pages[3][8] = {
    {7, 19, 2, 23, 11, 5, 16, 0}, {3, 14, 21, 9, 1, 18, 12, 6}, {22, 10, 4, 17, 8, 20, 13, 15}};

/* nq query heads over the A_KV KV heads (group nq / A_KV). */
static void run_attention_case(int threads, uint32_t kv_type, int nq) {
    sb_backend *be = make_backend(threads);
    sb_kv_config kv = {A_LAYERS, A_KV, A_DK, A_DV, A_PS, A_PAGES, kv_type};
    sb_error err;
    SB_CHECK(sb_backend_kv_init(be, &kv, &err) == SB_OK);
    SB_CHECK(sb_backend_reserve(be, 64, 64, &err) == SB_OK);
    static kv_mirror mir;
    const int32_t *tables[3] = {seq_pages[0], seq_pages[1], seq_pages[2]};
    int32_t np[3] = {8, 8, 8};
    const float scale = 0.3f;
    /* pass 1: prefill seq 0 (0..13), seq 2 (0..20) interleaved; pass 2: decode
     * entries seq 0 @14, seq 1 @0, seq 2 @21 and a chunk seq 1 @1..5 */
    const int passes = 2;
    int lens[2] = {35, 8};
    for (int pass = 0; pass < passes; pass++) {
        int n = lens[pass];
        int32_t tok[40], pos[40], seq[40], rows[40];
        for (int i = 0; i < n; i++) {
            tok[i] = 0;
            rows[i] = i;
        }
        if (pass == 0) { /* 14 entries of seq 0, 21 of seq 2, interleaved */
            int p0 = 0, p2 = 0;
            for (int i = 0; i < n; i++) {
                bool s0 = p0 < 14 && (i % 5 < 2 || p2 >= 21);
                seq[i] = s0 ? 0 : 2;
                pos[i] = s0 ? p0++ : p2++;
            }
        } else {
            int32_t s[8] = {0, 1, 2, 1, 1, 1, 1, 1}, p[8] = {14, 0, 21, 1, 2, 3, 4, 5};
            memcpy(seq, s, sizeof s);
            memcpy(pos, p, sizeof p);
        }
        sb_batch b = {n, tok, pos, seq, 3, tables, np, n, rows};
        SB_CHECKF(sb_backend_set_batch(be, &b, &err) == SB_OK, "%s", err.msg);
        for (int layer = 0; layer < A_LAYERS; layer++) {
            sb_tensor k = act(be, "k", A_KV * A_DK, n, NULL), v = act(be, "v", A_KV * A_DV, n, NULL);
            sb_tensor q = act(be, "q", nq * A_DK, n, NULL), out = act(be, "out", nq * A_DV, n, NULL);
            if (layer == 1)
                for (int i = 0; i < n; i++)
                    for (int h = 0; h < A_KV; h++) {
                        float *kd = (float *)k.data + (i * A_KV + h) * A_DK,
                              *vd = (float *)v.data + (i * A_KV + h) * A_DV;
                        memcpy(mir.k[seq[i]][pos[i]][h], kd, sizeof(float) * A_DK);
                        memcpy(mir.v[seq[i]][pos[i]][h], vd, sizeof(float) * A_DV);
                        if (kv_type == SB_TYPE_F16) { /* the reference sees the rounded cache */
                            for (int d = 0; d < A_DK; d++)
                                mir.k[seq[i]][pos[i]][h][d] = sb_fp16_to_f32(sb_f32_to_fp16(kd[d]));
                            for (int d = 0; d < A_DV; d++)
                                mir.v[seq[i]][pos[i]][h][d] = sb_fp16_to_f32(sb_f32_to_fp16(vd[d]));
                        }
                    }
            be->ops->kv_store(be, layer, &k, &v, n);
            be->ops->attention(be, layer, &q, nq, scale, &out, n);
            if (layer == 1) {
                /* white box: the stored values sit where the layout says */
                cpu_backend *cb = (cpu_backend *)be;
                bool at = true;
                for (int i = 0; i < n; i++)
                    for (int h = 0; h < A_KV; h++) {
                        const uint8_t *kp = sb_cpu_k_at(cb, 1, tables[seq[i]][pos[i] / A_PS], h, pos[i] % A_PS);
                        float k0 = kv_type == SB_TYPE_F32 ? *(const float *)kp : sb_fp16_to_f32(*(const uint16_t *)kp);
                        at = at && k0 == mir.k[seq[i]][pos[i]][h][0];
                    }
                SB_CHECK(at);
                /* reference attention */
                double worst = 0;
                for (int i = 0; i < n; i++)
                    for (int h = 0; h < nq; h++) {
                        const int kvh = h / (nq / A_KV), s = seq[i], np1 = pos[i] + 1;
                        const float *qv = (float *)q.data + (i * nq + h) * A_DK;
                        double sc[40], mx = -INFINITY, sum = 0, o[A_DV] = {0};
                        for (int j = 0; j < np1; j++) {
                            double d = 0;
                            for (int c = 0; c < A_DK; c++)
                                d += (double)qv[c] * mir.k[s][j][kvh][c];
                            sc[j] = d * scale;
                            mx = sc[j] > mx ? sc[j] : mx;
                        }
                        for (int j = 0; j < np1; j++)
                            sum += sc[j] = exp(sc[j] - mx);
                        for (int j = 0; j < np1; j++)
                            for (int c = 0; c < A_DV; c++)
                                o[c] += sc[j] / sum * mir.v[s][j][kvh][c];
                        double d = max_diff((float *)out.data + (i * nq + h) * A_DV, o, A_DV);
                        worst = d > worst ? d : worst;
                    }
                SB_CHECKF(worst < 2e-5, "attention (%d threads, %s cache, %d heads, pass %d): %g", threads,
                          sb_type_name(kv_type), nq, pass, worst);
            }
            sb_backend_release(be, &k);
            sb_backend_release(be, &v);
            sb_backend_release(be, &q);
            sb_backend_release(be, &out);
        }
    }
    /* copy-on-write of a partially filled page: seq 2's page 5 (positions
     * 20..21) copied into a fresh page reads back the same */
    be->ops->kv_copy_page(be, seq_pages[2][5], seq_pages[0][7], 2);
    cpu_backend *cb = (cpu_backend *)be;
    size_t bytes = cb->kv_elt * 2, krow = cb->kv_elt * A_PS; /* K is transposed in a page: a row per dimension */
    for (int l = 0; l < A_LAYERS; l++)
        for (int h = 0; h < A_KV; h++) {
            for (int c = 0; c < A_DK; c++)
                SB_CHECK(memcmp(sb_cpu_k_at(cb, l, seq_pages[2][5], h, 0) + c * krow,
                                sb_cpu_k_at(cb, l, seq_pages[0][7], h, 0) + c * krow, bytes) == 0);
            SB_CHECK(memcmp(sb_cpu_v_at(cb, l, seq_pages[2][5], h, 0), sb_cpu_v_at(cb, l, seq_pages[0][7], h, 0),
                            bytes * A_DV) == 0);
        }
    sb_backend_destroy(be);
}

static void test_attention(void) {
    run_attention_case(1, SB_TYPE_F32, A_HEADS);
    run_attention_case(2, SB_TYPE_F32, A_HEADS);
    run_attention_case(2, SB_TYPE_F16, A_HEADS);
    run_attention_case(2, SB_TYPE_F16, A_KV);          /* group 1 */
    run_attention_case(1, SB_TYPE_F32, 9 * A_KV);      /* group 9: two blocks of SB_CPU_ATT_HEADS */
    run_attention_case(2, SB_TYPE_F16, 17 * A_KV);     /* group 17: three blocks */
}

/* ---- batch validation ----------------------------------------------------- */

static void test_set_batch_checks(void) {
    sb_backend *be = make_backend(1);
    sb_error err;
    int32_t tok[2] = {0, 0}, pos[2] = {0, 1}, seq[2] = {0, 0}, rows[2] = {0, 1}, table[2] = {0, 1};
    const int32_t *tables[1] = {table};
    int32_t np = 2;
    sb_batch b = {2, tok, pos, seq, 1, tables, &np, 2, rows};
    SB_CHECK(sb_backend_set_batch(be, &b, &err) != SB_OK); /* no KV cache yet */
    sb_kv_config kv = {1, 1, 8, 8, 16, 2, SB_TYPE_F32};
    SB_CHECK(sb_backend_kv_init(be, &kv, &err) == SB_OK);
    SB_CHECK(sb_backend_reserve(be, 2, 2, &err) == SB_OK);
    SB_CHECK(sb_backend_set_batch(be, &b, &err) == SB_OK);
    pos[1] = 32; /* beyond 2 pages of 16 */
    SB_CHECK(sb_backend_set_batch(be, &b, &err) == SB_ERR_RANGE);
    pos[1] = 1;
    table[1] = 2; /* outside the pool */
    SB_CHECK(sb_backend_set_batch(be, &b, &err) == SB_ERR_RANGE);
    table[1] = 1;
    rows[0] = 1; /* not ascending */
    SB_CHECK(sb_backend_set_batch(be, &b, &err) == SB_ERR_RANGE);
    rows[0] = 0;
    seq[1] = 1; /* no such sequence */
    SB_CHECK(sb_backend_set_batch(be, &b, &err) == SB_ERR_RANGE);
    seq[1] = 0;
    b.n_tokens = 3; /* more than reserved */
    SB_CHECK(sb_backend_set_batch(be, &b, &err) == SB_ERR_RANGE);
    kv.type = SB_TYPE_Q4_0;
    SB_CHECK(sb_backend_kv_init(be, &kv, &err) == SB_ERR_UNSUPPORTED);
    sb_backend_destroy(be);
}

/* ---- get_rows, gather, matmul ---------------------------------------------- */

static void test_get_rows_and_gather(void) {
    sb_backend *be = make_backend(2);
    simple_batch sbt;
    setup_simple(be, &sbt, 9, 0); /* tokens i % 7 */
    enum { E = 64, R = 7 };
    float f32[R * E];
    uint16_t f16[R * E];
    uint8_t q8[R * (E / 32) * 34];
    for (int i = 0; i < R * E; i++) {
        f32[i] = frand();
        f16[i] = sb_f32_to_fp16(f32[i]);
    }
    double ref8[R * E];
    for (int b = 0; b < R * E / 32; b++) {
        float d = 0.01f + 0.01f * sb_rng_uniformf(&g_rng);
        uint16_t dh = sb_f32_to_fp16(d);
        memcpy(q8 + b * 34, &dh, 2);
        for (int j = 0; j < 32; j++) {
            int8_t qv = (int8_t)(sb_rng_next(&g_rng) & 255);
            q8[b * 34 + 2 + j] = (uint8_t)qv;
            ref8[b * 32 + j] = (double)sb_fp16_to_f32(dh) * qv;
        }
    }
    const void *data[3] = {f32, f16, q8};
    uint32_t types[3] = {SB_TYPE_F32, SB_TYPE_F16, SB_TYPE_Q8_0};
    for (int t = 0; t < 6; t++) { /* each type as a plain table, then as a tied embedding (maybe repacked) */
        sb_tensor table;
        int64_t ne[2] = {E, R};
        sb_tensor_init(&table, "table", types[t % 3], 2, ne);
        table.usage = t < 3 ? SB_USE_ROWS : SB_USE_ROWS | SB_USE_MATMUL;
        sb_error err;
        SB_CHECKF(sb_backend_weight_load(be, &table, data[t % 3], &err) == SB_OK, "%s", err.msg);
        sb_tensor out = act(be, "out", E, 9, NULL);
        be->ops->get_rows(be, &table, &out);
        double ref[9 * E];
        for (int i = 0; i < 9; i++)
            for (int c = 0; c < E; c++) {
                int r = sbt.tok[i];
                ref[i * E + c] = t % 3 == 0   ? f32[r * E + c]
                                 : t % 3 == 1 ? sb_fp16_to_f32(f16[r * E + c])
                                              : ref8[r * E + c];
            }
        SB_CHECKF(max_diff(out.data, ref, 9 * E) < 1e-6, "get_rows %s usage %u", sb_type_name(types[t % 3]),
                  table.usage);
        sb_backend_release(be, &out);
        sb_backend_release(be, &table);
    }
    /* gather rows 1, 4, 8 in place */
    int32_t rows[3] = {1, 4, 8};
    sbt.b.n_outputs = 3;
    sbt.b.output_rows = rows;
    sb_error err;
    SB_CHECK(sb_backend_set_batch(be, &sbt.b, &err) == SB_OK);
    sb_tensor x = act(be, "x", E, 9, NULL);
    double ref[3 * E];
    for (int i = 0; i < 3; i++)
        for (int c = 0; c < E; c++)
            ref[i * E + c] = ((float *)x.data)[rows[i] * E + c];
    be->ops->gather_outputs(be, &x, &x);
    SB_CHECK(max_diff(x.data, ref, 3 * E) == 0);
    sb_backend_release(be, &x);
    sb_backend_destroy(be);
}

static void test_matmul_bias_accumulate(void) {
    sb_backend *be = make_backend(2);
    enum { K = 64, N = 48, ROWS = 5 };
    float w[N * K], bias[N];
    for (int i = 0; i < N * K; i++)
        w[i] = frand();
    for (int i = 0; i < N; i++)
        bias[i] = frand();
    sb_tensor tw, tb = vec_weight(be, "b", bias, N);
    int64_t ne[2] = {K, N};
    sb_tensor_init(&tw, "w", SB_TYPE_F32, 2, ne);
    tw.usage = SB_USE_MATMUL;
    sb_error err;
    SB_CHECK(sb_backend_weight_load(be, &tw, w, &err) == SB_OK);
    SB_CHECK(sb_backend_reserve(be, ROWS, ROWS, &err) == SB_OK);
    sb_backend_stats st;
    be->ops->stats(be, &st); /* the matmul weight as held (F32: its bytes); the bias is not streamed by matmul */
    SB_CHECK_EQ_INT(st.matmul_bytes, (int64_t)sizeof w);
    SB_CHECK(st.weight_bytes > st.matmul_bytes);
    /* a Q5_0 weight is held in its own 22 bytes a block (packed, no conversion) */
    uint8_t q5[22 * 2 * 16] = {0};
    sb_tensor tq;
    int64_t neq[2] = {64, 16};
    sb_tensor_init(&tq, "q5", SB_TYPE_Q5_0, 2, neq);
    tq.usage = SB_USE_MATMUL;
    SB_CHECK(sb_backend_weight_load(be, &tq, q5, &err) == SB_OK);
    be->ops->stats(be, &st);
    SB_CHECK_EQ_INT(st.matmul_bytes, (int64_t)sizeof w + 22 * 2 * 16);
    sb_backend_release(be, &tq);
    sb_tensor x = act(be, "x", K, ROWS, NULL), y = act(be, "y", N, ROWS, NULL);
    double ref[ROWS * N];
    for (int r = 0; r < ROWS; r++)
        for (int o = 0; o < N; o++) {
            double s = ((float *)y.data)[r * N + o] + bias[o];
            for (int c = 0; c < K; c++)
                s += (double)((float *)x.data)[r * K + c] * w[o * K + c];
            ref[r * N + o] = s;
        }
    be->ops->matmul(be, &tw, &x, &tb, &y, ROWS, true);
    SB_CHECKF(max_diff(y.data, ref, ROWS * N) < 1e-4, "matmul: %g", max_diff(y.data, ref, ROWS * N));
    sb_backend_release(be, &x);
    sb_backend_release(be, &y);
    sb_backend_release(be, &tw);
    sb_backend_release(be, &tb);
    be->ops->stats(be, &st);
    SB_CHECK_EQ_INT(st.weight_bytes, 0);
    SB_CHECK_EQ_INT(st.matmul_bytes, 0);
    sb_backend_destroy(be);
}

/* ---- fused projections (matmul_pre) ------------------------------------------ */

/* A [rows][cols] matmul weight of `type` from random values (quantized by
 * the backend's own quantizer); its GGUF bytes go to *bytes, which must
 * outlive the tensor (a weight that is not repacked points at them). */
static sb_tensor matmul_weight(sb_backend *be, const char *name, uint32_t type, int64_t cols, int64_t rows,
                               uint8_t **bytes) {
    float *v = malloc(sizeof(float) * (size_t)(cols * rows));
    for (int64_t i = 0; i < cols * rows; i++)
        v[i] = frand();
    uint64_t rb = 0;
    SB_CHECK(sb_type_row_size(type, (uint64_t)cols, &rb));
    uint8_t *q = malloc((size_t)rb * (size_t)rows);
    sb_error err;
    for (int64_t r = 0; r < rows; r++)
        SB_CHECKF(sb_cpu_quantize_row(type, v + r * cols, q + (size_t)r * rb, cols, &err) == SB_OK, "%s", err.msg);
    sb_tensor t;
    int64_t ne[2] = {cols, rows};
    sb_tensor_init(&t, name, type, 2, ne);
    t.usage = SB_USE_MATMUL;
    SB_CHECKF(sb_backend_weight_load(be, &t, q, &err) == SB_OK, "%s", err.msg);
    *bytes = q;
    free(v);
    return t;
}

/* One case: matmul_pre against the op, then matmul / matmul_multi, on
 * copies of the same inputs: the same bits, and x and up unchanged. */
static void check_matmul_pre(int threads, const uint32_t *types, int nw, int64_t cols, int n, sb_pre_kind kind,
                             bool accumulate, bool biases) {
    sb_backend *be = make_backend(threads);
    enum { ROWS = 40 };
    sb_tensor w[3], b[3];
    uint8_t *wbytes[3] = {NULL, NULL, NULL};
    float bias[ROWS];
    for (int i = 0; i < nw; i++) {
        w[i] = matmul_weight(be, "w", types[i], cols, ROWS, &wbytes[i]);
        for (int r = 0; r < ROWS; r++)
            bias[r] = frand();
        b[i] = vec_weight(be, "b", bias, ROWS);
    }
    float *normv = malloc(sizeof(float) * (size_t)cols);
    for (int64_t i = 0; i < cols; i++)
        normv[i] = 1.0f + 0.5f * frand();
    sb_tensor norm = vec_weight(be, "norm", normv, cols);
    sb_error err;
    SB_CHECK(sb_backend_reserve(be, n, n, &err) == SB_OK);
    sb_tensor x = act(be, "x", cols, n, NULL), up = act(be, "up", cols, n, NULL), tmp = act(be, "tmp", cols, n, NULL);
    const size_t xbytes = sizeof(float) * (size_t)(cols * n);
    float *x0 = malloc(xbytes), *up0 = malloc(xbytes);
    memcpy(x0, x.data, xbytes);
    memcpy(up0, up.data, xbytes);
    sb_tensor y1[3], y2[3];
    float *y2_start[3];
    const sb_tensor *ws[3], *bs[3];
    sb_tensor *ys1[3], *ys2[3];
    for (int i = 0; i < nw; i++) {
        y1[i] = act(be, "y1", ROWS, n, NULL);
        y2[i] = act(be, "y2", ROWS, n, NULL);
        memcpy(y2[i].data, y1[i].data, sizeof(float) * ROWS * (size_t)n); /* the same start for accumulate */
        y2_start[i] = malloc(sizeof(float) * ROWS * (size_t)n);
        memcpy(y2_start[i], y2[i].data, sizeof(float) * ROWS * (size_t)n);
        ws[i] = &w[i];
        bs[i] = biases ? &b[i] : NULL;
        ys1[i] = &y1[i];
        ys2[i] = &y2[i];
    }
    /* the two ops */
    if (kind == SB_PRE_RMSNORM)
        be->ops->rmsnorm(be, &x, &norm, 1e-5f, &tmp, n);
    else
        be->ops->swiglu(be, &x, &up, &tmp, n);
    if (nw == 1)
        be->ops->matmul(be, ws[0], &tmp, bs[0], ys1[0], n, accumulate);
    else
        be->ops->matmul_multi(be, ws, nw, &tmp, bs, ys1, n);
    /* fused where the backend fuses (one token, no F32 weight, the call's
     * activation formats fit the matmul scratch); else nothing is computed */
    bool fusable = n == 1;
    const sb_cpu_weight *mw[3];
    for (int i = 0; i < nw; i++) {
        fusable = fusable && types[i] != SB_TYPE_F32;
        mw[i] = &((const cpu_weight *)w[i].impl)->mm;
    }
    fusable = fusable && sb_cpu_matmul_multi_scratch_size(mw, nw, n) <= cpu_of(be)->mm_scratch_bytes;
    memset(tmp.data, 0xFF, xbytes);
    const sb_matmul_pre pre = {kind, &norm, 1e-5f, &up, &tmp};
    const bool fused = be->ops->matmul_pre(be, &pre, ws, nw, &x, bs, ys2, n, accumulate);
    SB_CHECKF(fused == fusable, "matmul_pre fused %d, expected %d (n=%d, type %u)", fused, fusable, n, types[0]);
    for (int i = 0; i < nw; i++)
        SB_CHECKF(memcmp(fused ? y1[i].data : y2_start[i], y2[i].data, sizeof(float) * ROWS * (size_t)n) == 0,
                  "matmul_pre %s type %u (weight %d of %d), %lld cols, n=%d, %d threads, acc %d",
                  kind == SB_PRE_RMSNORM ? "rmsnorm" : "swiglu", types[i], i, nw, (long long)cols, n, threads,
                  accumulate);
    SB_CHECK(memcmp(x.data, x0, xbytes) == 0);
    SB_CHECK(memcmp(up.data, up0, xbytes) == 0);
    free(x0);
    free(up0);
    free(normv);
    sb_tensor *all[] = {&x, &up, &tmp, &norm};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        sb_backend_release(be, all[i]);
    for (int i = 0; i < nw; i++) {
        free(y2_start[i]);
        sb_backend_release(be, &y1[i]);
        sb_backend_release(be, &y2[i]);
        sb_backend_release(be, &w[i]);
        sb_backend_release(be, &b[i]);
    }
    sb_backend_destroy(be);
    for (int i = 0; i < nw; i++)
        free(wbytes[i]);
}

static void test_matmul_pre(void) {
    const uint32_t single[] = {SB_TYPE_Q8_0, SB_TYPE_Q4_0, SB_TYPE_Q4_K, SB_TYPE_Q5_K, SB_TYPE_Q6_K,
                               SB_TYPE_F16,  SB_TYPE_BF16, SB_TYPE_F32,  SB_TYPE_Q5_0};
    for (size_t t = 0; t < sizeof single / sizeof single[0]; t++)
        for (int threads = 1; threads <= 2; threads++)
            for (int k = 0; k < 2; k++) {
                const sb_pre_kind kind = k ? SB_PRE_SWIGLU : SB_PRE_RMSNORM;
                check_matmul_pre(threads, &single[t], 1, 768, 1, kind, false, false);
                check_matmul_pre(threads, &single[t], 1, 768, 1, kind, true, true);
                check_matmul_pre(threads, &single[t], 1, 768, 3, kind, true, false); /* a batch: left to the model */
            }
    const uint32_t mixed[][3] = {{SB_TYPE_Q4_K, SB_TYPE_Q4_K, SB_TYPE_Q6_K},
                                 {SB_TYPE_Q8_0, SB_TYPE_Q4_0, SB_TYPE_Q8_0},
                                 {SB_TYPE_Q5_0, SB_TYPE_Q5_0, SB_TYPE_Q8_0}};
    for (int m = 0; m < 3; m++)
        for (int threads = 1; threads <= 2; threads++) {
            check_matmul_pre(threads, mixed[m], 3, 4608, 1, SB_PRE_RMSNORM, false, true);
            check_matmul_pre(threads, mixed[m], 2, 512, 1, SB_PRE_SWIGLU, false, false);
            check_matmul_pre(threads, mixed[m], 3, 512, 2, SB_PRE_RMSNORM, false, true);
        }
}

/* ---- elementwise ------------------------------------------------------------ */

static void test_elementwise(void) {
    sb_backend *be = make_backend(2);
    enum { W = 5000, R = 5 }; /* 25000 elements: runs on both threads */
    sb_tensor a = act(be, "a", W, R, NULL), b = act(be, "b", W, R, NULL), y = act(be, "y", W, R, NULL);
    double *ref = malloc(sizeof(double) * W * R);
    const float *pa = a.data, *pb = b.data;
    for (int i = 0; i < W * R; i++)
        ref[i] = pa[i] / (1.0 + exp(-(double)pa[i])) * pb[i];
    be->ops->swiglu(be, &a, &b, &y, R);
    SB_CHECKF(max_diff(y.data, ref, W * R) < 1e-6, "swiglu");
    for (int i = 0; i < W * R; i++)
        ref[i] = (double)pa[i] + pb[i];
    be->ops->add(be, &a, &b, &y, R);
    SB_CHECK(max_diff(y.data, ref, W * R) < 1e-6);
    for (int i = 0; i < W * R; i++)
        ref[i] = (double)pa[i] * 0.37;
    be->ops->scale(be, &a, 0.37f, &a, R); /* in place */
    SB_CHECK(max_diff(a.data, ref, W * R) < 1e-6);
    free(ref);
    sb_backend_release(be, &a);
    sb_backend_release(be, &b);
    sb_backend_release(be, &y);
    sb_backend_destroy(be);
}

/* ---- topk --------------------------------------------------------------------- */

typedef struct cand {
    int id;
    double v;
} cand;

static int cand_cmp(const void *x, const void *y) {
    const cand *a = x, *b = y;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return a->id - b->id;
}

/* A large k (the radix sort) gives the order the heap gives for a small k
 * and a reference sort: negative and positive values, many ties, -0 and +0
 * (equal: by id), +-inf; NaNs last. With penalties too (the row copy). */
static void test_topk_large(void) {
    sb_backend *be = make_backend(1);
    enum { V = 5003 };
    sb_tensor lg = act(be, "logits", V, 1, NULL);
    float *row = (float *)lg.data;
    for (int i = 0; i < V; i++)
        row[i] = (float)((int)(frand() * 64) - 32) * 0.375f; /* ties, negatives */
    row[5] = -0.0f;
    row[6] = 0.0f;
    row[4] = -0.0f;
    row[100] = INFINITY;
    row[101] = -INFINITY;
    row[102] = NAN;
    row[4000] = NAN;
    row[4999] = 1e30f;
    cand *ref = malloc(sizeof(cand) * V);
    int nf = 0;
    for (int i = 0; i < V; i++)
        if (!isnan(row[i]))
            ref[nf++] = (cand){i, row[i]};
    qsort(ref, (size_t)nf, sizeof *ref, cand_cmp);
    sb_candidate *small = malloc(sizeof *small * V), *large = malloc(sizeof *large * V);
    int ns = 0, nl = 0;
    SB_CHECK(sb_backend_topk(be, &lg, 0, NULL, 200, small, &ns) == SB_OK && ns == 200);
    SB_CHECK(sb_backend_topk(be, &lg, 0, NULL, V, large, &nl) == SB_OK && nl == V);
    bool same = true;
    for (int i = 0; i < ns; i++)
        same = same && small[i].id == large[i].id && small[i].id == ref[i].id;
    SB_CHECK(same);
    same = true;
    for (int i = 0; i < nf; i++)
        same = same && large[i].id == ref[i].id && large[i].logit == (float)ref[i].v;
    SB_CHECK(same);
    SB_CHECK(isnan(large[V - 1].logit) && isnan(large[V - 2].logit)); /* NaNs last */
    /* with a penalty the copy is sorted; the row stays as it was */
    int32_t pen_tok[1] = {4999}, pen_cnt[1] = {1};
    sb_sample_prep prep = {.repeat_penalty = 1.0f, .presence_penalty = 2e30f, .penalty_tokens = pen_tok,
                           .penalty_counts = pen_cnt, .n_penalty = 1};
    SB_CHECK(sb_backend_topk(be, &lg, 0, &prep, 1000, large, &nl) == SB_OK && nl == 1000);
    SB_CHECK(large[0].id == 100 && large[1].id != 4999);
    SB_CHECK(row[4999] == 1e30f);
    free(small);
    free(large);
    free(ref);
    sb_backend_release(be, &lg);
    sb_backend_destroy(be);
}

static void test_topk(void) {
    sb_backend *be = make_backend(1);
    enum { V = 1000 };
    sb_tensor lg = act(be, "logits", V, 2, NULL);
    float *row1 = (float *)lg.data + V;
    for (int i = 0; i < V; i++)
        row1[i] = (float)((int)(frand() * 20)) * 0.25f; /* many ties */
    int32_t pen_tok[4] = {3, 10, 500, 999}, pen_cnt[4] = {1, 3, 2, 1}, bias_tok[2] = {7, 10};
    float bias_val[2] = {5.0f, -1.0f};
    sb_sample_prep prep = {.temperature = 0.7f,
                           .repeat_penalty = 1.3f,
                           .presence_penalty = 0.5f,
                           .frequency_penalty = 0.2f,
                           .penalty_tokens = pen_tok,
                           .penalty_counts = pen_cnt,
                           .n_penalty = 4,
                           .bias_tokens = bias_tok,
                           .bias_values = bias_val,
                           .n_bias = 2};
    cand *ref = malloc(sizeof(cand) * V);
    for (int i = 0; i < V; i++)
        ref[i] = (cand){i, row1[i]};
    for (int i = 0; i < 2; i++)
        ref[bias_tok[i]].v = (float)(ref[bias_tok[i]].v + bias_val[i]);
    for (int i = 0; i < 4; i++) {
        float v = (float)ref[pen_tok[i]].v;
        v = v <= 0 ? v * 1.3f : v / 1.3f;
        v -= (float)pen_cnt[i] * 0.2f + 0.5f;
        ref[pen_tok[i]].v = v;
    }
    qsort(ref, V, sizeof *ref, cand_cmp);
    sb_candidate out[V];
    int n = 0;
    SB_CHECK(sb_backend_topk(be, &lg, 1, &prep, 40, out, &n) == SB_OK);
    SB_CHECK_EQ_INT(n, 40);
    bool same = true;
    for (int i = 0; i < n; i++)
        same = same && out[i].id == ref[i].id && fabs(out[i].logit - ref[i].v / 0.7) < 1e-5;
    SB_CHECK(same);
    /* the row itself is untouched, k > V is clamped, k = 1 is argmax */
    SB_CHECK(row1[7] == (float)((float *)lg.data)[V + 7]);
    SB_CHECK(sb_backend_topk(be, &lg, 1, NULL, 5000, out, &n) == SB_OK && n == V);
    bool sorted = true;
    for (int i = 1; i < n; i++)
        sorted = sorted &&
                 (out[i - 1].logit > out[i].logit || (out[i - 1].logit == out[i].logit && out[i - 1].id < out[i].id));
    SB_CHECK(sorted);
    SB_CHECK(sb_backend_topk(be, &lg, 2, NULL, 1, out, &n) == SB_ERR_RANGE);
    free(ref);
    sb_backend_release(be, &lg);
    sb_backend_destroy(be);
}

/* ---- vector loops -------------------------------------------------------------- */
#if defined(__x86_64__)
/* Attention's group loops of v against the scalar ones: head counts around
 * the tile sizes, head sizes with and without a multiple of 8 or 16, pages
 * of 4 / 16 / 32 slots, partly filled last pages, scrambled page tables.
 * Each result is compared with a bound from the magnitudes of its terms;
 * outputs are fenced by sentinels. */
static void test_attention_loops(const cpu_vec_fns *v, const char *name) {
    const cpu_vec_fns *s = &sb_cpu_vec_scalar;
    enum { MAXH = 13, MAXD = 136, MAXPS = 32, NPAGES = 5, SLACK = 64, OS = 3 * MAXPS + 5 };
    static float q[MAXH * MAXD], kt32[MAXD * MAXPS + SLACK], vp32[NPAGES * MAXPS * MAXD + SLACK];
    static uint16_t kt16[MAXD * MAXPS + SLACK], vp16[NPAGES * MAXPS * MAXD + SLACK];
    static float p[MAXH * OS], o1[MAXH * MAXD + 1], o2[MAXH * MAXD + 1], s1[MAXH * OS], s2[MAXH * OS];
    for (int i = 0; i < MAXH * MAXD; i++)
        q[i] = frand();
    for (int i = 0; i < MAXD * MAXPS + SLACK; i++) {
        kt32[i] = frand();
        kt16[i] = sb_f32_to_fp16(frand() * 10);
    }
    for (int i = 0; i < NPAGES * MAXPS * MAXD + SLACK; i++) {
        vp32[i] = frand();
        vp16[i] = sb_f32_to_fp16(frand() * 10);
    }
    for (int i = 0; i < MAXH * OS; i++)
        p[i] = sb_rng_uniformf(&g_rng);
    const int32_t pages[3] = {3, 0, 4};
    const int heads[] = {1, 2, 3, 4, 5, 7, 8, 9, 13};
    const int dims[] = {4, 8, 16, 24, 40, 64, 72, 128, 136};
    const int pss[] = {4, 16, 32};
    for (size_t hi = 0; hi < sizeof heads / sizeof heads[0]; hi++)
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
            for (size_t pi = 0; pi < 3; pi++) {
                const int nh = heads[hi], d = dims[di], ps = pss[pi];
                const int ns[] = {1, ps / 2 + 1, ps - 1, ps};
                for (int ni = 0; ni < 4; ni++) { /* scores over one page */
                    const int n = ns[ni] > 0 ? ns[ni] : 1;
                    for (int f16 = 0; f16 < 2; f16++) {
                        for (int i = 0; i < nh * OS; i++)
                            s1[i] = s2[i] = -7.0f;
                        if (f16) {
                            s->scores_heads_f16(q, nh, kt16, ps, n, d, 0.125f, s1, OS);
                            v->scores_heads_f16(q, nh, kt16, ps, n, d, 0.125f, s2, OS);
                        } else {
                            s->scores_heads_f32(q, nh, kt32, ps, n, d, 0.125f, s1, OS);
                            v->scores_heads_f32(q, nh, kt32, ps, n, d, 0.125f, s2, OS);
                        }
                        bool ok = true;
                        for (int h = 0; h < nh; h++)
                            for (int j = 0; j < OS; j++) {
                                const size_t at = (size_t)h * OS + j;
                                if (j >= n) {
                                    ok = ok && s2[at] == -7.0f;
                                    continue;
                                }
                                double mag = 0;
                                for (int c = 0; c < d; c++)
                                    mag += fabs(q[h * d + c] * (f16 ? sb_fp16_to_f32(kt16[c * ps + j]) : kt32[c * ps + j]));
                                ok = ok && fabs(s1[at] - s2[at]) <= 2e-6 * mag + 1e-30;
                            }
                        SB_CHECKF(ok, "%s scores_heads_%s nh=%d d=%d ps=%d n=%d", name, f16 ? "f16" : "f32", nh, d, ps,
                                  n);
                    }
                }
                const int ws[] = {1, ps, ps + 1, 2 * ps + ps / 2 + 1, 3 * ps};
                for (int wi = 0; wi < 5; wi++) { /* weighted sums over up to 3 scrambled pages */
                    const int n = ws[wi];
                    const size_t stride = (size_t)ps * d;
                    for (int f16 = 0; f16 < 2; f16++) {
                        for (int i = 0; i <= nh * d; i++)
                            o1[i] = o2[i] = -7.0f;
                        if (f16) {
                            s->wsum_heads_f16(o1, p, OS, nh, vp16, stride, pages, ps, n, d);
                            v->wsum_heads_f16(o2, p, OS, nh, vp16, stride, pages, ps, n, d);
                        } else {
                            s->wsum_heads_f32(o1, p, OS, nh, vp32, stride, pages, ps, n, d);
                            v->wsum_heads_f32(o2, p, OS, nh, vp32, stride, pages, ps, n, d);
                        }
                        bool ok = o2[nh * d] == -7.0f;
                        for (int h = 0; h < nh; h++)
                            for (int c = 0; c < d; c++) {
                                double mag = 0;
                                for (int j = 0; j < n; j++) {
                                    const size_t at = pages[j / ps] * stride + (size_t)(j % ps) * d + c;
                                    mag += p[h * OS + j] * fabs(f16 ? sb_fp16_to_f32(vp16[at]) : vp32[at]);
                                }
                                ok = ok && fabs(o1[h * d + c] - o2[h * d + c]) <= 2e-6 * mag + 1e-30;
                            }
                        SB_CHECKF(ok, "%s wsum_heads_%s nh=%d d=%d ps=%d n=%d", name, f16 ? "f16" : "f32", nh, d, ps,
                                  n);
                    }
                }
            }
}

/* The AVX-512 group loops give the AVX2 ones' bits (both sum as the row-wise loop of earlier releases did). */
static void test_attention_loops_same(const cpu_vec_fns *a, const cpu_vec_fns *b) {
    enum { MAXH = 9, MAXD = 136, PS = 16, NP = 3, OS = NP * PS };
    static float q[MAXH * MAXD], p[MAXH * OS], s1[MAXH * OS], s2[MAXH * OS], o1[MAXH * MAXD], o2[MAXH * MAXD];
    static uint16_t kt[MAXD * PS + 64], vp[NP * PS * MAXD + 64];
    for (int i = 0; i < MAXH * MAXD; i++)
        q[i] = frand();
    for (int i = 0; i < MAXD * PS + 64; i++)
        kt[i] = sb_f32_to_fp16(frand());
    for (int i = 0; i < NP * PS * MAXD + 64; i++)
        vp[i] = sb_f32_to_fp16(frand());
    for (int i = 0; i < MAXH * OS; i++)
        p[i] = sb_rng_uniformf(&g_rng);
    const int32_t pages[NP] = {2, 0, 1};
    const int dims[] = {8, 24, 64, 72, 128, 136}, heads[] = {1, 3, 4, 8, 9};
    for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++)
        for (size_t hi = 0; hi < sizeof heads / sizeof heads[0]; hi++)
            for (int n = 1; n <= OS; n += 5) {
                const int d = dims[di], nh = heads[hi];
                memset(s1, 0, sizeof s1);
                memset(s2, 0, sizeof s2);
                a->scores_heads_f16(q, nh, kt, PS, n < PS ? n : PS, d, 0.3f, s1, OS);
                b->scores_heads_f16(q, nh, kt, PS, n < PS ? n : PS, d, 0.3f, s2, OS);
                a->wsum_heads_f16(o1, p, OS, nh, vp, (size_t)PS * d, pages, PS, n, d);
                b->wsum_heads_f16(o2, p, OS, nh, vp, (size_t)PS * d, pages, PS, n, d);
                SB_CHECKF(memcmp(s1, s2, sizeof s1) == 0 && memcmp(o1, o2, sizeof(float) * (size_t)(nh * d)) == 0,
                          "avx512 vs avx2 bits: nh=%d d=%d n=%d", nh, d, n);
            }
}
#endif


static void test_vector_loops(void) {
#if defined(__x86_64__)
    const sb_cpu_features *f = sb_cpu_features_get();
    if (!f->avx2 || !f->fma || !f->f16c)
        return;
    const cpu_vec_fns *s = &sb_cpu_vec_scalar, *v = &sb_cpu_vec_avx2;
    test_attention_loops(v, "avx2");
    if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq) {
        cpu_vec_fns w = sb_cpu_vec_avx2;
        w.scores_heads_f32 = sb_cpu_scores_heads_f32_avx512;
        w.scores_heads_f16 = sb_cpu_scores_heads_f16_avx512;
        w.wsum_heads_f32 = sb_cpu_wsum_heads_f32_avx512;
        w.wsum_heads_f16 = sb_cpu_wsum_heads_f16_avx512;
        test_attention_loops(&w, "avx512");
        test_attention_loops_same(v, &w);
    }
    enum { ROWS = 11, MAXD = 136 };
    static float k[ROWS * MAXD];
    static uint16_t h1[ROWS * MAXD], h2[ROWS * MAXD];
    for (int i = 0; i < ROWS * MAXD; i++)
        k[i] = frand();
    /* row_max: any length, NaNs skipped, the largest anywhere */
    static float mrow[203];
    for (int n = 1; n <= 203; n += 7) {
        for (int i = 0; i < n; i++)
            mrow[i] = frand() * 50;
        mrow[(n * 5) / 7] = 60.0f + (float)n;
        if (n > 2)
            mrow[1] = NAN;
        SB_CHECKF(s->row_max(mrow, n) == v->row_max(mrow, n), "row_max n=%d", n);
        SB_CHECK(n < 3 || v->row_max(mrow, n) == 60.0f + (float)n);
    }
    /* exp: relative error against libm over the softmax range, and 0 far below */
    static float e1[203], e2[203];
    for (int i = 0; i < 203; i++)
        e1[i] = e2[i] = -0.5f * (float)i + 0.01f * frand();
    e1[202] = e2[202] = -1000.0f;
    double sum1 = s->exp_sum(e1, 203, 0.0f), sum2 = v->exp_sum(e2, 203, 0.0f);
    float rel = 0;
    for (int i = 0; i < 203; i++)
        if (e1[i] > 1e-37f) /* below, libm returns denormals and exp8 flushes to 0 */
            rel = fmaxf(rel, fabsf(e1[i] - e2[i]) / e1[i]);
    SB_CHECKF(rel < 4e-7f, "exp relative error %g", rel);
    SB_CHECK(e2[202] == 0.0f);
    SB_CHECK(fabs(sum1 - sum2) < 1e-6 * sum1);
    if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq) { /* the AVX-512 exp_sum: the same bits */
        static float e3[203], e4[203];
        for (int n = 0; n <= 203; n += 5) {
            for (int i = 0; i < n; i++)
                e3[i] = e4[i] = -0.37f * (float)i + frand();
            if (n > 3)
                e3[2] = e4[2] = -1000.0f;
            double a = v->exp_sum(e3, n, 0.5f), b = sb_cpu_exp_sum_avx512(e4, n, 0.5f);
            SB_CHECKF(a == b && memcmp(e3, e4, sizeof(float) * (size_t)n) == 0, "exp_sum avx512 n=%d", n);
        }
    }
    /* silu(g) * u over the range activations take */
    static float g[300], u[300], y1[300], y2[300];
    for (int i = 0; i < 300; i++) {
        g[i] = (i - 150) * 0.2f + 0.01f * frand();
        u[i] = frand();
    }
    s->silu_mul(y1, g, u, 300);
    v->silu_mul(y2, g, u, 300);
    float sd = 0;
    for (int i = 0; i < 300; i++)
        sd = fmaxf(sd, fabsf(y1[i] - y2[i]) / fmaxf(1.0f, fabsf(y1[i])));
    SB_CHECKF(sd < 1e-6f, "silu_mul %g", sd);
    if (f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq) /* the AVX-512 silu_mul: the same bits */
        for (long n = 0; n <= 300; n += n < 40 ? 1 : 13) {
            static float y3[300], y4[300];
            memset(y3, 0, sizeof y3);
            memset(y4, 0, sizeof y4);
            v->silu_mul(y3, g, u, n);
            sb_cpu_silu_mul_avx512(y4, g, u, n);
            SB_CHECKF(memcmp(y3, y4, sizeof y3) == 0, "silu_mul avx512 n=%ld", n);
        }
    s->to_f16(h1, k, ROWS * MAXD);
    v->to_f16(h2, k, ROWS * MAXD);
    SB_CHECK(memcmp(h1, h2, sizeof h1) == 0); /* both round to nearest even */
    /* rmsnorm's loops: the same bits at every length (tails of 0..7), in place too */
    static float nx[203], nw[203], ny1[203], ny2[203];
    for (int i = 0; i < 203; i++) {
        nx[i] = frand() * (i % 9 == 0 ? 1e4f : 1.0f) + (i % 13 == 0 ? 1e-30f : 0.0f);
        nw[i] = 1.0f + 0.1f * frand();
    }
    for (int n = 0; n <= 203; n += (n < 20 ? 1 : 9)) {
        const double a = s->sum_squares(nx, n), b = v->sum_squares(nx, n);
        SB_CHECKF(memcmp(&a, &b, sizeof a) == 0, "sum_squares n=%d: %.17g vs %.17g", n, a, b);
        s->scale_mul(ny1, nx, 0.37f, nw, n);
        memcpy(ny2, nx, sizeof(float) * (size_t)n);
        v->scale_mul(ny2, ny2, 0.37f, nw, n);
        SB_CHECKF(memcmp(ny1, ny2, sizeof(float) * (size_t)n) == 0, "scale_mul n=%d", n);
    }
#endif
}

int main(void) {
    sb_rng_seed(&g_rng, 12345);
    SB_RUN(test_rmsnorm);
    SB_RUN(test_rope);
    SB_RUN(test_attention);
    SB_RUN(test_set_batch_checks);
    SB_RUN(test_get_rows_and_gather);
    SB_RUN(test_matmul_bias_accumulate);
    SB_RUN(test_matmul_pre);
    SB_RUN(test_elementwise);
    SB_RUN(test_topk);
    SB_RUN(test_topk_large);
    SB_RUN(test_vector_loops);
    return sb_test_finish();
}
