/*
 * srv_oai.c - OpenAI-shaped JSON builders (see srv_oai.h).
 */
#include "srv_oai.h"

#include "sb_buf.h"
#include "sb_utf8.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* See srv_oai.h. */
int sb_api_error_set(sb_api_error *e, int status, const char *type, const char *code, const char *param,
                     const char *fmt, ...) {
    e->status = status;
    e->type = type;
    e->code = code;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return status;
}

/* See srv_oai.h. */
int sb_api_bad_field(sb_api_error *e, const char *param, const char *fmt, ...) {
    e->status = 400;
    e->type = "invalid_request_error";
    e->code = NULL;
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return 400;
}

/* See srv_oai.h. The message may hold request bytes, so it goes through the
 * lossy conversion. */
json_t *sb_oai_error_json(const sb_api_error *e) {
    json_t *inner = json_object();
    json_t *root = json_object();
    if (!inner || !root) {
        json_decref(inner);
        json_decref(root);
        return NULL;
    }
    json_object_set_new(inner, "message", sb_oai_string_lossy(e->message, strlen(e->message)));
    json_object_set_new(inner, "type", json_string(e->type ? e->type : "invalid_request_error"));
    json_object_set_new(inner, "param", e->param[0] ? sb_oai_string_lossy(e->param, strlen(e->param)) : json_null());
    json_object_set_new(inner, "code", e->code ? json_string(e->code) : json_null());
    json_object_set_new(root, "error", inner);
    return root;
}

/* See srv_oai.h. getrandom() never blocks after boot; a counter is mixed in
 * so that ids stay distinct even if it fails. */
void sb_oai_make_id(const char *prefix, char out[64]) {
    static atomic_uint_fast64_t counter;
    unsigned char r[12] = {0};
    if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r) {
        uint64_t c = atomic_fetch_add(&counter, 1) + (uint64_t)time(NULL) * 1000003u;
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)(c >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
    }
    int n = snprintf(out, 64, "%s", prefix);
    for (size_t i = 0; i < sizeof r && n + 2 < 64; i++)
        n += snprintf(out + n, (size_t)(64 - n), "%02x", r[i]);
}

/* See srv_oai.h. */
json_t *sb_oai_string_lossy(const char *s, size_t n) {
    if (sb_utf8_valid(s, n))
        return json_stringn(s, n);
    sb_buf b;
    sb_buf_init(&b);
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        bool ok = true;
        size_t k = sb_utf8_decode(s + i, n - i, &cp, &ok);
        char enc[4];
        size_t m = sb_utf8_encode(ok ? cp : SB_UTF8_REPLACEMENT, enc);
        if (sb_buf_append(&b, enc, m) != SB_OK) {
            sb_buf_free(&b);
            return NULL;
        }
        i += k;
    }
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    sb_buf_free(&b);
    return j;
}

/* See srv_oai.h. */
const char *sb_oai_finish_reason(sb_srv_finish f) {
    switch (f) {
    case SB_SRV_FINISH_LENGTH:
        return "length";
    case SB_SRV_FINISH_NONE:
        return NULL;
    default:
        return "stop";
    }
}

/* See srv_oai.h. */
json_t *sb_oai_usage_json(const sb_oai_usage *u) {
    return json_pack("{s:i, s:i, s:i, s:{s:i}}", "prompt_tokens", u->prompt_tokens, "completion_tokens",
                     u->completion_tokens, "total_tokens", u->prompt_tokens + u->completion_tokens,
                     "prompt_tokens_details", "cached_tokens", u->cached_tokens);
}

/* See srv_oai.h. Rates are 0 when a duration is 0 (never NaN or inf, which
 * JSON cannot carry). */
json_t *sb_oai_timings_json(const sb_srv_timings *t) {
    double pps = t->prompt_ms > 0 ? t->prompt_n * 1000.0 / t->prompt_ms : 0.0;
    double gps = t->predicted_ms > 0 ? t->predicted_n * 1000.0 / t->predicted_ms : 0.0;
    double ppt = t->prompt_n > 0 ? t->prompt_ms / t->prompt_n : 0.0;
    double gpt = t->predicted_n > 0 ? t->predicted_ms / t->predicted_n : 0.0;
    return json_pack("{s:i, s:i, s:f, s:f, s:f, s:i, s:f, s:f, s:f}", "cache_n", t->cached_n, "prompt_n", t->prompt_n,
                     "prompt_ms", t->prompt_ms, "prompt_per_token_ms", ppt, "prompt_per_second", pps, "predicted_n",
                     t->predicted_n, "predicted_ms", t->predicted_ms, "predicted_per_token_ms", gpt,
                     "predicted_per_second", gps);
}

/* The fields every response and chunk starts with. */
static json_t *head_json(const sb_oai_head *h, const char *object) {
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", h->id, "object", object, "created", (json_int_t)h->created,
                     "model", h->model, "system_fingerprint", "solebox");
}

/* Adds usage and timings to a response body; steals nothing. */
static void add_usage(json_t *root, const sb_oai_usage *u, const sb_srv_timings *t) {
    if (u)
        json_object_set_new(root, "usage", sb_oai_usage_json(u));
    if (t)
        json_object_set_new(root, "timings", sb_oai_timings_json(t));
}

/* A finish_reason value: a string or null. */
static json_t *finish_json(sb_srv_finish f) {
    const char *s = sb_oai_finish_reason(f);
    return s ? json_string(s) : json_null();
}

/* See srv_oai.h. */
json_t *sb_oai_chat_response(const sb_oai_head *h, const sb_oai_choice *choices, int n, const sb_oai_usage *u,
                             const sb_srv_timings *t) {
    json_t *root = head_json(h, "chat.completion");
    json_t *arr = json_array();
    if (!root || !arr) {
        json_decref(root);
        json_decref(arr);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const sb_oai_choice *c = &choices[i];
        json_t *msg = json_object();
        json_object_set_new(msg, "role", json_string("assistant"));
        json_object_set_new(msg, "content", sb_oai_string_lossy(c->text ? c->text : "", c->text_len));
        json_t *ch = json_object();
        json_object_set_new(ch, "index", json_integer(i));
        json_object_set_new(ch, "message", msg);
        json_object_set(ch, "logprobs", c->logprobs ? c->logprobs : json_null());
        json_object_set_new(ch, "finish_reason", finish_json(c->finish));
        json_array_append_new(arr, ch);
    }
    json_object_set_new(root, "choices", arr);
    add_usage(root, u, t);
    return root;
}

/* See srv_oai.h. */
json_t *sb_oai_completion_response(const sb_oai_head *h, const sb_oai_choice *choices, int n, const sb_oai_usage *u,
                                   const sb_srv_timings *t) {
    json_t *root = head_json(h, "text_completion");
    json_t *arr = json_array();
    if (!root || !arr) {
        json_decref(root);
        json_decref(arr);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const sb_oai_choice *c = &choices[i];
        json_t *ch = json_object();
        json_object_set_new(ch, "text", sb_oai_string_lossy(c->text ? c->text : "", c->text_len));
        json_object_set_new(ch, "index", json_integer(i));
        json_object_set(ch, "logprobs", c->logprobs ? c->logprobs : json_null());
        json_object_set_new(ch, "finish_reason", finish_json(c->finish));
        json_array_append_new(arr, ch);
    }
    json_object_set_new(root, "choices", arr);
    add_usage(root, u, t);
    return root;
}

/* See srv_oai.h. */
json_t *sb_oai_chat_chunk(const sb_oai_head *h, int index, const char *role, const char *text, size_t text_len,
                          json_t *logprobs, sb_srv_finish finish) {
    json_t *root = head_json(h, "chat.completion.chunk");
    if (!root)
        return NULL;
    json_t *delta = json_object();
    if (role)
        json_object_set_new(delta, "role", json_string(role));
    if (text)
        json_object_set_new(delta, "content", sb_oai_string_lossy(text, text_len));
    json_t *ch = json_object();
    json_object_set_new(ch, "index", json_integer(index));
    json_object_set_new(ch, "delta", delta);
    json_object_set(ch, "logprobs", logprobs ? logprobs : json_null());
    json_object_set_new(ch, "finish_reason", finish_json(finish));
    json_object_set_new(root, "choices", json_pack("[o]", ch));
    return root;
}

/* See srv_oai.h. */
json_t *sb_oai_completion_chunk(const sb_oai_head *h, int index, const char *text, size_t text_len,
                                json_t *logprobs, sb_srv_finish finish) {
    json_t *root = head_json(h, "text_completion");
    if (!root)
        return NULL;
    json_t *ch = json_object();
    json_object_set_new(ch, "text", sb_oai_string_lossy(text ? text : "", text_len));
    json_object_set_new(ch, "index", json_integer(index));
    json_object_set(ch, "logprobs", logprobs ? logprobs : json_null());
    json_object_set_new(ch, "finish_reason", finish_json(finish));
    json_object_set_new(root, "choices", json_pack("[o]", ch));
    return root;
}

/* See srv_oai.h. */
json_t *sb_oai_usage_chunk(const sb_oai_head *h, const char *object, const sb_oai_usage *u, const sb_srv_timings *t) {
    json_t *root = head_json(h, object);
    if (!root)
        return NULL;
    json_object_set_new(root, "choices", json_array());
    add_usage(root, u, t);
    return root;
}

/* The raw bytes of a piece as an array of integers (OpenAI's `bytes`). */
static json_t *bytes_json(const char *s, size_t n) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_integer((unsigned char)s[i]));
    return a;
}

/* One {token, logprob, bytes} object. */
static json_t *chat_lp_entry(const sb_srv_logprob *p) {
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "token", sb_oai_string_lossy(p->piece ? p->piece : "", p->piece_len));
    json_object_set_new(o, "logprob", json_real(p->logprob));
    json_object_set_new(o, "bytes", bytes_json(p->piece ? p->piece : "", p->piece_len));
    return o;
}

/* See srv_oai.h. */
json_t *sb_oai_chat_logprobs_new(void) { return json_pack("{s:[], s:n}", "content", "refusal"); }

/* See srv_oai.h. */
sb_status sb_oai_chat_logprobs_add(json_t *lp, const sb_srv_token *tok) {
    json_t *content = json_object_get(lp, "content");
    json_t *e = chat_lp_entry(&tok->chosen);
    json_t *top = json_array();
    if (!content || !e || !top) {
        json_decref(e);
        json_decref(top);
        return SB_ERR_NOMEM;
    }
    for (int i = 0; i < tok->n_top; i++)
        json_array_append_new(top, chat_lp_entry(&tok->top[i]));
    json_object_set_new(e, "top_logprobs", top);
    return json_array_append_new(content, e) == 0 ? SB_OK : SB_ERR_NOMEM;
}

/* See srv_oai.h. */
json_t *sb_oai_completion_logprobs_new(void) {
    return json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
}

/* See srv_oai.h. The top_logprobs entry maps piece text to logprob (a
 * piece that repeats after lossy conversion keeps its first value). */
sb_status sb_oai_completion_logprobs_add(json_t *lp, const sb_srv_token *tok, size_t text_offset) {
    json_t *tokens = json_object_get(lp, "tokens"), *lps = json_object_get(lp, "token_logprobs");
    json_t *tops = json_object_get(lp, "top_logprobs"), *offs = json_object_get(lp, "text_offset");
    if (!tokens || !lps || !tops || !offs)
        return SB_ERR_INTERNAL;
    json_array_append_new(tokens, sb_oai_string_lossy(tok->chosen.piece ? tok->chosen.piece : "",
                                                      tok->chosen.piece_len));
    json_array_append_new(lps, json_real(tok->chosen.logprob));
    json_t *top = json_object();
    for (int i = 0; top && i < tok->n_top; i++) {
        json_t *key = sb_oai_string_lossy(tok->top[i].piece ? tok->top[i].piece : "", tok->top[i].piece_len);
        if (key && !json_object_get(top, json_string_value(key)))
            json_object_set_new(top, json_string_value(key), json_real(tok->top[i].logprob));
        json_decref(key);
    }
    json_array_append_new(tops, top ? top : json_null());
    json_array_append_new(offs, json_integer((json_int_t)text_offset));
    return SB_OK;
}

/* See srv_oai.h. */
json_t *sb_oai_model_json(const char *id, int64_t created, const char *owned_by) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", id, "object", "model", "created", (json_int_t)created, "owned_by",
                     owned_by ? owned_by : "solebox");
}
