/*
 * srv_models.c - GET /v1/models and GET /v1/models/{id}.
 */
#include "srv_internal.h"

#include <string.h>

/* A model entry: OpenAI's fields plus its load state and context. */
static json_t *slot_json(const srv_slot *slot) {
    json_t *j = sb_oai_model_json(slot->id, slot->created, "solebox");
    int state = atomic_load(&slot->state);
    if (!j)
        return NULL;
    json_object_set_new(j, "status",
                        json_string(state == SRV_SLOT_READY ? "loaded" : state == SRV_SLOT_LOADING ? "loading"
                                                                                                   : "failed"));
    if (state == SRV_SLOT_READY)
        json_object_set_new(j, "context_length", json_integer(slot->model->n_ctx));
    return j;
}

/* GET /v1/models: every declared model, the default first. */
static void handle_list(sb_http_req *req, void *ud) {
    sb_server *s = ud;
    json_t *data = json_array();
    for (int i = 0; data && i < s->n_slots; i++)
        json_array_append_new(data, slot_json(&s->slots[i]));
    sb_http_reply_json(req, 200, json_pack("{s:s, s:o}", "object", "list", "data", data ? data : json_array()));
}

/* GET /v1/models/{id}. */
static void handle_one(sb_http_req *req, void *ud) {
    sb_server *s = ud;
    const char *id = sb_http_req_path(req) + strlen("/v1/models/");
    for (int i = 0; i < s->n_slots; i++) {
        if (strcmp(s->slots[i].id, id) == 0) {
            sb_http_reply_json(req, 200, slot_json(&s->slots[i]));
            return;
        }
    }
    sb_api_error e;
    sb_api_error_set(&e, 404, "invalid_request_error", "model_not_found", "model", "the model '%.200s' does not exist",
                     id);
    sb_http_reply_error(req, &e);
}

/* See srv_internal.h. */
sb_status srv_routes_models(sb_server *s, sb_error *err) {
    sb_status st = sb_http_route(s->http, "GET", "/v1/models", false, NULL, handle_list, s, err);
    if (st == SB_OK)
        st = sb_http_route(s->http, "GET", "/v1/models/", true, "/v1/models/{id}", handle_one, s, err);
    return st;
}
