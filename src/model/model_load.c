/*
 * model_load.c - loading a GGUF model onto a backend: architecture lookup,
 * hyperparameters, every expected tensor found by name and shape-checked,
 * then handed to the backend (which refuses types it cannot compute).
 */
#include "model_internal.h"

#include "sb_alloc.h"

#include <stdio.h>
#include <string.h>

static const sb_arch *const archs[] = {&sb_arch_llama, &sb_arch_qwen2, &sb_arch_qwen3};

const sb_arch *sb_arch_find(const char *name) {
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(archs[i]->name, name) == 0)
            return archs[i];
    return NULL;
}

const char *sb_arch_list(void) { return "llama, qwen2, qwen3"; }

/* "[a, b]" of a tensor's dimensions, into buf. */
static const char *shape_str(char *buf, size_t cap, int n_dims, const int64_t *ne) {
    size_t o = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n_dims && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, i ? ", %lld" : "%lld", (long long)ne[i]);
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
    return buf;
}

/* Checks a GGUF tensor's shape against the spec (trailing 1s allowed). */
static sb_status check_shape(const sb_gguf_tensor *gt, const sb_weight_spec *s, sb_error *err) {
    bool ok = gt->ne[0] == s->ne[0] && gt->ne[1] == s->ne[1] && gt->ne[2] == 1 && gt->ne[3] == 1;
    if (ok)
        return SB_OK;
    char have[96], want[96];
    return sb_error_set(err, SB_ERR_FORMAT, "tensor '%s' has shape %s, expected %s", s->name,
                        shape_str(have, sizeof have, (int)gt->n_dims, gt->ne),
                        shape_str(want, sizeof want, s->n_dims, s->ne));
}

/* n_vocab from the embedding table, checked against the tokenizer. */
static sb_status read_vocab(const sb_gguf *g, sb_model_hparams *hp, sb_error *err) {
    const sb_gguf_tensor *te = sb_gguf_find_tensor(g, "token_embd.weight");
    if (!te)
        return sb_error_set(err, SB_ERR_NOT_FOUND, "tensor 'token_embd.weight' is missing");
    if (te->ne[1] < 1 || te->ne[1] > INT32_MAX)
        return sb_error_set(err, SB_ERR_FORMAT, "tensor 'token_embd.weight' has %lld rows", (long long)te->ne[1]);
    hp->n_vocab = (int)te->ne[1];
    const sb_gguf_array *toks = NULL;
    if (sb_gguf_get_array(g, "tokenizer.ggml.tokens", &toks, NULL) == SB_OK && toks->count != (uint64_t)hp->n_vocab)
        return sb_error_set(err, SB_ERR_FORMAT,
                            "tensor 'token_embd.weight' has %d rows but the vocabulary has %llu tokens", hp->n_vocab,
                            (unsigned long long)toks->count);
    hp->tied_output = sb_gguf_find_tensor(g, "output.weight") == NULL;
    return SB_OK;
}

/* general.name (else the file name) and general.file_type, both optional. */
static void read_names(const sb_gguf *g, sb_model_hparams *hp) {
    sb_str name;
    if (sb_gguf_get_string(g, "general.name", &name, NULL) == SB_OK && name.len > 0) {
        snprintf(hp->name, sizeof hp->name, "%.*s", (int)(name.len < sizeof hp->name ? name.len : sizeof hp->name - 1),
                 name.ptr);
    } else {
        const char *path = sb_gguf_path(g), *slash = strrchr(path, '/');
        snprintf(hp->name, sizeof hp->name, "%s", slash ? slash + 1 : path);
    }
    uint64_t ft = 0;
    if (sb_gguf_get_uint(g, "general.file_type", &ft, NULL) == SB_OK && ft < 1024)
        hp->file_type = (uint32_t)ft;
}

static sb_status load_gguf(sb_gguf *g, sb_backend *backend, const sb_model_load_opts *opts, sb_model **out,
                           sb_error *err) {
    sb_str arch_name;
    sb_status st = sb_gguf_get_string(g, "general.architecture", &arch_name, err);
    if (st == SB_ERR_NOT_FOUND)
        return sb_error_set(err, SB_ERR_FORMAT, "key 'general.architecture' is missing");
    if (st != SB_OK)
        return st;
    char an[32];
    snprintf(an, sizeof an, "%.*s", (int)(arch_name.len < sizeof an ? arch_name.len : sizeof an - 1), arch_name.ptr);
    const sb_arch *arch = arch_name.len < sizeof an ? sb_arch_find(an) : NULL;
    if (!arch)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "architecture '%s' is not supported (supported: %s)", an,
                            sb_arch_list());

    sb_model_hparams hp;
    memset(&hp, 0, sizeof hp);
    if ((st = sb_model_read_hparams(g, arch, &hp, err)) || (st = read_vocab(g, &hp, err)) ||
        (st = sb_model_check_hparams(&hp, err)))
        return st;
    read_names(g, &hp);

    sb_model *m;
    if ((st = sb_model_alloc(&hp, arch, backend, &m, err)))
        return st;
    m->gguf = g;
    m->no_repack = opts && !opts->repack;
    sb_weight_spec *specs = sb_calloc((size_t)sb_model_max_weights(&hp), sizeof *specs);
    if (!specs) {
        m->gguf = NULL;
        sb_model_free(m);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    int n = sb_model_weight_specs(&hp, arch, specs);
    uint64_t mm_bytes[SB_TYPE_COUNT] = {0};
    for (int i = 0; i < n; i++) {
        const sb_gguf_tensor *gt = sb_gguf_find_tensor(g, specs[i].name);
        if (gt && (specs[i].usage & SB_USE_MATMUL) && gt->type < SB_TYPE_COUNT)
            mm_bytes[gt->type] += gt->size; /* sizes the GGUF reader checked against the file */
    }
    st = sb_model_reserve_weights(m, mm_bytes, err);
    for (int i = 0; i < n && st == SB_OK; i++) {
        const sb_weight_spec *s = &specs[i];
        const sb_gguf_tensor *gt = sb_gguf_find_tensor(g, s->name);
        if (!gt) {
            if (s->required)
                st = sb_error_set(err, SB_ERR_NOT_FOUND, "tensor '%s' is missing", s->name);
            continue;
        }
        if ((st = check_shape(gt, s, err)) == SB_OK)
            st = sb_model_bind_weight(m, s, gt->type, gt->data, err);
    }
    sb_free(specs);
    if (st == SB_OK)
        st = sb_model_finish(m, err);
    if (st != SB_OK) {
        m->gguf = NULL; /* the caller closes it */
        sb_model_free(m);
        return st;
    }
    *out = m;
    return SB_OK;
}

sb_status sb_model_load_gguf(sb_gguf *g, sb_backend *backend, const sb_model_load_opts *opts, sb_model **out,
                             sb_error *err) {
    *out = NULL;
    sb_status st = load_gguf(g, backend, opts, out, err);
    if (st != SB_OK)
        sb_gguf_close(g);
    return st;
}

sb_status sb_model_load(const char *path, sb_backend *backend, const sb_model_load_opts *opts, sb_model **out,
                        sb_error *err) {
    *out = NULL;
    sb_gguf *g;
    sb_status st = sb_gguf_open(path, &g, err);
    if (st == SB_OK)
        st = sb_model_load_gguf(g, backend, opts, out, err);
    if (st != SB_OK)
        sb_error_prefix(err, "model '%s': ", path);
    return st;
}

/* Releases scratch and weights on the backend, the owned bytes and the GGUF mapping. */
void sb_model_free(sb_model *m) {
    if (!m)
        return;
    sb_model_release_scratch(m);
    for (int i = m->n_tensors - 1; i >= 0; i--)
        sb_backend_release(m->backend, &m->tensors[i]);
    for (int i = 0; i < m->n_owned; i++)
        sb_aligned_free(m->owned[i]);
    sb_free(m->owned);
    sb_gguf_close(m->gguf);
    sb_free(m->tensors);
    sb_free(m->layers);
    sb_free(m);
}

const sb_model_hparams *sb_model_get_hparams(const sb_model *m) { return &m->hp; }
const sb_gguf *sb_model_gguf(const sb_model *m) { return m->gguf; }
sb_backend *sb_model_backend(const sb_model *m) { return m->backend; }

sb_kv_config sb_model_kv_config(const sb_model *m, int page_size, int n_pages, uint32_t kv_type) {
    sb_kv_config c = {
        .n_layers = m->hp.n_layers,
        .n_kv_heads = m->hp.n_kv_heads,
        .head_dim_k = m->hp.head_dim_k,
        .head_dim_v = m->hp.head_dim_v,
        .page_size = page_size,
        .n_pages = n_pages,
        .type = kv_type,
    };
    return c;
}
