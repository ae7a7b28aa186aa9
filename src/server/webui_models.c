/*
 * webui_models.c - the model picker's data: GET /api/models lists every
 * declared model with what a person needs to choose one (file size,
 * parameters, quantization, context, state) and a speed estimate measured
 * on this box; POST /api/models/{id}/calibrate measures one when there is
 * none yet (a short generation, timed by the engine).
 */
#include "webui_internal.h"

#include "sb_alloc.h"
#include "sb_gguf.h"
#include "sb_time.h"
#include "srv_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CALIBRATION_PROMPT "Once upon a time, there was a little"
#define CALIBRATION_TOKENS 32

/* Reads the header facts of a model file into info (no tensor data is
 * touched: sb_gguf_open maps the file and indexes the header). */
static void read_info(const char *path, webui_model_info *info) {
    info->read = true;
    sb_gguf *g = NULL;
    if (!path || sb_gguf_open(path, &g, NULL) != SB_OK)
        return;
    info->file_size = sb_gguf_file_size(g);
    uint64_t bytes_by_type[SB_TYPE_COUNT] = {0};
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        info->n_params += (uint64_t)sb_gguf_tensor_nelements(t);
        if (t->type < SB_TYPE_COUNT)
            bytes_by_type[t->type] += t->size;
    }
    uint32_t best = 0;
    for (uint32_t t = 1; t < SB_TYPE_COUNT; t++)
        if (bytes_by_type[t] > bytes_by_type[best])
            best = t;
    snprintf(info->quantization, sizeof info->quantization, "%s", sb_type_name(best));
    sb_str s;
    if (sb_gguf_get_string(g, "general.architecture", &s, NULL) == SB_OK) {
        snprintf(info->arch, sizeof info->arch, "%.*s", (int)(s.len < 63 ? s.len : 63), s.ptr);
        char key[96];
        snprintf(key, sizeof key, "%s.context_length", info->arch);
        uint64_t ctx = 0;
        if (sb_gguf_get_uint(g, key, &ctx, NULL) == SB_OK && ctx <= INT32_MAX)
            info->train_ctx = (int64_t)ctx;
    }
    if (sb_gguf_get_string(g, "general.name", &s, NULL) == SB_OK)
        snprintf(info->name, sizeof info->name, "%.*s", (int)(s.len < 127 ? s.len : 127), s.ptr);
    info->ok = true;
    sb_gguf_close(g);
}

/* A copy of slot i's file facts, read on first use. */
static webui_model_info model_info(sb_webui *ui, int i) {
    webui_model_info info = {0};
    if (i >= ui->n_models)
        return info;
    pthread_mutex_lock(&ui->mu);
    if (!ui->models[i].read)
        read_info(ui->model_paths[i], &ui->models[i]);
    info = ui->models[i];
    pthread_mutex_unlock(&ui->mu);
    return info;
}

/* One model as the picker shows it. */
static json_t *model_json(sb_webui *ui, sb_history *h, int i) {
    sb_server *s = ui->srv;
    srv_slot *slot = &s->slots[i];
    int state = atomic_load(&slot->state);
    json_t *j = json_pack("{s:s, s:s, s:b}", "id", slot->id, "status",
                          state == SRV_SLOT_READY ? "loaded" : state == SRV_SLOT_LOADING ? "loading" : "failed",
                          "default", i == 0);
    if (!j)
        return NULL;
    if (state == SRV_SLOT_READY)
        json_object_set_new(j, "context_length", json_integer(slot->model->n_ctx));
    else
        json_object_set_new(j, "context_length", json_null());
    if (state == SRV_SLOT_FAILED)
        json_object_set_new(j, "error", json_string(slot->error));
    webui_model_info info = model_info(ui, i);
    if (info.ok) {
        json_object_set_new(j, "file_size", json_integer((json_int_t)info.file_size));
        json_object_set_new(j, "n_params", json_integer((json_int_t)info.n_params));
        json_object_set_new(j, "quantization", json_string(info.quantization));
        if (info.n_params)
            json_object_set_new(j, "bits_per_weight",
                                json_real(round(info.file_size * 8.0 / (double)info.n_params * 100) / 100));
        if (info.arch[0])
            json_object_set_new(j, "arch", json_string(info.arch));
        if (info.name[0])
            json_object_set_new(j, "name", json_string(info.name));
        if (info.train_ctx)
            json_object_set_new(j, "training_context", json_integer(info.train_ctx));
    }
    json_t *perf = NULL;
    if (!h || sb_history_perf_estimate(h, slot->id, &perf, NULL) != SB_OK)
        perf = json_null();
    json_object_set_new(j, "perf", perf);
    return j;
}

/* GET /api/models. The estimates need the history store; without it the
 * list still comes, with "perf": null. */
static void handle_models(sb_http_req *req, void *ud) {
    sb_webui *ui = ud;
    if (!webui_same_origin(req))
        return;
    sb_history *h = webui_history_quiet(ui);
    json_t *data = json_array();
    for (int i = 0; data && i < ui->srv->n_slots; i++)
        json_array_append_new(data, model_json(ui, h, i));
    webui_reply_json(req, 200, json_pack("{s:o, s:b}", "data", data ? data : json_array(), "history", h != NULL));
}

/* ---- calibration ---------------------------------------------------------- */

/* One calibration run: shared by the model's thread (events) and the HTTP
 * side (the deferred reply); the last reference frees it. */
typedef struct calib_job {
    atomic_int refs;
    pthread_mutex_t mu;
    sb_webui *ui;
    sb_srv_model *model;
    char model_id[256];
    sb_http_async *async;
    uint64_t engine_id;
    uint64_t t_start_ns, t_first_ns;
    bool done;
    sb_srv_finish finish;
    sb_srv_timings timings;
    char error[256];
} calib_job;

static void calib_unref(calib_job *j) {
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    sb_http_async_unref(j->async);
    pthread_mutex_destroy(&j->mu);
    sb_free(j);
}

/* The model's callback: note the first token's time and the final
 * timings, then wake the HTTP side. */
static void calib_event(void *ud, const sb_srv_event *ev) {
    calib_job *j = ud;
    uint64_t now = sb_now_ns();
    pthread_mutex_lock(&j->mu);
    if (ev->n_tokens > 0 && !j->t_first_ns)
        j->t_first_ns = now;
    bool final = ev->finish != SB_SRV_FINISH_NONE;
    if (final) {
        j->done = true;
        j->finish = ev->finish;
        j->timings = ev->timings;
        if (ev->error)
            snprintf(j->error, sizeof j->error, "%s", ev->error);
    }
    sb_http_async *a = j->async;
    pthread_mutex_unlock(&j->mu);
    if (a)
        sb_http_async_wake(a);
    if (final)
        calib_unref(j);
}

/* The deferred reply, once the run is over: record it, answer with the
 * model's estimate. */
static void calib_produce(void *ud, sb_http_req *req) {
    calib_job *j = ud;
    pthread_mutex_lock(&j->mu);
    bool done = j->done;
    sb_srv_finish finish = j->finish;
    sb_srv_timings t = j->timings;
    double ttft_ms = j->t_first_ns ? (double)(j->t_first_ns - j->t_start_ns) / 1e6 : -1;
    char error[256];
    snprintf(error, sizeof error, "%s", j->error);
    pthread_mutex_unlock(&j->mu);
    if (!done)
        return;
    if (finish == SB_SRV_FINISH_ERROR || finish == SB_SRV_FINISH_CANCELLED) {
        webui_reply_error(req, finish == SB_SRV_FINISH_ERROR ? 500 : 503, "calibration %s: %s",
                          finish == SB_SRV_FINISH_ERROR ? "failed" : "was cancelled", error[0] ? error : "no detail");
        return;
    }
    json_t *sample = json_pack("{s:i, s:f, s:i, s:f}", "prompt_n", t.prompt_n, "prompt_ms", t.prompt_ms,
                               "predicted_n", t.predicted_n, "predicted_ms", t.predicted_ms);
    if (sample)
        json_object_set_new(sample, "ttft_ms", ttft_ms >= 0 ? json_real(ttft_ms) : json_null());
    sb_history *h = webui_history_quiet(j->ui);
    json_t *perf = NULL;
    bool stored = false;
    if (h && t.predicted_n > 0 && t.predicted_ms > 0) {
        sb_history_perf p = {t.prompt_n, t.prompt_ms, t.predicted_n, t.predicted_ms, ttft_ms};
        stored = sb_history_perf_add(h, j->model_id, "calibration", &p, NULL) == SB_OK;
        if (sb_history_perf_estimate(h, j->model_id, &perf, NULL) != SB_OK)
            perf = NULL;
    }
    webui_reply_json(req, 200, json_pack("{s:s, s:o, s:b, s:o}", "model", j->model_id, "sample",
                                         sample ? sample : json_null(), "stored", stored, "perf",
                                         perf ? perf : json_null()));
}

/* The client left: stop the generation. */
static void calib_abort(void *ud) {
    calib_job *j = ud;
    pthread_mutex_lock(&j->mu);
    bool running = !j->done;
    uint64_t id = j->engine_id;
    pthread_mutex_unlock(&j->mu);
    if (running)
        j->model->ops->cancel(j->model->impl, id);
}

static void calib_release(void *ud) { calib_unref(ud); }

static const sb_http_async_ops calib_ops = {
    .produce = calib_produce,
    .abort = calib_abort,
    .release = calib_release,
};

/* POST /api/models/{id}/calibrate: a fixed short prompt and
 * CALIBRATION_TOKENS tokens, through the same scheduler as every request. */
static void handle_calibrate(sb_http_req *req, void *ud) {
    sb_webui *ui = ud;
    if (!webui_same_origin(req))
        return;
    const char *path = sb_http_req_path(req) + strlen("/api/models/");
    const char *slash = strrchr(path, '/');
    if (!slash || strcmp(slash, "/calibrate") != 0 || slash == path || (size_t)(slash - path) >= 256) {
        webui_reply_error(req, 404, "no route for POST %.200s", sb_http_req_path(req));
        return;
    }
    char id[256];
    snprintf(id, sizeof id, "%.*s", (int)(slash - path), path);
    srv_slot *slot = NULL;
    sb_api_error e;
    if (srv_find_model(ui->srv, req, id, &slot, &e)) {
        sb_http_reply_error(req, &e);
        return;
    }
    sb_srv_model *m = slot->model;
    int32_t *ids = NULL;
    size_t n = 0;
    sb_error err = {0};
    if (m->ops->tokenize(m->impl, CALIBRATION_PROMPT, strlen(CALIBRATION_PROMPT), true, false, &ids, &n, &err) !=
        SB_OK) {
        webui_reply_error(req, 500, "calibration: cannot tokenize: %s", err.msg);
        return;
    }
    int room = m->n_ctx - (int)n;
    if (room < 2) {
        sb_free(ids);
        webui_reply_error(req, 400, "calibration: the model's context (%d) is too small", m->n_ctx);
        return;
    }
    calib_job *j = sb_calloc(1, sizeof *j);
    if (!j) {
        sb_free(ids);
        webui_reply_error(req, 500, "out of memory");
        return;
    }
    atomic_init(&j->refs, 2); /* the HTTP side and the model's callback */
    pthread_mutex_init(&j->mu, NULL);
    j->ui = ui;
    j->model = m;
    snprintf(j->model_id, sizeof j->model_id, "%s", slot->id);
    j->t_start_ns = sb_now_ns();
    sb_srv_gen_params p = {
        .max_tokens = room < CALIBRATION_TOKENS ? room : CALIBRATION_TOKENS,
        .temperature = 1.0f,
        .top_p = 1.0f,
        .repetition_penalty = 1.0f,
        .has_seed = true,
        .seed = 42,
    };
    uint64_t eid = 0;
    sb_status st = m->ops->submit(m->impl, ids, n, &p, calib_event, j, &eid, &err);
    sb_free(ids);
    if (st != SB_OK) {
        atomic_store(&j->refs, 1);
        calib_unref(j);
        if (st == SB_ERR_BUSY) {
            sb_http_set_header(req, "Retry-After", "1");
            webui_reply_error(req, 503, "the server is busy; try the calibration again shortly");
        } else {
            webui_reply_error(req, 500, "calibration: %s", err.msg);
        }
        return;
    }
    pthread_mutex_lock(&j->mu);
    j->engine_id = eid;
    pthread_mutex_unlock(&j->mu);
    /* The HTTP side's reference goes to sb_http_defer (dropped by
     * calib_release; also when it fails). */
    atomic_fetch_add(&j->refs, 1); /* held across the call */
    sb_http_async *a = sb_http_defer(req, &calib_ops, j);
    if (!a) {
        m->ops->cancel(m->impl, eid);
        calib_unref(j);
        return;
    }
    pthread_mutex_lock(&j->mu);
    j->async = a;
    pthread_mutex_unlock(&j->mu);
    sb_http_async_wake(a);
    calib_unref(j);
}

/* See webui_internal.h. */
sb_status webui_routes_models(sb_webui *ui, sb_error *err) {
    sb_status st = sb_server_route(ui->srv, "GET", "/api/models", false, handle_models, ui, err);
    if (st == SB_OK)
        st = sb_server_route(ui->srv, "POST", "/api/models/", true, handle_calibrate, ui, err);
    return st;
}
