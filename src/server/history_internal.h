/*
 * history_internal.h - what the history store's files share: the store
 * object, its prepared-statement cache and the SQLite error mapping.
 *
 * history.c       open, schema, statement cache, chats
 * history_msg.c   messages, performance samples
 * history_query.c search, usage, default settings
 * history_json.c  validation of untrusted JSON, export, import
 */
#ifndef SB_HISTORY_INTERNAL_H
#define SB_HISTORY_INTERNAL_H

#include "history.h"

#include <pthread.h>
#include <sqlite3.h>

/* Every statement the store runs, prepared once (on first use) with
 * SQLITE_PREPARE_PERSISTENT and reset after each use. */
typedef enum hist_stmt_id {
    HS_BEGIN,
    HS_COMMIT,
    HS_ROLLBACK,
    HS_CHAT_INSERT,
    HS_CHAT_GET,
    HS_CHAT_USAGE,
    HS_CHAT_DELETE,
    HS_CHAT_SET_TITLE,
    HS_CHAT_SET_MODEL,
    HS_CHAT_SET_SETTINGS,
    HS_CHAT_TOUCH,
    HS_CHAT_LIST_FIRST,
    HS_CHAT_LIST_AFTER,
    HS_CHAT_FIRST_USER,
    HS_CHAT_EXISTS,
    HS_CHAT_ALL,
    HS_MSG_NEXT_SEQ,
    HS_MSG_INSERT,
    HS_MSG_TRUNCATE,
    HS_MSG_PAGE,
    HS_MSG_ALL,
    HS_MSG_GET,
    HS_SEARCH_FTS,
    HS_SEARCH_LIKE,
    HS_USAGE_DAYS,
    HS_USAGE_TOTAL,
    HS_SETTING_GET,
    HS_SETTING_SET,
    HS_PERF_INSERT,
    HS_PERF_PRUNE,
    HS_PERF_RECENT,
    HS_COUNT
} hist_stmt_id;

struct sb_history {
    sqlite3 *db;
    pthread_mutex_t mu;
    sqlite3_stmt *stmt[HS_COUNT];
    bool has_fts;
    int64_t (*now_ms)(void);
};

/* The statement id, prepared (and reset, bindings cleared) for use;
 * NULL with err filled. Caller holds h->mu. */
sqlite3_stmt *hist_stmt(sb_history *h, hist_stmt_id id, sb_error *err);
/* Turns a SQLite result code into a status and a message naming what was
 * being done ("history store: adding a message: database is locked"). */
sb_status hist_sql_error(sb_history *h, int rc, const char *what, sb_error *err);
/* Runs a statement with no result rows (BEGIN, COMMIT, ...). */
sb_status hist_exec(sb_history *h, hist_stmt_id id, const char *what, sb_error *err);
/* Rolls back (ignoring errors) and returns st: for error paths. */
sb_status hist_rollback(sb_history *h, sb_status st);
/* The current time in ms since the epoch (the test clock if set). */
int64_t hist_now(sb_history *h);

/* Binds UTF-8 text (copied by SQLite); NULL binds SQL NULL. */
int hist_bind_text(sqlite3_stmt *s, int i, const char *text);
/* A column as a JSON string (NULL -> JSON null). */
json_t *hist_col_string(sqlite3_stmt *s, int col);

/* A chat row (the columns of HS_CHAT_GET / list) as a summary object. */
json_t *hist_chat_summary(sqlite3_stmt *s);
/* The chat as GET /api/chats/{id} shows it. Caller holds h->mu. */
sb_status hist_chat_get_locked(sb_history *h, int64_t id, json_t **out, sb_error *err);
/* Looks a chat up; *title_auto (may be NULL) gets its flag.
 * SB_ERR_NOT_FOUND when it does not exist. Caller holds h->mu. */
sb_status hist_chat_exists(sb_history *h, int64_t id, bool *title_auto, sb_error *err);
/* Sets the title from the first user message when the chat's title is
 * automatic. Caller holds h->mu inside a transaction. */
sb_status hist_chat_autotitle(sb_history *h, int64_t id, sb_error *err);
/* Inserts a chat row; *id gets its id. Caller holds h->mu. */
sb_status hist_chat_insert(sb_history *h, const char *title, bool title_auto, const char *model,
                           const char *settings, int64_t created, int64_t updated, int64_t *id, sb_error *err);

/* A validated message ready for insertion (strings borrowed from the
 * JSON it came from). */
typedef struct hist_msg {
    const char *role;
    const char *content;
    size_t content_len;
    const char *model;  /* NULL: none */
    const char *finish; /* NULL: none */
    int64_t created_at; /* < 0: now */
    bool has_usage;
    json_int_t prompt_tokens, completion_tokens, cached_tokens; /* < 0: absent */
    double prompt_ms, predicted_ms, ttft_ms, tokens_per_s;      /* < 0: absent */
} hist_msg;

/* Validates one message object; where names it in errors
 * ("chats[0].messages[3]"). allow_created: created_at may be given. */
sb_status hist_msg_from_json(const json_t *j, const char *where, bool allow_created, hist_msg *m, sb_error *err);
/* Inserts m as the chat's message number seq. Caller holds h->mu inside a
 * transaction; *id (may be NULL) gets the row id. */
sb_status hist_msg_insert(sb_history *h, int64_t chat_id, int64_t seq, const hist_msg *m, int64_t now,
                          int64_t *id, sb_error *err);
/* A message row (HS_MSG_PAGE / HS_MSG_ALL / HS_MSG_GET columns) as JSON;
 * with_ids: include "id" and "seq" (the API) or not (exports). */
json_t *hist_msg_json(sqlite3_stmt *s, bool with_ids);

/* The defaults used before any were saved. */
json_t *hist_builtin_defaults(void);
/* The stored defaults (or the built-in ones). Caller holds h->mu. */
sb_status hist_defaults_locked(sb_history *h, json_t **out, sb_error *err);

/* Title from a message: its first non-empty line, spaces collapsed, cut at
 * SB_HISTORY_MAX_TITLE / 3 characters with an ellipsis. Caller frees with
 * sb_free; NULL when out of memory. */
char *hist_title_from(const char *text, size_t len);

#endif
