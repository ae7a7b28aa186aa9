/*
 * test_engine_golden.c - the engine on a real model (stories260K): the
 * greedy 200-token goldens of golden/README.md §5.4 through the scheduler,
 * alone and as four concurrent requests in one batch, and prefix reuse of
 * a prompt built from the golden continuation.
 *
 * What is compared is what llama.cpp compares: the golden text is
 * llama_detokenize(prompt + generated, remove_special), so it must equal
 * detokenize(prompt) followed by the streamed continuation.
 */
#include "sb_alloc.h"
#include "sb_engine.h"
#include "sb_file.h"
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct golden {
    int32_t prompt[16];
    int n_prompt;
    int32_t ids[256];
    int n_ids;
    char *text; /* the golden file */
    size_t text_len;
} golden;

static golden G[2]; /* 0: "Once upon a time", 1: BOS only */

static void read_ids(const sb_tmpl_value *g, const char *key, int32_t *out, int *n, int cap) {
    sb_tmpl_value *arr = sb_tmpl_dict_get(g, key);
    *n = 0;
    for (size_t i = 0; arr && i < sb_tmpl_value_len(arr) && *n < cap; i++) {
        sb_tmpl_value *v = sb_tmpl_list_get(arr, i);
        char *json = NULL;
        size_t len;
        if (v && sb_tmpl_value_to_json(v, &json, &len, NULL) == SB_OK)
            out[(*n)++] = (int32_t)atoi(json);
        sb_free(json);
        sb_tmpl_value_free(v);
    }
    sb_tmpl_value_free(arr);
}

static void load_goldens(void) {
    const char *path = sb_test_require_shared("golden/text/stories260K.greedy.json");
    char *json;
    size_t len;
    SB_CHECK(sb_file_read_all(path, 1 << 20, &json, &len, NULL) == SB_OK);
    sb_tmpl_value *root = NULL;
    SB_CHECK(sb_tmpl_value_from_json(json, len, &root, NULL) == SB_OK);
    sb_free(json);
    sb_tmpl_value *list = sb_tmpl_dict_get(root, "goldens");
    const char *files[2] = {"golden/text/stories260K.once-upon-a-time.n200.txt",
                            "golden/text/stories260K.bos-only.n200.txt"};
    for (int k = 0; k < 2; k++) {
        sb_tmpl_value *g = sb_tmpl_list_get(list, (size_t)k);
        read_ids(g, "prompt_ids", G[k].prompt, &G[k].n_prompt, 16);
        read_ids(g, "greedy_ids", G[k].ids, &G[k].n_ids, 256);
        sb_tmpl_value_free(g);
        SB_CHECK(sb_file_read_all(sb_test_require_shared(files[k]), 1 << 20, &G[k].text, &G[k].text_len, NULL) ==
                 SB_OK);
    }
    sb_tmpl_value_free(list);
    sb_tmpl_value_free(root);
    SB_CHECK_EQ_INT(G[0].n_prompt, 5);
    SB_CHECK_EQ_INT(G[1].n_prompt, 1);
    SB_CHECK_EQ_INT(G[0].n_ids, 200);
}

static sb_engine *open_engine(int parallel, uint32_t kv_type, int threads) {
    sb_engine_opts o = sb_engine_opts_default();
    o.model_path = sb_test_require_shared("models/stories260K.gguf");
    o.parallel = parallel;
    o.kv_type = kv_type;
    o.n_threads = threads;
    o.n_ctx = 256;
    sb_engine *e = NULL;
    sb_error err;
    SB_CHECKF(sb_engine_create(&o, &e, &err) == SB_OK, "engine: %s", err.msg);
    return e;
}

typedef struct out {
    sb_buf text;
    int32_t ids[512];
    int n_ids;
    sb_finish_reason finish;
    sb_gen_stats stats;
} out;

static sb_request *submit(sb_engine *e, const int32_t *prompt, int n, int max_tokens) {
    sb_gen_params p = sb_gen_params_default();
    p.prompt = prompt;
    p.n_prompt = n;
    p.max_tokens = max_tokens;
    p.sampling.temperature = 0.0f;
    p.ignore_eos = true; /* the golden loop did not stop at EOS */
    sb_request *r = NULL;
    sb_error err;
    SB_CHECKF(sb_scheduler_submit(sb_engine_scheduler(e), &p, &r, &err) == SB_OK, "submit: %s", err.msg);
    return r;
}

static void drain(sb_request *r, out *o) {
    memset(o, 0, sizeof *o);
    sb_buf_init(&o->text);
    sb_event ev;
    while (sb_request_next(r, 30000, &ev) == 1) {
        if (ev.kind == SB_EVENT_TEXT) {
            sb_buf_append(&o->text, ev.text, ev.text_len);
            for (int i = 0; i < ev.n_tokens && o->n_ids < 512; i++)
                o->ids[o->n_ids++] = ev.tokens[i];
        } else {
            o->finish = ev.finish;
            o->stats = ev.stats;
        }
        sb_event_clear(&ev);
    }
    sb_request_free(r);
}

/* golden text == detokenize(prompt) + streamed continuation */
static void check_golden(const sb_engine *e, int k, const out *o) {
    sb_buf pre;
    sb_buf_init(&pre);
    SB_CHECK(sb_detokenize(sb_engine_tokenizer(e), G[k].prompt, (size_t)G[k].n_prompt, true, false, &pre, NULL) ==
             SB_OK);
    SB_CHECK(pre.len + o->text.len == G[k].text_len);
    SB_CHECKF(G[k].text_len >= pre.len && memcmp(G[k].text, pre.data ? pre.data : "", pre.len) == 0 &&
                  o->text.len == G[k].text_len - pre.len &&
                  memcmp(G[k].text + pre.len, o->text.data, o->text.len) == 0,
              "golden %d: text differs", k);
    SB_CHECK_EQ_INT(o->n_ids, G[k].n_ids);
    int first_diff = -1;
    for (int i = 0; i < o->n_ids && i < G[k].n_ids; i++)
        if (o->ids[i] != G[k].ids[i]) {
            first_diff = i;
            break;
        }
    SB_CHECKF(first_diff < 0, "golden %d: first different id at %d", k, first_diff);
    sb_buf_free(&pre);
}

static void test_goldens_alone(void) {
    uint32_t kv[2] = {SB_TYPE_F32, SB_TYPE_F16};
    for (int t = 0; t < 2; t++) {
        sb_engine *e = open_engine(1, kv[t], t + 1);
        if (!e)
            return;
        for (int k = 0; k < 2; k++) {
            out o;
            drain(submit(e, G[k].prompt, G[k].n_prompt, 200), &o);
            SB_CHECK(o.finish == SB_FINISH_LENGTH);
            check_golden(e, k, &o);
            sb_buf_free(&o.text);
        }
        sb_engine_free(e);
    }
}

/* Four requests in the same batches: the two goldens, the BOS golden again
 * with a later start, and a long prompt whose prefill is chunked beside the
 * others' decode steps. */
static void test_goldens_batched(void) {
    sb_engine *e = open_engine(4, SB_TYPE_F32, 2);
    if (!e)
        return;
    int32_t longp[120];
    longp[0] = 1;
    memcpy(longp + 1, G[1].ids, sizeof(int32_t) * 119);
    sb_request *r[4];
    r[0] = submit(e, G[0].prompt, G[0].n_prompt, 200);
    r[1] = submit(e, G[1].prompt, G[1].n_prompt, 200);
    r[2] = submit(e, longp, 120, 60);
    r[3] = submit(e, G[1].prompt, G[1].n_prompt, 200);
    out o[4];
    for (int i = 0; i < 4; i++)
        drain(r[i], &o[i]);
    check_golden(e, 0, &o[0]);
    check_golden(e, 1, &o[1]);
    check_golden(e, 1, &o[3]);
    /* BOS + first 119 golden ids continues with golden ids 119.. */
    int same = 0;
    while (same < o[2].n_ids && o[2].ids[same] == G[1].ids[119 + same])
        same++;
    SB_CHECKF(same == 60, "long prompt: %d of 60 continuation ids match the golden", same);
    for (int i = 0; i < 4; i++)
        sb_buf_free(&o[i].text);
    sb_sched_metrics mt;
    sb_scheduler_get_metrics(sb_engine_scheduler(e), &mt);
    SB_CHECK(mt.steps < 200 + 60 + 200 + 200); /* they shared forward passes */
    sb_engine_free(e);
}

/* A prompt that extends a finished sequence reuses its full pages. */
static void test_prefix_reuse_real(void) {
    sb_engine *e = open_engine(1, SB_TYPE_F32, 2);
    if (!e)
        return;
    out o;
    drain(submit(e, G[1].prompt, 1, 100), &o);
    sb_buf_free(&o.text);
    int32_t p[64];
    p[0] = 1;
    memcpy(p + 1, G[1].ids, sizeof(int32_t) * 50);
    drain(submit(e, p, 51, 40), &o);
    SB_CHECK_EQ_INT(o.stats.n_cached, 48);
    int same = 0;
    while (same < o.n_ids && o.ids[same] == G[1].ids[50 + same])
        same++;
    SB_CHECKF(same == 40, "%d of 40 ids match after a cached prefix", same);
    sb_buf_free(&o.text);
    sb_engine_free(e);
}

/* The chat path: ChatML fallback (stories260K has no template). */
static void test_chat_tokens(void) {
    sb_engine *e = open_engine(1, SB_TYPE_F32, 1);
    if (!e)
        return;
    SB_CHECK(sb_engine_template_is_default(e));
    SB_CHECK(strstr(sb_engine_template_note(e), "ChatML") != NULL);
    sb_tmpl_value *msgs = NULL;
    const char *j = "[{\"role\":\"user\",\"content\":\"Hi\"}]";
    SB_CHECK(sb_tmpl_value_from_json(j, strlen(j), &msgs, NULL) == SB_OK);
    char *text;
    size_t len;
    SB_CHECK(sb_engine_render_chat(e, msgs, true, &text, &len, NULL) == SB_OK);
    SB_CHECK_STR(text, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    sb_free(text);
    int32_t *ids;
    int n;
    SB_CHECK(sb_engine_chat_tokens(e, msgs, true, &ids, &n, NULL) == SB_OK);
    SB_CHECK(n > 3 && ids[0] == 1);
    sb_free(ids);
    sb_tmpl_value_free(msgs);
    sb_engine_free(e);
}

static void test_engine_errors(void) {
    sb_engine_opts o = sb_engine_opts_default();
    sb_engine *e = NULL;
    sb_error err;
    o.model_path = "/nonexistent/model.gguf";
    SB_CHECK(sb_engine_create(&o, &e, &err) != SB_OK);
    SB_CHECK(strstr(err.msg, "/nonexistent/model.gguf") != NULL);
    o.model_path = sb_test_require_shared("models/stories260K.gguf");
    o.page_size = 20;
    SB_CHECK(sb_engine_create(&o, &e, &err) == SB_ERR_INVALID_ARG);
    o = sb_engine_opts_default();
    o.model_path = sb_test_require_shared("models/vocab/ggml-vocab-llama-bpe.gguf");
    SB_CHECK(sb_engine_create(&o, &e, &err) != SB_OK);
    SB_CHECK(e == NULL);
}

int main(void) {
    load_goldens();
    SB_RUN(test_goldens_alone);
    SB_RUN(test_goldens_batched);
    SB_RUN(test_prefix_reuse_real);
    SB_RUN(test_chat_tokens);
    SB_RUN(test_engine_errors);
    for (int k = 0; k < 2; k++)
        sb_free(G[k].text);
    return sb_test_finish();
}
