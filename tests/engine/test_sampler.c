/*
 * test_sampler.c - sampling semantics (sb_sampler.h): greedy and its ties,
 * the top-k / top-p / min-p / temperature chain checked as distributions
 * with fixed seeds, penalties, logit bias, -inf rows, seeds, log-probs.
 */
#include "fake_model.h"
#include "sb_alloc.h"
#include "sb_sampler.h"
#include "sb_test.h"

#include <math.h>
#include <string.h>

#define NV FAKE_VOCAB

/* A one-row logits tensor on the fake backend. */
typedef struct row_fixture {
    fake_model *m;
    float row[NV];
    sb_tensor t;
} row_fixture;

static void fixture_init(row_fixture *f, const float *vals, int n, float rest) {
    f->m = fake_model_create(1, 16, 1);
    for (int i = 0; i < NV; i++)
        f->row[i] = i < n ? vals[i] : rest;
    int64_t ne[2] = {NV, 1};
    sb_tensor_init(&f->t, "row", SB_TYPE_F32, 2, ne);
    f->t.data = f->row;
}

static void fixture_free(row_fixture *f) { fake_model_free(f->m); }

static sb_sampler *make(const sb_sampling_params *p) {
    sb_sampler *s = NULL;
    sb_error err;
    SB_CHECKF(sb_sampler_create(p, NV, 256, &s, &err) == SB_OK, "create: %s", err.msg);
    return s;
}

static int32_t draw(sb_sampler *s, row_fixture *f) {
    sb_sample_result r;
    SB_CHECK(sb_sampler_sample(s, &f->m->base, &f->t, 0, &r, NULL) == SB_OK);
    return r.token;
}

static sb_sampling_params plain(float temp) {
    sb_sampling_params p = sb_sampling_params_default();
    p.temperature = temp;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = 1234;
    return p;
}

static void test_greedy_and_ties(void) {
    float v[5] = {1.0f, 3.0f, 2.0f, 3.0f, -1.0f};
    row_fixture f;
    fixture_init(&f, v, 5, -10.0f);
    sb_sampling_params p = plain(0.0f);
    sb_sampler *s = make(&p);
    SB_CHECK_EQ_INT(draw(s, &f), 1); /* tie between 1 and 3: lowest id */
    sb_sampler_free(s);
    /* negative temperature is greedy too */
    p.temperature = -1.0f;
    s = make(&p);
    SB_CHECK_EQ_INT(draw(s, &f), 1);
    sb_sampler_free(s);
    /* top_k = 1 with a temperature: always the argmax */
    p = plain(1.5f);
    p.top_k = 1;
    s = make(&p);
    for (int i = 0; i < 50; i++)
        SB_CHECK_EQ_INT(draw(s, &f), 1);
    sb_sampler_free(s);
    /* top_p = 0 keeps one candidate */
    p = plain(1.5f);
    p.top_p = 0.0f;
    s = make(&p);
    for (int i = 0; i < 50; i++)
        SB_CHECK_EQ_INT(draw(s, &f), 1);
    sb_sampler_free(s);
    fixture_free(&f);
}

static void test_all_inf_but_one(void) {
    float v[1] = {0.0f};
    row_fixture f;
    fixture_init(&f, v, 1, -INFINITY);
    f.row[7] = -2.0f;
    f.row[0] = -INFINITY;
    for (uint64_t seed = 1; seed < 20; seed++) {
        sb_sampling_params p = plain(1.0f);
        p.seed = seed;
        sb_sampler *s = make(&p);
        SB_CHECK_EQ_INT(draw(s, &f), 7);
        sb_sampler_free(s);
    }
    /* logit bias -inf on everything but one token */
    for (int i = 0; i < NV; i++)
        f.row[i] = (float)(i % 7);
    sb_logit_bias ban[NV - 1];
    for (int i = 0, k = 0; i < NV; i++)
        if (i != 12)
            ban[k++] = (sb_logit_bias){i, -INFINITY};
    sb_sampling_params p = plain(2.0f);
    p.logit_bias = ban;
    p.n_logit_bias = NV - 1;
    sb_sampler *s = make(&p);
    for (int i = 0; i < 30; i++)
        SB_CHECK_EQ_INT(draw(s, &f), 12);
    sb_sampler_free(s);
    /* everything -inf: the first candidate (lowest id), no crash */
    for (int i = 0; i < NV; i++)
        f.row[i] = -INFINITY;
    p = plain(1.0f);
    s = make(&p);
    SB_CHECK_EQ_INT(draw(s, &f), 0);
    sb_sampler_free(s);
    fixture_free(&f);
}

/* NaN logits (a model with non-finite weights) are never picked; a row
 * that is NaN throughout cannot be sampled and says so. */
static void test_nan_logits(void) {
    float v[4] = {NAN, 1.0f, NAN, 0.5f};
    row_fixture f;
    fixture_init(&f, v, 4, NAN);
    sb_sampling_params p = plain(0.0f);
    sb_sampler *s = make(&p);
    SB_CHECK_EQ_INT(draw(s, &f), 1);
    sb_sampler_free(s);
    p = plain(1.0f);
    s = make(&p);
    for (int i = 0; i < 100; i++) {
        const int32_t t = draw(s, &f);
        SB_CHECKF(t == 1 || t == 3, "drew token %d, whose logit is NaN", t);
    }
    sb_sampler_free(s);
    for (int i = 0; i < NV; i++)
        f.row[i] = NAN;
    const float temps[2] = {0.0f, 0.8f};
    for (int k = 0; k < 2; k++) {
        p = plain(temps[k]);
        s = make(&p);
        sb_sample_result r;
        sb_error err;
        SB_CHECK(sb_sampler_sample(s, &f.m->base, &f.t, 0, &r, &err) == SB_ERR_FORMAT);
        SB_CHECKF(strstr(err.msg, "NaN") != NULL, "message: %s", err.msg);
        sb_sampler_free(s);
    }
    fixture_free(&f);
}

/* Frequencies of n draws compared with expected probabilities. */
static void check_distribution(const sb_sampling_params *p, const float *logits, int nl, const double *expect, int n,
                               double tol) {
    row_fixture f;
    fixture_init(&f, logits, nl, -INFINITY);
    sb_sampler *s = make(p);
    int counts[NV] = {0};
    for (int i = 0; i < n; i++)
        counts[draw(s, &f)]++;
    for (int i = 0; i < nl; i++) {
        double fr = (double)counts[i] / n;
        SB_CHECKF(fabs(fr - expect[i]) < tol, "token %d: frequency %.4f, expected %.4f", i, fr, expect[i]);
    }
    sb_sampler_free(s);
    fixture_free(&f);
}

static void test_distributions(void) {
    float lg[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    const int N = 20000;
    sb_sampling_params p = plain(1.0f);
    double full[4] = {0.1, 0.2, 0.3, 0.4};
    check_distribution(&p, lg, 4, full, N, 0.015);

    p = plain(1.0f);
    p.top_k = 2; /* {0.3, 0.4} renormalised */
    double k2[4] = {0, 0, 3.0 / 7, 4.0 / 7};
    check_distribution(&p, lg, 4, k2, N, 0.015);

    p = plain(1.0f);
    p.top_p = 0.65f; /* 0.4 + 0.3 >= 0.65 */
    check_distribution(&p, lg, 4, k2, N, 0.015);

    p = plain(1.0f);
    p.top_p = 0.75f; /* 0.4 + 0.3 + 0.2 */
    double p3[4] = {0, 2.0 / 9, 3.0 / 9, 4.0 / 9};
    check_distribution(&p, lg, 4, p3, N, 0.015);

    p = plain(1.0f);
    p.min_p = 0.6f; /* p >= 0.24: 0.3 and 0.4 */
    check_distribution(&p, lg, 4, k2, N, 0.015);

    p = plain(0.5f); /* p^2 renormalised: 1, 4, 9, 16 / 30 */
    double t05[4] = {1.0 / 30, 4.0 / 30, 9.0 / 30, 16.0 / 30};
    check_distribution(&p, lg, 4, t05, N, 0.015);

    /* temperature after top-p (llama.cpp order): top_p 0.65 keeps {0.3, 0.4}
     * on the untempered distribution, then T = 0.5 gives 9:16 */
    p = plain(0.5f);
    p.top_p = 0.65f;
    double tp[4] = {0, 0, 9.0 / 25, 16.0 / 25};
    check_distribution(&p, lg, 4, tp, N, 0.015);

    /* default chain (top_k 40, top_p 0.95, min_p 0.05, T 0.8) on this row:
     * top_p keeps all four (sum 1.0 reached only at the 4th), min_p keeps
     * all (0.1 >= 0.02), T 0.8 */
    p = sb_sampling_params_default();
    p.seed = 99;
    double w[4], sum = 0;
    for (int i = 0; i < 4; i++)
        sum += w[i] = pow(full[i], 1.0 / 0.8);
    for (int i = 0; i < 4; i++)
        w[i] /= sum;
    check_distribution(&p, lg, 4, w, N, 0.015);
}

static void test_candidates_direct(void) {
    sb_candidate c[4] = {{3, 2.0f}, {1, 1.0f}, {0, 0.0f}, {2, -1.0f}};
    double work[4];
    SB_CHECK_EQ_INT(sb_sample_candidates(c, 4, 0.0f, 1.0f, 0.0f, 0.99, work), 0);
    SB_CHECK_EQ_INT(sb_sample_candidates(c, 4, 1.0f, 1.0f, 0.0f, 0.0, work), 0);
    SB_CHECK_EQ_INT(sb_sample_candidates(c, 4, 1.0f, 1.0f, 0.0f, 0.999999, work), 3);
    SB_CHECK_EQ_INT(sb_sample_candidates(c, 1, 1.0f, 1.0f, 0.0f, 0.7, work), 0);
}

static void test_penalties(void) {
    float v[4] = {2.0f, 1.9f, -1.0f, -1.1f};
    row_fixture f;
    fixture_init(&f, v, 4, -10.0f);
    sb_sampling_params p = plain(0.0f);
    p.repeat_penalty = 1.1f; /* 2.0 / 1.1 = 1.82 < 1.9 */
    sb_sampler *s = make(&p);
    SB_CHECK_EQ_INT(draw(s, &f), 0);
    sb_sampler_accept(s, 0);
    SB_CHECK_EQ_INT(draw(s, &f), 1);
    sb_sampler_free(s);

    /* negative logits are multiplied: -1.0 * 1.2 = -1.2 < -1.1 */
    f.row[0] = -5.0f;
    f.row[1] = -5.0f;
    p.repeat_penalty = 1.2f;
    s = make(&p);
    SB_CHECK_EQ_INT(draw(s, &f), 2);
    sb_sampler_accept(s, 2);
    SB_CHECK_EQ_INT(draw(s, &f), 3);
    sb_sampler_free(s);

    /* frequency: 3 occurrences x 0.05 = 0.15 > the 0.1 margin; presence 0.05 alone is not */
    f.row[0] = 2.0f;
    f.row[1] = 1.9f;
    p = plain(0.0f);
    p.presence_penalty = 0.05f;
    s = make(&p);
    sb_sampler_accept(s, 0);
    SB_CHECK_EQ_INT(draw(s, &f), 0);
    sb_sampler_free(s);
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.05f;
    s = make(&p);
    sb_sampler_accept(s, 0);
    sb_sampler_accept(s, 0);
    SB_CHECK_EQ_INT(draw(s, &f), 0);
    sb_sampler_accept(s, 0);
    SB_CHECK_EQ_INT(draw(s, &f), 1);
    sb_sampler_free(s);

    /* window: only the last 2 tokens count */
    p = plain(0.0f);
    p.repeat_penalty = 1.1f;
    p.penalty_last_n = 2;
    s = make(&p);
    sb_sampler_accept(s, 0);
    SB_CHECK_EQ_INT(draw(s, &f), 1);
    sb_sampler_accept(s, 5);
    sb_sampler_accept(s, 6);
    SB_CHECK_EQ_INT(draw(s, &f), 0);
    sb_sampler_free(s);
    /* penalty_last_n 0 disables penalties */
    p.penalty_last_n = 0;
    s = make(&p);
    sb_sampler_accept(s, 0);
    SB_CHECK_EQ_INT(draw(s, &f), 0);
    sb_sampler_free(s);

    /* logit bias */
    p = plain(0.0f);
    sb_logit_bias lb = {3, 10.0f};
    p.logit_bias = &lb;
    p.n_logit_bias = 1;
    s = make(&p);
    SB_CHECK_EQ_INT(draw(s, &f), 3);
    sb_sampler_free(s);
    fixture_free(&f);
}

static void test_seeds(void) {
    float v[8] = {0, 0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f};
    row_fixture f;
    fixture_init(&f, v, 8, -INFINITY);
    sb_sampling_params p = plain(1.0f);
    p.seed = 42;
    int32_t a[64], b[64], c[64];
    sb_sampler *s1 = make(&p), *s2 = make(&p);
    p.seed = 43;
    sb_sampler *s3 = make(&p);
    int same_c = 0;
    for (int i = 0; i < 64; i++) {
        a[i] = draw(s1, &f);
        b[i] = draw(s2, &f);
        c[i] = draw(s3, &f);
        same_c += a[i] == c[i];
    }
    SB_CHECK(memcmp(a, b, sizeof a) == 0);
    SB_CHECK(same_c < 64);
    SB_CHECK(sb_sampler_seed(s1) == 42);
    /* a clone with the same seed continues like the original */
    sb_sampler *cl = NULL;
    SB_CHECK(sb_sampler_clone(s1, 42, &cl, NULL) == SB_OK);
    sb_sampler_free(s1);
    sb_sampler_free(s2);
    sb_sampler_free(s3);
    p.seed = 42;
    s1 = make(&p);
    for (int i = 0; i < 10; i++)
        SB_CHECK_EQ_INT(draw(cl, &f), draw(s1, &f));
    sb_sampler_free(cl);
    sb_sampler_free(s1);
    /* a random seed is reported and reproduces */
    p.seed = SB_SEED_RANDOM;
    s1 = make(&p);
    p.seed = sb_sampler_seed(s1);
    s2 = make(&p);
    for (int i = 0; i < 10; i++)
        SB_CHECK_EQ_INT(draw(s1, &f), draw(s2, &f));
    sb_sampler_free(s1);
    sb_sampler_free(s2);
    fixture_free(&f);
}

static void test_logprobs(void) {
    float v[4] = {logf(0.1f), logf(0.2f), logf(0.3f), logf(0.4f)};
    row_fixture f;
    fixture_init(&f, v, 4, -INFINITY);
    sb_sampling_params p = plain(0.0f);
    p.logprobs = true;
    p.top_logprobs = 3;
    p.repeat_penalty = 2.0f; /* penalties do not change the reported (raw) log-probs */
    sb_sampler *s = make(&p);
    sb_sampler_accept(s, 3);
    sb_sample_result r;
    SB_CHECK(sb_sampler_sample(s, &f.m->base, &f.t, 0, &r, NULL) == SB_OK);
    SB_CHECK_EQ_INT(r.token, 2); /* log 0.4 * 2 < log 0.3 */
    SB_CHECK(fabsf(r.logprob - logf(0.3f)) < 1e-5f);
    SB_CHECK_EQ_INT(r.n_top, 3);
    SB_CHECK_EQ_INT(r.top[0].token, 3);
    SB_CHECK_EQ_INT(r.top[1].token, 2);
    SB_CHECK_EQ_INT(r.top[2].token, 1);
    SB_CHECK(fabsf(r.top[0].logprob - logf(0.4f)) < 1e-5f);
    SB_CHECK(fabsf(r.top[2].logprob - logf(0.2f)) < 1e-5f);
    sb_sampler_free(s);
    fixture_free(&f);
}

static void test_validation(void) {
    sb_sampling_params p = plain(1.0f);
    sb_error err;
    p.top_p = NAN;
    SB_CHECK(sb_sampling_params_validate(&p, NV, &err) == SB_ERR_INVALID_ARG);
    p = plain(1.0f);
    p.repeat_penalty = 0.0f;
    SB_CHECK(sb_sampling_params_validate(&p, NV, &err) == SB_ERR_INVALID_ARG);
    p = plain(1.0f);
    sb_logit_bias lb = {NV, 1.0f};
    p.logit_bias = &lb;
    p.n_logit_bias = 1;
    SB_CHECK(sb_sampling_params_validate(&p, NV, &err) == SB_ERR_RANGE);
    SB_CHECK(strstr(err.msg, "logit_bias") != NULL);
    p = plain(1.0f);
    p.top_logprobs = SB_MAX_TOP_LOGPROBS + 1;
    SB_CHECK(sb_sampling_params_validate(&p, NV, &err) == SB_ERR_INVALID_ARG);
    p = plain(INFINITY);
    SB_CHECK(sb_sampling_params_validate(&p, NV, &err) == SB_ERR_INVALID_ARG);
}

static void test_alloc_failures(void) {
    sb_sampling_params p = plain(1.0f);
    p.repeat_penalty = 1.1f;
    sb_logit_bias lb = {1, 1.0f};
    p.logit_bias = &lb;
    p.n_logit_bias = 1;
    for (long n = 1; n < 12; n++) {
        sb_sampler *s = NULL;
        sb_alloc_fail_nth(n);
        sb_status st = sb_sampler_create(&p, NV, 64, &s, NULL);
        sb_alloc_fail_nth(0);
        SB_CHECK(st == SB_OK || st == SB_ERR_NOMEM);
        sb_sampler_free(s);
    }
}

int main(void) {
    SB_RUN(test_greedy_and_ties);
    SB_RUN(test_all_inf_but_one);
    SB_RUN(test_nan_logits);
    SB_RUN(test_distributions);
    SB_RUN(test_candidates_direct);
    SB_RUN(test_penalties);
    SB_RUN(test_seeds);
    SB_RUN(test_logprobs);
    SB_RUN(test_validation);
    SB_RUN(test_alloc_failures);
    return sb_test_finish();
}
