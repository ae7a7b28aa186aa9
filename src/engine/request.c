/*
 * request.c - request handles: reference counting between the consumer and
 * the scheduler thread, and the per-request event queue (see
 * sb_scheduler.h, DELIVERY).
 */
#include "sched_internal.h"

#include "sb_alloc.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

/* A zeroed request with its lock and condition, one reference for the
 * consumer and one for the scheduler. NULL on OOM. */
sb_request *sched_request_alloc(void) {
    sb_request *r = sb_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    atomic_init(&r->refs, 2);
    atomic_init(&r->cancel, false);
    return r;
}

void sb_event_clear(sb_event *ev) {
    if (!ev)
        return;
    sb_free(ev->text);
    sb_free(ev->tokens);
    sb_free(ev->logprobs);
    ev->text = NULL;
    ev->tokens = NULL;
    ev->logprobs = NULL;
    ev->text_len = 0;
    ev->n_tokens = 0;
}

static void request_destroy(sb_request *r) {
    for (int i = 0; i < r->ev_len; i++)
        sb_event_clear(&r->events[(r->ev_head + i) % r->ev_cap]);
    sb_free(r->events);
    sb_free(r->prompt);
    sb_free(r->bias);
    sb_stop_free(r->stop);
    sb_free(r->seqs);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    sb_free(r);
}

void sched_request_unref(sb_request *r) {
    if (r && atomic_fetch_sub(&r->refs, 1) == 1)
        request_destroy(r);
}

/* Slots the queue keeps free for the DONE events still to come. */
static int done_pending(const sb_request *r) { return r->n_choices - r->n_done_queued; }

/* Grows the queue to twice its size; false on OOM (the queue is unchanged). */
static bool grow_events(sb_request *r) {
    if (r->ev_cap > INT_MAX / 2)
        return false;
    int cap = r->ev_cap ? r->ev_cap * 2 : 8;
    sb_event *ne = sb_calloc((size_t)cap, sizeof *ne);
    if (!ne)
        return false;
    for (int i = 0; i < r->ev_len; i++)
        ne[i] = r->events[(r->ev_head + i) % r->ev_cap];
    sb_free(r->events);
    r->events = ne;
    r->ev_cap = cap;
    r->ev_head = 0;
    return true;
}

sb_status sched_request_reserve_events(sb_request *r) {
    if (r->n_choices < 1 || r->n_choices > INT_MAX - 8)
        return SB_ERR_INVALID_ARG;
    r->ev_cap = r->n_choices + 8;
    r->events = sb_calloc((size_t)r->ev_cap, sizeof *r->events);
    if (!r->events) {
        r->ev_cap = 0;
        return SB_ERR_NOMEM;
    }
    return SB_OK;
}

void sched_request_push(sb_request *r, sb_event *ev) {
    pthread_mutex_lock(&r->mu);
    const bool done = ev->kind == SB_EVENT_DONE;
    /* A TEXT event may not take a slot a DONE event still needs: those are
     * reserved at submit, so every choice's end always reaches the
     * consumer. Text that finds no room (growing failed) is dropped and its
     * choice then ends with an error instead of a silently shortened reply. */
    const int need = done ? 1 : 1 + done_pending(r);
    bool ok = r->ev_cap - r->ev_len >= need || grow_events(r);
    sched_seq *q = r->seqs && ev->choice >= 0 && ev->choice < r->n_choices ? &r->seqs[ev->choice] : NULL;
    if (!ok && !done && q)
        q->text_lost = true;
    if (done && q && q->text_lost && ev->finish != SB_FINISH_ERROR && ev->finish != SB_FINISH_CANCELLED) {
        ev->finish = SB_FINISH_ERROR;
        ev->stop_index = -1;
        sb_error_set(&ev->error, SB_ERR_NOMEM, "out of memory: part of the reply could not be delivered");
    }
    if (ok) {
        r->events[(r->ev_head + r->ev_len) % r->ev_cap] = *ev;
        r->ev_len++;
    } else {
        sb_event_clear(ev);
    }
    if (done)
        r->n_done_queued++;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    if (r->notify)
        r->notify(r->notify_ud);
}

/* Absolute CLOCK_MONOTONIC deadline timeout_ms from now. */
static struct timespec deadline_after(int timeout_ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += timeout_ms / 1000;
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int sb_request_next(sb_request *r, int timeout_ms, sb_event *ev) {
    memset(ev, 0, sizeof *ev);
    pthread_mutex_lock(&r->mu);
    struct timespec dl = deadline_after(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (r->ev_len > 0) {
            *ev = r->events[r->ev_head];
            memset(&r->events[r->ev_head], 0, sizeof *ev);
            r->ev_head = (r->ev_head + 1) % r->ev_cap;
            r->ev_len--;
            pthread_mutex_unlock(&r->mu);
            return 1;
        }
        if (r->n_done_queued >= r->n_choices) {
            pthread_mutex_unlock(&r->mu);
            return -1;
        }
        if (timeout_ms == 0) {
            pthread_mutex_unlock(&r->mu);
            return 0;
        }
        if (timeout_ms < 0) {
            pthread_cond_wait(&r->cv, &r->mu);
        } else if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT && r->ev_len == 0 &&
                   r->n_done_queued < r->n_choices) {
            pthread_mutex_unlock(&r->mu);
            return 0;
        }
    }
}

void sb_request_cancel(sb_request *r) {
    if (r)
        atomic_store(&r->cancel, true);
}

void sb_request_free(sb_request *r) {
    if (!r)
        return;
    atomic_store(&r->cancel, true);
    sched_request_unref(r);
}

sb_gen_params sb_gen_params_default(void) {
    sb_gen_params p;
    memset(&p, 0, sizeof p);
    p.max_tokens = -1;
    p.n_choices = 1;
    p.sampling = sb_sampling_params_default();
    p.cache_prompt = true;
    return p;
}

const char *sb_finish_reason_name(sb_finish_reason r) {
    switch (r) {
    case SB_FINISH_STOP:
        return "stop";
    case SB_FINISH_LENGTH:
        return "length";
    case SB_FINISH_CANCELLED:
        return "cancelled";
    case SB_FINISH_ERROR:
        return "error";
    default:
        return "none";
    }
}
