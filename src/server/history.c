/*
 * history.c - the history store: opening, the schema and its versions,
 * the prepared-statement cache, and chats (see history.h).
 */
#define _GNU_SOURCE
#include "history_internal.h"

#include "sb_alloc.h"
#include "sb_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MSG_COLS                                                                                                   \
    "id, seq, role, content, model, finish, created_at, prompt_tokens, completion_tokens, cached_tokens, "         \
    "prompt_ms, predicted_ms, ttft_ms, tokens_per_s"
#define CHAT_COLS "id, title, model, created_at, updated_at, n_messages, settings"

static const char *const SQL[HS_COUNT] = {
    [HS_BEGIN] = "BEGIN IMMEDIATE",
    [HS_COMMIT] = "COMMIT",
    [HS_ROLLBACK] = "ROLLBACK",
    [HS_CHAT_INSERT] = "INSERT INTO chats(title, title_auto, model, settings, created_at, updated_at, n_messages) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)",
    [HS_CHAT_GET] = "SELECT " CHAT_COLS " FROM chats WHERE id = ?1",
    [HS_CHAT_USAGE] = "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), "
                      "COUNT(completion_tokens) FROM messages WHERE chat_id = ?1",
    [HS_CHAT_DELETE] = "DELETE FROM chats WHERE id = ?1",
    [HS_CHAT_SET_TITLE] = "UPDATE chats SET title = ?2, title_auto = ?3 WHERE id = ?1",
    [HS_CHAT_SET_MODEL] = "UPDATE chats SET model = ?2 WHERE id = ?1",
    [HS_CHAT_SET_SETTINGS] = "UPDATE chats SET settings = ?2 WHERE id = ?1",
    [HS_CHAT_TOUCH] = "UPDATE chats SET updated_at = ?2, "
                      "n_messages = (SELECT COUNT(*) FROM messages WHERE chat_id = ?1) WHERE id = ?1",
    [HS_CHAT_LIST_FIRST] = "SELECT " CHAT_COLS " FROM chats ORDER BY updated_at DESC, id DESC LIMIT ?1",
    [HS_CHAT_LIST_AFTER] = "SELECT " CHAT_COLS " FROM chats WHERE (updated_at, id) < (?1, ?2) "
                           "ORDER BY updated_at DESC, id DESC LIMIT ?3",
    [HS_CHAT_FIRST_USER] = "SELECT content FROM messages WHERE chat_id = ?1 AND role = 'user' ORDER BY seq LIMIT 1",
    [HS_CHAT_EXISTS] = "SELECT title_auto FROM chats WHERE id = ?1",
    [HS_CHAT_ALL] = "SELECT " CHAT_COLS " FROM chats ORDER BY created_at, id",
    [HS_MSG_NEXT_SEQ] = "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE chat_id = ?1",
    [HS_MSG_INSERT] = "INSERT INTO messages(chat_id, seq, role, content, model, finish, created_at, prompt_tokens, "
                      "completion_tokens, cached_tokens, prompt_ms, predicted_ms, ttft_ms, tokens_per_s) "
                      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    [HS_MSG_TRUNCATE] = "DELETE FROM messages WHERE chat_id = ?1 AND seq >= ?2",
    [HS_MSG_PAGE] = "SELECT " MSG_COLS " FROM messages WHERE chat_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
    [HS_MSG_ALL] = "SELECT " MSG_COLS " FROM messages WHERE chat_id = ?1 ORDER BY seq",
    [HS_MSG_GET] = "SELECT content FROM messages WHERE chat_id = ?1 AND seq = ?2",
    [HS_SEARCH_FTS] = "WITH hits(chat_id, seq) AS ("
                      "  SELECT m.chat_id, MAX(m.seq) FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid"
                      "  WHERE messages_fts MATCH ?1 GROUP BY m.chat_id) "
                      "SELECT c.id, c.title, c.updated_at, c.n_messages, h.seq FROM chats c "
                      "LEFT JOIN hits h ON h.chat_id = c.id "
                      "WHERE h.chat_id IS NOT NULL OR c.title LIKE ?2 ESCAPE '\\' "
                      "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?3",
    [HS_SEARCH_LIKE] = "WITH hits(chat_id, seq) AS ("
                       "  SELECT chat_id, MAX(seq) FROM messages WHERE content LIKE ?2 ESCAPE '\\' GROUP BY chat_id) "
                       "SELECT c.id, c.title, c.updated_at, c.n_messages, h.seq FROM chats c "
                       "LEFT JOIN hits h ON h.chat_id = c.id "
                       "WHERE h.chat_id IS NOT NULL OR c.title LIKE ?2 ESCAPE '\\' "
                       "ORDER BY c.updated_at DESC, c.id DESC LIMIT ?3",
    [HS_USAGE_DAYS] = "SELECT (created_at / 1000 + ?1) / 86400 AS d, COALESCE(SUM(prompt_tokens), 0), "
                      "SUM(completion_tokens), COUNT(*) FROM messages "
                      "WHERE completion_tokens IS NOT NULL AND created_at >= ?2 GROUP BY d ORDER BY d DESC",
    [HS_USAGE_TOTAL] = "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0), COUNT(*) "
                       "FROM messages WHERE completion_tokens IS NOT NULL",
    [HS_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
    [HS_SETTING_SET] = "INSERT INTO settings(key, value) VALUES (?1, ?2) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [HS_PERF_INSERT] = "INSERT INTO perf_samples(model, source, at, prompt_n, prompt_ms, predicted_n, predicted_ms, "
                       "ttft_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [HS_PERF_PRUNE] = "DELETE FROM perf_samples WHERE model = ?1 AND id NOT IN "
                      "(SELECT id FROM perf_samples WHERE model = ?1 ORDER BY id DESC LIMIT ?2)",
    [HS_PERF_RECENT] = "SELECT source, at, prompt_n, prompt_ms, predicted_n, predicted_ms, ttft_ms "
                       "FROM perf_samples WHERE model = ?1 ORDER BY id DESC LIMIT ?2",
};

/* Version 1 of the schema. Messages are numbered per chat (seq) and never
 * changed in place: an edit truncates and appends. */
static const char SCHEMA_V1[] =
    "CREATE TABLE chats ("
    "  id INTEGER PRIMARY KEY,"
    "  title TEXT NOT NULL DEFAULT '',"
    "  title_auto INTEGER NOT NULL DEFAULT 1,"
    "  model TEXT NOT NULL DEFAULT '',"
    "  settings TEXT NOT NULL DEFAULT '{}',"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  n_messages INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX chats_by_update ON chats(updated_at DESC, id DESC);"
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,"
    "  seq INTEGER NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),"
    "  content TEXT NOT NULL,"
    "  model TEXT,"
    "  finish TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  prompt_tokens INTEGER, completion_tokens INTEGER, cached_tokens INTEGER,"
    "  prompt_ms REAL, predicted_ms REAL, ttft_ms REAL, tokens_per_s REAL,"
    "  UNIQUE (chat_id, seq));"
    "CREATE INDEX messages_usage ON messages(created_at) WHERE completion_tokens IS NOT NULL;"
    "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE perf_samples ("
    "  id INTEGER PRIMARY KEY,"
    "  model TEXT NOT NULL,"
    "  source TEXT NOT NULL,"
    "  at INTEGER NOT NULL,"
    "  prompt_n INTEGER NOT NULL, prompt_ms REAL NOT NULL,"
    "  predicted_n INTEGER NOT NULL, predicted_ms REAL NOT NULL,"
    "  ttft_ms REAL);"
    "CREATE INDEX perf_by_model ON perf_samples(model, id DESC);"
    "PRAGMA user_version = 1;";

/* The search index: external content (the text is stored once, in
 * messages), trigram tokens so any substring of three or more characters
 * matches in any language. Kept in step by triggers. */
static const char SCHEMA_FTS[] =
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id', "
    "  tokenize='trigram');"
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;"
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END;"
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;"
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');";

/* The wall clock in milliseconds. */
static int64_t real_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hist_now(sb_history *h) { return h->now_ms ? h->now_ms() : real_now_ms(); }

void sb_history_set_clock(sb_history *h, int64_t (*now_ms)(void)) { h->now_ms = now_ms; }

bool sb_history_has_fts(const sb_history *h) { return h->has_fts; }

/* See history_internal.h. */
sb_status hist_sql_error(sb_history *h, int rc, const char *what, sb_error *err) {
    const char *msg = h && h->db ? sqlite3_errmsg(h->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return sb_error_set(err, SB_ERR_BUSY, "history store: %s: the database is busy (%s)", what, msg);
    case SQLITE_NOMEM:
        return sb_error_set(err, SB_ERR_NOMEM, "history store: %s: out of memory", what);
    case SQLITE_FULL:
        return sb_error_set(err, SB_ERR_IO, "history store: %s: the disk is full", what);
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
        return sb_error_set(err, SB_ERR_IO, "history store: %s: cannot write the database (%s)", what, msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return sb_error_set(err, SB_ERR_FORMAT, "history store: %s: the database file is damaged (%s)", what, msg);
    default:
        return sb_error_set(err, SB_ERR_IO, "history store: %s: %s", what, msg);
    }
}

/* See history_internal.h. */
sqlite3_stmt *hist_stmt(sb_history *h, hist_stmt_id id, sb_error *err) {
    sqlite3_stmt *s = h->stmt[id];
    if (!s) {
        int rc = sqlite3_prepare_v3(h->db, SQL[id], -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
        if (rc != SQLITE_OK) {
            hist_sql_error(h, rc, "preparing a statement", err);
            return NULL;
        }
        h->stmt[id] = s;
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

/* See history_internal.h. */
sb_status hist_exec(sb_history *h, hist_stmt_id id, const char *what, sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, id, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return hist_sql_error(h, rc, what, err);
    return SB_OK;
}

/* See history_internal.h. */
sb_status hist_rollback(sb_history *h, sb_status st) {
    if (!sqlite3_get_autocommit(h->db))
        hist_exec(h, HS_ROLLBACK, "rolling back", NULL);
    return st;
}

int hist_bind_text(sqlite3_stmt *s, int i, const char *text) {
    return text ? sqlite3_bind_text(s, i, text, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

json_t *hist_col_string(sqlite3_stmt *s, int col) {
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return json_null();
    const char *t = (const char *)sqlite3_column_text(s, col);
    return json_stringn(t ? t : "", (size_t)sqlite3_column_bytes(s, col));
}

/* Runs constant DDL (no input reaches it). */
static sb_status exec_script(sb_history *h, const char *sql, const char *what, sb_error *err) {
    char *msg = NULL;
    int rc = sqlite3_exec(h->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        sb_error_set(err, rc == SQLITE_BUSY ? SB_ERR_BUSY : SB_ERR_IO, "history store: %s: %s", what,
                     msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return err ? err->code : SB_ERR_IO;
    }
    return SB_OK;
}

/* One integer from a constant query (PRAGMA user_version, ...). */
static int query_int(sb_history *h, const char *sql, int64_t *out) {
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(h->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(s, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            rc = SQLITE_NOTFOUND;
        }
    }
    sqlite3_finalize(s);
    return rc;
}

/* True when this SQLite has FTS5 (the module may be compiled out). */
static bool sqlite_has_fts5(void) { return sqlite3_compileoption_used("ENABLE_FTS5") != 0; }

/* Brings the schema to SB_HISTORY_SCHEMA_VERSION inside one transaction;
 * adds the search index where it is missing and FTS5 exists. */
static sb_status migrate(sb_history *h, const char *path, sb_error *err) {
    sb_status st = exec_script(h, "BEGIN IMMEDIATE", "starting the schema upgrade", err);
    if (st != SB_OK)
        return st;
    int64_t version = 0;
    int rc = query_int(h, "PRAGMA user_version", &version);
    if (rc != SQLITE_OK)
        return hist_rollback(h, hist_sql_error(h, rc, "reading the schema version", err));
    if (version > SB_HISTORY_SCHEMA_VERSION)
        return hist_rollback(h, sb_error_set(err, SB_ERR_UNSUPPORTED,
                                             "history store '%s': schema version %" PRId64
                                             " is newer than this Solebox knows (%d); use a newer solebox",
                                             path, version, SB_HISTORY_SCHEMA_VERSION));
    if (version < 1 && (st = exec_script(h, SCHEMA_V1, "creating the schema", err)) != SB_OK)
        return hist_rollback(h, st);
    int64_t n = 0;
    rc = query_int(h, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'messages_fts'", &n);
    if (rc != SQLITE_OK)
        return hist_rollback(h, hist_sql_error(h, rc, "looking for the search index", err));
    if (n == 0 && sqlite_has_fts5()) {
        if ((st = exec_script(h, SCHEMA_FTS, "creating the search index", err)) != SB_OK)
            return hist_rollback(h, st);
        n = 1;
    }
    h->has_fts = n > 0;
    return exec_script(h, "COMMIT", "finishing the schema upgrade", err);
}

/* Creates the file with mode 0600 if it does not exist (SQLite would use
 * 0644), refusing symbolic links. */
static sb_status create_private(const char *path, sb_error *err) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return sb_error_set(err, SB_ERR_IO, "history store '%s': %s", path, strerror(errno));
    close(fd);
    return SB_OK;
}

/* See history.h. */
sb_status sb_history_open(const char *path, sb_history **out, sb_error *err) {
    *out = NULL;
    sb_status st = create_private(path, err);
    if (st != SB_OK)
        return st;
    sb_history *h = sb_calloc(1, sizeof *h);
    if (!h)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    pthread_mutex_init(&h->mu, NULL);
    int rc = sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        st = hist_sql_error(h, rc, "opening", err);
        sb_error_prefix(err, "'%s': ", path);
        sb_history_close(h);
        return st;
    }
    sqlite3_extended_result_codes(h->db, 1);
    sqlite3_busy_timeout(h->db, 5000);
    int64_t ignored = 0;
    /* WAL: readers never block the writer; FULL: a committed reply is on
     * disk before the answer goes out; secure_delete: a deleted chat's
     * text is overwritten, not left in free pages. */
    static const char *const pragmas[] = {"PRAGMA foreign_keys = ON", "PRAGMA synchronous = FULL",
                                          "PRAGMA secure_delete = ON"};
    if ((rc = query_int(h, "PRAGMA journal_mode = WAL", &ignored)) != SQLITE_OK && rc != SQLITE_NOTFOUND) {
        st = hist_sql_error(h, rc, "switching to WAL", err);
    } else {
        st = SB_OK;
        for (size_t i = 0; i < sizeof pragmas / sizeof pragmas[0] && st == SB_OK; i++)
            st = exec_script(h, pragmas[i], "setting up the connection", err);
    }
    if (st == SB_OK)
        st = migrate(h, path, err);
    if (st != SB_OK) {
        sb_history_close(h);
        return st;
    }
    *out = h;
    return SB_OK;
}

/* See history.h. */
void sb_history_close(sb_history *h) {
    if (!h)
        return;
    for (int i = 0; i < HS_COUNT; i++)
        sqlite3_finalize(h->stmt[i]);
    sqlite3_close(h->db);
    pthread_mutex_destroy(&h->mu);
    sb_free(h);
}

/* ---- chats ------------------------------------------------------------ */

/* See history_internal.h. */
char *hist_title_from(const char *text, size_t len) {
    size_t max_chars = SB_HISTORY_MAX_TITLE / 3;
    sb_buf b;
    sb_buf_init(&b);
    size_t i = 0, chars = 0;
    /* Skip leading blank lines and spaces. */
    while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
        i++;
    bool space = false, cut = false;
    for (; i < len && text[i] != '\n' && text[i] != '\r'; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == ' ' || c == '\t') {
            space = true;
            continue;
        }
        if (c < 0x20 || c == 0x7f)
            continue;
        bool lead = (c & 0xC0) != 0x80;
        if (lead && chars == max_chars) {
            cut = true;
            break;
        }
        if (space && b.len) {
            if (chars + 1 == max_chars) {
                cut = true;
                break;
            }
            sb_buf_putc(&b, ' ');
            chars++;
        }
        space = false;
        sb_buf_putc(&b, (char)c);
        chars += lead;
    }
    if (!cut && i < len) {
        /* More lines follow: a title is one line, say so. */
        size_t j = i;
        while (j < len && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r'))
            j++;
        cut = j < len;
    }
    if (cut)
        sb_buf_puts(&b, "\xE2\x80\xA6");
    if (!b.data)
        sb_buf_puts(&b, "");
    return sb_buf_detach(&b, NULL);
}

/* See history_internal.h. Columns: CHAT_COLS. */
json_t *hist_chat_summary(sqlite3_stmt *s) {
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "id", json_integer(sqlite3_column_int64(s, 0)));
    json_object_set_new(j, "title", hist_col_string(s, 1));
    json_object_set_new(j, "model", hist_col_string(s, 2));
    json_object_set_new(j, "created_at", json_integer(sqlite3_column_int64(s, 3)));
    json_object_set_new(j, "updated_at", json_integer(sqlite3_column_int64(s, 4)));
    json_object_set_new(j, "n_messages", json_integer(sqlite3_column_int64(s, 5)));
    return j;
}

/* See history_internal.h. */
sb_status hist_chat_get_locked(sb_history *h, int64_t id, json_t **out, sb_error *err) {
    *out = NULL;
    sqlite3_stmt *s = hist_stmt(h, HS_CHAT_GET, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
        return sb_error_set(err, SB_ERR_NOT_FOUND, "chat %" PRId64 " does not exist", id);
    if (rc != SQLITE_ROW)
        return hist_sql_error(h, rc, "reading a chat", err);
    json_t *j = hist_chat_summary(s);
    const char *settings = (const char *)sqlite3_column_text(s, 6);
    json_t *sj = settings ? json_loads(settings, 0, NULL) : NULL;
    sqlite3_reset(s);
    if (!j) {
        json_decref(sj);
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    }
    json_object_set_new(j, "settings", json_is_object(sj) ? sj : (json_decref(sj), json_object()));
    s = hist_stmt(h, HS_CHAT_USAGE, err);
    if (!s) {
        json_decref(j);
        return err ? err->code : SB_ERR_IO;
    }
    sqlite3_bind_int64(s, 1, id);
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        json_decref(j);
        return hist_sql_error(h, rc, "summing a chat's usage", err);
    }
    json_object_set_new(j, "usage",
                        json_pack("{s:I, s:I, s:I}", "prompt_tokens", (json_int_t)sqlite3_column_int64(s, 0),
                                  "completion_tokens", (json_int_t)sqlite3_column_int64(s, 1), "replies",
                                  (json_int_t)sqlite3_column_int64(s, 2)));
    sqlite3_reset(s);
    *out = j;
    return SB_OK;
}

/* See history_internal.h. */
sb_status hist_chat_insert(sb_history *h, const char *title, bool title_auto, const char *model,
                           const char *settings, int64_t created, int64_t updated, int64_t *id, sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, HS_CHAT_INSERT, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    hist_bind_text(s, 1, title ? title : "");
    sqlite3_bind_int(s, 2, title_auto ? 1 : 0);
    hist_bind_text(s, 3, model ? model : "");
    hist_bind_text(s, 4, settings ? settings : "{}");
    sqlite3_bind_int64(s, 5, created);
    sqlite3_bind_int64(s, 6, updated);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return hist_sql_error(h, rc, "adding a chat", err);
    *id = sqlite3_last_insert_rowid(h->db);
    return SB_OK;
}

/* Checks a model id: a string of at most SB_HISTORY_MAX_MODEL bytes
 * without control characters. */
static sb_status check_model(const char *model, const char *where, sb_error *err) {
    size_t n = strlen(model);
    if (n > SB_HISTORY_MAX_MODEL)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: longer than %d bytes", where, SB_HISTORY_MAX_MODEL);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)model[i] < 0x20)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "%s: contains a control character", where);
    return SB_OK;
}

/* Checks a title the user gave: at most SB_HISTORY_MAX_TITLE characters,
 * no control characters (a title is one line). */
static sb_status check_title(const char *title, sb_error *err) {
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)title; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "title: contains a control character (a title is one line)");
        chars += (*p & 0xC0) != 0x80;
    }
    if (chars > SB_HISTORY_MAX_TITLE)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "title: %zu characters; at most %d", chars, SB_HISTORY_MAX_TITLE);
    return SB_OK;
}

/* Serialises validated settings for storage; NULL when out of memory. */
static char *settings_text(const json_t *settings) {
    return json_dumps(settings, JSON_COMPACT | JSON_SORT_KEYS);
}

/* See history.h. */
sb_status sb_history_chat_create(sb_history *h, const char *title, const char *model, const json_t *settings,
                                 json_t **out, sb_error *err) {
    *out = NULL;
    sb_status st;
    if (title && (st = check_title(title, err)) != SB_OK)
        return st;
    if (model && (st = check_model(model, "model", err)) != SB_OK)
        return st;
    if (settings && (st = sb_history_check_settings(settings, "settings", err)) != SB_OK)
        return st;
    pthread_mutex_lock(&h->mu);
    json_t *defaults = NULL;
    if (!settings && (st = hist_defaults_locked(h, &defaults, err)) != SB_OK) {
        pthread_mutex_unlock(&h->mu);
        return st;
    }
    char *text = settings_text(settings ? settings : defaults);
    json_decref(defaults);
    if (!text) {
        pthread_mutex_unlock(&h->mu);
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    }
    int64_t now = hist_now(h), id = 0;
    bool auto_title = !title || !*title;
    st = hist_chat_insert(h, auto_title ? "" : title, auto_title, model, text, now, now, &id, err);
    free(text);
    if (st == SB_OK)
        st = hist_chat_get_locked(h, id, out, err);
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* See history.h. */
sb_status sb_history_chat_get(sb_history *h, int64_t id, json_t **out, sb_error *err) {
    pthread_mutex_lock(&h->mu);
    sb_status st = hist_chat_get_locked(h, id, out, err);
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* See history_internal.h. */
sb_status hist_chat_exists(sb_history *h, int64_t id, bool *title_auto, sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, HS_CHAT_EXISTS, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW && title_auto)
        *title_auto = sqlite3_column_int(s, 0) != 0;
    sqlite3_reset(s);
    if (rc == SQLITE_DONE)
        return sb_error_set(err, SB_ERR_NOT_FOUND, "chat %" PRId64 " does not exist", id);
    if (rc != SQLITE_ROW)
        return hist_sql_error(h, rc, "reading a chat", err);
    return SB_OK;
}

/* Runs an UPDATE of one chat column (HS_CHAT_SET_*) with a text value. */
static sb_status chat_set(sb_history *h, hist_stmt_id id, int64_t chat, const char *value, int extra, bool has_extra,
                          sb_error *err) {
    sqlite3_stmt *s = hist_stmt(h, id, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, chat);
    hist_bind_text(s, 2, value);
    if (has_extra)
        sqlite3_bind_int(s, 3, extra);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SB_OK : hist_sql_error(h, rc, "changing a chat", err);
}

/* See history_internal.h. */
sb_status hist_chat_autotitle(sb_history *h, int64_t id, sb_error *err) {
    bool title_auto = false;
    sb_status st = hist_chat_exists(h, id, &title_auto, err);
    if (st != SB_OK || !title_auto)
        return st;
    sqlite3_stmt *s = hist_stmt(h, HS_CHAT_FIRST_USER, err);
    if (!s)
        return err ? err->code : SB_ERR_IO;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    char *title = NULL;
    if (rc == SQLITE_ROW)
        title = hist_title_from((const char *)sqlite3_column_text(s, 0), (size_t)sqlite3_column_bytes(s, 0));
    sqlite3_reset(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hist_sql_error(h, rc, "titling a chat", err);
    if (rc == SQLITE_ROW && !title)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    st = chat_set(h, HS_CHAT_SET_TITLE, id, title ? title : "", 1, true, err);
    sb_free(title);
    return st;
}

/* See history.h. Validates the whole patch before changing anything, and
 * changes it in one transaction. */
sb_status sb_history_chat_update(sb_history *h, int64_t id, const json_t *patch, json_t **out, sb_error *err) {
    if (out)
        *out = NULL;
    if (!json_is_object(patch))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "the body must be a JSON object");
    const char *key;
    json_t *v;
    const char *title = NULL, *model = NULL;
    const json_t *settings = NULL;
    sb_status st;
    json_object_foreach((json_t *)patch, key, v) {
        if (strcmp(key, "title") == 0) {
            if (!json_is_string(v))
                return sb_error_set(err, SB_ERR_INVALID_ARG, "title: must be a string");
            title = json_string_value(v);
            if ((st = check_title(title, err)) != SB_OK)
                return st;
        } else if (strcmp(key, "model") == 0) {
            if (!json_is_string(v))
                return sb_error_set(err, SB_ERR_INVALID_ARG, "model: must be a string");
            model = json_string_value(v);
            if ((st = check_model(model, "model", err)) != SB_OK)
                return st;
        } else if (strcmp(key, "settings") == 0) {
            if ((st = sb_history_check_settings(v, "settings", err)) != SB_OK)
                return st;
            settings = v;
        } else {
            return sb_error_set(err, SB_ERR_INVALID_ARG, "unknown field '%.100s' (title, model, settings)", key);
        }
    }
    char *text = settings ? settings_text(settings) : NULL;
    if (settings && !text)
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    pthread_mutex_lock(&h->mu);
    st = hist_exec(h, HS_BEGIN, "changing a chat", err);
    if (st == SB_OK)
        st = hist_chat_exists(h, id, NULL, err);
    if (st == SB_OK && title) {
        st = chat_set(h, HS_CHAT_SET_TITLE, id, title, *title ? 0 : 1, true, err);
        if (st == SB_OK && !*title)
            st = hist_chat_autotitle(h, id, err);
    }
    if (st == SB_OK && model)
        st = chat_set(h, HS_CHAT_SET_MODEL, id, model, 0, false, err);
    if (st == SB_OK && text)
        st = chat_set(h, HS_CHAT_SET_SETTINGS, id, text, 0, false, err);
    if (st == SB_OK)
        st = hist_exec(h, HS_COMMIT, "changing a chat", err);
    else
        hist_rollback(h, st);
    if (st == SB_OK && out)
        st = hist_chat_get_locked(h, id, out, err);
    pthread_mutex_unlock(&h->mu);
    free(text);
    return st;
}

/* See history.h. */
sb_status sb_history_chat_delete(sb_history *h, int64_t id, sb_error *err) {
    pthread_mutex_lock(&h->mu);
    sb_status st = hist_exec(h, HS_BEGIN, "deleting a chat", err);
    if (st == SB_OK)
        st = hist_chat_exists(h, id, NULL, err);
    if (st == SB_OK) {
        sqlite3_stmt *s = hist_stmt(h, HS_CHAT_DELETE, err);
        if (!s) {
            st = err ? err->code : SB_ERR_IO;
        } else {
            sqlite3_bind_int64(s, 1, id);
            int rc = sqlite3_step(s);
            sqlite3_reset(s);
            if (rc != SQLITE_DONE)
                st = hist_sql_error(h, rc, "deleting a chat", err);
        }
    }
    if (st == SB_OK)
        st = hist_exec(h, HS_COMMIT, "deleting a chat", err);
    else
        hist_rollback(h, st);
    pthread_mutex_unlock(&h->mu);
    return st;
}

/* Parses a list cursor "UPDATED_AT:ID" (both decimal, non-negative). */
static bool parse_cursor(const char *c, int64_t *updated, int64_t *id) {
    char *end;
    errno = 0;
    long long u = strtoll(c, &end, 10);
    if (errno || end == c || *end != ':' || u < 0 || c[0] == '-' || c[0] == '+' || c[0] == ' ')
        return false;
    const char *p = end + 1;
    long long i = strtoll(p, &end, 10);
    if (errno || end == p || *end || i < 0 || p[0] == '-' || p[0] == '+' || p[0] == ' ')
        return false;
    *updated = u;
    *id = i;
    return true;
}

/* See history.h. Keyset pagination on (updated_at, id): each page is one
 * index range scan, however deep the history. */
sb_status sb_history_chat_list(sb_history *h, const char *cursor, int limit, json_t **out, sb_error *err) {
    *out = NULL;
    if (limit < 1 || limit > SB_HISTORY_MAX_PAGE)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "limit: %d is out of range 1..%d", limit, SB_HISTORY_MAX_PAGE);
    int64_t cu = 0, ci = 0;
    bool after = cursor && *cursor;
    if (after && !parse_cursor(cursor, &cu, &ci))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "cursor: '%.64s' is not a cursor from a previous page", cursor);
    json_t *chats = json_array(), *res = json_object();
    if (!chats || !res) {
        json_decref(chats);
        json_decref(res);
        return sb_error_set(err, SB_ERR_NOMEM, "history store: out of memory");
    }
    pthread_mutex_lock(&h->mu);
    sb_status st = SB_OK;
    sqlite3_stmt *s = hist_stmt(h, after ? HS_CHAT_LIST_AFTER : HS_CHAT_LIST_FIRST, err);
    if (!s) {
        st = err ? err->code : SB_ERR_IO;
    } else {
        if (after) {
            sqlite3_bind_int64(s, 1, cu);
            sqlite3_bind_int64(s, 2, ci);
            sqlite3_bind_int(s, 3, limit + 1);
        } else {
            sqlite3_bind_int(s, 1, limit + 1);
        }
        int rc, n = 0;
        int64_t last_u = 0, last_i = 0;
        bool more = false;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            if (n == limit) {
                more = true;
                break;
            }
            json_array_append_new(chats, hist_chat_summary(s));
            last_i = sqlite3_column_int64(s, 0);
            last_u = sqlite3_column_int64(s, 4);
            n++;
        }
        sqlite3_reset(s);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            st = hist_sql_error(h, rc, "listing chats", err);
        } else if (more) {
            char next[48];
            snprintf(next, sizeof next, "%" PRId64 ":%" PRId64, last_u, last_i);
            json_object_set_new(res, "next", json_string(next));
        } else {
            json_object_set_new(res, "next", json_null());
        }
    }
    pthread_mutex_unlock(&h->mu);
    if (st != SB_OK) {
        json_decref(chats);
        json_decref(res);
        return st;
    }
    json_object_set_new(res, "chats", chats);
    *out = res;
    return SB_OK;
}
