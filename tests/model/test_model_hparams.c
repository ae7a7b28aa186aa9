/*
 * test_model_hparams.c - hyperparameters the way llama.cpp reads them:
 * defaults for absent keys, rope scaling (linear, YaRN, none, refused
 * types), the architectures' features; and the synthetic model planner
 * (real parameter counts, unknown names, refusal when memory is short).
 */
#include "model_test_util.h"
#include "sb_alloc.h"
#include "sb_cpu_backend.h"
#include "sb_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static sb_backend *g_be;

/* Loads and copies the hparams out (the image must outlive the model). */
static bool hparams_of(const mt_tiny *t, sb_model_hparams *hp, char *msg, size_t cap) {
    void *data = NULL;
    size_t len = 0;
    sb_gguf *g = NULL;
    sb_model *m = NULL;
    sb_error err;
    sb_error_clear(&err);
    bool ok = mt_tiny_gguf(t, &data, &len) && sb_gguf_open_memory(data, len, &g, &err) == SB_OK &&
              sb_model_load_gguf(g, g_be, NULL, &m, &err) == SB_OK;
    if (ok)
        *hp = *sb_model_get_hparams(m);
    snprintf(msg, cap, "%s", err.msg);
    sb_model_free(m);
    sb_free(data);
    return ok;
}

static void test_defaults(void) {
    mt_tiny t = {0};
    sb_model_hparams hp;
    char msg[600];
    SB_CHECKF(hparams_of(&t, &hp, msg, sizeof msg), "%s", msg);
    SB_CHECK_STR(hp.arch, "llama");
    SB_CHECK_EQ_INT(hp.n_embd, 64);
    SB_CHECK_EQ_INT(hp.n_heads, 2);
    SB_CHECK_EQ_INT(hp.n_kv_heads, 1);
    SB_CHECK_EQ_INT(hp.head_dim_k, 32); /* n_embd / n_head */
    SB_CHECK_EQ_INT(hp.rope.n_rot, 32); /* = head size */
    SB_CHECK(hp.rope.freq_base == 10000.0f);
    SB_CHECK(hp.rope.freq_scale == 1.0f && hp.rope.ext_factor == 0.0f && hp.rope.attn_factor == 1.0f);
    SB_CHECK_EQ_INT(hp.rope.mode, SB_ROPE_NORMAL);
    SB_CHECK(!hp.qkv_bias && !hp.qk_norm && !hp.tied_output);
    SB_CHECK(fabsf(hp.rms_eps - 1e-5f) < 1e-12f);
    SB_CHECK_EQ_INT(hp.n_ctx_train, 128);
    SB_CHECK(hp.n_params > 0 && hp.weight_bytes == hp.n_params * 4);
}

static void test_rope_scaling(void) {
    sb_model_hparams hp;
    char msg[600];
    mt_tiny lin = {.rope_factor = 4.0f, .freq_base = 500000.0f};
    SB_CHECKF(hparams_of(&lin, &hp, msg, sizeof msg), "%s", msg);
    SB_CHECK(hp.rope.freq_scale == 0.25f && hp.rope.ext_factor == 0.0f && hp.rope.freq_base == 500000.0f);
    mt_tiny none = {.rope_type = "none", .rope_factor = 4.0f};
    SB_CHECKF(hparams_of(&none, &hp, msg, sizeof msg), "%s", msg);
    SB_CHECK(hp.rope.freq_scale == 1.0f);
    mt_tiny yarn = {.rope_type = "yarn", .rope_factor = 4.0f, .rope_orig_ctx = 32};
    SB_CHECKF(hparams_of(&yarn, &hp, msg, sizeof msg), "%s", msg);
    SB_CHECK(hp.rope.freq_scale == 0.25f && hp.rope.ext_factor == 1.0f);
    SB_CHECK(hp.rope.beta_fast == 32.0f && hp.rope.beta_slow == 1.0f);
    SB_CHECK_EQ_INT(hp.rope.n_ctx_orig, 32);
    /* llama.cpp cancels the kernel's own mscale: attn_factor comes out 1 */
    SB_CHECKF(fabsf(hp.rope.attn_factor - 1.0f) < 1e-6f, "yarn attn_factor %g", hp.rope.attn_factor);
    mt_tiny lr = {.rope_type = "longrope"};
    SB_CHECK(!hparams_of(&lr, &hp, msg, sizeof msg));
    SB_CHECKF(strstr(msg, "longrope") != NULL, "%s", msg);
}

static void test_synthetic_plan(void) {
    uint64_t bytes = 0;
    sb_error err;
    /* TinyLlama 1.1B has 1,100,048,384 parameters; norms stay F32 */
    SB_CHECK(sb_model_synthetic_bytes("tinyllama-1.1b:f16", &bytes, &err) == SB_OK);
    SB_CHECK_EQ_INT(bytes, 2ull * 1100048384 + 2ull * (2 * 22 + 1) * 2048);
    /* Qwen2.5-0.5B: 494,032,768 parameters (tied); norms and q/k/v biases F32 */
    SB_CHECK(sb_model_synthetic_bytes("qwen2.5-0.5b:bf16", &bytes, &err) == SB_OK);
    SB_CHECK_EQ_INT(bytes, 2ull * 494032768 + 2ull * ((2 * 24 + 1) * 896 + 24 * (896 + 128 + 128)));
    const char *shapes[] = {"tinyllama-1.1b", "llama2-7b",  "llama2-13b", "llama3-8b",
                            "qwen2.5-0.5b",   "qwen2.5-7b", "qwen2.5-32b"};
    const char *types[] = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};
    for (size_t s = 0; s < 7; s++) {
        uint64_t prev = UINT64_MAX;
        for (size_t t = 0; t < 8; t++) {
            char spec[64];
            snprintf(spec, sizeof spec, "%s:%s", shapes[s], types[t]);
            SB_CHECKF(sb_model_synthetic_bytes(spec, &bytes, &err) == SB_OK, "%s: %s", spec, err.msg);
            if (t == 0 || t == 1)
                SB_CHECK(bytes < prev); /* f32 > f16 */
            prev = bytes;
        }
    }
    SB_CHECK(sb_model_synthetic_bytes("llama2-7b:q4_k_m", &bytes, &err) == SB_OK);
    SB_CHECKF(bytes > 3900000000ull && bytes < 4200000000ull, "llama2-7b q4_k_m: %llu bytes",
              (unsigned long long)bytes);
    SB_CHECK(sb_model_synthetic_bytes("gpt9:f16", &bytes, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(strstr(err.msg, "unknown shape") != NULL);
    SB_CHECK(sb_model_synthetic_bytes("llama2-7b:q2_k", &bytes, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(strstr(err.msg, "unknown type") != NULL);
    /* 130 GB of F32 weights: refused before anything is allocated */
    sb_model *m = NULL;
    SB_CHECK(sb_model_load_synthetic("qwen2.5-32b:f32", g_be, NULL, &m, &err) == SB_ERR_LIMIT);
    SB_CHECKF(strstr(err.msg, "GiB") != NULL && strstr(err.msg, "available") != NULL, "%s", err.msg);
    SB_CHECK(m == NULL);
}

int main(void) {
    sb_cpu_backend_opts o = {.n_threads = 1, .repack = true};
    sb_error err;
    if (sb_cpu_backend_create(&o, &g_be, &err) != SB_OK)
        return 1;
    SB_RUN(test_defaults);
    SB_RUN(test_rope_scaling);
    SB_RUN(test_synthetic_plan);
    sb_backend_destroy(g_be);
    return sb_test_finish();
}
