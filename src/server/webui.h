/*
 * webui.h - the web UI of `solebox serve`: the page at "/" (embedded in the
 * binary), the chat-history REST API under /api/ and the model details the
 * page's model picker shows.
 *
 *   sb_server_create(&cfg, &srv, &err);
 *   sb_webui *ui = NULL;
 *   sb_webui_config wc = {.data_dir = flag_or_NULL, .model_paths = paths, .n_models = n};
 *   sb_webui_attach(srv, &wc, &ui, &err);     // registers routes: before sb_server_start
 *   ... sb_server_start, declare/attach models, serve ...
 *   sb_server_free(srv);                       // the HTTP side stops first
 *   sb_webui_free(ui);
 *
 * The history database (history.db in the data directory) is opened on the
 * first request that needs it, so a server whose page is never used writes
 * nothing. If it cannot be opened, the page still loads and the /api/
 * endpoints answer 503 saying why.
 *
 * Routes (all JSON unless noted; errors are {"error":{"message",...}}):
 *   GET  /                          the page (text/html)
 *   GET  /ui/...                    its scripts, styles and icon
 *   GET  /api/chats?limit&cursor    chats, newest first, keyset-paginated
 *   POST /api/chats                 new chat {title?, model?, settings?}
 *   GET|PATCH|DELETE /api/chats/{id}
 *   GET  /api/chats/{id}/messages?before&limit   a page of messages (newest page first)
 *   POST /api/chats/{id}/messages   append {role, content, model?, finish?, usage?, truncate_from?}
 *   DELETE /api/chats/{id}/messages?from=SEQ     truncate
 *   GET  /api/search?q&limit        chats whose title or messages contain q
 *   GET  /api/export[?chat=ID]      JSON download of all chats (or one)
 *   POST /api/import                the same JSON back, as new chats
 *   GET  /api/usage?days&tz_offset_min   token totals per day
 *   GET|PUT /api/defaults           default settings of new chats
 *   GET  /api/models                models with size, quantization, context, state, speed estimate
 *   POST /api/models/{id}/calibrate a short measured generation (when no estimate exists)
 */
#ifndef SB_WEBUI_H
#define SB_WEBUI_H

#include "sb_error.h"
#include "sb_server.h"

#include <stddef.h>

typedef struct sb_webui sb_webui;

typedef struct sb_webui_config {
    /* The data directory (NULL: sb_data_dir_resolve's default). */
    const char *data_dir;
    /* The file of each declared model, in declaration order (for size and
     * quantization); entries may be NULL (synthetic models). */
    const char *const *model_paths;
    int n_models;
} sb_webui_config;

/* Registers the page and the /api/ routes on s (before sb_server_start).
 * *out is freed with sb_webui_free after sb_server_free. */
sb_status sb_webui_attach(sb_server *s, const sb_webui_config *cfg, sb_webui **out, sb_error *err);
void sb_webui_free(sb_webui *ui);
/* Where history.db lives (valid until sb_webui_free). */
const char *sb_webui_db_path(const sb_webui *ui);

/* The data directory: flag if given, else $SOLEBOX_DATA_DIR, else
 * $STATE_DIRECTORY (systemd's StateDirectory=), else /var/lib/solebox when
 * running as root under systemd, else $XDG_DATA_HOME/solebox, else
 * $HOME/.local/share/solebox. SB_ERR_NOT_FOUND when none can be derived. */
sb_status sb_data_dir_resolve(const char *flag, char *out, size_t cap, sb_error *err);
/* Creates dir (and missing parents) with mode 0700. */
sb_status sb_data_dir_ensure(const char *dir, sb_error *err);

#endif
