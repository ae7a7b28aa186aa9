/*
 * srv_oai.h - OpenAI-shaped JSON: errors, responses and stream chunks.
 *
 * Pure builders with no I/O and no model: every function returns a new
 * jansson value (the caller json_decref's it) or NULL when out of memory.
 * The shapes follow OpenAI's API reference (chat.completion,
 * chat.completion.chunk, text_completion) plus llama.cpp's `timings`
 * object, so that SDKs and UIs parse them unchanged.
 */
#ifndef SB_SRV_OAI_H
#define SB_SRV_OAI_H

#include "srv_engine.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/* An error to send as {"error":{"message","type","param","code"}}. */
typedef struct sb_api_error {
    int status;       /* HTTP status */
    const char *type; /* static string: "invalid_request_error", ... */
    const char *code; /* static string or NULL */
    char param[96];   /* the request field at fault, "" for none */
    char message[512];
} sb_api_error;

/* Fills e; returns the status so handlers can `return sb_api_error_set(...)`. */
int sb_api_error_set(sb_api_error *e, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Shorthand for a 400 invalid_request_error naming param. */
int sb_api_bad_field(sb_api_error *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

json_t *sb_oai_error_json(const sb_api_error *e);

/* A fresh response id: prefix + 24 random hex digits, into out[64]. */
void sb_oai_make_id(const char *prefix, char out[64]);

/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD. */
json_t *sb_oai_string_lossy(const char *s, size_t n);

/* "stop", "length" (cancelled reads as "stop"; errors are sent apart). */
const char *sb_oai_finish_reason(sb_srv_finish f);

/* Token counts of one response. */
typedef struct sb_oai_usage {
    int prompt_tokens;
    int completion_tokens;
    int cached_tokens;
} sb_oai_usage;

json_t *sb_oai_usage_json(const sb_oai_usage *u);
/* llama.cpp's timings object (prompt_n, prompt_ms, cache_n, predicted_n,
 * predicted_ms, predicted_per_second, ...). */
json_t *sb_oai_timings_json(const sb_srv_timings *t);

/* One finished choice of a non-streamed response. logprobs is borrowed
 * (NULL = null in the output). */
typedef struct sb_oai_choice {
    const char *text;
    size_t text_len;
    sb_srv_finish finish;
    json_t *logprobs;
} sb_oai_choice;

/* The response head shared by every body: id, created, model. */
typedef struct sb_oai_head {
    const char *id;
    int64_t created;
    const char *model;
} sb_oai_head;

json_t *sb_oai_chat_response(const sb_oai_head *h, const sb_oai_choice *choices, int n, const sb_oai_usage *u,
                             const sb_srv_timings *t);
json_t *sb_oai_completion_response(const sb_oai_head *h, const sb_oai_choice *choices, int n, const sb_oai_usage *u,
                                   const sb_srv_timings *t);

/* A chat.completion.chunk with one choice. role (or NULL) goes in the delta;
 * text is the content delta (NULL = no content key); logprobs is borrowed
 * (NULL = null); finish NONE = null finish_reason. */
json_t *sb_oai_chat_chunk(const sb_oai_head *h, int index, const char *role, const char *text, size_t text_len,
                          json_t *logprobs, sb_srv_finish finish);
/* A text_completion chunk with one choice. */
json_t *sb_oai_completion_chunk(const sb_oai_head *h, int index, const char *text, size_t text_len,
                                json_t *logprobs, sb_srv_finish finish);
/* The final usage chunk: choices [] and usage (+ timings). */
json_t *sb_oai_usage_chunk(const sb_oai_head *h, const char *object, const sb_oai_usage *u, const sb_srv_timings *t);

/* Logprobs accumulators. Chat: {"content":[{token, logprob, bytes,
 * top_logprobs}]}. Completions (legacy): {"tokens", "token_logprobs",
 * "top_logprobs", "text_offset"}. Create empty, append tokens. */
json_t *sb_oai_chat_logprobs_new(void);
sb_status sb_oai_chat_logprobs_add(json_t *lp, const sb_srv_token *tok);
json_t *sb_oai_completion_logprobs_new(void);
/* text_offset is the character offset of the token in the choice's text. */
sb_status sb_oai_completion_logprobs_add(json_t *lp, const sb_srv_token *tok, size_t text_offset);

/* The list object of GET /v1/models and one model entry. */
json_t *sb_oai_model_json(const char *id, int64_t created, const char *owned_by);

#endif
