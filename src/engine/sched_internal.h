/*
 * sched_internal.h - the scheduler's private structures, shared by
 * scheduler.c (thread, admission, batch), sched_seq.c (a sequence's tokens
 * and text), request.c (handles and event queues) and sched_metrics.c.
 */
#ifndef SB_SCHED_INTERNAL_H
#define SB_SCHED_INTERNAL_H

#include "sb_scheduler.h"
#include "sb_seq_kv.h"
#include "sb_stop.h"

#include <pthread.h>
#include <stdatomic.h>

typedef enum sched_seq_state {
    SEQ_WAIT_FORK = 0, /* choice > 0: waits for choice 0's prompt */
    SEQ_PREFILL,
    SEQ_DECODE,
    SEQ_DONE,
} sched_seq_state;

typedef struct sched_seq {
    sb_request *req;
    int choice;
    sched_seq_state state;
    sb_seq_kv kv;
    sb_sampler *sampler;
    sb_stop_matcher *stop;
    void *detok;
    int32_t next_token;     /* decode: the token to feed next */
    int n_generated;
    int max_tokens;
    uint64_t t_first_ns, t_last_ns;
    double itl_sum_ms, itl_max_ms;
    bool text_lost;         /* a TEXT event was dropped (out of memory): end with an error */
    int in_batch;           /* entries in the current batch */
    int batch_index;        /* index into the batch's page tables */
} sched_seq;

struct sb_request {
    /* consumer <-> scheduler: events, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    sb_event *events;
    int ev_head, ev_len, ev_cap;
    int n_done_queued;      /* DONE events queued so far */
    atomic_int refs;
    atomic_bool cancel;

    /* immutable after submit */
    int32_t *prompt;
    int n_prompt;
    int max_tokens;
    int n_choices;
    sb_sampling_params sampling;
    sb_logit_bias *bias;    /* owned copy behind sampling.logit_bias */
    sb_stop_matcher *stop;  /* template for the choices' matchers */
    bool ignore_eos;
    bool cache_prompt;
    sb_request_notify_fn notify;
    void *notify_ud;
    uint64_t t_submit_ns;

    /* scheduler thread only */
    sb_request *next_waiting;
    sched_seq *seqs;        /* [n_choices] once admitted */
    int n_seqs_done;
    int n_swept;            /* choices removed from the running list */
    int n_cached;           /* prompt tokens reused */
    uint64_t t_admit_ns, t_prompt_done_ns;
    bool admitted;
};

struct sb_scheduler {
    sb_sched_model model;
    sb_sched_text text;
    sb_sched_config cfg;
    sb_page_pool *pool;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;     /* waiting queue, flags, metrics */
    pthread_cond_t cv;
    sb_request *wait_head, *wait_tail;
    int n_waiting;
    bool stopping, drain, stopped;

    /* scheduler thread only */
    sched_seq **running;    /* [parallel] in admission order */
    int n_running;
    int n_active_requests;
    /* batch arrays, [batch_tokens] / [parallel] */
    int32_t *b_tokens, *b_pos, *b_seq, *b_out;
    const int32_t **b_tables;
    int32_t *b_npages;
    sched_seq **b_out_seq;  /* owner of each output row */

    sb_sched_metrics metrics; /* under mu */
};

/* request.c */
sb_request *sched_request_alloc(void);
void sched_request_unref(sb_request *r);
/* Allocates the event queue with room for every choice's DONE event (at
 * submit, once n_choices is set). Errors: out of memory. */
sb_status sched_request_reserve_events(sb_request *r);
/* Queues an event (takes ownership of its arrays) and wakes the consumer;
 * calls notify afterwards. DONE events always find a reserved slot. A TEXT
 * event that finds no room (out of memory) is dropped and its choice's
 * DONE becomes an error. */
void sched_request_push(sb_request *r, sb_event *ev);

/* sched_seq.c */
/* Samples row `row` for seq and handles the token: text, stop strings,
 * end-of-generation, max_tokens. */
void sched_seq_on_logits(sb_scheduler *s, sched_seq *q, const sb_tensor *logits, int row);
/* Ends a sequence: flushes text (unless cancelled/error), queues DONE,
 * releases its pages and sampler. */
void sched_seq_finish(sb_scheduler *s, sched_seq *q, sb_finish_reason why, int stop_index, const sb_error *err);
/* Frees a sequence's resources (pages included). */
void sched_seq_release(sched_seq *q, const sb_sched_text *text);

/* sched_metrics.c (caller holds s->mu) */
void sched_hist_add(sb_histogram *h, double ms);

#endif
