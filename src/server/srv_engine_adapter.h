/*
 * srv_engine_adapter.h - the real model behind the server: an sb_engine
 * (src/engine) wrapped in the srv_engine.h operations.
 *
 * Two ways to get one:
 *   - a GGUF file (model_path): weights, tokenizer and chat template from
 *     the file, the engine's own scheduler;
 *   - a synthetic model (synthetic = "<shape>:<type>", random weights made
 *     in memory by sb_model_load_synthetic) with the tokenizer of a vocab
 *     GGUF (vocab_path) whose vocabulary size matches; the adapter then
 *     runs a scheduler over the engine's model itself. This is how the
 *     TinyLlama-1.1B-shaped throughput figures are measured without the
 *     1.1 GB file.
 */
#ifndef SB_SRV_ENGINE_ADAPTER_H
#define SB_SRV_ENGINE_ADAPTER_H

#include "srv_engine.h"

#include <stddef.h>

typedef struct sb_srv_engine_opts {
    const char *model_path;
    const char *synthetic;
    const char *vocab_path;
    int n_threads;    /* <= 0: all CPUs */
    int n_ctx;        /* 0: the model's (capped at 4096) */
    int parallel;     /* sequences decoding at once */
    int max_queue;    /* waiting requests before 503 */
    int batch_tokens; /* 0: 512 */
} sb_srv_engine_opts;

/* Loads a model and starts its scheduler thread. On success *out is owned
 * by the caller (sb_srv_model_free, or hand it to sb_server_attach_model);
 * note (if not NULL) receives a line for the log (template fallback, load
 * time). Errors name the file and what is wrong. */
sb_status sb_srv_engine_load(const sb_srv_engine_opts *o, sb_srv_model **out, char *note, size_t note_cap,
                             sb_error *err);

#endif
