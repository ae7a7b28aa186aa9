/*
 * srv_engine.h - what the HTTP server needs from a loaded model.
 *
 * The server never runs a model. It talks to each model through this small
 * table of operations: tokenize/detokenize, render a chat, submit a
 * generation (the model's scheduler thread runs it and calls back with text),
 * cancel, and read gauges for /metrics. The real adapter over src/engine
 * (srv_engine_adapter.c) and the fake engine of the unit tests both
 * implement it, so the whole HTTP layer is testable without a model.
 *
 * Threading contract for an implementation:
 *   - tokenize, detokenize, token_piece, render_chat, submit, cancel and
 *     stats may be called from any HTTP thread, concurrently.
 *   - submit returns SB_ERR_BUSY when the model's queue is full (the server
 *     answers 503 with Retry-After) and never calls the callback from
 *     inside submit.
 *   - after a successful submit, the callback is called from the model's
 *     own thread with events in order, and exactly once with
 *     finish != SB_SRV_FINISH_NONE; after that event the callback's user
 *     data is never touched again. A cancelled request still gets its final
 *     event (finish = SB_SRV_FINISH_CANCELLED).
 *   - cancel of an id that already finished is a no-op.
 *   - event strings and arrays are valid only during the callback.
 */
#ifndef SB_SRV_ENGINE_H
#define SB_SRV_ENGINE_H

#include "sb_buf.h"
#include "sb_error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_SRV_MAX_TOP_LOGPROBS 20

/* Sampling and stopping parameters of one generated sequence. Pointers are
 * borrowed for the duration of submit; the implementation copies them. */
typedef struct sb_srv_gen_params {
    int max_tokens; /* > 0: the prompt plus this fits the context (checked) */
    float temperature;
    float top_p;
    float min_p;
    int top_k; /* 0 = off */
    float presence_penalty;
    float frequency_penalty;
    float repetition_penalty; /* 1 = off */
    bool has_seed;
    uint64_t seed;
    const char *const *stop; /* stop strings (never empty strings) */
    int n_stop;
    bool logprobs;    /* report the chosen token's log-probability */
    int top_logprobs; /* and this many alternatives (0..SB_SRV_MAX_TOP_LOGPROBS) */
    const int32_t *bias_tokens; /* logit_bias, token ids checked against the vocabulary */
    const float *bias_values;
    int n_bias;
} sb_srv_gen_params;

/* A token and its log-probability; piece is the token's raw text bytes. */
typedef struct sb_srv_logprob {
    int32_t token;
    float logprob;
    const char *piece;
    size_t piece_len;
} sb_srv_logprob;

/* One sampled token with its alternatives (filled when logprobs was asked). */
typedef struct sb_srv_token {
    sb_srv_logprob chosen;
    int n_top;
    const sb_srv_logprob *top;
} sb_srv_token;

typedef enum sb_srv_finish {
    SB_SRV_FINISH_NONE = 0,  /* more events follow */
    SB_SRV_FINISH_STOP,      /* end-of-generation token or a stop string */
    SB_SRV_FINISH_LENGTH,    /* max_tokens or the context was reached */
    SB_SRV_FINISH_CANCELLED, /* cancel() or shutdown */
    SB_SRV_FINISH_ERROR,     /* the engine failed (error says why) */
} sb_srv_finish;

/* Timings and counts of one finished sequence (llama.cpp's `timings`). */
typedef struct sb_srv_timings {
    int prompt_n;        /* prompt tokens evaluated (not reused from the cache) */
    int cached_n;        /* prompt tokens reused from cached pages */
    int predicted_n;     /* generated tokens */
    double prompt_ms;    /* time spent on the prompt */
    double predicted_ms; /* time from the first to the last generated token */
} sb_srv_timings;

/* What the model's thread hands back for one request. text is new output:
 * complete UTF-8 only, already cut before any stop string (it may be empty
 * while a possible stop string is held back). tokens are the tokens sampled
 * since the last event (for logprobs; their pieces need not line up with
 * text). */
typedef struct sb_srv_event {
    const char *text;
    size_t text_len;
    int n_tokens;
    const sb_srv_token *tokens;
    sb_srv_finish finish;
    sb_srv_timings timings; /* set on the final event */
    const char *error;      /* set when finish == SB_SRV_FINISH_ERROR */
} sb_srv_event;

typedef void (*sb_srv_event_fn)(void *ud, const sb_srv_event *ev);

/* Gauges of one model for /metrics. */
typedef struct sb_srv_model_stats {
    int active;         /* sequences in the running batch */
    int queued;         /* requests waiting to be admitted */
    int kv_pages_used;  /* KV cache pages in use (cached prefixes included) */
    int kv_pages_total;
} sb_srv_model_stats;

typedef struct sb_srv_model_ops {
    /* Text to token ids; *ids is freed by the caller with sb_free. */
    sb_status (*tokenize)(void *impl, const char *text, size_t len, bool add_special, bool parse_special,
                          int32_t **ids, size_t *n, sb_error *err);
    /* Appends the text of ids to out; SB_ERR_RANGE names an id out of range. */
    sb_status (*detokenize)(void *impl, const int32_t *ids, size_t n, sb_buf *out, sb_error *err);
    /* Appends the raw piece of one token to out (empty for an unknown id). */
    sb_status (*token_piece)(void *impl, int32_t id, sb_buf *out);
    /* Renders validated OpenAI messages (and tools, or NULL) into the
     * prompt text with the model's chat template, generation prompt added.
     * *out is freed by the caller with sb_free. SB_ERR_INVALID_ARG means the
     * template rejected the conversation (an HTTP 400). */
    sb_status (*render_chat)(void *impl, const json_t *messages, const json_t *tools, char **out, size_t *out_len,
                             sb_error *err);
    /* Queues a generation of prompt[0..n) (the ids are copied). On success
     * *id identifies it for cancel. SB_ERR_BUSY: the queue is full. */
    sb_status (*submit)(void *impl, const int32_t *prompt, size_t n, const sb_srv_gen_params *params,
                        sb_srv_event_fn fn, void *ud, uint64_t *id, sb_error *err);
    /* Asks the model's thread to drop a request at its next step. */
    void (*cancel)(void *impl, uint64_t id);
    void (*stats)(void *impl, sb_srv_model_stats *out);
    /* Stops the model's thread (cancelling what is left, each request
     * getting its final event) and frees everything. */
    void (*destroy)(void *impl);
} sb_srv_model_ops;

/* A model as the server sees it. The server owns it once attached
 * (sb_server_attach_model) and frees it with sb_srv_model_free. */
typedef struct sb_srv_model {
    const sb_srv_model_ops *ops;
    void *impl;
    int n_ctx;   /* context length per sequence */
    int n_vocab; /* for logit_bias and token-array prompts */
} sb_srv_model;

/* Calls ops->destroy and frees m (NULL is a no-op). */
void sb_srv_model_free(sb_srv_model *m);

#endif
