/*
 * engine.c - loads one model with everything around it (see sb_engine.h).
 */
#include "sb_engine.h"

#include "sb_alloc.h"
#include "sb_cpu_backend.h"
#include "sb_time.h"

#include <stdio.h>
#include <string.h>

struct sb_engine {
    sb_backend *backend;
    sb_model *model;
    sb_tokenizer *tok;
    sb_template *tmpl;
    bool tmpl_default;
    char tmpl_note[256];
    sb_scheduler *sched;
    sb_gguf *vocab; /* synthetic with a vocab file: kept open as a model file is */
    int n_ctx, parallel, page_size, n_pages;
    uint64_t kv_bytes;
    double load_s;
};

sb_engine_opts sb_engine_opts_default(void) {
    sb_engine_opts o;
    memset(&o, 0, sizeof o);
    o.parallel = 1;
    o.batch_tokens = 512;
    o.page_size = 16;
    o.kv_type = SB_TYPE_F16;
    o.cache_pages = -1;
    o.max_queue = 64;
    o.repack = true;
    o.start_scheduler = true;
    return o;
}

/* ---- scheduler hooks ---- */

static sb_status hook_forward(void *ud, const sb_batch *batch, const sb_tensor **logits, sb_error *err) {
    sb_engine *e = ud;
    sb_status st = sb_model_forward(e->model, batch, err);
    *logits = sb_model_logits(e->model);
    return st;
}

static void *hook_stream_create(void *ud) { return sb_detok_stream_create(((sb_engine *)ud)->tok, false); }
static sb_status hook_stream_push(void *s, int32_t token, sb_buf *out, sb_error *err) {
    return sb_detok_stream_push(s, token, out, err);
}
static sb_status hook_stream_flush(void *s, sb_buf *out, sb_error *err) { return sb_detok_stream_flush(s, out, err); }
static void hook_stream_free(void *s) { sb_detok_stream_free(s); }
static bool hook_is_eog(void *ud, int32_t token) { return sb_tokenizer_is_eog(((sb_engine *)ud)->tok, token); }

/* ---- loading ---- */

/* The model's chat template, or the built-in ChatML with a note. A template
 * that does not compile is not fatal: completions still work. */
static sb_status load_template(sb_engine *e, const sb_gguf *g, sb_error *err) {
    sb_str src = {0};
    sb_error terr;
    sb_status st = SB_ERR_NOT_FOUND;
    if (g)
        st = sb_gguf_get_string(g, "tokenizer.chat_template", &src, NULL);
    if (st == SB_OK) {
        st = sb_template_compile(src.ptr, src.len, NULL, &e->tmpl, &terr);
        if (st == SB_OK)
            return SB_OK;
        snprintf(e->tmpl_note, sizeof e->tmpl_note, "the model's chat template does not compile (%.180s); using ChatML",
                 terr.msg);
    } else {
        snprintf(e->tmpl_note, sizeof e->tmpl_note, "the model has no chat template; using ChatML");
    }
    const char *chatml = sb_template_default_chatml();
    e->tmpl_default = true;
    return sb_template_compile(chatml, strlen(chatml), NULL, &e->tmpl, err);
}

/* A synthetic model's tokenizer and chat template (or ChatML) from a
 * vocabulary GGUF whose token count is the model's vocabulary size. */
static sb_status load_vocab(sb_engine *e, const char *path, sb_error *err) {
    sb_status st = sb_gguf_open(path, &e->vocab, err);
    if (st == SB_OK)
        st = sb_tokenizer_create(e->vocab, &e->tok, err);
    if (st != SB_OK)
        return sb_error_prefix(err, "%s: ", path);
    const int n_vocab = sb_model_get_hparams(e->model)->n_vocab;
    if (sb_tokenizer_n_vocab(e->tok) != n_vocab)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s has %d tokens but the model has %d", path,
                            sb_tokenizer_n_vocab(e->tok), n_vocab);
    return load_template(e, e->vocab, err);
}

static sb_status load_model(sb_engine *e, const sb_engine_opts *o, sb_error *err) {
    sb_model_load_opts mo = {.repack = o->repack};
    if (o->synthetic) {
        sb_status st = sb_model_load_synthetic(o->synthetic, e->backend, &mo, &e->model, err);
        return st == SB_OK && o->vocab_path ? load_vocab(e, o->vocab_path, err) : st;
    }
    sb_gguf *g = NULL;
    sb_status st = sb_gguf_open(o->model_path, &g, err);
    if (st != SB_OK)
        return st;
    st = sb_tokenizer_create(g, &e->tok, err);
    if (st != SB_OK && !o->start_scheduler) {
        /* load-only use (bench): the forward pass needs no tokenizer */
        e->tok = NULL;
        sb_error_clear(err);
        return sb_model_load_gguf(g, e->backend, &mo, &e->model, err);
    }
    if (st != SB_OK) {
        sb_error_prefix(err, "tokenizer: ");
        sb_gguf_close(g);
        return st;
    }
    st = load_template(e, g, err);
    if (st != SB_OK) {
        sb_gguf_close(g);
        return st;
    }
    return sb_model_load_gguf(g, e->backend, &mo, &e->model, err); /* takes g */
}

static sb_status setup_kv(sb_engine *e, const sb_engine_opts *o, sb_error *err) {
    const sb_model_hparams *hp = sb_model_get_hparams(e->model);
    int ctx = o->n_ctx > 0 ? o->n_ctx : (hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
    if (ctx < 2 || ctx > (1 << 22))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "context size %d is out of range (2..%d)", ctx, 1 << 22);
    if (o->parallel < 1 || o->parallel > 1024)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "parallel %d is out of range (1..1024)", o->parallel);
    if (o->page_size != 16 && o->page_size != 32)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "KV page size %d: must be 16 or 32", o->page_size);
    if (o->kv_type != SB_TYPE_F16 && o->kv_type != SB_TYPE_F32)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "KV cache type %s is not supported (f16 or f32)",
                            sb_type_name(o->kv_type));
    if (o->batch_tokens < o->parallel)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "batch of %d tokens is smaller than parallel %d", o->batch_tokens,
                            o->parallel);
    int per_seq = (ctx + o->page_size - 1) / o->page_size + 1;
    int extra = o->cache_pages >= 0 ? o->cache_pages : per_seq;
    int64_t pages = (int64_t)o->parallel * per_seq + extra;
    if (pages > (1 << 28))
        return sb_error_set(err, SB_ERR_LIMIT, "the KV cache would need %lld pages", (long long)pages);
    e->n_ctx = ctx;
    e->parallel = o->parallel;
    e->page_size = o->page_size;
    e->n_pages = (int)pages;
    sb_status st = sb_model_reserve(e->model, o->batch_tokens, o->parallel, err);
    if (st != SB_OK)
        return st;
    sb_kv_config kc = sb_model_kv_config(e->model, o->page_size, e->n_pages, o->kv_type);
    st = e->backend->ops->kv_init(e->backend, &kc, err);
    if (st != SB_OK)
        return sb_error_prefix(err, "KV cache (%d pages of %d positions): ", e->n_pages, o->page_size);
    uint64_t per_pos = (uint64_t)kc.n_layers * (uint64_t)kc.n_kv_heads *
                       (uint64_t)(kc.head_dim_k + kc.head_dim_v) * (o->kv_type == SB_TYPE_F32 ? 4u : 2u);
    e->kv_bytes = per_pos * (uint64_t)e->n_pages * (uint64_t)o->page_size;
    return SB_OK;
}

static sb_status start_scheduler(sb_engine *e, const sb_engine_opts *o, sb_error *err) {
    const sb_model_hparams *hp = sb_model_get_hparams(e->model);
    sb_sched_model sm = {
        .backend = e->backend,
        .n_vocab = hp->n_vocab,
        .n_ctx = e->n_ctx,
        .page_size = e->page_size,
        .n_pages = e->n_pages,
        .forward = hook_forward,
        .ud = e,
    };
    sb_sched_text tx = {
        .stream_create = hook_stream_create,
        .stream_push = hook_stream_push,
        .stream_flush = hook_stream_flush,
        .stream_free = hook_stream_free,
        .is_eog = hook_is_eog,
        .ud = e,
    };
    sb_sched_config sc = {.parallel = o->parallel, .max_queue = o->max_queue, .batch_tokens = o->batch_tokens};
    return sb_scheduler_create(&sm, &tx, &sc, &e->sched, err);
}

sb_status sb_engine_create(const sb_engine_opts *o, sb_engine **out, sb_error *err) {
    *out = NULL;
    if (!o || (!o->model_path && !o->synthetic))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "no model given");
    uint64_t t0 = sb_now_ns();
    sb_engine *e = sb_calloc(1, sizeof *e);
    if (!e)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    sb_cpu_backend_opts bo = sb_cpu_backend_default_opts();
    bo.n_threads = o->n_threads;
    bo.repack = o->repack;
    sb_status st = sb_cpu_backend_create(&bo, &e->backend, err);
    if (st == SB_OK) {
        st = load_model(e, o, err);
        if (st != SB_OK && o->model_path && strstr(err ? err->msg : "", o->model_path) == NULL)
            sb_error_prefix(err, "%s: ", o->model_path);
    }
    if (st == SB_OK)
        st = setup_kv(e, o, err);
    if (st == SB_OK && o->start_scheduler && e->tok)
        st = start_scheduler(e, o, err);
    if (st != SB_OK) {
        sb_engine_free(e);
        return st;
    }
    e->load_s = (double)(sb_now_ns() - t0) / 1e9;
    *out = e;
    return SB_OK;
}

void sb_engine_free(sb_engine *e) {
    if (!e)
        return;
    sb_scheduler_free(e->sched);
    sb_model_free(e->model);
    sb_template_free(e->tmpl);
    sb_tokenizer_free(e->tok);
    sb_backend_destroy(e->backend);
    sb_gguf_close(e->vocab);
    sb_free(e);
}

sb_model *sb_engine_model(const sb_engine *e) { return e->model; }
sb_backend *sb_engine_backend(const sb_engine *e) { return e->backend; }
const sb_model_hparams *sb_engine_hparams(const sb_engine *e) { return sb_model_get_hparams(e->model); }
const sb_tokenizer *sb_engine_tokenizer(const sb_engine *e) { return e->tok; }
const sb_template *sb_engine_template(const sb_engine *e) { return e->tmpl; }
sb_scheduler *sb_engine_scheduler(const sb_engine *e) { return e->sched; }
bool sb_engine_template_is_default(const sb_engine *e) { return e->tmpl_default; }
const char *sb_engine_template_note(const sb_engine *e) { return e->tmpl_note; }
int sb_engine_n_ctx(const sb_engine *e) { return e->n_ctx; }
int sb_engine_parallel(const sb_engine *e) { return e->parallel; }
int sb_engine_kv_pages(const sb_engine *e) { return e->n_pages; }
int sb_engine_page_size(const sb_engine *e) { return e->page_size; }
uint64_t sb_engine_kv_bytes(const sb_engine *e) { return e->kv_bytes; }
double sb_engine_load_seconds(const sb_engine *e) { return e->load_s; }

/* ---- prompts ---- */

sb_status sb_engine_tokenize(const sb_engine *e, const char *text, size_t len, bool add_special, bool parse_special,
                             int32_t **ids, int *n, sb_error *err) {
    *ids = NULL;
    *n = 0;
    if (!e->tok)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "this model has no tokenizer");
    size_t count = 0;
    sb_status st = sb_tokenize(e->tok, text, len, add_special, parse_special, ids, &count, err);
    if (st != SB_OK)
        return st;
    if (count > (size_t)INT32_MAX) {
        sb_free(*ids);
        *ids = NULL;
        return sb_error_set(err, SB_ERR_LIMIT, "the text has too many tokens");
    }
    *n = (int)count;
    return SB_OK;
}

static sb_str special_text(const sb_tokenizer *t, int32_t id) {
    sb_str s = {NULL, 0};
    if (id >= 0)
        s = sb_tokenizer_token_text(t, id);
    return s;
}

sb_status sb_engine_render_chat(const sb_engine *e, const sb_tmpl_value *messages, bool add_generation_prompt,
                                char **text, size_t *len, sb_error *err) {
    *text = NULL;
    *len = 0;
    if (!e->tok || !e->tmpl)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "this model has no tokenizer or chat template");
    sb_template_inputs in;
    memset(&in, 0, sizeof in);
    in.messages = messages;
    in.add_generation_prompt = add_generation_prompt;
    sb_str bos = special_text(e->tok, sb_tokenizer_bos(e->tok));
    in.bos_token = bos;
    in.eos_token = special_text(e->tok, sb_tokenizer_eos(e->tok));
    sb_status st = sb_template_render(e->tmpl, &in, text, len, err);
    if (st != SB_OK)
        return st;
    if (sb_tokenizer_add_bos(e->tok) && bos.len > 0)
        sb_template_strip_bos(*text, len, bos);
    return SB_OK;
}

sb_status sb_engine_chat_tokens(const sb_engine *e, const sb_tmpl_value *messages, bool add_generation_prompt,
                                int32_t **ids, int *n, sb_error *err) {
    char *text = NULL;
    size_t len = 0;
    sb_status st = sb_engine_render_chat(e, messages, add_generation_prompt, &text, &len, err);
    if (st != SB_OK)
        return st;
    st = sb_engine_tokenize(e, text, len, true, true, ids, n, err);
    sb_free(text);
    return st;
}
