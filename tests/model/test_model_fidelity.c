/*
 * test_model_fidelity.c - Solebox against llama.cpp on the logits goldens
 * (shared/golden/logits, README §5/§6): for every model there, prompts A, B,
 * C go through the model in one batch with every position an output; the
 * stored rows are compared (max |dlogit|, mean KL, top-1 agreement) with the
 * "emulating" tolerances of §6, since the CPU kernels round activations the
 * way ggml does. Then 32 tokens are decoded greedily, one forward each, and
 * the ids are compared up to and including the first step whose golden
 * margin is below twice the logit tolerance.
 */
#include "model_test_util.h"
#include "sb_cpu_backend.h"
#include "sb_test.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tol {
    double max, kl, top1;
} tol;

/* README §6, "emulating" column: by weight type of the file. */
static tol tolerance_for(const char *name) {
    static const struct {
        const char *name;
        tol t;
    } table[] = {
        {"stories260K", {1e-3, 1e-8, 1.0}},         {"llama-spm512-f32", {1e-3, 1e-8, 1.0}},
        {"llama-2-tiny-random", {1e-3, 1e-8, 1.0}}, {"llama3-rope-f16", {0.05, 1e-4, 0.98}},
        {"qwen3-f16", {0.05, 1e-4, 0.98}},          {"qwen2-bf16", {0.15, 1e-3, 1.0}},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].t;
    return (tol){0.75, 2e-3, 0.98}; /* Q8_0, Q4_0, Q4_K_M, Q5_K_M */
}

static int32_t *json_ints(json_t *arr, int *n) {
    *n = (int)json_array_size(arr);
    int32_t *v = calloc((size_t)*n + 1, sizeof *v);
    for (int i = 0; i < *n; i++)
        v[i] = (int32_t)json_integer_value(json_array_get(arr, (size_t)i));
    return v;
}

static float *read_f32(const char *path, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    float *v = malloc(n * sizeof *v);
    size_t got = fread(v, sizeof *v, n, f);
    fclose(f);
    if (got != n) {
        free(v);
        return NULL;
    }
    return v;
}

/* One model: all prompts, logits and greedy ids. */
static void check_model(const char *dir, const char *manifest) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, manifest);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    SB_CHECKF(root != NULL, "%s: %s", path, jerr.text);
    if (!root)
        return;
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(manifest) - 5), manifest);
    const tol t = tolerance_for(name);
    char model_path[1024];
    snprintf(model_path, sizeof model_path, "%s/../../%s", dir, json_string_value(json_object_get(root, "model")));
    const int V = (int)json_integer_value(json_object_get(root, "n_vocab"));

    sb_backend *be = NULL;
    sb_model *m = NULL;
    sb_error err;
    sb_cpu_backend_opts bo = {.n_threads = 1, .repack = true}; /* as the goldens; threads: test_model_batch */
    SB_CHECK(sb_cpu_backend_create(&bo, &be, &err) == SB_OK);
    sb_status st = sb_model_load(model_path, be, NULL, &m, &err);
    SB_CHECKF(st == SB_OK, "%s: %s", name, err.msg);
    if (st != SB_OK) {
        sb_backend_destroy(be);
        json_decref(root);
        return;
    }
    SB_CHECK_EQ_INT(sb_model_get_hparams(m)->n_vocab, V);

    double worst = 0, kl_sum = 0;
    int rows = 0, agree = 0;
    char greedy_report[256] = "";
    json_t *prompts = json_object_get(root, "prompts");
    for (size_t pi = 0; pi < json_array_size(prompts); pi++) {
        json_t *p = json_array_get(prompts, pi);
        const char *pname = json_string_value(json_object_get(p, "name"));
        int n = 0, n_greedy = 0, n_pos = 0;
        int32_t *toks = json_ints(json_object_get(p, "tokens"), &n);
        int32_t *greedy = json_ints(json_object_get(p, "greedy_ids"), &n_greedy);
        int32_t *positions = json_ints(json_object_get(p, "logits_positions"), &n_pos);
        json_t *margins = json_object_get(p, "greedy_margin");

        mt_runner r;
        if (!mt_runner_init(&r, m, 1, n + n_greedy, n, SB_TYPE_F32))
            break;
        float *out = calloc((size_t)n * (size_t)V, sizeof *out);
        float *last = calloc((size_t)V, sizeof *last);
        bool ok = mt_forward(&r, 0, toks, n, 0, out, NULL);

        /* stored logits rows */
        const char *lf = json_string_value(json_object_get(p, "logits_file"));
        if (ok && lf && n_pos > 0) {
            char lpath[1024];
            snprintf(lpath, sizeof lpath, "%s/%s", dir, lf);
            float *ref = read_f32(lpath, (size_t)n_pos * (size_t)V);
            SB_CHECKF(ref != NULL, "cannot read %s", lpath);
            for (int i = 0; ref && i < n_pos; i++) {
                const float *a = ref + (size_t)i * V, *b = out + (size_t)positions[i] * V;
                double d = mt_max_abs_diff(a, b, (size_t)V);
                worst = d > worst ? d : worst;
                kl_sum += mt_kl(a, b, V);
                agree += mt_argmax(a, V) == mt_argmax(b, V);
                rows++;
            }
            free(ref);
        }

        /* greedy: compare up to and including the first step with a thin margin */
        int check_to = n_greedy - 1;
        for (int k = 0; k < n_greedy; k++)
            if (json_number_value(json_array_get(margins, (size_t)k)) < 2.0 * t.max) {
                check_to = k;
                break;
            }
        int matched = 0;
        if (ok) {
            memcpy(last, out + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
            for (int k = 0; k < n_greedy && ok; k++) {
                int32_t id = mt_argmax(last, V);
                if (id != greedy[k])
                    break;
                matched++;
                if (k + 1 < n_greedy)
                    ok = mt_forward(&r, 0, &id, 1, n + k, NULL, last);
            }
        }
        SB_CHECKF(matched > check_to, "%s prompt %s: greedy ids match for %d steps, %d required", name, pname, matched,
                  check_to + 1);
        size_t used = strlen(greedy_report);
        snprintf(greedy_report + used, sizeof greedy_report - used, "%s%s %d/%d (need %d)", used ? ", " : "", pname,
                 matched, n_greedy, check_to + 1);
        free(out);
        free(last);
        free(toks);
        free(greedy);
        free(positions);
        mt_runner_free(&r);
    }
    if (rows > 0) {
        const double kl = kl_sum / rows, top1 = (double)agree / rows;
        printf("%-22s max %.3g  KL %.3g  top1 %.3f (%d rows)  greedy %s\n", name, worst, kl, top1, rows, greedy_report);
        SB_CHECKF(worst <= t.max, "%s: max |dlogit| %.4g > %.4g", name, worst, t.max);
        SB_CHECKF(kl <= t.kl, "%s: mean KL %.4g > %.4g", name, kl, t.kl);
        SB_CHECKF(top1 >= t.top1, "%s: top-1 agreement %.3f < %.3f", name, top1, t.top1);
    } else {
        printf("%-22s (no stored rows)  greedy %s\n", name, greedy_report);
    }
    sb_model_free(m);
    sb_backend_destroy(be);
    json_decref(root);
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static int is_manifest(const struct dirent *d) {
    size_t n = strlen(d->d_name);
    return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static const char *g_dir;

static void test_all_goldens(void) {
    struct dirent **list;
    int n = scandir(g_dir, &list, is_manifest, by_name);
    SB_CHECK(n > 0);
    for (int i = 0; i < n; i++) {
        check_model(g_dir, list[i]->d_name);
        free(list[i]);
    }
    free(list);
}

int main(void) {
    g_dir = sb_test_require_shared("golden/logits");
    static char dir[1024];
    snprintf(dir, sizeof dir, "%s", g_dir);
    g_dir = dir;
    SB_RUN(test_all_goldens);
    return sb_test_finish();
}
