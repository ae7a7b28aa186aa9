/*
 * srv_http.c - the libmicrohttpd daemon: lifecycle, the access handler
 * (body accumulation with its cap, checks, dispatch), replies and the
 * request accessors. Deferred/streamed replies are in srv_http_async.c,
 * Host/Origin/CORS checks in srv_http_guard.c.
 */
#define _GNU_SOURCE
#include "srv_http_internal.h"

#include "sb_alloc.h"
#include "sb_time.h"

#include <netdb.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SB_HTTP_DEFAULT_MAX_BODY (8u << 20)

/* Formats one log line to the configured sink. */
void sb_http_log(const sb_http *h, const char *fmt, ...) {
    if (!h->cfg.log)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    h->cfg.log(h->cfg.log_ud, line);
}

/* libmicrohttpd's own error messages go to our log (trailing newline cut). */
static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    sb_http *h = cls;
    if (!h->cfg.log)
        return;
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    h->cfg.log(h->cfg.log_ud, line);
}

/* Copies a list of strings; NULL entries are skipped. */
static char **copy_list(const char *const *src, int n, sb_status *st) {
    if (n <= 0)
        return NULL;
    char **out = sb_calloc((size_t)n + 1, sizeof *out);
    if (!out) {
        *st = SB_ERR_NOMEM;
        return NULL;
    }
    for (int i = 0, j = 0; i < n; i++) {
        if (!src[i])
            continue;
        if (!(out[j++] = sb_strdup(src[i])))
            *st = SB_ERR_NOMEM;
    }
    return out;
}

/* Frees a list made by copy_list. */
static void free_list(char **l) {
    for (size_t i = 0; l && l[i]; i++)
        sb_free(l[i]);
    sb_free(l);
}

/* See srv_http.h. */
sb_status sb_http_create(const sb_http_config *cfg, sb_http **out, sb_error *err) {
    *out = NULL;
    sb_http *h = sb_calloc(1, sizeof *h);
    if (!h)
        return sb_error_set(err, SB_ERR_NOMEM, "http: out of memory");
    h->cfg = *cfg;
    if (!h->cfg.threads)
        h->cfg.threads = 2;
    if (!h->cfg.timeout_s)
        h->cfg.timeout_s = 60;
    if (!h->cfg.max_body)
        h->cfg.max_body = SB_HTTP_DEFAULT_MAX_BODY;
    if (!h->cfg.max_connections)
        h->cfg.max_connections = 1024;
    sb_status st = SB_OK;
    h->host = sb_strdup(cfg->host ? cfg->host : "127.0.0.1");
    if (!h->host)
        st = SB_ERR_NOMEM;
    h->allowed_hosts = copy_list(cfg->allowed_hosts, cfg->n_allowed_hosts, &st);
    h->cors_origins = copy_list(cfg->cors_origins, cfg->n_cors_origins, &st);
    h->cfg.host = h->host;
    h->cfg.allowed_hosts = NULL;
    h->cfg.cors_origins = NULL;
    sb_router_init(&h->router);
    pthread_mutex_init(&h->watch_mu, NULL);
    atomic_init(&h->stopping, false);
    atomic_init(&h->watcher_stop, false);
    if (st != SB_OK) {
        sb_http_free(h);
        return sb_error_set(err, st, "http: out of memory");
    }
    *out = h;
    return SB_OK;
}

/* See srv_http.h. */
sb_status sb_http_route(sb_http *h, const char *method, const char *path, bool prefix, const char *label,
                        sb_http_handler fn, void *ud, sb_error *err) {
    return sb_router_add(&h->router, method, path, prefix, label, fn, ud, err);
}

/* Frees what a request owns; the async side was finished before. */
static void req_free(sb_http_req *req) {
    if (!req)
        return;
    if (req->resp && !req->queued)
        MHD_destroy_response(req->resp);
    for (size_t i = 0; i < req->n_hdrs; i++) {
        sb_free(req->hdrs[i].name);
        sb_free(req->hdrs[i].value);
    }
    sb_free(req->hdrs);
    sb_buf_free(&req->body);
    sb_free(req);
}

/* See srv_http.h. */
void sb_http_set_header(sb_http_req *req, const char *name, const char *value) {
    sb_http_hdr *n = sb_reallocarray(req->hdrs, req->n_hdrs + 1, sizeof *n);
    if (!n)
        return;
    req->hdrs = n;
    n[req->n_hdrs].name = sb_strdup(name);
    n[req->n_hdrs].value = sb_strdup(value);
    if (!n[req->n_hdrs].name || !n[req->n_hdrs].value) {
        sb_free(n[req->n_hdrs].name);
        sb_free(n[req->n_hdrs].value);
        return;
    }
    req->n_hdrs++;
}

/* Adds the headers every response carries, then queues it. */
enum MHD_Result sb_http_queue(sb_http_req *req) {
    sb_http *h = req->h;
    struct MHD_Response *r = req->resp;
    for (size_t i = 0; i < req->n_hdrs; i++)
        MHD_add_response_header(r, req->hdrs[i].name, req->hdrs[i].value);
    if (req->cors_origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", req->cors_origin);
        MHD_add_response_header(r, "Vary", "Origin");
    }
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (atomic_load(&h->stopping))
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(req->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
    req->queued = true;
    if (h->cfg.count)
        h->cfg.count(h->cfg.count_ud, req->route ? req->route->label : "other", req->status);
    if (h->cfg.log_requests)
        sb_http_log(h, "%s %s %d", req->method, req->path, req->status);
    return ret;
}

/* See srv_http.h. */
void sb_http_reply(sb_http_req *req, int status, const char *content_type, const void *body, size_t len) {
    if (req->resp || req->queued)
        return;
    struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)(len ? body : ""), MHD_RESPMEM_MUST_COPY);
    if (!r)
        return;
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    req->resp = r;
    req->status = status;
}

/* See srv_http.h. Serialisation failure (out of memory) leaves no reply,
 * which the dispatcher turns into a plain 500. */
void sb_http_reply_json(sb_http_req *req, int status, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return;
    sb_http_reply(req, status, "application/json", s, strlen(s));
    free(s); /* json_dumps allocates with jansson's allocator, malloc by default */
}

/* See srv_http.h. */
void sb_http_reply_error(sb_http_req *req, const sb_api_error *e) {
    sb_http_reply_json(req, e->status, sb_oai_error_json(e));
}

/* Request accessors (see srv_http.h); strings are borrowed for the request's life. */
const char *sb_http_req_method(const sb_http_req *req) { return req->method; }
const char *sb_http_req_path(const sb_http_req *req) { return req->path; }
const sb_route *sb_http_req_route(const sb_http_req *req) { return req->route; }

const char *sb_http_req_header(const sb_http_req *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *sb_http_req_arg(const sb_http_req *req, const char *name) {
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *sb_http_req_body(const sb_http_req *req, size_t *len) {
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

/* The first call for a request: checks that need only the headers. An
 * answer given here skips the body (libmicrohttpd then closes the
 * connection). */
static bool early_checks(sb_http *h, sb_http_req *req) {
    sb_api_error e;
    int status = 0;
    if (atomic_load(&h->stopping)) {
        status = sb_api_error_set(&e, 503, "server_error", "shutting_down", NULL, "the server is shutting down");
    } else if ((status = sb_http_check_host(h, req, &e)) == 0 && (status = sb_http_check_origin(h, req, &e)) == 0) {
        const char *cl = sb_http_req_header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end = NULL;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end != cl && n > h->cfg.max_body)
                status = sb_api_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                                          "the request body is %llu bytes; the limit is %zu", n, h->cfg.max_body);
        }
    }
    if (!status)
        return false;
    sb_http_reply_error(req, &e);
    return true;
}

/* The final call for a request: route and run the handler, then queue its
 * reply or park the connection for a deferred/streamed one. */
static enum MHD_Result dispatch(sb_http *h, sb_http_req *req) {
    req->dispatched = true;
    sb_api_error e;
    if (req->too_large) {
        sb_api_error_set(&e, 413, "invalid_request_error", "request_too_large", NULL,
                         "the request body is larger than %zu bytes", h->cfg.max_body);
        sb_http_reply_error(req, &e);
    } else if (strcmp(req->method, "OPTIONS") == 0) {
        sb_http_preflight(h, req);
    } else {
        char allow[128];
        const sb_route *route = NULL;
        sb_route_match m = sb_router_find(&h->router, req->method, req->path, &route, allow, sizeof allow);
        if (m == SB_ROUTE_FOUND) {
            req->route = route;
            route->fn(req, route->ud);
        } else if (m == SB_ROUTE_NO_METHOD) {
            sb_api_error_set(&e, 405, "invalid_request_error", "method_not_allowed", NULL,
                             "method %s is not allowed on %s", req->method, req->path);
            sb_http_reply_error(req, &e);
            sb_http_set_header(req, "Allow", allow);
        } else {
            sb_api_error_set(&e, 404, "not_found_error", "not_found", NULL, "no route for %s %s", req->method,
                             req->path);
            sb_http_reply_error(req, &e);
        }
    }
    if (req->resp)
        return sb_http_queue(req);
    if (req->async && req->async->mode == SB_HTTP_ASYNC_DEFER)
        return sb_http_async_resume_defer(req);
    /* A handler that answered nothing, or an allocation that failed. */
    static const char oom[] = "{\"error\":{\"message\":\"internal error: no response\",\"type\":\"server_error\","
                              "\"param\":null,\"code\":null}}";
    sb_http_reply(req, 500, "application/json", oom, sizeof oom - 1);
    return req->resp ? sb_http_queue(req) : MHD_NO;
}

/* libmicrohttpd's access handler: called once with the headers, once per
 * piece of body, once at the end, and again after each resume of a
 * deferred request. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
    sb_http *h = cls;
    sb_http_req *req = *con_cls;
    if (!req) {
        req = sb_calloc(1, sizeof *req);
        if (!req)
            return MHD_NO;
        req->h = h;
        req->conn = conn;
        req->method = method;
        req->path = url;
        req->t_start_ns = sb_now_ns();
        sb_buf_init(&req->body);
        *con_cls = req;
        if (early_checks(h, req))
            return sb_http_queue(req);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!req->too_large && !req->resp) {
            if (req->body.len + *upload_data_size > h->cfg.max_body ||
                sb_buf_append(&req->body, upload_data, *upload_data_size) != SB_OK) {
                req->too_large = true;
                sb_buf_free(&req->body);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->queued)
        return MHD_YES;
    if (!req->dispatched)
        return dispatch(h, req);
    if (req->async && req->async->mode == SB_HTTP_ASYNC_DEFER)
        return sb_http_async_resume_defer(req);
    return MHD_NO;
}

/* libmicrohttpd's completion callback: the request is over (sent, failed
 * or the client went away). Finishes the async side and frees the request. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    sb_http_req *req = *con_cls;
    *con_cls = NULL;
    if (!req)
        return;
    if (req->async) {
        sb_http_async_finish(req->async, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
        req->async = NULL;
    }
    req_free(req);
}

/* Resolves host:port into a socket address (numeric port, passive). */
static sb_status resolve(const char *host, int port, struct sockaddr_storage *ss, bool *v6, sb_error *err) {
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "--host '%s': %s", host, gai_strerror(rc));
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return SB_OK;
}

/* See srv_http.h. */
sb_status sb_http_start(sb_http *h, sb_error *err) {
    struct sockaddr_storage ss;
    bool v6 = false;
    sb_status st = resolve(h->host, h->cfg.port, &ss, &v6, err);
    if (st != SB_OK)
        return st;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    h->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)h->cfg.threads, MHD_OPTION_CONNECTION_TIMEOUT, h->cfg.timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, h->cfg.max_connections, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_END);
    if (!h->daemon)
        return sb_error_set(err, SB_ERR_IO, "cannot listen on %s port %d (in use, or not an address of this machine)",
                            h->host, h->cfg.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : h->cfg.port;
    st = sb_http_watcher_start(h, err);
    if (st != SB_OK) {
        MHD_stop_daemon(h->daemon);
        h->daemon = NULL;
    }
    return st;
}

/* See srv_http.h. */
int sb_http_port(const sb_http *h) { return h->port; }

/* See srv_http.h. New requests on open connections get 503 from here on;
 * the listening socket is closed. */
void sb_http_quiesce(sb_http *h) {
    if (atomic_exchange(&h->stopping, true))
        return;
    if (h->daemon) {
        MHD_socket s = MHD_quiesce_daemon(h->daemon);
        if (s != MHD_INVALID_SOCKET)
            close(s);
    }
}

/* See srv_http.h. */
int sb_http_in_flight(sb_http *h) {
    pthread_mutex_lock(&h->watch_mu);
    int n = h->in_flight;
    pthread_mutex_unlock(&h->watch_mu);
    return n;
}

/* See srv_http.h. Suspended connections must all be resumed before
 * MHD_stop_daemon, so whatever is still in flight is aborted and given a
 * moment to end. */
void sb_http_free(sb_http *h) {
    if (!h)
        return;
    if (h->daemon) {
        sb_http_quiesce(h);
        sb_http_abort_all(h);
        uint64_t deadline = sb_now_ns() + 2000000000u;
        while (sb_http_in_flight(h) > 0 && sb_now_ns() < deadline)
            usleep(5 * 1000);
        sb_http_watcher_stop(h);
        if (sb_http_in_flight(h) > 0)
            sb_http_log(h, "http: %d requests did not end in time", sb_http_in_flight(h));
        sb_http_async_kill_all(h);
        MHD_stop_daemon(h->daemon);
        h->daemon = NULL;
    }
    sb_router_free(&h->router);
    free_list(h->allowed_hosts);
    free_list(h->cors_origins);
    sb_free(h->host);
    pthread_mutex_destroy(&h->watch_mu);
    sb_free(h);
}
