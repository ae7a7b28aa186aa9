/*
 * test_srv_fuzz.c - throws malformed and hostile bodies at the request
 * path (bounded JSON parse, then the chat and completions parsers, then
 * the error builder): byte mutations of valid requests, random JSON with
 * wrong types, huge numbers, deep nesting, long and invalid-UTF-8 strings.
 * Deterministic (fixed seeds); meant to run under ASan+UBSan, where any
 * out-of-bounds access or leak fails it. The only checks are that every
 * failure is a 400 (or 500 out of memory) with a message, never a crash.
 */
#include "sb_rng.h"
#include "sb_test.h"
#include "srv_json.h"
#include "srv_oai.h"
#include "srv_request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *seeds[] = {
    "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":5,\"temperature\":0.5,"
    "\"stop\":[\"a\",\"b\"],\"n\":2,\"logprobs\":true,\"top_logprobs\":2,\"logit_bias\":{\"5\":1},\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},\"seed\":42}",
    "{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"text\",\"text\":\"s\"}]},{\"role\":\"assistant\","
    "\"content\":null,\"tool_calls\":[{\"id\":\"x\",\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":"
    "\"{}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"x\",\"content\":\"r\"}],\"tools\":[{\"type\":\"function\"}]}",
    "{\"prompt\":[\"a\",\"b\"],\"max_tokens\":3,\"logprobs\":2,\"echo\":false,\"top_k\":4,\"min_p\":0.1}",
    "{\"prompt\":[[1,2,3],[4]],\"frequency_penalty\":1,\"presence_penalty\":-1,\"repetition_penalty\":1.2}",
    "{\"prompt\":[1,2,3],\"max_completion_tokens\":7,\"user\":\"u\"}",
};

static const char *keys[] = {"model", "messages", "prompt", "max_tokens", "max_completion_tokens", "temperature",
                             "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty",
                             "repetition_penalty", "seed", "stop", "n", "logprobs", "top_logprobs", "logit_bias",
                             "stream", "stream_options", "user", "tools", "role", "content", "type", "text",
                             "include_usage", "tool_calls", "name"};

/* Appends s to out[0..cap) at *n when it fits. */
static void put(char *out, size_t cap, size_t *n, const char *s) {
    size_t l = strlen(s);
    if (*n + l < cap) {
        memcpy(out + *n, s, l);
        *n += l;
    }
}

/* Appends a random JSON value of depth at most `depth`. */
static void rand_value(sb_rng *r, char *out, size_t cap, size_t *n, int depth) {
#define PUT(s) put(out, cap, n, (s))
    static const char *atoms[] = {"null", "true", "false", "0", "-1", "1", "2.5", "1e308", "-1e308", "1e-320",
                                  "99999999999999999999", "-9223372036854775808", "9223372036854775807", "\"\"",
                                  "\"user\"", "\"assistant\"", "\"text\"", "\"\\ud800\"", "\"\\u0000\"",
                                  "\"\\uffff\\u00e9\"", "\"caf\xc3\xa9\"", "\"\xff\xfe\"", "1.0", "-0", "4.0"};
    int kind = (int)sb_rng_below(r, depth > 0 ? 4 : 1);
    if (kind == 0) {
        PUT(atoms[sb_rng_below(r, sizeof atoms / sizeof atoms[0])]);
    } else if (kind == 1) {
        PUT("[");
        int k = (int)sb_rng_below(r, 4);
        for (int i = 0; i < k; i++) {
            if (i)
                PUT(",");
            rand_value(r, out, cap, n, depth - 1);
        }
        PUT("]");
    } else {
        PUT("{");
        int k = (int)sb_rng_below(r, 5);
        for (int i = 0; i < k; i++) {
            if (i)
                PUT(",");
            PUT("\"");
            PUT(keys[sb_rng_below(r, sizeof keys / sizeof keys[0])]);
            PUT("\":");
            rand_value(r, out, cap, n, depth - 1);
        }
        PUT("}");
    }
#undef PUT
}

/* Runs one body through everything a request meets before the model. */
static void exercise(const char *body, size_t len) {
    json_t *root = NULL;
    sb_error err;
    sb_status st = sb_srv_json_parse(body, len, SB_SRV_JSON_DEFAULT_DEPTH, 4096, &root, &err);
    if (st != SB_OK) {
        SB_CHECK(err.msg[0] != 0);
        return;
    }
    for (int kind = SB_OAI_CHAT; kind <= SB_OAI_COMPLETION; kind++) {
        sb_oai_request r;
        sb_api_error e;
        memset(&e, 0, sizeof e);
        int status = sb_oai_request_parse(root, (sb_oai_kind)kind, NULL, &r, &e);
        if (status) {
            SB_CHECKF(status == 400 || status == 500, "status %d", status);
            json_t *ej = sb_oai_error_json(&e);
            char *s = ej ? json_dumps(ej, JSON_COMPACT) : NULL;
            SB_CHECK(s != NULL);
            free(s);
            json_decref(ej);
        } else {
            sb_oai_request_free(&r);
        }
    }
    json_decref(root);
}

static void test_mutations(void) {
    sb_rng r;
    sb_rng_seed(&r, 1234);
    char buf[8192];
    for (int it = 0; it < 20000; it++) {
        const char *s = seeds[it % (sizeof seeds / sizeof seeds[0])];
        size_t n = strlen(s);
        memcpy(buf, s, n);
        int muts = 1 + (int)sb_rng_below(&r, 6);
        for (int m = 0; m < muts && n > 0; m++) {
            size_t pos = sb_rng_below(&r, n);
            switch (sb_rng_below(&r, 5)) {
            case 0: /* flip */
                buf[pos] = (char)sb_rng_below(&r, 256);
                break;
            case 1: /* delete */
                memmove(buf + pos, buf + pos + 1, n - pos - 1);
                n--;
                break;
            case 2: /* insert a structural byte */
                if (n + 1 < sizeof buf) {
                    memmove(buf + pos + 1, buf + pos, n - pos);
                    buf[pos] = "{}[]\":,\\0-e."[sb_rng_below(&r, 12)];
                    n++;
                }
                break;
            case 3: /* truncate */
                n = pos;
                break;
            default: /* duplicate a slice */
                if (n * 2 < sizeof buf) {
                    size_t l = sb_rng_below(&r, n - pos) + 1;
                    memmove(buf + pos + l, buf + pos, n - pos);
                    n += l;
                }
                break;
            }
        }
        exercise(buf, n);
    }
}

static void test_random_json(void) {
    sb_rng r;
    sb_rng_seed(&r, 99);
    char buf[16384];
    for (int it = 0; it < 20000; it++) {
        size_t n = 0;
        buf[n++] = '{';
        int k = (int)sb_rng_below(&r, 8);
        for (int i = 0; i < k && n < sizeof buf - 256; i++) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"%s\":", i ? "," : "",
                                  keys[sb_rng_below(&r, sizeof keys / sizeof keys[0])]);
            rand_value(&r, buf, sizeof buf - 2, &n, 4);
        }
        buf[n++] = '}';
        exercise(buf, n);
    }
}

static void test_extremes(void) {
    static char big[1 << 16];
    /* deep nesting, inside and outside strings */
    size_t n = 0;
    n += (size_t)snprintf(big, sizeof big, "{\"messages\":");
    while (n < 20000)
        big[n++] = '[';
    exercise(big, n);
    n = (size_t)snprintf(big, sizeof big, "{\"messages\":[{\"role\":\"user\",\"content\":\"");
    while (n < 30000)
        big[n++] = '{';
    n += (size_t)snprintf(big + n, sizeof big - n, "\"}]}");
    exercise(big, n); /* a string over the 4096-byte test cap */
    /* a very long stop list and logit_bias */
    n = (size_t)snprintf(big, sizeof big, "{\"prompt\":\"x\",\"stop\":[");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"s%d\"", i ? "," : "", i);
    n += (size_t)snprintf(big + n, sizeof big - n, "],\"logit_bias\":{");
    for (int i = 0; i < 2000; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "%s\"%d\":1", i ? "," : "", i);
    n += (size_t)snprintf(big + n, sizeof big - n, "}}");
    exercise(big, n);
    /* a lossy error message with invalid UTF-8 and a long param */
    sb_api_error e;
    sb_api_bad_field(&e, "\xff\xfe\xfd param", "bad \xc3 value \xed\xa0\x80");
    json_t *j = sb_oai_error_json(&e);
    char *s = json_dumps(j, JSON_COMPACT);
    SB_CHECK(s && strstr(s, "\xef\xbf\xbd"));
    free(s);
    json_decref(j);
}

int main(void) {
    SB_RUN(test_mutations);
    SB_RUN(test_random_json);
    SB_RUN(test_extremes);
    return sb_test_finish();
}
