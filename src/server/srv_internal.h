/*
 * srv_internal.h - the server object shared by the endpoint files
 * (srv_chat.c, srv_completions.c, srv_models.c, srv_status.c,
 * srv_tokenize.c) and the lifecycle in srv_server.c.
 */
#ifndef SB_SRV_INTERNAL_H
#define SB_SRV_INTERNAL_H

#include "sb_server.h"
#include "srv_generate.h"
#include "srv_http.h"
#include "srv_metrics.h"
#include "srv_request.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef enum srv_slot_state {
    SRV_SLOT_LOADING = 0,
    SRV_SLOT_READY = 1,
    SRV_SLOT_FAILED = 2,
} srv_slot_state;

/* One declared model. The slot array is fixed once the server starts;
 * state moves LOADING -> READY or FAILED once (model and error are set
 * before the state is published). */
typedef struct srv_slot {
    char *id;
    atomic_int state;
    sb_srv_model *model;
    char error[256];
    int64_t created;
} srv_slot;

struct sb_server {
    sb_server_config cfg;
    char *no_model_hint;
    sb_http *http;
    sb_srv_metrics *metrics;
    sb_oai_limits limits;
    srv_slot *slots;
    int n_slots, cap_slots;
    atomic_bool loaded;
    atomic_bool started;
};

/* The ready model for a request's `model` (NULL = the default). Returns 0,
 * or fills e: 404 for an unknown id, 503 while loading or after a failed
 * load (with Retry-After set on req). */
int srv_find_model(sb_server *s, sb_http_req *req, const char *id, srv_slot **out, sb_api_error *e);
/* Parses the request body as a JSON object with the server's bounds;
 * NULL with e filled (400) on failure. */
json_t *srv_parse_body(sb_server *s, sb_http_req *req, sb_api_error *e);
/* The body as an OpenAI request of `kind` (chat or completions): true with
 * r filled (the caller frees it with sb_oai_request_free), or false after
 * answering req with the error. */
bool srv_read_oai_request(sb_server *s, sb_http_req *req, sb_oai_kind kind, sb_oai_request *r);
/* Checks prompt length and max_tokens against the model's context and
 * resolves max_tokens; param names the prompt field for errors. */
int srv_check_context(const sb_srv_model *m, const sb_oai_request *r, size_t n_prompt, const char *param,
                      int *max_tokens, sb_api_error *e);
/* Checks logit_bias token ids against the vocabulary. */
int srv_check_bias(const sb_srv_model *m, const sb_oai_request *r, sb_api_error *e);
/* Maps a model-side failure (template, tokenizer) to an API error. */
int srv_model_error(sb_api_error *e, sb_status st, const char *param, const char *what, const sb_error *err);

/* Route registration, one per endpoint file. */
sb_status srv_routes_chat(sb_server *s, sb_error *err);
sb_status srv_routes_completions(sb_server *s, sb_error *err);
sb_status srv_routes_models(sb_server *s, sb_error *err);
sb_status srv_routes_status(sb_server *s, sb_error *err);
sb_status srv_routes_tokenize(sb_server *s, sb_error *err);

#endif
