/*
 * test_template_api.c - the public value API, the JSON reader and the
 * Python-style JSON writer, the BOS helper and the built-in ChatML template.
 */
#include "sb_alloc.h"
#include "sb_template.h"
#include "sb_test.h"

#include <stdio.h>
#include <string.h>

/* JSON in -> value -> json.dumps(ensure_ascii=False) text. */
static char *roundtrip(const char *json, sb_status *st, sb_error *err) {
    sb_tmpl_value *v = NULL;
    char *out = NULL;
    *st = sb_tmpl_value_from_json(json, strlen(json), &v, err);
    if (*st == SB_OK)
        *st = sb_tmpl_value_to_json(v, &out, NULL, err);
    sb_tmpl_value_free(v);
    return out;
}

static void test_json_roundtrip(void) {
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"{\"b\": 1, \"a\": [true, false, null, 1.5, -0, 1e400, -1e400]}",
         "{\"b\": 1, \"a\": [true, false, null, 1.5, 0, Infinity, -Infinity]}"},
        {"  [ ]  ", "[]"},
        {"{}", "{}"},
        {"\"\\u00e9\\n\\u0001\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\r\\t\"", "\"\xc3\xa9\\n\\u0001\xf0\x9f\x98\x80\\\"\\\\/\\b\\f\\r\\t\""},
        {"\"lone \\ud800 surrogate\"", "\"lone \xef\xbf\xbd surrogate\""},
        {"{\"a\": 1, \"b\": 2, \"a\": 3}", "{\"a\": 3, \"b\": 2}"},
        {"[100000000000000000000, 9223372036854775807, -9223372036854775808, 0.1, 1E2, 2.5e-3]",
         "[1e+20, 9223372036854775807, -9223372036854775808, 0.1, 100.0, 0.0025]"},
        {"\"\x7f raw DEL and \xe2\x80\x8d\"", "\"\x7f raw DEL and \xe2\x80\x8d\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_status st;
        sb_error err = {0};
        char *out = roundtrip(cases[i].in, &st, &err);
        SB_CHECKF(st == SB_OK, "%s: %s", cases[i].in, err.msg);
        if (out)
            SB_CHECKF(strcmp(out, cases[i].out) == 0, "%s\n got:  %s\n want: %s", cases[i].in, out, cases[i].out);
        sb_free(out);
    }
}

static void test_json_errors(void) {
    static const char *const bad[] = {
        "", "{", "{\"a\":}", "[1,]", "[1 2]", "{\"a\" 1}", "{1: 2}", "\"\x01\"", "\"\xff\"", "\"abc", "tru",
        "nul", "01", "1.", "-", "1e", "[1] x", "\"\\x41\"", "\"\\u12\"", "{\"a\": [}]", "'single'",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sb_tmpl_value *v = NULL;
        sb_error err = {0};
        sb_status st = sb_tmpl_value_from_json(bad[i], strlen(bad[i]), &v, &err);
        SB_CHECKF(st == SB_ERR_FORMAT && v == NULL, "'%s': status %s", bad[i], sb_status_name(st));
        SB_CHECKF(strstr(err.msg, "at byte") != NULL, "'%s': %s", bad[i], err.msg);
    }
    /* nesting past SB_TMPL_JSON_MAX_DEPTH is refused, not recursed into */
    char deep[2 * 1000 + 1];
    for (int i = 0; i < 1000; i++) {
        deep[i] = '[';
        deep[1999 - i] = ']';
    }
    deep[2000] = '\0';
    sb_tmpl_value *v = NULL;
    sb_error err = {0};
    SB_CHECK(sb_tmpl_value_from_json(deep, 2000, &v, &err) == SB_ERR_LIMIT);
    SB_CHECK(v == NULL);
}

static void test_values(void) {
    sb_tmpl_value *list = sb_tmpl_list(), *dict = sb_tmpl_dict();
    SB_CHECK(sb_tmpl_dict_set(dict, "role", 4, sb_tmpl_string("user", 4)) == SB_OK);
    SB_CHECK(sb_tmpl_dict_set(dict, "content", 7, sb_tmpl_string("hi \xff there", 10)) == SB_OK);
    SB_CHECK(sb_tmpl_dict_set(dict, "role", 4, sb_tmpl_string("tool", 4)) == SB_OK); /* replaces in place */
    SB_CHECK(sb_tmpl_dict_set(dict, "n", 1, sb_tmpl_int(-3)) == SB_OK);
    SB_CHECK(sb_tmpl_dict_set(dict, "f", 1, sb_tmpl_float(0.5)) == SB_OK);
    SB_CHECK(sb_tmpl_dict_set(dict, "b", 1, sb_tmpl_bool(true)) == SB_OK);
    SB_CHECK(sb_tmpl_dict_set(dict, "z", 1, sb_tmpl_none()) == SB_OK);
    SB_CHECK(sb_tmpl_list_append(list, dict) == SB_OK);
    SB_CHECK(sb_tmpl_list_append(list, NULL) == SB_ERR_NOMEM);
    SB_CHECK(sb_tmpl_list_append(list, list) == SB_ERR_INVALID_ARG); /* would be a cycle: refused, not freed */
    SB_CHECK(sb_tmpl_value_len(list) == 1);
    sb_tmpl_value *s = sb_tmpl_string("x", 1);
    SB_CHECK(sb_tmpl_list_append(s, sb_tmpl_int(1)) == SB_ERR_INVALID_ARG); /* the item is freed */
    SB_CHECK(sb_tmpl_dict_set(s, "k", 1, sb_tmpl_int(1)) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_tmpl_value_type(s) == SB_TMPL_STRING && sb_tmpl_value_len(s) == 1);
    sb_tmpl_value_free(s);

    char *json;
    sb_error err = {0};
    SB_CHECK(sb_tmpl_value_to_json(list, &json, NULL, &err) == SB_OK);
    SB_CHECK_STR(json, "[{\"role\": \"tool\", \"content\": \"hi \xef\xbf\xbd there\", \"n\": -3, \"f\": 0.5, "
                       "\"b\": true, \"z\": null}]");
    sb_free(json);

    sb_tmpl_value *first = sb_tmpl_list_get(list, 0), *role = sb_tmpl_dict_get(first, "role");
    size_t len;
    SB_CHECK(sb_tmpl_value_type(first) == SB_TMPL_DICT && sb_tmpl_value_len(first) == 6);
    SB_CHECK(strcmp(sb_tmpl_value_string(role, &len), "tool") == 0 && len == 4);
    SB_CHECK(sb_tmpl_dict_get(first, "missing") == NULL && sb_tmpl_list_get(list, 1) == NULL);
    sb_tmpl_value_free(role);
    sb_tmpl_value_free(first);
    sb_tmpl_value_free(list);
    sb_tmpl_value_free(NULL);
}

/* The BOS helper alone: strips only an exact leading BOS text. */
static void test_strip_bos(void) {
    char text[] = "<s>hello";
    size_t len = strlen(text);
    SB_CHECK(!sb_template_strip_bos(text, &len, sb_str_from_cstr("<|begin_of_text|>")));
    SB_CHECK(!sb_template_strip_bos(text, &len, sb_str_from_cstr("")));
    SB_CHECK(sb_template_strip_bos(text, &len, sb_str_from_cstr("<s>")));
    SB_CHECK(len == 5 && strcmp(text, "hello") == 0);
    SB_CHECK(!sb_template_strip_bos(text, &len, sb_str_from_cstr("<s>")));
    char shorter[] = "<";
    len = 1;
    SB_CHECK(!sb_template_strip_bos(shorter, &len, sb_str_from_cstr("<s>")));
}

/* The built-in ChatML default, including list-of-parts and null content. */
static void test_default_chatml(void) {
    const char *src = sb_template_default_chatml();
    sb_template *t;
    sb_error err = {0};
    SB_CHECK(sb_template_compile(src, strlen(src), NULL, &t, &err) == SB_OK);
    const char *json = "[{\"role\": \"system\", \"content\": \"S\"}, {\"role\": \"user\", \"content\": "
                       "[{\"type\": \"text\", \"text\": \"a\"}, {\"type\": \"image\"}, {\"type\": \"text\", \"text\": "
                       "\"b\"}]}, {\"role\": \"assistant\", \"content\": null}]";
    sb_tmpl_value *msgs;
    SB_CHECK(sb_tmpl_value_from_json(json, strlen(json), &msgs, &err) == SB_OK);
    sb_template_inputs in = {.messages = msgs, .add_generation_prompt = true};
    char *out;
    SB_CHECK(sb_template_render(t, &in, &out, NULL, &err) == SB_OK);
    SB_CHECK_STR(out, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n"
                      "<|im_end|>\n<|im_start|>assistant\n");
    sb_free(out);
    sb_tmpl_value_free(msgs);
    sb_template_free(t);
}

/* One compiled template rendered many times gives the same text; the
 * render copies its inputs, so inputs may be freed right after. */
static void test_reuse(void) {
    const char *src = "{% for m in messages %}{{ m }}{% endfor %}";
    sb_template *t;
    sb_error err = {0};
    SB_CHECK(sb_template_compile(src, strlen(src), NULL, &t, &err) == SB_OK);
    for (int i = 0; i < 3; i++) {
        sb_tmpl_value *msgs = sb_tmpl_list();
        SB_CHECK(sb_tmpl_list_append(msgs, sb_tmpl_string("a'b", 3)) == SB_OK);
        sb_template_inputs in = {.messages = msgs};
        char *out;
        size_t len;
        SB_CHECK(sb_template_render(t, &in, &out, &len, &err) == SB_OK);
        sb_tmpl_value_free(msgs);
        SB_CHECK_STR(out, "a'b");
        SB_CHECK(len == 3);
        sb_free(out);
    }
    sb_template_free(t);
}

/* An empty template renders the empty string (a terminated one). */
static void test_empty(void) {
    sb_template *t;
    sb_error err = {0};
    SB_CHECK(sb_template_compile("", 0, NULL, &t, &err) == SB_OK);
    sb_tmpl_value *msgs = sb_tmpl_list();
    sb_template_inputs in = {.messages = msgs};
    char *out = NULL;
    size_t len = 99;
    SB_CHECK(sb_template_render(t, &in, &out, &len, &err) == SB_OK);
    SB_CHECK(out && len == 0 && out[0] == '\0');
    sb_free(out);
    sb_tmpl_value *empty = sb_tmpl_list();
    char *json = NULL;
    SB_CHECK(sb_tmpl_value_to_json(empty, &json, NULL, &err) == SB_OK);
    SB_CHECK_STR(json, "[]");
    sb_free(json);
    sb_tmpl_value_free(empty);
    sb_tmpl_value_free(msgs);
    sb_template_free(t);
}

int main(void) {
    SB_RUN(test_empty);
    SB_RUN(test_json_roundtrip);
    SB_RUN(test_json_errors);
    SB_RUN(test_values);
    SB_RUN(test_strip_bos);
    SB_RUN(test_default_chatml);
    SB_RUN(test_reuse);
    return sb_test_finish();
}
