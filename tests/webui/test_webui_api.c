/*
 * test_webui_api.c - the web UI's HTTP side over real sockets: the
 * embedded page with its headers and caching, every /api/ endpoint with
 * its statuses (bad input is 4xx, never 500), the model list with a
 * calibration run on the fake engine, a history store that cannot be
 * opened (503, page still served), and the cross-origin guard.
 */
#define _GNU_SOURCE
#include "fake_engine.h"
#include "http_client.h"
#include "sb_server.h"
#include "sb_test.h"
#include "webui.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int g_port;

/* A server with one fake model and the web UI on data_dir; cors: an
 * allowed origin (or NULL). */
static sb_server *start(const char *data_dir, const char *cors, sb_webui **ui, int *port) {
    const char *origins[1] = {cors};
    sb_server_config cfg = {.host = "127.0.0.1", .port = 0, .timeout_s = 10, .cors_origins = origins,
                            .n_cors_origins = cors ? 1 : 0};
    sb_server *s = NULL;
    sb_error err = {0};
    if (sb_server_create(&cfg, &s, &err) != SB_OK) {
        fprintf(stderr, "create: %s\n", err.msg);
        return NULL;
    }
    sb_webui_config wc = {.data_dir = data_dir};
    if (sb_webui_attach(s, &wc, ui, &err) != SB_OK) {
        fprintf(stderr, "webui: %s\n", err.msg);
        sb_server_free(s);
        return NULL;
    }
    int slot = sb_server_declare_model(s, "fake");
    if (sb_server_start(s, &err) != SB_OK) {
        fprintf(stderr, "start: %s\n", err.msg);
        sb_server_free(s);
        sb_webui_free(*ui);
        return NULL;
    }
    fake_config fc = {.n_ctx = 256, .token_delay_us = 200};
    sb_server_attach_model(s, slot, fake_model_create(&fc));
    sb_server_set_loaded(s);
    *port = sb_server_port(s);
    return s;
}

/* A request with an optional JSON body; the answer parsed as JSON (NULL
 * if it is not JSON). */
static json_t *call(const char *method, const char *path, const char *body, int *status) {
    hc_response r;
    *status = -1;
    if (hc_request(g_port, method, path, body ? "Content-Type: application/json\r\n" : NULL, body, &r) != 0)
        return NULL;
    *status = r.status;
    json_t *j = json_loads(r.body, 0, NULL);
    hc_response_free(&r);
    return j;
}

/* A request whose answer must be an error with this status and a message. */
static void expect_error(const char *method, const char *path, const char *body, int want) {
    int status;
    json_t *j = call(method, path, body, &status);
    SB_CHECKF(status == want, "%s %s: %d, expected %d", method, path, status, want);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    SB_CHECKF(msg && *msg, "%s %s: no error message", method, path);
    json_decref(j);
}

static void test_page_and_assets(void) {
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    char v[1024];
    SB_CHECK(hc_header(&r, "Content-Type", v, sizeof v) == 0 && strcmp(v, "text/html; charset=utf-8") == 0);
    SB_CHECK(hc_header(&r, "Content-Security-Policy", v, sizeof v) == 0);
    SB_CHECK(strstr(v, "default-src 'self'") && strstr(v, "connect-src 'self'") && !strstr(v, "unsafe-inline"));
    SB_CHECK(hc_header(&r, "X-Frame-Options", v, sizeof v) == 0 && strcmp(v, "DENY") == 0);
    SB_CHECK(hc_header(&r, "Cache-Control", v, sizeof v) == 0 && strcmp(v, "no-cache") == 0);
    SB_CHECK(strstr(r.body, "<script type=\"module\" src=\"/ui/js/app.js\"></script>") != NULL);
    char etag[128];
    SB_CHECK(hc_header(&r, "ETag", etag, sizeof etag) == 0 && etag[0] == '"');
    hc_response_free(&r);
    char hdr[256];
    snprintf(hdr, sizeof hdr, "If-None-Match: %s\r\n", etag);
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/", hdr, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 304);
    SB_CHECK_EQ_INT(r.body_len, 0);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/ui/js/app.js", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    SB_CHECK(hc_header(&r, "Content-Type", v, sizeof v) == 0 && strcmp(v, "text/javascript; charset=utf-8") == 0);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/ui/app.css", NULL, NULL, &r), 0);
    SB_CHECK(hc_header(&r, "Content-Type", v, sizeof v) == 0 && strcmp(v, "text/css; charset=utf-8") == 0);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "HEAD", "/ui/icon.svg", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    hc_response_free(&r);
    expect_error("GET", "/ui/nope.js", NULL, 404);
    expect_error("GET", "/ui/../etc/passwd", NULL, 404);
    expect_error("POST", "/", "{}", 405);
    /* The API routes of the server are untouched. */
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/v1/models", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    hc_response_free(&r);
}

static void test_chat_endpoints(void) {
    int status;
    json_t *c = call("POST", "/api/chats", "{\"model\":\"fake\",\"settings\":{\"temperature\":0.2}}", &status);
    SB_CHECK_EQ_INT(status, 201);
    int64_t id = json_integer_value(json_object_get(c, "id"));
    SB_CHECK(id > 0);
    json_decref(c);
    char path[128];
    snprintf(path, sizeof path, "/api/chats/%lld/messages", (long long)id);
    json_t *m = call("POST", path, "{\"role\":\"user\",\"content\":\"Hello world\"}", &status);
    SB_CHECK_EQ_INT(status, 201);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(m, "seq")), 0);
    json_decref(m);
    m = call("POST", path, "{\"role\":\"assistant\",\"content\":\"Hi\",\"model\":\"fake\",\"usage\":"
                           "{\"prompt_tokens\":4,\"completion_tokens\":8,\"predicted_ms\":40,\"ttft_ms\":3}}", &status);
    SB_CHECK_EQ_INT(status, 201);
    json_decref(m);
    m = call("POST", path, "{\"role\":\"assistant\",\"content\":\"Hello again\",\"truncate_from\":1}", &status);
    SB_CHECK_EQ_INT(status, 201);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(m, "seq")), 1);
    json_decref(m);
    json_t *page = call("GET", "/api/chats?limit=10", NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    SB_CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(page, "chats"), 0), "title")),
                 "Hello world");
    json_decref(page);
    snprintf(path, sizeof path, "/api/chats/%lld/messages?limit=1", (long long)id);
    page = call("GET", path, NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    SB_CHECK(json_is_true(json_object_get(page, "has_more")));
    json_decref(page);
    json_t *r = call("GET", "/api/search?q=again", NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    SB_CHECK_EQ_INT(json_array_size(json_object_get(r, "results")), 1);
    json_decref(r);
    snprintf(path, sizeof path, "/api/chats/%lld", (long long)id);
    r = call("PATCH", path, "{\"title\":\"Renamed\"}", &status);
    SB_CHECK_EQ_INT(status, 200);
    SB_CHECK_STR(json_string_value(json_object_get(r, "title")), "Renamed");
    json_decref(r);
    r = call("GET", "/api/usage?days=7&tz_offset_min=-300", NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    json_decref(r);
    r = call("PUT", "/api/defaults", "{\"top_k\":7}", &status);
    SB_CHECK_EQ_INT(status, 200);
    json_decref(r);
    r = call("GET", "/api/defaults", NULL, &status);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(r, "top_k")), 7);
    json_decref(r);

    /* Export (a download) and import back. */
    hc_response hr;
    SB_CHECK_EQ_INT(hc_request(g_port, "GET", "/api/export", NULL, NULL, &hr), 0);
    SB_CHECK_EQ_INT(hr.status, 200);
    char cd[256];
    SB_CHECK(hc_header(&hr, "Content-Disposition", cd, sizeof cd) == 0 && strstr(cd, "attachment;"));
    char doc[8192];
    snprintf(doc, sizeof doc, "%s", hr.body);
    hc_response_free(&hr);
    r = call("POST", "/api/import", doc, &status);
    SB_CHECK_EQ_INT(status, 201);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(r, "imported")), 1);
    json_decref(r);
    snprintf(path, sizeof path, "/api/chats/%lld/export", (long long)id);
    r = call("GET", path, NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    json_decref(r);

    /* Truncate, then delete. */
    snprintf(path, sizeof path, "/api/chats/%lld/messages?from=1", (long long)id);
    r = call("DELETE", path, NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    json_decref(r);
    snprintf(path, sizeof path, "/api/chats/%lld", (long long)id);
    r = call("DELETE", path, NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    json_decref(r);
    expect_error("GET", path, NULL, 404);
    expect_error("DELETE", path, NULL, 404);
}

/* Every kind of bad input gets a 4xx with a message. */
static void test_bad_input(void) {
    int status;
    json_t *c = call("POST", "/api/chats", "{}", &status);
    int64_t id = json_integer_value(json_object_get(c, "id"));
    json_decref(c);
    char chat[64], msgs[96], q[160];
    snprintf(chat, sizeof chat, "/api/chats/%lld", (long long)id);
    snprintf(msgs, sizeof msgs, "/api/chats/%lld/messages", (long long)id);
    expect_error("POST", "/api/chats", "{not json", 400);
    expect_error("POST", "/api/chats", "[1]", 400);
    expect_error("POST", "/api/chats", "{\"owner\":1}", 400);
    expect_error("POST", "/api/chats", "{\"title\":7}", 400);
    expect_error("POST", "/api/chats", "{\"settings\":{\"top_p\":2}}", 400);
    expect_error("GET", "/api/chats?limit=0", NULL, 400);
    expect_error("GET", "/api/chats?limit=abc", NULL, 400);
    expect_error("GET", "/api/chats?limit=99999999999999999999", NULL, 400);
    expect_error("GET", "/api/chats?cursor=garbage", NULL, 400);
    expect_error("GET", "/api/chats/0", NULL, 404);
    expect_error("GET", "/api/chats/abc", NULL, 404);
    expect_error("GET", "/api/chats/01", NULL, 404);
    expect_error("GET", "/api/chats/99999999999999999999", NULL, 404);
    expect_error("GET", "/api/chats/5/unknown", NULL, 404);
    expect_error("PUT", chat, "{}", 405);
    expect_error("PATCH", chat, "{\"title\":[]}", 400);
    expect_error("PATCH", chat, "not json", 400);
    expect_error("POST", msgs, "{\"role\":\"robot\",\"content\":\"x\"}", 400);
    expect_error("POST", msgs, "{\"role\":\"user\",\"content\":\"x\",\"truncate_from\":-1}", 400);
    expect_error("POST", msgs, "{\"role\":\"user\",\"content\":\"x\",\"truncate_from\":\"1\"}", 400);
    expect_error("POST", "/api/chats/424242/messages", "{\"role\":\"user\",\"content\":\"x\"}", 404);
    expect_error("GET", "/api/chats/424242/messages", NULL, 404);
    snprintf(q, sizeof q, "%s?before=-3", msgs);
    expect_error("GET", q, NULL, 400);
    expect_error("DELETE", msgs, NULL, 400);
    snprintf(q, sizeof q, "%s?from=x", msgs);
    expect_error("DELETE", q, NULL, 400);
    expect_error("PATCH", msgs, "{}", 405);
    expect_error("GET", "/api/search", NULL, 400);
    expect_error("GET", "/api/search?q=", NULL, 400);
    expect_error("GET", "/api/usage?days=0", NULL, 400);
    expect_error("GET", "/api/usage?tz_offset_min=5000", NULL, 400);
    expect_error("POST", "/api/import", "{\"format\":\"nope\"}", 400);
    expect_error("POST", "/api/import", "{\"format\":\"solebox-chats\",\"version\":1,\"chats\":[{\"messages\":[1]}]}",
                 400);
    expect_error("PUT", "/api/defaults", "{\"seed\":1.5}", 400);
    expect_error("DELETE", "/api/defaults", NULL, 405);
    /* A message of 5 MiB (more than a message may hold, less than a body). */
    size_t n = 5u << 20;
    char *big = malloc(n + 64);
    strcpy(big, "{\"role\":\"user\",\"content\":\"");
    size_t k = strlen(big);
    memset(big + k, 'a', n);
    strcpy(big + k + n, "\"}");
    expect_error("POST", msgs, big, 400);
    free(big);
    /* Another site cannot write through a visitor's browser. */
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(g_port, "POST", "/api/chats", "Origin: http://evil.example\r\n"
                                                            "Content-Type: application/json\r\n", "{}", &r), 0);
    SB_CHECK_EQ_INT(r.status, 403);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(g_port, "DELETE", chat, "Origin: http://evil.example\r\n", NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 403);
    hc_response_free(&r);
}

static void test_models_and_calibration(void) {
    int status;
    json_t *l = call("GET", "/api/models", NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    json_t *m = json_array_get(json_object_get(l, "data"), 0);
    SB_CHECK_STR(json_string_value(json_object_get(m, "id")), "fake");
    SB_CHECK_STR(json_string_value(json_object_get(m, "status")), "loaded");
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(m, "context_length")), 256);
    /* The reply stored with usage in test_chat_endpoints is a sample. */
    SB_CHECK_STR(json_string_value(json_object_get(json_object_get(m, "perf"), "source")), "reply");
    json_decref(l);
    json_t *r = call("POST", "/api/models/fake/calibrate", "{}", &status);
    SB_CHECK_EQ_INT(status, 200);
    SB_CHECK(json_integer_value(json_object_get(json_object_get(r, "sample"), "predicted_n")) > 0);
    SB_CHECK(json_is_true(json_object_get(r, "stored")));
    json_decref(r);
    l = call("GET", "/api/models", NULL, &status);
    m = json_array_get(json_object_get(l, "data"), 0);
    json_t *perf = json_object_get(m, "perf");
    SB_CHECK(json_is_object(perf) && json_real_value(json_object_get(perf, "tokens_per_s")) > 0);
    SB_CHECK_STR(json_string_value(json_object_get(perf, "source")), "calibration");
    json_decref(l);
    expect_error("POST", "/api/models/nope/calibrate", "{}", 404);
    expect_error("POST", "/api/models/fake/other", "{}", 404);
    expect_error("POST", "/api/models/", "{}", 404);
}

/* A data directory that cannot exist: the page is still served, the
 * history answers 503 saying why, the model list comes without speeds. */
static void test_unavailable_store(void) {
    char file[512], dir[600];
    snprintf(file, sizeof file, "%s/not-a-dir", sb_test_tmpdir());
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(dir, sizeof dir, "%s/data", file);
    sb_webui *ui = NULL;
    int port = 0;
    sb_server *s = start(dir, NULL, &ui, &port);
    SB_CHECK(s != NULL);
    if (!s)
        return;
    int saved = g_port;
    g_port = port;
    hc_response r;
    SB_CHECK_EQ_INT(hc_request(port, "GET", "/", NULL, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    hc_response_free(&r);
    int status;
    json_t *j = call("GET", "/api/chats", NULL, &status);
    SB_CHECK_EQ_INT(status, 503);
    const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
    SB_CHECKF(msg && strstr(msg, "chat history is unavailable") && strstr(msg, "not-a-dir"), "%s", msg ? msg : "");
    json_decref(j);
    j = call("GET", "/api/models", NULL, &status);
    SB_CHECK_EQ_INT(status, 200);
    SB_CHECK(json_is_false(json_object_get(j, "history")));
    json_decref(j);
    g_port = saved;
    sb_server_shutdown(s, 1000);
    sb_server_free(s);
    sb_webui_free(ui);
}

/* Even with CORS opened for the API (--cors-origin '*'), another site's
 * page cannot read or change the chat history. */
static void test_cross_origin_with_cors(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cors", sb_test_tmpdir());
    sb_webui *ui = NULL;
    int port = 0;
    sb_server *s = start(dir, "*", &ui, &port);
    SB_CHECK(s != NULL);
    if (!s)
        return;
    hc_response r;
    static const char *const paths[] = {"/api/export", "/api/chats", "/api/search?q=abc", "/api/models",
                                        "/api/usage"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        SB_CHECK_EQ_INT(hc_request(port, "GET", paths[i], "Origin: http://evil.example\r\n", NULL, &r), 0);
        SB_CHECKF(r.status == 403, "%s: %d", paths[i], r.status);
        hc_response_free(&r);
        SB_CHECK_EQ_INT(hc_request(port, "GET", paths[i], "Sec-Fetch-Site: cross-site\r\n", NULL, &r), 0);
        SB_CHECKF(r.status == 403, "%s: %d", paths[i], r.status);
        hc_response_free(&r);
    }
    SB_CHECK_EQ_INT(hc_request(port, "POST", "/api/models/fake/calibrate", "Origin: http://evil.example\r\n", "{}",
                               &r), 0);
    SB_CHECK_EQ_INT(r.status, 403);
    hc_response_free(&r);
    /* The page itself (same origin) and the API as configured still work. */
    char hdr[128];
    snprintf(hdr, sizeof hdr, "Origin: http://127.0.0.1:%d\r\nSec-Fetch-Site: same-origin\r\n", port);
    SB_CHECK_EQ_INT(hc_request(port, "GET", "/api/chats", hdr, NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    hc_response_free(&r);
    SB_CHECK_EQ_INT(hc_request(port, "GET", "/v1/models", "Origin: http://evil.example\r\n", NULL, &r), 0);
    SB_CHECK_EQ_INT(r.status, 200);
    hc_response_free(&r);
    sb_server_shutdown(s, 1000);
    sb_server_free(s);
    sb_webui_free(ui);
}

int main(void) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/data", sb_test_tmpdir());
    sb_webui *ui = NULL;
    sb_server *s = start(dir, NULL, &ui, &g_port);
    if (!s)
        return 1;
    SB_RUN(test_page_and_assets);
    SB_RUN(test_chat_endpoints);
    SB_RUN(test_bad_input);
    SB_RUN(test_models_and_calibration);
    SB_RUN(test_unavailable_store);
    SB_RUN(test_cross_origin_with_cors);
    struct stat st;
    char db[600];
    snprintf(db, sizeof db, "%s/history.db", dir);
    SB_CHECK(stat(db, &st) == 0 && (st.st_mode & 0777) == 0600);
    SB_CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
    sb_server_shutdown(s, 1000);
    sb_server_free(s);
    sb_webui_free(ui);
    return sb_test_finish();
}
