/*
 * sb_server.h - `solebox serve`: the OpenAI-compatible HTTP API.
 *
 *   sb_server_create(&cfg, &srv, &err);
 *   int slot = sb_server_declare_model(srv, "stories260K");   // /health says loading
 *   sb_server_start(srv, &err);                               // listening
 *   ... load the model (any thread) ...
 *   sb_server_attach_model(srv, slot, model);                 // or sb_server_fail_model
 *   sb_server_set_loaded(srv);                                // /health 200
 *   ... wait for a signal ...
 *   sb_server_shutdown(srv, 3000);                            // graceful
 *   sb_server_free(srv);
 *
 * Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models,
 * GET /v1/models/{id}, GET /health, GET /metrics, POST /tokenize,
 * POST /detokenize, and GET / (a placeholder page until the web UI
 * registers its own routes with sb_server_route).
 */
#ifndef SB_SERVER_H
#define SB_SERVER_H

#include "sb_error.h"
#include "srv_engine.h"
#include "srv_router.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct sb_server sb_server;

typedef struct sb_server_config {
    const char *host;     /* default 127.0.0.1 */
    int port;             /* default 8080; 0 = any free port */
    int http_threads;     /* default 2 */
    unsigned timeout_s;   /* idle connection timeout, default 60 */
    size_t max_body;      /* default 8 MiB */
    const char *const *allowed_hosts;
    int n_allowed_hosts;
    const char *const *cors_origins;
    int n_cors_origins;
    int retry_after_s;    /* Retry-After on 503, default 1 */
    bool log_requests;
    const char *no_model_hint; /* what /health and the log say when no model is given */
    void (*log)(void *ud, const char *msg);
    void *log_ud;
} sb_server_config;

sb_status sb_server_create(const sb_server_config *cfg, sb_server **out, sb_error *err);
/* Adds a route for another module (web UI, history API). Before start. */
sb_status sb_server_route(sb_server *s, const char *method, const char *path, bool prefix, sb_http_handler fn,
                          void *ud, sb_error *err);
/* Announces a model by id (state: loading); returns its slot or -1. The
 * first declared model is the default. */
int sb_server_declare_model(sb_server *s, const char *id);
/* The model of a slot is ready; the server owns m from here on. */
void sb_server_attach_model(sb_server *s, int slot, sb_srv_model *m);
/* The model of a slot failed to load (requests for it get 503 with msg). */
void sb_server_fail_model(sb_server *s, int slot, const char *msg);
/* Loading is over: /health answers 200 if at least one model is ready. */
void sb_server_set_loaded(sb_server *s);
sb_status sb_server_start(sb_server *s, sb_error *err);
int sb_server_port(const sb_server *s);
/* Stops accepting, lets requests in flight finish for up to grace_ms,
 * cancels the rest, and waits (bounded) until they are answered. */
void sb_server_shutdown(sb_server *s, int grace_ms);
/* Stops the HTTP side, then destroys the models. */
void sb_server_free(sb_server *s);

/* Model id from a file path: the base name without ".gguf". */
void sb_server_model_id_from_path(const char *path, char *out, size_t cap);

#endif
