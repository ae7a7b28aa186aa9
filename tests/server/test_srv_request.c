/*
 * test_srv_request.c - the request parser, the JSON guard and the router:
 * every field's type and range errors name the field; valid requests fill
 * the struct; no model needed.
 */
#include "sb_test.h"
#include "srv_json.h"
#include "srv_request.h"
#include "srv_router.h"

#include <string.h>

/* Parses JSON text as a request of kind; returns the status (0 = ok) and
 * leaves the parameter named by the error in e. */
static int parse(const char *text, sb_oai_kind kind, sb_oai_request *r, sb_api_error *e) {
    json_t *j = NULL;
    sb_error err;
    memset(e, 0, sizeof *e);
    if (sb_srv_json_parse(text, strlen(text), 64, 1 << 20, &j, &err) != SB_OK)
        return -1;
    int st = sb_oai_request_parse(j, kind, NULL, r, e);
    json_decref(j);
    return st;
}

/* Expects a 400 naming param. */
static void expect_bad(const char *text, sb_oai_kind kind, const char *param) {
    sb_oai_request r;
    sb_api_error e;
    int st = parse(text, kind, &r, &e);
    SB_CHECKF(st == 400, "%s: status %d", text, st);
    SB_CHECKF(strcmp(e.param, param) == 0, "%s: param '%s', expected '%s' (%s)", text, e.param, param, e.message);
    SB_CHECK_STR(e.type, "invalid_request_error");
}

static void test_chat_ok(void) {
    sb_oai_request r;
    sb_api_error e;
    int st = parse("{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
                   "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]},"
                   "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"1\"}]},"
                   "{\"role\":\"tool\",\"content\":\"r\",\"tool_call_id\":\"1\"}],"
                   "\"max_tokens\":5,\"max_completion_tokens\":7,\"temperature\":0.5,\"top_p\":0.9,\"top_k\":40,"
                   "\"min_p\":0.05,\"presence_penalty\":0.1,\"frequency_penalty\":-0.1,\"repetition_penalty\":1.1,"
                   "\"seed\":-3,\"stop\":[\"x\",\"\",\"yy\"],\"n\":2,\"logprobs\":true,\"top_logprobs\":3,"
                   "\"logit_bias\":{\"15\":-100,\"7\":2.5},\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                   "\"user\":\"u\",\"unknown_field\":{\"deep\":[1,2,3]}}",
                   SB_OAI_CHAT, &r, &e);
    SB_CHECKF(st == 0, "status %d: %s (%s)", st, e.message, e.param);
    if (st)
        return;
    SB_CHECK_STR(r.model, "m");
    SB_CHECK_EQ_INT(json_array_size(r.messages), 4);
    SB_CHECK_STR(json_string_value(json_object_get(json_array_get(r.messages, 1), "content")), "a\nb");
    SB_CHECK(json_is_null(json_object_get(json_array_get(r.messages, 2), "content")));
    SB_CHECK_EQ_INT(r.max_tokens, 7);
    SB_CHECK(r.temperature == 0.5f && r.top_p == 0.9f && r.top_k == 40);
    SB_CHECK(r.has_seed && r.seed == (uint64_t)-3);
    SB_CHECK_EQ_INT(r.n_stop, 2);
    SB_CHECK_STR(r.stop[1], "yy");
    SB_CHECK_EQ_INT(r.n, 2);
    SB_CHECK(r.logprobs && r.top_logprobs == 3);
    SB_CHECK_EQ_INT(r.n_bias, 2);
    SB_CHECK(r.stream && r.include_usage);
    SB_CHECK_STR(r.user, "u");
    sb_oai_request_free(&r);
}

static void test_chat_defaults(void) {
    sb_oai_request r;
    sb_api_error e;
    int st = parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":null,\"stop\":\"END\"}",
                   SB_OAI_CHAT, &r, &e);
    SB_CHECK_EQ_INT(st, 0);
    if (st)
        return;
    SB_CHECK(r.model == NULL);
    SB_CHECK(r.temperature == 1.0f && r.top_p == 1.0f && r.repetition_penalty == 1.0f);
    SB_CHECK_EQ_INT(r.n, 1);
    SB_CHECK_EQ_INT(r.max_tokens, 0);
    SB_CHECK_EQ_INT(r.n_stop, 1);
    SB_CHECK(!r.stream && !r.logprobs && !r.has_seed);
    sb_oai_request_free(&r);
}

static void test_chat_bad_fields(void) {
    const char *u = "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";
    char buf[512];
    struct {
        const char *extra, *param;
    } cases[] = {
        {"\"temperature\":\"hot\"", "temperature"},
        {"\"temperature\":3", "temperature"},
        {"\"top_p\":-0.1", "top_p"},
        {"\"top_k\":1.5", "top_k"},
        {"\"top_k\":-1", "top_k"},
        {"\"max_tokens\":0", "max_tokens"},
        {"\"max_tokens\":\"10\"", "max_tokens"},
        {"\"max_completion_tokens\":1e30", "max_completion_tokens"},
        {"\"n\":0", "n"},
        {"\"n\":1000", "n"},
        {"\"stream\":1", "stream"},
        {"\"stream_options\":[]", "stream_options"},
        {"\"stream_options\":{\"include_usage\":\"yes\"}", "stream_options.include_usage"},
        {"\"stop\":5", "stop"},
        {"\"stop\":[\"a\",5]", "stop"},
        {"\"seed\":\"1\"", "seed"},
        {"\"seed\":1.5", "seed"},
        {"\"logprobs\":1", "logprobs"},
        {"\"top_logprobs\":3", "top_logprobs"},
        {"\"logprobs\":true,\"top_logprobs\":21", "top_logprobs"},
        {"\"logit_bias\":[1]", "logit_bias"},
        {"\"logit_bias\":{\"abc\":1}", "logit_bias"},
        {"\"logit_bias\":{\"1\":101}", "logit_bias"},
        {"\"logit_bias\":{\"1\":\"x\"}", "logit_bias"},
        {"\"presence_penalty\":5", "presence_penalty"},
        {"\"repetition_penalty\":0", "repetition_penalty"},
        {"\"model\":5", "model"},
        {"\"user\":[]", "user"},
        {"\"tools\":{}", "tools"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(buf, sizeof buf, "{%s,%s}", u, cases[i].extra);
        expect_bad(buf, SB_OAI_CHAT, cases[i].param);
    }
    expect_bad("{}", SB_OAI_CHAT, "messages");
    expect_bad("{\"messages\":\"hi\"}", SB_OAI_CHAT, "messages");
    expect_bad("{\"messages\":[]}", SB_OAI_CHAT, "messages");
    expect_bad("{\"messages\":[1]}", SB_OAI_CHAT, "messages[0]");
    expect_bad("{\"messages\":[{\"content\":\"x\"}]}", SB_OAI_CHAT, "messages[0].role");
    expect_bad("{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", SB_OAI_CHAT, "messages[0].role");
    expect_bad("{\"messages\":[{\"role\":\"user\"}]}", SB_OAI_CHAT, "messages[0].content");
    expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":5}]}", SB_OAI_CHAT, "messages[0].content");
    expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":[{\"type\":"
               "\"image_url\"}]}]}",
               SB_OAI_CHAT, "messages[1].content[0]");
    expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]}", SB_OAI_CHAT,
               "messages[0].content[0]");
    expect_bad("{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\",\"tool_calls\":{}}]}", SB_OAI_CHAT,
               "messages[0].tool_calls");
    expect_bad("{\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"name\":3}]}", SB_OAI_CHAT, "messages[0].name");
}

static void test_completions(void) {
    sb_oai_request r;
    sb_api_error e;
    SB_CHECK_EQ_INT(parse("{\"prompt\":\"hello\",\"logprobs\":2}", SB_OAI_COMPLETION, &r, &e), 0);
    SB_CHECK_EQ_INT(r.n_prompts, 1);
    SB_CHECK(!r.prompts[0].is_tokens && strcmp(r.prompts[0].text, "hello") == 0);
    SB_CHECK(r.logprobs && r.top_logprobs == 2);
    sb_oai_request_free(&r);
    SB_CHECK_EQ_INT(parse("{\"prompt\":[\"a\",\"b\",\"c\"]}", SB_OAI_COMPLETION, &r, &e), 0);
    SB_CHECK_EQ_INT(r.n_prompts, 3);
    sb_oai_request_free(&r);
    SB_CHECK_EQ_INT(parse("{\"prompt\":[1,2,3]}", SB_OAI_COMPLETION, &r, &e), 0);
    SB_CHECK(r.n_prompts == 1 && r.prompts[0].is_tokens && r.prompts[0].n_tokens == 3 && r.prompts[0].tokens[2] == 3);
    sb_oai_request_free(&r);
    SB_CHECK_EQ_INT(parse("{\"prompt\":[[1,2],[3]]}", SB_OAI_COMPLETION, &r, &e), 0);
    SB_CHECK(r.n_prompts == 2 && r.prompts[1].n_tokens == 1);
    sb_oai_request_free(&r);
    expect_bad("{}", SB_OAI_COMPLETION, "prompt");
    expect_bad("{\"prompt\":5}", SB_OAI_COMPLETION, "prompt");
    expect_bad("{\"prompt\":[]}", SB_OAI_COMPLETION, "prompt");
    expect_bad("{\"prompt\":[\"a\",[1]]}", SB_OAI_COMPLETION, "prompt[1]");
    expect_bad("{\"prompt\":[1,\"a\"]}", SB_OAI_COMPLETION, "prompt");
    expect_bad("{\"prompt\":[1,-2]}", SB_OAI_COMPLETION, "prompt");
    expect_bad("{\"prompt\":[[1],[2.5]]}", SB_OAI_COMPLETION, "prompt[1]");
    expect_bad("{\"prompt\":\"a\",\"logprobs\":6}", SB_OAI_COMPLETION, "logprobs");
}

static void test_json_guard(void) {
    sb_error err;
    json_t *j = NULL;
    char deep[300];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = 0;
    SB_CHECK_EQ_INT(sb_srv_json_check(deep, 200, 64, 100, &err), SB_ERR_LIMIT);
    SB_CHECK_EQ_INT(sb_srv_json_check(deep, 200, 128, 100, &err), SB_OK);
    const char *brackets_in_string = "{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[\"}";
    SB_CHECK_EQ_INT(sb_srv_json_check(brackets_in_string, strlen(brackets_in_string), 2, 100, &err), SB_OK);
    SB_CHECK_EQ_INT(sb_srv_json_check("{\"a\":\"0123456789\"}", 17, 4, 5, &err), SB_ERR_LIMIT);
    SB_CHECK_EQ_INT(sb_srv_json_parse("[1]", 3, 8, 8, &j, &err), SB_ERR_FORMAT);
    SB_CHECK_EQ_INT(sb_srv_json_parse("{\"a\":1} x", 9, 8, 8, &j, &err), SB_ERR_FORMAT);
    SB_CHECK_EQ_INT(sb_srv_json_parse("", 0, 8, 8, &j, &err), SB_ERR_FORMAT);
    SB_CHECK_EQ_INT(sb_srv_json_parse("{\"a\":99999999999999999999999}", 29, 8, 64, &j, &err), SB_ERR_FORMAT);
    SB_CHECK_EQ_INT(sb_srv_json_parse("{\"a\":\"\\u0000\"}", 14, 8, 64, &j, &err), SB_ERR_FORMAT);
    SB_CHECK_EQ_INT(sb_srv_json_parse("{\"a\":1}", 7, 8, 8, &j, &err), SB_OK);
    json_decref(j);
}

static void dummy(sb_http_req *req, void *ud) { (void)req, (void)ud; }
static void dummy2(sb_http_req *req, void *ud) { (void)req, (void)ud; }

static void test_router(void) {
    sb_router r;
    sb_router_init(&r);
    SB_CHECK_EQ_INT(sb_router_add(&r, "POST", "/v1/chat/completions", false, NULL, dummy, NULL, NULL), SB_OK);
    SB_CHECK_EQ_INT(sb_router_add(&r, "GET", "/v1/models/", true, "/v1/models/{id}", dummy, NULL, NULL), SB_OK);
    SB_CHECK_EQ_INT(sb_router_add(&r, "GET", "/", false, NULL, dummy, NULL, NULL), SB_OK);
    SB_CHECK_EQ_INT(sb_router_add(&r, NULL, "/ui/", true, NULL, dummy, NULL, NULL), SB_OK);
    SB_CHECK(sb_router_add(&r, "GET", "nope", false, NULL, dummy, NULL, NULL) != SB_OK);
    const sb_route *x;
    char allow[64];
    SB_CHECK_EQ_INT(sb_router_find(&r, "POST", "/v1/chat/completions", &x, allow, sizeof allow), SB_ROUTE_FOUND);
    SB_CHECK_EQ_INT(sb_router_find(&r, "GET", "/v1/chat/completions", &x, allow, sizeof allow), SB_ROUTE_NO_METHOD);
    SB_CHECK_STR(allow, "POST");
    SB_CHECK_EQ_INT(sb_router_find(&r, "GET", "/v1/models/abc", &x, allow, sizeof allow), SB_ROUTE_FOUND);
    SB_CHECK_STR(x->label, "/v1/models/{id}");
    SB_CHECK_EQ_INT(sb_router_find(&r, "HEAD", "/", &x, allow, sizeof allow), SB_ROUTE_FOUND);
    SB_CHECK_EQ_INT(sb_router_find(&r, "GET", "/nothing", &x, allow, sizeof allow), SB_ROUTE_NO_PATH);
    SB_CHECK_EQ_INT(sb_router_find(&r, "DELETE", "/ui/x", &x, allow, sizeof allow), SB_ROUTE_FOUND);
    /* re-registering replaces (the web UI taking over "/") */
    SB_CHECK_EQ_INT(sb_router_add(&r, "GET", "/", false, NULL, dummy2, NULL, NULL), SB_OK);
    SB_CHECK_EQ_INT(sb_router_find(&r, "GET", "/", &x, allow, sizeof allow), SB_ROUTE_FOUND);
    SB_CHECK(x->fn == dummy2);
    sb_router_free(&r);
}

int main(void) {
    SB_RUN(test_chat_ok);
    SB_RUN(test_chat_defaults);
    SB_RUN(test_chat_bad_fields);
    SB_RUN(test_completions);
    SB_RUN(test_json_guard);
    SB_RUN(test_router);
    return sb_test_finish();
}
