/*
 * synthetic.c - random-weight models of real shapes, built in memory.
 *
 * Benchmarks need a TinyLlama- or Llama-2-7B-sized model without shipping
 * one. The weights are written directly as valid GGUF blocks: random quants
 * with finite scales chosen so every weight has roughly the spread of
 * N(0, 1/fan_in) (no quantization search, so a 1.1B model is built in a few
 * seconds). Tensor types follow llama-quantize's choices for each file type
 * (output in Q6_K; for *_K_M also attn_v and ffn_down of the "more bits"
 * layers); a row whose length is not a multiple of the type's block gets
 * llama-quantize's substitute (Q4_K -> Q5_0, Q5_K -> Q5_1, else Q8_0), as
 * the real files of Qwen2.5-0.5B (896 columns) have.
 */
#include "model_internal.h"

#include "sb_alloc.h"
#include "sb_gguf_writer.h"
#include "sb_half.h"
#include "sb_proc.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct synth_shape {
    const char *name, *arch;
    int n_vocab, n_embd, n_layers, n_heads, n_kv_heads, n_ff, n_ctx;
    float rope_base, eps;
    bool tied;
} synth_shape;

static const synth_shape shapes[] = {
    {"tinyllama-1.1b", "llama", 32000, 2048, 22, 32, 4, 5632, 2048, 10000.0f, 1e-5f, false},
    {"llama2-7b", "llama", 32000, 4096, 32, 32, 32, 11008, 4096, 10000.0f, 1e-5f, false},
    {"llama2-13b", "llama", 32000, 5120, 40, 40, 40, 13824, 4096, 10000.0f, 1e-5f, false},
    {"llama3-8b", "llama", 128256, 4096, 32, 32, 8, 14336, 8192, 500000.0f, 1e-5f, false},
    {"qwen2.5-0.5b", "qwen2", 151936, 896, 24, 14, 2, 4864, 32768, 1000000.0f, 1e-6f, true},
    {"qwen2.5-7b", "qwen2", 152064, 3584, 28, 28, 4, 18944, 32768, 1000000.0f, 1e-6f, false},
    {"qwen2.5-32b", "qwen2", 152064, 5120, 64, 40, 8, 27648, 32768, 1000000.0f, 1e-6f, false},
    /* not a real model: a few MB with the Llama 2 vocabulary size, for tests */
    {"micro-llama", "llama", 32000, 256, 2, 4, 2, 512, 1024, 10000.0f, 1e-5f, false},
    /* the same for a tied qwen2 whose rows are not whole K-quant super-blocks (as Qwen2.5-0.5B's) */
    {"micro-qwen2", "qwen2", 32000, 224, 2, 4, 2, 608, 1024, 1000000.0f, 1e-6f, true},
};

typedef struct synth_type {
    const char *name;
    uint32_t base;      /* type of most matrices */
    uint32_t file_type; /* llama_ftype value, as general.file_type */
    bool k_mix;         /* *_K_M: Q6_K for attn_v / ffn_down of "more bits" layers */
} synth_type;

static const synth_type types[] = {
    {"f32", SB_TYPE_F32, 0, false},     {"f16", SB_TYPE_F16, 1, false},    {"bf16", SB_TYPE_BF16, 32, false},
    {"q8_0", SB_TYPE_Q8_0, 7, false},   {"q4_0", SB_TYPE_Q4_0, 2, false},  {"q4_k_m", SB_TYPE_Q4_K, 15, true},
    {"q5_k_m", SB_TYPE_Q5_K, 17, true}, {"q6_k", SB_TYPE_Q6_K, 18, false},
};

/* Splits "shape:type" and finds both (names compared without case). */
static sb_status parse(const char *spec, const synth_shape **shape, const synth_type **type, sb_error *err) {
    const char *colon = strrchr(spec, ':');
    size_t sl = colon ? (size_t)(colon - spec) : strlen(spec);
    *shape = NULL;
    *type = NULL;
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (strlen(shapes[i].name) == sl && strncasecmp(shapes[i].name, spec, sl) == 0)
            *shape = &shapes[i];
    if (!*shape)
        return sb_error_set(err, SB_ERR_INVALID_ARG,
                            "synthetic model '%s': unknown shape (tinyllama-1.1b, llama2-7b, llama2-13b, llama3-8b, "
                            "qwen2.5-0.5b, qwen2.5-7b, qwen2.5-32b, micro-llama, micro-qwen2)",
                            spec);
    const char *tn = colon ? colon + 1 : "f16";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(types[i].name, tn) == 0) /* "Q4_K_M" as quantize spells it, or "q4_k_m" */
            *type = &types[i];
    if (!*type)
        return sb_error_set(
            err, SB_ERR_INVALID_ARG,
            "synthetic model '%s': unknown type '%s' (f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k)", spec, tn);
    return SB_OK;
}

/* The hyperparameters of a shape as llama.cpp would read them from the real file. */
static void fill_hparams(const synth_shape *s, const synth_type *t, sb_model_hparams *hp) {
    memset(hp, 0, sizeof *hp);
    snprintf(hp->arch, sizeof hp->arch, "%s", s->arch);
    snprintf(hp->name, sizeof hp->name, "synthetic %s %s", s->name, t->name);
    hp->n_vocab = s->n_vocab;
    hp->n_embd = s->n_embd;
    hp->n_layers = s->n_layers;
    hp->n_heads = s->n_heads;
    hp->n_kv_heads = s->n_kv_heads;
    hp->head_dim_k = hp->head_dim_v = s->n_embd / s->n_heads;
    hp->n_ff = s->n_ff;
    hp->n_ctx_train = s->n_ctx;
    hp->rms_eps = s->eps;
    hp->tied_output = s->tied;
    hp->file_type = t->file_type;
    hp->rope.n_rot = hp->head_dim_k;
    hp->rope.freq_base = s->rope_base;
    hp->rope.freq_scale = 1.0f;
    hp->rope.attn_factor = 1.0f;
    hp->rope.beta_fast = 32.0f;
    hp->rope.beta_slow = 1.0f;
    hp->rope.n_ctx_orig = s->n_ctx;
    const sb_arch *arch = sb_arch_find(s->arch); /* what the loader takes from the architecture */
    if (arch) {
        hp->rope.mode = arch->rope_mode;
        hp->qk_norm = arch->qk_norm;
    }
}

/* llama.cpp's use_more_bits(i, n). */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static uint32_t pick_type(const synth_type *ty, const sb_weight_spec *s, const sb_model_hparams *hp) {
    if (s->usage & SB_USE_VECTOR)
        return SB_TYPE_F32;
    uint32_t t = ty->base;
    const bool is_output = s->role == SB_W_OUTPUT || (s->role == SB_W_TOKEN_EMBD && hp->tied_output);
    const bool is_float = t == SB_TYPE_F32 || t == SB_TYPE_F16 || t == SB_TYPE_BF16;
    if (is_output && !is_float && t != SB_TYPE_Q8_0)
        t = SB_TYPE_Q6_K;
    if (ty->k_mix && (s->role == SB_W_V || s->role == SB_W_DOWN) && more_bits(s->layer, hp->n_layers))
        t = SB_TYPE_Q6_K;
    return sb_type_for_row(t, s->ne[0]); /* llama-quantize's substitutes */
}

static uint64_t spec_bytes(const sb_weight_spec *s, uint32_t type) {
    uint64_t row = 0;
    sb_type_row_size(type, (uint64_t)s->ne[0], &row);
    return row * (uint64_t)s->ne[1];
}

/* ---- random blocks ---------------------------------------------------- */

/* Counter-based random numbers (splitmix64's finaliser): word i of stream s
 * depends only on (s, i), so a tensor can be filled in any order by any
 * number of threads and still come out the same. */
static inline uint64_t rnd(uint64_t stream, uint64_t i) {
    uint64_t z = stream + (i + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void put_f16(uint8_t *p, float v) {
    uint16_t h = sb_f32_to_fp16(v);
    memcpy(p, &h, 2);
}

/* What to generate for one tensor: `units` elements (float types) or
 * blocks (quantized types). */
typedef struct gen_job {
    uint8_t *p;
    uint32_t type;
    size_t units, unit_bytes;
    float std, offset;
    uint64_t stream;
} gen_job;

/* Uniform values of standard deviation std (plus offset), elements [u0, u1). */
static void gen_floats(const gen_job *j, size_t u0, size_t u1) {
    const float k = j->std * 1.7320508f / 2147483648.0f; /* uniform [-a, a] has std a / sqrt(3) */
    const float o = j->offset;
    if (j->type == SB_TYPE_F32) {
        float *y = (float *)j->p;
        for (size_t i = u0; i < u1; i++)
            y[i] = o + (float)(int32_t)(uint32_t)rnd(j->stream, i) * k;
    } else if (j->type == SB_TYPE_F16) {
        uint16_t *y = (uint16_t *)j->p;
        for (size_t i = u0; i < u1; i++)
            y[i] = sb_f32_to_fp16(o + (float)(int32_t)(uint32_t)rnd(j->stream, i) * k);
    } else {
        uint16_t *y = (uint16_t *)j->p;
        for (size_t i = u0; i < u1; i++)
            y[i] = sb_f32_to_bf16(o + (float)(int32_t)(uint32_t)rnd(j->stream, i) * k);
    }
}

/* Random quants with finite scales, blocks [u0, u1): d is chosen so that
 * the weights' spread is about std (the divisor is the spread of scale x
 * quant when every field is random). */
static void gen_blocks(const gen_job *j, size_t u0, size_t u1) {
    const size_t bs = j->unit_bytes, words = (bs + 7) / 8;
    for (size_t b = u0; b < u1; b++) {
        uint8_t *blk = j->p + b * bs;
        for (size_t w = 0; w < words; w++) {
            const uint64_t x = rnd(j->stream, b * words + w);
            memcpy(blk + 8 * w, &x, 8 * w + 8 <= bs ? 8 : bs - 8 * w);
        }
        const float jitter = 0.75f + 0.5f * (float)(rnd(~j->stream, b) >> 40) / 16777216.0f;
        const float s = j->std * jitter;
        switch (j->type) {
        case SB_TYPE_Q8_0: put_f16(blk, s / 73.9f); break;
        case SB_TYPE_Q4_0: put_f16(blk, s / 4.6f); break;
        case SB_TYPE_Q5_0: put_f16(blk, s / 9.23f); break; /* q - 16, q uniform in 0..31 */
        case SB_TYPE_Q5_1: /* d * q + m, centred */
            put_f16(blk, s / 9.23f);
            put_f16(blk + 2, -15.5f * s / 9.23f);
            break;
        case SB_TYPE_Q4_K:
            put_f16(blk, s / 258.0f);
            put_f16(blk + 2, 7.5f * s / 258.0f);
            break;
        case SB_TYPE_Q5_K:
            put_f16(blk, s / 527.0f);
            put_f16(blk + 2, 15.5f * s / 527.0f);
            break;
        case SB_TYPE_Q6_K: put_f16(blk + 208, s / 1366.0f); break;
        default: break;
        }
    }
}

typedef struct gen_part {
    const gen_job *job;
    size_t u0, u1;
    pthread_t thread;
} gen_part;

static void *gen_part_main(void *arg) {
    gen_part *p = arg;
    if (sb_type_traits_of(p->job->type)->quantized)
        gen_blocks(p->job, p->u0, p->u1);
    else
        gen_floats(p->job, p->u0, p->u1);
    return NULL;
}

/* Fills the tensor on up to one thread per CPU (the result does not depend
 * on how many). */
static void generate(const gen_job *j) {
    enum { MAX_PARTS = 16 };
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int n = j->units < (1u << 16) ? 1 : (int)(cpus < 1 ? 1 : cpus > MAX_PARTS ? MAX_PARTS : cpus);
    gen_part parts[MAX_PARTS];
    int started = 0;
    for (int i = 0; i < n; i++) {
        parts[i] = (gen_part){j, j->units * (size_t)i / (size_t)n, j->units * (size_t)(i + 1) / (size_t)n, 0};
        if (i > 0 && pthread_create(&parts[i].thread, NULL, gen_part_main, &parts[i]) == 0)
            started |= 1 << i;
        else if (i > 0)
            gen_part_main(&parts[i]); /* no thread: do it here */
    }
    gen_part_main(&parts[0]);
    for (int i = 1; i < n; i++)
        if (started & (1 << i))
            pthread_join(parts[i].thread, NULL);
}

/* Generates the bytes of weight number `index` (bytes = spec_bytes) into dst. */
static void fill_weight(int index, const sb_weight_spec *s, uint32_t type, const sb_model_hparams *hp, void *dst,
                        size_t bytes) {
    float std = 0.0f, offset = 0.0f;
    switch (s->role) {
    case SB_W_TOKEN_EMBD: std = hp->tied_output ? 1.0f / sqrtf((float)hp->n_embd) : 1.0f; break;
    case SB_W_ATTN_NORM:
    case SB_W_FFN_NORM:
    case SB_W_OUTPUT_NORM:
    case SB_W_Q_NORM:
    case SB_W_K_NORM:
        std = 0.05f;
        offset = 1.0f;
        break;
    case SB_W_Q_BIAS:
    case SB_W_K_BIAS:
    case SB_W_V_BIAS:
    case SB_W_O_BIAS: std = 0.1f; break;
    default: std = 1.0f / sqrtf((float)s->ne[0]); break;
    }
    const sb_type_traits *tr = sb_type_traits_of(type);
    gen_job j = {
        dst, type, bytes / tr->type_size, tr->type_size, std, offset, 0x5eb0c5ull + 0x1000193ull * (uint64_t)index};
    generate(&j);
}

/* Generates the bytes of weight number `index` into a page-aligned buffer
 * the caller owns (sb_aligned_free). */
static sb_status make_weight(int index, const sb_weight_spec *s, uint32_t type, const sb_model_hparams *hp, void **out,
                             sb_error *err) {
    size_t bytes = (size_t)spec_bytes(s, type);
    uint8_t *p = sb_aligned_alloc(4096, bytes ? bytes : 1);
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "tensor '%s': out of memory for %zu bytes", s->name, bytes);
    fill_weight(index, s, type, hp, p, bytes);
    *out = p;
    return SB_OK;
}

static sb_status plan(const char *spec, const synth_shape **shape, const synth_type **type, sb_model_hparams *hp,
                      sb_weight_spec **specs, int *n_specs, uint64_t *bytes, sb_error *err) {
    sb_status st = parse(spec, shape, type, err);
    if (st != SB_OK)
        return st;
    fill_hparams(*shape, *type, hp);
    const sb_arch *arch = sb_arch_find(hp->arch);
    *specs = sb_calloc((size_t)sb_model_max_weights(hp), sizeof **specs);
    if (!*specs)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    *n_specs = sb_model_weight_specs(hp, arch, *specs);
    *bytes = 0;
    for (int i = 0; i < *n_specs; i++)
        if ((*specs)[i].required)
            *bytes += spec_bytes(&(*specs)[i], pick_type(*type, &(*specs)[i], hp));
    return SB_OK;
}

sb_status sb_model_synthetic_bytes(const char *spec, uint64_t *bytes, sb_error *err) {
    const synth_shape *shape;
    const synth_type *type;
    sb_model_hparams hp;
    sb_weight_spec *specs = NULL;
    int n = 0;
    sb_status st = plan(spec, &shape, &type, &hp, &specs, &n, bytes, err);
    sb_free(specs);
    return st;
}

/* Makes room for one more owned buffer, so that keeping a weight's bytes
 * after the backend took them cannot fail. */
static sb_status owned_room(sb_model *m, sb_error *err) {
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? m->cap_owned * 2 : 64;
        void **o = sb_reallocarray(m->owned, (size_t)cap, sizeof *o);
        if (!o)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        m->owned = o;
        m->cap_owned = cap;
    }
    return SB_OK;
}

/* Generates weight i, hands it to the backend and keeps the bytes only while
 * the backend still reads them (t->data == host, see weight_load): a
 * repacked or copied weight's source is freed at once, so the model holds
 * one copy of its weights, not two (llama2-13b:q8_0 would otherwise need
 * about 28 GB at its peak). */
static sb_status add_weight(sb_model *m, int i, const sb_weight_spec *s, uint32_t type, sb_error *err) {
    void *bytes = NULL;
    sb_status st = owned_room(m, err);
    if (st == SB_OK)
        st = make_weight(i, s, type, &m->hp, &bytes, err);
    if (st != SB_OK)
        return st;
    st = sb_model_bind_weight(m, s, type, bytes, err);
    if (st == SB_OK && m->tensors[m->n_tensors - 1].data == bytes)
        m->owned[m->n_owned++] = bytes;
    else
        sb_aligned_free(bytes);
    return st;
}

sb_status sb_model_load_synthetic(const char *spec, sb_backend *backend, const sb_model_load_opts *opts, sb_model **out,
                                  sb_error *err) {
    *out = NULL;
    const synth_shape *shape;
    const synth_type *type;
    sb_model_hparams hp;
    sb_weight_spec *specs = NULL;
    int n = 0;
    uint64_t need = 0;
    sb_status st = plan(spec, &shape, &type, &hp, &specs, &n, &need, err);
    if (st != SB_OK) {
        sb_free(specs);
        return st;
    }
    uint64_t avail = sb_proc_mem_available();
    if (avail && need > avail) {
        sb_free(specs);
        return sb_error_set(
            err, SB_ERR_LIMIT,
            "synthetic model '%s' needs %.1f GiB for its weights, but only %.1f GiB of memory is available", spec,
            (double)need / 1073741824.0, (double)avail / 1073741824.0);
    }
    sb_model *m = NULL;
    if ((st = sb_model_alloc(&hp, sb_arch_find(hp.arch), backend, &m, err)) != SB_OK) {
        sb_free(specs);
        return st;
    }
    m->no_repack = opts && !opts->repack;
    uint64_t mm_bytes[SB_TYPE_COUNT] = {0};
    for (int i = 0; i < n; i++)
        if (specs[i].required && (specs[i].usage & SB_USE_MATMUL)) {
            const uint32_t t = pick_type(type, &specs[i], &hp);
            mm_bytes[t] += spec_bytes(&specs[i], t);
        }
    st = sb_model_reserve_weights(m, mm_bytes, err);
    for (int i = 0; i < n && st == SB_OK; i++) {
        const sb_weight_spec *s = &specs[i];
        if (!s->required)
            continue;
        st = add_weight(m, i, s, pick_type(type, s, &hp), err);
    }
    sb_free(specs);
    if (st == SB_OK)
        st = sb_model_finish(m, err);
    if (st != SB_OK) {
        sb_model_free(m);
        return sb_error_prefix(err, "synthetic model '%s': ", spec);
    }
    m->hp.file_type = type->file_type;
    *out = m;
    return SB_OK;
}

/* ---- the same model as a GGUF file ------------------------------------ */

/* What the writer's fill callback needs: writer tensor k is spec spec_of[k]. */
typedef struct write_ctx {
    const sb_weight_spec *specs;
    const int *spec_of;
    const uint32_t *types;
    const sb_model_hparams *hp;
} write_ctx;

static sb_status write_fill(void *ud, size_t index, void *dst, uint64_t size, sb_error *err) {
    const write_ctx *w = ud;
    const int i = w->spec_of[index];
    if (spec_bytes(&w->specs[i], w->types[index]) != size)
        return sb_error_set(err, SB_ERR_INTERNAL, "tensor '%s': size mismatch", w->specs[i].name);
    fill_weight(i, &w->specs[i], w->types[index], w->hp, dst, (size_t)size);
    return SB_OK;
}

/* Sets `<arch>.<suffix>` to v. */
static sb_status set_arch_u32(sb_gguf_writer *w, const char *arch, const char *suffix, int64_t v, sb_error *err) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return sb_gguf_writer_set_u32(w, key, (uint32_t)v, err);
}

/* Sets `<arch>.<suffix>` to v. */
static sb_status set_arch_f32(sb_gguf_writer *w, const char *arch, const char *suffix, float v, sb_error *err) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return sb_gguf_writer_set_f32(w, key, v, err);
}

/* The hyperparameter keys llama.cpp and sb_model_hparams read. */
static sb_status write_hparams(sb_gguf_writer *w, const sb_model_hparams *hp, sb_error *err) {
    const char *a = hp->arch;
    sb_status st;
    if ((st = sb_gguf_writer_set_string(w, "general.architecture", a, strlen(a), err)) ||
        (st = sb_gguf_writer_set_string(w, "general.name", hp->name, strlen(hp->name), err)) ||
        (st = sb_gguf_writer_set_u32(w, "general.file_type", hp->file_type, err)) ||
        (st = set_arch_u32(w, a, "context_length", hp->n_ctx_train, err)) ||
        (st = set_arch_u32(w, a, "embedding_length", hp->n_embd, err)) ||
        (st = set_arch_u32(w, a, "block_count", hp->n_layers, err)) ||
        (st = set_arch_u32(w, a, "feed_forward_length", hp->n_ff, err)) ||
        (st = set_arch_u32(w, a, "attention.head_count", hp->n_heads, err)) ||
        (st = set_arch_u32(w, a, "attention.head_count_kv", hp->n_kv_heads, err)) ||
        (st = set_arch_u32(w, a, "rope.dimension_count", hp->rope.n_rot, err)) ||
        (st = set_arch_u32(w, a, "vocab_size", hp->n_vocab, err)) ||
        (st = set_arch_f32(w, a, "attention.layer_norm_rms_epsilon", hp->rms_eps, err)))
        return st;
    return set_arch_f32(w, a, "rope.freq_base", hp->rope.freq_base, err);
}

/* Copies every tokenizer.* key of the GGUF at vocab_path; its token list
 * must have the shape's vocabulary size. */
static sb_status write_vocab(sb_gguf_writer *w, const char *vocab_path, int n_vocab, sb_error *err) {
    sb_gguf *v = NULL;
    sb_status st = sb_gguf_open(vocab_path, &v, err);
    if (st != SB_OK)
        return sb_error_prefix(err, "vocab '%s': ", vocab_path);
    const sb_gguf_array *tokens = NULL;
    if ((st = sb_gguf_get_array(v, "tokenizer.ggml.tokens", &tokens, err)) == SB_OK && tokens->count != (uint64_t)n_vocab)
        st = sb_error_set(err, SB_ERR_INVALID_ARG, "vocab '%s' has %llu tokens, the shape needs %d", vocab_path,
                          (unsigned long long)tokens->count, n_vocab);
    for (size_t i = 0; st == SB_OK && i < sb_gguf_n_kv(v); i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(v, i);
        char key[256];
        if (kv->key.len >= 10 && kv->key.len < sizeof key && memcmp(kv->key.ptr, "tokenizer.", 10) == 0) {
            memcpy(key, kv->key.ptr, kv->key.len);
            key[kv->key.len] = '\0';
            st = sb_gguf_writer_set_value(w, key, &kv->value, err);
        }
    }
    sb_gguf_close(v);
    return st;
}

sb_status sb_model_write_synthetic(const char *spec, const char *vocab_path, const char *out_path, sb_error *err) {
    const synth_shape *shape;
    const synth_type *type;
    sb_model_hparams hp;
    sb_weight_spec *specs = NULL;
    int n = 0;
    uint64_t bytes = 0;
    sb_status st = plan(spec, &shape, &type, &hp, &specs, &n, &bytes, err);
    if (st != SB_OK) {
        sb_free(specs);
        return st;
    }
    int *spec_of = sb_calloc((size_t)n + 1, sizeof *spec_of);
    uint32_t *types = sb_calloc((size_t)n + 1, sizeof *types);
    sb_gguf_writer *w = sb_gguf_writer_create();
    if (!spec_of || !types || !w)
        st = sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    if (st == SB_OK)
        st = write_hparams(w, &hp, err);
    if (st == SB_OK && vocab_path)
        st = write_vocab(w, vocab_path, hp.n_vocab, err);
    size_t k = 0;
    for (int i = 0; i < n && st == SB_OK; i++) {
        if (!specs[i].required)
            continue;
        types[k] = pick_type(type, &specs[i], &hp);
        spec_of[k] = i;
        st = sb_gguf_writer_add_tensor(w, specs[i].name, types[k], (uint32_t)specs[i].n_dims, specs[i].ne, NULL, NULL,
                                       err);
        k++;
    }
    write_ctx ctx = {specs, spec_of, types, &hp};
    if (st == SB_OK)
        st = sb_gguf_writer_write(w, out_path, write_fill, &ctx, NULL, NULL, err);
    sb_gguf_writer_free(w);
    sb_free(types);
    sb_free(spec_of);
    sb_free(specs);
    return st == SB_OK ? SB_OK : sb_error_prefix(err, "synthetic model '%s': ", spec);
}
