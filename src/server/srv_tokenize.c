/*
 * srv_tokenize.c - POST /tokenize and POST /detokenize (llama.cpp's
 * shapes): {"content", "add_special", "parse_special", "with_pieces",
 * "model"} -> {"tokens": [...]}, and {"tokens", "model"} -> {"content"}.
 */
#include "srv_internal.h"

#include "sb_alloc.h"
#include "sb_utf8.h"

/* Reads an optional boolean field; 0 or a 400 naming it. */
static int opt_bool(const json_t *body, const char *key, bool *out, sb_api_error *e) {
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return sb_api_bad_field(e, key, "'%s' must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

/* The body and the model of a tokenize/detokenize request; NULL with e
 * filled on failure. */
static json_t *prologue(sb_server *s, sb_http_req *req, srv_slot **slot, sb_api_error *e) {
    json_t *body = srv_parse_body(s, req, e);
    if (!body)
        return NULL;
    json_t *model = json_object_get(body, "model");
    if (model && !json_is_null(model) && !json_is_string(model)) {
        sb_api_bad_field(e, "model", "'model' must be a string");
    } else if (srv_find_model(s, req, model && json_is_string(model) ? json_string_value(model) : NULL, slot, e) ==
               0) {
        return body;
    }
    json_decref(body);
    return NULL;
}

/* A piece as llama.cpp shows it: a string when valid UTF-8, else bytes. */
static json_t *piece_json(const char *p, size_t n) {
    if (sb_utf8_valid(p, n))
        return json_stringn(p, n);
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer((unsigned char)p[i]));
    return a;
}

/* POST /tokenize. */
static void handle_tokenize(sb_http_req *req, void *ud) {
    sb_server *s = ud;
    sb_api_error e = {0};
    srv_slot *slot = NULL;
    json_t *body = prologue(s, req, &slot, &e);
    if (!body) {
        sb_http_reply_error(req, &e);
        return;
    }
    bool add_special = false, parse_special = true, with_pieces = false;
    json_t *content = json_object_get(body, "content");
    if (!content || !json_is_string(content))
        sb_api_bad_field(&e, "content", "'content' must be a string");
    else if (!opt_bool(body, "add_special", &add_special, &e) && !opt_bool(body, "parse_special", &parse_special, &e))
        opt_bool(body, "with_pieces", &with_pieces, &e);
    if (e.status) {
        json_decref(body);
        sb_http_reply_error(req, &e);
        return;
    }
    sb_srv_model *m = slot->model;
    int32_t *ids = NULL;
    size_t n = 0;
    sb_error err = {0};
    sb_status st = m->ops->tokenize(m->impl, json_string_value(content), json_string_length(content), add_special,
                                    parse_special, &ids, &n, &err);
    json_decref(body);
    if (st != SB_OK) {
        srv_model_error(&e, st, "content", "tokenizer", &err);
        sb_http_reply_error(req, &e);
        return;
    }
    json_t *arr = json_array();
    sb_buf piece;
    sb_buf_init(&piece);
    for (size_t i = 0; arr && i < n; i++) {
        if (!with_pieces) {
            json_array_append_new(arr, json_integer(ids[i]));
            continue;
        }
        sb_buf_reset(&piece);
        m->ops->token_piece(m->impl, ids[i], &piece);
        json_array_append_new(arr, json_pack("{s:i, s:o}", "id", ids[i], "piece",
                                             piece_json(piece.data ? piece.data : "", piece.len)));
    }
    sb_buf_free(&piece);
    sb_free(ids);
    sb_http_reply_json(req, 200, arr ? json_pack("{s:o}", "tokens", arr) : NULL);
}

/* POST /detokenize. */
static void handle_detokenize(sb_http_req *req, void *ud) {
    sb_server *s = ud;
    sb_api_error e = {0};
    srv_slot *slot = NULL;
    json_t *body = prologue(s, req, &slot, &e);
    if (!body) {
        sb_http_reply_error(req, &e);
        return;
    }
    json_t *tokens = json_object_get(body, "tokens");
    size_t n = json_is_array(tokens) ? json_array_size(tokens) : 0;
    int32_t *ids = n ? sb_calloc(n, sizeof *ids) : NULL;
    if (!json_is_array(tokens))
        sb_api_bad_field(&e, "tokens", "'tokens' must be an array of token ids");
    else if (n && !ids)
        sb_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
    for (size_t i = 0; !e.status && i < n; i++) {
        json_t *t = json_array_get(tokens, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) >= slot->model->n_vocab)
            sb_api_bad_field(&e, "tokens", "'tokens[%zu]' must be a token id in [0, %d)", i, slot->model->n_vocab);
        else
            ids[i] = (int32_t)json_integer_value(t);
    }
    json_decref(body);
    sb_buf out;
    sb_buf_init(&out);
    sb_error err = {0};
    if (!e.status) {
        sb_status st = slot->model->ops->detokenize(slot->model->impl, ids, n, &out, &err);
        if (st != SB_OK)
            srv_model_error(&e, st, "tokens", "detokenize", &err);
    }
    if (e.status)
        sb_http_reply_error(req, &e);
    else
        sb_http_reply_json(req, 200, json_pack("{s:o}", "content", sb_oai_string_lossy(out.data ? out.data : "",
                                                                                       out.len)));
    sb_buf_free(&out);
    sb_free(ids);
}

/* See srv_internal.h. */
sb_status srv_routes_tokenize(sb_server *s, sb_error *err) {
    sb_status st = sb_http_route(s->http, "POST", "/tokenize", false, NULL, handle_tokenize, s, err);
    if (st == SB_OK)
        st = sb_http_route(s->http, "POST", "/detokenize", false, NULL, handle_detokenize, s, err);
    return st;
}
