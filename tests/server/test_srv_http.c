/*
 * test_srv_http.c - the whole HTTP server over real sockets, with the fake
 * engine behind it: every endpoint, OpenAI shapes, streaming, errors and
 * their statuses, Host/Origin/CORS checks, queue-full back-pressure,
 * disconnect cancellation (< 200 ms), 32 concurrent streams and graceful
 * shutdown.
 */
#define _GNU_SOURCE
#include "fake_engine.h"
#include "http_client.h"
#include "sb_server.h"
#include "sb_test.h"
#include "sb_time.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static sb_server *g_srv;
static sb_srv_model *g_model;
static int g_port;

static const char *CHAT_HI = "{\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]";

/* Starts a server with one fake model on a free port. */
static sb_server *start_server(const fake_config *fc, size_t max_body, const char *cors, sb_srv_model **model,
                               int *port) {
    const char *origins[1] = {cors};
    sb_server_config cfg = {.host = "127.0.0.1", .port = 0, .max_body = max_body, .timeout_s = 10,
                            .cors_origins = origins, .n_cors_origins = cors ? 1 : 0};
    sb_server *s = NULL;
    sb_error err;
    if (sb_server_create(&cfg, &s, &err) != SB_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return NULL;
    }
    int slot = sb_server_declare_model(s, "fake");
    if (sb_server_start(s, &err) != SB_OK) {
        fprintf(stderr, "start: %s\n", err.msg);
        sb_server_free(s);
        return NULL;
    }
    *model = fake_model_create(fc);
    sb_server_attach_model(s, slot, *model);
    sb_server_set_loaded(s);
    *port = sb_server_port(s);
    return s;
}

/* POSTs JSON and parses the JSON answer (NULL if not JSON). */
static json_t *post(const char *path, const char *body, int *status) {
    hc_response r;
    *status = -1;
    if (hc_request(g_port, "POST", path, NULL, body, &r) != 0)
        return NULL;
    *status = r.status;
    json_t *j = json_loads(r.body, 0, NULL);
    hc_response_free(&r);
    return j;
}

/* Checks the OpenAI error shape and its param. */
static void check_error(json_t *j, const char *type, const char *param) {
    json_t *e = json_object_get(j, "error");
    SB_CHECKF(json_is_object(e), "no error object");
    SB_CHECK(json_is_string(json_object_get(e, "message")));
    SB_CHECK_STR(json_string_value(json_object_get(e, "type")), type);
    json_t *p = json_object_get(e, "param");
    if (param)
        SB_CHECKF(json_is_string(p) && strcmp(json_string_value(p), param) == 0, "param %s, expected %s",
                  json_is_string(p) ? json_string_value(p) : "null", param);
    SB_CHECK(json_object_get(e, "code") != NULL);
}

static void test_health_models(void) {
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/health", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    SB_CHECK(strstr(r.body, "\"status\":\"ok\"") != NULL);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/v1/models", NULL, NULL, &r), 0);
    json_t *j = json_loads(r.body, 0, NULL);
    SB_CHECK_STR(json_string_value(json_object_get(j, "object")), "list");
    SB_CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(j, "data"), 0), "id")), "fake");
    json_decref(j);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/v1/models/fake", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/v1/models/nope", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 404);
    j = json_loads(r.body, 0, NULL);
    check_error(j, "invalid_request_error", "model");
    json_decref(j);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/", NULL, NULL, &r), 0);
    SB_CHECK(r.status == 200 && strstr(r.body, "Solebox") != NULL);
    hc_response_free(&r);
}

static void test_chat_plain(void) {
    int st;
    char body[512];
    snprintf(body, sizeof body, "%s,\"max_tokens\":10,\"model\":\"fake\"}", CHAT_HI);
    json_t *j = post("/v1/chat/completions", body, &st);
    SB_CHECK_EQ_INT(st, 200);
    SB_CHECK_STR(json_string_value(json_object_get(j, "object")), "chat.completion");
    SB_CHECK(strncmp(json_string_value(json_object_get(j, "id")), "chatcmpl-", 9) == 0);
    SB_CHECK(json_is_integer(json_object_get(j, "created")));
    SB_CHECK_STR(json_string_value(json_object_get(j, "model")), "fake");
    json_t *c = json_array_get(json_object_get(j, "choices"), 0);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(c, "index")), 0);
    SB_CHECK_STR(json_string_value(json_object_get(json_object_get(c, "message"), "role")), "assistant");
    SB_CHECK_STR(json_string_value(json_object_get(json_object_get(c, "message"), "content")), "Once upon ");
    SB_CHECK_STR(json_string_value(json_object_get(c, "finish_reason")), "length");
    json_t *u = json_object_get(j, "usage");
    /* "user: hi\nassistant:" is 19 bytes + BOS */
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(u, "prompt_tokens")), 20);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(u, "completion_tokens")), 10);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(u, "total_tokens")), 30);
    SB_CHECK(json_is_integer(json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens")));
    json_t *t = json_object_get(j, "timings");
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(t, "predicted_n")), 10);
    SB_CHECK(json_is_number(json_object_get(t, "predicted_per_second")));
    json_decref(j);
}

/* Splits an SSE body into its data payloads; checks framing. Returns the
 * number of events; *done tells whether [DONE] closed it. */
static int sse_events(const char *body, json_t **events, int cap, bool *done) {
    int n = 0;
    *done = false;
    const char *p = body;
    while (*p) {
        const char *end = strstr(p, "\n\n");
        if (!end)
            break;
        SB_CHECK(strncmp(p, "data: ", 6) == 0);
        if (strncmp(p + 6, "[DONE]", 6) == 0) {
            *done = true;
            SB_CHECK(end[2] == 0);
            break;
        }
        if (n < cap)
            events[n] = json_loadb(p + 6, (size_t)(end - p - 6), 0, NULL);
        n++;
        p = end + 2;
    }
    return n;
}

static void test_chat_stream(void) {
    char body[512];
    snprintf(body, sizeof body,
             "%s,\"max_tokens\":40,\"stream\":true,\"stream_options\":{\"include_usage\":true}}", CHAT_HI);
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "POST", "/v1/chat/completions", NULL, body, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    char ct[64];
    SB_CHECK(hc_header(&r, "Content-Type", ct, sizeof ct) == 0 && strcmp(ct, "text/event-stream") == 0);
    json_t *ev[256] = {0};
    bool done;
    int n = sse_events(r.body, ev, 256, &done);
    SB_CHECK(done);
    SB_CHECK(n >= 3 && n <= 256);
    char text[256] = "";
    int finishes = 0, pieces = 0;
    for (int i = 0; i < n && i < 256; i++) {
        SB_CHECK(ev[i] != NULL);
        SB_CHECK_STR(json_string_value(json_object_get(ev[i], "object")), "chat.completion.chunk");
        json_t *choices = json_object_get(ev[i], "choices");
        if (i == n - 1) { /* the usage chunk */
            SB_CHECK_EQ_INT(json_array_size(choices), 0);
            SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(ev[i], "usage"), "completion_tokens")),
                            40);
            continue;
        }
        json_t *delta = json_object_get(json_array_get(choices, 0), "delta");
        if (i == 0)
            SB_CHECK_STR(json_string_value(json_object_get(delta, "role")), "assistant");
        const char *piece = json_string_value(json_object_get(delta, "content"));
        if (piece) {
            SB_CHECK(strstr(piece, "\xef\xbf\xbd") == NULL); /* never a split character */
            strncat(text, piece, sizeof text - strlen(text) - 1);
            pieces += piece[0] != '\0';
        }
        json_t *fr = json_object_get(json_array_get(choices, 0), "finish_reason");
        if (json_is_string(fr)) {
            finishes++;
            SB_CHECK_STR(json_string_value(fr), "length");
        }
    }
    SB_CHECK_EQ_INT(finishes, 1);
    SB_CHECK_STR(text, "Once upon a time there was a caf\xc3\xa9 by th"); /* 40 bytes */
    /* a chunk per token however late the HTTP side pulls (the two bytes of
     * the e-acute make one piece) */
    SB_CHECK_EQ_INT(pieces, 39);
    for (int i = 0; i < n && i < 256; i++)
        json_decref(ev[i]);
    hc_response_free(&r);
}

static void test_stop_n_seed_logprobs(void) {
    int st;
    char body[512];
    snprintf(body, sizeof body, "%s,\"max_tokens\":30,\"stop\":[\"time\",\"zzz\"]}", CHAT_HI);
    json_t *j = post("/v1/chat/completions", body, &st);
    json_t *c = json_array_get(json_object_get(j, "choices"), 0);
    SB_CHECK_STR(json_string_value(json_object_get(json_object_get(c, "message"), "content")), "Once upon a ");
    SB_CHECK_STR(json_string_value(json_object_get(c, "finish_reason")), "stop");
    json_decref(j);

    snprintf(body, sizeof body, "%s,\"max_tokens\":5,\"n\":2}", CHAT_HI);
    j = post("/v1/chat/completions", body, &st);
    json_t *choices = json_object_get(j, "choices");
    SB_CHECK_EQ_INT(json_array_size(choices), 2);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(choices, 1), "index")), 1);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens")), 10);
    json_decref(j);

    char first[128] = "";
    for (int k = 0; k < 2; k++) {
        snprintf(body, sizeof body, "%s,\"max_tokens\":12,\"temperature\":1,\"seed\":1234}", CHAT_HI);
        j = post("/v1/chat/completions", body, &st);
        const char *txt = json_string_value(
            json_object_get(json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"), "content"));
        SB_CHECK(txt != NULL);
        if (k == 0 && txt)
            snprintf(first, sizeof first, "%s", txt);
        else if (txt)
            SB_CHECK_STR(txt, first);
        json_decref(j);
    }

    snprintf(body, sizeof body, "%s,\"max_tokens\":4,\"logprobs\":true,\"top_logprobs\":2}", CHAT_HI);
    j = post("/v1/chat/completions", body, &st);
    json_t *lp = json_object_get(json_array_get(json_object_get(j, "choices"), 0), "logprobs");
    json_t *content = json_object_get(lp, "content");
    SB_CHECK_EQ_INT(json_array_size(content), 4);
    json_t *e0 = json_array_get(content, 0);
    SB_CHECK_STR(json_string_value(json_object_get(e0, "token")), "O");
    SB_CHECK(json_is_real(json_object_get(e0, "logprob")));
    SB_CHECK_EQ_INT(json_array_size(json_object_get(e0, "bytes")), 1);
    SB_CHECK_EQ_INT(json_array_size(json_object_get(e0, "top_logprobs")), 2);
    json_decref(j);
}

static void test_completions(void) {
    int st;
    json_t *j = post("/v1/completions", "{\"prompt\":\"abc\",\"max_tokens\":4,\"logprobs\":1,\"temperature\":0}", &st);
    SB_CHECK_EQ_INT(st, 200);
    SB_CHECK_STR(json_string_value(json_object_get(j, "object")), "text_completion");
    json_t *c = json_array_get(json_object_get(j, "choices"), 0);
    SB_CHECK_STR(json_string_value(json_object_get(c, "text")), "Once");
    json_t *lp = json_object_get(c, "logprobs");
    SB_CHECK_EQ_INT(json_array_size(json_object_get(lp, "tokens")), 4);
    SB_CHECK_EQ_INT(json_array_size(json_object_get(lp, "text_offset")), 4);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "usage"), "prompt_tokens")), 4);
    json_decref(j);
    j = post("/v1/completions", "{\"prompt\":[\"a\",\"bb\"],\"max_tokens\":2,\"n\":2}", &st);
    SB_CHECK_EQ_INT(json_array_size(json_object_get(j, "choices")), 4);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "usage"), "prompt_tokens")), 2 + 3);
    json_decref(j);
    j = post("/v1/completions", "{\"prompt\":[[70,71],[72]],\"max_tokens\":1}", &st);
    SB_CHECK_EQ_INT(st, 200);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "usage"), "prompt_tokens")), 3);
    json_decref(j);
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "POST", "/v1/completions", NULL,
                               "{\"prompt\":\"x\",\"max_tokens\":3,\"stream\":true}", &r),
                    0);
    bool done;
    json_t *ev[16] = {0};
    int n = sse_events(r.body, ev, 16, &done);
    SB_CHECK(done && n >= 2);
    SB_CHECK_STR(json_string_value(json_object_get(ev[0], "object")), "text_completion");
    for (int i = 0; i < n && i < 16; i++)
        json_decref(ev[i]);
    hc_response_free(&r);
}

static void test_tokenize(void) {
    int st;
    json_t *j = post("/tokenize", "{\"content\":\"AB\",\"with_pieces\":true}", &st);
    SB_CHECK_EQ_INT(st, 200);
    json_t *t = json_object_get(j, "tokens");
    SB_CHECK_EQ_INT(json_array_size(t), 2);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(t, 0), "id")), 'A' + 3);
    SB_CHECK_STR(json_string_value(json_object_get(json_array_get(t, 1), "piece")), "B");
    json_decref(j);
    j = post("/detokenize", "{\"tokens\":[68,69]}", &st);
    SB_CHECK_STR(json_string_value(json_object_get(j, "content")), "AB");
    json_decref(j);
    j = post("/detokenize", "{\"tokens\":[99999]}", &st);
    SB_CHECK_EQ_INT(st, 400);
    check_error(j, "invalid_request_error", "tokens");
    json_decref(j);
    j = post("/tokenize", "{\"content\":5}", &st);
    SB_CHECK_EQ_INT(st, 400);
    json_decref(j);
}

/* Every bad input answers its status with the OpenAI error shape. */
static void test_errors(void) {
    struct {
        const char *path, *body;
        int status;
        const char *param;
    } cases[] = {
        {"/v1/chat/completions", "{not json", 400, NULL},
        {"/v1/chat/completions", "[1,2]", 400, NULL},
        {"/v1/chat/completions", "", 400, NULL},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":\"hot\"}", 400,
         "temperature"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"model\":\"gpt-4\"}", 404,
         "model"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":1000}", 400,
         "max_tokens"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"REJECT\"}]}", 400, "messages"},
        {"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"logit_bias\":{\"999\":1}}",
         400, "logit_bias"},
        {"/v1/completions", "{\"prompt\":[1,2,300]}", 400, "prompt"},
        {"/v1/completions", "{\"prompt\":[]}", 400, "prompt"},
        {"/v1/completions", "{\"prompt\":\"x\",\"n\":\"2\"}", 400, "n"},
        {"/v1/nothing", "{}", 404, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int st;
        json_t *j = post(cases[i].path, cases[i].body, &st);
        SB_CHECKF(st == cases[i].status, "%s %s: %d, expected %d", cases[i].path, cases[i].body, st, cases[i].status);
        if (cases[i].status != 404 || cases[i].param)
            check_error(j, st == 404 && !cases[i].param ? "not_found_error" : "invalid_request_error", cases[i].param);
        json_decref(j);
    }
    /* a prompt longer than the context */
    char *big = malloc(2000);
    snprintf(big, 2000, "{\"prompt\":\"%0300d\"}", 7);
    int st;
    json_t *j = post("/v1/completions", big, &st);
    SB_CHECK_EQ_INT(st, 400);
    check_error(j, "invalid_request_error", "prompt");
    json_decref(j);
    free(big);
    /* nesting depth and a body over the cap */
    char deep[1100];
    snprintf(deep, sizeof deep, "{\"messages\":");
    size_t k = strlen(deep);
    for (int i = 0; i < 500; i++)
        deep[k++] = '[';
    deep[k] = 0;
    j = post("/v1/chat/completions", deep, &st);
    SB_CHECK_EQ_INT(st, 400);
    json_decref(j);
    size_t huge_n = 300 * 1024;
    char *huge = malloc(huge_n + 64);
    memset(huge, 'a', huge_n + 64);
    memcpy(huge, "{\"prompt\":\"", 11);
    strcpy(huge + huge_n, "\"}");
    j = post("/v1/completions", huge, &st);
    SB_CHECK_EQ_INT(st, 413);
    check_error(j, "invalid_request_error", NULL);
    json_decref(j);
    free(huge);
    /* wrong method */
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/v1/chat/completions", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 405);
    hc_response_free(&r);
}

static void test_host_origin(void) {
    hc_response r;
    int fd = hc_connect(g_port);
    hc_send(fd, g_port, "GET", "/health", "evil.example.com", NULL, NULL, 0);
    hc_read_response(fd, &r, 5000);
    close(fd);
    SB_CHECK_EQ_INT(r.status, 403);
    SB_CHECK(strstr(r.body, "host_not_allowed") != NULL);
    hc_response_free(&r);
    fd = hc_connect(g_port);
    hc_send(fd, g_port, "GET", "/health", "localhost:1234", NULL, NULL, 0);
    hc_read_response(fd, &r, 5000);
    close(fd);
    SB_CHECK_EQ_INT(r.status, 200);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "POST", "/v1/completions", "Origin: https://evil.example\r\n",
                               "{\"prompt\":\"x\",\"max_tokens\":1}", &r),
                    0);
    SB_CHECK_EQ_INT(r.status, 403);
    char v[128];
    SB_CHECK(hc_header(&r, "Access-Control-Allow-Origin", v, sizeof v) != 0);
    hc_response_free(&r);
    /* a second server with CORS for one origin */
    sb_srv_model *m2;
    int port2;
    sb_server *s2 = start_server(NULL, 0, "https://app.example", &m2, &port2);
    SB_CHECK(s2 != NULL);
    if (!s2)
        return;
    SB_CHECK_EQ_INT(hc_request(port2, "OPTIONS", "/v1/chat/completions",
                               "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n"
                               "Access-Control-Request-Headers: authorization, content-type\r\n",
                               NULL, &r),
                    0);
    SB_CHECK_EQ_INT(r.status, 204);
    SB_CHECK(hc_header(&r, "Access-Control-Allow-Origin", v, sizeof v) == 0 && strcmp(v, "https://app.example") == 0);
    SB_CHECK(hc_header(&r, "Access-Control-Allow-Headers", v, sizeof v) == 0);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(port2, "POST", "/v1/completions", "Origin: https://app.example\r\n",
                               "{\"prompt\":\"x\",\"max_tokens\":1}", &r),
                    0);
    SB_CHECK_EQ_INT(r.status, 200);
    SB_CHECK(hc_header(&r, "Access-Control-Allow-Origin", v, sizeof v) == 0);
    hc_response_free(&r);
    sb_server_shutdown(s2, 100);
    sb_server_free(s2);
}

static void test_metrics(void) {
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/metrics", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    SB_CHECK(strstr(r.body, "solebox_requests_total{endpoint=\"/v1/chat/completions\",status=\"200\"}") != NULL);
    SB_CHECK(strstr(r.body, "solebox_requests_total{endpoint=\"/v1/chat/completions\",status=\"400\"}") != NULL);
    SB_CHECK(strstr(r.body, "solebox_generated_tokens_total{model=\"fake\"}") != NULL);
    SB_CHECK(strstr(r.body, "solebox_time_to_first_token_seconds_bucket{le=\"+Inf\"}") != NULL);
    SB_CHECK(strstr(r.body, "solebox_inter_token_latency_seconds_count") != NULL);
    SB_CHECK(strstr(r.body, "solebox_kv_cache_pages_used{model=\"fake\"}") != NULL);
    SB_CHECK(strstr(r.body, "solebox_requests_queued{model=\"fake\"}") != NULL);
    SB_CHECK(strstr(r.body, "solebox_tokens_per_second") != NULL);
    hc_response_free(&r);
}

/* Waits until the fake model has nothing active or queued; returns the
 * milliseconds it took (or -1 after limit_ms). */
static double wait_idle(sb_srv_model *m, int limit_ms) {
    uint64_t t0 = sb_now_ns();
    for (;;) {
        fake_counters c;
        fake_model_counters(m, &c);
        double ms = (double)(sb_now_ns() - t0) / 1e6;
        if (c.active == 0 && c.queued == 0)
            return ms;
        if (ms > limit_ms)
            return -1;
        usleep(1000);
    }
}

/* One round of test_cancel: a streamed request runs and a second waits in
 * the queue; both clients leave. Returns the milliseconds until the fake
 * model is idle again (-1 if it never was within 2 s). */
static double cancel_round(sb_srv_model *m, int port) {
    const char *body = "{\"prompt\":\"x\",\"max_tokens\":2000,\"stream\":true}";
    int a = hc_connect(port), b = hc_connect(port);
    hc_send(a, port, "POST", "/v1/completions", NULL, NULL, body, strlen(body));
    char buf[4096];
    SB_CHECK(hc_read_some(a, buf, sizeof buf, 2000) > 0);
    usleep(50000);
    hc_send(b, port, "POST", "/v1/completions", NULL, NULL, body, strlen(body));
    usleep(100000);
    fake_counters c;
    fake_model_counters(m, &c);
    SB_CHECK_EQ_INT(c.active, 1);
    SB_CHECK_EQ_INT(c.queued, 1);
    close(b); /* leaves while queued */
    close(a); /* leaves mid-stream */
    return wait_idle(m, 2000);
}

/* Sorts three figures and returns the middle one. */
static double median3(double v[3]) {
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2 - i; j++)
            if (v[j] > v[j + 1]) {
                double t = v[j];
                v[j] = v[j + 1];
                v[j + 1] = t;
            }
    return v[1];
}

/* A client that leaves mid-stream frees its sequence within 200 ms; so
 * does one that leaves while its request waits in the queue. The bound is
 * checked on the median of three rounds: on a shared 2-core machine one
 * round can lose a few hundred ms to another process. A round that never
 * frees (2 s) fails on its own. */
static void test_cancel(void) {
    sb_srv_model *m;
    int port;
    fake_config fc = {.parallel = 1, .queue_cap = 4, .token_delay_us = 20000, .n_ctx = 4096};
    sb_server *s = start_server(&fc, 0, NULL, &m, &port);
    if (!s)
        return;
    double ms[3];
    for (int i = 0; i < 3; i++) {
        ms[i] = cancel_round(m, port);
        SB_CHECKF(ms[i] >= 0, "round %d: sequences never freed", i);
    }
    fprintf(stderr, "  disconnect -> freed in %.1f, %.1f, %.1f ms\n", ms[0], ms[1], ms[2]);
    double mid = median3(ms);
    SB_CHECKF(mid < 200, "sequences freed after a median %.1f ms", mid);
    fake_counters c;
    fake_model_counters(m, &c);
    SB_CHECK_EQ_INT(c.cancelled, 6);
    /* a non-streamed request whose client leaves is cancelled too */
    const char *plain = "{\"prompt\":\"x\",\"max_tokens\":2000}";
    for (int i = 0; i < 3; i++) {
        int a = hc_connect(port);
        hc_send(a, port, "POST", "/v1/completions", NULL, NULL, plain, strlen(plain));
        usleep(100000);
        close(a);
        ms[i] = wait_idle(m, 2000);
        SB_CHECKF(ms[i] >= 0, "round %d: non-streamed request never freed", i);
    }
    mid = median3(ms);
    SB_CHECKF(mid < 200, "non-streamed request freed after a median %.1f ms", mid);
    sb_server_shutdown(s, 100);
    sb_server_free(s);
}

/* A full queue answers 503 with Retry-After. */
static void test_busy(void) {
    sb_srv_model *m;
    int port;
    fake_config fc = {.parallel = 1, .queue_cap = 1, .token_delay_us = 20000, .n_ctx = 4096};
    sb_server *s = start_server(&fc, 0, NULL, &m, &port);
    if (!s)
        return;
    const char *body = "{\"prompt\":\"x\",\"max_tokens\":50,\"stream\":true}";
    int fds[2];
    for (int i = 0; i < 2; i++) {
        fds[i] = hc_connect(port);
        hc_send(fds[i], port, "POST", "/v1/completions", NULL, NULL, body, strlen(body));
        usleep(50000);
    }
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(port, "POST", "/v1/completions", NULL, body, &r), 0);
    SB_CHECK_EQ_INT(r.status, 503);
    char v[32];
    SB_CHECK(hc_header(&r, "Retry-After", v, sizeof v) == 0);
    SB_CHECK(strstr(r.body, "\"type\":\"server_error\"") != NULL);
    hc_response_free(&r);
    for (int i = 0; i < 2; i++) {
        SB_CHECK_EQ_INT(hc_read_response(fds[i], &r, 10000), 0);
        SB_CHECK(strstr(r.body, "data: [DONE]") != NULL);
        hc_response_free(&r);
        close(fds[i]);
    }
    sb_server_shutdown(s, 100);
    sb_server_free(s);
}

typedef struct stream_result {
    int port;
    bool ok;
    int tokens;
} stream_result;

/* One streaming client: every stream must be complete and well formed. */
static void *stream_client(void *arg) {
    stream_result *sr = arg;
    hc_response r;
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"go\"}],\"max_tokens\":64,\"stream\":true,"
                       "\"stream_options\":{\"include_usage\":true}}";
    if (hc_request(sr->port, "POST", "/v1/chat/completions", NULL, body, &r) != 0)
        return NULL;
    json_t *ev[512] = {0};
    bool done;
    int n = sse_events(r.body, ev, 512, &done);
    sr->ok = r.status == 200 && done && n >= 3 && n < 512;
    for (int i = 0; i < n && i < 512; i++) {
        if (!ev[i])
            sr->ok = false;
        json_t *u = json_object_get(ev[i], "usage");
        if (json_is_object(u))
            sr->tokens = (int)json_integer_value(json_object_get(u, "completion_tokens"));
        json_decref(ev[i]);
    }
    hc_response_free(&r);
    return NULL;
}

static void test_concurrent_streams(void) {
    enum { N = 32 };
    pthread_t th[N];
    stream_result res[N];
    for (int i = 0; i < N; i++) {
        res[i] = (stream_result){g_port, false, 0};
        pthread_create(&th[i], NULL, stream_client, &res[i]);
    }
    int ok = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ok += res[i].ok && res[i].tokens == 64;
    }
    SB_CHECK_EQ_INT(ok, N);
}

typedef struct shut_arg {
    int port;
    char *body;
} shut_arg;

static void *shut_client(void *arg) {
    shut_arg *a = arg;
    hc_response r;
    if (hc_request(a->port, "POST", "/v1/completions", NULL, "{\"prompt\":\"x\",\"max_tokens\":100000,\"stream\":true}",
                   &r) == 0) {
        a->body = strdup(r.body);
        hc_response_free(&r);
    }
    return NULL;
}

/* Shutdown with streams in flight: new connections are refused, the
 * streams are cancelled after the grace period and end, all within 5 s. */
static void test_shutdown(void) {
    sb_srv_model *m;
    int port;
    fake_config fc = {.parallel = 4, .token_delay_us = 5000, .n_ctx = 200000};
    sb_server *s = start_server(&fc, 0, NULL, &m, &port);
    if (!s)
        return;
    pthread_t th[3];
    shut_arg args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (shut_arg){port, NULL};
        pthread_create(&th[i], NULL, shut_client, &args[i]);
    }
    usleep(200000);
    uint64_t t0 = sb_now_ns();
    sb_server_shutdown(s, 300);
    double ms = (double)(sb_now_ns() - t0) / 1e6;
    SB_CHECKF(ms < 2000, "shutdown took %.0f ms", ms);
    SB_CHECK(hc_connect(port) < 0);
    sb_server_free(s);
    double total = (double)(sb_now_ns() - t0) / 1e6;
    SB_CHECKF(total < 5000, "shutdown + free took %.0f ms", total);
    fprintf(stderr, "  shutdown %.0f ms, with free %.0f ms\n", ms, total);
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        SB_CHECK(args[i].body != NULL && strstr(args[i].body, "data: ") != NULL);
        free(args[i].body);
    }
}

/* Before loading ends /health is 503 loading; with no model it says how
 * to add one. */
static void test_health_states(void) {
    sb_server_config cfg = {.host = "127.0.0.1", .port = 0, .no_model_hint = "add one with -m"};
    sb_server *s = NULL;
    sb_error err;
    SB_CHECK_EQ_INT(sb_server_create(&cfg, &s, &err), SB_OK);
    SB_CHECK_EQ_INT(sb_server_start(s, &err), SB_OK);
    int port = sb_server_port(s);
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(port, "GET", "/health", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 503);
    SB_CHECK(strstr(r.body, "\"status\":\"loading\"") != NULL);
    hc_response_free(&r);
    sb_server_set_loaded(s);
    SB_CHECK_EQ_INT(hc_request(port, "GET", "/health", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 503);
    SB_CHECK(strstr(r.body, "add one with -m") != NULL);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(port, "POST", "/v1/completions", NULL, "{\"prompt\":\"x\"}", &r), 0);
    SB_CHECK_EQ_INT(r.status, 503);
    hc_response_free(&r);
    sb_server_shutdown(s, 100);
    sb_server_free(s);
}

/* An idle connection is closed after the configured timeout. */
static void test_idle_timeout(void) {
    sb_server_config cfg = {.host = "127.0.0.1", .port = 0, .timeout_s = 1};
    sb_server *s = NULL;
    sb_error err;
    SB_CHECK_EQ_INT(sb_server_create(&cfg, &s, &err), SB_OK);
    SB_CHECK_EQ_INT(sb_server_start(s, &err), SB_OK);
    int fd = hc_connect(sb_server_port(s));
    SB_CHECK(fd >= 0);
    const char partial[] = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"; /* never finished */
    SB_CHECK(write(fd, partial, sizeof partial - 1) == (ssize_t)(sizeof partial - 1));
    uint64_t t0 = sb_now_ns();
    char buf[256];
    long k = hc_read_some(fd, buf, sizeof buf, 5000);
    double ms = (double)(sb_now_ns() - t0) / 1e6;
    SB_CHECKF(k == 0 && ms > 500 && ms < 4000, "read %ld after %.0f ms (expected EOF after ~1 s)", k, ms);
    close(fd);
    sb_server_shutdown(s, 100);
    sb_server_free(s);
}

int main(void) {
    fake_config fc = {.n_ctx = 256, .parallel = 8, .queue_cap = 64, .token_delay_us = 500};
    g_srv = start_server(&fc, 256 * 1024, NULL, &g_model, &g_port);
    if (!g_srv) {
        fprintf(stderr, "cannot start the server\n");
        return 1;
    }
    SB_RUN(test_health_models);
    SB_RUN(test_chat_plain);
    SB_RUN(test_chat_stream);
    SB_RUN(test_stop_n_seed_logprobs);
    SB_RUN(test_completions);
    SB_RUN(test_tokenize);
    SB_RUN(test_errors);
    SB_RUN(test_host_origin);
    SB_RUN(test_concurrent_streams);
    SB_RUN(test_metrics);
    SB_RUN(test_cancel);
    SB_RUN(test_busy);
    SB_RUN(test_health_states);
    SB_RUN(test_idle_timeout);
    SB_RUN(test_shutdown);
    sb_server_shutdown(g_srv, 500);
    sb_server_free(g_srv);
    return sb_test_finish();
}
