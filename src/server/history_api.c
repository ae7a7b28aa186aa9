/*
 * history_api.c - the chat-history REST endpoints under /api/ (see
 * webui.h for the list). Each handler validates its input, calls the
 * store (history.h) and maps its status to HTTP: bad input 400, a missing
 * chat 404, a busy database 503 with Retry-After; never a 500 for
 * something the client sent.
 */
#include "webui_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_PAGE 50

/* Replies with the store's result or its error. */
static void reply_result(sb_http_req *req, sb_status st, json_t *j, const sb_error *err) {
    if (st == SB_OK)
        webui_reply_json(req, 200, j);
    else
        webui_reply_status(req, err);
}

/* GET /api/chats?limit=&cursor= */
static void handle_chat_list(sb_http_req *req, void *ud) {
    sb_history *h = webui_history(ud, req);
    int64_t limit;
    if (!h || !webui_arg_int(req, "limit", 1, SB_HISTORY_MAX_PAGE, DEFAULT_PAGE, &limit))
        return;
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_chat_list(h, sb_http_req_arg(req, "cursor"), (int)limit, &out, &err);
    reply_result(req, st, out, &err);
}

/* POST /api/chats {title?, model?, settings?} */
static void handle_chat_create(sb_http_req *req, void *ud) {
    sb_history *h = webui_history(ud, req);
    json_t *body = h ? webui_body(req) : NULL;
    if (!body)
        return;
    sb_error err = {0};
    json_t *title = json_object_get(body, "title"), *model = json_object_get(body, "model");
    json_t *settings = json_object_get(body, "settings");
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        if (strcmp(key, "title") && strcmp(key, "model") && strcmp(key, "settings")) {
            webui_reply_error(req, 400, "unknown field '%.64s' (title, model, settings)", key);
            json_decref(body);
            return;
        }
    }
    if ((title && !json_is_string(title) && !json_is_null(title)) ||
        (model && !json_is_string(model) && !json_is_null(model))) {
        webui_reply_error(req, 400, "title and model must be strings");
        json_decref(body);
        return;
    }
    json_t *out = NULL;
    sb_status st = sb_history_chat_create(h, json_string_value(title), json_string_value(model),
                                          settings && !json_is_null(settings) ? settings : NULL, &out, &err);
    json_decref(body);
    if (st == SB_OK)
        webui_reply_json(req, 201, out);
    else
        webui_reply_status(req, &err);
}

/* Parses "/api/chats/ID[/rest]": ID a decimal number >= 1 without
 * leading zeros or signs; *rest gets what follows (may be ""). */
static bool parse_chat_path(const char *path, int64_t *id, const char **rest) {
    const char *p = path + strlen("/api/chats/");
    if (*p < '1' || *p > '9')
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(p, &end, 10);
    if (errno || n < 1 || (*end && *end != '/'))
        return false;
    *id = n;
    *rest = end;
    return true;
}

/* PATCH /api/chats/{id} {title?, model?, settings?} */
static void chat_patch(sb_http_req *req, sb_history *h, int64_t id) {
    json_t *body = webui_body(req);
    if (!body)
        return;
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_chat_update(h, id, body, &out, &err);
    json_decref(body);
    reply_result(req, st, out, &err);
}

/* GET /api/chats/{id}/messages?before=&limit= */
static void messages_get(sb_http_req *req, sb_history *h, int64_t id) {
    int64_t before, limit;
    if (!webui_arg_int(req, "before", 0, INT64_MAX, -1, &before) ||
        !webui_arg_int(req, "limit", 1, SB_HISTORY_MAX_PAGE, DEFAULT_PAGE, &limit))
        return;
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_messages(h, id, before, (int)limit, &out, &err);
    reply_result(req, st, out, &err);
}

/* POST /api/chats/{id}/messages {role, content, ..., truncate_from?} */
static void messages_post(sb_http_req *req, sb_history *h, int64_t id) {
    json_t *body = webui_body(req);
    if (!body)
        return;
    int64_t truncate_from = -1;
    json_t *tf = json_object_get(body, "truncate_from");
    if (tf && !json_is_null(tf)) {
        if (!json_is_integer(tf) || json_integer_value(tf) < 0) {
            webui_reply_error(req, 400, "truncate_from: must be a message number (0 or more)");
            json_decref(body);
            return;
        }
        truncate_from = json_integer_value(tf);
    }
    json_object_del(body, "truncate_from");
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_message_append(h, id, body, truncate_from, &out, &err);
    json_decref(body);
    if (st == SB_OK)
        webui_reply_json(req, 201, out);
    else
        webui_reply_status(req, &err);
}

/* DELETE /api/chats/{id}/messages?from=SEQ */
static void messages_delete(sb_http_req *req, sb_history *h, int64_t id) {
    int64_t from;
    if (!webui_arg_int(req, "from", 0, INT64_MAX, -1, &from))
        return;
    if (from < 0) {
        webui_reply_error(req, 400, "from: give the number of the first message to delete");
        return;
    }
    sb_error err = {0};
    sb_status st = sb_history_message_truncate(h, id, from, &err);
    if (st == SB_OK)
        webui_reply_json(req, 200, json_pack("{s:b}", "deleted", 1));
    else
        webui_reply_status(req, &err);
}

/* Answers 405 naming the methods a path takes. */
static void not_allowed(sb_http_req *req, const char *allow) {
    sb_http_set_header(req, "Allow", allow);
    webui_reply_error(req, 405, "method %s is not allowed on %.200s (%s)", sb_http_req_method(req),
                      sb_http_req_path(req), allow);
}

/* Everything under /api/chats/: one chat and its messages. */
static void handle_chat_item(sb_http_req *req, void *ud) {
    int64_t id;
    const char *rest;
    if (!parse_chat_path(sb_http_req_path(req), &id, &rest) ||
        (*rest && strcmp(rest, "/messages") != 0 && strcmp(rest, "/export") != 0)) {
        webui_reply_error(req, 404, "no route for %s %.200s", sb_http_req_method(req), sb_http_req_path(req));
        return;
    }
    const char *m = sb_http_req_method(req);
    bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    if (!*rest && !get && strcmp(m, "PATCH") && strcmp(m, "DELETE")) {
        not_allowed(req, "GET, PATCH, DELETE");
        return;
    }
    if (strcmp(rest, "/messages") == 0 && !get && strcmp(m, "POST") && strcmp(m, "DELETE")) {
        not_allowed(req, "GET, POST, DELETE");
        return;
    }
    if (strcmp(rest, "/export") == 0 && !get) {
        not_allowed(req, "GET");
        return;
    }
    sb_history *h = webui_history(ud, req);
    if (!h)
        return;
    json_t *out = NULL;
    sb_error err = {0};
    if (!*rest) {
        if (get) {
            sb_status st = sb_history_chat_get(h, id, &out, &err);
            reply_result(req, st, out, &err);
        } else if (strcmp(m, "PATCH") == 0) {
            chat_patch(req, h, id);
        } else {
            sb_status st = sb_history_chat_delete(h, id, &err);
            if (st == SB_OK)
                webui_reply_json(req, 200, json_pack("{s:I, s:b}", "id", (json_int_t)id, "deleted", 1));
            else
                webui_reply_status(req, &err);
        }
    } else if (strcmp(rest, "/export") == 0) {
        sb_status st = sb_history_export(h, id, &out, &err);
        if (st == SB_OK) {
            char cd[96];
            snprintf(cd, sizeof cd, "attachment; filename=\"solebox-chat-%" PRId64 ".json\"", id);
            sb_http_set_header(req, "Content-Disposition", cd);
        }
        reply_result(req, st, out, &err);
    } else if (get) {
        messages_get(req, h, id);
    } else if (strcmp(m, "POST") == 0) {
        messages_post(req, h, id);
    } else {
        messages_delete(req, h, id);
    }
}

/* GET /api/search?q=&limit= */
static void handle_search(sb_http_req *req, void *ud) {
    sb_history *h = webui_history(ud, req);
    int64_t limit;
    if (!h || !webui_arg_int(req, "limit", 1, SB_HISTORY_MAX_PAGE, DEFAULT_PAGE, &limit))
        return;
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_search(h, sb_http_req_arg(req, "q"), (int)limit, &out, &err);
    reply_result(req, st, out, &err);
}

/* GET /api/export: every chat, as a download. */
static void handle_export(sb_http_req *req, void *ud) {
    sb_history *h = webui_history(ud, req);
    if (!h)
        return;
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_export(h, 0, &out, &err);
    if (st == SB_OK) {
        char cd[96], day[16];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(day, sizeof day, "%Y-%m-%d", &tm);
        snprintf(cd, sizeof cd, "attachment; filename=\"solebox-chats-%s.json\"", day);
        sb_http_set_header(req, "Content-Disposition", cd);
    }
    reply_result(req, st, out, &err);
}

/* POST /api/import: an export document; its chats are added as new. */
static void handle_import(sb_http_req *req, void *ud) {
    sb_history *h = webui_history(ud, req);
    json_t *body = h ? webui_body(req) : NULL;
    if (!body)
        return;
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_import(h, body, &out, &err);
    json_decref(body);
    if (st == SB_OK)
        webui_reply_json(req, 201, out);
    else
        webui_reply_status(req, &err);
}

/* GET /api/usage?days=&tz_offset_min= */
static void handle_usage(sb_http_req *req, void *ud) {
    sb_history *h = webui_history(ud, req);
    int64_t days, tz;
    if (!h || !webui_arg_int(req, "days", 1, 3660, 30, &days) ||
        !webui_arg_int(req, "tz_offset_min", -960, 960, 0, &tz))
        return;
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st = sb_history_usage(h, (int)tz, (int)days, &out, &err);
    reply_result(req, st, out, &err);
}

/* GET /api/defaults and PUT /api/defaults {settings...}. */
static void handle_defaults(sb_http_req *req, void *ud) {
    sb_history *h = webui_history(ud, req);
    if (!h)
        return;
    json_t *out = NULL;
    sb_error err = {0};
    sb_status st;
    if (strcmp(sb_http_req_method(req), "PUT") == 0) {
        json_t *body = webui_body(req);
        if (!body)
            return;
        st = sb_history_defaults_set(h, body, &out, &err);
        json_decref(body);
    } else {
        st = sb_history_defaults_get(h, &out, &err);
    }
    reply_result(req, st, out, &err);
}

/* See webui_internal.h. */
sb_status webui_routes_history(sb_webui *ui, sb_error *err) {
    static const struct {
        const char *method, *path;
        bool prefix;
        sb_http_handler fn;
    } routes[] = {
        {"GET", "/api/chats", false, handle_chat_list},
        {"POST", "/api/chats", false, handle_chat_create},
        {NULL, "/api/chats/", true, handle_chat_item},
        {"GET", "/api/search", false, handle_search},
        {"GET", "/api/export", false, handle_export},
        {"POST", "/api/import", false, handle_import},
        {"GET", "/api/usage", false, handle_usage},
        {"GET", "/api/defaults", false, handle_defaults},
        {"PUT", "/api/defaults", false, handle_defaults},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        sb_status st = sb_server_route(ui->srv, routes[i].method, routes[i].path, routes[i].prefix, routes[i].fn, ui,
                                       err);
        if (st != SB_OK)
            return st;
    }
    return SB_OK;
}
