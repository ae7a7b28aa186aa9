/*
 * tmpl_tests.c - jinja2's tests (`x is defined`, `x is string`, ...), with
 * Python's notion of each type: bool counts as a number, an undefined value
 * is iterable (and empty), a string is iterable and a sequence.
 */
#include "tmpl_internal.h"

#include <math.h>
#include <string.h>

/* The single argument of a test, positional or keyword. */
static const tv *one_arg(const targs *a) { return a->npos ? &a->pos[0] : a->nkw ? &a->kw[0] : NULL; }

/* The argument of a test that needs one, else a TypeError. */
static sb_status need_arg(trender *r, const tnode *n, const targs *a, const char *name, const tv **out) {
    *out = one_arg(a);
    if (!*out)
        return rt_type_error(r, n, "test '%s' needs an argument", name);
    return SB_OK;
}

/* Tests that only look at the value's kind. */
enum {
    K_DEFINED = 1, K_UNDEFINED, K_NONE, K_BOOLEAN, K_TRUE, K_FALSE, K_INTEGER, K_FLOAT, K_NUMBER, K_STRING,
    K_MAPPING, K_ITERABLE, K_CALLABLE, K_ESCAPED,
};

/* The tests that only look at the kind of value. */
static bool kind_test(int k, tv v) {
    switch (k) {
    case K_DEFINED: return v.type != TV_UNDEF;
    case K_UNDEFINED: return v.type == TV_UNDEF;
    case K_NONE: return v.type == TV_NONE;
    case K_BOOLEAN: return v.type == TV_BOOL;
    case K_TRUE: return v.type == TV_BOOL && v.u.b;
    case K_FALSE: return v.type == TV_BOOL && !v.u.b;
    case K_INTEGER: return v.type == TV_INT;
    case K_FLOAT: return v.type == TV_FLOAT;
    case K_NUMBER: return v.type == TV_INT || v.type == TV_FLOAT || v.type == TV_BOOL;
    case K_STRING: return v.type == TV_STR;
    case K_MAPPING: return v.type == TV_DICT;
    case K_ITERABLE: /* also `sequence`: str, list, dict, and Undefined (empty) */
        return v.type == TV_UNDEF || v.type == TV_STR || v.type == TV_LIST || v.type == TV_DICT;
    case K_CALLABLE: return v.type == TV_MACRO || v.type == TV_FUNC || v.type == TV_BOUND || v.type == TV_JOINER;
    default: return false; /* escaped: nothing here is Markup */
    }
}

/* str.islower / isupper: some cased character and none of the other case. */
static sb_status case_test(trender *r, const tnode *n, tv v, bool want_lower, bool *out) {
    tv s;
    sb_status st = tv_to_str(r, n, v, &s);
    if (st)
        return st;
    tstr *str = tv_str(s);
    bool cased = false, ok = true;
    for (size_t i = 0; i < str->len && ok;) {
        uint32_t cp = uc_next(str->data, str->len, &i);
        bool is_upper = uc_lower(cp) != cp, is_lower = uc_upper(cp) != cp || cp == 0xDF;
        if (is_upper || is_lower)
            cased = true;
        if (want_lower ? is_upper : is_lower)
            ok = false;
    }
    tv_release(s);
    *out = cased && ok;
    return SB_OK;
}

/* lower / upper tests (str.islower / isupper). */
static sb_status t_lower(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    (void)a;
    return case_test(r, n, v, true, out);
}
static sb_status t_upper(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    (void)a;
    return case_test(r, n, v, false, out);
}

/* v % d == want, for odd/even/divisibleby. */
static sb_status mod_test(trender *r, const tnode *n, tv v, tv d, int64_t want, bool *out) {
    tv m;
    sb_status st = tv_binop(r, n, OP_MOD, v, d, &m);
    if (st)
        return st;
    bool eq;
    st = tv_equal(m, tv_int(want), 4, &eq, r->err);
    tv_release(m);
    *out = eq;
    return rt_fix(r, n, st);
}

/* odd, even, divisibleby. */
static sb_status t_odd(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    (void)a;
    return mod_test(r, n, v, tv_int(2), 1, out);
}
static sb_status t_even(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    (void)a;
    return mod_test(r, n, v, tv_int(2), 0, out);
}
static sb_status t_divisibleby(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    const tv *d;
    sb_status st = need_arg(r, n, a, "divisibleby", &d);
    return st ? st : mod_test(r, n, v, *d, 0, out);
}

/* Comparison tests: eq/ne/lt/le/gt/ge and their symbol forms. */
static sb_status cmp_test(trender *r, const tnode *n, tv v, const targs *a, int op, bool *out) {
    const tv *other;
    sb_status st = need_arg(r, n, a, n->name, &other);
    if (st)
        return st;
    if (op == OP_EQ || op == OP_NE) {
        st = rt_equal(r, n, v, *other, out);
        if (op == OP_NE)
            *out = !*out;
        return st;
    }
    if (v.type == TV_UNDEF)
        return rt_undefined_error(r, n, v);
    if (other->type == TV_UNDEF)
        return rt_undefined_error(r, n, *other);
    const char *txt = op == OP_LT ? "<" : op == OP_LE ? "<=" : op == OP_GT ? ">" : ">=";
    int c;
    st = rt_compare(r, n, v, *other, &c, txt);
    if (st)
        return st;
    *out = op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
    return SB_OK;
}

/* The comparison tests. */
static sb_status t_eq(trender *r, const tnode *n, tv v, const targs *a, bool *out) { return cmp_test(r, n, v, a, OP_EQ, out); }
static sb_status t_ne(trender *r, const tnode *n, tv v, const targs *a, bool *out) { return cmp_test(r, n, v, a, OP_NE, out); }
static sb_status t_lt(trender *r, const tnode *n, tv v, const targs *a, bool *out) { return cmp_test(r, n, v, a, OP_LT, out); }
static sb_status t_le(trender *r, const tnode *n, tv v, const targs *a, bool *out) { return cmp_test(r, n, v, a, OP_LE, out); }
static sb_status t_gt(trender *r, const tnode *n, tv v, const targs *a, bool *out) { return cmp_test(r, n, v, a, OP_GT, out); }
static sb_status t_ge(trender *r, const tnode *n, tv v, const targs *a, bool *out) { return cmp_test(r, n, v, a, OP_GE, out); }

/* `x is in seq`. */
static sb_status t_in(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    const tv *seq;
    sb_status st = need_arg(r, n, a, "in", &seq);
    return st ? st : tv_contains(r, n, *seq, v, out);
}

/* `is sameas`: identity. Scalars of one type with one value are the same
 * object in CPython for None/True/False and small ints; compared by value. */
static sb_status t_sameas(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    const tv *o;
    sb_status st = need_arg(r, n, a, "sameas", &o);
    if (st)
        return st;
    if (v.type != o->type)
        *out = false;
    else if (tv_is_obj(v))
        *out = v.u.o == o->u.o;
    else if (v.type == TV_FLOAT)
        *out = v.u.f == o->u.f;
    else if (v.type == TV_INT)
        *out = v.u.i == o->u.i;
    else if (v.type == TV_BOOL)
        *out = v.u.b == o->u.b;
    else
        *out = true;
    return SB_OK;
}

/* `name is filter` / `name is test`: whether such a filter/test exists. */
static sb_status t_filter(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    (void)r, (void)n, (void)a;
    *out = v.type == TV_STR && filter_find(tv_str(v)->data) != NULL;
    return SB_OK;
}

static sb_status t_test(trender *r, const tnode *n, tv v, const targs *a, bool *out) {
    (void)r, (void)n, (void)a;
    *out = v.type == TV_STR && test_exists(tv_str(v)->data);
    return SB_OK;
}

typedef struct test_entry {
    const char *name;
    ttest_fn fn; /* NULL: a kind test */
    int kind;
} test_entry;

static const test_entry k_tests[] = {
    {"!=", t_ne, 0},           {"<", t_lt, 0},                {"<=", t_le, 0},           {"==", t_eq, 0},
    {">", t_gt, 0},            {">=", t_ge, 0},               {"boolean", NULL, K_BOOLEAN}, {"callable", NULL, K_CALLABLE},
    {"defined", NULL, K_DEFINED}, {"divisibleby", t_divisibleby, 0}, {"eq", t_eq, 0},    {"equalto", t_eq, 0},
    {"escaped", NULL, K_ESCAPED}, {"even", t_even, 0},        {"false", NULL, K_FALSE},  {"filter", t_filter, 0},
    {"float", NULL, K_FLOAT},  {"ge", t_ge, 0},               {"greaterthan", t_gt, 0},  {"gt", t_gt, 0},
    {"in", t_in, 0},           {"integer", NULL, K_INTEGER},  {"iterable", NULL, K_ITERABLE}, {"le", t_le, 0},
    {"lessthan", t_lt, 0},     {"lower", t_lower, 0},         {"lt", t_lt, 0},           {"mapping", NULL, K_MAPPING},
    {"ne", t_ne, 0},           {"none", NULL, K_NONE},        {"number", NULL, K_NUMBER}, {"odd", t_odd, 0},
    {"sameas", t_sameas, 0},   {"sequence", NULL, K_ITERABLE}, {"string", NULL, K_STRING}, {"test", t_test, 0},
    {"true", NULL, K_TRUE},    {"undefined", NULL, K_UNDEFINED}, {"upper", t_upper, 0},
};

/* The table entry of test name, or NULL. */
static const test_entry *test_entry_find(const char *name) {
    for (size_t i = 0; i < sizeof k_tests / sizeof k_tests[0]; i++)
        if (strcmp(k_tests[i].name, name) == 0)
            return &k_tests[i];
    return NULL;
}

/* Whether a test called name exists (used by the parser). */
bool test_exists(const char *name) { return test_entry_find(name) != NULL; }

/* Applies test `name` to v (borrowed). */
sb_status apply_test(trender *r, const tnode *n, const char *name, tv v, const targs *a, bool *out) {
    const test_entry *e = test_entry_find(name);
    if (!e)
        return rt_error(r, n, "TemplateAssertionError: no test named '%s'", name);
    *out = false;
    if (!e->fn) {
        *out = kind_test(e->kind, v);
        return SB_OK;
    }
    return e->fn(r, n, v, a, out);
}
