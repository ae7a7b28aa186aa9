/*
 * history_query.c - search, token usage per day, and the default settings
 * of new chats (see history.h).
 */
#include "history_internal.h"

#include "sb_alloc.h"
#include "sb_buf.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_MAX_QUERY 256
#define SNIPPET_BEFORE 40
#define SNIPPET_AFTER 100

/* Code points in s (bytes that are not continuation bytes). */
static size_t utf8_chars(const char *s) {
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* q as a LIKE pattern "%q%" with %, _ and \ escaped by \. */
static sb_status like_pattern(const char *q, sb_buf *out) {
    sb_status st = sb_buf_putc(out, '%');
    for (const char *p = q; *p && st == SB_OK; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            st = sb_buf_putc(out, '\\');
        if (st == SB_OK)
            st = sb_buf_putc(out, *p);
    }
    if (st == SB_OK)
        st = sb_buf_putc(out, '%');
    return st;
}

/* q as one FTS5 phrase: "q" with inner quotes doubled, so nothing in q is
 * read as query syntax. */
static sb_status fts_phrase(const char *q, sb_buf *out) {
    sb_status st = sb_buf_putc(out, '"');
    for (const char *p = q; *p && st == SB_OK; p++) {
        if (*p == '"')
            st = sb_buf_putc(out, '"');
        if (st == SB_OK)
            st = sb_buf_putc(out, *p);
    }
    if (st == SB_OK)
        st = sb_buf_putc(out, '"');
    return st;
}

/* The first position of q in text[0..n), ASCII letters compared without
 * case; n when absent. */
static size_t find_nocase(const char *text, size_t n, const char *q) {
    size_t m = strlen(q);
    for (size_t i = 0; m && i + m <= n; i++) {
        size_t k = 0;
        while (k < m && tolower((unsigned char)text[i + k]) == tolower((unsigned char)q[k]))
            k++;
        if (k == m)
            return i;
    }
    return n;
}

/* A short plain-text excerpt of text around q (one line, "…" where cut);
 * NULL when out of memory. */
static json_t *snippet(const char *text, size_t n, const char *q) {
    size_t pos = find_nocase(text, n, q);
    size_t start = pos < n && pos > SNIPPET_BEFORE ? pos - SNIPPET_BEFORE : 0;
    size_t end = (pos < n ? pos + strlen(q) : 0) + SNIPPET_AFTER;
    if (end > n)
        end = n;
    while (start > 0 && ((unsigned char)text[start] & 0xC0) == 0x80)
        start--;
    while (end < n && ((unsigned char)text[end] & 0xC0) == 0x80)
        end--;
    sb_buf b;
    sb_buf_init(&b);
    if (start > 0)
        sb_buf_puts(&b, "\xE2\x80\xA6");
    for (size_t i = start; i < end; i++) {
        char c = text[i];
        sb_buf_putc(&b, c == '\n' || c == '\r' || c == '\t' ? ' ' : c);
    }
    if (end < n)
        sb_buf_puts(&b, "\xE2\x80\xA6");
    json_t *j = json_stringn(b.data ? b.data : "", b.len);
    sb_buf_free(&b);
    return j;
}

/* Adds the snippet of message seq of a chat to r. Caller holds h->mu. */
static sb_status add_snippet(sb_history *h, json_t *r, int64_t chat, int64_t seq, const char *q, sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, HS_MSG_GET, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, chat);
    sqlite3_bind_int64(s, 2, seq);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        json_object_set_new(r, "snippet", snippet((const char *)sqlite3_column_text(s, 0),
                                                  (size_t)sqlite3_column_bytes(s, 0), q));
    sqlite3_reset(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SB_OK : hist_sql_error(h, rc, "searching", err);
}

/* See history.h. Messages match through the FTS5 trigram index when the
 * query has three or more characters (fewer cannot make a trigram); titles
 * and short queries use LIKE (ASCII-only case folding). */
sb_status sb_history_search(sb_history *h, const char *q, int limit, json_t **out, sb_error *err) {
    *out = NULL;
    if (limit < 1 || limit > SB_HISTORY_MAX_PAGE)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "limit: %d is out of range 1..%d", limit, SB_HISTORY_MAX_PAGE);
    if (!q || !*q)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "q: the search text is empty");
    if (strlen(q) > SEARCH_MAX_QUERY)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "q: longer than %d bytes", SEARCH_MAX_QUERY);
    for (const char *p = q; *p; p++)
        if ((unsigned char)*p < 0x20)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "q: contains a control character");
    bool fts = h->has_fts && utf8_chars(q) >= 3;
    sb_buf like, phrase;
    sb_buf_init(&like);
    sb_buf_init(&phrase);
    json_t *results = json_array();
    sb_status st = like_pattern(q, &like);
    if (st == SB_OK && fts)
        st = fts_phrase(q, &phrase);
    if (st != SB_OK || !results) {
        sb_buf_free(&like);
        sb_buf_free(&phrase);
        json_decref(results);
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    }
    pthread_mutex_lock(&h->mu);
    sqlite3_stmt *s = hist_stmt(h, fts ? HS_SEARCH_FTS : HS_SEARCH_LIKE, err);
    if (!s) {
        st = err ? err->code : SB_ERR_IO;
    } else {
        if (fts)
            sqlite3_bind_text(s, 1, phrase.data, (int)phrase.len, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, like.data, (int)like.len, SQLITE_TRANSIENT);
        sqlite3_bind_int(s, 3, limit);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            json_t *r = json_pack("{s:I, s:o, s:I, s:I}", "id", (json_int_t)sqlite3_column_int64(s, 0), "title",
                                  hist_col_string(s, 1), "updated_at", (json_int_t)sqlite3_column_int64(s, 2),
                                  "n_messages", (json_int_t)sqlite3_column_int64(s, 3));
            if (!r)
                continue;
            json_object_set_new(r, "seq", sqlite3_column_type(s, 4) == SQLITE_NULL
                                              ? json_null()
                                              : json_integer(sqlite3_column_int64(s, 4)));
            json_array_append_new(results, r);
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            st = hist_sql_error(h, rc, "searching", err);
    }
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        if (st != SB_OK)
            break;
        json_t *seq = json_object_get(r, "seq");
        if (json_is_integer(seq))
            st = add_snippet(h, r, json_integer_value(json_object_get(r, "id")), json_integer_value(seq), q, err);
    }
    pthread_mutex_unlock(&h->mu);
    sb_buf_free(&like);
    sb_buf_free(&phrase);
    if (st != SB_OK) {
        json_decref(results);
        return st;
    }
    *out = json_pack("{s:o, s:s}", "results", results, "method", fts ? "fts5" : "like");
    return *out ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
}

/* "YYYY-MM-DD" of a day number (days since 1970-01-01), by the civil
 * calendar algorithm (proleptic Gregorian). */
static void day_string(int64_t z, char out[64]) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(out, 64, "%04" PRId64 "-%02" PRId64 "-%02" PRId64, y, m, d);
}

/* See history.h. Days are the client's local days (tz_offset_min east of
 * UTC), so "today" matches the person's calendar. */
sb_status sb_history_usage(sb_history *h, int tz_offset_min, int days, json_t **out, sb_error *err) {
    *out = NULL;
    if (days < 1 || days > 3660)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "days: %d is out of range 1..3660", days);
    if (tz_offset_min < -16 * 60 || tz_offset_min > 16 * 60)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "tz_offset_min: %d is out of range -960..960", tz_offset_min);
    int64_t tz_s = (int64_t)tz_offset_min * 60;
    json_t *list = json_array();
    if (!list)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    pthread_mutex_lock(&h->mu);
    int64_t now_s = hist_now(h) / 1000;
    int64_t today = (now_s + tz_s) / 86400;
    int64_t since_ms = ((today - days + 1) * 86400 - tz_s) * 1000;
    sb_status st = SB_OK;
    json_t *total = NULL;
    sqlite3_stmt *s = hist_stmt(h, HS_USAGE_DAYS, err);
    if (!s) {
        st = err ? err->code : SB_ERR_IO;
    } else {
        sqlite3_bind_int64(s, 1, tz_s);
        sqlite3_bind_int64(s, 2, since_ms);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            char day[64];
            day_string(sqlite3_column_int64(s, 0), day);
            json_array_append_new(list, json_pack("{s:s, s:I, s:I, s:I}", "day", day, "prompt_tokens",
                                                  (json_int_t)sqlite3_column_int64(s, 1), "completion_tokens",
                                                  (json_int_t)sqlite3_column_int64(s, 2), "replies",
                                                  (json_int_t)sqlite3_column_int64(s, 3)));
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            st = hist_sql_error(h, rc, "summing usage", err);
    }
    if (st == SB_OK) {
        if (!(s = hist_stmt(h, HS_USAGE_TOTAL, err))) {
            st = err ? err->code : SB_ERR_IO;
        } else {
            int rc = sqlite3_step(s);
            if (rc == SQLITE_ROW)
                total = json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)sqlite3_column_int64(s, 0),
                                  "completion_tokens", (json_int_t)sqlite3_column_int64(s, 1), "replies",
                                  (json_int_t)sqlite3_column_int64(s, 2));
            else
                st = hist_sql_error(h, rc, "summing usage", err);
            sqlite3_reset(s);
        }
    }
    pthread_mutex_unlock(&h->mu);
    if (st != SB_OK) {
        json_decref(list);
        json_decref(total);
        return st;
    }
    *out = json_pack("{s:o, s:o}", "days", list, "total", total ? total : json_object());
    return *out ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
}

/* ---- default settings -------------------------------------------------- */

/* See history_internal.h. Sampling that suits small local models; the
 * rest (system prompt, max tokens, seed, context) unset = the server's. */
json_t *hist_builtin_defaults(void) {
    return json_pack("{s:s, s:f, s:f, s:i, s:f, s:f}", "system_prompt", "", "temperature", 0.8, "top_p", 0.95,
                     "top_k", 40, "min_p", 0.05, "repetition_penalty", 1.0);
}

/* See history_internal.h. A stored value that no longer validates (from
 * a hand-edited database) falls back to the built-in defaults. */
sb_status hist_defaults_locked(sb_history *h, json_t **out, sb_error *err) {
    *out = NULL;
    sqlite3_stmt *s = hist_stmt(h, HS_SETTING_GET, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    hist_bind_text(s, 1, "defaults");
    int rc = sqlite3_step(s);
    json_t *j = NULL;
    if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(s, 0);
        j = text ? json_loads(text, 0, NULL) : NULL;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hist_sql_error(h, rc, "reading the default settings", err);
    if (!j || sb_history_check_settings(j, "defaults", NULL) != SB_OK) {
        json_decref(j);
        j = hist_builtin_defaults();
    }
    if (!j)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    *out = j;
    return SB_OK;
}

/* See history.h. */
sb_status sb_history_defaults_get(sb_history *h, json_t **out, sb_error *err) {
    pthread_mutex_lock(&h->mu);
    sb_status st = hist_defaults_locked(h, out, err);
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* See history.h. */
sb_status sb_history_defaults_set(sb_history *h, const json_t *settings, json_t **out, sb_error *err) {
    if (out)
        *out = NULL;
    sb_status st = sb_history_check_settings(settings, "settings", err);
    if (st != SB_OK)
        return st;
    char *text = json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    pthread_mutex_lock(&h->mu);
    sqlite3_stmt *s = hist_stmt(h, HS_SETTING_SET, err);
    if (!s) {
        st = err ? err->code : SB_ERR_IO;
    } else {
        hist_bind_text(s, 1, "defaults");
        hist_bind_text(s, 2, text);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE)
            st = hist_sql_error(h, rc, "saving the default settings", err);
    }
    if (st == SB_OK && out)
        st = hist_defaults_locked(h, out, err);
    pthread_mutex_unlock(&h->mu);
    free(text);
    return st;
}
