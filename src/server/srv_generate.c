/*
 * srv_generate.c - a chat or completions request in flight (see
 * srv_generate.h).
 */
#include "srv_generate.h"

#include "sb_alloc.h"
#include "sb_time.h"
#include "srv_sse.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct gen_job gen_job;

/* One choice: what its sequence produced and what was sent of it. */
typedef struct gen_choice {
    gen_job *job; /* the callback's user data points here */
    int index;
    int prompt_index;
    uint64_t engine_id;
    bool submitted;
    bool done;
    sb_srv_finish finish;
    sb_srv_timings timings;
    char error[256];
    sb_buf text;        /* whole text (JSON body) or not yet sent (stream) */
    sb_buf cuts;        /* stream: size_t ends in text of each event's piece, so
                           that a late HTTP thread still sends a chunk per
                           token rather than one merged chunk */
    size_t text_chars;  /* characters of text so far (completions text_offset) */
    json_t *logprobs;   /* accumulated (JSON body) or not yet sent (stream) */
    bool got_first;
    uint64_t t_last_ns;
    bool role_sent, finish_sent;
} gen_choice;

struct gen_job {
    atomic_int refs;
    pthread_mutex_t mu;
    sb_oai_kind kind;
    bool stream, include_usage, logprobs;
    char id[64];
    int64_t created;
    char *model_id;
    sb_srv_model *model;
    sb_srv_metrics *metrics;
    sb_http_async *async; /* the producer's reference */
    uint64_t t_start_ns;
    int n_choices;
    gen_choice *choices;
    int *prompt_tokens; /* per prompt */
    int n_prompts;
    int n_per_prompt;
    bool tail_sent;
};

/* Drops a reference; the last one frees the job. */
static void job_unref(gen_job *j) {
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    for (int i = 0; i < j->n_choices; i++) {
        sb_buf_free(&j->choices[i].text);
        sb_buf_free(&j->choices[i].cuts);
        json_decref(j->choices[i].logprobs);
    }
    sb_http_async_unref(j->async);
    sb_free(j->choices);
    sb_free(j->prompt_tokens);
    sb_free(j->model_id);
    pthread_mutex_destroy(&j->mu);
    sb_free(j);
}

/* Characters (code points) in s[0..n): for completions' text_offset. */
static size_t count_chars(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* The model's callback: append, time, wake. Runs on the model's thread. */
static void on_event(void *ud, const sb_srv_event *ev) {
    gen_choice *c = ud;
    gen_job *j = c->job;
    uint64_t now = sb_now_ns();
    pthread_mutex_lock(&j->mu);
    if (ev->n_tokens > 0) {
        if (!c->got_first) {
            c->got_first = true;
            sb_srv_metrics_ttft(j->metrics, (double)(now - j->t_start_ns) / 1e9);
        } else {
            sb_srv_metrics_itl(j->metrics, (double)(now - c->t_last_ns) / 1e9 / ev->n_tokens);
        }
        c->t_last_ns = now;
        sb_srv_metrics_generated(j->metrics, ev->n_tokens);
    }
    if (j->logprobs && ev->n_tokens > 0) {
        if (!c->logprobs)
            c->logprobs = j->kind == SB_OAI_CHAT ? sb_oai_chat_logprobs_new() : sb_oai_completion_logprobs_new();
        for (int i = 0; c->logprobs && i < ev->n_tokens; i++) {
            if (j->kind == SB_OAI_CHAT)
                sb_oai_chat_logprobs_add(c->logprobs, &ev->tokens[i]);
            else
                sb_oai_completion_logprobs_add(c->logprobs, &ev->tokens[i], c->text_chars);
        }
    }
    if (ev->text_len > 0 && sb_buf_append(&c->text, ev->text, ev->text_len) == SB_OK) {
        c->text_chars += count_chars(ev->text, ev->text_len);
        if (j->stream && sb_buf_append(&c->cuts, &c->text.len, sizeof c->text.len) != SB_OK)
            sb_buf_reset(&c->cuts); /* out of memory: the pending text goes as one chunk */
    }
    bool final = ev->finish != SB_SRV_FINISH_NONE;
    if (final) {
        c->done = true;
        c->finish = ev->finish;
        c->timings = ev->timings;
        if (ev->error)
            snprintf(c->error, sizeof c->error, "%s", ev->error);
        sb_srv_metrics_finished(j->metrics, j->model_id, ev->timings.prompt_n + ev->timings.cached_n,
                                ev->timings.cached_n, ev->timings.predicted_n);
    }
    sb_http_async *a = j->async;
    pthread_mutex_unlock(&j->mu);
    if (a)
        sb_http_async_wake(a);
    if (final)
        job_unref(j);
}

/* Usage and aggregate timings over all choices. Caller holds mu. */
static void totals(const gen_job *j, sb_oai_usage *u, sb_srv_timings *t) {
    memset(u, 0, sizeof *u);
    memset(t, 0, sizeof *t);
    for (int p = 0; p < j->n_prompts; p++) {
        u->prompt_tokens += j->prompt_tokens[p];
        u->cached_tokens += j->choices[p * j->n_per_prompt].timings.cached_n;
    }
    for (int i = 0; i < j->n_choices; i++) {
        const sb_srv_timings *c = &j->choices[i].timings;
        u->completion_tokens += c->predicted_n;
        t->prompt_n += c->prompt_n;
        t->cached_n += c->cached_n;
        t->predicted_n += c->predicted_n;
        if (c->prompt_ms > t->prompt_ms)
            t->prompt_ms = c->prompt_ms;
        if (c->predicted_ms > t->predicted_ms)
            t->predicted_ms = c->predicted_ms;
    }
}

/* Appends the chunks a choice has pending. Caller holds mu. */
static void pull_choice(gen_job *j, gen_choice *c, const sb_oai_head *h, sb_buf *out) {
    bool chat = j->kind == SB_OAI_CHAT;
    if (chat && !c->role_sent) {
        sb_sse_json(out, sb_oai_chat_chunk(h, c->index, "assistant", "", 0, NULL, SB_SRV_FINISH_NONE));
        c->role_sent = true;
    }
    if (!c->logprobs && c->cuts.len >= sizeof(size_t)) {
        /* one chunk per event's piece (with logprobs, which are kept as one
         * list, everything pending goes in one chunk below) */
        size_t from = 0, n = c->cuts.len / sizeof(size_t);
        for (size_t k = 0; k + 1 < n; k++) { /* the last piece is sent below */
            size_t to;
            memcpy(&to, c->cuts.data + k * sizeof to, sizeof to);
            if (to <= from || to > c->text.len)
                continue;
            sb_sse_json(out, chat ? sb_oai_chat_chunk(h, c->index, NULL, c->text.data + from, to - from, NULL,
                                                      SB_SRV_FINISH_NONE)
                                  : sb_oai_completion_chunk(h, c->index, c->text.data + from, to - from, NULL,
                                                            SB_SRV_FINISH_NONE));
            from = to;
        }
        if (from > 0) {
            memmove(c->text.data, c->text.data + from, c->text.len - from);
            c->text.len -= from;
        }
    }
    sb_buf_reset(&c->cuts);
    if (c->text.len > 0 || c->logprobs) {
        json_t *lp = c->logprobs;
        sb_sse_json(out, chat ? sb_oai_chat_chunk(h, c->index, NULL, c->text.data ? c->text.data : "", c->text.len,
                                                  lp, SB_SRV_FINISH_NONE)
                              : sb_oai_completion_chunk(h, c->index, c->text.data, c->text.len, lp,
                                                        SB_SRV_FINISH_NONE));
        json_decref(lp);
        c->logprobs = NULL;
        sb_buf_reset(&c->text);
    }
    if (c->done && !c->finish_sent) {
        c->finish_sent = true;
        if (c->finish == SB_SRV_FINISH_ERROR || c->finish == SB_SRV_FINISH_CANCELLED) {
            sb_api_error e;
            if (c->finish == SB_SRV_FINISH_ERROR)
                sb_api_error_set(&e, 500, "server_error", NULL, NULL, "generation failed: %s", c->error);
            else
                sb_api_error_set(&e, 503, "server_error", "cancelled", NULL, "the generation was cancelled");
            sb_sse_json(out, sb_oai_error_json(&e));
            return;
        }
        sb_sse_json(out, chat ? sb_oai_chat_chunk(h, c->index, NULL, NULL, 0, NULL, c->finish)
                              : sb_oai_completion_chunk(h, c->index, "", 0, NULL, c->finish));
    }
}

/* Stream side: builds the SSE chunks of everything new (HTTP thread). */
static sb_http_pull job_pull(void *ud, sb_buf *out) {
    gen_job *j = ud;
    sb_oai_head h = {j->id, j->created, j->model_id};
    pthread_mutex_lock(&j->mu);
    bool all_sent = true;
    for (int i = 0; i < j->n_choices; i++) {
        pull_choice(j, &j->choices[i], &h, out);
        all_sent = all_sent && j->choices[i].finish_sent;
    }
    sb_http_pull r = out->len ? SB_HTTP_PULL_MORE : SB_HTTP_PULL_WAIT;
    if (all_sent && !j->tail_sent) {
        j->tail_sent = true;
        if (j->include_usage) {
            sb_oai_usage u;
            sb_srv_timings t;
            totals(j, &u, &t);
            sb_sse_json(out, sb_oai_usage_chunk(&h, j->kind == SB_OAI_CHAT ? "chat.completion.chunk"
                                                                           : "text_completion",
                                                &u, &t));
        }
        sb_sse_done(out);
        r = SB_HTTP_PULL_END;
    }
    pthread_mutex_unlock(&j->mu);
    return r;
}

/* Deferred side: the JSON body once every choice is done (HTTP thread). */
static void job_produce(void *ud, sb_http_req *req) {
    gen_job *j = ud;
    pthread_mutex_lock(&j->mu);
    for (int i = 0; i < j->n_choices; i++) {
        if (!j->choices[i].done) {
            pthread_mutex_unlock(&j->mu);
            return;
        }
    }
    sb_api_error e;
    for (int i = 0; i < j->n_choices; i++) {
        gen_choice *c = &j->choices[i];
        if (c->finish == SB_SRV_FINISH_ERROR || c->finish == SB_SRV_FINISH_CANCELLED) {
            if (c->finish == SB_SRV_FINISH_ERROR)
                sb_api_error_set(&e, 500, "server_error", NULL, NULL, "generation failed: %s", c->error);
            else
                sb_api_error_set(&e, 503, "server_error", "cancelled",
                                 NULL, "the generation was cancelled (the server is shutting down)");
            pthread_mutex_unlock(&j->mu);
            sb_http_reply_error(req, &e);
            return;
        }
    }
    sb_oai_choice *oc = sb_calloc((size_t)j->n_choices, sizeof *oc);
    if (!oc) {
        pthread_mutex_unlock(&j->mu);
        return; /* no reply: the dispatcher answers 500 */
    }
    for (int i = 0; i < j->n_choices; i++) {
        gen_choice *c = &j->choices[i];
        oc[i] = (sb_oai_choice){c->text.data ? c->text.data : "", c->text.len, c->finish, c->logprobs};
    }
    sb_oai_usage u;
    sb_srv_timings t;
    totals(j, &u, &t);
    sb_oai_head h = {j->id, j->created, j->model_id};
    json_t *body = j->kind == SB_OAI_CHAT ? sb_oai_chat_response(&h, oc, j->n_choices, &u, &t)
                                          : sb_oai_completion_response(&h, oc, j->n_choices, &u, &t);
    sb_free(oc);
    pthread_mutex_unlock(&j->mu);
    sb_http_reply_json(req, 200, body);
}

/* The client left or the server stops: cancel what still runs. The ids
 * are collected under mu and cancelled outside it, so a model that calls
 * back while holding its own lock cannot deadlock with us. */
static void job_abort(void *ud) {
    gen_job *j = ud;
    uint64_t ids[64];
    for (int base = 0; base < j->n_choices; base += 64) {
        int n = 0;
        pthread_mutex_lock(&j->mu);
        for (int i = base; i < j->n_choices && i < base + 64; i++)
            if (j->choices[i].submitted && !j->choices[i].done)
                ids[n++] = j->choices[i].engine_id;
        pthread_mutex_unlock(&j->mu);
        for (int i = 0; i < n; i++)
            j->model->ops->cancel(j->model->impl, ids[i]);
    }
}

/* The HTTP side is done: drop its reference. */
static void job_release(void *ud) { job_unref(ud); }

static const sb_http_async_ops job_ops = {
    .pull = job_pull,
    .produce = job_produce,
    .abort = job_abort,
    .release = job_release,
};

/* See srv_generate.h. */
void sb_gen_params_from_request(const sb_oai_request *r, int max_tokens, int choice, sb_srv_gen_params *p) {
    memset(p, 0, sizeof *p);
    p->max_tokens = max_tokens;
    p->temperature = r->temperature;
    p->top_p = r->top_p;
    p->min_p = r->min_p;
    p->top_k = r->top_k;
    p->presence_penalty = r->presence_penalty;
    p->frequency_penalty = r->frequency_penalty;
    p->repetition_penalty = r->repetition_penalty;
    p->has_seed = r->has_seed;
    p->seed = r->seed + (uint64_t)choice;
    p->stop = (const char *const *)r->stop;
    p->n_stop = r->n_stop;
    p->logprobs = r->logprobs;
    p->top_logprobs = r->top_logprobs;
    p->bias_tokens = r->bias_tokens;
    p->bias_values = r->bias_values;
    p->n_bias = r->n_bias;
}

/* Allocates a job for n_prompts * r->n choices; NULL when out of memory. */
static gen_job *job_new(const sb_gen_target *t, const sb_oai_request *r, const sb_gen_prompt *prompts,
                        size_t n_prompts) {
    gen_job *j = sb_calloc(1, sizeof *j);
    if (!j)
        return NULL;
    atomic_init(&j->refs, 1);
    pthread_mutex_init(&j->mu, NULL);
    j->kind = r->kind;
    j->stream = r->stream;
    j->include_usage = r->stream && r->include_usage;
    j->logprobs = r->logprobs;
    sb_oai_make_id(r->kind == SB_OAI_CHAT ? "chatcmpl-" : "cmpl-", j->id);
    j->created = (int64_t)time(NULL);
    j->model = t->model;
    j->metrics = t->metrics;
    j->t_start_ns = sb_now_ns();
    j->n_prompts = (int)n_prompts;
    j->n_per_prompt = r->n;
    j->n_choices = (int)n_prompts * r->n;
    j->model_id = sb_strdup(t->model_id);
    j->choices = sb_calloc((size_t)j->n_choices, sizeof *j->choices);
    j->prompt_tokens = sb_calloc(n_prompts, sizeof *j->prompt_tokens);
    if (!j->model_id || !j->choices || !j->prompt_tokens) {
        job_unref(j);
        return NULL;
    }
    for (size_t p = 0; p < n_prompts; p++)
        j->prompt_tokens[p] = (int)prompts[p].n_tokens;
    for (int i = 0; i < j->n_choices; i++) {
        gen_choice *c = &j->choices[i];
        c->job = j;
        c->index = i;
        c->prompt_index = i / r->n;
        sb_buf_init(&c->text);
        sb_buf_init(&c->cuts);
    }
    return j;
}

/* Submits every choice; on the first failure cancels those already
 * submitted and fills e (503 for a full queue). Returns 0 or a status. */
static int submit_all(gen_job *j, const sb_gen_target *t, const sb_oai_request *r, const sb_gen_prompt *prompts,
                      sb_api_error *e) {
    for (int i = 0; i < j->n_choices; i++) {
        gen_choice *c = &j->choices[i];
        const sb_gen_prompt *p = &prompts[c->prompt_index];
        sb_srv_gen_params gp;
        sb_gen_params_from_request(r, p->max_tokens, i % r->n, &gp);
        uint64_t id = 0;
        sb_error err = {0};
        atomic_fetch_add(&j->refs, 1);
        sb_status st = t->model->ops->submit(t->model->impl, p->tokens, p->n_tokens, &gp, on_event, c, &id, &err);
        if (st != SB_OK) {
            atomic_fetch_sub(&j->refs, 1);
            job_abort(j);
            if (st == SB_ERR_BUSY)
                return sb_api_error_set(e, 503, "server_error", "server_busy", NULL,
                                        "the server is busy (the request queue is full); retry shortly");
            if (st == SB_ERR_INVALID_ARG || st == SB_ERR_RANGE || st == SB_ERR_LIMIT)
                return sb_api_bad_field(e, NULL, "%s", err.msg);
            return sb_api_error_set(e, 500, "server_error", NULL, NULL, "cannot start the generation: %s", err.msg);
        }
        pthread_mutex_lock(&j->mu);
        c->engine_id = id;
        c->submitted = true;
        pthread_mutex_unlock(&j->mu);
    }
    return 0;
}

/* See srv_generate.h. */
void sb_gen_start(sb_http_req *req, const sb_gen_target *t, const sb_oai_request *r, const sb_gen_prompt *prompts,
                  size_t n_prompts) {
    sb_api_error e;
    gen_job *j = job_new(t, r, prompts, n_prompts);
    if (!j) {
        sb_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
        sb_http_reply_error(req, &e);
        return;
    }
    if (submit_all(j, t, r, prompts, &e)) {
        if (e.status == 503) {
            char ra[16];
            snprintf(ra, sizeof ra, "%d", t->retry_after_s > 0 ? t->retry_after_s : 1);
            sb_http_set_header(req, "Retry-After", ra);
        }
        sb_http_reply_error(req, &e);
        job_unref(j);
        return;
    }
    /* The handler's reference goes to the HTTP side (released by
     * job_release); one more is held across the call so that a failure
     * inside it cannot free the job under us. */
    atomic_fetch_add(&j->refs, 1);
    sb_http_async *a = r->stream ? sb_http_stream(req, 200, "text/event-stream", &job_ops, j)
                                 : sb_http_defer(req, &job_ops, j);
    if (!a) {
        job_abort(j);
        job_unref(j);
        return;
    }
    pthread_mutex_lock(&j->mu);
    j->async = a;
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}
