/*
 * srv_metrics.h - counters and histograms behind GET /metrics, rendered in
 * the Prometheus text exposition format (version 0.0.4).
 *
 * Every recording function is thread-safe (one mutex; each call is a few
 * additions) and may be called from HTTP threads or a model's thread.
 */
#ifndef SB_SRV_METRICS_H
#define SB_SRV_METRICS_H

#include "sb_buf.h"
#include "sb_error.h"

#include <stdbool.h>

typedef struct sb_srv_metrics sb_srv_metrics;

/* Per-model gauges read at render time (from the model's stats). */
typedef struct sb_srv_model_gauges {
    const char *model;
    bool ready;
    int active;
    int queued;
    int kv_pages_used;
    int kv_pages_total;
} sb_srv_model_gauges;

/* NULL when out of memory; free with sb_srv_metrics_free. */
sb_srv_metrics *sb_srv_metrics_create(void);
void sb_srv_metrics_free(sb_srv_metrics *m);

/* One answered HTTP request (endpoint label, status). */
void sb_srv_metrics_request(sb_srv_metrics *m, const char *endpoint, int status);
/* Token counts of one finished generation. */
void sb_srv_metrics_finished(sb_srv_metrics *m, const char *model, int prompt_tokens, int cached_tokens,
                             int generated_tokens);
/* n tokens were generated just now (for the tokens/s gauge). */
void sb_srv_metrics_generated(sb_srv_metrics *m, int n);
/* Time to first token and inter-token latency observations, in seconds. */
void sb_srv_metrics_ttft(sb_srv_metrics *m, double seconds);
void sb_srv_metrics_itl(sb_srv_metrics *m, double seconds);

/* Appends the exposition text to out. */
sb_status sb_srv_metrics_render(sb_srv_metrics *m, const sb_srv_model_gauges *models, int n_models, sb_buf *out);

#endif
