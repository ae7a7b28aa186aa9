/*
 * test_quantize.c - `solebox quantize`'s library (sb_quantize.h): the
 * llama-quantize type rules, and a round trip of the synthetic F32 model
 * to every type: the file against llama-quantize's golden file (same F32
 * base, README §4), then its logits against the F32 model's and against
 * llama.cpp's logits of the golden quantized file.
 */
#include "sb_alloc.h"
#include "sb_engine.h"
#include "sb_file.h"
#include "sb_gguf_writer.h"
#include "sb_model.h"
#include "sb_quantize.h"
#include "sb_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_rules(void) {
    int64_t big[2] = {256, 512}, odd[2] = {288, 64}, odd2[2] = {100, 64}, vec[1] = {256};
    bool q, fb;
    sb_quant_ctx c = {.ftype = SB_FTYPE_MOSTLY_Q4_K_M, .has_output = true, .n_attn_v = 8, .n_ffn_down = 8};
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c, "output.weight", 2, big, SB_TYPE_F32, &q, &fb), SB_TYPE_Q6_K);
    SB_CHECK(q && !fb);
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c, "token_embd.weight", 2, big, SB_TYPE_F32, &q, &fb), SB_TYPE_Q4_K);
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c, "output_norm.weight", 1, vec, SB_TYPE_F32, &q, &fb), SB_TYPE_F32);
    SB_CHECK(!q);
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c, "blk.0.attn_q.bias", 1, vec, SB_TYPE_F32, &q, &fb), SB_TYPE_F32);
    /* 8 layers: use_more_bits is true for layers 0, 2, 5, 7 (n/8 = 1: i < 1, i >= 7, (i-1) % 3 == 2) */
    const bool more[8] = {true, false, false, true, false, false, true, true};
    for (int i = 0; i < 8; i++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", i);
        uint32_t t = sb_quantize_choose_type(&c, name, 2, big, SB_TYPE_F32, &q, &fb);
        SB_CHECKF(t == (more[i] ? SB_TYPE_Q6_K : SB_TYPE_Q4_K), "attn_v layer %d: %s", i, sb_type_name(t));
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", i);
        t = sb_quantize_choose_type(&c, name, 2, big, SB_TYPE_F32, &q, &fb);
        SB_CHECKF(t == (more[i] ? SB_TYPE_Q6_K : SB_TYPE_Q4_K), "ffn_down layer %d: %s", i, sb_type_name(t));
        snprintf(name, sizeof name, "blk.%d.ffn_up.weight", i);
        SB_CHECK_EQ_INT(sb_quantize_choose_type(&c, name, 2, big, SB_TYPE_F32, &q, &fb), SB_TYPE_Q4_K);
    }
    /* rows that are not a multiple of 256 (Qwen2.5-0.5B's 896): llama-quantize's
     * substitutes Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, or F16 if not of 32 */
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c, "blk.0.attn_q.weight", 2, odd, SB_TYPE_F32, &q, &fb), SB_TYPE_Q5_0);
    SB_CHECK(fb);
    sb_quant_ctx c5 = {.ftype = SB_FTYPE_MOSTLY_Q5_K_M, .has_output = true, .n_attn_v = 8, .n_ffn_down = 8};
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c5, "blk.0.attn_q.weight", 2, odd, SB_TYPE_F32, &q, &fb), SB_TYPE_Q5_1);
    SB_CHECK(fb);
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c5, "blk.0.attn_v.weight", 2, odd, SB_TYPE_F32, &q, &fb), SB_TYPE_Q8_0);
    SB_CHECK(fb);
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c, "blk.0.attn_q.weight", 2, odd2, SB_TYPE_F32, &q, &fb), SB_TYPE_F16);
    SB_CHECK(fb);
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&c, "output.weight", 2, odd, SB_TYPE_F32, &q, &fb), SB_TYPE_Q8_0);
    /* tied output: token_embd gets the output's type */
    sb_quant_ctx t = {.ftype = SB_FTYPE_MOSTLY_Q4_0, .has_output = false, .n_attn_v = 2, .n_ffn_down = 2};
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&t, "token_embd.weight", 2, big, SB_TYPE_BF16, &q, &fb), SB_TYPE_Q6_K);
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&t, "blk.1.ffn_down.weight", 2, big, SB_TYPE_BF16, &q, &fb),
                    SB_TYPE_Q4_0);
    sb_quant_ctx q8 = {.ftype = SB_FTYPE_MOSTLY_Q8_0, .has_output = true, .n_attn_v = 2, .n_ffn_down = 2};
    SB_CHECK_EQ_INT(sb_quantize_choose_type(&q8, "output.weight", 2, big, SB_TYPE_F16, &q, &fb), SB_TYPE_Q8_0);
    SB_CHECK_EQ_INT(sb_quantize_ftype_from_name("q4_k_m"), SB_FTYPE_MOSTLY_Q4_K_M);
    SB_CHECK_EQ_INT(sb_quantize_ftype_from_name("Q6_K"), SB_FTYPE_MOSTLY_Q6_K);
    SB_CHECK_EQ_INT(sb_quantize_ftype_from_name("q3_k"), -1);
}

/* Logits of every position of tokens[0..n) (rows of n_vocab). */
static float *eval_logits(sb_engine *e, const int32_t *tokens, int n) {
    sb_model *m = sb_engine_model(e);
    int nv = sb_engine_hparams(e)->n_vocab;
    if (sb_model_reserve(m, n, n, NULL) != SB_OK)
        return NULL;
    int32_t pos[128], seq[128], rows[128], pages[16];
    for (int i = 0; i < n; i++) {
        pos[i] = i;
        seq[i] = 0;
        rows[i] = i;
    }
    for (int i = 0; i < 16; i++)
        pages[i] = i;
    const int32_t *tables[1] = {pages};
    int32_t np[1] = {(n + sb_engine_page_size(e) - 1) / sb_engine_page_size(e)};
    sb_batch b = {.n_tokens = n, .tokens = tokens, .pos = pos, .seq = seq, .n_seqs = 1, .page_tables = tables,
                  .n_pages = np, .n_outputs = n, .output_rows = rows};
    sb_error err;
    if (sb_model_forward(m, &b, &err) != SB_OK) {
        SB_CHECKF(0, "forward: %s", err.msg);
        return NULL;
    }
    float *out = sb_malloc(sizeof(float) * (size_t)n * nv);
    sb_backend *be = sb_engine_backend(e);
    be->ops->download(be, sb_model_logits(m), out, 0, sizeof(float) * (size_t)n * nv);
    return out;
}

typedef struct cmp {
    double max_abs, mean_kl, top1;
} cmp;

static cmp compare(const float *ref, const float *x, int rows, int nv) {
    cmp c = {0, 0, 0};
    for (int r = 0; r < rows; r++) {
        const float *a = ref + (size_t)r * nv, *b = x + (size_t)r * nv;
        double ma = -1e30, mb = -1e30, sa = 0, sb = 0;
        int ia = 0, ib = 0;
        for (int v = 0; v < nv; v++) {
            double d = fabs((double)a[v] - b[v]);
            if (d > c.max_abs)
                c.max_abs = d;
            if (a[v] > ma) {
                ma = a[v];
                ia = v;
            }
            if (b[v] > mb) {
                mb = b[v];
                ib = v;
            }
        }
        for (int v = 0; v < nv; v++) {
            sa += exp(a[v] - ma);
            sb += exp(b[v] - mb);
        }
        double kl = 0;
        for (int v = 0; v < nv; v++) {
            double la = a[v] - ma - log(sa), lb = b[v] - mb - log(sb);
            kl += exp(la) * (la - lb);
        }
        c.mean_kl += kl / rows;
        c.top1 += (ia == ib) / (double)rows;
    }
    return c;
}

static float *read_f32(const char *rel, size_t expect_floats) {
    const char *path = sb_test_shared(rel);
    if (!path)
        return NULL;
    char *data;
    size_t len;
    if (sb_file_read_all(path, 64 << 20, &data, &len, NULL) != SB_OK || len != expect_floats * sizeof(float)) {
        sb_free(data);
        return NULL;
    }
    return (float *)data;
}

/* Prompt A of the llama-spm512 family (from the manifest). */
static int prompt_a(int32_t *out) {
    const char *path = sb_test_require_shared("golden/logits/llama-spm512-f32.json");
    char *json;
    size_t len;
    int n = 0;
    if (sb_file_read_all(path, 1 << 20, &json, &len, NULL) != SB_OK)
        return 0;
    sb_tmpl_value *root = NULL;
    if (sb_tmpl_value_from_json(json, len, &root, NULL) == SB_OK) {
        sb_tmpl_value *prompts = sb_tmpl_dict_get(root, "prompts");
        sb_tmpl_value *a = sb_tmpl_list_get(prompts, 0);
        sb_tmpl_value *toks = sb_tmpl_dict_get(a, "tokens");
        for (size_t i = 0; toks && i < sb_tmpl_value_len(toks) && n < 64; i++) {
            sb_tmpl_value *v = sb_tmpl_list_get(toks, i);
            char *s = NULL;
            size_t sl;
            if (v && sb_tmpl_value_to_json(v, &s, &sl, NULL) == SB_OK)
                out[n++] = atoi(s);
            sb_free(s);
            sb_tmpl_value_free(v);
        }
        sb_tmpl_value_free(toks);
        sb_tmpl_value_free(a);
        sb_tmpl_value_free(prompts);
    }
    sb_tmpl_value_free(root);
    sb_free(json);
    return n;
}

static bool files_equal(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx, ny;
    bool eq = sb_file_read_all(a, 64 << 20, &x, &nx, NULL) == SB_OK &&
              sb_file_read_all(b, 64 << 20, &y, &ny, NULL) == SB_OK && nx == ny && memcmp(x, y, nx) == 0;
    sb_free(x);
    sb_free(y);
    return eq;
}

static sb_engine *load(const char *path) {
    sb_engine_opts o = sb_engine_opts_default();
    o.model_path = path;
    o.start_scheduler = false;
    o.n_threads = 2;
    o.kv_type = SB_TYPE_F32;
    o.n_ctx = 64;
    sb_engine *e = NULL;
    sb_error err;
    SB_CHECKF(sb_engine_create(&o, &e, &err) == SB_OK, "load %s: %s", path, err.msg);
    return e;
}

static void test_round_trip(void) {
    const char *base = sb_test_require_shared("models/synthetic/llama-spm512-f32.gguf");
    char base_path[1024];
    snprintf(base_path, sizeof base_path, "%s", base);
    int32_t tokens[64];
    int n = prompt_a(tokens);
    SB_CHECK_EQ_INT(n, 25);
    if (n != 25)
        return;
    const int nv = 512;
    float *gold_f32 = read_f32("golden/logits/llama-spm512-f32.A.f32", (size_t)n * nv);
    SB_CHECK(gold_f32 != NULL);
    sb_engine *ef = load(base_path);
    float *ours_f32 = ef ? eval_logits(ef, tokens, n) : NULL;
    sb_engine_free(ef);
    if (gold_f32 && ours_f32) {
        cmp c = compare(gold_f32, ours_f32, n, nv);
        printf("  F32 model vs llama.cpp: max %.2g, KL %.2g, top1 %.3f\n", c.max_abs, c.mean_kl, c.top1);
        SB_CHECK(c.max_abs < 1e-3 && c.top1 > 0.9999);
    }
    const char *types[5] = {"q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};
    for (int k = 0; k < 5; k++) {
        char out[1200], gold_file[128], gold_logits[128];
        snprintf(out, sizeof out, "%s/spm512-%s.gguf", sb_test_tmpdir(), types[k]);
        sb_quantize_opts o = {.ftype = (uint32_t)sb_quantize_ftype_from_name(types[k]), .n_threads = 2};
        sb_quantize_report rep;
        sb_error err;
        SB_CHECKF(sb_quantize_file(base_path, out, &o, &rep, &err) == SB_OK, "%s: %s", types[k], err.msg);
        SB_CHECK_EQ_INT(rep.n_tensors, 21);
        SB_CHECK_EQ_INT(rep.n_copied, 5); /* the norms */
        snprintf(gold_file, sizeof gold_file, "models/synthetic/llama-spm512-%s.gguf", types[k]);
        const char *gp = sb_test_shared(gold_file);
        if (gp) {
            bool same = files_equal(out, gp);
            printf("  %-6s file byte-identical to llama-quantize's: %s\n", types[k], same ? "yes" : "NO");
            SB_CHECK(same);
        }
        sb_engine *e = load(out);
        float *x = e ? eval_logits(e, tokens, n) : NULL;
        sb_engine_free(e);
        if (!x)
            continue;
        if (gold_f32) {
            cmp c = compare(gold_f32, x, n, nv);
            printf("  %-6s vs F32 model (llama.cpp): max %.3f, KL %.4f, top1 %.3f\n", types[k], c.max_abs, c.mean_kl,
                   c.top1);
            /* quantization error of random weights (README §6: up to 5.1 / 0.32 / 0.71 for Q4_0) */
            SB_CHECK(c.max_abs < 8.0 && c.mean_kl < 0.6 && c.top1 >= 0.5);
        }
        snprintf(gold_logits, sizeof gold_logits, "golden/logits/llama-spm512-%s.A.f32", types[k]);
        float *gq = read_f32(gold_logits, (size_t)n * nv);
        if (gq) {
            cmp c = compare(gq, x, n, nv);
            printf("  %-6s vs llama.cpp on its %s file: max %.3f, KL %.5f, top1 %.3f\n", types[k], types[k],
                   c.max_abs, c.mean_kl, c.top1);
            /* README §6 thresholds for an engine in F32 activations */
            SB_CHECK(c.max_abs < 1.5 && c.mean_kl < 2e-2 && c.top1 >= 0.93);
        }
        sb_free(gq);
        sb_free(x);
        remove(out);
    }
    sb_free(gold_f32);
    sb_free(ours_f32);
}

/* A model whose rows are not whole super-blocks (micro-qwen2: 224 and 608
 * columns, as Qwen2.5-0.5B's 896): Q4_K_M writes Q5_0 and Q5_K_M Q5_1 in
 * their place, as llama-quantize does, and the files load and stay close
 * to the F32 model they came from. */
static void test_round_trip_substitutes(void) {
    const char *vocab = sb_test_shared("models/vocab/ggml-vocab-llama-spm.gguf");
    if (!vocab) {
        printf("skipped: ../shared/models/vocab/ggml-vocab-llama-spm.gguf is absent\n");
        return;
    }
    char vp[1024], base[1200];
    snprintf(vp, sizeof vp, "%s", vocab);
    snprintf(base, sizeof base, "%s/micro-qwen2-f32.gguf", sb_test_tmpdir());
    sb_error err;
    SB_CHECKF(sb_model_write_synthetic("micro-qwen2:f32", vp, base, &err) == SB_OK, "write: %s", err.msg);
    const int32_t tokens[] = {1, 450, 4996, 17354, 1701, 432, 17204, 975, 278, 17366, 11203, 29889, 13, 1576};
    const int n = sizeof tokens / sizeof tokens[0], nv = 32000;
    sb_engine *ef = load(base);
    float *ref = ef ? eval_logits(ef, tokens, n) : NULL;
    sb_engine_free(ef);
    SB_CHECK(ref != NULL);
    const struct {
        const char *name;
        uint32_t substitute;
    } cases[] = {{"Q4_K_M", SB_TYPE_Q5_0}, {"Q5_K_M", SB_TYPE_Q5_1}};
    for (size_t k = 0; ref && k < sizeof cases / sizeof cases[0]; k++) {
        char out[1200];
        snprintf(out, sizeof out, "%s/micro-qwen2-%s.gguf", sb_test_tmpdir(), cases[k].name);
        sb_quantize_opts o = {.ftype = (uint32_t)sb_quantize_ftype_from_name(cases[k].name), .n_threads = 2};
        sb_quantize_report rep;
        SB_CHECKF(sb_quantize_file(base, out, &o, &rep, &err) == SB_OK, "%s: %s", cases[k].name, err.msg);
        printf("  %s: %d tensors fell back, %d of them %s\n", cases[k].name, rep.n_fallback,
               rep.count_by_type[cases[k].substitute], sb_type_name(cases[k].substitute));
        SB_CHECK(rep.n_fallback > 0 && rep.count_by_type[cases[k].substitute] >= 8);
        sb_engine *e = load(out);
        float *x = e ? eval_logits(e, tokens, n) : NULL;
        sb_engine_free(e);
        if (x) {
            cmp c = compare(ref, x, n, nv);
            printf("  %s vs the F32 model: max %.3f, KL %.4f, top1 %.3f\n", cases[k].name, c.max_abs, c.mean_kl,
                   c.top1);
            /* this model's logits are flat (top-1 flips easily), so max and KL: measured 0.42-0.50 and 0.0035 */
            SB_CHECK(c.max_abs < 2.0 && c.mean_kl < 0.05);
        }
        sb_free(x);
        remove(out);
    }
    sb_free(ref);
    remove(base);
}

static void test_refusals(void) {
    sb_quantize_opts o = {.ftype = SB_FTYPE_MOSTLY_Q4_0};
    sb_error err;
    char out[1200];
    snprintf(out, sizeof out, "%s/never.gguf", sb_test_tmpdir());
    /* requantizing a quantized model */
    const char *q = sb_test_require_shared("models/synthetic/llama-spm512-q8_0.gguf");
    char qp[1024];
    snprintf(qp, sizeof qp, "%s", q);
    SB_CHECK(sb_quantize_file(qp, out, &o, NULL, &err) == SB_ERR_UNSUPPORTED);
    SB_CHECK(strstr(err.msg, "Q8_0") != NULL);
    SB_CHECK(sb_quantize_file("/nonexistent.gguf", out, &o, NULL, &err) == SB_ERR_IO);
    o.ftype = 3;
    SB_CHECK(sb_quantize_file(qp, out, &o, NULL, &err) == SB_ERR_INVALID_ARG);
    FILE *f = fopen(out, "r");
    SB_CHECK(f == NULL);
    if (f)
        fclose(f);
}

/* Writes a GGUF holding one 64 x 4 F32 tensor, blk.0.attn_q.weight, with
 * the values w; false on failure. */
static bool write_one_tensor(const char *path, const float *w) {
    sb_gguf_writer *g = sb_gguf_writer_create();
    const int64_t ne[2] = {64, 4};
    sb_error err;
    bool ok = g && sb_gguf_writer_set_string(g, "general.architecture", "llama", 5, &err) == SB_OK &&
              sb_gguf_writer_add_tensor(g, "blk.0.attn_q.weight", SB_TYPE_F32, 2, ne, w, NULL, &err) == SB_OK &&
              sb_gguf_writer_write(g, path, NULL, NULL, NULL, NULL, &err) == SB_OK;
    SB_CHECKF(ok, "writing %s: %s", path, g ? err.msg : "out of memory");
    sb_gguf_writer_free(g);
    return ok;
}

/* What llama-quantize refuses (its output fails ggml_validate_row_data) is
 * refused with the tensor, row and column: a NaN or infinite weight, and
 * values too large for the type's F16 scales. No output file is left. */
static void test_non_finite(void) {
    char in[1200], out[1200];
    snprintf(in, sizeof in, "%s/non-finite-f32.gguf", sb_test_tmpdir());
    snprintf(out, sizeof out, "%s/non-finite-q.gguf", sb_test_tmpdir());
    float w[256];
    for (int i = 0; i < 256; i++)
        w[i] = (float)((i * 37) % 101 - 50) / 64.0f;
    const struct {
        int at;
        float v;
        const char *ftype;
        sb_status want;
        const char *msg;
    } cases[] = {
        {64 * 2 + 17, NAN, "Q8_0", SB_ERR_FORMAT, "row 2, column 17 holds NaN"},
        {64 * 3 + 63, -INFINITY, "Q4_K_M", SB_ERR_FORMAT, "row 3, column 63 holds an infinity"},
        {64 * 1 + 40, 1e7f, "Q8_0", SB_ERR_RANGE, "row 1, columns 32..63: values up to 1e+07"},
        {5, 1e-39f, "Q4_0", SB_OK, NULL}, /* a denormal is finite: quantized */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        float v[256];
        memcpy(v, w, sizeof v);
        v[cases[k].at] = cases[k].v;
        if (!write_one_tensor(in, v))
            return;
        remove(out);
        sb_quantize_opts o = {.ftype = (uint32_t)sb_quantize_ftype_from_name(cases[k].ftype), .n_threads = 2};
        sb_error err = {0};
        const sb_status st = sb_quantize_file(in, out, &o, NULL, &err);
        SB_CHECKF(st == cases[k].want, "case %zu: status %d (%s)", k, (int)st, err.msg);
        FILE *f = fopen(out, "rb");
        SB_CHECKF((f != NULL) == (cases[k].want == SB_OK), "case %zu: output %s", k, f ? "present" : "absent");
        if (f)
            fclose(f);
        if (cases[k].msg)
            SB_CHECKF(strstr(err.msg, "blk.0.attn_q.weight") && strstr(err.msg, cases[k].msg), "case %zu: %s", k,
                      err.msg);
    }
    remove(in);
    remove(out);
}

int main(void) {
    SB_RUN(test_rules);
    SB_RUN(test_non_finite); /* before the tests that need the shared data */
    SB_RUN(test_round_trip);
    SB_RUN(test_round_trip_substitutes);
    SB_RUN(test_refusals);
    return sb_test_finish();
}
