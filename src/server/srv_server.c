/*
 * srv_server.c - the server's lifecycle (create, start, graceful
 * shutdown, free), its model slots, and helpers the endpoints share.
 */
#include "srv_internal.h"

#include "sb_alloc.h"
#include "sb_time.h"
#include "srv_json.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The HTTP layer's per-request counter hook. */
static void count_request(void *ud, const char *label, int status) {
    sb_server *s = ud;
    sb_srv_metrics_request(s->metrics, label, status);
}

/* See sb_server.h. */
sb_status sb_server_create(const sb_server_config *cfg, sb_server **out, sb_error *err) {
    *out = NULL;
    sb_server *s = sb_calloc(1, sizeof *s);
    if (!s)
        return sb_error_set(err, SB_ERR_NOMEM, "server: out of memory");
    s->cfg = *cfg;
    if (s->cfg.retry_after_s <= 0)
        s->cfg.retry_after_s = 1;
    s->no_model_hint = sb_strdup(cfg->no_model_hint ? cfg->no_model_hint
                                                    : "no model loaded: restart with `solebox serve -m MODEL.gguf`");
    s->cfg.no_model_hint = s->no_model_hint;
    sb_oai_limits_default(&s->limits);
    atomic_init(&s->loaded, false);
    atomic_init(&s->started, false);
    s->metrics = sb_srv_metrics_create();
    if (!s->metrics || !s->no_model_hint) {
        sb_server_free(s);
        return sb_error_set(err, SB_ERR_NOMEM, "server: out of memory");
    }
    sb_http_config hc = {
        .host = cfg->host,
        .port = cfg->port,
        .threads = cfg->http_threads,
        .timeout_s = cfg->timeout_s,
        .max_body = cfg->max_body,
        .allowed_hosts = cfg->allowed_hosts,
        .n_allowed_hosts = cfg->n_allowed_hosts,
        .cors_origins = cfg->cors_origins,
        .n_cors_origins = cfg->n_cors_origins,
        .log_requests = cfg->log_requests,
        .log = cfg->log,
        .log_ud = cfg->log_ud,
        .count = count_request,
        .count_ud = s,
    };
    sb_status st = sb_http_create(&hc, &s->http, err);
    if (st == SB_OK)
        st = srv_routes_chat(s, err);
    if (st == SB_OK)
        st = srv_routes_completions(s, err);
    if (st == SB_OK)
        st = srv_routes_models(s, err);
    if (st == SB_OK)
        st = srv_routes_status(s, err);
    if (st == SB_OK)
        st = srv_routes_tokenize(s, err);
    if (st != SB_OK) {
        sb_server_free(s);
        return st;
    }
    *out = s;
    return SB_OK;
}

/* See sb_server.h. */
sb_status sb_server_route(sb_server *s, const char *method, const char *path, bool prefix, sb_http_handler fn,
                          void *ud, sb_error *err) {
    return sb_http_route(s->http, method, path, prefix, path, fn, ud, err);
}

/* See sb_server.h. */
int sb_server_declare_model(sb_server *s, const char *id) {
    if (atomic_load(&s->started) || !id || !*id)
        return -1;
    for (int i = 0; i < s->n_slots; i++)
        if (strcmp(s->slots[i].id, id) == 0)
            return -1;
    if (s->n_slots == s->cap_slots) {
        int nc = s->cap_slots ? s->cap_slots * 2 : 4;
        srv_slot *n = sb_reallocarray(s->slots, (size_t)nc, sizeof *n);
        if (!n)
            return -1;
        s->slots = n;
        s->cap_slots = nc;
    }
    srv_slot *slot = &s->slots[s->n_slots];
    memset(slot, 0, sizeof *slot);
    slot->id = sb_strdup(id);
    if (!slot->id)
        return -1;
    atomic_init(&slot->state, SRV_SLOT_LOADING);
    slot->created = (int64_t)time(NULL);
    return s->n_slots++;
}

/* See sb_server.h. */
void sb_server_attach_model(sb_server *s, int slot, sb_srv_model *m) {
    if (slot < 0 || slot >= s->n_slots || atomic_load(&s->slots[slot].state) != SRV_SLOT_LOADING) {
        sb_srv_model_free(m);
        return;
    }
    s->slots[slot].model = m;
    atomic_store(&s->slots[slot].state, SRV_SLOT_READY);
}

/* See sb_server.h. */
void sb_server_fail_model(sb_server *s, int slot, const char *msg) {
    if (slot < 0 || slot >= s->n_slots || atomic_load(&s->slots[slot].state) != SRV_SLOT_LOADING)
        return;
    snprintf(s->slots[slot].error, sizeof s->slots[slot].error, "%s", msg ? msg : "failed to load");
    atomic_store(&s->slots[slot].state, SRV_SLOT_FAILED);
}

/* See sb_server.h. */
void sb_server_set_loaded(sb_server *s) { atomic_store(&s->loaded, true); }

/* See sb_server.h. */
sb_status sb_server_start(sb_server *s, sb_error *err) {
    atomic_store(&s->started, true);
    return sb_http_start(s->http, err);
}

/* See sb_server.h. */
int sb_server_port(const sb_server *s) { return sb_http_port(s->http); }

/* Sleeps in small steps until nothing is in flight or ms pass; returns
 * what is left. */
static int wait_in_flight(sb_server *s, int ms) {
    uint64_t deadline = sb_now_ns() + (uint64_t)ms * 1000000u;
    while (sb_http_in_flight(s->http) > 0 && sb_now_ns() < deadline)
        usleep(5 * 1000);
    return sb_http_in_flight(s->http);
}

/* See sb_server.h. */
void sb_server_shutdown(sb_server *s, int grace_ms) {
    if (!s->http)
        return;
    sb_http_quiesce(s->http);
    int left = wait_in_flight(s, grace_ms);
    if (left > 0) {
        if (s->cfg.log) {
            char msg[128];
            snprintf(msg, sizeof msg, "shutdown: cancelling %d requests still in flight", left);
            s->cfg.log(s->cfg.log_ud, msg);
        }
        sb_http_abort_all(s->http);
        wait_in_flight(s, 1000);
    }
}

/* See sb_server.h. The HTTP side goes first, so no handler can reach a
 * model that is being destroyed. */
void sb_server_free(sb_server *s) {
    if (!s)
        return;
    sb_http_free(s->http);
    s->http = NULL;
    for (int i = 0; i < s->n_slots; i++) {
        sb_srv_model_free(s->slots[i].model);
        sb_free(s->slots[i].id);
    }
    sb_free(s->slots);
    sb_srv_metrics_free(s->metrics);
    sb_free(s->no_model_hint);
    sb_free(s);
}

/* See sb_server.h. */
void sb_server_model_id_from_path(const char *path, char *out, size_t cap) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && strcmp(base + n - 5, ".gguf") == 0)
        n -= 5;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, base, n);
    out[n] = 0;
}

/* See sb_srv_engine.h. */
void sb_srv_model_free(sb_srv_model *m) {
    if (!m)
        return;
    if (m->ops && m->ops->destroy)
        m->ops->destroy(m->impl);
    sb_free(m);
}

/* See srv_internal.h. */
int srv_find_model(sb_server *s, sb_http_req *req, const char *id, srv_slot **out, sb_api_error *e) {
    *out = NULL;
    srv_slot *slot = NULL;
    if (!id) {
        if (s->n_slots == 0)
            return sb_api_error_set(e, 503, "server_error", "no_model", "model", "%s", s->no_model_hint);
        slot = &s->slots[0];
    } else {
        for (int i = 0; i < s->n_slots && !slot; i++)
            if (strcmp(s->slots[i].id, id) == 0)
                slot = &s->slots[i];
        if (!slot)
            return sb_api_error_set(e, 404, "invalid_request_error", "model_not_found", "model",
                                    "the model '%.200s' does not exist (GET /v1/models lists the models)", id);
    }
    int state = atomic_load(&slot->state);
    if (state == SRV_SLOT_READY) {
        *out = slot;
        return 0;
    }
    char ra[16];
    snprintf(ra, sizeof ra, "%d", state == SRV_SLOT_LOADING ? 5 : s->cfg.retry_after_s);
    sb_http_set_header(req, "Retry-After", ra);
    if (state == SRV_SLOT_LOADING)
        return sb_api_error_set(e, 503, "server_error", "model_loading", "model", "the model '%s' is still loading",
                                slot->id);
    return sb_api_error_set(e, 503, "server_error", "model_unavailable", "model", "the model '%s' failed to load: %s",
                            slot->id, slot->error);
}

/* See srv_internal.h. */
json_t *srv_parse_body(sb_server *s, sb_http_req *req, sb_api_error *e) {
    size_t len;
    const char *body = sb_http_req_body(req, &len);
    json_t *root = NULL;
    sb_error err = {0};
    if (sb_srv_json_parse(body, len, SB_SRV_JSON_DEFAULT_DEPTH, SB_SRV_JSON_DEFAULT_STRING, &root, &err) != SB_OK) {
        sb_api_error_set(e, 400, "invalid_request_error", "invalid_json", NULL, "%s", err.msg);
        return NULL;
    }
    (void)s;
    return root;
}

/* See srv_internal.h. */
bool srv_read_oai_request(sb_server *s, sb_http_req *req, sb_oai_kind kind, sb_oai_request *r) {
    sb_api_error e = {0};
    json_t *body = srv_parse_body(s, req, &e);
    if (!body) {
        sb_http_reply_error(req, &e);
        return false;
    }
    int st = sb_oai_request_parse(body, kind, &s->limits, r, &e);
    json_decref(body);
    if (st) {
        sb_http_reply_error(req, &e);
        return false;
    }
    return true;
}

/* See srv_internal.h. A prompt that leaves no room for one token, or one
 * whose max_tokens does not fit, is a 400: never a silent truncation. */
int srv_check_context(const sb_srv_model *m, const sb_oai_request *r, size_t n_prompt, const char *param,
                      int *max_tokens, sb_api_error *e) {
    if (n_prompt == 0)
        return sb_api_bad_field(e, param, "'%s' is empty (no tokens)", param);
    if (n_prompt >= (size_t)m->n_ctx)
        return sb_api_error_set(e, 400, "invalid_request_error", "context_length_exceeded", param,
                                "the prompt is %zu tokens; the context is %d tokens", n_prompt, m->n_ctx);
    size_t room = (size_t)m->n_ctx - n_prompt;
    if (r->max_tokens > 0 && (size_t)r->max_tokens > room)
        return sb_api_error_set(e, 400, "invalid_request_error", "context_length_exceeded", "max_tokens",
                                "the prompt (%zu tokens) plus max_tokens (%d) exceeds the context of %d tokens",
                                n_prompt, r->max_tokens, m->n_ctx);
    *max_tokens = r->max_tokens > 0 ? r->max_tokens : (int)room;
    return 0;
}

/* See srv_internal.h. */
int srv_check_bias(const sb_srv_model *m, const sb_oai_request *r, sb_api_error *e) {
    for (int i = 0; i < r->n_bias; i++)
        if (r->bias_tokens[i] >= m->n_vocab)
            return sb_api_bad_field(e, "logit_bias", "'logit_bias': token id %d is out of range (vocabulary: %d)",
                                    r->bias_tokens[i], m->n_vocab);
    return 0;
}

/* See srv_internal.h. Template and tokenizer failures come from what the
 * client sent (a conversation the template rejects, text the tokenizer
 * refuses), so they are 400s; only running out of memory is a 500. */
int srv_model_error(sb_api_error *e, sb_status st, const char *param, const char *what, const sb_error *err) {
    if (st == SB_ERR_NOMEM)
        return sb_api_error_set(e, 500, "server_error", NULL, NULL, "%s: out of memory", what);
    return sb_api_bad_field(e, param, "%s: %s", what, err->msg[0] ? err->msg : sb_status_name(st));
}
