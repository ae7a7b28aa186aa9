/*
 * srv_router.h - the route table: (method, path) -> handler.
 *
 * Routes match a path exactly or, for prefix routes, any path that starts
 * with the prefix; an exact match wins, then the longest prefix. So other
 * modules (the web UI's assets at "/", chat-history endpoints) register
 * their routes beside the API ones without touching this file. A route with
 * method NULL takes every method.
 */
#ifndef SB_SRV_ROUTER_H
#define SB_SRV_ROUTER_H

#include "sb_error.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct sb_http_req sb_http_req;
typedef void (*sb_http_handler)(sb_http_req *req, void *ud);

typedef struct sb_route {
    char *method; /* "GET", "POST", ... or NULL for any */
    char *path;
    bool prefix;
    char *label; /* metrics label, e.g. "/v1/models/{id}" */
    sb_http_handler fn;
    void *ud;
} sb_route;

typedef struct sb_router {
    sb_route *routes;
    size_t n, cap;
} sb_router;

typedef enum sb_route_match {
    SB_ROUTE_FOUND,
    SB_ROUTE_NO_PATH,   /* 404 */
    SB_ROUTE_NO_METHOD, /* 405: the path exists for other methods */
} sb_route_match;

void sb_router_init(sb_router *r);
void sb_router_free(sb_router *r);
/* Adds a route (strings are copied). Registering the same method and path
 * twice replaces the handler, so a module can override a placeholder. */
sb_status sb_router_add(sb_router *r, const char *method, const char *path, bool prefix, const char *label,
                        sb_http_handler fn, void *ud, sb_error *err);
/* Finds the route for method and path. HEAD matches GET routes. On
 * SB_ROUTE_NO_METHOD, allow (if not NULL) gets the methods the path takes,
 * comma-separated, in allow[0..allow_cap). */
sb_route_match sb_router_find(const sb_router *r, const char *method, const char *path, const sb_route **out,
                              char *allow, size_t allow_cap);

#endif
