/*
 * srv_http_internal.h - the structs shared by srv_http*.c (not for
 * handlers: they use srv_http.h).
 */
#ifndef SB_SRV_HTTP_INTERNAL_H
#define SB_SRV_HTTP_INTERNAL_H

#include "srv_http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct sb_http {
    sb_http_config cfg; /* strings below are owned copies */
    char *host;
    char **allowed_hosts;
    char **cors_origins;
    sb_router router;
    struct MHD_Daemon *daemon;
    int port;
    atomic_bool stopping;
    /* deferred and streamed requests, watched for disconnects */
    pthread_mutex_t watch_mu;
    sb_http_async *watch_head;
    int in_flight;
    pthread_t watcher;
    bool watcher_started;
    atomic_bool watcher_stop;
};

typedef struct sb_http_hdr {
    char *name;
    char *value;
} sb_http_hdr;

struct sb_http_req {
    sb_http *h;
    struct MHD_Connection *conn;
    const char *method; /* owned by libmicrohttpd for the request's life */
    const char *path;
    sb_buf body;
    bool too_large;
    bool dispatched;
    bool queued;
    const sb_route *route;
    const char *cors_origin; /* the value for Access-Control-Allow-Origin, or NULL */
    sb_http_hdr *hdrs;
    size_t n_hdrs;
    struct MHD_Response *resp; /* ready to queue */
    int status;
    sb_http_async *async;
    uint64_t t_start_ns;
};

enum { SB_HTTP_ASYNC_DEFER = 1, SB_HTTP_ASYNC_STREAM = 2 };

struct sb_http_async {
    atomic_int refs;
    int mode;
    sb_http *h;
    sb_http_req *req; /* NULL once the request ended */
    struct MHD_Connection *conn;
    int fd;
    const sb_http_async_ops *ops;
    void *ud;
    pthread_mutex_t mu; /* guards suspended and wake_pending */
    bool suspended;
    bool wake_pending;
    bool dead; /* the daemon is gone: wake does nothing */
    atomic_bool aborted;
    bool abort_called; /* HTTP threads only */
    /* stream state (HTTP threads only) */
    sb_buf out;
    size_t out_off;
    bool ended;
    /* the watch list (h->watch_mu) */
    sb_http_async *prev, *next;
};

/* srv_http_guard.c: the checks that run before dispatch. Each returns 0 to
 * go on or fills e with the status to answer. */
int sb_http_check_host(const sb_http *h, const sb_http_req *req, sb_api_error *e);
int sb_http_check_origin(const sb_http *h, sb_http_req *req, sb_api_error *e);
/* Answers an OPTIONS request (CORS preflight when allowed). */
void sb_http_preflight(sb_http *h, sb_http_req *req);

/* srv_http_async.c */
/* Continues a deferred request after a wake: produce, or suspend again.
 * Returns MHD_NO to close the connection (aborted). */
enum MHD_Result sb_http_async_resume_defer(sb_http_req *req);
/* The content reader of streamed replies. */
ssize_t sb_http_async_reader(void *cls, uint64_t pos, char *buf, size_t max);
/* The request ended (completed callback): unwatch, abort if the client went
 * away, release. */
void sb_http_async_finish(sb_http_async *a, bool ok);
/* Before the daemon stops: producers' wakes of requests still listed
 * become no-ops. */
void sb_http_async_kill_all(sb_http *h);
/* Starts and stops the disconnect watcher thread. */
sb_status sb_http_watcher_start(sb_http *h, sb_error *err);
void sb_http_watcher_stop(sb_http *h);

/* srv_http.c */
/* Queues req->resp with the common headers; counts it for metrics. */
enum MHD_Result sb_http_queue(sb_http_req *req);
void sb_http_log(const sb_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
