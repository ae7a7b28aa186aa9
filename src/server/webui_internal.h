/*
 * webui_internal.h - what the web UI's files share: the sb_webui object,
 * the lazily opened history store, and reply helpers.
 *
 * webui.c          attach/free, the embedded page, security headers
 * webui_models.c   GET /api/models, POST /api/models/{id}/calibrate
 * history_api.c    the /api/ chat-history endpoints
 */
#ifndef SB_WEBUI_INTERNAL_H
#define SB_WEBUI_INTERNAL_H

#include "history.h"
#include "srv_http.h"
#include "webui.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* What the model picker shows of a model file, read once from its GGUF
 * header (no tensor data is read). */
typedef struct webui_model_info {
    bool read;        /* tried already */
    bool ok;          /* the fields below are set */
    uint64_t file_size;
    uint64_t n_params;
    char quantization[32]; /* the tensor type holding most of the bytes */
    char arch[64];
    char name[128];
    int64_t train_ctx; /* 0: unknown */
} webui_model_info;

struct sb_webui {
    sb_server *srv;
    char data_dir[4096];
    char db_path[4200];
    pthread_mutex_t mu; /* hist, open_error, models */
    sb_history *hist;
    char open_error[SB_ERROR_MSG_MAX];
    char **model_paths;
    int n_models;
    webui_model_info *models;
};

/* False (after replying 403) for a request from another site's page. */
bool webui_same_origin(sb_http_req *req);
/* The history store, opened on first use; NULL after replying 503 (with
 * the reason) when it cannot be opened. */
sb_history *webui_history(sb_webui *ui, sb_http_req *req);
/* The store if it is open or can be opened, without replying. */
sb_history *webui_history_quiet(sb_webui *ui);

/* Replies with j (taking the reference) and Cache-Control: no-store. */
void webui_reply_json(sb_http_req *req, int status, json_t *j);
/* Replies with an error shaped like the API's: status from the code
 * (400 bad input, 404 missing, 503 busy, 500 the rest). */
void webui_reply_status(sb_http_req *req, const sb_error *err);
/* Replies 4xx with a message (type invalid_request_error). */
void webui_reply_error(sb_http_req *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Parses the body as a JSON object; NULL after replying 400. */
json_t *webui_body(sb_http_req *req);
/* A query argument as a whole number in [lo, hi]; absent: def. false after
 * replying 400. */
bool webui_arg_int(sb_http_req *req, const char *name, int64_t lo, int64_t hi, int64_t def, int64_t *out);

/* Route registration of the other files. */
sb_status webui_routes_history(sb_webui *ui, sb_error *err);
sb_status webui_routes_models(sb_webui *ui, sb_error *err);

#endif
