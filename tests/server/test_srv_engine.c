/*
 * test_srv_engine.c - the real engine adapter behind the server, on
 * stories260K (skipped when the shared model is absent): a chat, a stream
 * with logprobs, n=2, prefix reuse, a cancelled stream, and shutdown with
 * a request in flight. Under ASan this covers the adapter's event
 * delivery and its teardown.
 */
#include "http_client.h"
#include "sb_server.h"
#include "sb_test.h"
#include "srv_engine_adapter.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int g_port;

/* POSTs and parses a JSON reply. */
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

static void test_chat(void) {
    int st;
    json_t *j = post("/v1/chat/completions",
                     "{\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":12,"
                     "\"temperature\":0,\"logit_bias\":{\"2\":-100},\"n\":2}",
                     &st);
    SB_CHECK_EQ_INT(st, 200);
    json_t *ch = json_object_get(j, "choices");
    SB_CHECK_EQ_INT(json_array_size(ch), 2);
    const char *a = json_string_value(json_object_get(json_object_get(json_array_get(ch, 0), "message"), "content"));
    const char *b = json_string_value(json_object_get(json_object_get(json_array_get(ch, 1), "message"), "content"));
    SB_CHECK(a && b && strcmp(a, b) == 0); /* greedy: both choices agree */
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(j, "usage"), "completion_tokens")), 24);
    json_decref(j);
}

static void test_stream_logprobs(void) {
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "POST", "/v1/completions", NULL,
                               "{\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0,\"stream\":true,"
                               "\"logprobs\":3,\"logit_bias\":{\"2\":-100}}",
                               &r),
                    0);
    SB_CHECK_EQ_INT(r.status, 200);
    SB_CHECK(strstr(r.body, "\"token_logprobs\":[") != NULL);
    SB_CHECK(strstr(r.body, "data: [DONE]\n\n") != NULL);
    hc_response_free(&r);
}

static void test_prefix_reuse(void) {
    const char *body = "{\"prompt\":\"Once upon a time there was a little girl named Lily. She loved to play outside "
                       "in the park with her friends every day.\",\"max_tokens\":2,\"temperature\":0}";
    int st;
    json_t *j = post("/v1/completions", body, &st);
    json_decref(j);
    j = post("/v1/completions", body, &st);
    json_t *d = json_object_get(json_object_get(j, "usage"), "prompt_tokens_details");
    SB_CHECKF(json_integer_value(json_object_get(d, "cached_tokens")) > 0, "no cached tokens on the repeat");
    json_decref(j);
}

static void test_cancel(void) {
    int fd = hc_connect(g_port);
    const char *body = "{\"prompt\":\"Once\",\"max_tokens\":1500,\"stream\":true,\"logit_bias\":{\"2\":-100}}";
    hc_send(fd, g_port, "POST", "/v1/completions", NULL, NULL, body, strlen(body));
    char buf[2048];
    SB_CHECK(hc_read_some(fd, buf, sizeof buf, 5000) > 0);
    close(fd);
    usleep(300000);
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/metrics", NULL, NULL, &r), 0);
    SB_CHECK(strstr(r.body, "solebox_requests_active{model=\"stories260K\"} 0") != NULL);
    hc_response_free(&r);
}

int main(void) {
    const char *model = sb_test_require_shared("models/stories260K.gguf");
    char path[4096];
    snprintf(path, sizeof path, "%s", model);
    sb_server_config cfg = {.host = "127.0.0.1", .port = 0};
    sb_server *s = NULL;
    sb_error err = {0};
    SB_CHECK_EQ_INT(sb_server_create(&cfg, &s, &err), SB_OK);
    int slot = sb_server_declare_model(s, "stories260K");
    if (!s || slot < 0 || sb_server_start(s, &err) != SB_OK) {
        fprintf(stderr, "server: %s\n", err.msg);
        sb_server_free(s);
        return 1;
    }
    SB_CHECK_EQ_INT(sb_server_declare_model(s, "late"), -1); /* the slot table is fixed once started */
    sb_srv_engine_opts eo = {.model_path = path, .n_threads = 2, .parallel = 4, .n_ctx = 2048};
    sb_srv_model *m = NULL;
    if (sb_srv_engine_load(&eo, &m, NULL, 0, &err) != SB_OK) {
        fprintf(stderr, "load: %s\n", err.msg);
        sb_server_free(s);
        return 1;
    }
    sb_server_attach_model(s, slot, m);
    sb_server_set_loaded(s);
    g_port = sb_server_port(s);
    SB_RUN(test_chat);
    SB_RUN(test_stream_logprobs);
    SB_RUN(test_prefix_reuse);
    SB_RUN(test_cancel);
    /* shutdown with a request in flight: cancelled, everything freed */
    int fd = hc_connect(g_port);
    const char *body = "{\"prompt\":\"Once\",\"max_tokens\":1500,\"stream\":true,\"logit_bias\":{\"2\":-100}}";
    hc_send(fd, g_port, "POST", "/v1/completions", NULL, NULL, body, strlen(body));
    char buf[2048];
    SB_CHECK(hc_read_some(fd, buf, sizeof buf, 5000) > 0);
    sb_server_shutdown(s, 100);
    sb_server_free(s);
    close(fd);
    return sb_test_finish();
}
