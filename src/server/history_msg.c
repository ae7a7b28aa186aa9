/*
 * history_msg.c - a chat's messages and the performance samples taken from
 * replies (see history.h).
 */
#include "history_internal.h"

#include "sb_alloc.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Binds an optional integer (< 0: NULL). */
static void bind_opt_int(sqlite3_stmt *s, int i, json_int_t v) {
    if (v < 0)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

/* Binds an optional real (< 0: NULL). */
static void bind_opt_real(sqlite3_stmt *s, int i, double v) {
    if (v < 0)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_double(s, i, v);
}

/* See history_internal.h. */
sb_status hist_msg_insert(sb_history *h, int64_t chat_id, int64_t seq, const hist_msg *m, int64_t now,
                          int64_t *id, sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, HS_MSG_INSERT, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_int64(s, 2, seq);
    hist_bind_text(s, 3, m->role);
    sqlite3_bind_text(s, 4, m->content, (int)m->content_len, SQLITE_TRANSIENT);
    hist_bind_text(s, 5, m->model);
    hist_bind_text(s, 6, m->finish);
    sqlite3_bind_int64(s, 7, m->created_at >= 0 ? m->created_at : now);
    bind_opt_int(s, 8, m->has_usage ? m->prompt_tokens : -1);
    bind_opt_int(s, 9, m->has_usage ? m->completion_tokens : -1);
    bind_opt_int(s, 10, m->has_usage ? m->cached_tokens : -1);
    bind_opt_real(s, 11, m->has_usage ? m->prompt_ms : -1);
    bind_opt_real(s, 12, m->has_usage ? m->predicted_ms : -1);
    bind_opt_real(s, 13, m->has_usage ? m->ttft_ms : -1);
    bind_opt_real(s, 14, m->has_usage ? m->tokens_per_s : -1);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hist_sql_error(h, rc, "adding a message", err);
    if (id)
        *id = sqlite3_last_insert_rowid(h->db);
    return SB_OK;
}

/* Sets a key to an integer column's value unless it is NULL. */
static void set_opt_int(json_t *o, const char *key, sqlite3_stmt *s, int col) {
    if (sqlite3_column_type(s, col) != SQLITE_NULL)
        json_object_set_new(o, key, json_integer(sqlite3_column_int64(s, col)));
}

/* Sets a key to a real column's value unless it is NULL. */
static void set_opt_real(json_t *o, const char *key, sqlite3_stmt *s, int col) {
    if (sqlite3_column_type(s, col) != SQLITE_NULL)
        json_object_set_new(o, key, json_real(sqlite3_column_double(s, col)));
}

/* See history_internal.h. Columns: MSG_COLS in history.c. */
json_t *hist_msg_json(sqlite3_stmt *s, bool with_ids) {
    json_t *j = json_object();
    if (!j)
        return NULL;
    if (with_ids) {
        json_object_set_new(j, "id", json_integer(sqlite3_column_int64(s, 0)));
        json_object_set_new(j, "seq", json_integer(sqlite3_column_int64(s, 1)));
    }
    json_object_set_new(j, "role", hist_col_string(s, 2));
    json_object_set_new(j, "content", hist_col_string(s, 3));
    if (sqlite3_column_type(s, 4) != SQLITE_NULL)
        json_object_set_new(j, "model", hist_col_string(s, 4));
    if (sqlite3_column_type(s, 5) != SQLITE_NULL)
        json_object_set_new(j, "finish", hist_col_string(s, 5));
    json_object_set_new(j, "created_at", json_integer(sqlite3_column_int64(s, 6)));
    json_t *u = json_object();
    set_opt_int(u, "prompt_tokens", s, 7);
    set_opt_int(u, "completion_tokens", s, 8);
    set_opt_int(u, "cached_tokens", s, 9);
    set_opt_real(u, "prompt_ms", s, 10);
    set_opt_real(u, "predicted_ms", s, 11);
    set_opt_real(u, "ttft_ms", s, 12);
    set_opt_real(u, "tokens_per_s", s, 13);
    if (u && json_object_size(u) > 0)
        json_object_set_new(j, "usage", u);
    else
        json_decref(u);
    return j;
}

/* Deletes a chat's messages from seq on. Caller holds h->mu. */
static sb_status truncate_locked(sb_history *h, int64_t chat_id, int64_t from, sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, HS_MSG_TRUNCATE, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_int64(s, 2, from);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SB_OK : hist_sql_error(h, rc, "deleting messages", err);
}

/* Sets the chat's updated_at and message count. Caller holds h->mu. */
static sb_status touch_locked(sb_history *h, int64_t chat_id, int64_t now, sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, HS_CHAT_TOUCH, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_int64(s, 2, now);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hist_sql_error(h, rc, "updating a chat", err);
    if (sqlite3_changes(h->db) == 0)
        return sb_error_set(err, SB_ERR_NOT_FOUND, "chat %" PRId64 " does not exist", chat_id);
    return SB_OK;
}

/* The next free seq of a chat. Caller holds h->mu. */
static sb_status next_seq(sb_history *h, int64_t chat_id, int64_t *seq, sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, HS_MSG_NEXT_SEQ, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, chat_id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? SB_OK : hist_sql_error(h, rc, "numbering a message", err);
}

/* Records a reply's timings as a performance sample when it has what an
 * estimate needs. Caller holds h->mu. */
static sb_status perf_from_reply(sb_history *h, const hist_msg *m, sb_error *err);

/* Reads back one stored message as JSON. Caller holds h->mu. */
static sb_status message_get_locked(sb_history *h, int64_t chat_id, int64_t seq, json_t **out, sb_error *err) {
    json_t *page = NULL;
    *out = NULL;
    sqlite3_stmt *s = hist_stmt(h, HS_MSG_PAGE, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, chat_id);
    sqlite3_bind_int64(s, 2, seq + 1);
    sqlite3_bind_int(s, 3, 1);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        page = hist_msg_json(s, true);
    sqlite3_reset(s);
    if (rc != SQLITE_ROW)
        return hist_sql_error(h, rc, "reading a message", err);
    if (!page)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    *out = page;
    return SB_OK;
}

/* See history.h. */
sb_status sb_history_message_append(sb_history *h, int64_t chat_id, const json_t *msg, int64_t truncate_from,
                                    json_t **out, sb_error *err) {
    if (out)
        *out = NULL;
    hist_msg m;
    sb_status st = hist_msg_from_json(msg, "message", false, &m, err);
    if (st != SB_OK)
        return st;
    pthread_mutex_lock(&h->mu);
    int64_t now = hist_now(h), seq = 0;
    st = hist_exec(h, HS_BEGIN, "adding a message", err);
    if (st == SB_OK)
        st = touch_locked(h, chat_id, now, err); /* also: does the chat exist? */
    if (st == SB_OK && truncate_from >= 0)
        st = truncate_locked(h, chat_id, truncate_from, err);
    if (st == SB_OK)
        st = next_seq(h, chat_id, &seq, err);
    if (st == SB_OK)
        st = hist_msg_insert(h, chat_id, seq, &m, now, NULL, err);
    if (st == SB_OK)
        st = touch_locked(h, chat_id, now, err);
    if (st == SB_OK && strcmp(m.role, "user") == 0)
        st = hist_chat_autotitle(h, chat_id, err);
    if (st == SB_OK)
        st = perf_from_reply(h, &m, err);
    if (st == SB_OK)
        st = hist_exec(h, HS_COMMIT, "adding a message", err);
    else
        hist_rollback(h, st);
    if (st == SB_OK && out)
        st = message_get_locked(h, chat_id, seq, out, err);
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* See history.h. */
sb_status sb_history_message_truncate(sb_history *h, int64_t chat_id, int64_t from_seq, sb_error *err) {
    if (from_seq < 0)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "from: must be a message number (0 or more)");
    pthread_mutex_lock(&h->mu);
    int64_t now = hist_now(h);
    sb_status st = hist_exec(h, HS_BEGIN, "deleting messages", err);
    if (st == SB_OK)
        st = truncate_locked(h, chat_id, from_seq, err);
    if (st == SB_OK)
        st = touch_locked(h, chat_id, now, err);
    if (st == SB_OK)
        st = hist_chat_autotitle(h, chat_id, err);
    if (st == SB_OK)
        st = hist_exec(h, HS_COMMIT, "deleting messages", err);
    else
        hist_rollback(h, st);
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* See history.h. One index range scan on (chat_id, seq), newest first,
 * then reversed so the page reads in order. */
sb_status sb_history_messages(sb_history *h, int64_t chat_id, int64_t before_seq, int limit, json_t **out,
                              sb_error *err) {
    *out = NULL;
    if (limit < 1 || limit > SB_HISTORY_MAX_PAGE)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "limit: %d is out of range 1..%d", limit, SB_HISTORY_MAX_PAGE);
    json_t *rows = json_array(), *res = json_object();
    if (!rows || !res) {
        json_decref(rows);
        json_decref(res);
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    }
    pthread_mutex_lock(&h->mu);
    sqlite3_stmt *s = NULL;
    sb_status st = hist_chat_exists(h, chat_id, NULL, err);
    if (st == SB_OK && !(s = hist_stmt(h, HS_MSG_PAGE, err)))
        st = err ? err->code : SB_ERR_IO;
    bool more = false;
    if (st == SB_OK) {
        sqlite3_bind_int64(s, 1, chat_id);
        sqlite3_bind_int64(s, 2, before_seq < 0 ? INT64_MAX : before_seq);
        sqlite3_bind_int(s, 3, limit + 1);
        int rc, n = 0;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (n == limit) {
                more = true;
                break;
            }
            json_array_insert_new(rows, 0, hist_msg_json(s, true));
            n++;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            st = hist_sql_error(h, rc, "reading messages", err);
    }
    pthread_mutex_unlock(&h->mu);
    if (st != SB_OK) {
        json_decref(rows);
        json_decref(res);
        return st;
    }
    json_object_set_new(res, "messages", rows);
    json_object_set_new(res, "has_more", json_boolean(more));
    *out = res;
    return SB_OK;
}

/* ---- performance samples --------------------------------------------- */

/* Inserts a sample and prunes old ones. Caller holds h->mu. */
static sb_status perf_add_locked(sb_history *h, const char *model, const char *source, const sb_history_perf *p,
                                 sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, HS_PERF_INSERT, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    hist_bind_text(s, 1, model);
    hist_bind_text(s, 2, source);
    sqlite3_bind_int64(s, 3, hist_now(h));
    sqlite3_bind_int(s, 4, p->prompt_n);
    sqlite3_bind_double(s, 5, p->prompt_ms);
    sqlite3_bind_int(s, 6, p->predicted_n);
    sqlite3_bind_double(s, 7, p->predicted_ms);
    bind_opt_real(s, 8, p->ttft_ms);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hist_sql_error(h, rc, "recording a measurement", err);
    if (!(s = hist_stmt(h, HS_PERF_PRUNE, err)))
        return err ? err->code : SB_ERR_IO;
    hist_bind_text(s, 1, model);
    sqlite3_bind_int(s, 2, SB_HISTORY_PERF_KEEP);
    rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SB_OK : hist_sql_error(h, rc, "pruning measurements", err);
}

/* See the declaration above. A sample needs at least two generated tokens
 * and a measured decode time. */
static sb_status perf_from_reply(sb_history *h, const hist_msg *m, sb_error *err) {
    if (strcmp(m->role, "assistant") != 0 || !m->has_usage || !m->model || !*m->model)
        return SB_OK;
    if (m->completion_tokens < 2 || m->predicted_ms <= 0)
        return SB_OK;
    sb_history_perf p = {
        .prompt_n = (int)(m->prompt_tokens > 0 ? m->prompt_tokens - (m->cached_tokens > 0 ? m->cached_tokens : 0)
                                               : 0),
        .prompt_ms = m->prompt_ms > 0 ? m->prompt_ms : 0,
        .predicted_n = (int)m->completion_tokens,
        .predicted_ms = m->predicted_ms,
        .ttft_ms = m->ttft_ms,
    };
    if (p.prompt_n < 0)
        p.prompt_n = 0;
    return perf_add_locked(h, m->model, "reply", &p, err);
}

/* See history.h. */
sb_status sb_history_perf_add(sb_history *h, const char *model, const char *source, const sb_history_perf *p,
                              sb_error *err) {
    if (!model || !*model || strlen(model) > SB_HISTORY_MAX_MODEL)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "model: must be a model id");
    if (p->predicted_n < 1 || p->predicted_ms <= 0 || p->prompt_n < 0 || p->prompt_ms < 0)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "a measurement needs generated tokens and their time");
    pthread_mutex_lock(&h->mu);
    sb_status st = perf_add_locked(h, model, source, p, err);
    pthread_mutex_unlock(&h->mu);
    return st;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorted in place); n > 0. */
static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* See history.h. Medians, so one slow request (a long prompt, a busy
 * moment) does not swing the estimate. */
sb_status sb_history_perf_estimate(sb_history *h, const char *model, json_t **out, sb_error *err) {
    *out = NULL;
    double tps[SB_HISTORY_PERF_WINDOW], ttft[SB_HISTORY_PERF_WINDOW], pps[SB_HISTORY_PERF_WINDOW];
    int n_tps = 0, n_ttft = 0, n_pps = 0, n = 0;
    char source[32] = "";
    int64_t at = 0;
    pthread_mutex_lock(&h->mu);
    sb_status st = SB_OK;
    sqlite3_stmt *s = hist_stmt(h, HS_PERF_RECENT, err);
    if (!s) {
        st = err ? err->code : SB_ERR_IO;
    } else {
        hist_bind_text(s, 1, model);
        sqlite3_bind_int(s, 2, SB_HISTORY_PERF_WINDOW);
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < SB_HISTORY_PERF_WINDOW) {
            if (n == 0) {
                const char *src = (const char *)sqlite3_column_text(s, 0);
                snprintf(source, sizeof source, "%s", src ? src : "");
                at = sqlite3_column_int64(s, 1);
            }
            int prompt_n = sqlite3_column_int(s, 2), predicted_n = sqlite3_column_int(s, 4);
            double prompt_ms = sqlite3_column_double(s, 3), predicted_ms = sqlite3_column_double(s, 5);
            if (predicted_n > 0 && predicted_ms > 0)
                tps[n_tps++] = predicted_n * 1000.0 / predicted_ms;
            if (prompt_n > 0 && prompt_ms > 0)
                pps[n_pps++] = prompt_n * 1000.0 / prompt_ms;
            if (sqlite3_column_type(s, 6) != SQLITE_NULL)
                ttft[n_ttft++] = sqlite3_column_double(s, 6);
            n++;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            st = hist_sql_error(h, rc, "reading measurements", err);
    }
    pthread_mutex_unlock(&h->mu);
    if (st != SB_OK)
        return st;
    if (n == 0 || n_tps == 0) {
        *out = json_null();
        return SB_OK;
    }
    json_t *j = json_object();
    if (!j)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    json_object_set_new(j, "tokens_per_s", json_real(median(tps, n_tps)));
    json_object_set_new(j, "ttft_ms", n_ttft ? json_real(median(ttft, n_ttft)) : json_null());
    json_object_set_new(j, "prompt_tokens_per_s", n_pps ? json_real(median(pps, n_pps)) : json_null());
    json_object_set_new(j, "samples", json_integer(n));
    json_object_set_new(j, "source", json_string(source));
    json_object_set_new(j, "measured_at", json_integer(at));
    *out = j;
    return SB_OK;
}
