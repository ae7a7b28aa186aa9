/*
 * cmd_eval.c - `solebox eval`: run token ids through a model and report the
 * numbers, for comparison with the reference implementation.
 *
 *   solebox eval -m MODEL --tokens "ID ID ..." [--logits-out FILE] [--greedy N]
 *                [-t THREADS] [--ctx N] [--kv-type f32|f16] [--timing]
 *
 * The ids go through the model in ONE batch with every position as an
 * output row; FILE receives little-endian float32 logits [n_tokens][n_vocab].
 * Then N tokens are decoded greedily (argmax, ties -> lowest id), one forward
 * each, and their ids are printed on one line. MODEL is a GGUF path or
 * "synthetic:<shape>:<type>" (sb_model_load_synthetic). The KV cache is F32
 * by default (the goldens were made with an F32 cache) and holds exactly the
 * positions this run needs, in one sequence with pages 0..k-1.
 */
#include "cli_args.h"
#include "commands.h"

#include "sb_alloc.h"
#include "sb_cpu_backend.h"
#include "sb_model.h"
#include "sb_time.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_PAGE_SIZE 32

typedef struct eval_args {
    const char *model, *tokens, *logits_out;
    long greedy, threads, ctx;
    uint32_t kv_type;
    bool timing;
} eval_args;

static void usage(FILE *out) {
    fprintf(out, "usage: solebox eval -m MODEL --tokens \"ID ID ...\" [--logits-out FILE] [--greedy N]\n"
                 "                    [-t THREADS] [--ctx N] [--kv-type f32|f16] [--timing]\n"
                 "  MODEL is a GGUF file or synthetic:<shape>:<type> (e.g. synthetic:tinyllama-1.1b:q8_0)\n");
}

/* Parses a whole decimal integer in [lo, hi]. */
/* Returns 0 on success, 2 on a usage error (message printed). */
static int parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    a->kv_type = SB_TYPE_F32;
    a->ctx = -1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = strcmp(o, "-m") == 0 || strcmp(o, "--model") == 0 || strcmp(o, "--tokens") == 0 ||
                     strcmp(o, "--logits-out") == 0 || strcmp(o, "--greedy") == 0 || strcmp(o, "-t") == 0 ||
                     strcmp(o, "--threads") == 0 || strcmp(o, "--ctx") == 0 || strcmp(o, "--kv-type") == 0;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            usage(stdout);
            return 3;
        } else if (strcmp(o, "--timing") == 0) {
            a->timing = true;
            continue;
        } else if (!takes) {
            fprintf(stderr, "solebox eval: unknown option '%s'\n", o);
            usage(stderr);
            return 2;
        }
        if (!v) {
            fprintf(stderr, "solebox eval: option '%s' needs a value\n", o);
            return 2;
        }
        i++;
        if (strcmp(o, "-m") == 0 || strcmp(o, "--model") == 0)
            a->model = v;
        else if (strcmp(o, "--tokens") == 0)
            a->tokens = v;
        else if (strcmp(o, "--logits-out") == 0)
            a->logits_out = v;
        else if (strcmp(o, "--greedy") == 0 && !sb_cli_long(v, 0, 1 << 20, &a->greedy))
            return fprintf(stderr, "solebox eval: --greedy '%s' is not a count (0..1048576)\n", v), 2;
        else if ((strcmp(o, "-t") == 0 || strcmp(o, "--threads") == 0) && !sb_cli_long(v, 1, 1024, &a->threads))
            return fprintf(stderr, "solebox eval: -t '%s' is not a thread count (1..1024)\n", v), 2;
        else if (strcmp(o, "--ctx") == 0 && !sb_cli_long(v, 1, 1 << 24, &a->ctx))
            return fprintf(stderr, "solebox eval: --ctx '%s' is not a context size\n", v), 2;
        else if (strcmp(o, "--kv-type") == 0) {
            if (strcmp(v, "f32") == 0)
                a->kv_type = SB_TYPE_F32;
            else if (strcmp(v, "f16") == 0)
                a->kv_type = SB_TYPE_F16;
            else
                return fprintf(stderr, "solebox eval: --kv-type '%s' is not f32 or f16\n", v), 2;
        }
    }
    if (!a->model || !a->tokens) {
        fprintf(stderr, "solebox eval: -m MODEL and --tokens are required\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* Parses "ID ID ..." (spaces, tabs, newlines or commas between ids) into a
 * new array the caller frees with sb_free. */
static bool parse_tokens(const char *s, int32_t **ids, int *n, char *msg, size_t cap) {
    size_t len = strlen(s), count = 0;
    int32_t *v = sb_calloc(len / 2 + 1, sizeof *v);
    if (!v)
        return snprintf(msg, cap, "out of memory"), false;
    const char *p = s;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ',')
            p++;
        if (!*p)
            break;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < INT32_MIN || x > INT32_MAX ||
            (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r' && *end != ',')) {
            snprintf(msg, cap, "--tokens: '%.20s' is not a token id", p);
            sb_free(v);
            return false;
        }
        v[count++] = (int32_t)x;
        p = end;
    }
    if (count == 0) {
        snprintf(msg, cap, "--tokens: the list of token ids is empty");
        sb_free(v);
        return false;
    }
    *ids = v;
    *n = (int)count;
    return true;
}

/* Writes rows of float32 little-endian. */
static bool write_logits(const char *path, const float *x, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = true;
    uint8_t buf[4096];
    size_t used = 0;
    for (size_t i = 0; i < n && ok; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        buf[used++] = (uint8_t)u;
        buf[used++] = (uint8_t)(u >> 8);
        buf[used++] = (uint8_t)(u >> 16);
        buf[used++] = (uint8_t)(u >> 24);
        if (used == sizeof buf) {
            ok = fwrite(buf, 1, used, f) == used;
            used = 0;
        }
    }
    if (ok && used)
        ok = fwrite(buf, 1, used, f) == used;
    if (fclose(f) != 0)
        ok = false;
    return ok;
}

typedef struct eval_run {
    sb_backend *backend;
    sb_model *model;
    int32_t *ids, *pos, *seq, *pages, *rows;
    float *logits;
} eval_run;

static void run_free(eval_run *r) {
    sb_model_free(r->model);
    sb_backend_destroy(r->backend);
    sb_free(r->ids);
    sb_free(r->pos);
    sb_free(r->seq);
    sb_free(r->pages);
    sb_free(r->rows);
    sb_free(r->logits);
}

static int fail(eval_run *r, const char *msg) {
    fprintf(stderr, "solebox eval: %s\n", msg);
    run_free(r);
    return 1;
}

int sb_cmd_eval(int argc, char **argv) {
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc == 3 ? 0 : rc;

    eval_run r;
    memset(&r, 0, sizeof r);
    char msg[600];
    sb_error err;
    sb_error_clear(&err);
    int n = 0;
    if (!parse_tokens(a.tokens, &r.ids, &n, msg, sizeof msg))
        return fail(&r, msg);

    sb_cpu_backend_opts bo = sb_cpu_backend_default_opts();
    bo.n_threads = (int)a.threads;
    if (sb_cpu_backend_create(&bo, &r.backend, &err) != SB_OK)
        return fail(&r, err.msg);
    double t0 = sb_now_seconds();
    sb_status st = strncmp(a.model, "synthetic:", 10) == 0
                       ? sb_model_load_synthetic(a.model + 10, r.backend, NULL, &r.model, &err)
                       : sb_model_load(a.model, r.backend, NULL, &r.model, &err);
    if (st != SB_OK)
        return fail(&r, err.msg);
    const double t_load = sb_now_seconds() - t0;
    const sb_model_hparams *hp = sb_model_get_hparams(r.model);

    for (int i = 0; i < n; i++)
        if (r.ids[i] < 0 || r.ids[i] >= hp->n_vocab) {
            snprintf(msg, sizeof msg, "token id %d (position %d) is out of range: the vocabulary has %d tokens",
                     r.ids[i], i, hp->n_vocab);
            return fail(&r, msg);
        }
    long ctx = a.ctx > 0 && a.ctx < hp->n_ctx_train ? a.ctx : hp->n_ctx_train;
    long needed = (long)n + (a.greedy > 0 ? a.greedy - 1 : 0);
    if (needed > ctx) {
        snprintf(msg, sizeof msg, "%d tokens%s do not fit the context of %ld positions", n,
                 a.greedy > 1 ? " plus the greedy tokens" : "", ctx);
        return fail(&r, msg);
    }
    const int n_pages = (int)((needed + EVAL_PAGE_SIZE - 1) / EVAL_PAGE_SIZE);
    sb_kv_config kv = sb_model_kv_config(r.model, EVAL_PAGE_SIZE, n_pages, a.kv_type);
    const size_t V = (size_t)hp->n_vocab;
    r.pos = sb_calloc((size_t)n, sizeof *r.pos);
    r.seq = sb_calloc((size_t)n, sizeof *r.seq);
    r.rows = sb_calloc((size_t)n, sizeof *r.rows);
    r.pages = sb_calloc((size_t)n_pages, sizeof *r.pages);
    r.logits = sb_calloc((size_t)n * V, sizeof *r.logits);
    if (!r.pos || !r.seq || !r.rows || !r.pages || !r.logits)
        return fail(&r, "out of memory");
    if (sb_backend_kv_init(r.backend, &kv, &err) != SB_OK || sb_model_reserve(r.model, n, n, &err) != SB_OK)
        return fail(&r, err.msg);
    for (int i = 0; i < n; i++) {
        r.pos[i] = i;
        r.rows[i] = i;
    }
    for (int p = 0; p < n_pages; p++)
        r.pages[p] = p;
    const int32_t *tables[1] = {r.pages};
    sb_batch b = {.n_tokens = n,
                  .tokens = r.ids,
                  .pos = r.pos,
                  .seq = r.seq,
                  .n_seqs = 1,
                  .page_tables = tables,
                  .n_pages = &n_pages,
                  .n_outputs = n,
                  .output_rows = r.rows};

    /* the prompt: one batch, every position an output row */
    t0 = sb_now_seconds();
    if (sb_model_forward(r.model, &b, &err) != SB_OK)
        return fail(&r, err.msg);
    const sb_tensor *lg = sb_model_logits(r.model);
    if (sb_backend_download(r.backend, lg, r.logits, 0, (size_t)n * V * sizeof(float)) != SB_OK)
        return fail(&r, "cannot read the logits back");
    const double t_prompt = sb_now_seconds() - t0;
    if (a.logits_out && !write_logits(a.logits_out, r.logits, (size_t)n * V)) {
        snprintf(msg, sizeof msg, "cannot write '%s': %s", a.logits_out, strerror(errno));
        return fail(&r, msg);
    }

    /* greedy decoding, one forward per token */
    t0 = sb_now_seconds();
    int row = n - 1, p = n;
    for (long k = 0; k < a.greedy; k++) {
        sb_candidate best;
        int got = 0;
        if (sb_backend_topk(r.backend, lg, row, NULL, 1, &best, &got) != SB_OK || got != 1)
            return fail(&r, "cannot pick the greedy token");
        printf(k ? " %d" : "%d", best.id);
        if (k + 1 == a.greedy)
            break;
        int32_t tok = best.id, ps = p, zero = 0;
        sb_batch d = {.n_tokens = 1,
                      .tokens = &tok,
                      .pos = &ps,
                      .seq = &zero,
                      .n_seqs = 1,
                      .page_tables = tables,
                      .n_pages = &n_pages,
                      .n_outputs = 1,
                      .output_rows = &zero};
        if (sb_model_forward(r.model, &d, &err) != SB_OK)
            return fail(&r, err.msg);
        row = 0;
        p++;
    }
    if (a.greedy > 0)
        printf("\n");
    const double t_greedy = sb_now_seconds() - t0;
    if (a.timing) {
        fprintf(stderr, "eval: %s, %d threads: load %.2f s, %d prompt tokens in %.3f s (%.1f tok/s)", hp->name,
                sb_cpu_backend_n_threads(r.backend), t_load, n, t_prompt, n / t_prompt);
        if (a.greedy > 1)
            fprintf(stderr, ", %ld decode steps in %.3f s (%.1f tok/s)", a.greedy - 1, t_greedy,
                    (a.greedy - 1) / t_greedy);
        fprintf(stderr, "\n");
    }
    run_free(&r);
    return fflush(stdout) == 0 ? 0 : 1;
}
