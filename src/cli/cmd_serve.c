/*
 * cmd_serve.c - `solebox serve`: the OpenAI-compatible HTTP API (and, later,
 * the web UI) over one or more models.
 *
 * The server listens at once; models load on a background thread while
 * /health answers 503 {"status":"loading"}. SIGINT/SIGTERM stop accepting,
 * let requests in flight finish for up to --grace ms, cancel the rest and
 * exit (within 5 s with the defaults). With no model the server still
 * starts, and /health and the log say how to add one.
 */
#include "cli_args.h"
#include "commands.h"

#include "sb_alloc.h"
#include "sb_server.h"
#include "srv_engine_adapter.h"
#include "webui.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_MODELS 16
#define MAX_LIST 16

static const char *NO_MODEL_HINT =
    "no model loaded: restart with `solebox serve -m /path/to/model.gguf` (or `make run MODEL=/path/to/model.gguf`)";

typedef struct serve_opts {
    const char *models[MAX_MODELS];
    int n_models;
    const char *host;
    int port;
    int parallel, n_ctx, threads, queue, batch, http_threads, grace_ms;
    unsigned timeout_s;
    size_t max_body;
    const char *cors[MAX_LIST];
    int n_cors;
    const char *hosts[MAX_LIST];
    int n_hosts;
    const char *synthetic, *vocab;
    const char *data_dir;
    bool log_requests;
} serve_opts;

static void usage(FILE *out) {
    fprintf(out,
            "usage: solebox serve [-m MODEL ...] [options]\n"
            "\n"
            "Serves the OpenAI-compatible API: /v1/chat/completions, /v1/completions, /v1/models,\n"
            "/health, /metrics, /tokenize, /detokenize.\n"
            "\n"
            "  -m, --model FILE        GGUF model (repeat for several; a request's `model` picks one by\n"
            "                          its file name without .gguf; the first is the default)\n"
            "      --host ADDR         bind address (default 127.0.0.1)\n"
            "      --port N            port (default 8080; 0 = any free port)\n"
            "      --parallel N        sequences decoding at once per model (default 4)\n"
            "  -c, --ctx N             context per sequence (default: min(training context, 4096))\n"
            "  -t, --threads N         compute threads (default: all CPUs)\n"
            "      --queue N           requests waiting per model before 503 (default 64)\n"
            "      --batch N           token budget of one forward pass (default 512)\n"
            "      --http-threads N    HTTP threads (default 2)\n"
            "      --timeout S         idle connection timeout in seconds (default 60)\n"
            "      --max-body BYTES    request body cap (default 8388608)\n"
            "      --cors-origin O     allow cross-origin requests from O (repeatable; * = any)\n"
            "      --allowed-host H    accept Host header H besides IP literals and localhost (repeatable)\n"
            "      --grace MS          on SIGTERM, let requests finish this long before cancelling (default 3000)\n"
            "      --log-requests      log one line per request\n"
            "      --data-dir DIR      chat history and other state (default $SOLEBOX_DATA_DIR, else\n"
            "                          $XDG_DATA_HOME/solebox; /var/lib/solebox as a system service)\n"
            "      --synthetic S:T     a synthetic model (random weights, shape S, type T) for measurements\n"
            "      --vocab FILE        the tokenizer for --synthetic (a GGUF whose vocabulary matches)\n");
}

/* A whole decimal number in [lo, hi]. */
/* Fills o from argv; returns 0, or 2 after printing a usage error. */
static int parse_args(int argc, char **argv, serve_opts *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->parallel = 4;
    o->queue = 64;
    o->http_threads = 2;
    o->grace_ms = 3000;
    o->timeout_s = 60;
    o->max_body = 8u << 20;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n = 0;
        bool takes = true, ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--log-requests")) {
            o->log_requests = true;
            takes = false;
        } else if (!v) {
            fprintf(stderr, "solebox serve: %s needs a value (or is unknown)\n\n", a);
            usage(stderr);
            return 2;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            ok = o->n_models < MAX_MODELS;
            if (ok)
                o->models[o->n_models++] = v;
        } else if (!strcmp(a, "--host")) {
            o->host = v;
        } else if (!strcmp(a, "--port")) {
            ok = sb_cli_long(v, 0, 65535, &n);
            o->port = (int)n;
        } else if (!strcmp(a, "--parallel")) {
            ok = sb_cli_long(v, 1, 1024, &n);
            o->parallel = (int)n;
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx")) {
            ok = sb_cli_long(v, 0, 1 << 22, &n);
            o->n_ctx = (int)n;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            ok = sb_cli_long(v, 0, 1024, &n);
            o->threads = (int)n;
        } else if (!strcmp(a, "--queue")) {
            ok = sb_cli_long(v, 1, 1 << 20, &n);
            o->queue = (int)n;
        } else if (!strcmp(a, "--batch")) {
            ok = sb_cli_long(v, 1, 1 << 20, &n);
            o->batch = (int)n;
        } else if (!strcmp(a, "--http-threads")) {
            ok = sb_cli_long(v, 1, 256, &n);
            o->http_threads = (int)n;
        } else if (!strcmp(a, "--timeout")) {
            ok = sb_cli_long(v, 1, 86400, &n);
            o->timeout_s = (unsigned)n;
        } else if (!strcmp(a, "--max-body")) {
            ok = sb_cli_long(v, 1024, 1L << 30, &n);
            o->max_body = (size_t)n;
        } else if (!strcmp(a, "--grace")) {
            ok = sb_cli_long(v, 0, 60000, &n);
            o->grace_ms = (int)n;
        } else if (!strcmp(a, "--cors-origin")) {
            ok = o->n_cors < MAX_LIST;
            if (ok)
                o->cors[o->n_cors++] = v;
        } else if (!strcmp(a, "--allowed-host")) {
            ok = o->n_hosts < MAX_LIST;
            if (ok)
                o->hosts[o->n_hosts++] = v;
        } else if (!strcmp(a, "--synthetic")) {
            o->synthetic = v;
        } else if (!strcmp(a, "--vocab")) {
            o->vocab = v;
        } else if (!strcmp(a, "--data-dir")) {
            o->data_dir = v;
        } else {
            fprintf(stderr, "solebox serve: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "solebox serve: bad value '%s' for %s\n", v ? v : "", a);
            return 2;
        }
        if (takes)
            i++;
    }
    if (o->synthetic && o->n_models) {
        fprintf(stderr, "solebox serve: --synthetic and -m do not go together\n");
        return 2;
    }
    return 0;
}

/* The log: one timestamped line per message on stderr. */
static void log_line(void *ud, const char *msg) {
    (void)ud;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    char ts[32];
    localtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ld serve: %s\n", ts, now.tv_nsec / 1000000, msg);
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_line(NULL, msg);
}

typedef struct loader {
    sb_server *srv;
    const serve_opts *o;
    int slots[MAX_MODELS];
    int n;
    atomic_bool done;
} loader;

/* The loading thread: each model in turn, then /health turns ready. */
static void *load_main(void *arg) {
    loader *l = arg;
    const serve_opts *o = l->o;
    int failed = 0;
    for (int i = 0; i < l->n; i++) {
        sb_srv_engine_opts eo = {
            .model_path = o->synthetic ? NULL : o->models[i],
            .synthetic = o->synthetic,
            .vocab_path = o->vocab,
            .n_threads = o->threads,
            .n_ctx = o->n_ctx,
            .parallel = o->parallel,
            .max_queue = o->queue,
            .batch_tokens = o->batch,
        };
        const char *name = o->synthetic ? o->synthetic : o->models[i];
        logf_("loading %s", name);
        sb_srv_model *m = NULL;
        char note[512] = "";
        sb_error err = {0};
        sb_status st = sb_srv_engine_load(&eo, &m, note, sizeof note, &err);
        if (st == SB_OK) {
            logf_("%s: %s", name, note);
            sb_server_attach_model(l->srv, l->slots[i], m);
        } else {
            logf_("cannot load %s: %s", name, err.msg);
            sb_server_fail_model(l->srv, l->slots[i], err.msg);
            failed++;
        }
    }
    sb_server_set_loaded(l->srv);
    if (failed > 0) /* still serving: the UI, /health and the other models say what failed */
        logf_("ready, but %d of %d model%s failed to load (requests for %s get an error; see /health)", failed, l->n,
              l->n == 1 ? "" : "s", failed == 1 ? "it" : "them");
    else if (l->n > 0)
        logf_("ready");
    atomic_store(&l->done, true);
    return NULL;
}

/* Waits for SIGINT or SIGTERM (blocked in every thread, so only here). */
static int wait_signal(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    while (sigwait(&set, &sig) != 0)
        ;
    return sig;
}

int sb_cmd_serve(int argc, char **argv) {
    serve_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    /* Signals go to the main thread only: block them before any thread
     * starts (threads inherit the mask). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    sb_server_config cfg = {
        .host = o.host,
        .port = o.port,
        .http_threads = o.http_threads,
        .timeout_s = o.timeout_s,
        .max_body = o.max_body,
        .allowed_hosts = o.hosts,
        .n_allowed_hosts = o.n_hosts,
        .cors_origins = o.cors,
        .n_cors_origins = o.n_cors,
        .log_requests = o.log_requests,
        .no_model_hint = NO_MODEL_HINT,
        .log = log_line,
    };
    sb_server *srv = NULL;
    sb_error err = {0};
    if (sb_server_create(&cfg, &srv, &err) != SB_OK) {
        fprintf(stderr, "solebox serve: %s\n", err.msg);
        return 1;
    }
    /* The web UI at / and its chat history under /api/ (webui.h). */
    sb_webui *ui = NULL;
    sb_webui_config wc = {.data_dir = o.data_dir, .model_paths = o.models, .n_models = o.synthetic ? 0 : o.n_models};
    if (sb_webui_attach(srv, &wc, &ui, &err) != SB_OK) {
        fprintf(stderr, "solebox serve: %s\n", err.msg);
        sb_server_free(srv);
        return 1;
    }
    loader l = {.srv = srv, .o = &o};
    atomic_init(&l.done, false);
    int n = o.synthetic ? 1 : o.n_models;
    for (int i = 0; i < n; i++) {
        char id[256];
        if (o.synthetic)
            snprintf(id, sizeof id, "%s", o.synthetic);
        else
            sb_server_model_id_from_path(o.models[i], id, sizeof id);
        l.slots[i] = sb_server_declare_model(srv, id);
        if (l.slots[i] < 0) {
            fprintf(stderr, "solebox serve: model id '%s' is given twice\n", id);
            sb_server_free(srv);
            sb_webui_free(ui);
            return 2;
        }
    }
    l.n = n;
    if (sb_server_start(srv, &err) != SB_OK) {
        fprintf(stderr, "solebox serve: %s\n", err.msg);
        sb_server_free(srv);
        sb_webui_free(ui);
        return 1;
    }
    logf_("listening on http://%s%s%s:%d/ (OpenAI API at /v1)", strchr(o.host, ':') ? "[" : "", o.host,
          strchr(o.host, ':') ? "]" : "", sb_server_port(srv));
    logf_("web UI at http://%s%s%s:%d/ (chat history: %s)", strchr(o.host, ':') ? "[" : "", o.host,
          strchr(o.host, ':') ? "]" : "", sb_server_port(srv), sb_webui_db_path(ui));
    if (n == 0)
        logf_("%s", NO_MODEL_HINT);
    pthread_t th;
    bool loading = pthread_create(&th, NULL, load_main, &l) == 0;
    if (!loading) {
        logf_("cannot start the loading thread");
        sb_server_set_loaded(srv);
    }

    int sig = wait_signal();
    logf_("%s: shutting down (grace %d ms)", sig == SIGINT ? "SIGINT" : "SIGTERM", o.grace_ms);
    sb_server_shutdown(srv, o.grace_ms);
    if (loading && !atomic_load(&l.done)) {
        /* A model is still loading and cannot be interrupted: the HTTP side
         * is stopped, so leave the rest to the process exit. */
        logf_("exiting while a model is still loading");
        fflush(stderr);
        _Exit(0);
    }
    if (loading)
        pthread_join(th, NULL);
    sb_server_free(srv);
    sb_webui_free(ui);
    logf_("stopped");
    return 0;
}
