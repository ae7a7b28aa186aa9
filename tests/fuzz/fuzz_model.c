/*
 * fuzz_model.c - libFuzzer target for a model file as the engine takes it:
 * the GGUF reader, the tokenizer built from its metadata, the model loader's
 * hyperparameter and tensor checks, the CPU backend's weight packing and one
 * small forward pass.
 *
 * Each input is opened with sb_gguf_open_memory. If its metadata builds a
 * tokenizer, fixed strings (plain, multi-byte, invalid UTF-8, special-token
 * markup) are encoded, every id must lie in the vocabulary, and the ids are
 * decoded again, in one piece and as a stream (fuzz_tokens.h). If the file then loads as a
 * model, it gets a KV cache of two 16-position pages and three tokens run
 * through one forward pass with every row an output; the logits table must
 * be vocabulary-wide and is read in full, and every row is sampled greedily
 * and with llama.cpp's default chain plus penalties and log-probabilities
 * (a hostile model's logits may be NaN or infinite): the token must lie in
 * the vocabulary. A refusal anywhere must come back
 * with a status equal to the error's code and a message. Any disagreement
 * traps, so the fuzzer reports it.
 *
 * The context and batch are fixed and small; what a file can make the loader
 * allocate (weights, packed copies, activations, logits) is bounded by its
 * own tensors, so inputs of a few megabytes stay fast.
 */
#include "fuzz_check.h"
#include "fuzz_tokens.h"

#include "sb_backend.h"
#include "sb_cpu_backend.h"
#include "sb_gguf.h"
#include "sb_model.h"
#include "sb_sampler.h"
#include "sb_tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static void fuzz_tokenizer(const sb_gguf *g) {
    sb_tokenizer *t = NULL;
    sb_error err;
    sb_error_clear(&err);
    sb_status st = sb_tokenizer_create(g, &t, &err);
    if (st != SB_OK) {
        fuzz_check_refusal(st, &err);
        FUZZ_ASSERT(t == NULL);
        return;
    }
    static const char *const texts[] = {
        "Once upon a time, there was a little girl.",
        "  leading spaces\tand\ttabs\nnew lines\r\n",
        "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80 numbers 12345 678",
        "bad \xff\xfe bytes \xc3 cut \xe4\xb8",
        "<s>[INST] hi [/INST]</s><|im_start|>user\nhello<|im_end|><|endoftext|>",
        "",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        fuzz_tokens_roundtrip(t, texts[i], strlen(texts[i]), true, false, false);
        fuzz_tokens_roundtrip(t, texts[i], strlen(texts[i]), true, true, true);
    }
    const int32_t n_vocab = sb_tokenizer_n_vocab(t);
    char piece[64];
    for (int32_t id = 0; id < n_vocab && id < 64; id++)
        g_sink += (uint64_t)sb_token_to_piece(t, id, piece, sizeof piece, 0, true);
    sb_tokenizer_free(t);
}

/* Samples every row of the logits with two chains; tokens must be in range. */
static void sample_rows(sb_backend *be, const sb_tensor *logits, int rows, int n_vocab, const int32_t *ids) {
    sb_sampling_params greedy = sb_sampling_params_default(), chain = sb_sampling_params_default();
    greedy.temperature = 0.0f;
    chain.seed = 1;
    chain.repeat_penalty = 1.1f;
    chain.presence_penalty = 0.5f;
    chain.frequency_penalty = 0.5f;
    chain.logprobs = true;
    chain.top_logprobs = 5;
    const sb_sampling_params *ps[2] = {&greedy, &chain};
    for (int k = 0; k < 2; k++) {
        sb_sampler *s = NULL;
        sb_error err;
        sb_error_clear(&err);
        sb_status st = sb_sampler_create(ps[k], n_vocab, 16, &s, &err);
        if (st != SB_OK) {
            fuzz_check_refusal(st, &err);
            continue;
        }
        for (int r = 0; r < rows; r++) {
            sb_sampler_accept(s, ids[r]);
            sb_sample_result res;
            st = sb_sampler_sample(s, be, logits, r, &res, &err);
            if (st != SB_OK) {
                fuzz_check_refusal(st, &err);
                continue;
            }
            FUZZ_ASSERT(res.token >= 0 && res.token < n_vocab);
            FUZZ_ASSERT(res.n_top >= 0 && res.n_top <= ps[k]->top_logprobs);
            for (int i = 0; i < res.n_top; i++)
                FUZZ_ASSERT(res.top[i].token >= 0 && res.top[i].token < n_vocab);
        }
        sb_sampler_free(s);
    }
}

/* Loads the model (which takes g) and runs three tokens through it. */
static void fuzz_forward(sb_gguf *g) {
    sb_error err;
    sb_error_clear(&err);
    sb_backend *be = NULL;
    sb_cpu_backend_opts o = {.n_threads = 1, .repack = true};
    int32_t ids[3] = {0, 0, 0};
    sb_status st = sb_cpu_backend_create(&o, &be, &err);
    if (st != SB_OK) {
        fuzz_check_refusal(st, &err);
        sb_gguf_close(g);
        return;
    }
    sb_model *m = NULL;
    st = sb_model_load_gguf(g, be, NULL, &m, &err);
    if (st != SB_OK) {
        fuzz_check_refusal(st, &err);
        FUZZ_ASSERT(m == NULL);
        sb_backend_destroy(be);
        return;
    }
    const sb_model_hparams *hp = sb_model_get_hparams(m);
    FUZZ_ASSERT(hp->n_vocab > 0 && hp->n_embd > 0 && hp->n_layers > 0 && hp->n_heads > 0);
    sb_kv_config kv = sb_model_kv_config(m, 16, 2, SB_TYPE_F16);
    st = sb_backend_kv_init(be, &kv, &err);
    if (st == SB_OK)
        st = sb_model_reserve(m, 3, 3, &err);
    if (st == SB_OK) {
        int32_t pos[3] = {0, 1, 2}, seq[3] = {0, 0, 0}, rows[3] = {0, 1, 2}, table[2] = {0, 1};
        for (int i = 0; i < 3; i++)
            ids[i] = (int32_t)((i * 7919 + 1) % hp->n_vocab);
        const int32_t *tables[1] = {table};
        int32_t np = 2;
        sb_batch b = {3, ids, pos, seq, 1, tables, &np, 3, rows};
        st = sb_model_forward(m, &b, &err);
    }
    if (st == SB_OK) {
        const sb_tensor *lg = sb_model_logits(m);
        FUZZ_ASSERT(lg != NULL && lg->data != NULL);
        FUZZ_ASSERT(lg->ne[0] == hp->n_vocab && lg->ne[1] >= 3);
        fuzz_sink_floats(lg->data, 3 * (size_t)hp->n_vocab);
        sample_rows(be, lg, 3, hp->n_vocab, ids);
    } else {
        fuzz_check_refusal(st, &err);
    }
    sb_model_free(m);
    sb_backend_destroy(be);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    sb_gguf *g = NULL;
    sb_error err;
    sb_error_clear(&err);
    sb_status st = sb_gguf_open_memory(data, size, &g, &err);
    if (st != SB_OK) {
        fuzz_check_refusal(st, &err);
        FUZZ_ASSERT(g == NULL);
        return 0;
    }
    fuzz_tokenizer(g);
    fuzz_forward(g);
    return 0;
}
