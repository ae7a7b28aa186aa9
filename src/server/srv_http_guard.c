/*
 * srv_http_guard.c - the checks a request passes before any handler runs:
 * the Host header against DNS rebinding, the Origin header against
 * cross-site requests, and CORS (off unless origins are configured).
 */
#define _GNU_SOURCE
#include "srv_http_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Copies the host name of a Host header value (no port, no brackets) into
 * out; false if it does not fit. */
static bool host_name(const char *host, char *out, size_t cap) {
    const char *start = host, *end;
    if (host[0] == '[') {
        start = host + 1;
        end = strchr(start, ']');
        if (!end)
            return false;
    } else {
        end = strchr(host, ':');
        if (!end || strchr(end + 1, ':'))
            end = host + strlen(host);
    }
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, start, n);
    out[n] = 0;
    return true;
}

/* True for an IPv4 or IPv6 literal: a DNS rebinding attack needs a name. */
static bool is_ip_literal(const char *name) {
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* True when name is this machine's host name (or name.local). */
static bool is_own_hostname(const char *name) {
    char me[256];
    if (gethostname(me, sizeof me) != 0)
        return false;
    me[sizeof me - 1] = 0;
    size_t n = strlen(me);
    if (strcasecmp(name, me) == 0)
        return true;
    return strncasecmp(name, me, n) == 0 && strcasecmp(name + n, ".local") == 0;
}

/* See srv_http_internal.h. Names accepted: IP literals, localhost, the
 * bind address, this machine's name, and --allowed-host entries. */
int sb_http_check_host(const sb_http *h, const sb_http_req *req, sb_api_error *e) {
    const char *host = sb_http_req_header(req, MHD_HTTP_HEADER_HOST);
    if (!host)
        return 0; /* HTTP/1.0 without Host; libmicrohttpd rejects HTTP/1.1 without it */
    char name[256];
    if (!host_name(host, name, sizeof name))
        return sb_api_error_set(e, 400, "invalid_request_error", "bad_host", NULL, "malformed Host header");
    if (is_ip_literal(name) || strcasecmp(name, "localhost") == 0 || strcasecmp(name, h->host) == 0 ||
        is_own_hostname(name))
        return 0;
    for (size_t i = 0; h->allowed_hosts && h->allowed_hosts[i]; i++)
        if (strcmp(h->allowed_hosts[i], "*") == 0 || strcasecmp(h->allowed_hosts[i], name) == 0)
            return 0;
    return sb_api_error_set(e, 403, "invalid_request_error", "host_not_allowed", NULL,
                            "Host '%.200s' is not allowed (DNS rebinding protection); start the server with "
                            "--allowed-host %.200s to accept it",
                            name, name);
}

/* True when origin ("scheme://host[:port]") names the same host[:port] as
 * the Host header. */
static bool same_origin(const char *origin, const char *host) {
    const char *p = strstr(origin, "://");
    return p && host && strcasecmp(p + 3, host) == 0;
}

/* See srv_http_internal.h. Sets req->cors_origin for origins that CORS
 * allows. A foreign origin may still GET (the browser hides the answer)
 * but may not POST: that stops other web sites from driving the API
 * through a visitor's browser. */
int sb_http_check_origin(const sb_http *h, sb_http_req *req, sb_api_error *e) {
    const char *origin = sb_http_req_header(req, "Origin");
    if (!origin)
        return 0;
    for (size_t i = 0; h->cors_origins && h->cors_origins[i]; i++) {
        if (strcmp(h->cors_origins[i], "*") == 0) {
            req->cors_origin = "*";
            return 0;
        }
        if (strcmp(h->cors_origins[i], origin) == 0) {
            req->cors_origin = h->cors_origins[i];
            return 0;
        }
    }
    if (same_origin(origin, sb_http_req_header(req, MHD_HTTP_HEADER_HOST)))
        return 0;
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0 || strcmp(req->method, "OPTIONS") == 0)
        return 0;
    return sb_api_error_set(e, 403, "invalid_request_error", "origin_not_allowed", NULL,
                            "cross-origin requests from '%.200s' are not allowed; start the server with "
                            "--cors-origin %.200s to allow them",
                            origin, origin);
}

/* See srv_http_internal.h. */
void sb_http_preflight(sb_http *h, sb_http_req *req) {
    sb_http_reply(req, 204, NULL, "", 0);
    sb_http_set_header(req, "Allow", "GET, POST, OPTIONS");
    if (!req->cors_origin)
        return;
    sb_http_set_header(req, "Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
    const char *asked = sb_http_req_header(req, "Access-Control-Request-Headers");
    char hdrs[512];
    snprintf(hdrs, sizeof hdrs, "%s", asked && strlen(asked) < sizeof hdrs ? asked : "Authorization, Content-Type");
    sb_http_set_header(req, "Access-Control-Allow-Headers", hdrs);
    sb_http_set_header(req, "Access-Control-Max-Age", "600");
}
