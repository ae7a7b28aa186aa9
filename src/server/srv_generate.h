/*
 * srv_generate.h - one chat or completions request in flight: its choices
 * submitted to a model, the events the model's thread hands back, and the
 * reply built from them (a JSON body, or an SSE stream of chunks).
 *
 * The model's thread only appends to per-choice buffers under the job's
 * mutex and wakes the HTTP side; all JSON and SSE formatting happens on
 * HTTP threads (pull/produce). A job is reference-counted: the HTTP side
 * holds one reference until the request ends, and each submitted choice
 * holds one until its final event.
 */
#ifndef SB_SRV_GENERATE_H
#define SB_SRV_GENERATE_H

#include "srv_engine.h"
#include "srv_http.h"
#include "srv_metrics.h"
#include "srv_request.h"

#include <stddef.h>
#include <stdint.h>

/* One prompt, tokenized and checked against the context. */
typedef struct sb_gen_prompt {
    const int32_t *tokens;
    size_t n_tokens;
    int max_tokens; /* resolved: given, or what is left of the context */
} sb_gen_prompt;

/* What sb_gen_start needs besides the parsed request. */
typedef struct sb_gen_target {
    sb_srv_model *model;
    const char *model_id;
    sb_srv_metrics *metrics;
    int retry_after_s; /* Retry-After of a 503 when the queue is full */
} sb_gen_target;

/* Submits r->n choices per prompt to the model and answers req: a stream
 * or a deferred JSON body, or an error at once (503 with Retry-After when
 * the queue is full). prompts are copied by the model at submit. */
void sb_gen_start(sb_http_req *req, const sb_gen_target *t, const sb_oai_request *r, const sb_gen_prompt *prompts,
                  size_t n_prompts);

/* Fills gen params from a request (stop strings and logit_bias borrowed
 * from r); choice is the choice's index within its prompt (seed + choice). */
void sb_gen_params_from_request(const sb_oai_request *r, int max_tokens, int choice, sb_srv_gen_params *p);

#endif
