/*
 * fake_engine.h - a model for the server tests: byte tokens, a fixed
 * story, a scheduler thread with a --parallel cap, a bounded queue and a
 * per-token delay. It implements srv_engine.h exactly as the real adapter
 * must (events from its own thread, one final event per request).
 */
#ifndef SB_FAKE_ENGINE_H
#define SB_FAKE_ENGINE_H

#include "srv_engine.h"

typedef struct fake_config {
    int n_ctx;          /* default 256 */
    int parallel;       /* sequences decoding at once, default 4 */
    int queue_cap;      /* waiting requests before BUSY, default 16 */
    int token_delay_us; /* per decode step, default 1000 */
    int eos_after;      /* finish with "stop" after this many tokens (0 = never) */
} fake_config;

/* Live counters of a fake model (for the cancellation tests). */
typedef struct fake_counters {
    int active, queued;
    long submitted, cancelled, finished;
} fake_counters;

sb_srv_model *fake_model_create(const fake_config *cfg);
void fake_model_counters(sb_srv_model *m, fake_counters *out);

#endif
