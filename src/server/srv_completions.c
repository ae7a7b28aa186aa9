/*
 * srv_completions.c - POST /v1/completions: one or more prompts (text or
 * token ids), each checked against the context, n choices each.
 */
#include "srv_internal.h"

#include "sb_alloc.h"

#include <stdio.h>

/* Turns every prompt into token ids (text is tokenized with BOS as the
 * model wants; token arrays are range-checked) and resolves max_tokens.
 * Returns 0 or fills e. ids[i] are owned by the caller (sb_free). */
static int prepare(const sb_srv_model *m, const sb_oai_request *r, sb_gen_prompt *out, int32_t **ids,
                   sb_api_error *e) {
    for (size_t i = 0; i < r->n_prompts; i++) {
        const sb_oai_prompt *p = &r->prompts[i];
        char param[32];
        snprintf(param, sizeof param, r->n_prompts > 1 ? "prompt[%zu]" : "prompt", i);
        size_t n = 0;
        if (p->is_tokens) {
            for (size_t k = 0; k < p->n_tokens; k++)
                if (p->tokens[k] >= m->n_vocab)
                    return sb_api_bad_field(e, param, "'%s': token id %d is out of range (vocabulary: %d)", param,
                                            (int)p->tokens[k], m->n_vocab);
            out[i].tokens = p->tokens;
            n = p->n_tokens;
        } else {
            sb_error err = {0};
            sb_status st = m->ops->tokenize(m->impl, p->text, p->text_len, true, true, &ids[i], &n, &err);
            if (st != SB_OK)
                return srv_model_error(e, st, param, "tokenizer", &err);
            out[i].tokens = ids[i];
        }
        out[i].n_tokens = n;
        int st = srv_check_context(m, r, n, param, &out[i].max_tokens, e);
        if (st)
            return st;
    }
    return srv_check_bias(m, r, e);
}

/* The handler; see the file comment. */
static void handle_completions(sb_http_req *req, void *ud) {
    sb_server *s = ud;
    sb_api_error e = {0};
    sb_oai_request r;
    if (!srv_read_oai_request(s, req, SB_OAI_COMPLETION, &r))
        return;
    srv_slot *slot;
    sb_gen_prompt *prompts = sb_calloc(r.n_prompts, sizeof *prompts);
    int32_t **ids = sb_calloc(r.n_prompts, sizeof *ids);
    if (!prompts || !ids) {
        sb_api_error_set(&e, 500, "server_error", NULL, NULL, "out of memory");
    } else if (srv_find_model(s, req, r.model, &slot, &e) == 0 && prepare(slot->model, &r, prompts, ids, &e) == 0) {
        sb_gen_target t = {slot->model, slot->id, s->metrics, s->cfg.retry_after_s};
        sb_gen_start(req, &t, &r, prompts, r.n_prompts);
        e.status = 0;
    }
    if (e.status)
        sb_http_reply_error(req, &e);
    for (size_t i = 0; ids && i < r.n_prompts; i++)
        sb_free(ids[i]);
    sb_free(ids);
    sb_free(prompts);
    sb_oai_request_free(&r);
}

/* See srv_internal.h. */
sb_status srv_routes_completions(sb_server *s, sb_error *err) {
    return sb_http_route(s->http, "POST", "/v1/completions", false, NULL, handle_completions, s, err);
}
