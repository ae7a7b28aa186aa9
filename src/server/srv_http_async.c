/*
 * srv_http_async.c - deferred and streamed replies, and the watcher that
 * notices disconnected clients.
 *
 * The suspend/resume protocol: an HTTP thread that finds nothing to send
 * sets `suspended` and suspends the connection while holding a->mu; a
 * producer's wake resumes it only if `suspended` is set (resuming a
 * connection that is not suspended is undefined in libmicrohttpd), else it
 * leaves `wake_pending` so the HTTP thread tries again before suspending.
 * A suspended connection cannot end, so resuming it is always safe.
 */
#define _GNU_SOURCE
#include "srv_http_internal.h"

#include "sb_alloc.h"

#include <poll.h>
#include <string.h>
#include <time.h>

#define SB_HTTP_WATCH_INTERVAL_MS 20

/* Creates the async side of req in the given mode and puts it on the
 * watch list. NULL when out of memory (then ops->release(ud) was called). */
static sb_http_async *async_new(sb_http_req *req, int mode, const sb_http_async_ops *ops, void *ud) {
    sb_http_async *a = req->async ? NULL : sb_calloc(1, sizeof *a);
    if (!a) {
        if (ops->release)
            ops->release(ud);
        return NULL;
    }
    atomic_init(&a->refs, 2); /* the HTTP side and the caller */
    atomic_init(&a->aborted, false);
    a->mode = mode;
    a->h = req->h;
    a->req = req;
    a->conn = req->conn;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    a->fd = ci ? ci->connect_fd : -1;
    a->ops = ops;
    a->ud = ud;
    pthread_mutex_init(&a->mu, NULL);
    sb_buf_init(&a->out);
    req->async = a;
    sb_http *h = req->h;
    pthread_mutex_lock(&h->watch_mu);
    a->next = h->watch_head;
    if (h->watch_head)
        h->watch_head->prev = a;
    h->watch_head = a;
    h->in_flight++;
    pthread_mutex_unlock(&h->watch_mu);
    return a;
}

/* See srv_http.h. */
sb_http_async *sb_http_stream(sb_http_req *req, int status, const char *content_type, const sb_http_async_ops *ops,
                              void *ud) {
    sb_http_async *a = async_new(req, SB_HTTP_ASYNC_STREAM, ops, ud);
    if (!a)
        return NULL;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sb_http_async_reader, a,
                                                              NULL);
    if (!r) {
        /* The request ends with the dispatcher's 500; finish() releases. */
        return a;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    req->resp = r;
    req->status = status;
    return a;
}

/* See srv_http.h. */
sb_http_async *sb_http_defer(sb_http_req *req, const sb_http_async_ops *ops, void *ud) {
    return async_new(req, SB_HTTP_ASYNC_DEFER, ops, ud);
}

/* Takes a reference (the producer's). */
void sb_http_async_ref(sb_http_async *a) { atomic_fetch_add(&a->refs, 1); }

/* Drops a reference; the last one frees. */
void sb_http_async_unref(sb_http_async *a) {
    if (!a || atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&a->mu);
    sb_buf_free(&a->out);
    sb_free(a);
}

/* See srv_http.h. */
void sb_http_async_wake(sb_http_async *a) {
    pthread_mutex_lock(&a->mu);
    if (a->dead) {
        /* nothing: the connection no longer exists */
    } else if (a->suspended) {
        a->suspended = false;
        MHD_resume_connection(a->conn);
    } else {
        a->wake_pending = true;
    }
    pthread_mutex_unlock(&a->mu);
}

/* Runs ops->abort once (HTTP threads only). */
static void call_abort(sb_http_async *a) {
    if (a->abort_called)
        return;
    a->abort_called = true;
    atomic_store(&a->aborted, true);
    if (a->ops->abort)
        a->ops->abort(a->ud);
}

/* Suspends the connection unless a wake came in meanwhile; returns true if
 * it suspended, false if the caller should look again. */
static bool park(sb_http_async *a) {
    pthread_mutex_lock(&a->mu);
    if (a->wake_pending) {
        a->wake_pending = false;
        pthread_mutex_unlock(&a->mu);
        return false;
    }
    a->suspended = true;
    MHD_suspend_connection(a->conn);
    pthread_mutex_unlock(&a->mu);
    return true;
}

/* See srv_http_internal.h. */
enum MHD_Result sb_http_async_resume_defer(sb_http_req *req) {
    sb_http_async *a = req->async;
    for (;;) {
        if (atomic_load(&a->aborted)) {
            call_abort(a);
            return MHD_NO;
        }
        if (a->ops->produce)
            a->ops->produce(a->ud, req);
        if (req->resp)
            return sb_http_queue(req);
        if (park(a))
            return MHD_YES;
    }
}

/* See srv_http_internal.h. Sends what is buffered, refills from
 * ops->pull, and parks the connection when there is nothing to send. */
ssize_t sb_http_async_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    sb_http_async *a = cls;
    (void)pos;
    for (;;) {
        if (atomic_load(&a->aborted)) {
            call_abort(a);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (a->out_off < a->out.len) {
            size_t n = a->out.len - a->out_off;
            if (n > max)
                n = max;
            memcpy(buf, a->out.data + a->out_off, n);
            a->out_off += n;
            if (a->out_off == a->out.len) {
                sb_buf_reset(&a->out);
                a->out_off = 0;
            }
            return (ssize_t)n;
        }
        if (a->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        sb_http_pull r = a->ops->pull ? a->ops->pull(a->ud, &a->out) : SB_HTTP_PULL_END;
        if (r == SB_HTTP_PULL_END)
            a->ended = true;
        else if (a->out.len == 0 && park(a))
            return 0;
    }
}

/* See srv_http_internal.h. */
void sb_http_async_finish(sb_http_async *a, bool ok) {
    sb_http *h = a->h;
    pthread_mutex_lock(&h->watch_mu);
    if (a->prev)
        a->prev->next = a->next;
    else if (h->watch_head == a)
        h->watch_head = a->next;
    if (a->next)
        a->next->prev = a->prev;
    a->prev = a->next = NULL;
    h->in_flight--;
    pthread_mutex_unlock(&h->watch_mu);
    bool unfinished = a->mode == SB_HTTP_ASYNC_STREAM ? !a->ended : !a->req->queued;
    if (!ok || unfinished)
        call_abort(a);
    a->req = NULL;
    if (a->ops->release)
        a->ops->release(a->ud);
    sb_http_async_unref(a);
}

/* Marks a watched request aborted and wakes its connection so that an HTTP
 * thread runs ops->abort. Caller holds h->watch_mu. */
static void flag_abort(sb_http_async *a) {
    if (atomic_exchange(&a->aborted, true))
        return;
    sb_http_async_wake(a);
}

/* See srv_http_internal.h. */
void sb_http_async_kill_all(sb_http *h) {
    pthread_mutex_lock(&h->watch_mu);
    for (sb_http_async *a = h->watch_head; a; a = a->next) {
        pthread_mutex_lock(&a->mu);
        a->dead = true;
        pthread_mutex_unlock(&a->mu);
    }
    pthread_mutex_unlock(&h->watch_mu);
}

/* See srv_http.h. */
void sb_http_abort_all(sb_http *h) {
    pthread_mutex_lock(&h->watch_mu);
    for (sb_http_async *a = h->watch_head; a; a = a->next)
        flag_abort(a);
    pthread_mutex_unlock(&h->watch_mu);
}

/* The watcher thread: every few milliseconds, polls the sockets of all
 * deferred and streamed requests for a peer that has closed (POLLRDHUP,
 * POLLHUP, POLLERR). libmicrohttpd does not look at suspended connections,
 * so without this a client that leaves while its request waits in the
 * queue would hold its place until the request ends. The poll runs under
 * watch_mu with a zero timeout: a socket on the list cannot be closed (its
 * request has not completed), so the fd is the right one. */
static void *watcher_main(void *arg) {
    sb_http *h = arg;
    struct pollfd *fds = NULL;
    sb_http_async **who = NULL;
    size_t cap = 0;
    while (!atomic_load(&h->watcher_stop)) {
        struct timespec ts = {0, SB_HTTP_WATCH_INTERVAL_MS * 1000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&h->watch_mu);
        size_t n = 0;
        for (sb_http_async *a = h->watch_head; a; a = a->next) {
            if (a->fd < 0 || atomic_load(&a->aborted))
                continue;
            if (n == cap) {
                size_t nc = cap ? cap * 2 : 64;
                struct pollfd *nf = sb_reallocarray(fds, nc, sizeof *nf);
                if (nf)
                    fds = nf;
                sb_http_async **nw = nf ? sb_reallocarray(who, nc, sizeof *nw) : NULL;
                if (nw)
                    who = nw;
                if (!nf || !nw)
                    break;
                cap = nc;
            }
            fds[n] = (struct pollfd){.fd = a->fd, .events = POLLRDHUP};
            who[n++] = a;
        }
        if (n > 0 && poll(fds, n, 0) > 0) {
            for (size_t i = 0; i < n; i++)
                if (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL))
                    flag_abort(who[i]);
        }
        pthread_mutex_unlock(&h->watch_mu);
    }
    sb_free(fds);
    sb_free(who);
    return NULL;
}

/* See srv_http_internal.h. */
sb_status sb_http_watcher_start(sb_http *h, sb_error *err) {
    atomic_store(&h->watcher_stop, false);
    if (pthread_create(&h->watcher, NULL, watcher_main, h) != 0)
        return sb_error_set(err, SB_ERR_IO, "http: cannot start the disconnect watcher thread");
    h->watcher_started = true;
    return SB_OK;
}

/* See srv_http_internal.h. */
void sb_http_watcher_stop(sb_http *h) {
    if (!h->watcher_started)
        return;
    atomic_store(&h->watcher_stop, true);
    pthread_join(h->watcher, NULL);
    h->watcher_started = false;
}
