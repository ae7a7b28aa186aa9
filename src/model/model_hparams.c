/*
 * model_hparams.c - the hyperparameters of a llama-family model from its
 * GGUF keys `<arch>.*`, with the defaults llama.cpp applies when a key is
 * absent (head_count_kv = head_count, key_length = n_embd / n_head,
 * rope.dimension_count = key_length, rope.freq_base = 10000, no scaling),
 * and the context-level rope settings llama.cpp derives from them (YaRN
 * ext_factor and attention factor).
 */
#include "model_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Reads integer key `<arch>.<suffix>` into *out: required keys must exist,
 * optional ones keep *out. Range-checked to [lo, hi]. */
static sb_status key_int(const sb_gguf *g, const char *arch, const char *suffix, bool required, int64_t lo, int64_t hi,
                         int64_t *out, sb_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    sb_status st = sb_gguf_get_int(g, key, &v, err);
    if (st == SB_ERR_NOT_FOUND) {
        if (required)
            return sb_error_set(err, SB_ERR_FORMAT, "key '%s' is missing", key);
        return SB_OK;
    }
    if (st != SB_OK)
        return st;
    if (v < lo || v > hi)
        return sb_error_set(err, SB_ERR_FORMAT, "key '%s' = %lld is out of range (%lld..%lld)", key, (long long)v,
                            (long long)lo, (long long)hi);
    *out = v;
    return SB_OK;
}

static sb_status key_float(const sb_gguf *g, const char *arch, const char *suffix, bool required, double *out,
                           sb_error *err) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    double v;
    sb_status st = sb_gguf_get_float(g, key, &v, err);
    if (st == SB_ERR_NOT_FOUND) {
        if (required)
            return sb_error_set(err, SB_ERR_FORMAT, "key '%s' is missing", key);
        return SB_OK;
    }
    if (st != SB_OK)
        return st;
    if (!isfinite(v))
        return sb_error_set(err, SB_ERR_FORMAT, "key '%s' is not a finite number", key);
    *out = v;
    return SB_OK;
}

/* The rope settings of llama.cpp's llama_context for this file: linear
 * scaling (freq_scale = 1/factor), YaRN (ext_factor 1, beta 32/1, attention
 * factor so that the kernel's own mscale is not applied twice). */
static sb_status read_rope(const sb_gguf *g, const char *arch, sb_model_hparams *hp, sb_error *err) {
    sb_rope_params *r = &hp->rope;
    double base = 10000.0, factor = 0.0, attn = 1.0, log_mul = 0.0, beta_fast = 32.0, beta_slow = 1.0, ext = -1.0;
    int64_t n_orig = 0;
    sb_status st;
    if ((st = key_float(g, arch, "rope.freq_base", false, &base, err)) ||
        (st = key_float(g, arch, "rope.scaling.factor", false, &factor, err)))
        return st;
    if (factor == 0.0 && (st = key_float(g, arch, "rope.scale_linear", false, &factor, err)))
        return st;
    if ((st = key_float(g, arch, "rope.scaling.attn_factor", false, &attn, err)) ||
        (st = key_float(g, arch, "rope.scaling.yarn_log_multiplier", false, &log_mul, err)) ||
        (st = key_float(g, arch, "rope.scaling.yarn_beta_fast", false, &beta_fast, err)) ||
        (st = key_float(g, arch, "rope.scaling.yarn_beta_slow", false, &beta_slow, err)) ||
        (st = key_float(g, arch, "rope.scaling.yarn_ext_factor", false, &ext, err)) ||
        (st = key_int(g, arch, "rope.scaling.original_context_length", false, 0, INT32_MAX, &n_orig, err)))
        return st;
    if (base <= 0.0)
        return sb_error_set(err, SB_ERR_FORMAT, "key '%s.rope.freq_base' = %g must be positive", arch, base);
    if (factor < 0.0)
        return sb_error_set(err, SB_ERR_FORMAT, "key '%s.rope.scaling.factor' = %g is negative", arch, factor);

    char key[128];
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    sb_str type = {"linear", 6};
    st = sb_gguf_get_string(g, key, &type, err);
    if (st != SB_OK && st != SB_ERR_NOT_FOUND)
        return st;
    bool yarn = false;
    if (sb_str_eq_cstr(type, "none"))
        factor = 0.0;
    else if (sb_str_eq_cstr(type, "yarn"))
        yarn = true;
    else if (!sb_str_eq_cstr(type, "linear"))
        return sb_error_set(err, SB_ERR_UNSUPPORTED,
                            "key '%s' = '%.*s': rope scaling type not supported (none, linear, yarn)", key,
                            (int)(type.len > 32 ? 32 : type.len), type.ptr);

    r->freq_base = (float)base;
    r->freq_scale = factor == 0.0 ? 1.0f : (float)(1.0 / factor);
    r->n_ctx_orig = n_orig ? (int)n_orig : hp->n_ctx_train;
    r->beta_fast = (float)beta_fast;
    r->beta_slow = (float)beta_slow;
    r->ext_factor = ext >= 0.0 ? (float)ext : (yarn ? 1.0f : 0.0f);
    float attn_factor = 1.0f;
    if (r->ext_factor != 0.0f) {
        const float f = 1.0f / r->freq_scale;
        const float m1 = f <= 1.0f ? 1.0f : 0.1f * logf(f) + 1.0f; /* get_mscale(f, 1) */
        if (log_mul != 0.0) {
            const float ml = f <= 1.0f ? 1.0f : 0.1f * (float)log_mul * logf(f) + 1.0f;
            attn_factor = m1 / ml;
        } else {
            attn_factor = m1;
        }
        attn_factor *= 1.0f / (1.0f + 0.1f * logf(f));
    }
    r->attn_factor = attn_factor * (float)attn;
    return SB_OK;
}

sb_status sb_model_read_hparams(const sb_gguf *g, const sb_arch *arch, sb_model_hparams *hp, sb_error *err) {
    const char *a = arch->name;
    int64_t ctx = 0, embd = 0, layers = 0, ff = 0, heads = 0, kv = -1, dk = -1, dv = -1, rot = -1;
    double eps = 0;
    sb_status st;
    if ((st = key_int(g, a, "context_length", true, 1, INT32_MAX, &ctx, err)) ||
        (st = key_int(g, a, "embedding_length", true, 1, 1 << 20, &embd, err)) ||
        (st = key_int(g, a, "block_count", true, 1, 4096, &layers, err)) ||
        (st = key_int(g, a, "feed_forward_length", true, 1, 1 << 22, &ff, err)) ||
        (st = key_int(g, a, "attention.head_count", true, 1, 4096, &heads, err)) ||
        (st = key_int(g, a, "attention.head_count_kv", false, 1, 4096, &kv, err)) ||
        (st = key_int(g, a, "attention.key_length", false, 1, 1 << 16, &dk, err)) ||
        (st = key_int(g, a, "attention.value_length", false, 1, 1 << 16, &dv, err)) ||
        (st = key_int(g, a, "rope.dimension_count", false, 0, 1 << 16, &rot, err)) ||
        (st = key_float(g, a, "attention.layer_norm_rms_epsilon", true, &eps, err)))
        return st;
    if (eps < 0.0)
        return sb_error_set(err, SB_ERR_FORMAT, "key '%s.attention.layer_norm_rms_epsilon' = %g is negative", a, eps);
    snprintf(hp->arch, sizeof hp->arch, "%s", a);
    hp->n_ctx_train = (int)ctx;
    hp->n_embd = (int)embd;
    hp->n_layers = (int)layers;
    hp->n_ff = (int)ff;
    hp->n_heads = (int)heads;
    hp->n_kv_heads = kv > 0 ? (int)kv : (int)heads;
    if (dk < 0 && embd % heads != 0)
        return sb_error_set(err, SB_ERR_FORMAT,
                            "n_embd %lld is not a multiple of the %lld heads and '%s.attention.key_length' is missing",
                            (long long)embd, (long long)heads, a);
    hp->head_dim_k = dk > 0 ? (int)dk : (int)(embd / heads);
    hp->head_dim_v = dv > 0 ? (int)dv : (int)(embd / heads);
    hp->rms_eps = (float)eps;
    memset(&hp->rope, 0, sizeof hp->rope);
    hp->rope.mode = arch->rope_mode;
    hp->rope.n_rot = rot >= 0 ? (int)rot : hp->head_dim_k;
    if ((st = read_rope(g, a, hp, err)) != SB_OK)
        return st;
    hp->qk_norm = arch->qk_norm;
    return arch->check ? arch->check(g, hp, err) : SB_OK;
}

sb_status sb_model_check_hparams(const sb_model_hparams *hp, sb_error *err) {
    if (hp->n_kv_heads > hp->n_heads || hp->n_heads % hp->n_kv_heads != 0)
        return sb_error_set(err, SB_ERR_FORMAT, "%d attention heads cannot be grouped over %d KV heads", hp->n_heads,
                            hp->n_kv_heads);
    if (hp->head_dim_k > SB_MODEL_MAX_HEAD_DIM || hp->head_dim_v > SB_MODEL_MAX_HEAD_DIM)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "head size %d/%d is larger than the supported %d", hp->head_dim_k,
                            hp->head_dim_v, SB_MODEL_MAX_HEAD_DIM);
    if (hp->rope.n_rot < 2 || hp->rope.n_rot > hp->head_dim_k || hp->rope.n_rot % 2 != 0)
        return sb_error_set(err, SB_ERR_FORMAT, "rope dimension count %d must be even and within the head size %d",
                            hp->rope.n_rot, hp->head_dim_k);
    if ((int64_t)hp->n_heads * hp->head_dim_k > (1 << 22) || (int64_t)hp->n_heads * hp->head_dim_v > (1 << 22))
        return sb_error_set(err, SB_ERR_FORMAT, "%d heads of %d values are too many", hp->n_heads, hp->head_dim_k);
    return SB_OK;
}
