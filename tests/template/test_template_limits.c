/*
 * test_template_limits.c - a template is untrusted code: every limit stops
 * it with SB_ERR_LIMIT and a message naming the limit, hostile sources and
 * data fail cleanly, and every allocation failure during compile and render
 * comes back as SB_ERR_NOMEM without leaks (run under ASan to see leaks).
 */
#include "sb_alloc.h"
#include "sb_template.h"
#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compiles and renders src against a small conversation with limits lim
 * (NULL = defaults). Returns the status; err holds the message. */
static sb_status run(const char *src, size_t len, const sb_template_limits *lim, char **out, sb_error *err) {
    sb_template *t = NULL;
    *out = NULL;
    sb_status st = sb_template_compile(src, len, lim, &t, err);
    if (st)
        return st;
    const char *json = "[{\"role\": \"user\", \"content\": \"hi\"}]";
    sb_tmpl_value *msgs = NULL;
    st = sb_tmpl_value_from_json(json, strlen(json), &msgs, err);
    if (st == SB_OK) {
        sb_template_inputs in = {.messages = msgs, .add_generation_prompt = true, .now = 1721952000};
        st = sb_template_render(t, &in, out, NULL, err);
    }
    sb_tmpl_value_free(msgs);
    sb_template_free(t);
    return st;
}

static sb_status run_s(const char *src, const sb_template_limits *lim, sb_error *err) {
    char *out;
    sb_status st = run(src, strlen(src), lim, &out, err);
    sb_free(out);
    return st;
}

static void expect_limit(const char *what, const char *src, const sb_template_limits *lim, const char *needle) {
    sb_error err = {0};
    sb_status st = run_s(src, lim, &err);
    SB_CHECKF(st == SB_ERR_LIMIT, "%s: status %s (%s)", what, sb_status_name(st), err.msg);
    SB_CHECKF(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg, needle);
}

static void test_limits(void) {
    sb_template_limits lim = {0};
    lim.max_loop_iterations = 100;
    expect_limit("loop", "{% for i in range(1000) %}{% endfor %}", &lim, "max_loop_iterations");
    expect_limit("nested loops", "{% for i in range(50) %}{% for j in range(50) %}{% endfor %}{% endfor %}", &lim,
                 "max_loop_iterations");
    expect_limit("list repetition", "{{ [1] * 1000 }}", &lim, "items");

    memset(&lim, 0, sizeof lim);
    lim.max_output_bytes = 1000;
    expect_limit("output", "{% for i in range(100) %}{{ 'x' * 50 }}{% endfor %}", &lim, "max_output_bytes");
    expect_limit("macro result", "{% macro m() %}{% for i in range(100) %}xxxxxxxxxxxx{% endfor %}{% endmacro %}{{ m() | length }}",
                 &lim, "max_output_bytes");
    expect_limit("string repetition", "{{ 'x' * 1000000000000 }}", NULL, "bytes");
    expect_limit("concatenation", "{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
                 NULL, "bytes");

    expect_limit("recursion", "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", NULL, "max_call_depth");

    memset(&lim, 0, sizeof lim);
    lim.max_memory_bytes = 1u << 20;
    expect_limit("memory", "{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
                           "{% set _ = ns.l.append('xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' ~ i) %}{% endfor %}",
                 &lim, "memory limit");

    memset(&lim, 0, sizeof lim);
    lim.max_steps = 10000;
    expect_limit("steps", "{% for i in range(100000) %}{{ i + 1 }}{% endfor %}", &lim, "max_steps");

    memset(&lim, 0, sizeof lim);
    lim.max_source_bytes = 10;
    expect_limit("source", "{{ 'this is too long' }}", &lim, "max_source_bytes");

    /* jinja2's sandbox refuses huge ranges outright */
    sb_error err = {0};
    SB_CHECK(run_s("{% for i in range(10000000) %}{% endfor %}", NULL, &err) == SB_ERR_FORMAT);
    SB_CHECKF(strstr(err.msg, "Range too big") != NULL, "%s", err.msg);
}

/* Builds "{{ " + n*open + "1" + n*close + " }}" etc. (caller frees). */
static char *repeat3(const char *pre, const char *open, size_t n, const char *mid, const char *close, const char *post) {
    size_t len = strlen(pre) + n * (strlen(open) + strlen(close)) + strlen(mid) + strlen(post) + 1;
    char *s = sb_malloc(len), *p = s;
    if (!s)
        return NULL;
    p += sprintf(p, "%s", pre);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s", open);
    p += sprintf(p, "%s", mid);
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s", close);
    sprintf(p, "%s", post);
    return s;
}

/* Deep syntax is refused at compile time; long flat chains that build deep
 * trees are stopped by the evaluator's depth guard. No stack overflow. */
static void test_nesting(void) {
    static const struct {
        const char *pre, *open, *mid, *close, *post;
        size_t n;
    } cases[] = {
        {"{{ ", "(", "1", ")", " }}", 5000},
        {"{{ ", "[", "1", "]", " }}", 5000},
        {"{{ ", "not ", "1", "", " }}", 5000},
        {"{{ ", "- ", "1", "", " }}", 5000},
        {"", "{% if 1 %}", "x", "{% endif %}", "", 2000},
        {"{{ ", "", "1", " if 1 else 2", " }}", 300},
        {"{{ x", "", "", ".a", " }}", 20000},
        {"{{ 'x'", "", "", " | trim", " }}", 20000},
        {"{{ 1", "", "", " + 1", " }}", 20000},
        {"{{ 1", "", "", " ~ 1", " }}", 20000},
        {"{{ [1]", "", "", "[0:]", " }}", 20000},
        {"{{ x", "", "", "()", " }}", 20000},
        {"{% set x = 1 %}{{ x", "", "", " == 1", " }}", 100},
        {"{% filter upper", "", "", " | trim", " %}x{% endfilter %}", 20000},
        {"{% macro m() %}{% if 0 %}", "", "", "{% elif 0 %}", "{% endif %}{% endmacro %}{{ m() }}", 20000},
        {"{% set x = 1 %}{{ x", "", "", " or x", " }}", 20000},
        {"{{ x", "", "", " is defined == true", " }}", 20000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *src = repeat3(cases[i].pre, cases[i].open, cases[i].n, cases[i].mid, cases[i].close, cases[i].post);
        sb_error err = {0};
        char *out;
        sb_status st = run(src, strlen(src), NULL, &out, &err);
        SB_CHECKF(st == SB_ERR_LIMIT || st == SB_ERR_FORMAT || st == SB_OK, "case %zu: status %s (%s)", i,
                  sb_status_name(st), err.msg);
        if (i < 5)
            SB_CHECKF(st == SB_ERR_LIMIT, "case %zu: status %s (%s)", i, sb_status_name(st), err.msg);
        sb_free(out);
        sb_free(src);
    }
}

/* Self-referencing data: printing and tojson refuse it, nothing leaks. */
static void test_cycles(void) {
    static const struct {
        const char *src;
        sb_status want;
        const char *out;
    } cases[] = {
        {"{% set ns = namespace() %}{% set ns.me = ns %}{{ ns.me.me.me is defined }}", SB_OK, "True"},
        {"{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}", SB_ERR_LIMIT, NULL},
        {"{% set l = [] %}{% set _ = l.append(l) %}{{ l | length }}{{ l == l }}", SB_OK, "1True"},
        {"{% set l = [] %}{% set _ = l.append(l) %}{{ l }}", SB_ERR_LIMIT, NULL},
        {"{% set l = [] %}{% set _ = l.append(l) %}{{ l | tojson }}", SB_ERR_LIMIT, NULL},
        {"{% set a = [] %}{% set b = [a] %}{% set _ = a.append(b) %}{{ a == b }}", SB_ERR_LIMIT, NULL},
        {"{% set d = {} %}{% set _ = d.update({'d': d}) %}{{ d | length }}", SB_OK, "1"},
        {"{% macro m() %}{% endmacro %}{% set ns = namespace(m=m) %}{% set ns.ns = ns %}ok", SB_OK, "ok"},
        /* deeply nested tuples: not usable as keys (bounded hashing), freed without recursion */
        {"{% set ns = namespace(t=()) %}{% for i in range(50000) %}{% set ns.t = (ns.t,) %}{% endfor %}{{ {ns.t: 1} }}",
         SB_ERR_FORMAT, NULL},
        {"{% set ns = namespace(t=()) %}{% for i in range(50000) %}{% set ns.t = (ns.t,) %}{% endfor %}{{ ns.t in [1] }}",
         SB_OK, "False"},
        {"{% set ns = namespace(t=()) %}{% for i in range(50000) %}{% set ns.t = (ns.t,) %}{% endfor %}{{ ns.t }}",
         SB_ERR_LIMIT, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sb_error err = {0};
        char *out;
        sb_status st = run(cases[i].src, strlen(cases[i].src), NULL, &out, &err);
        SB_CHECKF(st == cases[i].want, "%s: status %s (%s)", cases[i].src, sb_status_name(st), err.msg);
        if (cases[i].out && out)
            SB_CHECK_STR(out, cases[i].out);
        sb_free(out);
    }
}

/* Broken and odd sources: an error or a rendering, never a crash. */
static void test_hostile_sources(void) {
    static const char *const srcs[] = {
        "{{", "{%", "{#", "}}", "%}", "{{{{{{", "{{ }}", "{% %}", "{% for %}", "{% for x in %}", "{% set %}",
        "{% set x %}", "{{ 'a' | }}", "{% macro %}", "{% endfor %}", "{% if %}", "{% elif %}", "{% else %}",
        "{{ x[ }}", "{{ x[:::] }}", "{{ x. }}", "{{ x.1.2.3 }}", "{{ 1.2.3 }}", "{{ 0x }}", "{{ 1e }}",
        "{{ '\\x4' }}", "{{ '\\u12' }}", "{{ '\\U0011FFFF' }}", "{{ \"\\", "{% raw %}", "{% raw %}{% endraw",
        "{%- raw -%}", "{{ f(**x) }}", "{{ f(*x) }}", "{% for x in y recursive %}{% endfor %}", "{% call %}",
        "{% call x %}{% endcall %}", "{% filter %}{% endfilter %}", "{% with %}", "{% with x %}{% endwith %}",
        "{{ x is }}", "{{ x is not }}", "{{ 1 if }}", "{{ a ~ }}", "{{ {1: } }}", "{{ {: 1} }}", "{{ (, ) }}",
        "{% set ns.x.y = 1 %}", "{% set (a, b) = 1, 2 %}{{ a }}", "{{ x | map }}", "{{ [1] | map }}",
        "{{ [1] | select(1) }}", "{{ [1] | selectattr }}", "{{ 'a' | indent(-5) }}", "{{ 'a' | center(-5) }}",
        "{{ 'a'.center(99999999999) }}", "{{ 'a' | truncate(-1) }}", "{{ [1] | batch(0) }}", "{{ [1] | slice(0) }}", "{{ [1] | slice(99999999999) }}",
        "{{ [1] | groupby }}", "{{ [1, 'a'] | groupby(0) }}", "{{ 'a' | round }}",
        "{{ 1 | round(999999) }}", "{{ 1.5 | round(-999999) }}", "{{ 'x' | int(base=99) }}", "{{ 'a' % (1,) }}",
        "{{ '%' % 1 }}", "{{ '%(a' % {} }}", "{{ '%*d' % 1 }}", "{{ '{' .format() }}", "{{ '{:>5}'.format(1) }}",
        "{{ '{99}'.format() }}", "{{ strftime_now() }}", "{{ strftime_now('%') }}", "{{ range() }}",
        "{{ range(1, 2, 3, 4) }}", "{{ range('a') }}", "{{ dict(1, 2) }}", "{{ dict([1]) }}", "{{ namespace(1, 2) }}",
        "{{ cycler().next() }}", "{{ joiner()() ~ joiner()() }}", "{{ loop.cycle() }}", "{{ raise_exception() }}",
        "{{ [].insert() }}", "{{ [].pop(5) }}", "{{ {}.pop() }}", "{{ {}.update(1) }}", "{{ {}.get([]) }}",
        "{{ 'abc'[::0] }}", "{{ -9223372036854775807 - 1 }}", "{{ -(-9223372036854775807 - 1) }}",
        "{{ (-9223372036854775807 - 1) // -1 }}", "{{ (-9223372036854775807 - 1) % -1 }}", "{{ 2 ** 64 }}",
        "{{ 0 ** -1 }}", "{{ 0.0 // 0.0 }}", "{{ 1e308 * 1e308 }}", "{{ 'x' * (2 ** 62) }}",
        "{{ [1] * 9223372036854775807 }}", "{{ 'a' | float | int }}", "{{ 'inf' | float | int }}",
        "{{ 'nan' | float | int }}", "{{ (1e308 * 10) | round(2) }}", "{{ 1e308 | int }}",
        "{{ '\xc3\xa9'[0:1:-1] }}", "{{ '\xf0\x9f\x98\x80' | title }}",
        /* found by fuzzing: an error in the first operand of a comparison */
        "{{ [1, x] | select('odd') != [] }}", "{% for i in [1] if x.y %}{% endfor %}", "{{ [x] | min }}",
        "{{ 'a' | format(b=x.y) }}", "{{ [2, 2, 3, 4][::12, s, 4][0:] }}",
        "{{ [1, {'v': 2}] | sum(attribute='v') }}", "{% set k = 'a' ~ 'b' %}{{ {}[k] + 1 }}",
    };
    for (size_t i = 0; i < sizeof srcs / sizeof srcs[0]; i++) {
        sb_error err = {0};
        char *out;
        sb_status st = run(srcs[i], strlen(srcs[i]), NULL, &out, &err);
        SB_CHECKF(st == SB_OK || st == SB_ERR_FORMAT || st == SB_ERR_LIMIT || st == SB_ERR_INVALID_ARG,
                  "'%s': status %s (%s)", srcs[i], sb_status_name(st), err.msg);
        if (st != SB_OK)
            SB_CHECKF(err.msg[0] != '\0', "'%s': no message", srcs[i]);
        sb_free(out);
    }
}

/* NUL bytes are ordinary characters, in text and in string literals. */
static void test_nul_bytes(void) {
    static const char src[] = "a\0b{{ '\0' | length }}{% if '\0' %}c{% endif %}{{ '\x00' ~ 'd' }}";
    sb_error err = {0};
    char *out;
    SB_CHECK(run(src, sizeof src - 1, NULL, &out, &err) == SB_OK);
    SB_CHECK(out && memcmp(out, "a\0b1c\0d", 7) == 0);
    sb_free(out);
}

/* Hostile data: deep or huge inputs are bounded too. */
static void test_hostile_data(void) {
    /* 200 levels: fine for the JSON reader (256), too deep for max_nesting 128 */
    char deep[401];
    for (int i = 0; i < 200; i++) {
        deep[i] = '[';
        deep[399 - i] = ']';
    }
    deep[400] = '\0';
    sb_tmpl_value *v = NULL;
    sb_error err = {0};
    SB_CHECK(sb_tmpl_value_from_json(deep, 400, &v, &err) == SB_OK);
    sb_template *t = NULL;
    const char *src = "{{ messages | length }}";
    SB_CHECK(sb_template_compile(src, strlen(src), NULL, &t, &err) == SB_OK);
    sb_template_inputs in = {.messages = v};
    char *out = NULL;
    SB_CHECK(sb_template_render(t, &in, &out, NULL, &err) == SB_ERR_LIMIT);
    sb_free(out);
    sb_tmpl_value_free(v);

    /* a 2 MiB message content, printed twice: over a 3 MiB output limit */
    sb_template_free(t);
    src = "{% for m in messages %}{{ m.content }}{{ m.content }}{% endfor %}";
    sb_template_limits lim = {0};
    lim.max_output_bytes = 3u << 20;
    SB_CHECK(sb_template_compile(src, strlen(src), &lim, &t, &err) == SB_OK);
    size_t big = 2u << 20;
    char *text = sb_malloc(big);
    memset(text, 'a', big);
    sb_tmpl_value *msgs = sb_tmpl_list(), *m = sb_tmpl_dict();
    SB_CHECK(sb_tmpl_dict_set(m, "content", 7, sb_tmpl_string(text, big)) == SB_OK);
    SB_CHECK(sb_tmpl_list_append(msgs, m) == SB_OK);
    in.messages = msgs;
    SB_CHECK(sb_template_render(t, &in, &out, NULL, &err) == SB_ERR_LIMIT);
    SB_CHECKF(strstr(err.msg, "max_output_bytes") != NULL, "%s", err.msg);
    sb_free(out);
    sb_free(text);
    sb_tmpl_value_free(msgs);
    sb_template_free(t);
}

/* Every allocation of a compile + render fails in turn: the result is
 * SB_ERR_NOMEM (or success when the failure fell on nothing), never a crash
 * or leak, and the text is right whenever it succeeds. */
static void test_alloc_failures(void) {
    const char *src =
        "{%- set ns = namespace(n=0, names=[]) -%}\n"
        "{%- macro show(m, sep=': ') -%}{{ m.role | upper }}{{ sep }}{{ m.content | trim }}{%- endmacro -%}\n"
        "{%- for m in messages if m.role != 'tool' -%}\n"
        "  {%- set ns.n = ns.n + 1 -%}{%- set ns.names = ns.names + [m.role] -%}\n"
        "  {{ show(m) }}|{{ loop.index }}/{{ loop.length }}\n"
        "{% endfor -%}\n"
        "{{ tools | tojson(indent=2) }} {{ ns.names | unique | sort | join(',') }} {{ ns.n }}\n"
        "{{ '%s-%d' % ('x', 3) }} {{ 'a,b'.split(',') }} {{ messages[-1]['content'][1:3] }} {{ {'k': [1, 2.5]} }}";
    const char *json = "{\"messages\": [{\"role\": \"system\", \"content\": \" Be brief. \"}, {\"role\": \"user\", "
                       "\"content\": \"h\xc3\xa9llo\"}, {\"role\": \"tool\", \"content\": \"x\"}], \"tools\": "
                       "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}]}";
    char *want = NULL;
    long runs = 0, fired = 0;
    for (long n = 0;; n++) {
        sb_alloc_fail_nth(n);
        sb_error err = {0};
        sb_tmpl_value *ctx = NULL, *msgs = NULL, *tools = NULL;
        sb_template *t = NULL;
        char *out = NULL;
        sb_status st = sb_tmpl_value_from_json(json, strlen(json), &ctx, &err);
        if (st == SB_OK) {
            msgs = sb_tmpl_dict_get(ctx, "messages");
            tools = sb_tmpl_dict_get(ctx, "tools");
            if (!msgs || !tools)
                st = SB_ERR_NOMEM;
        }
        if (st == SB_OK)
            st = sb_template_compile(src, strlen(src), NULL, &t, &err);
        if (st == SB_OK) {
            sb_template_inputs in = {.messages = msgs, .tools = tools};
            st = sb_template_render(t, &in, &out, NULL, &err);
        }
        bool injected = n > 0 && sb_alloc_injected_fired();
        sb_alloc_fail_nth(0);
        runs++;
        if (n == 0) {
            SB_CHECKF(st == SB_OK, "reference render: %s", err.msg);
            want = out;
            out = NULL;
        } else if (injected) {
            fired++;
            SB_CHECKF(st == SB_ERR_NOMEM, "allocation %ld failed: status %s (%s)", n, sb_status_name(st), err.msg);
        } else {
            SB_CHECKF(st == SB_OK && want && out && strcmp(out, want) == 0, "allocation %ld: status %s", n,
                      sb_status_name(st));
        }
        sb_free(out);
        sb_template_free(t);
        sb_tmpl_value_free(msgs);
        sb_tmpl_value_free(tools);
        sb_tmpl_value_free(ctx);
        if (n > 0 && !injected)
            break; /* past the last allocation */
        if (n > 100000) {
            SB_CHECK(!"fail-injection loop did not end");
            break;
        }
    }
    printf("fail injection: %ld runs, %ld failed allocations, each gave SB_ERR_NOMEM\n", runs, fired);
    SB_CHECK(fired > 100);
    sb_free(want);
}

int main(void) {
    SB_RUN(test_limits);
    SB_RUN(test_nesting);
    SB_RUN(test_cycles);
    SB_RUN(test_hostile_sources);
    SB_RUN(test_nul_bytes);
    SB_RUN(test_hostile_data);
    SB_RUN(test_alloc_failures);
    return sb_test_finish();
}
