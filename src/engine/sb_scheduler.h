/*
 * sb_scheduler.h - continuous batching for one model: requests in, text out.
 *
 * One scheduler thread owns the model, its KV page pool and every running
 * sequence. Each step it
 *   1. drops cancelled requests (their pages are freed, or kept as cached
 *      prefix pages),
 *   2. admits waiting requests in arrival order while the `parallel` cap and
 *      the free pages allow (a request is admitted only if every page it may
 *      ever need can be promised to it, so running sequences never starve),
 *      reusing cached prompt-prefix pages,
 *   3. builds ONE batch: one decode entry per generating sequence first,
 *      then prompt chunks of prefilling sequences up to `batch_tokens`,
 *   4. runs the forward pass, samples a token for every sequence that got a
 *      logits row, and hands each request its new text.
 *
 * THREADING. sb_scheduler_submit, sb_scheduler_get_metrics and everything
 * on sb_request may be called from any thread. A request handle is meant
 * for one consumer thread (the HTTP thread streaming it); sb_request_cancel
 * may come from anywhere.
 *
 * DELIVERY. Each request has an event queue. The scheduler appends events
 * (text pieces, then one DONE per choice) and never blocks on the consumer:
 *   - pull: sb_request_next(req, timeout_ms, &ev) waits on the request's
 *     condition variable;
 *   - push: sb_gen_params.notify(ud) is called on the scheduler thread
 *     after events were queued. It must not block (e.g. write to an
 *     eventfd, or MHD_resume_connection); it may call sb_request_next with
 *     timeout 0.
 * Text in TEXT events is complete UTF-8 with stop strings removed (a text
 * that might start a stop string is held back until it is decided).
 *
 * A typical HTTP handler:
 *   sb_gen_params p = sb_gen_params_default();  p.prompt = ids; ...
 *   st = sb_scheduler_submit(sched, &p, &req, &err);
 *      SB_ERR_BUSY -> 503 + Retry-After; SB_ERR_LIMIT / INVALID_ARG / RANGE -> 400
 *   while (sb_request_next(req, 1000, &ev) >= 0) {      // -1: all done
 *       if (ev.kind == SB_EVENT_TEXT) send(ev.text, ev.text_len);
 *       else if (ev.kind == SB_EVENT_DONE) send_finish(ev.finish, &ev.stats);
 *       sb_event_clear(&ev);
 *       if (client_gone) sb_request_cancel(req);
 *   }
 *   sb_request_free(req);           // also cancels a request still running
 *
 * OWNERSHIP. sb_scheduler_submit copies everything in sb_gen_params. The
 * request handle is reference counted between the consumer and the
 * scheduler; sb_request_free releases the consumer's reference (the memory
 * goes when the scheduler is done with it too). Events own their arrays
 * (sb_event_clear). The model, backend and text hooks given to
 * sb_scheduler_create are borrowed and must outlive the scheduler.
 */
#ifndef SB_SCHEDULER_H
#define SB_SCHEDULER_H

#include "sb_backend.h"
#include "sb_buf.h"
#include "sb_error.h"
#include "sb_page_pool.h"
#include "sb_sampler.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sb_scheduler sb_scheduler;
typedef struct sb_request sb_request;

/* ---- what the scheduler drives ---------------------------------------- */

/* The model: a forward pass over a batch and the backend that holds its
 * logits (for the sampler's topk) and its KV pages (kv_copy_page). The KV
 * cache must already be initialised with n_pages pages of page_size. */
typedef struct sb_sched_model {
    sb_backend *backend;
    int n_vocab;
    int n_ctx;      /* positions per sequence */
    int page_size;  /* KV page geometry (sb_kv_config) */
    int n_pages;
    /* Runs the batch; on success *logits is [n_outputs][n_vocab] on backend. */
    sb_status (*forward)(void *ud, const sb_batch *batch, const sb_tensor **logits, sb_error *err);
    void *ud;
} sb_sched_model;

/* Token -> text and end-of-generation (normally the model's tokenizer; see
 * sb_engine.h). stream_* is one streaming UTF-8-safe decoder per sequence. */
typedef struct sb_sched_text {
    void *(*stream_create)(void *ud);                                         /* NULL on OOM */
    sb_status (*stream_push)(void *stream, int32_t token, sb_buf *out, sb_error *err);
    sb_status (*stream_flush)(void *stream, sb_buf *out, sb_error *err);
    void (*stream_free)(void *stream);
    bool (*is_eog)(void *ud, int32_t token);
    void *ud;
} sb_sched_text;

typedef struct sb_sched_config {
    int parallel;      /* sequences generating at once (each choice of n > 1 counts); >= 1 */
    int max_queue;     /* waiting (not yet admitted) requests, >= 1; beyond it submit fails with SB_ERR_BUSY */
    int batch_tokens;  /* token budget of one forward pass (>= parallel) */
} sb_sched_config;

/* parallel 1, max_queue 64, batch_tokens 512. */
sb_sched_config sb_sched_config_default(void);

/* Creates the scheduler and starts its thread. model and text are copied
 * (the pointers inside them are borrowed). Caller frees with
 * sb_scheduler_free. */
sb_status sb_scheduler_create(const sb_sched_model *model, const sb_sched_text *text, const sb_sched_config *cfg,
                              sb_scheduler **out, sb_error *err);

/* Stops accepting requests (submit then fails with SB_ERR_CANCELLED); with
 * drain, lets running and waiting requests finish, else cancels them; then
 * joins the thread. Idempotent. Every request gets its DONE events. */
void sb_scheduler_shutdown(sb_scheduler *s, bool drain);
/* Shuts down (cancelling) and frees. Request handles stay valid until
 * sb_request_free. */
void sb_scheduler_free(sb_scheduler *s);

/* ---- requests --------------------------------------------------------- */

typedef void (*sb_request_notify_fn)(void *ud);

typedef struct sb_gen_params {
    const int32_t *prompt;   /* token ids (copied); >= 1 */
    int n_prompt;
    int max_tokens;          /* > 0; -1 = until the context is full */
    int n_choices;           /* n >= 1 completions of the same prompt (share its pages) */
    sb_sampling_params sampling; /* choice i uses seed + i */
    const char *const *stop; /* stop strings (copied), NUL-terminated */
    int n_stop;
    bool ignore_eos;         /* do not stop at end-of-generation tokens */
    bool cache_prompt;       /* reuse / publish prefix pages (default true) */
    sb_request_notify_fn notify; /* optional, see DELIVERY above */
    void *notify_ud;
} sb_gen_params;

/* max_tokens -1, one choice, llama.cpp's default sampling, cache_prompt. */
sb_gen_params sb_gen_params_default(void);

/* Queues a request. Checked here, on the caller's thread, never silently
 * truncated: SB_ERR_INVALID_ARG (empty prompt, max_tokens 0, n_choices out of
 * 1..parallel, bad sampling field, bad stop string), SB_ERR_RANGE (a token
 * id outside the vocabulary), SB_ERR_LIMIT (prompt + max_tokens exceeds the
 * context: the message gives both), SB_ERR_BUSY (the waiting queue is full:
 * retry later), SB_ERR_CANCELLED (shutting down). On success *out is the
 * handle (free with sb_request_free). */
sb_status sb_scheduler_submit(sb_scheduler *s, const sb_gen_params *p, sb_request **out, sb_error *err);

typedef enum sb_finish_reason {
    SB_FINISH_NONE = 0,
    SB_FINISH_STOP,      /* end-of-generation token or stop string */
    SB_FINISH_LENGTH,    /* max_tokens reached */
    SB_FINISH_CANCELLED, /* sb_request_cancel / sb_request_free / shutdown */
    SB_FINISH_ERROR,     /* the event's error says what */
} sb_finish_reason;

/* "stop", "length", "cancelled", "error" (static storage). */
const char *sb_finish_reason_name(sb_finish_reason r);

/* Per-choice statistics, in the DONE event. Times in milliseconds. */
typedef struct sb_gen_stats {
    int n_prompt;        /* prompt tokens */
    int n_cached;        /* of which came from cached prefix pages (not recomputed) */
    int n_generated;     /* tokens sampled (an end-of-generation token counts) */
    double queue_ms;     /* submit -> admitted */
    double prompt_ms;    /* admitted -> logits of the last prompt token */
    double ttft_ms;      /* submit -> first token */
    double gen_ms;       /* first token -> last token */
    double itl_mean_ms;  /* mean gap between consecutive tokens */
    double itl_max_ms;
    uint64_t seed;       /* the seed used (after a random one was drawn) */
} sb_gen_stats;

typedef enum sb_event_kind {
    SB_EVENT_TEXT = 1, /* new text and the token(s) it came from */
    SB_EVENT_DONE = 2, /* one choice finished */
} sb_event_kind;

typedef struct sb_event {
    sb_event_kind kind;
    int choice;
    /* TEXT */
    char *text;                /* NUL-terminated, owned; may be empty (held back) */
    size_t text_len;
    int n_tokens;
    int32_t *tokens;           /* [n_tokens] owned */
    sb_sample_result *logprobs; /* [n_tokens] owned, when logprobs were asked for, else NULL */
    /* DONE */
    sb_finish_reason finish;
    int stop_index;            /* which stop string matched, or -1 */
    sb_error error;            /* finish == SB_FINISH_ERROR */
    sb_gen_stats stats;
} sb_event;

/* Frees an event's arrays (the struct itself is the caller's). */
void sb_event_clear(sb_event *ev);

/* Takes the next event: returns 1 (event in *ev), 0 (timeout; timeout_ms < 0
 * waits forever, 0 polls), or -1 (every choice is done and every event was
 * taken). */
int sb_request_next(sb_request *r, int timeout_ms, sb_event *ev);
/* Asks the scheduler to stop this request at its next step. Any thread. */
void sb_request_cancel(sb_request *r);
/* Releases the consumer's handle; cancels the request if it is not done. */
void sb_request_free(sb_request *r);

/* ---- metrics ---------------------------------------------------------- */

#define SB_HIST_BUCKETS 12
/* Upper bounds (ms) of the latency histogram buckets; the last bucket is +inf. */
extern const double sb_hist_bounds_ms[SB_HIST_BUCKETS];

typedef struct sb_histogram {
    uint64_t counts[SB_HIST_BUCKETS + 1]; /* non-cumulative; [SB_HIST_BUCKETS] = above the last bound */
    uint64_t count;
    double sum;
} sb_histogram;

typedef struct sb_sched_metrics {
    uint64_t requests_submitted;
    uint64_t requests_rejected;       /* invalid, too long, or busy */
    uint64_t requests_busy;           /* of which queue-full */
    uint64_t requests_finished[5];    /* by sb_finish_reason (per choice) */
    uint64_t prompt_tokens;           /* prompt tokens of admitted requests */
    uint64_t prompt_tokens_cached;    /* of which reused from the prefix cache */
    uint64_t prompt_tokens_computed;  /* prompt positions run through the model */
    uint64_t generated_tokens;
    uint64_t steps;                   /* forward passes */
    uint64_t batch_tokens;            /* entries over all forward passes */
    int active_requests;
    int active_seqs;
    int queued_requests;
    sb_page_pool_stats pages;
    sb_histogram ttft_ms;
    sb_histogram itl_ms;
} sb_sched_metrics;

/* A consistent snapshot (any thread). */
void sb_scheduler_get_metrics(sb_scheduler *s, sb_sched_metrics *out);

#endif
