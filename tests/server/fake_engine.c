/*
 * fake_engine.c - the test model (see fake_engine.h). Tokens are bytes
 * (id = byte + 3; 1 = BOS, 2 = EOS). The output cycles through a story
 * with a two-byte character in it, one byte per token, so UTF-8 holding
 * back is exercised; with temperature > 0 the seed picks the start.
 */
#define _GNU_SOURCE
#include "fake_engine.h"

#include "sb_alloc.h"
#include "sb_rng.h"
#include "sb_utf8.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char story[] = "Once upon a time there was a caf\xc3\xa9 by the sea. ";

typedef struct fake_req {
    uint64_t id;
    int32_t *prompt;
    size_t n_prompt;
    sb_srv_gen_params p;
    char **stop;
    sb_srv_event_fn fn;
    void *ud;
    bool cancelled;
    int generated;
    size_t pos; /* position in the story */
    char pending[256];
    size_t n_pending; /* bytes not yet handed out (UTF-8 or stop holdback) */
    struct fake_req *next;
} fake_req;

typedef struct fake {
    fake_config cfg;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool stop;
    fake_req *queue, *active;
    int n_queue, n_active;
    uint64_t next_id;
    long submitted, cancelled, finished;
} fake;

static sb_status f_tokenize(void *impl, const char *text, size_t len, bool add_special, bool parse_special,
                            int32_t **ids, size_t *n, sb_error *err) {
    (void)impl, (void)parse_special;
    size_t total = len + (add_special ? 1 : 0);
    *ids = total ? sb_calloc(total, sizeof **ids) : NULL;
    if (total && !*ids)
        return sb_error_set(err, SB_ERR_NOMEM, "fake: out of memory");
    size_t k = 0;
    if (add_special)
        (*ids)[k++] = 1;
    for (size_t i = 0; i < len; i++)
        (*ids)[k++] = (unsigned char)text[i] + 3;
    *n = total;
    return SB_OK;
}

static sb_status f_detokenize(void *impl, const int32_t *ids, size_t n, sb_buf *out, sb_error *err) {
    (void)impl;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= 259)
            return sb_error_set(err, SB_ERR_RANGE, "token id %d is out of range", ids[i]);
        if (ids[i] >= 3)
            sb_buf_putc(out, (char)(ids[i] - 3));
    }
    return SB_OK;
}

static sb_status f_piece(void *impl, int32_t id, sb_buf *out) {
    (void)impl;
    return id >= 3 && id < 259 ? sb_buf_putc(out, (char)(id - 3)) : SB_OK;
}

/* "role: content\n" per message, then "assistant:". A message with the
 * content "REJECT" makes the template fail like raise_exception would. */
static sb_status f_render(void *impl, const json_t *messages, const json_t *tools, char **out, size_t *out_len,
                          sb_error *err) {
    (void)impl, (void)tools;
    sb_buf b;
    sb_buf_init(&b);
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        const char *content = json_string_value(json_object_get(m, "content"));
        if (content && strcmp(content, "REJECT") == 0) {
            sb_buf_free(&b);
            return sb_error_set(err, SB_ERR_INVALID_ARG, "Conversation roles must alternate");
        }
        sb_buf_printf(&b, "%s: %s\n", json_string_value(json_object_get(m, "role")), content ? content : "");
    }
    sb_buf_puts(&b, "assistant:");
    *out = sb_buf_detach(&b, out_len);
    return *out ? SB_OK : SB_ERR_NOMEM;
}

static sb_status f_submit(void *impl, const int32_t *prompt, size_t n, const sb_srv_gen_params *p,
                          sb_srv_event_fn fn, void *ud, uint64_t *id, sb_error *err) {
    fake *f = impl;
    fake_req *r = sb_calloc(1, sizeof *r);
    if (!r)
        return sb_error_set(err, SB_ERR_NOMEM, "fake: out of memory");
    r->prompt = sb_memdup(prompt, n * sizeof *prompt);
    r->n_prompt = n;
    r->p = *p;
    r->stop = p->n_stop ? sb_calloc((size_t)p->n_stop, sizeof *r->stop) : NULL;
    for (int i = 0; i < p->n_stop; i++)
        r->stop[i] = sb_strdup(p->stop[i]);
    r->p.stop = NULL;
    r->p.bias_tokens = NULL;
    r->p.bias_values = NULL;
    r->fn = fn;
    r->ud = ud;
    if (p->temperature > 0) {
        sb_rng rng;
        sb_rng_seed(&rng, p->has_seed ? p->seed : (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)r);
        r->pos = (size_t)sb_rng_below(&rng, sizeof story - 1);
        /* start on a character boundary */
        while (((unsigned char)story[r->pos] & 0xC0) == 0x80)
            r->pos++;
    }
    pthread_mutex_lock(&f->mu);
    if (f->n_queue >= f->cfg.queue_cap) {
        pthread_mutex_unlock(&f->mu);
        for (int i = 0; i < p->n_stop; i++)
            sb_free(r->stop[i]);
        sb_free(r->stop);
        sb_free(r->prompt);
        sb_free(r);
        return sb_error_set(err, SB_ERR_BUSY, "fake: queue full");
    }
    r->id = ++f->next_id;
    *id = r->id;
    fake_req **tail = &f->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = r;
    f->n_queue++;
    f->submitted++;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    return SB_OK;
}

static void f_cancel(void *impl, uint64_t id) {
    fake *f = impl;
    pthread_mutex_lock(&f->mu);
    for (fake_req *r = f->queue; r; r = r->next)
        if (r->id == id)
            r->cancelled = true;
    for (fake_req *r = f->active; r; r = r->next)
        if (r->id == id)
            r->cancelled = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

static void f_stats(void *impl, sb_srv_model_stats *out) {
    fake *f = impl;
    pthread_mutex_lock(&f->mu);
    out->active = f->n_active;
    out->queued = f->n_queue;
    out->kv_pages_used = f->n_active * 2;
    out->kv_pages_total = 64;
    pthread_mutex_unlock(&f->mu);
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a
 * stop string (held back until it is decided). Sets *hit to the offset of
 * a complete stop string, or -1. */
static size_t stop_scan(const fake_req *r, const char *s, size_t n, long *hit) {
    *hit = -1;
    size_t hold = 0;
    for (int k = 0; k < r->p.n_stop; k++) {
        const char *st = r->stop[k];
        size_t sl = strlen(st);
        const char *found = memmem(s, n, st, sl);
        if (found && (*hit < 0 || found - s < *hit))
            *hit = found - s;
        for (size_t l = sl - 1; l > 0; l--)
            if (l <= n && memcmp(s + n - l, st, l) == 0 && l > hold) {
                hold = l;
                break;
            }
    }
    return hold;
}

/* Frees a request after its final event. */
static void req_free(fake_req *r) {
    for (int i = 0; i < r->p.n_stop; i++)
        sb_free(r->stop[i]);
    sb_free(r->stop);
    sb_free(r->prompt);
    sb_free(r);
}

/* One decode step of r: returns the finish reason (NONE = go on) and
 * fills the event. */
static sb_srv_finish step(fake *f, fake_req *r, sb_srv_event *ev, sb_srv_token *tok, sb_srv_logprob *top,
                          char *text, size_t *text_len, char *piece) {
    unsigned char byte = (unsigned char)story[r->pos];
    r->pos = (r->pos + 1) % (sizeof story - 1);
    r->generated++;
    piece[0] = (char)byte;
    tok->chosen = (sb_srv_logprob){byte + 3, -0.25f, piece, 1};
    for (int i = 0; i < r->p.top_logprobs; i++)
        top[i] = (sb_srv_logprob){i == 0 ? byte + 3 : 3 + 'a' + i, -0.25f - (float)i, i == 0 ? piece : "x", 1};
    tok->n_top = r->p.top_logprobs;
    tok->top = top;
    ev->n_tokens = 1;
    ev->tokens = tok;
    if (r->n_pending < sizeof r->pending)
        r->pending[r->n_pending++] = (char)byte;
    sb_srv_finish fin = SB_SRV_FINISH_NONE;
    if (f->cfg.eos_after > 0 && r->generated >= f->cfg.eos_after)
        fin = SB_SRV_FINISH_STOP;
    if (r->generated >= r->p.max_tokens)
        fin = SB_SRV_FINISH_LENGTH;
    long hit;
    size_t hold = stop_scan(r, r->pending, r->n_pending, &hit);
    size_t emit = r->n_pending - hold;
    if (hit >= 0) {
        emit = (size_t)hit;
        fin = SB_SRV_FINISH_STOP;
    } else if (fin == SB_SRV_FINISH_NONE) {
        emit = sb_utf8_complete_prefix(r->pending, emit);
    }
    memcpy(text, r->pending, emit);
    *text_len = emit;
    memmove(r->pending, r->pending + emit, r->n_pending - emit);
    r->n_pending -= emit;
    if (fin != SB_SRV_FINISH_NONE)
        r->n_pending = 0;
    return fin;
}

/* The scheduler thread: admit in arrival order up to the cap, one token
 * per active request per step, events outside the lock. */
static void *fake_main(void *arg) {
    fake *f = arg;
    pthread_mutex_lock(&f->mu);
    while (!f->stop || f->active || f->queue) {
        while (f->queue && (f->n_active < f->cfg.parallel || f->queue->cancelled || f->stop)) {
            fake_req *r = f->queue;
            f->queue = r->next;
            f->n_queue--;
            r->next = f->active;
            f->active = r;
            f->n_active++;
        }
        if (!f->active) {
            if (f->stop)
                break;
            pthread_cond_wait(&f->cv, &f->mu);
            continue;
        }
        fake_req *list = f->active;
        pthread_mutex_unlock(&f->mu);
        usleep((useconds_t)f->cfg.token_delay_us);
        for (fake_req *r = list; r; r = r->next) {
            pthread_mutex_lock(&f->mu);
            bool cancelled = r->cancelled || f->stop;
            pthread_mutex_unlock(&f->mu);
            sb_srv_event ev = {0};
            sb_srv_token tok;
            sb_srv_logprob top[SB_SRV_MAX_TOP_LOGPROBS];
            char text[300], piece[1];
            size_t tl = 0;
            sb_srv_finish fin = cancelled ? SB_SRV_FINISH_CANCELLED : step(f, r, &ev, &tok, top, text, &tl, piece);
            ev.text = text;
            ev.text_len = tl;
            ev.finish = fin;
            if (fin != SB_SRV_FINISH_NONE)
                ev.timings = (sb_srv_timings){(int)r->n_prompt, 0, r->generated, 1.0, (double)r->generated};
            r->fn(r->ud, &ev);
            if (fin != SB_SRV_FINISH_NONE) {
                pthread_mutex_lock(&f->mu);
                r->id = 0; /* marks it done */
                if (cancelled)
                    f->cancelled++;
                f->finished++;
                pthread_mutex_unlock(&f->mu);
            }
        }
        pthread_mutex_lock(&f->mu);
        for (fake_req **pp = &f->active; *pp;) {
            if ((*pp)->id == 0) {
                fake_req *d = *pp;
                *pp = d->next;
                f->n_active--;
                req_free(d);
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

static void f_destroy(void *impl) {
    fake *f = impl;
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    pthread_join(f->thread, NULL);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    sb_free(f);
}

static const sb_srv_model_ops fake_ops = {
    .tokenize = f_tokenize,
    .detokenize = f_detokenize,
    .token_piece = f_piece,
    .render_chat = f_render,
    .submit = f_submit,
    .cancel = f_cancel,
    .stats = f_stats,
    .destroy = f_destroy,
};

sb_srv_model *fake_model_create(const fake_config *cfg) {
    fake *f = sb_calloc(1, sizeof *f);
    sb_srv_model *m = sb_calloc(1, sizeof *m);
    if (!f || !m) {
        sb_free(f);
        sb_free(m);
        return NULL;
    }
    f->cfg = cfg ? *cfg : (fake_config){0};
    if (!f->cfg.n_ctx)
        f->cfg.n_ctx = 256;
    if (!f->cfg.parallel)
        f->cfg.parallel = 4;
    if (!f->cfg.queue_cap)
        f->cfg.queue_cap = 16;
    if (!f->cfg.token_delay_us)
        f->cfg.token_delay_us = 1000;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    pthread_create(&f->thread, NULL, fake_main, f);
    m->ops = &fake_ops;
    m->impl = f;
    m->n_ctx = f->cfg.n_ctx;
    m->n_vocab = 259;
    return m;
}

void fake_model_counters(sb_srv_model *m, fake_counters *out) {
    fake *f = m->impl;
    pthread_mutex_lock(&f->mu);
    *out = (fake_counters){f->n_active, f->n_queue, f->submitted, f->cancelled, f->finished};
    pthread_mutex_unlock(&f->mu);
}
