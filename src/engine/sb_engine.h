/*
 * sb_engine.h - everything one loaded model needs, in one object: GGUF ->
 * CPU backend -> model -> tokenizer -> chat template -> paged KV cache ->
 * scheduler. Used by `solebox run`, `solebox bench` and `solebox serve`.
 *
 *   sb_engine_opts o = sb_engine_opts_default();
 *   o.model_path = "model.gguf"; o.parallel = 4;
 *   sb_engine *e;
 *   if (sb_engine_create(&o, &e, &err) != SB_OK) { print err.msg; exit 1; }
 *   // tokenize (any thread): sb_engine_tokenize / sb_engine_chat_tokens
 *   // generate: sb_scheduler_submit(sb_engine_scheduler(e), ...) (sb_scheduler.h)
 *   sb_engine_free(e);
 *
 * THREADING. After create, the engine is immutable except through its
 * scheduler: sb_engine_tokenize, sb_engine_render_chat, sb_engine_chat_tokens
 * and the getters may be called from any number of threads at once (the
 * tokenizer and compiled template are immutable). Only the scheduler thread
 * runs the model. sb_engine_free must not race with any other call; it
 * cancels in-flight requests (their handles stay valid until
 * sb_request_free).
 *
 * KV CACHE SIZE. Each of `parallel` sequences may use the whole context
 * (n_ctx positions): the pool has parallel * (ceil(n_ctx / page_size) + 1)
 * pages (the +1 is room for one copy-on-write) plus `cache_pages` extra
 * pages that keep finished prompts' prefixes for reuse.
 */
#ifndef SB_ENGINE_H
#define SB_ENGINE_H

#include "sb_backend.h"
#include "sb_error.h"
#include "sb_model.h"
#include "sb_scheduler.h"
#include "sb_template.h"
#include "sb_tokenizer.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct sb_engine sb_engine;

typedef struct sb_engine_opts {
    const char *model_path; /* GGUF file */
    const char *synthetic;  /* or "<shape>:<type>" (sb_model_load_synthetic): no tokenizer, no scheduler */
    const char *vocab_path; /* with synthetic: a GGUF whose tokenizer (and chat template, else ChatML) the
                               model uses, its token count the model's vocabulary; then it is served like a file */
    int n_threads;          /* <= 0: one per online CPU */
    int n_ctx;              /* positions per sequence; 0: min(training context, 4096) */
    int parallel;           /* sequences generating at once (>= 1) */
    int batch_tokens;       /* token budget of one forward pass */
    int page_size;          /* KV positions per page (16 or 32) */
    uint32_t kv_type;       /* SB_TYPE_F16 (default, as llama.cpp) or SB_TYPE_F32 */
    int cache_pages;        /* extra pages for prefix caching; < 0: one context's worth */
    int max_queue;          /* waiting requests before SB_ERR_BUSY */
    bool repack;            /* let the CPU kernels repack weights at load */
    bool start_scheduler;   /* false: load only (bench drives the model itself) */
} sb_engine_opts;

/* model_path NULL, all threads, n_ctx 0, parallel 1, batch 512, pages of
 * 16, F16 KV, default prefix cache, queue 64, repack, scheduler on. */
sb_engine_opts sb_engine_opts_default(void);

/* Loads everything. Errors name the file and what is wrong with it
 * (missing file, not GGUF, unsupported architecture or tensor type,
 * tokenizer metadata, KV cache allocation). Caller frees with
 * sb_engine_free. */
sb_status sb_engine_create(const sb_engine_opts *opts, sb_engine **out, sb_error *err);
void sb_engine_free(sb_engine *e);

/* Borrowed pointers, valid until sb_engine_free. tokenizer, template and
 * scheduler are NULL for a synthetic model without vocab_path; without start_scheduler the
 * scheduler is NULL, and so are tokenizer and template when the file's
 * tokenizer metadata is unusable (the model alone still loads). */
sb_model *sb_engine_model(const sb_engine *e);
sb_backend *sb_engine_backend(const sb_engine *e);
const sb_model_hparams *sb_engine_hparams(const sb_engine *e);
const sb_tokenizer *sb_engine_tokenizer(const sb_engine *e);
const sb_template *sb_engine_template(const sb_engine *e);
sb_scheduler *sb_engine_scheduler(const sb_engine *e);
/* The chat template in use is the built-in ChatML (the model has none, or
 * its template failed to compile: sb_engine_template_note says which). */
bool sb_engine_template_is_default(const sb_engine *e);
/* A note about the template for the user ("" when there is nothing to say). */
const char *sb_engine_template_note(const sb_engine *e);
int sb_engine_n_ctx(const sb_engine *e);
int sb_engine_parallel(const sb_engine *e);
/* The KV cache: pages, positions per page, bytes. */
int sb_engine_kv_pages(const sb_engine *e);
int sb_engine_page_size(const sb_engine *e);
uint64_t sb_engine_kv_bytes(const sb_engine *e);
/* Seconds spent in sb_engine_create. */
double sb_engine_load_seconds(const sb_engine *e);

/* Tokenizes plain text. add_special adds BOS/EOS as the model says (what a
 * completion prompt gets); parse_special turns control-token text into
 * those tokens (what a rendered chat prompt needs). *ids is freed with
 * sb_free. */
sb_status sb_engine_tokenize(const sb_engine *e, const char *text, size_t len, bool add_special, bool parse_special,
                             int32_t **ids, int *n, sb_error *err);

/* Renders a chat (messages: a list of {role, content} dicts, see
 * sb_template.h) with the model's template, and removes a leading BOS text
 * when the tokenizer adds the BOS id itself (as llama.cpp's server does).
 * *text is freed with sb_free. SB_ERR_INVALID_ARG when the template
 * raises an exception (the message is the template's). */
sb_status sb_engine_render_chat(const sb_engine *e, const sb_tmpl_value *messages, bool add_generation_prompt,
                                char **text, size_t *len, sb_error *err);

/* sb_engine_render_chat followed by tokenization with add_special and
 * parse_special: the prompt ids of a chat request. */
sb_status sb_engine_chat_tokens(const sb_engine *e, const sb_tmpl_value *messages, bool add_generation_prompt,
                                int32_t **ids, int *n, sb_error *err);

#endif
