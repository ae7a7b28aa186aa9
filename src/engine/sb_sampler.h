/*
 * sb_sampler.h - picks the next token of one sequence from its logits row.
 *
 * Sampling state belongs to the sequence: each sequence has its own
 * sb_sampler (random generator seeded from the request, penalty window of
 * its recent tokens), so the same seed gives the same tokens whatever else
 * runs in the same batch.
 *
 * ORDER OF OPERATIONS (llama.cpp's default chain: logit bias -> penalties ->
 * top-k -> top-p -> min-p -> temperature -> dist):
 *
 *   1. logit bias      logit[t] += bias[t]                      (backend)
 *   2. penalties       over the last penalty_last_n accepted tokens (prompt
 *                      included), for each distinct token t seen c times:
 *                      repetition: logit /= r if logit > 0 else logit *= r;
 *                      then logit -= presence + c * frequency  (backend)
 *   3. top-k           the k highest (ties: lower id first); k <= 0 keeps
 *                      the whole vocabulary                      (backend topk)
 *   4. top-p           softmax over the candidates; keep the shortest
 *                      prefix whose probability sum reaches top_p (>= 1: off;
 *                      0 keeps one)                              (host)
 *   5. min-p           keep candidates with p >= min_p * p_max (<= 0: off) (host)
 *   6. temperature     logits / T                                 (host)
 *   7. dist            softmax, one uniform draw from the sequence's generator
 *
 * temperature <= 0 is greedy: the argmax after steps 1-2 (ties: lowest id),
 * no random draw. top-k/top-p/min-p never leave fewer than one candidate.
 * Temperature scaling is monotonic, so doing it on the host after top-p /
 * min-p gives exactly llama.cpp's result while the backend only ever
 * returns raw (biased, penalized) logits; the backend's sb_sample_prep
 * temperature is therefore always 0 (no scaling).
 *
 * Log-probabilities (OpenAI `logprobs` / `top_logprobs`) are those of the
 * model's raw distribution: log softmax of the unmodified row, like
 * llama.cpp's server. They need the row's log-sum-exp: the backend's
 * `logsumexp` op when it has one, else the row is downloaded once.
 *
 * Not thread-safe: one sampler per sequence, used by the scheduler thread.
 */
#ifndef SB_SAMPLER_H
#define SB_SAMPLER_H

#include "sb_backend.h"
#include "sb_error.h"

#include <stdbool.h>
#include <stdint.h>

#define SB_SEED_RANDOM UINT64_MAX /* draw a seed from the OS */
#define SB_MAX_TOP_LOGPROBS 20

typedef struct sb_logit_bias {
    int32_t token;
    float bias; /* -INFINITY bans the token */
} sb_logit_bias;

typedef struct sb_sampling_params {
    float temperature;       /* <= 0: greedy */
    int top_k;               /* <= 0: off */
    float top_p;             /* >= 1: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off */
    float presence_penalty;  /* 0: off */
    float frequency_penalty; /* 0: off */
    int penalty_last_n;      /* window of recent tokens; 0 disables penalties; -1 = the whole sequence */
    uint64_t seed;           /* SB_SEED_RANDOM: a random seed */
    const sb_logit_bias *logit_bias; /* copied by sb_sampler_create */
    int n_logit_bias;
    bool logprobs;           /* report the chosen token's log-probability */
    int top_logprobs;        /* also the n most likely tokens (0..SB_MAX_TOP_LOGPROBS) */
} sb_sampling_params;

/* llama.cpp's defaults: temperature 0.8, top_k 40, top_p 0.95, min_p 0.05,
 * no penalties (window 64), random seed. */
sb_sampling_params sb_sampling_params_default(void);

/* Checks ranges (NaN, negative temperature is fine = greedy, top_p in
 * [0,1], penalties finite, bias tokens < n_vocab, top_logprobs bound); the
 * message names the field. */
sb_status sb_sampling_params_validate(const sb_sampling_params *p, int n_vocab, sb_error *err);

typedef struct sb_sampler sb_sampler;

/* A sampler for one sequence of a model with n_vocab tokens; max_window
 * bounds the penalty window when penalty_last_n is -1 (the context size).
 * The caller frees with sb_sampler_free. */
sb_status sb_sampler_create(const sb_sampling_params *p, int n_vocab, int max_window, sb_sampler **out,
                            sb_error *err);
void sb_sampler_free(sb_sampler *s);

/* A copy with the same state but its own generator seeded with seed (n > 1
 * choices of one prompt). Caller frees. */
sb_status sb_sampler_clone(const sb_sampler *s, uint64_t seed, sb_sampler **out, sb_error *err);

/* The seed in use (after SB_SEED_RANDOM was resolved). */
uint64_t sb_sampler_seed(const sb_sampler *s);

/* Adds a token (prompt or generated) to the penalty window. */
void sb_sampler_accept(sb_sampler *s, int32_t token);

/* One log-probability. */
typedef struct sb_token_logprob {
    int32_t token;
    float logprob;
} sb_token_logprob;

typedef struct sb_sample_result {
    int32_t token;
    float logprob;                                 /* when params.logprobs or top_logprobs */
    int n_top;
    sb_token_logprob top[SB_MAX_TOP_LOGPROBS];     /* most likely first */
} sb_sample_result;

/* Samples from logits row `row` of the backend tensor `logits` ([rows][n_vocab]).
 * Does not accept the token (call sb_sampler_accept). NaN logits are never
 * picked; a row that is NaN throughout (a model with non-finite weights)
 * fails with SB_ERR_FORMAT, as there is nothing to sample. */
sb_status sb_sampler_sample(sb_sampler *s, sb_backend *b, const sb_tensor *logits, int row, sb_sample_result *out,
                            sb_error *err);

/* The host part of the chain (steps 4-7) on a candidate list sorted by
 * descending logit: exposed for tests and for callers that have logits on
 * the host. Returns the index of the chosen candidate. `work` holds n
 * doubles. */
int sb_sample_candidates(const sb_candidate *cand, int n, float temperature, float top_p, float min_p, double u,
                         double *work);

#endif
