/*
 * srv_request.h - an OpenAI request body as a plain C struct.
 *
 * sb_oai_request_parse checks every field the server understands (type and
 * range; unknown fields are ignored) and fills the struct; a bad field gives
 * an HTTP 400 error naming it ("temperature", "messages[2].content"). Chat
 * messages are normalised for templates: a content array of text parts
 * becomes one string. Nothing here depends on a model: token ids
 * (logit_bias keys, token prompts) are range-checked later, against the
 * chosen model's vocabulary.
 */
#ifndef SB_SRV_REQUEST_H
#define SB_SRV_REQUEST_H

#include "srv_oai.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum sb_oai_kind {
    SB_OAI_CHAT = 1,       /* POST /v1/chat/completions */
    SB_OAI_COMPLETION = 2, /* POST /v1/completions */
} sb_oai_kind;

/* One prompt of /v1/completions: text, or token ids. */
typedef struct sb_oai_prompt {
    bool is_tokens;
    char *text; /* NUL-terminated copy (when !is_tokens) */
    size_t text_len;
    int32_t *tokens; /* when is_tokens (may be NULL when n_tokens is 0) */
    size_t n_tokens;
} sb_oai_prompt;

/* Bounds on request fields (sb_oai_limits_default fills the defaults). */
typedef struct sb_oai_limits {
    int max_n;            /* n */
    int max_stop;         /* stop strings */
    size_t max_stop_len;  /* bytes per stop string */
    size_t max_id_len;    /* model and user */
    size_t max_prompts;   /* prompts in one completions request */
    size_t max_messages;  /* chat messages */
    int max_logit_bias;   /* logit_bias entries */
} sb_oai_limits;

void sb_oai_limits_default(sb_oai_limits *l);

/* The parsed request. Everything is owned by the struct (sb_oai_request_free). */
typedef struct sb_oai_request {
    sb_oai_kind kind;
    char *model; /* NULL: the default model */
    /* chat */
    json_t *messages; /* normalised array of message objects */
    json_t *tools;    /* array, or NULL */
    /* completions */
    sb_oai_prompt *prompts;
    size_t n_prompts;
    /* generation */
    int max_tokens; /* 0 = not given (fill the context) */
    float temperature, top_p, min_p;
    int top_k;
    float presence_penalty, frequency_penalty, repetition_penalty;
    bool has_seed;
    uint64_t seed;
    char **stop;
    int n_stop;
    int n;
    bool logprobs;
    int top_logprobs;
    int32_t *bias_tokens;
    float *bias_values;
    int n_bias;
    bool stream;
    bool include_usage;
    char *user;
} sb_oai_request;

/* Parses the body object of a chat or completions request into *out
 * (zeroed first). On a bad field returns 400 with e filled; 0 on success.
 * Out of memory gives 500 (the only non-400 failure). On failure *out is
 * already freed. */
int sb_oai_request_parse(const json_t *body, sb_oai_kind kind, const sb_oai_limits *lim, sb_oai_request *out,
                         sb_api_error *e);
void sb_oai_request_free(sb_oai_request *r);

#endif
