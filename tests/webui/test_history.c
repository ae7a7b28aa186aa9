/*
 * test_history.c - the chat history store (src/server/history*.c) on a
 * real SQLite file: schema and file mode, chats and messages, titles,
 * keyset pagination, search (FTS5 and LIKE), usage per day, speed
 * estimates, export/import, validation of everything that arrives as JSON,
 * damaged and future databases, and the data directory.
 */
#define _GNU_SOURCE
#include "history.h"
#include "sb_alloc.h"
#include "sb_test.h"
#include "webui.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int64_t g_clock = 1700000000000; /* 2023-11-14T22:13:20Z */
static int64_t fake_now(void) { return g_clock; }

/* A fresh database file under the test's temporary directory. */
static sb_history *fresh(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.db", sb_test_tmpdir(), name);
    unlink(path);
    sb_history *h = NULL;
    sb_error err = {0};
    sb_status st = sb_history_open(path, &h, &err);
    SB_CHECKF(st == SB_OK, "open %s: %s", path, err.msg);
    if (h)
        sb_history_set_clock(h, fake_now);
    return h;
}

static json_t *js(const char *text) {
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    SB_CHECKF(j != NULL, "bad test JSON %s: %s", text, e.text);
    return j;
}

/* Appends a message given as JSON text; returns its seq or -1. */
static int64_t add(sb_history *h, int64_t chat, const char *msg_json) {
    json_t *m = js(msg_json), *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_message_append(h, chat, m, -1, &out, &err);
    json_decref(m);
    SB_CHECKF(st == SB_OK, "append %s: %s", msg_json, err.msg);
    int64_t seq = st == SB_OK ? json_integer_value(json_object_get(out, "seq")) : -1;
    json_decref(out);
    return seq;
}

static int64_t new_chat(sb_history *h, const char *title) {
    json_t *c = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_chat_create(h, title, "m1", NULL, &c, &err) == SB_OK);
    int64_t id = json_integer_value(json_object_get(c, "id"));
    json_decref(c);
    return id;
}

static const char *title_of(sb_history *h, int64_t id) {
    static char buf[512];
    json_t *c = NULL;
    buf[0] = 0;
    if (sb_history_chat_get(h, id, &c, NULL) == SB_OK)
        snprintf(buf, sizeof buf, "%s", json_string_value(json_object_get(c, "title")));
    json_decref(c);
    return buf;
}

static void test_open_schema_mode(void) {
    sb_history *h = fresh("schema");
    char path[512];
    snprintf(path, sizeof path, "%s/schema.db", sb_test_tmpdir());
    struct stat st;
    SB_CHECK(stat(path, &st) == 0);
    SB_CHECKF((st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
    SB_CHECK(sb_history_has_fts(h)); /* Debian's SQLite has FTS5 */
    new_chat(h, "x");
    sb_history_close(h);
    sqlite3 *db;
    SB_CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
    SB_CHECK(sqlite3_step(s) == SQLITE_ROW);
    SB_CHECK_STR((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
    SB_CHECK(sqlite3_step(s) == SQLITE_ROW);
    SB_CHECK_EQ_INT(sqlite3_column_int(s, 0), SB_HISTORY_SCHEMA_VERSION);
    sqlite3_finalize(s);
    /* A database from a newer Solebox is refused, not guessed at. */
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    sb_error err = {0};
    h = NULL;
    SB_CHECK(sb_history_open(path, &h, &err) == SB_ERR_UNSUPPORTED);
    SB_CHECK(h == NULL);
    SB_CHECKF(strstr(err.msg, "schema version 99") != NULL, "%s", err.msg);
    /* Reopening a current one keeps the data. */
    SB_CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, NULL);
    sqlite3_close(db);
    SB_CHECK(sb_history_open(path, &h, &err) == SB_OK);
    SB_CHECK_STR(title_of(h, 1), "x");
    sb_history_close(h);
}

static void test_damaged_file(void) {
    char path[512];
    snprintf(path, sizeof path, "%s/damaged.db", sb_test_tmpdir());
    FILE *f = fopen(path, "w");
    for (int i = 0; i < 400; i++)
        fputs("this is not a database ", f);
    fclose(f);
    sb_history *h = NULL;
    sb_error err = {0};
    sb_status st = sb_history_open(path, &h, &err);
    SB_CHECK(st != SB_OK && h == NULL);
    SB_CHECKF(strstr(err.msg, "history store") != NULL, "%s", err.msg);
    /* A symbolic link is not followed. */
    char link[512];
    snprintf(link, sizeof link, "%s/link.db", sb_test_tmpdir());
    unlink(link);
    SB_CHECK(symlink(path, link) == 0);
    SB_CHECK(sb_history_open(link, &h, &err) == SB_ERR_IO);
}

static void test_chats_and_titles(void) {
    sb_history *h = fresh("chats");
    json_t *c = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_chat_create(h, NULL, "stories", NULL, &c, &err) == SB_OK);
    int64_t id = json_integer_value(json_object_get(c, "id"));
    /* New chats start with the default settings. */
    SB_CHECK(json_real_value(json_object_get(json_object_get(c, "settings"), "temperature")) == 0.8);
    SB_CHECK_STR(json_string_value(json_object_get(c, "title")), "");
    json_decref(c);
    /* Titled from the first user message: its first line. */
    add(h, id, "{\"role\":\"system\",\"content\":\"be nice\"}");
    add(h, id, "{\"role\":\"user\",\"content\":\"  Tell me   a story\\nabout a dog\"}");
    SB_CHECK_STR(title_of(h, id), "Tell me a story\xE2\x80\xA6");
    add(h, id, "{\"role\":\"user\",\"content\":\"second\"}");
    SB_CHECK_STR(title_of(h, id), "Tell me a story\xE2\x80\xA6");
    /* Renaming sticks; an empty title goes back to automatic. */
    json_t *patch = js("{\"title\":\"Dogs\"}");
    SB_CHECK(sb_history_chat_update(h, id, patch, NULL, &err) == SB_OK);
    json_decref(patch);
    add(h, id, "{\"role\":\"user\",\"content\":\"third\"}");
    SB_CHECK_STR(title_of(h, id), "Dogs");
    patch = js("{\"title\":\"\"}");
    SB_CHECK(sb_history_chat_update(h, id, patch, NULL, &err) == SB_OK);
    json_decref(patch);
    SB_CHECK_STR(title_of(h, id), "Tell me a story\xE2\x80\xA6");
    /* A long first line is cut on a character boundary. */
    int64_t id2 = new_chat(h, NULL);
    char msg[1024] = "{\"role\":\"user\",\"content\":\"";
    for (int i = 0; i < 100; i++)
        strcat(msg, "\xC3\xA9");
    strcat(msg, "\"}");
    add(h, id2, msg);
    const char *t = title_of(h, id2);
    SB_CHECK(strlen(t) == 66 * 2 + 3);
    SB_CHECK(strcmp(t + strlen(t) - 3, "\xE2\x80\xA6") == 0);
    /* Changes to model and settings; bad input changes nothing. */
    patch = js("{\"model\":\"other\",\"settings\":{\"temperature\":0.1,\"seed\":-5,\"system_prompt\":\"hi\"}}");
    json_t *out = NULL;
    SB_CHECK(sb_history_chat_update(h, id, patch, &out, &err) == SB_OK);
    SB_CHECK_STR(json_string_value(json_object_get(out, "model")), "other");
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(out, "settings"), "seed")), -5);
    json_decref(out);
    json_decref(patch);
    static const char *const bad[] = {
        "{\"title\":5}",
        "{\"title\":\"a\\nb\"}",
        "{\"colour\":\"red\"}",
        "{\"settings\":[]}",
        "{\"settings\":{\"temperature\":2.5}}",
        "{\"settings\":{\"temperature\":\"hot\"}}",
        "{\"settings\":{\"top_p\":-0.1}}",
        "{\"settings\":{\"top_k\":1.5}}",
        "{\"settings\":{\"repetition_penalty\":0}}",
        "{\"settings\":{\"max_tokens\":-1}}",
        "{\"settings\":{\"context_length\":99999999}}",
        "{\"settings\":{\"mirostat\":2}}",
        "{\"model\":\"a\\u0001b\"}",
        "{\"title\":\"ok\",\"settings\":{\"min_p\":7}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        patch = js(bad[i]);
        sb_error e2 = {0};
        SB_CHECKF(sb_history_chat_update(h, id, patch, NULL, &e2) == SB_ERR_INVALID_ARG, "accepted %s", bad[i]);
        SB_CHECKF(e2.msg[0] != 0, "no message for %s", bad[i]);
        json_decref(patch);
    }
    SB_CHECK_STR(title_of(h, id), "Tell me a story\xE2\x80\xA6"); /* the ok title in the last one was not applied */
    SB_CHECK(sb_history_chat_get(h, 999, &out, &err) == SB_ERR_NOT_FOUND);
    SB_CHECKF(strstr(err.msg, "chat 999") != NULL, "%s", err.msg);
    patch = js("{\"title\":\"x\"}");
    SB_CHECK(sb_history_chat_update(h, 999, patch, NULL, &err) == SB_ERR_NOT_FOUND);
    json_decref(patch);
    sb_history_close(h);
}

static void test_messages_and_truncate(void) {
    sb_history *h = fresh("messages");
    int64_t id = new_chat(h, "t");
    char m[128];
    for (int i = 0; i < 250; i++) {
        snprintf(m, sizeof m, "{\"role\":\"%s\",\"content\":\"message %d\"}", i % 2 ? "assistant" : "user", i);
        SB_CHECK_EQ_INT(add(h, id, m), i);
    }
    json_t *page = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_messages(h, id, -1, 100, &page, &err) == SB_OK);
    json_t *msgs = json_object_get(page, "messages");
    SB_CHECK_EQ_INT(json_array_size(msgs), 100);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(msgs, 0), "seq")), 150);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(msgs, 99), "seq")), 249);
    SB_CHECK(json_is_true(json_object_get(page, "has_more")));
    json_decref(page);
    SB_CHECK(sb_history_messages(h, id, 50, 100, &page, &err) == SB_OK);
    msgs = json_object_get(page, "messages");
    SB_CHECK_EQ_INT(json_array_size(msgs), 50);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(msgs, 0), "seq")), 0);
    SB_CHECK(json_is_false(json_object_get(page, "has_more")));
    json_decref(page);
    /* Regenerate: replace from seq 249 on; edit: from 100 on. */
    json_t *out = NULL;
    json_t *msg = js("{\"role\":\"assistant\",\"content\":\"again\",\"model\":\"m1\",\"finish\":\"stop\"}");
    SB_CHECK(sb_history_message_append(h, id, msg, 249, &out, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(out, "seq")), 249);
    json_decref(out);
    json_decref(msg);
    SB_CHECK(sb_history_message_truncate(h, id, 100, &err) == SB_OK);
    json_t *c = NULL;
    SB_CHECK(sb_history_chat_get(h, id, &c, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(c, "n_messages")), 100);
    json_decref(c);
    SB_CHECK(sb_history_message_truncate(h, id, -1, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_history_message_truncate(h, 777, 0, &err) == SB_ERR_NOT_FOUND);
    SB_CHECK(sb_history_messages(h, 777, -1, 10, &page, &err) == SB_ERR_NOT_FOUND);
    SB_CHECK(sb_history_messages(h, id, -1, 0, &page, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_history_messages(h, id, -1, SB_HISTORY_MAX_PAGE + 1, &page, &err) == SB_ERR_INVALID_ARG);
    /* Every bad message is refused with a message naming the field, and
     * nothing is stored. */
    static const char *const bad[] = {
        "[]",
        "{\"content\":\"x\"}",
        "{\"role\":\"robot\",\"content\":\"x\"}",
        "{\"role\":\"user\"}",
        "{\"role\":\"user\",\"content\":5}",
        "{\"role\":\"user\",\"content\":\"x\",\"extra\":1}",
        "{\"role\":\"user\",\"content\":\"x\",\"finish\":\"exploded\"}",
        "{\"role\":\"user\",\"content\":\"x\",\"created_at\":5}",
        "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":{\"prompt_tokens\":-1}}",
        "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":{\"prompt_tokens\":1.5}}",
        "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":{\"ttft_ms\":\"fast\"}}",
        "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":{\"flops\":1}}",
        "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":[]}",
        "{\"role\":\"assistant\",\"content\":\"x\",\"model\":\"a\\nb\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        msg = js(bad[i]);
        sb_error e2 = {0};
        SB_CHECKF(sb_history_message_append(h, id, msg, -1, NULL, &e2) == SB_ERR_INVALID_ARG, "accepted %s",
                  bad[i]);
        SB_CHECKF(strncmp(e2.msg, "message", 7) == 0, "message '%s' for %s", e2.msg, bad[i]);
        json_decref(msg);
    }
    SB_CHECK(sb_history_chat_get(h, id, &c, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(c, "n_messages")), 100);
    json_decref(c);
    /* A message to a missing chat. */
    msg = js("{\"role\":\"user\",\"content\":\"x\"}");
    SB_CHECK(sb_history_message_append(h, 777, msg, -1, NULL, &err) == SB_ERR_NOT_FOUND);
    json_decref(msg);
    sb_history_close(h);
}

/* Lists every chat page by page; returns how many, checks the order. */
static int list_all(sb_history *h, int limit) {
    char cursor[64] = "";
    int n = 0;
    int64_t prev_u = INT64_MAX, prev_id = INT64_MAX;
    for (;;) {
        json_t *page = NULL;
        sb_error err = {0};
        if (sb_history_chat_list(h, cursor, limit, &page, &err) != SB_OK) {
            SB_CHECKF(0, "list: %s", err.msg);
            return -1;
        }
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(page, "chats"), i, c) {
            int64_t u = json_integer_value(json_object_get(c, "updated_at"));
            int64_t id = json_integer_value(json_object_get(c, "id"));
            SB_CHECK(u < prev_u || (u == prev_u && id < prev_id));
            prev_u = u;
            prev_id = id;
            n++;
        }
        json_t *next = json_object_get(page, "next");
        bool more = json_is_string(next);
        if (more)
            snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(page);
        if (!more)
            break;
    }
    return n;
}

static void test_list_pagination(void) {
    sb_history *h = fresh("list");
    for (int i = 0; i < 120; i++) {
        g_clock = 1700000000000 + (i / 3) * 1000; /* ties on updated_at: the id breaks them */
        new_chat(h, "c");
    }
    SB_CHECK_EQ_INT(list_all(h, 50), 120);
    SB_CHECK_EQ_INT(list_all(h, 7), 120);
    SB_CHECK_EQ_INT(list_all(h, 200), 120);
    /* A new message moves a chat to the top. */
    g_clock += 60000;
    add(h, 5, "{\"role\":\"user\",\"content\":\"bump\"}");
    json_t *page = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_chat_list(h, NULL, 1, &page, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(json_object_get(page, "chats"), 0), "id")), 5);
    json_decref(page);
    static const char *const bad[] = {"x", "1", "1:", ":1", "-1:5", "1:-5", "1:2:3", "1:2x", " 1:2", "+1:2",
                                      "99999999999999999999:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        SB_CHECKF(sb_history_chat_list(h, bad[i], 10, &page, &err) == SB_ERR_INVALID_ARG, "cursor '%s'", bad[i]);
    SB_CHECK(sb_history_chat_list(h, NULL, 0, &page, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_history_chat_list(h, NULL, 201, &page, &err) == SB_ERR_INVALID_ARG);
    g_clock = 1700000000000;
    sb_history_close(h);
}

/* Number of search results and the first one's id. */
static int search(sb_history *h, const char *q, int64_t *first, const char **method) {
    json_t *r = NULL;
    sb_error err = {0};
    if (sb_history_search(h, q, 50, &r, &err) != SB_OK) {
        SB_CHECKF(0, "search '%s': %s", q, err.msg);
        return -1;
    }
    json_t *res = json_object_get(r, "results");
    int n = (int)json_array_size(res);
    if (first)
        *first = n ? json_integer_value(json_object_get(json_array_get(res, 0), "id")) : 0;
    static char m[16];
    snprintf(m, sizeof m, "%s", json_string_value(json_object_get(r, "method")));
    if (method)
        *method = m;
    json_decref(r);
    return n;
}

static void test_search_and_delete(void) {
    sb_history *h = fresh("search");
    int64_t a = new_chat(h, "Gardening");
    add(h, a, "{\"role\":\"user\",\"content\":\"How do I grow Tomatoes on a balcony?\"}");
    add(h, a, "{\"role\":\"assistant\",\"content\":\"Use a 100% organic mix_and \\\"quotes\\\" and sun.\"}");
    g_clock += 1000;
    int64_t b = new_chat(h, "Cooking");
    add(h, b, "{\"role\":\"user\",\"content\":\"A tomato soup, please. \xC3\x89t\xC3\xA9 recipe\"}");
    const char *method = NULL;
    int64_t first = 0;
    SB_CHECK_EQ_INT(search(h, "tomato", &first, &method), 2); /* case-insensitive, substring */
    SB_CHECK_STR(method, "fts5");
    SB_CHECK_EQ_INT(first, b); /* newest first */
    SB_CHECK_EQ_INT(search(h, "TOMATOES", NULL, NULL), 1);
    SB_CHECK_EQ_INT(search(h, "garden", &first, NULL), 1); /* by title */
    SB_CHECK_EQ_INT(first, a);
    SB_CHECK_EQ_INT(search(h, "100%", NULL, NULL), 1);
    SB_CHECK_EQ_INT(search(h, "mix_and", NULL, NULL), 1);
    SB_CHECK_EQ_INT(search(h, "\"quotes\"", NULL, NULL), 1);
    SB_CHECK_EQ_INT(search(h, "\xC3\x89t\xC3\xA9", NULL, NULL), 1);
    SB_CHECK_EQ_INT(search(h, "tomato OR soup", NULL, NULL), 0); /* FTS syntax is just text */
    SB_CHECK_EQ_INT(search(h, "NEAR(a b)", NULL, NULL), 0);
    SB_CHECK_EQ_INT(search(h, "nothing like this", NULL, NULL), 0);
    SB_CHECK_EQ_INT(search(h, "_", NULL, NULL), 1); /* short: LIKE with escaping */
    SB_CHECK_EQ_INT(search(h, "%", &first, &method), 1);
    SB_CHECK_STR(method, "like");
    SB_CHECK_EQ_INT(search(h, "so", &first, NULL), 1);
    /* The snippet shows the match. */
    json_t *r = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_search(h, "balcony", 10, &r, &err) == SB_OK);
    json_t *hit = json_array_get(json_object_get(r, "results"), 0);
    SB_CHECK(strstr(json_string_value(json_object_get(hit, "snippet")), "balcony") != NULL);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(hit, "seq")), 0);
    json_decref(r);
    SB_CHECK(sb_history_search(h, "", 10, &r, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_history_search(h, "a\tb", 10, &r, &err) == SB_ERR_INVALID_ARG);
    /* Deleting a chat deletes its messages and their index entries. */
    SB_CHECK(sb_history_chat_delete(h, a, &err) == SB_OK);
    SB_CHECK_EQ_INT(search(h, "tomato", NULL, NULL), 1);
    SB_CHECK_EQ_INT(search(h, "balcony", NULL, NULL), 0);
    SB_CHECK(sb_history_chat_delete(h, a, &err) == SB_ERR_NOT_FOUND);
    SB_CHECK(sb_history_messages(h, a, -1, 10, &r, &err) == SB_ERR_NOT_FOUND);
    sb_history_close(h);
}

static void test_usage_per_day(void) {
    sb_history *h = fresh("usage");
    int64_t id = new_chat(h, "u");
    /* 2023-11-14 22:13:20 UTC is the 15th in UTC+2. */
    g_clock = 1700000000000;
    add(h, id, "{\"role\":\"assistant\",\"content\":\"a\",\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":5}}");
    g_clock += 3 * 3600 * 1000; /* 01:13 UTC on the 15th */
    add(h, id, "{\"role\":\"assistant\",\"content\":\"b\",\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}");
    add(h, id, "{\"role\":\"user\",\"content\":\"no usage\"}");
    json_t *u = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_usage(h, 0, 30, &u, &err) == SB_OK);
    json_t *days = json_object_get(u, "days");
    SB_CHECK_EQ_INT(json_array_size(days), 2);
    SB_CHECK_STR(json_string_value(json_object_get(json_array_get(days, 0), "day")), "2023-11-15");
    SB_CHECK_STR(json_string_value(json_object_get(json_array_get(days, 1), "day")), "2023-11-14");
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(u, "total"), "completion_tokens")), 7);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(u, "total"), "replies")), 2);
    json_decref(u);
    SB_CHECK(sb_history_usage(h, 120, 30, &u, &err) == SB_OK);
    days = json_object_get(u, "days");
    SB_CHECK_EQ_INT(json_array_size(days), 1);
    SB_CHECK_STR(json_string_value(json_object_get(json_array_get(days, 0), "day")), "2023-11-15");
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_array_get(days, 0), "prompt_tokens")), 11);
    json_decref(u);
    /* Only today, in UTC: the older reply falls out of the window. */
    SB_CHECK(sb_history_usage(h, 0, 1, &u, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_array_size(json_object_get(u, "days")), 1);
    json_decref(u);
    json_t *c = NULL;
    SB_CHECK(sb_history_chat_get(h, id, &c, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(c, "usage"), "replies")), 2);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(c, "usage"), "prompt_tokens")), 11);
    json_decref(c);
    SB_CHECK(sb_history_usage(h, 0, 0, &u, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_history_usage(h, 2000, 5, &u, &err) == SB_ERR_INVALID_ARG);
    g_clock = 1700000000000;
    sb_history_close(h);
}

static void test_perf_estimate(void) {
    sb_history *h = fresh("perf");
    json_t *e = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_perf_estimate(h, "m1", &e, &err) == SB_OK);
    SB_CHECK(json_is_null(e));
    json_decref(e);
    sb_history_perf p = {.prompt_n = 10, .prompt_ms = 10, .predicted_n = 20, .predicted_ms = 1000, .ttft_ms = 50};
    SB_CHECK(sb_history_perf_add(h, "m1", "calibration", &p, &err) == SB_OK);
    SB_CHECK(sb_history_perf_estimate(h, "m1", &e, &err) == SB_OK);
    SB_CHECK(json_real_value(json_object_get(e, "tokens_per_s")) == 20.0);
    SB_CHECK_STR(json_string_value(json_object_get(e, "source")), "calibration");
    json_decref(e);
    /* Replies with usage feed it; the median resists one slow outlier. */
    int64_t id = new_chat(h, "p");
    add(h, id, "{\"role\":\"assistant\",\"model\":\"m1\",\"content\":\"x\",\"usage\":{\"prompt_tokens\":5,"
               "\"completion_tokens\":40,\"prompt_ms\":5,\"predicted_ms\":1000,\"ttft_ms\":30}}");
    add(h, id, "{\"role\":\"assistant\",\"model\":\"m1\",\"content\":\"x\",\"usage\":{\"prompt_tokens\":5,"
               "\"completion_tokens\":40,\"prompt_ms\":5,\"predicted_ms\":1000,\"ttft_ms\":30}}");
    add(h, id, "{\"role\":\"assistant\",\"model\":\"m1\",\"content\":\"x\",\"usage\":{\"completion_tokens\":1,"
               "\"predicted_ms\":1}}"); /* too short to count */
    add(h, id, "{\"role\":\"assistant\",\"content\":\"x\",\"usage\":{\"completion_tokens\":50,"
               "\"predicted_ms\":1}}"); /* no model: not a sample */
    SB_CHECK(sb_history_perf_estimate(h, "m1", &e, &err) == SB_OK);
    SB_CHECK(json_real_value(json_object_get(e, "tokens_per_s")) == 40.0);
    SB_CHECK(json_real_value(json_object_get(e, "ttft_ms")) == 30.0);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(e, "samples")), 3);
    SB_CHECK_STR(json_string_value(json_object_get(e, "source")), "reply");
    json_decref(e);
    /* Only the newest samples are kept. */
    for (int i = 0; i < SB_HISTORY_PERF_KEEP + 50; i++)
        SB_CHECK(sb_history_perf_add(h, "m2", "reply", &p, &err) == SB_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/perf.db", sb_test_tmpdir());
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM perf_samples WHERE model = 'm2'", -1, &s, NULL);
    SB_CHECK(sqlite3_step(s) == SQLITE_ROW);
    SB_CHECK_EQ_INT(sqlite3_column_int(s, 0), SB_HISTORY_PERF_KEEP);
    sqlite3_finalize(s);
    sqlite3_close(db);
    sb_history_perf z = {0};
    SB_CHECK(sb_history_perf_add(h, "m1", "reply", &z, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_history_perf_add(h, "", "reply", &p, &err) == SB_ERR_INVALID_ARG);
    sb_history_close(h);
}

static void test_export_import(void) {
    sb_history *h = fresh("export");
    int64_t a = new_chat(h, "First");
    add(h, a, "{\"role\":\"user\",\"content\":\"hello <b>there</b>\"}");
    add(h, a, "{\"role\":\"assistant\",\"content\":\"hi\",\"model\":\"m1\",\"finish\":\"stop\",\"usage\":"
              "{\"prompt_tokens\":3,\"completion_tokens\":1,\"ttft_ms\":12.5}}");
    int64_t b = new_chat(h, NULL);
    add(h, b, "{\"role\":\"user\",\"content\":\"second chat\"}");
    json_t *doc = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_export(h, 0, &doc, &err) == SB_OK);
    SB_CHECK_STR(json_string_value(json_object_get(doc, "format")), SB_HISTORY_EXPORT_FORMAT);
    SB_CHECK_EQ_INT(json_array_size(json_object_get(doc, "chats")), 2);
    json_t *one = NULL;
    SB_CHECK(sb_history_export(h, b, &one, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_array_size(json_object_get(one, "chats")), 1);
    json_decref(one);
    SB_CHECK(sb_history_export(h, 999, &one, &err) == SB_ERR_NOT_FOUND);
    /* Into another database: the same chats come back. */
    sb_history *h2 = fresh("import");
    json_t *res = NULL;
    SB_CHECK(sb_history_import(h2, doc, &res, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(res, "imported")), 2);
    json_decref(res);
    json_t *again = NULL;
    SB_CHECK(sb_history_export(h2, 0, &again, &err) == SB_OK);
    json_object_del(doc, "exported_at");
    json_object_del(again, "exported_at");
    SB_CHECKF(json_equal(doc, again), "the round trip changed the chats");
    json_decref(again);
    SB_CHECK_STR(title_of(h2, 2), "second chat");
    /* Imported replies are not speed samples of this box. */
    json_t *e = NULL;
    SB_CHECK(sb_history_perf_estimate(h2, "m1", &e, &err) == SB_OK);
    SB_CHECK(json_is_null(e));
    json_decref(e);
    /* All or nothing: a bad message in the second chat imports nothing. */
    json_t *bad = json_deep_copy(doc);
    json_t *m = json_array_get(json_object_get(json_array_get(json_object_get(bad, "chats"), 1), "messages"), 0);
    json_object_set_new(m, "role", json_string("robot"));
    SB_CHECK(sb_history_import(h2, bad, &res, &err) == SB_ERR_INVALID_ARG);
    SB_CHECKF(strstr(err.msg, "chats[1].messages[0].role") != NULL, "%s", err.msg);
    json_decref(bad);
    SB_CHECK_EQ_INT(list_all(h2, 50), 2);
    static const char *const docs[] = {
        "{}",
        "{\"format\":\"other\",\"version\":1,\"chats\":[]}",
        "{\"format\":\"solebox-chats\",\"version\":2,\"chats\":[]}",
        "{\"format\":\"solebox-chats\",\"version\":1,\"chats\":{}}",
        "{\"format\":\"solebox-chats\",\"version\":1,\"chats\":[{\"messages\":{}}]}",
        "{\"format\":\"solebox-chats\",\"version\":1,\"chats\":[{\"messages\":[],\"created_at\":-1}]}",
        "{\"format\":\"solebox-chats\",\"version\":1,\"chats\":[{\"messages\":[],\"settings\":{\"top_k\":-1}}]}",
        "{\"format\":\"solebox-chats\",\"version\":1,\"chats\":[{\"messages\":[],\"owner\":\"x\"}]}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_t *d = js(docs[i]);
        sb_error e2 = {0};
        SB_CHECKF(sb_history_import(h2, d, &res, &e2) != SB_OK, "accepted %s", docs[i]);
        SB_CHECK(e2.msg[0] != 0);
        json_decref(d);
    }
    SB_CHECK_EQ_INT(list_all(h2, 50), 2);
    json_decref(doc);
    sb_history_close(h2);
    sb_history_close(h);
}

static void test_defaults(void) {
    sb_history *h = fresh("defaults");
    json_t *d = NULL;
    sb_error err = {0};
    SB_CHECK(sb_history_defaults_get(h, &d, &err) == SB_OK);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(d, "top_k")), 40);
    json_decref(d);
    json_t *s = js("{\"temperature\":0.3,\"max_tokens\":100,\"seed\":null}");
    SB_CHECK(sb_history_defaults_set(h, s, &d, &err) == SB_OK);
    json_decref(s);
    SB_CHECK_EQ_INT(json_integer_value(json_object_get(d, "max_tokens")), 100);
    json_decref(d);
    json_t *c = NULL;
    SB_CHECK(sb_history_chat_create(h, NULL, NULL, NULL, &c, &err) == SB_OK);
    SB_CHECK(json_real_value(json_object_get(json_object_get(c, "settings"), "temperature")) == 0.3);
    json_decref(c);
    s = js("{\"temperature\":9}");
    SB_CHECK(sb_history_defaults_set(h, s, &d, &err) == SB_ERR_INVALID_ARG);
    json_decref(s);
    sb_history_close(h);
}

/* Fails each allocation of ours in turn: every failure is an error status,
 * never a crash or a leak (the ASan build checks the leaks). */
static void test_allocation_failures(void) {
    sb_history *h = fresh("oom");
    int64_t id = new_chat(h, "o");
    json_t *msg = js("{\"role\":\"user\",\"content\":\"line one\\nline two\"}");
    json_t *q = js("{\"title\":\"\"}");
    for (long n = 1; n < 200; n++) {
        sb_alloc_fail_nth(n);
        json_t *out = NULL;
        sb_error err = {0};
        sb_history_message_append(h, id, msg, -1, &out, &err);
        json_decref(out);
        out = NULL;
        sb_history_chat_update(h, id, q, &out, &err);
        json_decref(out);
        out = NULL;
        sb_history_search(h, "line", 10, &out, &err);
        json_decref(out);
        out = NULL;
        sb_history_search(h, "li", 10, &out, &err);
        json_decref(out);
        bool fired = sb_alloc_injected_fired();
        sb_alloc_fail_nth(0);
        if (!fired)
            break;
    }
    SB_CHECK_STR(title_of(h, id), "line one\xE2\x80\xA6");
    json_decref(msg);
    json_decref(q);
    sb_history_close(h);
}

static void test_data_dir(void) {
    char out[4096];
    sb_error err = {0};
    setenv("SOLEBOX_DATA_DIR", "/from/env", 1);
    SB_CHECK(sb_data_dir_resolve("/from/flag", out, sizeof out, &err) == SB_OK);
    SB_CHECK_STR(out, "/from/flag");
    SB_CHECK(sb_data_dir_resolve(NULL, out, sizeof out, &err) == SB_OK);
    SB_CHECK_STR(out, "/from/env");
    unsetenv("SOLEBOX_DATA_DIR");
    unsetenv("STATE_DIRECTORY");
    unsetenv("INVOCATION_ID");
    setenv("XDG_DATA_HOME", "/xdg", 1);
    SB_CHECK(sb_data_dir_resolve(NULL, out, sizeof out, &err) == SB_OK);
    SB_CHECK_STR(out, "/xdg/solebox");
    unsetenv("XDG_DATA_HOME");
    setenv("HOME", "/home/someone", 1);
    SB_CHECK(sb_data_dir_resolve(NULL, out, sizeof out, &err) == SB_OK);
    SB_CHECK_STR(out, "/home/someone/.local/share/solebox");
    setenv("STATE_DIRECTORY", "/var/lib/solebox:/other", 1);
    SB_CHECK(sb_data_dir_resolve(NULL, out, sizeof out, &err) == SB_OK);
    SB_CHECK_STR(out, "/var/lib/solebox");
    unsetenv("STATE_DIRECTORY");
    unsetenv("HOME");
    SB_CHECK(sb_data_dir_resolve(NULL, out, sizeof out, &err) == SB_ERR_NOT_FOUND);
    /* Created with its parents, private. */
    char dir[800];
    snprintf(dir, sizeof dir, "%s/a/b/c", sb_test_tmpdir());
    SB_CHECK(sb_data_dir_ensure(dir, &err) == SB_OK);
    struct stat st;
    SB_CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    SB_CHECK(sb_data_dir_ensure(dir, &err) == SB_OK);
    /* A file in the way is an error naming the path. */
    char file[900], under[1000];
    snprintf(file, sizeof file, "%s/plain", dir);
    FILE *f = fopen(file, "w");
    fclose(f);
    snprintf(under, sizeof under, "%s/sub", file);
    SB_CHECK(sb_data_dir_ensure(under, &err) == SB_ERR_IO);
    SB_CHECKF(strstr(err.msg, "plain") != NULL, "%s", err.msg);
}

int main(void) {
    SB_RUN(test_open_schema_mode);
    SB_RUN(test_damaged_file);
    SB_RUN(test_chats_and_titles);
    SB_RUN(test_messages_and_truncate);
    SB_RUN(test_list_pagination);
    SB_RUN(test_search_and_delete);
    SB_RUN(test_usage_per_day);
    SB_RUN(test_perf_estimate);
    SB_RUN(test_export_import);
    SB_RUN(test_defaults);
    SB_RUN(test_allocation_failures);
    SB_RUN(test_data_dir);
    return sb_test_finish();
}
