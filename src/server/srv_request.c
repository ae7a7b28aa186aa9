/*
 * srv_request.c - parsing and validating OpenAI request bodies (see
 * srv_request.h). Each helper returns 0 when the field is fine (or absent)
 * and an HTTP status with e filled otherwise.
 */
#include "srv_request.h"

#include "sb_alloc.h"
#include "sb_buf.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* See srv_request.h. */
void sb_oai_limits_default(sb_oai_limits *l) {
    l->max_n = 16;
    l->max_stop = 16;
    l->max_stop_len = 1024;
    l->max_id_len = 256;
    l->max_prompts = 64;
    l->max_messages = 4096;
    l->max_logit_bias = 1024;
}

/* A 500 for allocation failure: the only error that is not the client's. */
static int oom(sb_api_error *e) {
    return sb_api_error_set(e, 500, "server_error", NULL, NULL, "out of memory while reading the request");
}

/* The value of an optional field; JSON null counts as absent, as the SDKs
 * send null for unset fields. */
static json_t *opt(const json_t *obj, const char *key) {
    json_t *v = json_object_get(obj, key);
    return (v && !json_is_null(v)) ? v : NULL;
}

/* A number (integer or real) in [lo, hi]. */
static int get_number(const json_t *body, const char *key, double lo, double hi, float *out, sb_api_error *e) {
    json_t *v = opt(body, key);
    if (!v)
        return 0;
    if (!json_is_number(v))
        return sb_api_bad_field(e, key, "'%s' must be a number", key);
    double d = json_number_value(v);
    if (!(d >= lo && d <= hi))
        return sb_api_bad_field(e, key, "'%s' must be between %g and %g, got %g", key, lo, hi, d);
    *out = (float)d;
    return 0;
}

/* An integer in [lo, hi]; a real with an integral value (3.0) is accepted. */
static int get_int(const json_t *body, const char *key, long long lo, long long hi, long long *out, bool *present,
                   sb_api_error *e) {
    json_t *v = opt(body, key);
    if (present)
        *present = v != NULL;
    if (!v)
        return 0;
    long long x;
    if (json_is_integer(v)) {
        x = (long long)json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d != floor(d) || d < -9.2e18 || d > 9.2e18)
            return sb_api_bad_field(e, key, "'%s' must be an integer", key);
        x = (long long)d;
    } else {
        return sb_api_bad_field(e, key, "'%s' must be an integer", key);
    }
    if (x < lo || x > hi)
        return sb_api_bad_field(e, key, "'%s' must be between %lld and %lld, got %lld", key, lo, hi, x);
    *out = x;
    return 0;
}

/* A boolean. */
static int get_bool(const json_t *body, const char *key, bool *out, sb_api_error *e) {
    json_t *v = opt(body, key);
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return sb_api_bad_field(e, key, "'%s' must be a boolean", key);
    *out = json_is_true(v);
    return 0;
}

/* A string of at most max bytes, copied into *out (sb_free). */
static int get_string(const json_t *body, const char *key, size_t max, char **out, sb_api_error *e) {
    json_t *v = opt(body, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return sb_api_bad_field(e, key, "'%s' must be a string", key);
    size_t n = json_string_length(v);
    if (n > max)
        return sb_api_bad_field(e, key, "'%s' is longer than %zu bytes", key, max);
    *out = sb_strndup(json_string_value(v), n);
    return *out ? 0 : oom(e);
}

/* Joins the text parts of a content array into one string (newline
 * between parts). Other part types are refused by name. */
static int flatten_parts(const json_t *arr, size_t mi, json_t **out, sb_api_error *e) {
    char param[96];
    sb_buf b;
    sb_buf_init(&b);
    for (size_t j = 0; j < json_array_size(arr); j++) {
        json_t *part = json_array_get(arr, j);
        snprintf(param, sizeof param, "messages[%zu].content[%zu]", mi, j);
        json_t *type = json_object_get(part, "type");
        if (!json_is_object(part) || !json_is_string(type)) {
            sb_buf_free(&b);
            return sb_api_bad_field(e, param, "'%s' must be an object with a string 'type'", param);
        }
        if (strcmp(json_string_value(type), "text") != 0) {
            sb_buf_free(&b);
            return sb_api_bad_field(e, param, "'%s': content part type '%s' is not supported (only 'text')", param,
                                    json_string_value(type));
        }
        json_t *text = json_object_get(part, "text");
        if (!json_is_string(text)) {
            sb_buf_free(&b);
            return sb_api_bad_field(e, param, "'%s.text' must be a string", param);
        }
        if ((j > 0 && sb_buf_putc(&b, '\n') != SB_OK) ||
            sb_buf_append(&b, json_string_value(text), json_string_length(text)) != SB_OK) {
            sb_buf_free(&b);
            return oom(e);
        }
    }
    *out = json_stringn(b.data ? b.data : "", b.len);
    sb_buf_free(&b);
    return *out ? 0 : oom(e);
}

/* Validates message mi and returns a normalised copy in *out. */
static int parse_message(const json_t *m, size_t mi, json_t **out, sb_api_error *e) {
    static const char *const roles[] = {"system", "developer", "user", "assistant", "tool", "function"};
    char param[96];
    snprintf(param, sizeof param, "messages[%zu]", mi);
    if (!json_is_object(m))
        return sb_api_bad_field(e, param, "'%s' must be an object", param);
    json_t *role = json_object_get(m, "role");
    snprintf(param, sizeof param, "messages[%zu].role", mi);
    if (!role)
        return sb_api_bad_field(e, param, "'%s' is required", param);
    if (!json_is_string(role))
        return sb_api_bad_field(e, param, "'%s' must be a string", param);
    const char *r = json_string_value(role);
    bool known = false;
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        known = known || strcmp(r, roles[i]) == 0;
    if (!known)
        return sb_api_bad_field(e, param, "'%s' must be one of system, developer, user, assistant, tool", param);
    bool assistant = strcmp(r, "assistant") == 0;

    static const char *const str_keys[] = {"name", "tool_call_id", "reasoning_content"};
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++) {
        json_t *v = json_object_get(m, str_keys[i]);
        snprintf(param, sizeof param, "messages[%zu].%s", mi, str_keys[i]);
        if (v && !json_is_null(v) && !json_is_string(v))
            return sb_api_bad_field(e, param, "'%s' must be a string", param);
    }
    json_t *calls = json_object_get(m, "tool_calls");
    snprintf(param, sizeof param, "messages[%zu].tool_calls", mi);
    if (calls && !json_is_null(calls)) {
        if (!json_is_array(calls))
            return sb_api_bad_field(e, param, "'%s' must be an array", param);
        for (size_t j = 0; j < json_array_size(calls); j++)
            if (!json_is_object(json_array_get(calls, j)))
                return sb_api_bad_field(e, param, "'%s[%zu]' must be an object", param, j);
    }

    json_t *content = json_object_get(m, "content");
    snprintf(param, sizeof param, "messages[%zu].content", mi);
    json_t *norm = NULL;
    if (!content || json_is_null(content)) {
        if (!assistant)
            return sb_api_bad_field(e, param, "'%s' is required for role '%s'", param, r);
        norm = json_null();
    } else if (json_is_string(content)) {
        norm = json_incref(content);
    } else if (json_is_array(content)) {
        int st = flatten_parts(content, mi, &norm, e);
        if (st)
            return st;
    } else {
        return sb_api_bad_field(e, param, "'%s' must be a string or an array of content parts", param);
    }
    json_t *copy = json_copy((json_t *)m);
    if (!copy || json_object_set_new(copy, "content", norm) != 0) {
        json_decref(copy);
        return oom(e);
    }
    *out = copy;
    return 0;
}

/* messages: a non-empty array of messages. */
static int parse_messages(const json_t *body, const sb_oai_limits *lim, sb_oai_request *r, sb_api_error *e) {
    json_t *msgs = json_object_get(body, "messages");
    if (!msgs || json_is_null(msgs))
        return sb_api_bad_field(e, "messages", "'messages' is required");
    if (!json_is_array(msgs))
        return sb_api_bad_field(e, "messages", "'messages' must be an array");
    size_t n = json_array_size(msgs);
    if (n == 0)
        return sb_api_bad_field(e, "messages", "'messages' must not be empty");
    if (n > lim->max_messages)
        return sb_api_bad_field(e, "messages", "'messages' has more than %zu entries", lim->max_messages);
    r->messages = json_array();
    if (!r->messages)
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        json_t *m = NULL;
        int st = parse_message(json_array_get(msgs, i), i, &m, e);
        if (st)
            return st;
        if (json_array_append_new(r->messages, m) != 0)
            return oom(e);
    }
    json_t *tools = opt(body, "tools");
    if (tools) {
        if (!json_is_array(tools))
            return sb_api_bad_field(e, "tools", "'tools' must be an array");
        for (size_t i = 0; i < json_array_size(tools); i++)
            if (!json_is_object(json_array_get(tools, i)))
                return sb_api_bad_field(e, "tools", "'tools[%zu]' must be an object", i);
        if (json_array_size(tools) > 0)
            r->tools = json_incref(tools);
    }
    return 0;
}

/* An array of token ids (values >= 0; the vocabulary check comes later). */
static int parse_token_array(const json_t *arr, const char *param, sb_oai_prompt *p, sb_api_error *e) {
    size_t n = json_array_size(arr);
    p->is_tokens = true;
    p->n_tokens = n;
    if (n == 0)
        return 0;
    p->tokens = sb_calloc(n, sizeof *p->tokens);
    if (!p->tokens)
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_array_get(arr, i);
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > INT32_MAX)
            return sb_api_bad_field(e, param, "'%s' token %zu must be a non-negative integer token id", param, i);
        p->tokens[i] = (int32_t)json_integer_value(t);
    }
    return 0;
}

/* A text prompt, copied. */
static int text_prompt(const json_t *s, sb_oai_prompt *p, sb_api_error *e) {
    p->text_len = json_string_length(s);
    p->text = sb_strndup(json_string_value(s), p->text_len);
    return p->text ? 0 : oom(e);
}

/* prompt: a string, an array of strings, an array of token ids, or an
 * array of arrays of token ids. */
static int parse_prompt(const json_t *body, const sb_oai_limits *lim, sb_oai_request *r, sb_api_error *e) {
    json_t *p = json_object_get(body, "prompt");
    if (!p || json_is_null(p))
        return sb_api_bad_field(e, "prompt", "'prompt' is required");
    if (json_is_string(p)) {
        r->prompts = sb_calloc(1, sizeof *r->prompts);
        if (!r->prompts)
            return oom(e);
        r->n_prompts = 1;
        return text_prompt(p, &r->prompts[0], e);
    }
    if (!json_is_array(p))
        return sb_api_bad_field(e, "prompt", "'prompt' must be a string, an array of strings or an array of tokens");
    size_t n = json_array_size(p);
    if (n == 0)
        return sb_api_bad_field(e, "prompt", "'prompt' must not be empty");
    json_t *first = json_array_get(p, 0);
    if (json_is_integer(first)) {
        r->prompts = sb_calloc(1, sizeof *r->prompts);
        if (!r->prompts)
            return oom(e);
        r->n_prompts = 1;
        return parse_token_array(p, "prompt", &r->prompts[0], e);
    }
    if (n > lim->max_prompts)
        return sb_api_bad_field(e, "prompt", "'prompt' has more than %zu prompts", lim->max_prompts);
    r->prompts = sb_calloc(n, sizeof *r->prompts);
    if (!r->prompts)
        return oom(e);
    r->n_prompts = n;
    for (size_t i = 0; i < n; i++) {
        json_t *item = json_array_get(p, i);
        char param[64];
        snprintf(param, sizeof param, "prompt[%zu]", i);
        int st;
        if (json_is_string(item) && json_is_string(first))
            st = text_prompt(item, &r->prompts[i], e);
        else if (json_is_array(item) && json_is_array(first))
            st = parse_token_array(item, param, &r->prompts[i], e);
        else
            st = sb_api_bad_field(e, param,
                                  "'%s' must be a string (or all token arrays); the prompt array mixes types", param);
        if (st)
            return st;
    }
    return 0;
}

/* stop: a string or an array of strings. Empty strings are dropped (they
 * would stop at once). */
static int parse_stop(const json_t *body, const sb_oai_limits *lim, sb_oai_request *r, sb_api_error *e) {
    json_t *s = opt(body, "stop");
    if (!s)
        return 0;
    size_t n = json_is_string(s) ? 1 : json_is_array(s) ? json_array_size(s) : 0;
    if (!json_is_string(s) && !json_is_array(s))
        return sb_api_bad_field(e, "stop", "'stop' must be a string or an array of strings");
    if (n > (size_t)lim->max_stop)
        return sb_api_bad_field(e, "stop", "'stop' has more than %d strings", lim->max_stop);
    if (n == 0)
        return 0;
    r->stop = sb_calloc(n, sizeof *r->stop);
    if (!r->stop)
        return oom(e);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_is_string(s) ? s : json_array_get(s, i);
        if (!json_is_string(v))
            return sb_api_bad_field(e, "stop", "'stop[%zu]' must be a string", i);
        size_t len = json_string_length(v);
        if (len > lim->max_stop_len)
            return sb_api_bad_field(e, "stop", "'stop' strings must be at most %zu bytes", lim->max_stop_len);
        if (len == 0)
            continue;
        r->stop[r->n_stop] = sb_strndup(json_string_value(v), len);
        if (!r->stop[r->n_stop])
            return oom(e);
        r->n_stop++;
    }
    return 0;
}

/* logit_bias: {"token id": bias in [-100, 100]}. */
static int parse_logit_bias(const json_t *body, const sb_oai_limits *lim, sb_oai_request *r, sb_api_error *e) {
    json_t *b = opt(body, "logit_bias");
    if (!b)
        return 0;
    if (!json_is_object(b))
        return sb_api_bad_field(e, "logit_bias", "'logit_bias' must be an object mapping token ids to numbers");
    size_t n = json_object_size(b);
    if (n > (size_t)lim->max_logit_bias)
        return sb_api_bad_field(e, "logit_bias", "'logit_bias' has more than %d entries", lim->max_logit_bias);
    if (n == 0)
        return 0;
    r->bias_tokens = sb_calloc(n, sizeof *r->bias_tokens);
    r->bias_values = sb_calloc(n, sizeof *r->bias_values);
    if (!r->bias_tokens || !r->bias_values)
        return oom(e);
    const char *key;
    json_t *val;
    json_object_foreach(b, key, val) {
        char *end = NULL;
        errno = 0;
        long id = strtol(key, &end, 10);
        if (!*key || *end || errno || id < 0 || id > INT32_MAX)
            return sb_api_bad_field(e, "logit_bias", "'logit_bias' keys must be token ids, got '%.64s'", key);
        if (!json_is_number(val))
            return sb_api_bad_field(e, "logit_bias", "'logit_bias' values must be numbers");
        double d = json_number_value(val);
        if (!(d >= -100.0 && d <= 100.0))
            return sb_api_bad_field(e, "logit_bias", "'logit_bias' values must be between -100 and 100");
        r->bias_tokens[r->n_bias] = (int32_t)id;
        r->bias_values[r->n_bias] = (float)d;
        r->n_bias++;
    }
    return 0;
}

/* logprobs / top_logprobs. Chat: logprobs is a boolean and top_logprobs an
 * integer 0..20. Completions (legacy): logprobs is an integer 0..5 (how many
 * alternatives; the chosen token is always reported). */
static int parse_logprobs(const json_t *body, sb_oai_request *r, sb_api_error *e) {
    json_t *lp = opt(body, "logprobs");
    long long v = 0;
    bool present = false;
    if (r->kind == SB_OAI_CHAT || (lp && json_is_boolean(lp))) {
        int st = get_bool(body, "logprobs", &r->logprobs, e);
        if (st)
            return st;
        st = get_int(body, "top_logprobs", 0, SB_SRV_MAX_TOP_LOGPROBS, &v, &present, e);
        if (st)
            return st;
        if (present && v > 0 && !r->logprobs)
            return sb_api_bad_field(e, "top_logprobs", "'top_logprobs' needs 'logprobs' set to true");
        r->top_logprobs = (int)v;
        return 0;
    }
    int st = get_int(body, "logprobs", 0, 5, &v, &present, e);
    if (st)
        return st;
    r->logprobs = present;
    r->top_logprobs = (int)v;
    return 0;
}

/* Sampling fields, with OpenAI's defaults. */
static int parse_sampling(const json_t *body, sb_oai_request *r, sb_api_error *e) {
    int st;
    r->temperature = 1.0f;
    r->top_p = 1.0f;
    r->repetition_penalty = 1.0f;
    if ((st = get_number(body, "temperature", 0.0, 2.0, &r->temperature, e)) ||
        (st = get_number(body, "top_p", 0.0, 1.0, &r->top_p, e)) ||
        (st = get_number(body, "min_p", 0.0, 1.0, &r->min_p, e)) ||
        (st = get_number(body, "presence_penalty", -2.0, 2.0, &r->presence_penalty, e)) ||
        (st = get_number(body, "frequency_penalty", -2.0, 2.0, &r->frequency_penalty, e)) ||
        (st = get_number(body, "repetition_penalty", 0.0, 10.0, &r->repetition_penalty, e)))
        return st;
    if (r->repetition_penalty <= 0.0f)
        return sb_api_bad_field(e, "repetition_penalty", "'repetition_penalty' must be greater than 0");
    long long v = 0;
    bool present = false;
    if ((st = get_int(body, "top_k", 0, INT32_MAX, &v, NULL, e)))
        return st;
    r->top_k = (int)v;
    if ((st = get_int(body, "seed", INT64_MIN, INT64_MAX, &v, &present, e)))
        return st;
    r->has_seed = present;
    r->seed = (uint64_t)v;
    return 0;
}

/* max_tokens / max_completion_tokens (the newer name wins), n, stream. */
static int parse_counts(const json_t *body, const sb_oai_limits *lim, sb_oai_request *r, sb_api_error *e) {
    long long v = 0;
    bool present = false;
    int st;
    if ((st = get_int(body, "max_tokens", 1, INT32_MAX, &v, &present, e)))
        return st;
    if (present)
        r->max_tokens = (int)v;
    if ((st = get_int(body, "max_completion_tokens", 1, INT32_MAX, &v, &present, e)))
        return st;
    if (present)
        r->max_tokens = (int)v;
    v = 1;
    if ((st = get_int(body, "n", 1, lim->max_n, &v, NULL, e)))
        return st;
    r->n = (int)v;
    if ((st = get_bool(body, "stream", &r->stream, e)))
        return st;
    json_t *so = opt(body, "stream_options");
    if (so) {
        if (!json_is_object(so))
            return sb_api_bad_field(e, "stream_options", "'stream_options' must be an object");
        json_t *iu = opt(so, "include_usage");
        if (iu && !json_is_boolean(iu))
            return sb_api_bad_field(e, "stream_options.include_usage", "'stream_options.include_usage' must be a boolean");
        r->include_usage = iu && json_is_true(iu);
    }
    return 0;
}

/* See srv_request.h. */
int sb_oai_request_parse(const json_t *body, sb_oai_kind kind, const sb_oai_limits *lim, sb_oai_request *out,
                         sb_api_error *e) {
    sb_oai_limits defaults;
    if (!lim) {
        sb_oai_limits_default(&defaults);
        lim = &defaults;
    }
    memset(out, 0, sizeof *out);
    out->kind = kind;
    int st = 0;
    if (!json_is_object(body))
        st = sb_api_bad_field(e, NULL, "the request body must be a JSON object");
    if (!st)
        st = get_string(body, "model", lim->max_id_len, &out->model, e);
    if (!st)
        st = kind == SB_OAI_CHAT ? parse_messages(body, lim, out, e) : parse_prompt(body, lim, out, e);
    if (!st)
        st = parse_counts(body, lim, out, e);
    if (!st)
        st = parse_sampling(body, out, e);
    if (!st)
        st = parse_stop(body, lim, out, e);
    if (!st)
        st = parse_logprobs(body, out, e);
    if (!st)
        st = parse_logit_bias(body, lim, out, e);
    if (!st)
        st = get_string(body, "user", lim->max_id_len, &out->user, e);
    if (st)
        sb_oai_request_free(out);
    return st;
}

/* See srv_request.h. */
void sb_oai_request_free(sb_oai_request *r) {
    if (!r)
        return;
    sb_free(r->model);
    json_decref(r->messages);
    json_decref(r->tools);
    for (size_t i = 0; i < r->n_prompts; i++) {
        sb_free(r->prompts[i].text);
        sb_free(r->prompts[i].tokens);
    }
    sb_free(r->prompts);
    for (int i = 0; i < r->n_stop; i++)
        sb_free(r->stop[i]);
    sb_free(r->stop);
    sb_free(r->bias_tokens);
    sb_free(r->bias_values);
    sb_free(r->user);
    memset(r, 0, sizeof *r);
}
