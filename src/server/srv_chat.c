/*
 * srv_chat.c - POST /v1/chat/completions: parse, render the conversation
 * with the model's chat template, tokenize, check the context, start.
 */
#include "srv_internal.h"

#include "sb_alloc.h"

/* The handler; see the file comment. */
static void handle_chat(sb_http_req *req, void *ud) {
    sb_server *s = ud;
    sb_api_error e = {0};
    sb_oai_request r;
    if (!srv_read_oai_request(s, req, SB_OAI_CHAT, &r))
        return;
    srv_slot *slot;
    char *text = NULL;
    int32_t *ids = NULL;
    size_t len = 0, n = 0;
    int max_tokens = 0;
    if (srv_find_model(s, req, r.model, &slot, &e) == 0) {
        sb_srv_model *m = slot->model;
        sb_error err = {0};
        sb_status ms = m->ops->render_chat(m->impl, r.messages, r.tools, &text, &len, &err);
        if (ms != SB_OK) {
            srv_model_error(&e, ms, "messages", "chat template", &err);
        } else if ((ms = m->ops->tokenize(m->impl, text, len, true, true, &ids, &n, &err)) != SB_OK) {
            srv_model_error(&e, ms, "messages", "tokenizer", &err);
        } else if (srv_check_context(m, &r, n, "messages", &max_tokens, &e) == 0 && srv_check_bias(m, &r, &e) == 0) {
            sb_gen_target t = {m, slot->id, s->metrics, s->cfg.retry_after_s};
            sb_gen_prompt p = {ids, n, max_tokens};
            sb_gen_start(req, &t, &r, &p, 1);
            e.status = 0;
        }
    }
    if (e.status)
        sb_http_reply_error(req, &e);
    sb_free(text);
    sb_free(ids);
    sb_oai_request_free(&r);
}

/* See srv_internal.h. */
sb_status srv_routes_chat(sb_server *s, sb_error *err) {
    return sb_http_route(s->http, "POST", "/v1/chat/completions", false, NULL, handle_chat, s, err);
}
