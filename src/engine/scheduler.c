/*
 * scheduler.c - the scheduler thread: admission, batch building, forward
 * pass, and the hand-off to sched_seq.c (see sb_scheduler.h).
 */
#include "sched_internal.h"

#include "sb_alloc.h"
#include "sb_time.h"

#include <string.h>
#include <time.h>

sb_sched_config sb_sched_config_default(void) {
    sb_sched_config c = {.parallel = 1, .max_queue = 64, .batch_tokens = 512};
    return c;
}

/* ---- submit (caller's thread) ----------------------------------------- */

/* Pages a request can need at most, with nothing cached. */
static int worst_request_pages(int page_size, int n_prompt, int max_tokens, int n_choices) {
    int end = n_prompt + max_tokens;
    return sb_seq_kv_worst_pages(page_size, 0, end) +
           (n_choices - 1) * sb_seq_kv_worst_pages(page_size, n_prompt, end);
}

/* Everything that can be checked without the scheduler's state. */
static sb_status validate(const sb_scheduler *s, const sb_gen_params *p, int *max_tokens, sb_error *err) {
    const sb_sched_model *m = &s->model;
    if (!p->prompt || p->n_prompt < 1)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "the prompt is empty (it needs at least one token)");
    for (int i = 0; i < p->n_prompt; i++)
        if (p->prompt[i] < 0 || p->prompt[i] >= m->n_vocab)
            return sb_error_set(err, SB_ERR_RANGE, "prompt token %d (at %d) is outside the vocabulary (0..%d)",
                                (int)p->prompt[i], i, m->n_vocab - 1);
    if (p->n_choices < 1 || p->n_choices > s->cfg.parallel)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "n = %d choices: must be between 1 and %d (the parallel limit)",
                            p->n_choices, s->cfg.parallel);
    if (p->max_tokens == 0 || p->max_tokens < -1)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "max_tokens = %d: must be positive (or -1: up to the context)",
                            p->max_tokens);
    if (p->n_prompt >= m->n_ctx)
        return sb_error_set(err, SB_ERR_LIMIT, "the prompt has %d tokens but the context holds %d", p->n_prompt,
                            m->n_ctx);
    int mt = p->max_tokens < 0 ? m->n_ctx - p->n_prompt : p->max_tokens;
    if ((int64_t)p->n_prompt + mt > m->n_ctx)
        return sb_error_set(err, SB_ERR_LIMIT,
                            "the prompt (%d tokens) plus max_tokens (%d) is %lld tokens, more than the context (%d)",
                            p->n_prompt, mt, (long long)p->n_prompt + mt, m->n_ctx);
    int pages = worst_request_pages(m->page_size, p->n_prompt, mt, p->n_choices);
    if (pages > m->n_pages)
        return sb_error_set(err, SB_ERR_LIMIT, "the request may need %d KV pages but the cache has %d", pages,
                            m->n_pages);
    sb_status st = sb_sampling_params_validate(&p->sampling, m->n_vocab, err);
    if (st != SB_OK)
        return st;
    if (p->n_stop < 0 || (p->n_stop > 0 && !p->stop))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "stop: bad list");
    *max_tokens = mt;
    return SB_OK;
}

sb_status sb_scheduler_submit(sb_scheduler *s, const sb_gen_params *p, sb_request **out, sb_error *err) {
    *out = NULL;
    int max_tokens = 0;
    sb_status st = validate(s, p, &max_tokens, err);
    sb_request *r = NULL;
    if (st == SB_OK) {
        r = sched_request_alloc();
        if (!r)
            st = sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    if (st == SB_OK) {
        r->prompt = sb_memdup(p->prompt, sizeof(int32_t) * (size_t)p->n_prompt);
        r->n_prompt = p->n_prompt;
        r->max_tokens = max_tokens;
        r->n_choices = p->n_choices;
        r->sampling = p->sampling;
        r->ignore_eos = p->ignore_eos;
        r->cache_prompt = p->cache_prompt;
        r->notify = p->notify;
        r->notify_ud = p->notify_ud;
        if (!r->prompt || sched_request_reserve_events(r) != SB_OK)
            st = sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        if (st == SB_OK && p->sampling.n_logit_bias > 0) {
            r->bias = sb_memdup(p->sampling.logit_bias, sizeof(sb_logit_bias) * (size_t)p->sampling.n_logit_bias);
            if (!r->bias)
                st = sb_error_set(err, SB_ERR_NOMEM, "out of memory");
            r->sampling.logit_bias = r->bias;
        }
        if (st == SB_OK && p->n_stop > 0)
            st = sb_stop_create(p->stop, NULL, p->n_stop, &r->stop, err);
    }
    pthread_mutex_lock(&s->mu);
    s->metrics.requests_submitted++;
    if (st == SB_OK && s->stopping)
        st = sb_error_set(err, SB_ERR_CANCELLED, "the model is shutting down");
    if (st == SB_OK && s->n_waiting >= s->cfg.max_queue) {
        st = sb_error_set(err, SB_ERR_BUSY, "the queue is full (%d requests waiting); retry later", s->n_waiting);
        s->metrics.requests_busy++;
    }
    if (st != SB_OK) {
        s->metrics.requests_rejected++;
        pthread_mutex_unlock(&s->mu);
        if (r) {
            sched_request_unref(r);
            sched_request_unref(r);
        }
        return st;
    }
    r->t_submit_ns = sb_now_ns();
    if (s->wait_tail)
        s->wait_tail->next_waiting = r;
    else
        s->wait_head = r;
    s->wait_tail = r;
    s->n_waiting++;
    s->metrics.queued_requests = s->n_waiting;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    *out = r;
    return SB_OK;
}

/* ---- admission (scheduler thread) ------------------------------------- */

/* Sends DONE to every choice of a request that never ran, and drops the
 * scheduler's reference. */
static void finish_unadmitted(sb_scheduler *s, sb_request *r, sb_finish_reason why, const sb_error *err) {
    for (int c = 0; c < r->n_choices; c++) {
        sb_event ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = SB_EVENT_DONE;
        ev.choice = c;
        ev.finish = why;
        ev.stop_index = -1;
        if (err)
            ev.error = *err;
        ev.stats.n_prompt = r->n_prompt;
        pthread_mutex_lock(&s->mu);
        s->metrics.requests_finished[why]++;
        pthread_mutex_unlock(&s->mu);
        sched_request_push(r, &ev);
    }
    sched_request_unref(r);
}

/* Creates the choices' sequences of an admitted request (pages already
 * reserved in the pool: `reserve` for choice 0, `reserve_x` per other). */
static sb_status setup_seqs(sb_scheduler *s, sb_request *r, int reserve, int reserve_x, sb_error *err) {
    r->seqs = sb_calloc((size_t)r->n_choices, sizeof *r->seqs);
    if (!r->seqs) {
        sb_page_pool_unreserve(s->pool, reserve + (r->n_choices - 1) * reserve_x);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    sb_status st = SB_OK;
    for (int c = 0; c < r->n_choices; c++) {
        sched_seq *q = &r->seqs[c];
        q->req = r;
        q->choice = c;
        q->state = c == 0 ? SEQ_PREFILL : SEQ_WAIT_FORK;
        q->max_tokens = r->max_tokens;
        sb_seq_kv_init(&q->kv, s->pool, r->cache_prompt);
        sb_seq_kv_add_reservation(&q->kv, c == 0 ? reserve : reserve_x);
    }
    sched_seq *q0 = &r->seqs[0];
    st = sb_sampler_create(&r->sampling, s->model.n_vocab, s->model.n_ctx, &q0->sampler, err);
    if (st == SB_OK) {
        for (int i = 0; i < r->n_prompt; i++)
            sb_sampler_accept(q0->sampler, r->prompt[i]);
    }
    for (int c = 0; c < r->n_choices && st == SB_OK; c++) {
        sched_seq *q = &r->seqs[c];
        if (c > 0)
            st = sb_sampler_clone(q0->sampler, sb_sampler_seed(q0->sampler) + (uint64_t)c, &q->sampler, err);
        if (st == SB_OK && r->stop)
            st = sb_stop_clone(r->stop, &q->stop, err);
        if (st == SB_OK) {
            q->detok = s->text.stream_create(s->text.ud);
            if (!q->detok)
                st = sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        }
    }
    if (st == SB_OK)
        st = sb_seq_kv_match_prefix(&q0->kv, r->prompt, r->n_prompt, &r->n_cached, err);
    if (st != SB_OK) {
        for (int c = 0; c < r->n_choices; c++)
            sched_seq_release(&r->seqs[c], &s->text);
    }
    return st;
}

/* Tries to admit the request at the head of the queue: 1 admitted, 0 it
 * must wait (parallel cap or pages), -1 it failed (err says why; the caller
 * takes it off the queue and finishes it). */
static int admit(sb_scheduler *s, sb_request *r, sb_error *err) {
    if (s->n_running + r->n_choices > s->cfg.parallel)
        return 0;
    int ps = s->model.page_size;
    int end = r->n_prompt + r->max_tokens;
    int hit = 0, live = 0;
    if (r->cache_prompt)
        sb_seq_kv_plan(s->pool, r->prompt, r->n_prompt, &hit, &live);
    int reserve = sb_seq_kv_worst_pages(ps, 0, end) - live;
    int reserve_x = sb_seq_kv_worst_pages(ps, r->n_prompt, end);
    if (!sb_page_pool_reserve(s->pool, reserve + (r->n_choices - 1) * reserve_x))
        return 0;
    r->t_admit_ns = sb_now_ns();
    r->admitted = true;
    if (setup_seqs(s, r, reserve, reserve_x, err) != SB_OK)
        return -1;
    for (int c = 0; c < r->n_choices; c++)
        s->running[s->n_running++] = &r->seqs[c];
    s->n_active_requests++;
    pthread_mutex_lock(&s->mu);
    s->metrics.prompt_tokens += (uint64_t)r->n_prompt;
    s->metrics.prompt_tokens_cached += (uint64_t)r->n_cached;
    pthread_mutex_unlock(&s->mu);
    return 1;
}

/* Removes cancelled requests from the queue, then admits from its head
 * while they fit. The queue lock is not held while admitting (only this
 * thread removes entries, so the head stays put). */
static void intake(sb_scheduler *s) {
    pthread_mutex_lock(&s->mu);
    sb_request *cancelled = NULL;
    for (sb_request **link = &s->wait_head; *link;) {
        sb_request *r = *link;
        if (atomic_load(&r->cancel)) {
            *link = r->next_waiting;
            r->next_waiting = cancelled;
            cancelled = r;
            s->n_waiting--;
        } else {
            link = &r->next_waiting;
        }
    }
    s->wait_tail = NULL;
    for (sb_request *r = s->wait_head; r; r = r->next_waiting)
        s->wait_tail = r;
    pthread_mutex_unlock(&s->mu);
    while (cancelled) {
        sb_request *next = cancelled->next_waiting;
        finish_unadmitted(s, cancelled, SB_FINISH_CANCELLED, NULL);
        cancelled = next;
    }
    for (;;) {
        pthread_mutex_lock(&s->mu);
        sb_request *r = s->wait_head;
        pthread_mutex_unlock(&s->mu);
        if (!r)
            break;
        sb_error err;
        sb_error_clear(&err);
        int res = admit(s, r, &err);
        if (res == 0)
            break;
        pthread_mutex_lock(&s->mu);
        s->wait_head = r->next_waiting;
        if (!s->wait_head)
            s->wait_tail = NULL;
        s->n_waiting--;
        r->next_waiting = NULL;
        pthread_mutex_unlock(&s->mu);
        if (res < 0)
            finish_unadmitted(s, r, SB_FINISH_ERROR, &err); /* may free r */
    }
}

/* ---- one step ---------------------------------------------------------- */

/* Drops finished sequences from the running list; a request whose every
 * choice is gone loses the scheduler's reference. */
static void sweep(sb_scheduler *s) {
    int w = 0;
    for (int i = 0; i < s->n_running; i++) {
        sched_seq *q = s->running[i];
        if (q->state != SEQ_DONE) {
            s->running[w++] = q;
            continue;
        }
        sb_request *r = q->req;
        if (++r->n_swept == r->n_choices) {
            s->n_active_requests--;
            sched_request_unref(r);
        }
    }
    s->n_running = w;
}

/* Finishes every choice of a running request. */
static void finish_request(sb_scheduler *s, sb_request *r, sb_finish_reason why, const sb_error *err) {
    for (int c = 0; c < r->n_choices; c++)
        sched_seq_finish(s, &r->seqs[c], why, -1, err);
}

static void update_gauges(sb_scheduler *s) {
    pthread_mutex_lock(&s->mu);
    sb_page_pool_get_stats(s->pool, &s->metrics.pages);
    s->metrics.active_requests = s->n_active_requests;
    s->metrics.active_seqs = s->n_running;
    s->metrics.queued_requests = s->n_waiting;
    pthread_mutex_unlock(&s->mu);
}

/* Adds seq q's entries to the batch: one decode token, or the next prompt
 * chunk of up to `room` tokens. Returns the entries added (0 on error: q is
 * then finished). */
static int add_entries(sb_scheduler *s, sched_seq *q, int n_tok, int room, int *n_seq, int *n_out) {
    sb_request *r = q->req;
    int start = q->kv.n_stored;
    int n = q->state == SEQ_DECODE ? 1 : r->n_prompt - start;
    if (n > room)
        n = room;
    if (n <= 0)
        return 0;
    sb_error err;
    sb_error_clear(&err);
    if (sb_seq_kv_prepare(&q->kv, s->model.backend, n, &err) != SB_OK) {
        /* only this sequence: its siblings may already be in the batch */
        sched_seq_finish(s, q, SB_FINISH_ERROR, -1, &err);
        return 0;
    }
    q->batch_index = (*n_seq)++;
    q->in_batch = n;
    for (int j = 0; j < n; j++) {
        s->b_tokens[n_tok + j] = q->state == SEQ_DECODE ? q->next_token : r->prompt[start + j];
        s->b_pos[n_tok + j] = start + j;
        s->b_seq[n_tok + j] = q->batch_index;
    }
    if (q->state == SEQ_DECODE || start + n == r->n_prompt) {
        s->b_out[*n_out] = n_tok + n - 1;
        s->b_out_seq[*n_out] = q;
        (*n_out)++;
    }
    return n;
}

/* Forks the waiting choices of r from choice 0 once its prompt is stored. */
static void fork_choices(sb_scheduler *s, sb_request *r) {
    sched_seq *q0 = &r->seqs[0];
    for (int c = 1; c < r->n_choices; c++) {
        sched_seq *q = &r->seqs[c];
        if (q->state != SEQ_WAIT_FORK)
            continue;
        sb_error err;
        sb_error_clear(&err);
        if (sb_seq_kv_fork(&q->kv, &q0->kv, &err) != SB_OK)
            sched_seq_finish(s, q, SB_FINISH_ERROR, -1, &err);
        else
            q->state = SEQ_PREFILL; /* becomes DECODE when its first token is sampled */
    }
}

/* One scheduler step. Returns false when there was nothing to run. */
static bool step(sb_scheduler *s) {
    for (int i = 0; i < s->n_running; i++) {
        sched_seq *q = s->running[i];
        if (q->state != SEQ_DONE && atomic_load(&q->req->cancel))
            finish_request(s, q->req, SB_FINISH_CANCELLED, NULL);
    }
    sweep(s);
    intake(s);

    int budget = s->cfg.batch_tokens, n_tok = 0, n_seq = 0, n_out = 0, n_prompt_tok = 0;
    for (int i = 0; i < s->n_running; i++)
        s->running[i]->in_batch = 0;
    for (int i = 0; i < s->n_running && n_tok < budget; i++) {
        sched_seq *q = s->running[i];
        if (q->state == SEQ_DECODE)
            n_tok += add_entries(s, q, n_tok, budget - n_tok, &n_seq, &n_out);
    }
    for (int i = 0; i < s->n_running && n_tok < budget; i++) {
        sched_seq *q = s->running[i];
        if (q->state == SEQ_PREFILL && q->choice == 0) {
            int n = add_entries(s, q, n_tok, budget - n_tok, &n_seq, &n_out);
            n_tok += n;
            n_prompt_tok += n;
        }
    }
    if (n_tok == 0) {
        sweep(s);
        update_gauges(s);
        return false;
    }
    for (int i = 0; i < s->n_running; i++) {
        sched_seq *q = s->running[i];
        if (q->in_batch > 0) {
            s->b_tables[q->batch_index] = q->kv.pages;
            s->b_npages[q->batch_index] = q->kv.n_pages;
        }
    }
    sb_batch batch = {
        .n_tokens = n_tok,
        .tokens = s->b_tokens,
        .pos = s->b_pos,
        .seq = s->b_seq,
        .n_seqs = n_seq,
        .page_tables = s->b_tables,
        .n_pages = s->b_npages,
        .n_outputs = n_out,
        .output_rows = s->b_out,
    };
    sb_error err;
    sb_error_clear(&err);
    const sb_tensor *logits = NULL;
    sb_status st = s->model.forward(s->model.ud, &batch, &logits, &err);
    for (int i = 0; i < s->n_running; i++) {
        sched_seq *q = s->running[i];
        if (q->in_batch == 0 || q->state == SEQ_DONE)
            continue;
        if (st == SB_OK) {
            const int32_t *toks = q->state == SEQ_DECODE ? &q->next_token : q->req->prompt + q->kv.n_stored;
            sb_status cs = sb_seq_kv_commit(&q->kv, toks, q->in_batch, &err);
            if (cs != SB_OK)
                finish_request(s, q->req, SB_FINISH_ERROR, &err);
        } else {
            finish_request(s, q->req, SB_FINISH_ERROR, &err);
        }
    }
    pthread_mutex_lock(&s->mu);
    s->metrics.steps++;
    s->metrics.batch_tokens += (uint64_t)n_tok;
    s->metrics.prompt_tokens_computed += (uint64_t)n_prompt_tok;
    pthread_mutex_unlock(&s->mu);
    if (st == SB_OK) {
        uint64_t now = sb_now_ns();
        for (int i = 0; i < n_out; i++) {
            sched_seq *q = s->b_out_seq[i];
            if (q->state == SEQ_DONE)
                continue;
            if (q->state == SEQ_PREFILL) {
                sb_request *r = q->req;
                r->t_prompt_done_ns = now;
                fork_choices(s, r);
                for (int c = 0; c < r->n_choices; c++)
                    if (r->seqs[c].state == SEQ_PREFILL)
                        sched_seq_on_logits(s, &r->seqs[c], logits, i);
            } else {
                sched_seq_on_logits(s, q, logits, i);
            }
        }
    }
    sweep(s);
    update_gauges(s);
    return true;
}

/* ---- thread and lifetime ---------------------------------------------- */

static void *sched_main(void *arg) {
    sb_scheduler *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->stopping && s->n_running == 0 && s->n_waiting == 0) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        if (s->stopping && !s->drain) {
            for (sb_request *r = s->wait_head; r; r = r->next_waiting)
                atomic_store(&r->cancel, true);
            for (int i = 0; i < s->n_running; i++)
                atomic_store(&s->running[i]->req->cancel, true);
        }
        bool done = s->stopping && s->n_running == 0 && s->n_waiting == 0;
        pthread_mutex_unlock(&s->mu);
        if (done)
            break;
        if (!step(s)) {
            /* nothing could run (e.g. the queue head waits for pages that
             * only a cancellation frees): wait for news instead of spinning */
            pthread_mutex_lock(&s->mu);
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_nsec += 5 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            if (!s->stopping)
                pthread_cond_timedwait(&s->cv, &s->mu, &ts);
            pthread_mutex_unlock(&s->mu);
        }
    }
    return NULL;
}

sb_status sb_scheduler_create(const sb_sched_model *model, const sb_sched_text *text, const sb_sched_config *cfg,
                              sb_scheduler **out, sb_error *err) {
    *out = NULL;
    sb_sched_config c = cfg ? *cfg : sb_sched_config_default();
    if (c.parallel < 1 || c.max_queue < 1 || c.batch_tokens < c.parallel)
        return sb_error_set(err, SB_ERR_INVALID_ARG,
                            "scheduler: parallel %d, queue %d, batch %d tokens: need parallel >= 1, queue >= 1 and "
                            "batch >= parallel",
                            c.parallel, c.max_queue, c.batch_tokens);
    if (!model->backend || !model->forward || model->n_vocab < 1 || model->n_ctx < 2 || model->page_size < 1 ||
        model->n_pages < 1)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "scheduler: incomplete model description");
    if (!text->stream_create || !text->stream_push || !text->stream_flush || !text->stream_free)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "scheduler: incomplete text hooks");
    sb_scheduler *s = sb_calloc(1, sizeof *s);
    if (!s)
        return sb_error_set(err, SB_ERR_NOMEM, "scheduler: out of memory");
    s->model = *model;
    s->text = *text;
    s->cfg = c;
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    sb_status st = sb_page_pool_create(model->n_pages, model->page_size, &s->pool, err);
    if (st == SB_OK) {
        size_t bt = (size_t)c.batch_tokens, np = (size_t)c.parallel;
        s->running = sb_calloc(np, sizeof *s->running);
        s->b_tokens = sb_calloc(bt, sizeof(int32_t));
        s->b_pos = sb_calloc(bt, sizeof(int32_t));
        s->b_seq = sb_calloc(bt, sizeof(int32_t));
        s->b_out = sb_calloc(np, sizeof(int32_t));
        s->b_tables = sb_calloc(np, sizeof *s->b_tables);
        s->b_npages = sb_calloc(np, sizeof(int32_t));
        s->b_out_seq = sb_calloc(np, sizeof *s->b_out_seq);
        if (!s->running || !s->b_tokens || !s->b_pos || !s->b_seq || !s->b_out || !s->b_tables || !s->b_npages ||
            !s->b_out_seq)
            st = sb_error_set(err, SB_ERR_NOMEM, "scheduler: out of memory");
    }
    if (st == SB_OK) {
        sb_page_pool_get_stats(s->pool, &s->metrics.pages);
        if (pthread_create(&s->thread, NULL, sched_main, s) != 0)
            st = sb_error_set(err, SB_ERR_INTERNAL, "scheduler: cannot start its thread");
        else
            s->thread_started = true;
    }
    if (st != SB_OK) {
        sb_scheduler_free(s);
        return st;
    }
    *out = s;
    return SB_OK;
}

void sb_scheduler_shutdown(sb_scheduler *s, bool drain) {
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    bool join = s->thread_started && !s->stopped;
    if (!s->stopping) {
        s->stopping = true;
        s->drain = drain;
    } else if (!drain) {
        s->drain = false;
    }
    s->stopped = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (join)
        pthread_join(s->thread, NULL);
}

void sb_scheduler_free(sb_scheduler *s) {
    if (!s)
        return;
    sb_scheduler_shutdown(s, false);
    sb_page_pool_free(s->pool);
    sb_free(s->running);
    sb_free(s->b_tokens);
    sb_free(s->b_pos);
    sb_free(s->b_seq);
    sb_free(s->b_out);
    sb_free(s->b_tables);
    sb_free(s->b_npages);
    sb_free(s->b_out_seq);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    sb_free(s);
}

void sb_scheduler_get_metrics(sb_scheduler *s, sb_sched_metrics *out) {
    pthread_mutex_lock(&s->mu);
    *out = s->metrics;
    pthread_mutex_unlock(&s->mu);
}
