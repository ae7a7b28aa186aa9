/*
 * sampler.c - per-sequence token sampling (semantics in sb_sampler.h).
 */
#include "sb_sampler.h"

#include "sb_alloc.h"
#include "sb_rng.h"
#include "sb_time.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct sb_sampler {
    sb_sampling_params p;   /* logit_bias points at bias_tokens/bias_values below */
    int n_vocab;
    uint64_t seed;
    sb_rng rng;
    /* penalty window: ring of the last `window` accepted tokens */
    int32_t *ring;
    int window, ring_len, ring_pos;
    int32_t *pen_tokens, *pen_counts, *sort_buf; /* [window] scratch */
    int32_t *bias_tokens;
    float *bias_values;
    sb_candidate *cand;     /* [k_max] */
    int k_max;
    double *work;           /* [k_max] */
    float *row;             /* [n_vocab] host copy for log-probabilities, lazily allocated */
};

sb_sampling_params sb_sampling_params_default(void) {
    sb_sampling_params p;
    memset(&p, 0, sizeof p);
    p.temperature = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.penalty_last_n = 64;
    p.seed = SB_SEED_RANDOM;
    return p;
}

sb_status sb_sampling_params_validate(const sb_sampling_params *p, int n_vocab, sb_error *err) {
    if (isnan(p->temperature) || isinf(p->temperature))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "temperature must be a finite number");
    if (isnan(p->top_p) || p->top_p < 0.0f)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "top_p must be between 0 and 1");
    if (isnan(p->min_p) || p->min_p > 1.0f)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "min_p must be between 0 and 1");
    if (!isfinite(p->repeat_penalty) || p->repeat_penalty <= 0.0f)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "repeat_penalty must be a positive number");
    if (!isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "presence_penalty and frequency_penalty must be finite");
    if (p->penalty_last_n < -1)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "penalty_last_n must be -1, 0 or positive");
    if (p->top_logprobs < 0 || p->top_logprobs > SB_MAX_TOP_LOGPROBS)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "top_logprobs must be between 0 and %d", SB_MAX_TOP_LOGPROBS);
    if (p->n_logit_bias < 0 || (p->n_logit_bias > 0 && !p->logit_bias))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "logit_bias: bad list");
    for (int i = 0; i < p->n_logit_bias; i++) {
        const sb_logit_bias *b = &p->logit_bias[i];
        if (b->token < 0 || b->token >= n_vocab)
            return sb_error_set(err, SB_ERR_RANGE, "logit_bias: token %d is outside the vocabulary (0..%d)",
                                (int)b->token, n_vocab - 1);
        if (isnan(b->bias) || b->bias == INFINITY)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "logit_bias: the bias of token %d must be a number",
                                (int)b->token);
    }
    return SB_OK;
}

/* A seed from the OS (getrandom), or the clock if that fails. */
static uint64_t random_seed(void) {
    uint64_t s = 0;
    if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s)
        s = sb_now_ns() ^ ((uint64_t)(uintptr_t)&s << 17);
    return s == SB_SEED_RANDOM ? 0 : s;
}

static bool penalties_active(const sb_sampling_params *p) {
    return p->penalty_last_n != 0 &&
           (p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f);
}

sb_status sb_sampler_create(const sb_sampling_params *p, int n_vocab, int max_window, sb_sampler **out,
                            sb_error *err) {
    *out = NULL;
    if (n_vocab < 1)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "sampler: empty vocabulary");
    sb_status st = sb_sampling_params_validate(p, n_vocab, err);
    if (st != SB_OK)
        return st;
    sb_sampler *s = sb_calloc(1, sizeof *s);
    if (!s)
        return sb_error_set(err, SB_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    s->seed = p->seed == SB_SEED_RANDOM ? random_seed() : p->seed;
    sb_rng_seed(&s->rng, s->seed);
    if (penalties_active(p)) {
        int w = p->penalty_last_n < 0 ? max_window : p->penalty_last_n;
        s->window = w < 1 ? 1 : w;
    }
    s->k_max = p->temperature <= 0.0f ? 1 : (p->top_k > 0 && p->top_k < n_vocab ? p->top_k : n_vocab);
    s->cand = sb_calloc((size_t)s->k_max, sizeof *s->cand);
    s->work = sb_calloc((size_t)s->k_max, sizeof *s->work);
    bool ok = s->cand && s->work;
    if (ok && s->window > 0) {
        s->ring = sb_calloc((size_t)s->window, sizeof(int32_t));
        s->pen_tokens = sb_calloc((size_t)s->window, sizeof(int32_t));
        s->pen_counts = sb_calloc((size_t)s->window, sizeof(int32_t));
        s->sort_buf = sb_calloc((size_t)s->window, sizeof(int32_t));
        ok = s->ring && s->pen_tokens && s->pen_counts && s->sort_buf;
    }
    if (ok && p->n_logit_bias > 0) {
        s->bias_tokens = sb_calloc((size_t)p->n_logit_bias, sizeof(int32_t));
        s->bias_values = sb_calloc((size_t)p->n_logit_bias, sizeof(float));
        ok = s->bias_tokens && s->bias_values;
        for (int i = 0; ok && i < p->n_logit_bias; i++) {
            s->bias_tokens[i] = p->logit_bias[i].token;
            s->bias_values[i] = p->logit_bias[i].bias;
        }
    }
    s->p.logit_bias = NULL; /* the copies above are used instead */
    if (!ok) {
        sb_sampler_free(s);
        return sb_error_set(err, SB_ERR_NOMEM, "sampler: out of memory");
    }
    *out = s;
    return SB_OK;
}

void sb_sampler_free(sb_sampler *s) {
    if (!s)
        return;
    sb_free(s->ring);
    sb_free(s->pen_tokens);
    sb_free(s->pen_counts);
    sb_free(s->sort_buf);
    sb_free(s->bias_tokens);
    sb_free(s->bias_values);
    sb_free(s->cand);
    sb_free(s->work);
    sb_free(s->row);
    sb_free(s);
}

/* Same parameters and window, a fresh generator: the sampler of choice i of
 * an n > 1 request. */
sb_status sb_sampler_clone(const sb_sampler *s, uint64_t seed, sb_sampler **out, sb_error *err) {
    sb_sampling_params p = s->p;
    p.seed = seed;
    p.logit_bias = NULL;
    p.n_logit_bias = 0;
    sb_logit_bias *lb = NULL;
    if (s->p.n_logit_bias > 0) {
        lb = sb_calloc((size_t)s->p.n_logit_bias, sizeof *lb);
        if (!lb)
            return sb_error_set(err, SB_ERR_NOMEM, "sampler: out of memory");
        for (int i = 0; i < s->p.n_logit_bias; i++)
            lb[i] = (sb_logit_bias){s->bias_tokens[i], s->bias_values[i]};
        p.logit_bias = lb;
        p.n_logit_bias = s->p.n_logit_bias;
    }
    sb_status st = sb_sampler_create(&p, s->n_vocab, s->window, out, err);
    sb_free(lb);
    if (st != SB_OK)
        return st;
    sb_sampler *c = *out;
    if (c->window == s->window && s->window > 0) {
        memcpy(c->ring, s->ring, sizeof(int32_t) * (size_t)s->window);
        c->ring_len = s->ring_len;
        c->ring_pos = s->ring_pos;
    }
    return SB_OK;
}

uint64_t sb_sampler_seed(const sb_sampler *s) { return s->seed; }

void sb_sampler_accept(sb_sampler *s, int32_t token) {
    if (s->window <= 0)
        return;
    s->ring[s->ring_pos] = token;
    s->ring_pos = (s->ring_pos + 1) % s->window;
    if (s->ring_len < s->window)
        s->ring_len++;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Distinct tokens of the window with their counts, for sb_sample_prep. */
static int window_counts(sb_sampler *s) {
    if (s->ring_len == 0)
        return 0;
    memcpy(s->sort_buf, s->ring, sizeof(int32_t) * (size_t)s->ring_len);
    qsort(s->sort_buf, (size_t)s->ring_len, sizeof(int32_t), cmp_i32);
    int n = 0;
    for (int i = 0; i < s->ring_len; i++) {
        if (n > 0 && s->pen_tokens[n - 1] == s->sort_buf[i]) {
            s->pen_counts[n - 1]++;
        } else {
            s->pen_tokens[n] = s->sort_buf[i];
            s->pen_counts[n] = 1;
            n++;
        }
    }
    return n;
}

int sb_sample_candidates(const sb_candidate *cand, int n, float temperature, float top_p, float min_p, double u,
                         double *work) {
    if (n <= 1 || temperature <= 0.0f)
        return 0;
    double max = cand[0].logit;
    if (!isfinite(max))
        return 0; /* nothing has a finite logit: the first (lowest id) */
    int m = n;
    if (top_p < 1.0f) {
        double sum = 0.0;
        for (int i = 0; i < m; i++)
            sum += work[i] = isnan(cand[i].logit) ? 0.0 : exp((double)cand[i].logit - max);
        double cum = 0.0;
        for (int i = 0; i < m; i++) {
            cum += work[i] / sum;
            if (cum >= (double)top_p) {
                m = i + 1;
                break;
            }
        }
    }
    if (min_p > 0.0f) {
        double thr = max + log((double)min_p);
        int keep = 0;
        while (keep < m && (double)cand[keep].logit >= thr)
            keep++;
        m = keep < 1 ? 1 : keep;
    }
    double sum = 0.0;
    for (int i = 0; i < m; i++)
        sum += work[i] = isnan(cand[i].logit) ? 0.0 : exp(((double)cand[i].logit - max) / (double)temperature);
    double target = u * sum, acc = 0.0;
    for (int i = 0; i < m; i++) {
        acc += work[i];
        if (target < acc)
            return i;
    }
    /* rounding at the very top: the last candidate with weight */
    for (int i = m - 1; i > 0; i--)
        if (work[i] > 0.0)
            return i;
    return 0;
}

/* Log-probabilities of the raw row: chosen token and the top n. The row is
 * downloaded to the host (one copy; zero-cost on the CPU backend). */
static sb_status fill_logprobs(sb_sampler *s, sb_backend *b, const sb_tensor *logits, int row, sb_sample_result *out,
                               sb_error *err) {
    if (!s->row) {
        s->row = sb_calloc((size_t)s->n_vocab, sizeof(float));
        if (!s->row)
            return sb_error_set(err, SB_ERR_NOMEM, "sampler: out of memory");
    }
    size_t bytes = sizeof(float) * (size_t)s->n_vocab;
    sb_status st = b->ops->download(b, logits, s->row, (size_t)row * bytes, bytes);
    if (st != SB_OK)
        return sb_error_set(err, st, "sampler: reading logits row %d failed", row);
    double max = -INFINITY;
    for (int i = 0; i < s->n_vocab; i++)
        if (s->row[i] > max)
            max = s->row[i];
    double sum = 0.0;
    for (int i = 0; i < s->n_vocab; i++)
        sum += exp((double)s->row[i] - max);
    double lse = max + log(sum);
    out->logprob = (float)((double)s->row[out->token] - lse);
    int k = s->p.top_logprobs;
    out->n_top = 0;
    for (int i = 0; i < s->n_vocab && k > 0; i++) {
        float v = s->row[i];
        int n = out->n_top;
        if (n == k && !(v > out->top[n - 1].logprob))
            continue;
        int j = n < k ? n : k - 1;
        while (j > 0 && v > out->top[j - 1].logprob) {
            out->top[j] = out->top[j - 1];
            j--;
        }
        out->top[j] = (sb_token_logprob){i, v};
        if (n < k)
            out->n_top++;
    }
    for (int i = 0; i < out->n_top; i++)
        out->top[i].logprob = (float)((double)out->top[i].logprob - lse);
    return SB_OK;
}

sb_status sb_sampler_sample(sb_sampler *s, sb_backend *b, const sb_tensor *logits, int row, sb_sample_result *out,
                            sb_error *err) {
    memset(out, 0, sizeof *out);
    sb_sample_prep prep;
    memset(&prep, 0, sizeof prep);
    prep.temperature = 0.0f; /* temperature is applied on the host, after top-p/min-p */
    prep.repeat_penalty = 1.0f;
    if (s->window > 0) {
        prep.repeat_penalty = s->p.repeat_penalty;
        prep.presence_penalty = s->p.presence_penalty;
        prep.frequency_penalty = s->p.frequency_penalty;
        prep.n_penalty = window_counts(s);
        prep.penalty_tokens = s->pen_tokens;
        prep.penalty_counts = s->pen_counts;
    }
    prep.bias_tokens = s->bias_tokens;
    prep.bias_values = s->bias_values;
    prep.n_bias = s->p.n_logit_bias;
    int n = 0;
    sb_status st = b->ops->topk(b, logits, row, &prep, s->k_max, s->cand, &n);
    if (st != SB_OK)
        return sb_error_set(err, st, "sampler: selecting candidates from logits row %d failed", row);
    if (n < 1)
        return sb_error_set(err, SB_ERR_INTERNAL, "sampler: the backend returned no candidate");
    /* NaN ranks last, so a NaN best candidate means the whole row is NaN:
     * there is nothing to sample, and picking an id would stream garbage. */
    if (isnan(s->cand[0].logit))
        return sb_error_set(err, SB_ERR_FORMAT,
                            "every logit is NaN: the model's weights or activations hold non-finite values");
    int pick = 0;
    if (s->p.temperature > 0.0f && n > 1) {
        double u = sb_rng_uniform(&s->rng);
        pick = sb_sample_candidates(s->cand, n, s->p.temperature, s->p.top_p, s->p.min_p, u, s->work);
    }
    out->token = s->cand[pick].id;
    if (s->p.logprobs || s->p.top_logprobs > 0)
        return fill_logprobs(s, b, logits, row, out, err);
    return SB_OK;
}
