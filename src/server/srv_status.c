/*
 * srv_status.c - GET /health, GET /metrics, and the placeholder page at
 * GET / (until the web UI registers its own route for "/").
 */
#include "srv_internal.h"

#include "sb_alloc.h"

#include <string.h>

/* GET /health: 503 {"status":"loading"} until loading is over; then 200
 * {"status":"ok"} when a model is ready, else 503 saying why (no model
 * given: how to add one; all failed: the first error). */
static void handle_health(sb_http_req *req, void *ud) {
    sb_server *s = ud;
    if (!atomic_load(&s->loaded)) {
        sb_http_set_header(req, "Retry-After", "1");
        sb_http_reply_json(req, 503, json_pack("{s:s}", "status", "loading"));
        return;
    }
    if (s->n_slots == 0) {
        sb_http_reply_json(req, 503, json_pack("{s:s, s:s}", "status", "no_model", "message", s->no_model_hint));
        return;
    }
    const char *first_error = NULL;
    json_t *models = json_array();
    int ready = 0;
    for (int i = 0; i < s->n_slots; i++) {
        int st = atomic_load(&s->slots[i].state);
        ready += st == SRV_SLOT_READY;
        if (st == SRV_SLOT_FAILED && !first_error)
            first_error = s->slots[i].error;
        json_array_append_new(models, json_pack("{s:s, s:s}", "id", s->slots[i].id, "status",
                                                st == SRV_SLOT_READY ? "ok" : st == SRV_SLOT_LOADING ? "loading"
                                                                                                     : "error"));
    }
    if (ready > 0)
        sb_http_reply_json(req, 200, json_pack("{s:s, s:o}", "status", "ok", "models", models));
    else
        sb_http_reply_json(req, 503, json_pack("{s:s, s:s, s:o}", "status", "error", "message",
                                               first_error ? first_error : "no model is ready", "models", models));
}

/* GET /metrics: Prometheus text with each model's gauges. */
static void handle_metrics(sb_http_req *req, void *ud) {
    sb_server *s = ud;
    sb_srv_model_gauges *g = sb_calloc(s->n_slots > 0 ? (size_t)s->n_slots : 1, sizeof *g);
    sb_buf out;
    sb_buf_init(&out);
    if (g) {
        for (int i = 0; i < s->n_slots; i++) {
            g[i].model = s->slots[i].id;
            if (atomic_load(&s->slots[i].state) == SRV_SLOT_READY) {
                sb_srv_model *m = s->slots[i].model;
                sb_srv_model_stats st = {0};
                if (m->ops->stats)
                    m->ops->stats(m->impl, &st);
                g[i] = (sb_srv_model_gauges){s->slots[i].id, true, st.active, st.queued, st.kv_pages_used,
                                             st.kv_pages_total};
            }
        }
        if (sb_srv_metrics_render(s->metrics, g, s->n_slots, &out) == SB_OK)
            sb_http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    }
    sb_buf_free(&out);
    sb_free(g);
}

static const char placeholder[] =
    "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Solebox</title></head>\n"
    "<body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\n"
    "<h1>Solebox is running</h1>\n"
    "<p>The web interface is not part of this build yet. The OpenAI-compatible API is here:</p>\n"
    "<ul><li><code>POST /v1/chat/completions</code></li><li><code>POST /v1/completions</code></li>\n"
    "<li><code>GET /v1/models</code></li><li><code>GET /health</code>, <code>GET /metrics</code></li>\n"
    "<li><code>POST /tokenize</code>, <code>POST /detokenize</code></li></ul>\n"
    "<p>Point an OpenAI client at <code>http://HOST:PORT/v1</code>.</p>\n</body></html>\n";

/* GET /: the placeholder page. */
static void handle_root(sb_http_req *req, void *ud) {
    (void)ud;
    sb_http_reply(req, 200, "text/html; charset=utf-8", placeholder, sizeof placeholder - 1);
}

/* See srv_internal.h. */
sb_status srv_routes_status(sb_server *s, sb_error *err) {
    sb_status st = sb_http_route(s->http, "GET", "/health", false, NULL, handle_health, s, err);
    if (st == SB_OK)
        st = sb_http_route(s->http, "GET", "/metrics", false, NULL, handle_metrics, s, err);
    if (st == SB_OK)
        st = sb_http_route(s->http, "GET", "/", false, NULL, handle_root, s, err);
    return st;
}
