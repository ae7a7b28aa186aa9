/*
 * history_json.c - validation of what arrives as JSON (settings, messages,
 * import documents), and export/import of chats (see history.h).
 */
#include "history_internal.h"

#include "sb_alloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TIME_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define MAX_IMPORT_CHATS 100000
#define MAX_IMPORT_MESSAGES 100000 /* per chat */

/* ---- settings ------------------------------------------------------------ */

typedef enum setting_kind { SK_STRING, SK_NUMBER, SK_INT } setting_kind;

typedef struct setting_rule {
    const char *key;
    setting_kind kind;
    double lo, hi;
    bool lo_open; /* lo itself is not allowed */
} setting_rule;

/* The per-chat settings and their ranges: the same bounds the server's
 * /v1/chat/completions enforces, so a saved setting is one it accepts.
 * max_tokens 0 and context_length 0 mean "as much as the model allows". */
static const setting_rule RULES[] = {
    {"system_prompt", SK_STRING, 0, SB_HISTORY_MAX_SYSTEM, false},
    {"temperature", SK_NUMBER, 0, 2, false},
    {"top_p", SK_NUMBER, 0, 1, false},
    {"top_k", SK_INT, 0, 2147483647.0, false},
    {"min_p", SK_NUMBER, 0, 1, false},
    {"max_tokens", SK_INT, 0, 2147483647.0, false},
    {"repetition_penalty", SK_NUMBER, 0, 10, true},
    {"seed", SK_INT, -9223372036854775807.0, 9223372036854775807.0, false},
    {"context_length", SK_INT, 0, 4194304, false},
};

/* See history.h. Every key must be known; null means "not set". */
sb_status sb_history_check_settings(const json_t *s, const char *where, sb_error *err) {
    if (!json_is_object(s))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: must be a JSON object", where);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)s, key, v) {
        const setting_rule *r = NULL;
        for (size_t i = 0; i < sizeof RULES / sizeof RULES[0] && !r; i++)
            if (strcmp(RULES[i].key, key) == 0)
                r = &RULES[i];
        if (!r)
            return sb_error_set(err, SB_ERR_INVALID_ARG,
                                "%s.%.64s: unknown setting (system_prompt, temperature, top_p, top_k, min_p, "
                                "max_tokens, repetition_penalty, seed, context_length)",
                                where, key);
        if (json_is_null(v))
            continue;
        switch (r->kind) {
        case SK_STRING:
            if (!json_is_string(v))
                return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: must be a string", where, key);
            if (json_string_length(v) > (size_t)r->hi)
                return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: longer than %.0f bytes", where, key, r->hi);
            break;
        case SK_NUMBER: {
            if (!json_is_number(v))
                return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: must be a number", where, key);
            double d = json_number_value(v);
            if (!isfinite(d) || d < r->lo || d > r->hi || (r->lo_open && d <= r->lo))
                return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: %g is out of range %s%g..%g", where, key, d,
                                    r->lo_open ? "above " : "", r->lo, r->hi);
            break;
        }
        case SK_INT: {
            if (!json_is_integer(v))
                return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: must be a whole number", where, key);
            json_int_t i = json_integer_value(v);
            if ((double)i < r->lo || (double)i > r->hi)
                return sb_error_set(err, SB_ERR_INVALID_ARG,
                                    "%s.%s: %" JSON_INTEGER_FORMAT " is out of range %.0f..%.0f", where, key, i, r->lo,
                                    r->hi);
            break;
        }
        }
    }
    return SB_OK;
}

/* ---- messages ------------------------------------------------------------ */

/* An optional whole number in [0, hi] (absent or null: -1). */
static sb_status opt_int(const json_t *o, const char *key, json_int_t hi, const char *where, json_int_t *out,
                         sb_error *err) {
    json_t *v = json_object_get(o, key);
    *out = -1;
    if (!v || json_is_null(v))
        return SB_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > hi)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: must be a whole number in 0..%" JSON_INTEGER_FORMAT,
                            where, key, hi);
    *out = json_integer_value(v);
    return SB_OK;
}

/* An optional number in [0, 1e12] (absent or null: -1). */
static sb_status opt_real(const json_t *o, const char *key, const char *where, double *out, sb_error *err) {
    json_t *v = json_object_get(o, key);
    *out = -1;
    if (!v || json_is_null(v))
        return SB_OK;
    double d = json_is_number(v) ? json_number_value(v) : -1;
    if (!json_is_number(v) || !isfinite(d) || d < 0 || d > 1e12)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: must be a number in 0..1e12", where, key);
    *out = d;
    return SB_OK;
}

/* An optional string of at most max bytes without control characters
 * (absent or null: NULL). */
static sb_status opt_word(const json_t *o, const char *key, size_t max, const char *where, const char **out,
                          sb_error *err) {
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return SB_OK;
    if (!json_is_string(v) || json_string_length(v) > max)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: must be a string of at most %zu bytes", where, key, max);
    const char *s = json_string_value(v);
    for (size_t i = 0; i < json_string_length(v); i++)
        if ((unsigned char)s[i] < 0x20)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: contains a control character", where, key);
    *out = s;
    return SB_OK;
}

/* Checks that every key of o is in the NULL-terminated list. */
static sb_status known_keys(const json_t *o, const char *const *keys, const char *where, sb_error *err) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) {
        bool ok = false;
        for (size_t i = 0; keys[i] && !ok; i++)
            ok = strcmp(keys[i], key) == 0;
        if (!ok)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: unknown field '%.64s'", where, key);
    }
    return SB_OK;
}

/* The usage object of a message. */
static sb_status usage_from_json(const json_t *u, const char *where, hist_msg *m, sb_error *err) {
    static const char *const keys[] = {"prompt_tokens", "completion_tokens", "cached_tokens", "prompt_ms",
                                       "predicted_ms", "ttft_ms", "tokens_per_s", NULL};
    char w[128];
    snprintf(w, sizeof w, "%s.usage", where);
    if (!json_is_object(u))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: must be an object", w);
    sb_status st = known_keys(u, keys, w, err);
    if (st == SB_OK)
        st = opt_int(u, "prompt_tokens", INT32_MAX, w, &m->prompt_tokens, err);
    if (st == SB_OK)
        st = opt_int(u, "completion_tokens", INT32_MAX, w, &m->completion_tokens, err);
    if (st == SB_OK)
        st = opt_int(u, "cached_tokens", INT32_MAX, w, &m->cached_tokens, err);
    if (st == SB_OK)
        st = opt_real(u, "prompt_ms", w, &m->prompt_ms, err);
    if (st == SB_OK)
        st = opt_real(u, "predicted_ms", w, &m->predicted_ms, err);
    if (st == SB_OK)
        st = opt_real(u, "ttft_ms", w, &m->ttft_ms, err);
    if (st == SB_OK)
        st = opt_real(u, "tokens_per_s", w, &m->tokens_per_s, err);
    m->has_usage = st == SB_OK && json_object_size(u) > 0;
    return st;
}

/* See history_internal.h. "id" and "seq" (as the API returns them) are
 * accepted and ignored, so a fetched message can be sent back. */
sb_status hist_msg_from_json(const json_t *j, const char *where, bool allow_created, hist_msg *m, sb_error *err) {
    static const char *const keys[] = {"role", "content", "model", "finish", "usage", "created_at", "id", "seq",
                                       NULL};
    memset(m, 0, sizeof *m);
    m->created_at = -1;
    m->prompt_tokens = m->completion_tokens = m->cached_tokens = -1;
    m->prompt_ms = m->predicted_ms = m->ttft_ms = m->tokens_per_s = -1;
    if (!json_is_object(j))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: must be an object", where);
    sb_status st = known_keys(j, keys, where, err);
    if (st != SB_OK)
        return st;
    json_t *role = json_object_get(j, "role"), *content = json_object_get(j, "content");
    const char *r = json_string_value(role);
    if (!r || (strcmp(r, "system") && strcmp(r, "user") && strcmp(r, "assistant")))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.role: %s%.32s%s is not one of system, user, assistant",
                            where, r ? "'" : "", r ? r : "missing or not a string", r ? "'" : "");
    if (!json_is_string(content))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.content: must be a string", where);
    if (json_string_length(content) > SB_HISTORY_MAX_CONTENT)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.content: %zu bytes; at most %u", where,
                            json_string_length(content), SB_HISTORY_MAX_CONTENT);
    m->role = r;
    m->content = json_string_value(content);
    m->content_len = json_string_length(content);
    if ((st = opt_word(j, "model", SB_HISTORY_MAX_MODEL, where, &m->model, err)) != SB_OK)
        return st;
    if ((st = opt_word(j, "finish", 32, where, &m->finish, err)) != SB_OK)
        return st;
    if (m->finish && strcmp(m->finish, "stop") && strcmp(m->finish, "length") && strcmp(m->finish, "cancelled") &&
        strcmp(m->finish, "error"))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.finish: '%s' is not one of stop, length, cancelled, error",
                            where, m->finish);
    json_t *created = json_object_get(j, "created_at");
    if (created && !json_is_null(created)) {
        if (!allow_created)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.created_at: set by the server", where);
        if (!json_is_integer(created) || json_integer_value(created) < 0 || json_integer_value(created) > MAX_TIME_MS)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.created_at: must be milliseconds since 1970", where);
        m->created_at = json_integer_value(created);
    }
    json_t *usage = json_object_get(j, "usage");
    if (usage && !json_is_null(usage) && (st = usage_from_json(usage, where, m, err)) != SB_OK)
        return st;
    return SB_OK;
}

/* ---- export ---------------------------------------------------------------- */

/* One chat row (CHAT_COLS) with all its messages, as exported. Caller
 * holds h->mu. */
static sb_status export_chat(sb_history *h, sqlite3_stmt *row, json_t **out, sb_error *err) {
    *out = NULL;
    int64_t id = sqlite3_column_int64(row, 0);
    const char *settings = (const char *)sqlite3_column_text(row, 6);
    json_t *sj = settings ? json_loads(settings, 0, NULL) : NULL;
    json_t *c = json_pack("{s:o, s:o, s:o, s:I, s:I}", "title", hist_col_string(row, 1), "model",
                          hist_col_string(row, 2), "settings", json_is_object(sj) ? sj : json_object(), "created_at",
                          (json_int_t)sqlite3_column_int64(row, 3), "updated_at",
                          (json_int_t)sqlite3_column_int64(row, 4));
    if (!json_is_object(sj))
        json_decref(sj);
    json_t *msgs = json_array();
    if (!c || !msgs) {
        json_decref(c);
        json_decref(msgs);
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    }
    sqlite3_stmt *s = hist_stmt(h, HS_MSG_ALL, err);
    if (!s) {
        json_decref(c);
        json_decref(msgs);
        return err ? err->code : SB_ERR_IO;
    }
    sqlite3_bind_int64(s, 1, id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        json_array_append_new(msgs, hist_msg_json(s, false));
    sqlite3_reset(s);
    json_object_set_new(c, "messages", msgs);
    if (rc != SQLITE_DONE) {
        json_decref(c);
        return hist_sql_error(h, rc, "exporting messages", err);
    }
    *out = c;
    return SB_OK;
}

/* See history.h. The export is read inside one transaction, so it is a
 * consistent snapshot even while replies are being saved. */
sb_status sb_history_export(sb_history *h, int64_t chat_id, json_t **out, sb_error *err) {
    *out = NULL;
    json_t *chats = json_array();
    if (!chats)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    pthread_mutex_lock(&h->mu);
    int64_t now = hist_now(h);
    sb_status st = hist_exec(h, HS_BEGIN, "exporting", err);
    sqlite3_stmt *s = NULL;
    if (st == SB_OK && !(s = hist_stmt(h, chat_id > 0 ? HS_CHAT_GET : HS_CHAT_ALL, err)))
        st = err ? err->code : SB_ERR_IO;
    if (st == SB_OK) {
        if (chat_id > 0)
            sqlite3_bind_int64(s, 1, chat_id);
        int rc;
        while (st == SB_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            json_t *c = NULL;
            st = export_chat(h, s, &c, err);
            if (st == SB_OK)
                json_array_append_new(chats, c);
        }
        if (st == SB_OK && rc != SQLITE_DONE)
            st = hist_sql_error(h, rc, "exporting chats", err);
        sqlite3_reset(s);
        if (st == SB_OK && chat_id > 0 && json_array_size(chats) == 0)
            st = sb_error_set(err, SB_ERR_NOT_FOUND, "chat %" PRId64 " does not exist", chat_id);
    }
    if (st == SB_OK)
        st = hist_exec(h, HS_COMMIT, "exporting", err);
    else
        hist_rollback(h, st);
    pthread_mutex_unlock(&h->mu);
    if (st != SB_OK) {
        json_decref(chats);
        return st;
    }
    *out = json_pack("{s:s, s:i, s:I, s:o}", "format", SB_HISTORY_EXPORT_FORMAT, "version",
                     SB_HISTORY_EXPORT_VERSION, "exported_at", (json_int_t)now, "chats", chats);
    return *out ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
}

/* ---- import ---------------------------------------------------------------- */

/* An optional time field of an imported chat (absent: fallback). */
static sb_status opt_time(const json_t *o, const char *key, const char *where, int64_t fallback, int64_t *out,
                          sb_error *err) {
    json_t *v = json_object_get(o, key);
    *out = fallback;
    if (!v || json_is_null(v))
        return SB_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > MAX_TIME_MS)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.%s: must be milliseconds since 1970", where, key);
    *out = json_integer_value(v);
    return SB_OK;
}

/* Validates and inserts one chat of an import document. Caller holds h->mu
 * inside a transaction. */
static sb_status import_chat(sb_history *h, const json_t *c, size_t index, int64_t now, int64_t *id, sb_error *err) {
    static const char *const keys[] = {"title", "model", "settings", "created_at", "updated_at", "messages", "id",
                                       NULL};
    char where[64];
    snprintf(where, sizeof where, "chats[%zu]", index);
    if (!json_is_object(c))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: must be an object", where);
    sb_status st = known_keys(c, keys, where, err);
    if (st != SB_OK)
        return st;
    const char *title = NULL, *model = NULL;
    json_t *tv = json_object_get(c, "title");
    if (tv && !json_is_null(tv)) {
        if (!json_is_string(tv))
            return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.title: must be a string", where);
        title = json_string_value(tv);
        size_t chars = 0;
        for (const unsigned char *p = (const unsigned char *)title; *p; p++) {
            if (*p < 0x20)
                return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.title: contains a control character", where);
            chars += (*p & 0xC0) != 0x80;
        }
        if (chars > SB_HISTORY_MAX_TITLE)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.title: longer than %d characters", where,
                                SB_HISTORY_MAX_TITLE);
    }
    if ((st = opt_word(c, "model", SB_HISTORY_MAX_MODEL, where, &model, err)) != SB_OK)
        return st;
    json_t *settings = json_object_get(c, "settings");
    char swhere[80];
    snprintf(swhere, sizeof swhere, "%s.settings", where);
    if (settings && !json_is_null(settings) && (st = sb_history_check_settings(settings, swhere, err)) != SB_OK)
        return st;
    json_t *msgs = json_object_get(c, "messages");
    if (!json_is_array(msgs))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.messages: must be an array", where);
    if (json_array_size(msgs) > MAX_IMPORT_MESSAGES)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s.messages: more than %d messages", where,
                            MAX_IMPORT_MESSAGES);
    int64_t created, updated;
    if ((st = opt_time(c, "created_at", where, now, &created, err)) != SB_OK ||
        (st = opt_time(c, "updated_at", where, created, &updated, err)) != SB_OK)
        return st;
    char *text = settings && json_is_object(settings) ? json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    bool auto_title = !title || !*title;
    st = hist_chat_insert(h, auto_title ? "" : title, auto_title, model, text ? text : "{}", created, updated, id,
                          err);
    free(text);
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        if (st != SB_OK)
            break;
        char mwhere[96];
        snprintf(mwhere, sizeof mwhere, "%s.messages[%zu]", where, i);
        hist_msg hm;
        st = hist_msg_from_json(m, mwhere, true, &hm, err);
        if (st == SB_OK) {
            if (hm.created_at < 0)
                hm.created_at = created;
            st = hist_msg_insert(h, *id, (int64_t)i, &hm, now, NULL, err);
        }
    }
    if (st != SB_OK)
        return st;
    /* n_messages: the chat row was inserted with 0; set it without moving
     * updated_at (HS_CHAT_TOUCH sets both). */
    sqlite3_stmt *s = hist_stmt(h, HS_CHAT_TOUCH, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, *id);
    sqlite3_bind_int64(s, 2, updated);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hist_sql_error(h, rc, "importing a chat", err);
    return auto_title ? hist_chat_autotitle(h, *id, err) : SB_OK;
}

/* See history.h. One transaction: a bad field anywhere imports nothing. */
sb_status sb_history_import(sb_history *h, const json_t *doc, json_t **out, sb_error *err) {
    *out = NULL;
    if (!json_is_object(doc))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "the import must be a JSON object");
    const char *format = json_string_value(json_object_get(doc, "format"));
    if (!format || strcmp(format, SB_HISTORY_EXPORT_FORMAT) != 0)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "format: must be \"%s\" (a Solebox chat export)",
                            SB_HISTORY_EXPORT_FORMAT);
    json_t *version = json_object_get(doc, "version");
    if (!json_is_integer(version) || json_integer_value(version) < 1 ||
        json_integer_value(version) > SB_HISTORY_EXPORT_VERSION)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "version: this Solebox reads export version %d",
                            SB_HISTORY_EXPORT_VERSION);
    json_t *chats = json_object_get(doc, "chats");
    if (!json_is_array(chats))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "chats: must be an array");
    if (json_array_size(chats) > MAX_IMPORT_CHATS)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "chats: more than %d chats", MAX_IMPORT_CHATS);
    json_t *ids = json_array();
    if (!ids)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    pthread_mutex_lock(&h->mu);
    int64_t now = hist_now(h);
    sb_status st = hist_exec(h, HS_BEGIN, "importing", err);
    size_t i;
    json_t *c;
    json_array_foreach(chats, i, c) {
        if (st != SB_OK)
            break;
        int64_t id = 0;
        st = import_chat(h, c, i, now, &id, err);
        if (st == SB_OK)
            json_array_append_new(ids, json_integer(id));
    }
    if (st == SB_OK)
        st = hist_exec(h, HS_COMMIT, "importing", err);
    else
        hist_rollback(h, st);
    pthread_mutex_unlock(&h->mu);
    if (st != SB_OK) {
        json_decref(ids);
        return st;
    }
    *out = json_pack("{s:I, s:o}", "imported", (json_int_t)json_array_size(ids), "ids", ids);
    return *out ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
}
