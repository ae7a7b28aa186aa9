/*
 * srv_router.c - the route table (see srv_router.h).
 */
#include "srv_router.h"

#include "sb_alloc.h"

#include <stdio.h>
#include <string.h>

/* An empty table. */
void sb_router_init(sb_router *r) { memset(r, 0, sizeof *r); }

/* Frees the copied strings and the table. */
void sb_router_free(sb_router *r) {
    for (size_t i = 0; i < r->n; i++) {
        sb_free(r->routes[i].method);
        sb_free(r->routes[i].path);
        sb_free(r->routes[i].label);
    }
    sb_free(r->routes);
    memset(r, 0, sizeof *r);
}

/* Two optional strings are equal (NULL only equals NULL). */
static bool same(const char *a, const char *b) { return (!a && !b) || (a && b && strcmp(a, b) == 0); }

/* See srv_router.h. */
sb_status sb_router_add(sb_router *r, const char *method, const char *path, bool prefix, const char *label,
                        sb_http_handler fn, void *ud, sb_error *err) {
    if (!path || path[0] != '/' || !fn)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "route '%s': a path must start with '/' and have a handler",
                            path ? path : "(null)");
    for (size_t i = 0; i < r->n; i++) {
        sb_route *x = &r->routes[i];
        if (same(x->method, method) && strcmp(x->path, path) == 0 && x->prefix == prefix) {
            x->fn = fn;
            x->ud = ud;
            return SB_OK;
        }
    }
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        sb_route *nr = sb_reallocarray(r->routes, cap, sizeof *nr);
        if (!nr)
            return sb_error_set(err, SB_ERR_NOMEM, "route '%s': out of memory", path);
        r->routes = nr;
        r->cap = cap;
    }
    sb_route *x = &r->routes[r->n];
    memset(x, 0, sizeof *x);
    x->method = method ? sb_strdup(method) : NULL;
    x->path = sb_strdup(path);
    x->label = sb_strdup(label ? label : path);
    if ((method && !x->method) || !x->path || !x->label) {
        sb_free(x->method);
        sb_free(x->path);
        sb_free(x->label);
        return sb_error_set(err, SB_ERR_NOMEM, "route '%s': out of memory", path);
    }
    x->prefix = prefix;
    x->fn = fn;
    x->ud = ud;
    r->n++;
    return SB_OK;
}

/* How well route x matches path: 0 = no, else a score where exact beats
 * any prefix and a longer prefix beats a shorter one. */
static size_t score(const sb_route *x, const char *path) {
    size_t n = strlen(x->path);
    if (!x->prefix)
        return strcmp(x->path, path) == 0 ? (size_t)-1 : 0;
    return strncmp(x->path, path, n) == 0 ? n : 0;
}

/* See srv_router.h. */
sb_route_match sb_router_find(const sb_router *r, const char *method, const char *path, const sb_route **out,
                              char *allow, size_t allow_cap) {
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    const sb_route *best = NULL;
    size_t best_score = 0, path_score = 0;
    for (size_t i = 0; i < r->n; i++) {
        size_t s = score(&r->routes[i], path);
        if (s == 0)
            continue;
        if (s > path_score)
            path_score = s;
        if ((!r->routes[i].method || strcmp(r->routes[i].method, m) == 0) && s > best_score) {
            best = &r->routes[i];
            best_score = s;
        }
    }
    /* A more specific path that lacks this method answers 405, not a
     * catch-all prefix route further up. */
    if (best && best_score >= path_score) {
        *out = best;
        return SB_ROUTE_FOUND;
    }
    *out = NULL;
    if (path_score == 0)
        return SB_ROUTE_NO_PATH;
    if (allow && allow_cap) {
        size_t used = 0;
        allow[0] = 0;
        for (size_t i = 0; i < r->n && used < allow_cap; i++) {
            if (score(&r->routes[i], path) != path_score || !r->routes[i].method)
                continue;
            int k = snprintf(allow + used, allow_cap - used, "%s%s", used ? ", " : "", r->routes[i].method);
            if (k < 0)
                break;
            used += (size_t)k;
        }
    }
    return SB_ROUTE_NO_METHOD;
}
