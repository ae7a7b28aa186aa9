/*
 * srv_http.h - the HTTP front end on libmicrohttpd.
 *
 * One sb_http owns a libmicrohttpd daemon (a pool of epoll threads with
 * suspend/resume), the route table and the safety checks every request goes
 * through before a handler sees it: Host header (DNS rebinding), Origin and
 * CORS, body size cap, connection timeouts, shutdown state.
 *
 * A handler runs on an HTTP thread once the whole body is in, and answers in
 * one of three ways:
 *   - at once: sb_http_reply / sb_http_reply_json / sb_http_reply_error;
 *   - later:   sb_http_defer; the connection is suspended until a producer
 *              calls sb_http_async_wake, then ops->produce runs (on an HTTP
 *              thread) and replies, or waits again;
 *   - streamed: sb_http_stream; ops->pull is called (on an HTTP thread) for
 *              more bytes whenever the socket can take them, and the
 *              connection sleeps while pull says WAIT until the next wake.
 * A client that disconnects while its request is deferred or streamed is
 * noticed within ~20 ms by a watcher thread (it polls the sockets for
 * POLLRDHUP), and ops->abort runs on an HTTP thread. Producers never touch
 * the connection: they only call sb_http_async_wake.
 */
#ifndef SB_SRV_HTTP_H
#define SB_SRV_HTTP_H

#include "sb_buf.h"
#include "sb_error.h"
#include "srv_oai.h"
#include "srv_router.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sb_http sb_http;
typedef struct sb_http_async sb_http_async;

typedef struct sb_http_config {
    const char *host;             /* bind address (default 127.0.0.1) */
    int port;                     /* 0 = any free port (see sb_http_port) */
    int threads;                  /* HTTP threads (default 2) */
    unsigned timeout_s;           /* idle connection timeout (default 60) */
    size_t max_body;              /* body cap in bytes (default 8 MiB) */
    unsigned max_connections;     /* default 1024 */
    const char *const *allowed_hosts; /* Host names accepted besides IP literals and localhost ("*" = any) */
    int n_allowed_hosts;
    const char *const *cors_origins; /* origins that get CORS headers ("*" = any); none = CORS off */
    int n_cors_origins;
    bool log_requests;
    /* Log sink (messages without a newline); NULL = silent. */
    void (*log)(void *ud, const char *msg);
    void *log_ud;
    /* Called once per answered request (route label or "other", status). */
    void (*count)(void *ud, const char *label, int status);
    void *count_ud;
} sb_http_config;

/* Creates the front end (not listening yet). Strings in cfg are copied. */
sb_status sb_http_create(const sb_http_config *cfg, sb_http **out, sb_error *err);
/* Adds a route (see srv_router.h). Call before sb_http_start. */
sb_status sb_http_route(sb_http *h, const char *method, const char *path, bool prefix, const char *label,
                        sb_http_handler fn, void *ud, sb_error *err);
/* Binds and starts the threads. */
sb_status sb_http_start(sb_http *h, sb_error *err);
/* The bound port (after start). */
int sb_http_port(const sb_http *h);
/* Shutdown, step 1: stop accepting connections; requests on open
 * connections get 503. */
void sb_http_quiesce(sb_http *h);
/* Shutdown, step 2 (optional): aborts every deferred or streamed request
 * (ops->abort runs for each). */
void sb_http_abort_all(sb_http *h);
/* Deferred or streamed requests not yet finished. */
int sb_http_in_flight(sb_http *h);
/* Stops the daemon (after aborting what is left) and frees everything. */
void sb_http_free(sb_http *h);

/* ---- inside a handler ------------------------------------------------- */

const char *sb_http_req_method(const sb_http_req *req);
/* The path without the query string. */
const char *sb_http_req_path(const sb_http_req *req);
const char *sb_http_req_header(const sb_http_req *req, const char *name);
/* A query-string argument (decoded), or NULL. */
const char *sb_http_req_arg(const sb_http_req *req, const char *name);
/* The body (NUL-terminated; "" when none). */
const char *sb_http_req_body(const sb_http_req *req, size_t *len);
/* The route that matched. */
const sb_route *sb_http_req_route(const sb_http_req *req);

/* Adds a header to the reply this request will send (any mode). */
void sb_http_set_header(sb_http_req *req, const char *name, const char *value);
/* Replies with a copy of body. A second reply for the same request is
 * ignored. */
void sb_http_reply(sb_http_req *req, int status, const char *content_type, const void *body, size_t len);
/* Replies with j serialised (takes the reference). */
void sb_http_reply_json(sb_http_req *req, int status, json_t *j);
/* Replies with an OpenAI-shaped error. */
void sb_http_reply_error(sb_http_req *req, const sb_api_error *e);

/* ---- deferred and streamed replies ------------------------------------ */

typedef enum sb_http_pull {
    SB_HTTP_PULL_WAIT, /* nothing now; call again after the next wake */
    SB_HTTP_PULL_MORE, /* bytes were appended; call again */
    SB_HTTP_PULL_END,  /* bytes (maybe none) were appended and that is all */
} sb_http_pull;

typedef struct sb_http_async_ops {
    /* Streams: append bytes to out. */
    sb_http_pull (*pull)(void *ud, sb_buf *out);
    /* Deferred: reply now (sb_http_reply*) or return to keep waiting. */
    void (*produce)(void *ud, sb_http_req *req);
    /* The client went away or the server is stopping: stop producing. Runs
     * at most once, on an HTTP thread, before release. */
    void (*abort)(void *ud);
    /* The HTTP side is done with ud (always called, once, last). */
    void (*release)(void *ud);
} sb_http_async_ops;

/* Starts a streamed reply with this status and content type. The returned
 * handle carries one reference for the caller (the producer), dropped with
 * sb_http_async_unref. ops->release(ud) is called when the request ends,
 * also when this returns NULL (out of memory). */
sb_http_async *sb_http_stream(sb_http_req *req, int status, const char *content_type, const sb_http_async_ops *ops,
                              void *ud);
/* Defers the reply; same ownership as sb_http_stream. */
sb_http_async *sb_http_defer(sb_http_req *req, const sb_http_async_ops *ops, void *ud);
/* Tells the HTTP side there is something new (any thread, any time). */
void sb_http_async_wake(sb_http_async *a);
void sb_http_async_ref(sb_http_async *a);
void sb_http_async_unref(sb_http_async *a);

#endif
