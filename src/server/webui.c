/*
 * webui.c - the web UI's attachment to the server: the embedded page and
 * its assets with caching and security headers, the lazily opened history
 * store, and the reply helpers the /api/ endpoints share (see webui.h).
 */
#include "webui_internal.h"

#include "sb_alloc.h"
#include "srv_json.h"
#include "srv_oai.h"
#include "webui_assets.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The page runs only its own scripts and styles and talks only to this
 * server: no inline code, no other origin, no plugins, no framing. Trusted
 * Types with no policy makes every HTML-parsing sink (innerHTML and kin)
 * throw, so model text can never become markup even by a later mistake. */
static const char CSP[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                          "font-src 'self'; connect-src 'self'; media-src 'none'; object-src 'none'; "
                          "frame-src 'none'; worker-src 'none'; manifest-src 'self'; base-uri 'none'; "
                          "form-action 'self'; frame-ancestors 'none'; require-trusted-types-for 'script'; "
                          "trusted-types 'none'";

/* Headers every web UI response carries. */
static void security_headers(sb_http_req *req) {
    sb_http_set_header(req, "Content-Security-Policy", CSP);
    sb_http_set_header(req, "X-Frame-Options", "DENY");
    sb_http_set_header(req, "Referrer-Policy", "no-referrer");
    sb_http_set_header(req, "Cross-Origin-Opener-Policy", "same-origin");
    sb_http_set_header(req, "Cross-Origin-Resource-Policy", "same-origin");
    sb_http_set_header(req, "Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=(), usb=()");
}

/* True when an If-None-Match header lists etag (or is "*"). */
static bool etag_matches(const char *inm, const char *etag) {
    if (!inm)
        return false;
    size_t n = strlen(etag);
    for (const char *p = inm; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, n) == 0 && (p[n] == 0 || p[n] == ',' || p[n] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

/* GET / and GET /ui/...: an embedded file. "no-cache" makes the browser
 * revalidate each time (a 304 on loopback costs nothing), so a new
 * solebox binary never leaves a stale script in someone's cache. */
static void handle_asset(sb_http_req *req, void *ud) {
    (void)ud;
    const char *path = sb_http_req_path(req);
    for (size_t i = 0; i < sb_webui_n_assets; i++) {
        const sb_webui_asset *a = &sb_webui_assets[i];
        if (strcmp(a->path, path) != 0)
            continue;
        security_headers(req);
        sb_http_set_header(req, "ETag", a->etag);
        sb_http_set_header(req, "Cache-Control", "no-cache");
        if (etag_matches(sb_http_req_header(req, "If-None-Match"), a->etag))
            sb_http_reply(req, 304, NULL, "", 0);
        else
            sb_http_reply(req, 200, a->content_type, a->data, a->len);
        return;
    }
    webui_reply_error(req, 404, "no file %.200s in the web UI", path);
}

/* See webui_internal.h. */
void webui_reply_json(sb_http_req *req, int status, json_t *j) {
    sb_http_set_header(req, "Cache-Control", "no-store");
    sb_http_reply_json(req, status, j);
}

/* See webui_internal.h. */
void webui_reply_error(sb_http_req *req, int status, const char *fmt, ...) {
    sb_api_error e;
    memset(&e, 0, sizeof e);
    e.status = status;
    e.type = status >= 500 ? "server_error" : status == 404 ? "not_found_error" : "invalid_request_error";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.message, sizeof e.message, fmt, ap);
    va_end(ap);
    sb_http_set_header(req, "Cache-Control", "no-store");
    sb_http_reply_error(req, &e);
}

/* See webui_internal.h. Input problems are never 500s. */
void webui_reply_status(sb_http_req *req, const sb_error *err) {
    int status;
    switch (err->code) {
    case SB_ERR_INVALID_ARG:
    case SB_ERR_FORMAT:
    case SB_ERR_LIMIT:
    case SB_ERR_RANGE:
    case SB_ERR_UNSUPPORTED:
        status = 400;
        break;
    case SB_ERR_NOT_FOUND:
        status = 404;
        break;
    case SB_ERR_BUSY:
        status = 503;
        sb_http_set_header(req, "Retry-After", "1");
        break;
    default:
        status = 500;
        break;
    }
    webui_reply_error(req, status, "%s", err->msg[0] ? err->msg : sb_status_name(err->code));
}

/* See webui_internal.h. */
json_t *webui_body(sb_http_req *req) {
    size_t len = 0;
    const char *body = sb_http_req_body(req, &len);
    json_t *root = NULL;
    sb_error err = {0};
    if (sb_srv_json_parse(body, len, SB_SRV_JSON_DEFAULT_DEPTH, SB_SRV_JSON_DEFAULT_STRING, &root, &err) != SB_OK) {
        webui_reply_error(req, 400, "%s", err.msg);
        return NULL;
    }
    return root;
}

/* See webui_internal.h. */
bool webui_arg_int(sb_http_req *req, const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out) {
    const char *v = sb_http_req_arg(req, name);
    if (!v || !*v) {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || *end || end == v || v[0] == ' ' || v[0] == '+' || n < lo || n > hi) {
        webui_reply_error(req, 400, "%s: '%.40s' must be a whole number in %lld..%lld", name, v, (long long)lo,
                          (long long)hi);
        return false;
    }
    *out = n;
    return true;
}

/* Opens the store if it is not open. Caller holds ui->mu. */
static sb_history *open_locked(sb_webui *ui) {
    if (ui->hist)
        return ui->hist;
    sb_error err = {0};
    sb_status st = sb_data_dir_ensure(ui->data_dir, &err);
    if (st == SB_OK)
        st = sb_history_open(ui->db_path, &ui->hist, &err);
    if (st != SB_OK)
        snprintf(ui->open_error, sizeof ui->open_error, "%s", err.msg);
    return ui->hist;
}

/* See webui_internal.h. The server lets a foreign origin GET (a browser
 * hides the answer) and, with --cors-origin, even shows it the answer; the
 * chat history is for this page only, whatever CORS allows the API. */
bool webui_same_origin(sb_http_req *req) {
    const char *origin = sb_http_req_header(req, "Origin");
    const char *site = sb_http_req_header(req, "Sec-Fetch-Site");
    const char *host = sb_http_req_header(req, "Host");
    const char *p = origin ? strstr(origin, "://") : NULL;
    bool ok = (!origin || (p && host && strcasecmp(p + 3, host) == 0)) &&
              (!site || strcmp(site, "same-origin") == 0 || strcmp(site, "none") == 0);
    if (!ok)
        webui_reply_error(req, 403, "the chat history and model details are only for this server's own page");
    return ok;
}

/* See webui_internal.h. A failed open is tried again on the next request
 * (the person may fix the directory's permissions meanwhile). */
sb_history *webui_history(sb_webui *ui, sb_http_req *req) {
    if (!webui_same_origin(req))
        return NULL;
    pthread_mutex_lock(&ui->mu);
    sb_history *h = open_locked(ui);
    char msg[SB_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", ui->open_error);
    pthread_mutex_unlock(&ui->mu);
    if (!h) {
        sb_http_set_header(req, "Retry-After", "5");
        webui_reply_error(req, 503, "chat history is unavailable: %s", msg);
    }
    return h;
}

/* See webui_internal.h. */
sb_history *webui_history_quiet(sb_webui *ui) {
    pthread_mutex_lock(&ui->mu);
    sb_history *h = open_locked(ui);
    pthread_mutex_unlock(&ui->mu);
    return h;
}

/* See webui.h. */
sb_status sb_webui_attach(sb_server *s, const sb_webui_config *cfg, sb_webui **out, sb_error *err) {
    *out = NULL;
    sb_webui *ui = sb_calloc(1, sizeof *ui);
    if (!ui)
        return sb_error_set(err, SB_ERR_NOMEM, "web UI: out of memory");
    pthread_mutex_init(&ui->mu, NULL);
    ui->srv = s;
    sb_status st = sb_data_dir_resolve(cfg->data_dir, ui->data_dir, sizeof ui->data_dir, err);
    if (st == SB_OK && snprintf(ui->db_path, sizeof ui->db_path, "%s/history.db", ui->data_dir) >=
                           (int)sizeof ui->db_path)
        st = sb_error_set(err, SB_ERR_LIMIT, "data directory: the path is too long");
    if (st == SB_OK && cfg->n_models > 0) {
        ui->model_paths = sb_calloc((size_t)cfg->n_models, sizeof *ui->model_paths);
        ui->models = sb_calloc((size_t)cfg->n_models, sizeof *ui->models);
        if (!ui->model_paths || !ui->models)
            st = sb_error_set(err, SB_ERR_NOMEM, "web UI: out of memory");
        ui->n_models = ui->model_paths && ui->models ? cfg->n_models : 0;
        for (int i = 0; st == SB_OK && i < cfg->n_models; i++) {
            if (cfg->model_paths && cfg->model_paths[i] && !(ui->model_paths[i] = sb_strdup(cfg->model_paths[i])))
                st = sb_error_set(err, SB_ERR_NOMEM, "web UI: out of memory");
        }
    }
    if (st == SB_OK)
        st = sb_server_route(s, "GET", "/", false, handle_asset, ui, err);
    if (st == SB_OK)
        st = sb_server_route(s, "GET", "/ui/", true, handle_asset, ui, err);
    if (st == SB_OK)
        st = webui_routes_history(ui, err);
    if (st == SB_OK)
        st = webui_routes_models(ui, err);
    if (st != SB_OK) {
        sb_webui_free(ui);
        return st;
    }
    *out = ui;
    return SB_OK;
}

/* See webui.h. */
void sb_webui_free(sb_webui *ui) {
    if (!ui)
        return;
    sb_history_close(ui->hist);
    for (int i = 0; i < ui->n_models; i++)
        sb_free(ui->model_paths[i]);
    sb_free(ui->model_paths);
    sb_free(ui->models);
    pthread_mutex_destroy(&ui->mu);
    sb_free(ui);
}

const char *sb_webui_db_path(const sb_webui *ui) { return ui->db_path; }
