/*
 * srv_engine_adapter.c - sb_engine behind the srv_engine.h operations (see
 * srv_engine_adapter.h).
 *
 * Delivery: the engine's scheduler queues events on each sb_request and
 * calls the request's notify hook on its thread; the hook drains the queue
 * (sb_request_next with timeout 0) and hands each event to the server's
 * callback, still on the scheduler thread. The hook may fire before
 * sb_scheduler_submit has returned the handle to the submitting thread; it
 * then waits (briefly) until the handle is stored.
 */
#include "srv_engine_adapter.h"

#include "sb_alloc.h"
#include "sb_engine.h"
#include "srv_chat_value.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct adapter adapter;

/* One submitted sequence. */
typedef struct areq {
    adapter *ad;
    uint64_t id;
    sb_request *req;
    bool have_req; /* req stored (mu) */
    bool finished; /* the final event was handed over */
    bool logprobs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sb_srv_event_fn fn;
    void *ud;
    struct areq *prev, *next; /* the adapter's list (reg_mu) */
} areq;

struct adapter {
    sb_engine *engine;
    const sb_tokenizer *tok;
    const sb_template *tmpl;
    sb_scheduler *sched;
    int n_vocab;
    pthread_mutex_t reg_mu;
    areq *live;
    uint64_t next_id;
};

/* ---- text operations ---- */

/* Text to ids with the model's tokenizer; *ids is freed by the caller. */
static sb_status a_tokenize(void *impl, const char *text, size_t len, bool add_special, bool parse_special,
                            int32_t **ids, size_t *n, sb_error *err) {
    adapter *ad = impl;
    return sb_tokenize(ad->tok, text, len, add_special, parse_special, ids, n, err);
}

/* Ids to text (llama_detokenize, special tokens kept as they are). */
static sb_status a_detokenize(void *impl, const int32_t *ids, size_t n, sb_buf *out, sb_error *err) {
    adapter *ad = impl;
    return sb_detokenize(ad->tok, ids, n, false, false, out, err);
}

/* The raw piece of a token (control tokens as their text). */
static sb_status a_piece(void *impl, int32_t id, sb_buf *out) {
    adapter *ad = impl;
    char small[256];
    int n = sb_token_to_piece(ad->tok, id, small, sizeof small, 0, true);
    if (n >= 0)
        return sb_buf_append(out, small, (size_t)n);
    sb_status st = sb_buf_reserve(out, (size_t)-n);
    if (st != SB_OK)
        return st;
    n = sb_token_to_piece(ad->tok, id, out->data + out->len, (size_t)-n, 0, true);
    if (n > 0) {
        out->len += (size_t)n;
        out->data[out->len] = 0;
    }
    return SB_OK;
}

/* The text of a special token ("" when the model has none). */
static sb_str special_text(const sb_tokenizer *t, int32_t id) {
    sb_str s = {NULL, 0};
    if (id >= 0)
        s = sb_tokenizer_token_text(t, id);
    return s;
}

/* Renders messages and tools as the engine does (BOS text removed when the
 * tokenizer adds the BOS id), with tools passed to the template. */
static sb_status a_render(void *impl, const json_t *messages, const json_t *tools, char **out, size_t *out_len,
                          sb_error *err) {
    adapter *ad = impl;
    sb_tmpl_value *msgs = NULL, *tl = NULL;
    sb_status st = sb_srv_json_to_tmpl(messages, &msgs, err);
    if (st == SB_OK && tools)
        st = sb_srv_json_to_tmpl(tools, &tl, err);
    if (st == SB_OK) {
        sb_template_inputs in;
        memset(&in, 0, sizeof in);
        in.messages = msgs;
        in.tools = tl;
        in.add_generation_prompt = true;
        sb_str bos = special_text(ad->tok, sb_tokenizer_bos(ad->tok));
        in.bos_token = bos;
        in.eos_token = special_text(ad->tok, sb_tokenizer_eos(ad->tok));
        st = sb_template_render(ad->tmpl, &in, out, out_len, err);
        if (st == SB_OK && sb_tokenizer_add_bos(ad->tok) && bos.len > 0)
            sb_template_strip_bos(*out, out_len, bos);
    }
    sb_tmpl_value_free(msgs);
    sb_tmpl_value_free(tl);
    return st;
}

/* ---- events ---- */

/* Maps the engine's finish reason. */
static sb_srv_finish map_finish(sb_finish_reason r) {
    switch (r) {
    case SB_FINISH_STOP:
        return SB_SRV_FINISH_STOP;
    case SB_FINISH_LENGTH:
        return SB_SRV_FINISH_LENGTH;
    case SB_FINISH_CANCELLED:
        return SB_SRV_FINISH_CANCELLED;
    case SB_FINISH_ERROR:
        return SB_SRV_FINISH_ERROR;
    default:
        return SB_SRV_FINISH_NONE;
    }
}

/* Hands one TEXT event to the server, with token pieces for logprobs. */
static void deliver_text(areq *q, const sb_event *ev) {
    adapter *ad = q->ad;
    sb_srv_event out = {.text = ev->text ? ev->text : "", .text_len = ev->text_len};
    sb_srv_token *toks = NULL;
    sb_srv_logprob *tops = NULL;
    sb_buf pieces;
    sb_buf_init(&pieces);
    int n = ev->n_tokens;
    if (q->logprobs && ev->logprobs && n > 0) {
        toks = sb_calloc((size_t)n, sizeof *toks);
        tops = sb_calloc((size_t)n * SB_MAX_TOP_LOGPROBS + 1, sizeof *tops);
        size_t *offs = sb_calloc((size_t)n * (SB_MAX_TOP_LOGPROBS + 1), sizeof *offs);
        size_t *lens = sb_calloc((size_t)n * (SB_MAX_TOP_LOGPROBS + 1), sizeof *lens);
        if (toks && tops && offs && lens) {
            /* pieces first (the buffer may move), pointers after */
            for (int i = 0; i < n; i++) {
                const sb_sample_result *r = &ev->logprobs[i];
                for (int k = 0; k <= r->n_top && k <= SB_MAX_TOP_LOGPROBS; k++) {
                    size_t slot = (size_t)i * (SB_MAX_TOP_LOGPROBS + 1) + (size_t)k;
                    offs[slot] = pieces.len;
                    a_piece(ad, k == 0 ? r->token : r->top[k - 1].token, &pieces);
                    lens[slot] = pieces.len - offs[slot];
                }
            }
            for (int i = 0; i < n; i++) {
                const sb_sample_result *r = &ev->logprobs[i];
                size_t base = (size_t)i * (SB_MAX_TOP_LOGPROBS + 1);
                toks[i].chosen = (sb_srv_logprob){r->token, r->logprob, pieces.data + offs[base], lens[base]};
                toks[i].n_top = r->n_top < SB_MAX_TOP_LOGPROBS ? r->n_top : SB_MAX_TOP_LOGPROBS;
                toks[i].top = tops + (size_t)i * SB_MAX_TOP_LOGPROBS;
                for (int k = 0; k < toks[i].n_top; k++)
                    tops[(size_t)i * SB_MAX_TOP_LOGPROBS + (size_t)k] = (sb_srv_logprob){
                        r->top[k].token, r->top[k].logprob, pieces.data + offs[base + 1 + (size_t)k],
                        lens[base + 1 + (size_t)k]};
            }
            out.tokens = toks;
        }
        sb_free(offs);
        sb_free(lens);
    }
    if (!out.tokens && n > 0) {
        /* no logprobs asked: only the count matters (timing, metrics) */
        toks = sb_calloc((size_t)n, sizeof *toks);
        out.tokens = toks;
    }
    out.n_tokens = out.tokens ? n : 0;
    q->fn(q->ud, &out);
    sb_buf_free(&pieces);
    sb_free(toks);
    sb_free(tops);
}

/* Hands the DONE event to the server: the request's last. */
static void deliver_done(areq *q, const sb_event *ev) {
    sb_srv_event out = {.text = "", .finish = map_finish(ev->finish)};
    if (out.finish == SB_SRV_FINISH_NONE)
        out.finish = SB_SRV_FINISH_ERROR;
    const sb_gen_stats *s = &ev->stats;
    out.timings = (sb_srv_timings){
        .prompt_n = s->n_prompt - s->n_cached,
        .cached_n = s->n_cached,
        .predicted_n = s->n_generated,
        .prompt_ms = s->prompt_ms,
        .predicted_ms = s->gen_ms,
    };
    if (out.finish == SB_SRV_FINISH_ERROR)
        out.error = ev->error.msg[0] ? ev->error.msg : "the engine failed";
    q->finished = true;
    q->fn(q->ud, &out);
}

/* Unlinks and frees a finished request. */
static void areq_free(areq *q) {
    adapter *ad = q->ad;
    pthread_mutex_lock(&ad->reg_mu);
    if (q->prev)
        q->prev->next = q->next;
    else if (ad->live == q)
        ad->live = q->next;
    if (q->next)
        q->next->prev = q->prev;
    pthread_mutex_unlock(&ad->reg_mu);
    sb_request_free(q->req);
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
    sb_free(q);
}

/* The engine's notify hook (scheduler thread): drain and deliver. */
static void on_notify(void *ud) {
    areq *q = ud;
    pthread_mutex_lock(&q->mu);
    while (!q->have_req)
        pthread_cond_wait(&q->cv, &q->mu);
    if (q->finished) {
        pthread_mutex_unlock(&q->mu);
        return;
    }
    sb_event ev;
    while (!q->finished && sb_request_next(q->req, 0, &ev) == 1) {
        if (ev.kind == SB_EVENT_TEXT)
            deliver_text(q, &ev);
        else if (ev.kind == SB_EVENT_DONE)
            deliver_done(q, &ev);
        sb_event_clear(&ev);
    }
    bool done = q->finished;
    pthread_mutex_unlock(&q->mu);
    if (done)
        areq_free(q);
}

/* ---- requests ---- */

static sb_status a_submit(void *impl, const int32_t *prompt, size_t n, const sb_srv_gen_params *p,
                          sb_srv_event_fn fn, void *ud, uint64_t *id, sb_error *err) {
    adapter *ad = impl;
    if (n > (size_t)INT32_MAX)
        return sb_error_set(err, SB_ERR_LIMIT, "the prompt is too long");
    areq *q = sb_calloc(1, sizeof *q);
    sb_logit_bias *bias = p->n_bias ? sb_calloc((size_t)p->n_bias, sizeof *bias) : NULL;
    if (!q || (p->n_bias && !bias)) {
        sb_free(q);
        sb_free(bias);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    q->ad = ad;
    q->fn = fn;
    q->ud = ud;
    q->logprobs = p->logprobs;
    for (int i = 0; i < p->n_bias; i++)
        bias[i] = (sb_logit_bias){p->bias_tokens[i], p->bias_values[i] <= -100.0f ? -INFINITY : p->bias_values[i]};

    sb_gen_params gp = sb_gen_params_default();
    gp.prompt = prompt;
    gp.n_prompt = (int)n;
    gp.max_tokens = p->max_tokens;
    gp.n_choices = 1;
    gp.sampling.temperature = p->temperature;
    gp.sampling.top_k = p->top_k;
    gp.sampling.top_p = p->top_p;
    gp.sampling.min_p = p->min_p;
    gp.sampling.repeat_penalty = p->repetition_penalty;
    gp.sampling.presence_penalty = p->presence_penalty;
    gp.sampling.frequency_penalty = p->frequency_penalty;
    gp.sampling.seed = p->has_seed ? p->seed : SB_SEED_RANDOM;
    gp.sampling.logit_bias = bias;
    gp.sampling.n_logit_bias = p->n_bias;
    gp.sampling.logprobs = p->logprobs;
    gp.sampling.top_logprobs = p->logprobs ? p->top_logprobs : 0;
    gp.stop = p->stop;
    gp.n_stop = p->n_stop;
    gp.notify = on_notify;
    gp.notify_ud = q;

    sb_request *req = NULL;
    sb_status st = sb_scheduler_submit(ad->sched, &gp, &req, err);
    sb_free(bias);
    if (st != SB_OK) {
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->cv);
        sb_free(q);
        return st;
    }
    pthread_mutex_lock(&ad->reg_mu);
    q->req = req; /* visible to a_cancel (reg_mu) before the hook may run */
    q->id = ++ad->next_id;
    q->next = ad->live;
    if (ad->live)
        ad->live->prev = q;
    ad->live = q;
    pthread_mutex_unlock(&ad->reg_mu);
    *id = q->id;
    /* Publish the handle last: from here on the hook may free q. */
    pthread_mutex_lock(&q->mu);
    q->have_req = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return SB_OK;
}

/* Cancels by id: the request is looked up under the registry lock, so a
 * request that already finished (and was freed) is simply not found. */
static void a_cancel(void *impl, uint64_t id) {
    adapter *ad = impl;
    pthread_mutex_lock(&ad->reg_mu);
    for (areq *q = ad->live; q; q = q->next) {
        if (q->id == id) {
            sb_request_cancel(q->req);
            break;
        }
    }
    pthread_mutex_unlock(&ad->reg_mu);
}

/* Gauges from the scheduler's metrics snapshot. */
static void a_stats(void *impl, sb_srv_model_stats *out) {
    adapter *ad = impl;
    sb_sched_metrics m;
    sb_scheduler_get_metrics(ad->sched, &m);
    out->active = m.active_seqs;
    out->queued = m.queued_requests;
    out->kv_pages_used = m.pages.n_used + m.pages.n_cached;
    out->kv_pages_total = m.pages.n_pages;
}

/* Stops the scheduler (every request gets its DONE, delivered through the
 * hook), then frees the rest. */
static void a_destroy(void *impl) {
    adapter *ad = impl;
    if (!ad)
        return;
    if (ad->sched)
        sb_scheduler_shutdown(ad->sched, false);
    sb_engine_free(ad->engine);
    pthread_mutex_destroy(&ad->reg_mu);
    sb_free(ad);
}

static const sb_srv_model_ops adapter_ops = {
    .tokenize = a_tokenize,
    .detokenize = a_detokenize,
    .token_piece = a_piece,
    .render_chat = a_render,
    .submit = a_submit,
    .cancel = a_cancel,
    .stats = a_stats,
    .destroy = a_destroy,
};

/* See srv_engine_adapter.h. */
sb_status sb_srv_engine_load(const sb_srv_engine_opts *o, sb_srv_model **out, char *note, size_t note_cap,
                             sb_error *err) {
    *out = NULL;
    if (o->synthetic && !o->vocab_path)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "--synthetic needs --vocab FILE (a GGUF with a tokenizer)");
    adapter *ad = sb_calloc(1, sizeof *ad);
    sb_srv_model *m = sb_calloc(1, sizeof *m);
    if (!ad || !m) {
        sb_free(ad);
        sb_free(m);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&ad->reg_mu, NULL);
    sb_engine_opts eo = sb_engine_opts_default();
    eo.model_path = o->synthetic ? NULL : o->model_path;
    eo.synthetic = o->synthetic;
    eo.vocab_path = o->synthetic ? o->vocab_path : NULL;
    eo.n_threads = o->n_threads;
    eo.n_ctx = o->n_ctx;
    eo.parallel = o->parallel > 0 ? o->parallel : 1;
    if (o->max_queue > 0)
        eo.max_queue = o->max_queue;
    if (o->batch_tokens > 0)
        eo.batch_tokens = o->batch_tokens;
    if (eo.batch_tokens < eo.parallel)
        eo.batch_tokens = eo.parallel;
    sb_status st = sb_engine_create(&eo, &ad->engine, err);
    if (st == SB_OK) {
        ad->tok = sb_engine_tokenizer(ad->engine);
        ad->tmpl = sb_engine_template(ad->engine);
        ad->sched = sb_engine_scheduler(ad->engine);
        if (!ad->tok || !ad->tmpl || !ad->sched)
            st = sb_error_set(err, SB_ERR_UNSUPPORTED, "%s: the model has no tokenizer",
                              o->synthetic ? o->synthetic : o->model_path);
    }
    if (st != SB_OK) {
        a_destroy(ad);
        sb_free(m);
        return st;
    }
    ad->n_vocab = sb_tokenizer_n_vocab(ad->tok);
    m->ops = &adapter_ops;
    m->impl = ad;
    m->n_ctx = sb_engine_n_ctx(ad->engine);
    m->n_vocab = ad->n_vocab;
    if (note && note_cap) {
        const char *tn = sb_engine_template_note(ad->engine);
        snprintf(note, note_cap, "loaded in %.2f s: context %d, parallel %d, %d KV pages of %d (%.1f MiB)%s%s",
                 sb_engine_load_seconds(ad->engine), m->n_ctx, sb_engine_parallel(ad->engine),
                 sb_engine_kv_pages(ad->engine), sb_engine_page_size(ad->engine),
                 (double)sb_engine_kv_bytes(ad->engine) / (1024.0 * 1024.0), tn[0] ? "; " : "", tn);
    }
    *out = m;
    return SB_OK;
}
