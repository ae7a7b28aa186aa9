/*
 * history.h - the chat history store behind the web UI: chats, their
 * messages, per-chat settings, token usage per reply, default settings and
 * the performance samples the model picker shows. SQLite (the embedded
 * default), one file `history.db` in the data directory.
 *
 *   sb_history *h;
 *   sb_history_open("/var/lib/solebox/history.db", &h, &err);
 *   sb_history_chat_create(h, NULL, "stories260K", NULL, &chat, &err);
 *   sb_history_message_append(h, id, msg_json, -1, &msg, &err);
 *   ...
 *   sb_history_close(h);
 *
 * Storage: WAL journal, synchronous=FULL (a reply that was acknowledged
 * survives a crash or power loss), foreign keys on, the file created 0600
 * (SQLite gives its -wal and -shm files the same mode). The schema is
 * versioned with PRAGMA user_version; a database from a newer Solebox is
 * refused rather than guessed at. Every statement is prepared with bound
 * parameters. Search uses an FTS5 trigram index (substring matching, any
 * language) when SQLite has FTS5; queries shorter than three characters,
 * or a SQLite without FTS5, fall back to LIKE.
 *
 * Input is untrusted: everything that arrives as JSON (messages, settings,
 * imports) is validated here, and a bad field is SB_ERR_INVALID_ARG with a
 * message naming it ("messages[3].role: 'robot' is not one of system,
 * user, assistant"). A chat or message id that does not exist is
 * SB_ERR_NOT_FOUND; SQLite being busy is SB_ERR_BUSY; a full disk is
 * SB_ERR_LIMIT; anything else from SQLite is SB_ERR_IO with its message.
 *
 * Results are jansson objects (new references the caller json_decref's),
 * the same shapes the REST endpoints send (history_api.c). Every function
 * is thread-safe: one connection behind one mutex.
 *
 * Times are milliseconds since the Unix epoch.
 */
#ifndef SB_HISTORY_H
#define SB_HISTORY_H

#include "sb_error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define SB_HISTORY_SCHEMA_VERSION 1
#define SB_HISTORY_EXPORT_FORMAT "solebox-chats"
#define SB_HISTORY_EXPORT_VERSION 1
#define SB_HISTORY_MAX_TITLE 200           /* characters kept of a title */
#define SB_HISTORY_MAX_PAGE 200            /* chats or messages per page */
#define SB_HISTORY_MAX_CONTENT (4u << 20)  /* bytes of one message */
#define SB_HISTORY_MAX_MODEL 256           /* bytes of a model id */
#define SB_HISTORY_MAX_SYSTEM (64u << 10)  /* bytes of a system prompt */
#define SB_HISTORY_PERF_WINDOW 20          /* samples behind an estimate */
#define SB_HISTORY_PERF_KEEP 200           /* samples kept per model */

typedef struct sb_history sb_history;

/* Opens (creating if absent, mode 0600) or upgrades the database at path.
 * The caller frees with sb_history_close. */
sb_status sb_history_open(const char *path, sb_history **out, sb_error *err);
void sb_history_close(sb_history *h);
/* True when search uses the FTS5 index (false: LIKE). */
bool sb_history_has_fts(const sb_history *h);
/* Replaces the clock (milliseconds since the epoch) for tests; NULL
 * restores the real one. */
void sb_history_set_clock(sb_history *h, int64_t (*now_ms)(void));

/* ---- chats ------------------------------------------------------------ */

/* Creates a chat. title NULL or "" = titled from its first user message;
 * settings NULL = the stored defaults (validated when given). *out: the
 * chat as GET /api/chats/{id} shows it. */
sb_status sb_history_chat_create(sb_history *h, const char *title, const char *model, const json_t *settings,
                                 json_t **out, sb_error *err);
/* One chat with its settings and usage totals (no messages). */
sb_status sb_history_chat_get(sb_history *h, int64_t id, json_t **out, sb_error *err);
/* Changes what patch names: "title" (a string; "" = from the first
 * message again), "model", "settings" (replaces them, validated). Unknown
 * keys are an error. *out (may be NULL) gets the updated chat. */
sb_status sb_history_chat_update(sb_history *h, int64_t id, const json_t *patch, json_t **out, sb_error *err);
/* Deletes a chat and its messages. */
sb_status sb_history_chat_delete(sb_history *h, int64_t id, sb_error *err);

/* A page of chats, newest (last updated) first. cursor NULL or "" = the
 * first page; otherwise the "next" of the previous page. limit 1..
 * SB_HISTORY_MAX_PAGE. *out = {"chats":[...], "next": cursor or null}. */
sb_status sb_history_chat_list(sb_history *h, const char *cursor, int limit, json_t **out, sb_error *err);

/* ---- messages --------------------------------------------------------- */

/* Appends msg ({"role","content", optional "model","finish","usage",
 * "created_at"}) to a chat. truncate_from >= 0 first deletes the messages
 * with seq >= truncate_from (regenerate, edit and resend), in the same
 * transaction. An assistant message with usage and a model also becomes a
 * performance sample. *out (may be NULL) gets the stored message. */
sb_status sb_history_message_append(sb_history *h, int64_t chat_id, const json_t *msg, int64_t truncate_from,
                                    json_t **out, sb_error *err);
/* Deletes the messages with seq >= from_seq. */
sb_status sb_history_message_truncate(sb_history *h, int64_t chat_id, int64_t from_seq, sb_error *err);
/* A page of a chat's messages in order, the newest page first: the limit
 * messages before before_seq (< 0 = the end). *out = {"messages":[...],
 * "has_more": bool} (has_more: older messages exist). */
sb_status sb_history_messages(sb_history *h, int64_t chat_id, int64_t before_seq, int limit, json_t **out,
                              sb_error *err);

/* ---- search, usage, defaults ---------------------------------------- */

/* Chats whose title or messages contain q (case-insensitive), newest
 * first, at most limit. *out = {"results":[{"id","title","updated_at",
 * "n_messages","seq"(of the matching message or null),"snippet"}]}. */
sb_status sb_history_search(sb_history *h, const char *q, int limit, json_t **out, sb_error *err);
/* Token usage per local day over the last `days` days (1..3660) and in
 * total; tz_offset_min is the client's offset east of UTC in minutes.
 * *out = {"days":[{"day":"YYYY-MM-DD","prompt_tokens","completion_tokens",
 * "replies"}], "total":{...}} (days newest first, only days with use). */
sb_status sb_history_usage(sb_history *h, int tz_offset_min, int days, json_t **out, sb_error *err);
/* Default settings for new chats (validated on set). */
sb_status sb_history_defaults_get(sb_history *h, json_t **out, sb_error *err);
sb_status sb_history_defaults_set(sb_history *h, const json_t *settings, json_t **out, sb_error *err);

/* ---- performance samples --------------------------------------------- */

typedef struct sb_history_perf {
    int prompt_n;
    double prompt_ms;
    int predicted_n;
    double predicted_ms;
    double ttft_ms; /* < 0: unknown */
} sb_history_perf;

/* Records one measured generation of model (source: "reply" or
 * "calibration"); keeps the newest SB_HISTORY_PERF_KEEP per model. */
sb_status sb_history_perf_add(sb_history *h, const char *model, const char *source, const sb_history_perf *p,
                              sb_error *err);
/* The estimate from the newest SB_HISTORY_PERF_WINDOW samples: medians of
 * tokens/s and time to first token, or *out = JSON null when none.
 * {"tokens_per_s","ttft_ms","prompt_tokens_per_s","samples","source",
 * "measured_at"}. */
sb_status sb_history_perf_estimate(sb_history *h, const char *model, json_t **out, sb_error *err);

/* ---- export and import ------------------------------------------------ */

/* The chats (chat_id 0 = all) as {"format":"solebox-chats","version":1,
 * "exported_at", "chats":[{"title","model","settings","created_at",
 * "updated_at","messages":[...]}]}. */
sb_status sb_history_export(sb_history *h, int64_t chat_id, json_t **out, sb_error *err);
/* Adds every chat of an export document as new chats, all or nothing.
 * *out = {"imported": n, "ids": [...]}. */
sb_status sb_history_import(sb_history *h, const json_t *doc, json_t **out, sb_error *err);

/* ---- validation (shared with the REST layer) --------------------------- */

/* Checks a settings object: known keys with values in range.
 * where names it in messages ("settings"). */
sb_status sb_history_check_settings(const json_t *s, const char *where, sb_error *err);

#endif
