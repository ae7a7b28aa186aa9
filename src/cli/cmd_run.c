/*
 * cmd_run.c - `solebox run`: generate a continuation of a prompt with one
 * model, streamed to stdout; speed figures go to stderr.
 *
 * stdout gets exactly the generated text (not the prompt): the pieces of
 * the generated tokens, complete UTF-8, special tokens not rendered, the
 * leading space of the first piece kept. So for an SPM model,
 * detokenize(prompt + generated) == detokenize(prompt) + stdout, which is
 * what the stories260K golden compares.
 *
 * It goes through the same engine and scheduler as `solebox serve`, with
 * one request and parallel 1. Ctrl-C cancels the generation and still
 * prints the figures.
 */
#include "cli_args.h"
#include "commands.h"

#include "sb_alloc.h"
#include "sb_engine.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig) {
    (void)sig;
    g_interrupted = 1;
}

static void usage(FILE *out) {
    fprintf(out,
            "usage: solebox run -m MODEL -p PROMPT [options]\n"
            "\n"
            "Generates a continuation of PROMPT and streams it to stdout; the speed goes to stderr.\n"
            "\n"
            "  -m, --model FILE        GGUF model\n"
            "  -p, --prompt TEXT       prompt (\"\" = just the BOS token, if the model adds one)\n"
            "  -n, --n-predict N       tokens to generate (default -1: until end of text or a full context)\n"
            "      --temp T            temperature (default 0.8; 0 = greedy)\n"
            "      --top-k K           top-k (default 40; 0 = off)\n"
            "      --top-p P           top-p (default 0.95; 1 = off)\n"
            "      --min-p P           min-p (default 0.05; 0 = off)\n"
            "      --repeat-penalty R  repetition penalty over the last 64 tokens (default 1.0 = off)\n"
            "      --seed S            random seed (default: random)\n"
            "  -t, --threads N         threads (default: all CPUs)\n"
            "  -c, --ctx N             context size (default: min(training context, 4096))\n"
            "      --chat              wrap the prompt as a user message in the model's chat template\n"
            "      --system TEXT       system message (with --chat)\n"
            "      --kv-type TYPE      KV cache type: f16 (default) or f32\n"
            "      --ignore-eos        do not stop at end-of-generation tokens\n");
}

/* Parses a whole decimal int; false on junk or overflow. */
typedef struct run_args {
    const char *model, *prompt, *system;
    int n_predict, threads, ctx;
    bool chat, ignore_eos;
    uint32_t kv_type;
    sb_sampling_params sp;
} run_args;

/* Returns 0 on success, else the exit status (usage error 2). */
static int parse_args(int argc, char **argv, run_args *a) {
    memset(a, 0, sizeof *a);
    a->n_predict = -1;
    a->kv_type = SB_TYPE_F16;
    a->sp = sb_sampling_params_default();
    a->sp.repeat_penalty = 1.0f;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return -1;
        }
        if (!strcmp(o, "--chat")) {
            a->chat = true;
            continue;
        }
        if (!strcmp(o, "--ignore-eos")) {
            a->ignore_eos = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "solebox run: option '%s' needs a value (or is unknown)\n", o);
            return 2;
        }
        const char *v = argv[++i];
        bool ok = true;
        if (!strcmp(o, "-m") || !strcmp(o, "--model"))
            a->model = v;
        else if (!strcmp(o, "-p") || !strcmp(o, "--prompt"))
            a->prompt = v;
        else if (!strcmp(o, "--system"))
            a->system = v;
        else if (!strcmp(o, "-n") || !strcmp(o, "--n-predict"))
            ok = sb_cli_int(v, INT_MIN, INT_MAX, &a->n_predict);
        else if (!strcmp(o, "-t") || !strcmp(o, "--threads"))
            ok = sb_cli_int(v, INT_MIN, INT_MAX, &a->threads) && a->threads > 0;
        else if (!strcmp(o, "-c") || !strcmp(o, "--ctx"))
            ok = sb_cli_int(v, INT_MIN, INT_MAX, &a->ctx) && a->ctx > 0;
        else if (!strcmp(o, "--temp"))
            ok = sb_cli_float(v, &a->sp.temperature);
        else if (!strcmp(o, "--top-k"))
            ok = sb_cli_int(v, INT_MIN, INT_MAX, &a->sp.top_k);
        else if (!strcmp(o, "--top-p"))
            ok = sb_cli_float(v, &a->sp.top_p) && a->sp.top_p >= 0.0f && a->sp.top_p <= 1.0f;
        else if (!strcmp(o, "--min-p"))
            ok = sb_cli_float(v, &a->sp.min_p) && a->sp.min_p >= 0.0f && a->sp.min_p <= 1.0f;
        else if (!strcmp(o, "--repeat-penalty"))
            ok = sb_cli_float(v, &a->sp.repeat_penalty) && a->sp.repeat_penalty > 0.0f;
        else if (!strcmp(o, "--seed"))
            ok = sb_cli_u64(v, &a->sp.seed);
        else if (!strcmp(o, "--kv-type")) {
            if (!strcmp(v, "f16"))
                a->kv_type = SB_TYPE_F16;
            else if (!strcmp(v, "f32"))
                a->kv_type = SB_TYPE_F32;
            else
                ok = false;
        } else {
            fprintf(stderr, "solebox run: unknown option '%s'\n", o);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "solebox run: invalid value '%s' for %s\n", v, o);
            return 2;
        }
    }
    if (!a->model || !a->prompt) {
        fprintf(stderr, "solebox run: -m MODEL and -p PROMPT are required\n\n");
        usage(stderr);
        return 2;
    }
    if (a->n_predict == 0 || a->n_predict < -1) {
        fprintf(stderr, "solebox run: -n %d: the number of tokens to generate must be positive (or -1)\n",
                a->n_predict);
        return 1;
    }
    return 0;
}

/* The prompt's token ids: plain text with BOS as the model says, or a
 * user message rendered by the chat template. */
static sb_status prompt_tokens(const sb_engine *e, const run_args *a, int32_t **ids, int *n, sb_error *err) {
    if (!a->chat)
        return sb_engine_tokenize(e, a->prompt, strlen(a->prompt), true, false, ids, n, err);
    if (sb_engine_template_is_default(e))
        fprintf(stderr, "note: %s\n", sb_engine_template_note(e));
    sb_tmpl_value *msgs = sb_tmpl_list();
    sb_status st = msgs ? SB_OK : SB_ERR_NOMEM;
    const char *roles[2] = {"system", "user"};
    const char *texts[2] = {a->system, a->prompt};
    for (int i = 0; i < 2 && st == SB_OK; i++) {
        if (!texts[i])
            continue;
        sb_tmpl_value *m = sb_tmpl_dict();
        if (!m) {
            st = SB_ERR_NOMEM;
            break;
        }
        st = sb_tmpl_dict_set(m, "role", 4, sb_tmpl_string(roles[i], strlen(roles[i])));
        if (st == SB_OK)
            st = sb_tmpl_dict_set(m, "content", 7, sb_tmpl_string(texts[i], strlen(texts[i])));
        if (st == SB_OK)
            st = sb_tmpl_list_append(msgs, m);
        else
            sb_tmpl_value_free(m);
    }
    if (st != SB_OK) {
        sb_tmpl_value_free(msgs);
        return sb_error_set(err, st, "out of memory");
    }
    st = sb_engine_chat_tokens(e, msgs, true, ids, n, err);
    sb_tmpl_value_free(msgs);
    return st;
}

static void print_speed(const sb_gen_stats *s, const char *finish) {
    int computed = s->n_prompt - s->n_cached;
    fprintf(stderr, "\n\nprompt:    %d tokens in %.1f ms (%.1f tok/s)\n", s->n_prompt, s->prompt_ms,
            s->prompt_ms > 0 ? computed * 1000.0 / s->prompt_ms : 0.0);
    if (s->n_generated > 1)
        fprintf(stderr, "generated: %d tokens, %d decode steps in %.1f ms (%.1f tok/s)\n", s->n_generated,
                s->n_generated - 1, s->gen_ms, s->gen_ms > 0 ? (s->n_generated - 1) * 1000.0 / s->gen_ms : 0.0);
    else
        fprintf(stderr, "generated: %d tokens\n", s->n_generated);
    fprintf(stderr, "finish:    %s, time to first token %.1f ms\n", finish, s->ttft_ms);
}

int sb_cmd_run(int argc, char **argv) {
    run_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    sb_error err;
    sb_error_clear(&err);
    sb_engine_opts eo = sb_engine_opts_default();
    eo.model_path = a.model;
    eo.n_threads = a.threads;
    eo.n_ctx = a.ctx;
    eo.kv_type = a.kv_type;
    eo.cache_pages = 0;
    sb_engine *e = NULL;
    if (sb_engine_create(&eo, &e, &err) != SB_OK) {
        fprintf(stderr, "solebox run: %s\n", err.msg);
        return 1;
    }
    int32_t *ids = NULL;
    int n_ids = 0;
    if (prompt_tokens(e, &a, &ids, &n_ids, &err) != SB_OK) {
        fprintf(stderr, "solebox run: prompt: %s\n", err.msg);
        sb_engine_free(e);
        return 1;
    }
    if (n_ids == 0) {
        fprintf(stderr, "solebox run: the prompt is empty and this model adds no BOS token\n");
        sb_engine_free(e);
        return 1;
    }
    sb_gen_params gp = sb_gen_params_default();
    gp.prompt = ids;
    gp.n_prompt = n_ids;
    gp.max_tokens = a.n_predict;
    gp.sampling = a.sp;
    gp.ignore_eos = a.ignore_eos;
    sb_request *req = NULL;
    sb_status st = sb_scheduler_submit(sb_engine_scheduler(e), &gp, &req, &err);
    sb_free(ids);
    if (st != SB_OK) {
        fprintf(stderr, "solebox run: %s\n", err.msg);
        sb_engine_free(e);
        return 1;
    }
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, &old);
    g_interrupted = 0;
    rc = 0;
    sb_event ev;
    int got;
    bool cancelled = false;
    while ((got = sb_request_next(req, 100, &ev)) != -1) {
        if (g_interrupted && !cancelled) {
            sb_request_cancel(req);
            cancelled = true;
        }
        if (got == 0)
            continue;
        if (ev.kind == SB_EVENT_TEXT && ev.text_len > 0) {
            fwrite(ev.text, 1, ev.text_len, stdout);
            fflush(stdout);
        } else if (ev.kind == SB_EVENT_DONE) {
            if (ev.finish == SB_FINISH_ERROR) {
                fprintf(stderr, "\nsolebox run: generation failed: %s\n", ev.error.msg);
                rc = 1;
            }
            if (a.sp.temperature > 0.0f)
                fprintf(stderr, "\n\nseed:      %llu", (unsigned long long)ev.stats.seed);
            print_speed(&ev.stats, sb_finish_reason_name(ev.finish));
        }
        sb_event_clear(&ev);
    }
    sigaction(SIGINT, &old, NULL);
    sb_request_free(req);
    sb_engine_free(e);
    return rc;
}
