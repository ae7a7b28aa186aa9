/*
 * srv_metrics.c - Prometheus counters and histograms (see srv_metrics.h).
 */
#include "srv_metrics.h"

#include "sb_alloc.h"
#include "sb_time.h"

#include <pthread.h>
#include <string.h>

#define TPS_WINDOW 10 /* seconds averaged by solebox_tokens_per_second */

static const double ttft_bounds[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
static const double itl_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
#define N_TTFT (sizeof ttft_bounds / sizeof ttft_bounds[0])
#define N_ITL (sizeof itl_bounds / sizeof itl_bounds[0])

typedef struct req_count {
    char *endpoint;
    int status;
    unsigned long long n;
} req_count;

typedef struct model_count {
    char *model;
    unsigned long long prompt, cached, generated, finished;
} model_count;

typedef struct histogram {
    unsigned long long buckets[16]; /* non-cumulative, last = +Inf */
    unsigned long long count;
    double sum;
} histogram;

struct sb_srv_metrics {
    pthread_mutex_t mu;
    req_count *reqs;
    size_t n_reqs, cap_reqs;
    model_count *models;
    size_t n_models, cap_models;
    histogram ttft, itl;
    unsigned long long tps_bucket[TPS_WINDOW];
    long long tps_stamp[TPS_WINDOW];
    double start;
};

/* See srv_metrics.h. */
sb_srv_metrics *sb_srv_metrics_create(void) {
    sb_srv_metrics *m = sb_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->start = sb_now_seconds();
    return m;
}

/* See srv_metrics.h. */
void sb_srv_metrics_free(sb_srv_metrics *m) {
    if (!m)
        return;
    for (size_t i = 0; i < m->n_reqs; i++)
        sb_free(m->reqs[i].endpoint);
    for (size_t i = 0; i < m->n_models; i++)
        sb_free(m->models[i].model);
    sb_free(m->reqs);
    sb_free(m->models);
    pthread_mutex_destroy(&m->mu);
    sb_free(m);
}

/* Grows an array by one slot; false when out of memory. Caller holds mu. */
static bool grow(void **arr, size_t *n, size_t *cap, size_t elem) {
    if (*n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = sb_reallocarray(*arr, nc, elem);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

/* See srv_metrics.h. */
void sb_srv_metrics_request(sb_srv_metrics *m, const char *endpoint, int status) {
    pthread_mutex_lock(&m->mu);
    size_t i = 0;
    while (i < m->n_reqs && (m->reqs[i].status != status || strcmp(m->reqs[i].endpoint, endpoint) != 0))
        i++;
    if (i == m->n_reqs) {
        char *e = sb_strdup(endpoint);
        if (!e || !grow((void **)&m->reqs, &m->n_reqs, &m->cap_reqs, sizeof *m->reqs)) {
            sb_free(e);
            pthread_mutex_unlock(&m->mu);
            return;
        }
        m->reqs[m->n_reqs++] = (req_count){e, status, 0};
    }
    m->reqs[i].n++;
    pthread_mutex_unlock(&m->mu);
}

/* The counters of a model, created on first use. Caller holds mu. */
static model_count *model_slot(sb_srv_metrics *m, const char *model) {
    for (size_t i = 0; i < m->n_models; i++)
        if (strcmp(m->models[i].model, model) == 0)
            return &m->models[i];
    char *name = sb_strdup(model);
    if (!name || !grow((void **)&m->models, &m->n_models, &m->cap_models, sizeof *m->models)) {
        sb_free(name);
        return NULL;
    }
    m->models[m->n_models] = (model_count){.model = name};
    return &m->models[m->n_models++];
}

/* See srv_metrics.h. */
void sb_srv_metrics_finished(sb_srv_metrics *m, const char *model, int prompt_tokens, int cached_tokens,
                             int generated_tokens) {
    pthread_mutex_lock(&m->mu);
    model_count *c = model_slot(m, model);
    if (c) {
        c->prompt += (unsigned long long)(prompt_tokens > 0 ? prompt_tokens : 0);
        c->cached += (unsigned long long)(cached_tokens > 0 ? cached_tokens : 0);
        c->generated += (unsigned long long)(generated_tokens > 0 ? generated_tokens : 0);
        c->finished++;
    }
    pthread_mutex_unlock(&m->mu);
}

/* See srv_metrics.h. One bucket per wall second, reused round-robin. */
void sb_srv_metrics_generated(sb_srv_metrics *m, int n) {
    long long sec = (long long)sb_now_seconds();
    int i = (int)(sec % TPS_WINDOW);
    pthread_mutex_lock(&m->mu);
    if (m->tps_stamp[i] != sec) {
        m->tps_stamp[i] = sec;
        m->tps_bucket[i] = 0;
    }
    m->tps_bucket[i] += (unsigned long long)(n > 0 ? n : 0);
    pthread_mutex_unlock(&m->mu);
}

/* Adds an observation to a histogram with the given bounds. */
static void observe(histogram *h, const double *bounds, size_t nb, double v) {
    size_t i = 0;
    while (i < nb && v > bounds[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += v;
}

/* See srv_metrics.h. */
void sb_srv_metrics_ttft(sb_srv_metrics *m, double seconds) {
    pthread_mutex_lock(&m->mu);
    observe(&m->ttft, ttft_bounds, N_TTFT, seconds);
    pthread_mutex_unlock(&m->mu);
}

/* See srv_metrics.h. */
void sb_srv_metrics_itl(sb_srv_metrics *m, double seconds) {
    pthread_mutex_lock(&m->mu);
    observe(&m->itl, itl_bounds, N_ITL, seconds);
    pthread_mutex_unlock(&m->mu);
}

/* Appends a label value with Prometheus escaping (\\, \", \n). */
static sb_status put_label(sb_buf *out, const char *v) {
    for (; *v; v++) {
        sb_status st = *v == '\\' ? sb_buf_puts(out, "\\\\")
                       : *v == '"' ? sb_buf_puts(out, "\\\"")
                       : *v == '\n' ? sb_buf_puts(out, "\\n")
                                    : sb_buf_putc(out, *v);
        if (st != SB_OK)
            return st;
    }
    return SB_OK;
}

/* HELP and TYPE lines of a metric family. */
static void family(sb_buf *out, const char *name, const char *type, const char *help) {
    sb_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* `name{model="..."} value` for one model. */
static void model_line(sb_buf *out, const char *name, const char *model, double v) {
    sb_buf_printf(out, "%s{model=\"", name);
    put_label(out, model);
    sb_buf_printf(out, "\"} %.17g\n", v);
}

/* A histogram family with cumulative buckets. */
static void render_histogram(sb_buf *out, const char *name, const char *help, const histogram *h,
                             const double *bounds, size_t nb) {
    family(out, name, "histogram", help);
    unsigned long long cum = 0;
    for (size_t i = 0; i < nb; i++) {
        cum += h->buckets[i];
        sb_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], cum);
    }
    sb_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, h->count);
    sb_buf_printf(out, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, h->count);
}

/* See srv_metrics.h. */
sb_status sb_srv_metrics_render(sb_srv_metrics *m, const sb_srv_model_gauges *models, int n_models, sb_buf *out) {
    pthread_mutex_lock(&m->mu);
    family(out, "solebox_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
    for (size_t i = 0; i < m->n_reqs; i++) {
        sb_buf_puts(out, "solebox_requests_total{endpoint=\"");
        put_label(out, m->reqs[i].endpoint);
        sb_buf_printf(out, "\",status=\"%d\"} %llu\n", m->reqs[i].status, m->reqs[i].n);
    }
    static const struct {
        const char *name, *help;
        size_t off;
    } counters[] = {
        {"solebox_prompt_tokens_total", "Prompt tokens of finished requests.", offsetof(model_count, prompt)},
        {"solebox_prompt_tokens_cached_total", "Prompt tokens reused from the KV cache.",
         offsetof(model_count, cached)},
        {"solebox_generated_tokens_total", "Generated tokens of finished requests.",
         offsetof(model_count, generated)},
        {"solebox_generations_total", "Finished generations (choices).", offsetof(model_count, finished)},
    };
    for (size_t k = 0; k < sizeof counters / sizeof counters[0]; k++) {
        family(out, counters[k].name, "counter", counters[k].help);
        for (size_t i = 0; i < m->n_models; i++) {
            const unsigned long long *v =
                (const unsigned long long *)((const char *)&m->models[i] + counters[k].off);
            model_line(out, counters[k].name, m->models[i].model, (double)*v);
        }
    }
    double now = sb_now_seconds();
    long long sec = (long long)now;
    unsigned long long recent = 0;
    for (int i = 0; i < TPS_WINDOW; i++)
        if (m->tps_stamp[i] > sec - TPS_WINDOW)
            recent += m->tps_bucket[i];
    double span = now - m->start < TPS_WINDOW ? now - m->start : TPS_WINDOW;
    family(out, "solebox_tokens_per_second", "gauge", "Generated tokens per second over the last 10 seconds.");
    sb_buf_printf(out, "solebox_tokens_per_second %.6g\n", span > 0 ? (double)recent / span : 0.0);
    render_histogram(out, "solebox_time_to_first_token_seconds", "Time from request to first generated token.",
                     &m->ttft, ttft_bounds, N_TTFT);
    render_histogram(out, "solebox_inter_token_latency_seconds", "Time between generated tokens of one request.",
                     &m->itl, itl_bounds, N_ITL);
    pthread_mutex_unlock(&m->mu);

    static const struct {
        const char *name, *help;
    } gauges[] = {
        {"solebox_model_ready", "1 when the model is loaded and serving."},
        {"solebox_requests_active", "Sequences in the running batch."},
        {"solebox_requests_queued", "Requests waiting to be admitted."},
        {"solebox_kv_cache_pages_used", "KV cache pages in use (cached prefixes included)."},
        {"solebox_kv_cache_pages_total", "KV cache pages in the pool."},
    };
    for (size_t k = 0; k < sizeof gauges / sizeof gauges[0]; k++) {
        family(out, gauges[k].name, "gauge", gauges[k].help);
        for (int i = 0; i < n_models; i++) {
            const sb_srv_model_gauges *g = &models[i];
            double v = k == 0 ? g->ready : k == 1 ? g->active : k == 2 ? g->queued : k == 3 ? g->kv_pages_used
                                                                                           : g->kv_pages_total;
            model_line(out, gauges[k].name, g->model, v);
        }
    }
    /* Any append above that failed left the buffer short: report it once. */
    return sb_buf_puts(out, "");
}
