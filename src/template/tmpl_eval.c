/*
 * tmpl_eval.c - the evaluator: walks the AST, keeps scopes, writes output,
 * and enforces the render limits. Expressions return new references;
 * statements write to r->out. Scoping follows jinja2: a for-loop iteration,
 * a macro call and a `with` block get their own scope; `if` does not; a
 * `set` inside a loop is not seen after it (that is what namespace() is for).
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_time.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Evaluator recursion guard, independent of the syntax nesting limit: macro
 * calls multiply the nesting of their bodies. Keeps the C stack bounded. */
#define TMPL_MAX_EVAL_DEPTH 600

/* ---- errors and limits ---------------------------------------------------- */

/* Formats a runtime error with the node's line:column into r->err. */
static sb_status rt_vset(trender *r, const tnode *n, sb_status code, const char *prefix, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));
static sb_status rt_vset(trender *r, const tnode *n, sb_status code, const char *prefix, const char *fmt,
                         va_list ap) {
    char msg[400];
    vsnprintf(msg, sizeof msg, fmt, ap);
    return sb_error_set(r->err, code, "template:%u:%u: %s%s", n ? n->line : 0, n ? n->col : 0, prefix, msg);
}

/* A runtime error (SB_ERR_FORMAT) at node n. */
sb_status rt_error(trender *r, const tnode *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_status st = rt_vset(r, n, SB_ERR_FORMAT, "", fmt, ap);
    va_end(ap);
    return st;
}

/* A Python TypeError at node n. */
sb_status rt_type_error(trender *r, const tnode *n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_status st = rt_vset(r, n, SB_ERR_FORMAT, "TypeError: ", fmt, ap);
    va_end(ap);
    return st;
}

/* jinja2's UndefinedError for using an undefined value. */
sb_status rt_undefined_error(trender *r, const tnode *n, tv undef) {
    if (undef.u.name)
        return rt_error(r, n, "UndefinedError: '%s' is undefined", undef.u.name);
    return rt_error(r, n, "UndefinedError: value is undefined");
}

/* See tmpl_internal.h: completes a lower layer's failure into a message. */
sb_status rt_fix(trender *r, const tnode *n, sb_status st) {
    if (st >= SB_OK)
        return st;
    uint32_t line = n ? n->line : 0, col = n ? n->col : 0;
    if (r->err->code != st) {
        if (st == SB_ERR_NOMEM)
            return sb_error_set(r->err, st, "template: out of memory");
        if (st == SB_ERR_LIMIT)
            return sb_error_set(r->err, st, "template:%u:%u: text longer than %zu bytes (max_output_bytes)", line, col,
                                r->lim->max_output_bytes);
        return sb_error_set(r->err, st, "template:%u:%u: %s", line, col, sb_status_name(st));
    }
    if (st == SB_ERR_FORMAT && strncmp(r->err->msg, "template:", 9) != 0)
        sb_error_prefix(r->err, "template:%u:%u: ", line, col);
    return st;
}

/* Charges units of work; fails past limits.max_steps. */
sb_status rt_work(trender *r, const tnode *n, uint64_t units) {
    r->steps += units;
    if (r->steps <= r->lim->max_steps)
        return SB_OK;
    if (!n)
        return sb_error_set(r->err, SB_ERR_LIMIT, "template: evaluation took more than %llu steps (max_steps)",
                            (unsigned long long)r->lim->max_steps);
    return sb_error_set(r->err, SB_ERR_LIMIT, "template:%u:%u: evaluation took more than %llu steps (max_steps)",
                        n->line, n->col, (unsigned long long)r->lim->max_steps);
}

/* Charges one loop iteration; fails past limits.max_loop_iterations. */
sb_status rt_iteration(trender *r, const tnode *n) {
    if (++r->iterations > r->lim->max_loop_iterations)
        return sb_error_set(r->err, SB_ERR_LIMIT,
                            "template:%u:%u: more than %llu loop iterations (max_loop_iterations)", n->line, n->col,
                            (unsigned long long)r->lim->max_loop_iterations);
    return SB_OK;
}

/* Counts one level of evaluator recursion (the caller always undoes it with
 * r->depth--, also on failure) and one step of work. */
sb_status rt_equal(trender *r, const tnode *n, tv a, tv b, bool *eq) {
    uint64_t work = 0;
    sb_status st = rt_fix(r, n, tv_equal_w(a, b, r->lim->max_nesting, eq, r->err, &work));
    return st ? st : rt_work(r, n, work);
}

/* Python ordering, charging the values it visits as steps. */
sb_status rt_compare(trender *r, const tnode *n, tv a, tv b, int *cmp, const char *op) {
    uint64_t work = 0;
    sb_status st = rt_fix(r, n, tv_compare_w(a, b, r->lim->max_nesting, cmp, op, r->err, &work));
    return st ? st : rt_work(r, n, work);
}

/* Counts one level of syntax nesting against limits.max_nesting (caller undoes it). */
static sb_status enter(trender *r, const tnode *n) {
    if (++r->depth > TMPL_MAX_EVAL_DEPTH) {
        return sb_error_set(r->err, SB_ERR_LIMIT, "template:%u:%u: evaluation nested deeper than %d levels", n->line,
                            n->col, TMPL_MAX_EVAL_DEPTH);
    }
    return rt_work(r, n, 1);
}

/* ---- arguments ------------------------------------------------------------ */

/* Releases call arguments made by eval_args (the names are not owned). */
void targs_free(targs *a) {
    for (size_t i = 0; i < a->npos; i++)
        tv_release(a->pos[i]);
    for (size_t i = 0; i < a->nkw; i++)
        tv_release(a->kw[i]);
    sb_free(a->pos);
    sb_free(a->kw);
    memset(a, 0, sizeof *a);
}

/* Argument by position or keyword (borrowed), or NULL. */
const tv *arg_get(const targs *a, size_t pos, const char *name) {
    if (pos < a->npos)
        return &a->pos[pos];
    for (size_t i = 0; name && i < a->nkw; i++)
        if (strcmp(a->kwnames[i], name) == 0)
            return &a->kw[i];
    return NULL;
}

/* Rejects extra positional and unknown keyword arguments with a TypeError. */
sb_status arg_check(trender *r, const tnode *n, const targs *a, size_t max_pos, const char *const *names,
                    const char *what) {
    if (a->npos > max_pos)
        return rt_type_error(r, n, "%s takes at most %zu positional argument(s) (%zu given)", what, max_pos, a->npos);
    for (size_t i = 0; i < a->nkw; i++) {
        bool known = false;
        for (size_t k = 0; names && names[k]; k++)
            known |= strcmp(names[k], a->kwnames[i]) == 0;
        if (!known)
            return rt_type_error(r, n, "%s got an unexpected keyword argument '%s'", what, a->kwnames[i]);
    }
    return SB_OK;
}

/* Evaluates a call node's arguments (plus an optional extra keyword). */
static sb_status eval_args(trender *r, const tnode *n, const char *extra_name, tv extra, targs *a) {
    memset(a, 0, sizeof *a);
    size_t nkw = n->nkw + (extra_name ? 1 : 0);
    if ((n->nkids && !(a->pos = sb_calloc(n->nkids, sizeof(tv)))) || (nkw && !(a->kw = sb_calloc(nkw, sizeof(tv))))) {
        targs_free(a);
        return rt_fix(r, n, SB_ERR_NOMEM);
    }
    a->kwnames = (const char **)n->kwnames;
    for (uint32_t i = 0; i < n->nkids; i++) {
        sb_status st = eval_expr(r, n->kids[i], &a->pos[i]);
        if (st) {
            targs_free(a);
            return st;
        }
        a->npos++;
    }
    for (uint32_t i = 0; i < n->nkw; i++) {
        sb_status st = eval_expr(r, n->kwvals[i], &a->kw[i]);
        if (st) {
            targs_free(a);
            return st;
        }
        a->nkw++;
    }
    if (extra_name) {
        /* the names array is the node's; the extra one needs its own copy */
        const char **names = sb_calloc(nkw, sizeof *names);
        if (!names) {
            targs_free(a);
            return rt_fix(r, n, SB_ERR_NOMEM);
        }
        for (uint32_t i = 0; i < n->nkw; i++)
            names[i] = n->kwnames[i];
        names[n->nkw] = extra_name;
        a->kwnames = names;
        a->kw[a->nkw++] = tv_retain(extra);
    }
    return SB_OK;
}

/* Frees what eval_args made, including its own names array if any. */
static void eval_args_free(const tnode *n, targs *a) {
    const char **names = a->kwnames;
    bool own = names && names != (const char **)n->kwnames;
    targs_free(a);
    if (own)
        sb_free((void *)names);
}

/* ---- scopes --------------------------------------------------------------- */

/* The innermost binding of name in the scope chain (borrowed), or NULL. */
static tv *scope_find(trender *r, const char *name, size_t len) {
    for (tscope *s = r->scope; s; s = s->parent)
        if (s->vars) {
            tv *v = dict_get_str(s->vars, name, len);
            if (v)
                return v;
        }
    return NULL;
}

/* scope[key] = val (takes val). */
static sb_status scope_set(trender *r, tscope *s, tv key, tv val) {
    if (!s->vars) {
        tv d;
        sb_status st = dict_new(&r->heap, false, &d);
        if (st) {
            tv_release(val);
            return st;
        }
        s->vars = tv_dict(d);
    }
    return dict_set(s->vars, tv_retain(key), val);
}

/* A variable: scopes first, then global functions, else undefined. */
static sb_status lookup_name(trender *r, const tnode *n, tv *out) {
    tstr *name = tv_str(n->val);
    tv *v = scope_find(r, name->data, name->len);
    if (v) {
        *out = tv_retain(*v);
        return SB_OK;
    }
    int b = builtin_find(n->name);
    if (b >= 0) {
        out->type = TV_FUNC;
        out->u.i = b;
        return SB_OK;
    }
    *out = tv_undef(n->name);
    return SB_OK;
}

/* Assigns v (taken) to a target: a name, a tuple of names (unpacking), or ns.attr. */
static sb_status assign(trender *r, const tnode *target, tv v) {
    if (target->kind == N_NAME)
        return rt_fix(r, target, scope_set(r, r->scope, target->val, v));
    if (target->kind == N_NSREF) {
        tv *ns = scope_find(r, target->name, strlen(target->name));
        if (!ns || ns->type != TV_NS) {
            tv_release(v);
            return rt_type_error(r, target, "cannot assign attribute on non-namespace object");
        }
        return rt_fix(r, target, dict_set(tv_dict(*ns), tv_retain(target->val), v));
    }
    /* tuple unpacking */
    tlist *items;
    sb_status st = tv_iterate(r, target, v, &items);
    tv_release(v);
    if (st)
        return st;
    if (items->len != target->nkids) {
        size_t got = items->len;
        tobj_release(&items->h);
        if (got < target->nkids)
            return rt_error(r, target, "ValueError: not enough values to unpack (expected %u, got %zu)",
                            target->nkids, got);
        return rt_error(r, target, "ValueError: too many values to unpack (expected %u)", target->nkids);
    }
    for (uint32_t i = 0; i < target->nkids && st == SB_OK; i++)
        st = rt_fix(r, target, scope_set(r, r->scope, target->kids[i]->val, tv_retain(items->items[i])));
    tobj_release(&items->h);
    return st;
}

/* ---- output --------------------------------------------------------------- */

/* Writes str(v) to the current output. */
static sb_status write_value(trender *r, const tnode *n, tv v) {
    sb_status st;
    if (v.type == TV_STR) {
        st = rt_work(r, n, tv_str(v)->len / 16);
        if (st == SB_OK)
            st = sb_buf_append(r->out, tv_str(v)->data, tv_str(v)->len);
    } else
        st = tv_write_str(r->out, v, r->lim->max_nesting, r->err);
    return rt_fix(r, n, st);
}

static sb_status exec_body(trender *r, const tnode *body);

/* Renders a body into a new string value (macros, block set, filter blocks). */
static sb_status render_to_string(trender *r, const tnode *body, tv *out) {
    sb_buf b;
    sb_buf_init(&b);
    b.limit = r->lim->max_output_bytes;
    sb_buf *saved = r->out;
    r->out = &b;
    sb_status st = exec_body(r, body);
    r->out = saved;
    if (st == SB_OK)
        st = rt_fix(r, body, str_new(&r->heap, b.data ? b.data : "", b.len, out));
    sb_buf_free(&b);
    return st;
}

/* ---- calls ---------------------------------------------------------------- */

/* A macro's name for messages ("caller" for call blocks). */
static const char *macro_name(const tnode *def) { return def->kind == N_MACRO ? def->name : "caller"; }

/* Binds arguments to a macro's parameters in a new scope and renders its body. */
static sb_status call_macro(trender *r, const tnode *n, tmacro *m, const targs *a, tv *out) {
    const tnode *def = m->def;
    if (r->call_depth >= r->lim->max_call_depth)
        return sb_error_set(r->err, SB_ERR_LIMIT, "template:%u:%u: macro calls nested deeper than %u (max_call_depth)",
                            n->line, n->col, r->lim->max_call_depth);
    tscope *s;
    sb_status st = rt_fix(r, n, scope_new(&r->heap, m->closure, &s));
    if (st)
        return st;
    tscope *saved_scope = r->scope;
    r->scope = s;
    tv varargs = tv_undef(NULL), kwargs = tv_undef(NULL);
    for (size_t i = 0; i < a->npos && st == SB_OK; i++) {
        if (i < def->nkids) {
            st = rt_fix(r, n, scope_set(r, s, def->kids[i]->val, tv_retain(a->pos[i])));
        } else if (!(def->flags & MACRO_USES_VARARGS)) {
            st = rt_type_error(r, n, "macro '%s' takes not more than %u argument(s)", macro_name(def), def->nkids);
        } else {
            if (varargs.type == TV_UNDEF)
                st = rt_fix(r, n, list_new(&r->heap, 0, true, &varargs));
            if (st == SB_OK)
                st = rt_fix(r, n, list_push(tv_list(varargs), tv_retain(a->pos[i])));
        }
    }
    for (size_t k = 0; k < a->nkw && st == SB_OK; k++) {
        uint32_t i = 0;
        while (i < def->nkids && strcmp(def->kids[i]->name, a->kwnames[k]) != 0)
            i++;
        if (i < def->nkids) {
            st = rt_fix(r, n, scope_set(r, s, def->kids[i]->val, tv_retain(a->kw[k])));
        } else if (strcmp(a->kwnames[k], "caller") == 0 && (def->flags & MACRO_USES_CALLER)) {
            st = rt_fix(r, n, scope_set(r, s, str_static_caller(), tv_retain(a->kw[k])));
        } else if (!(def->flags & MACRO_USES_KWARGS)) {
            st = rt_type_error(r, n, "macro '%s' takes no keyword argument '%s'", macro_name(def), a->kwnames[k]);
        } else {
            tv key;
            if (kwargs.type == TV_UNDEF)
                st = rt_fix(r, n, dict_new(&r->heap, false, &kwargs));
            if (st == SB_OK)
                st = rt_fix(r, n, str_new(&r->heap, a->kwnames[k], strlen(a->kwnames[k]), &key));
            if (st == SB_OK)
                st = rt_fix(r, n, dict_set(tv_dict(kwargs), key, tv_retain(a->kw[k])));
        }
    }
    for (uint32_t i = 0; i < def->nkids && st == SB_OK; i++) {
        if (s->vars && dict_get(s->vars, def->kids[i]->val))
            continue; /* given by the caller */
        tv v = tv_undef(def->kids[i]->name);
        if (def->defs[i])
            st = eval_expr(r, def->defs[i], &v);
        if (st == SB_OK)
            st = rt_fix(r, n, scope_set(r, s, def->kids[i]->val, v));
    }
    if (st == SB_OK && varargs.type != TV_UNDEF) {
        st = rt_fix(r, n, scope_set(r, s, str_static_varargs(), varargs));
        varargs = tv_undef(NULL);
    }
    if (st == SB_OK && kwargs.type != TV_UNDEF) {
        st = rt_fix(r, n, scope_set(r, s, str_static_kwargs(), kwargs));
        kwargs = tv_undef(NULL);
    }
    if (st == SB_OK) {
        r->call_depth++;
        st = render_to_string(r, def->b, out);
        r->call_depth--;
    }
    tv_release(varargs);
    tv_release(kwargs);
    r->scope = saved_scope;
    tobj_release(&s->h);
    return st;
}

/* Calls any callable value; *out is a new reference. */
sb_status call_value(trender *r, const tnode *n, tv fn, const targs *a, tv *out) {
    switch (fn.type) {
    case TV_MACRO:
        return call_macro(r, n, (tmacro *)fn.u.o, a, out);
    case TV_FUNC:
        return builtin_call(r, n, (int)fn.u.i, a, out);
    case TV_BOUND: {
        tbound *b = (tbound *)fn.u.o;
        return method_call(r, n, b->self, b->method, a, out);
    }
    case TV_JOINER: {
        tjoiner *j = (tjoiner *)fn.u.o;
        *out = j->used ? tv_retain(j->sep) : str_empty();
        j->used = true;
        return SB_OK;
    }
    case TV_UNDEF:
        return rt_undefined_error(r, n, fn);
    default:
        return rt_type_error(r, n, "'%s' object is not callable", tv_type_name(fn));
    }
}

/* A call node; `obj.method(...)` is dispatched without making a bound method. */
static sb_status eval_call(trender *r, const tnode *n, const char *extra_name, tv extra, tv *out) {
    tv callee, obj = tv_undef(NULL);
    int method = -1;
    sb_status st;
    const tnode *c = n->a;
    if (c->kind == N_GETATTR) {
        if ((st = eval_expr(r, c->a, &obj)))
            return st;
        if (obj.type == TV_UNDEF) {
            st = rt_undefined_error(r, c, obj);
            tv_release(obj);
            return st;
        }
        if (obj.type != TV_NS && obj.type != TV_LOOP)
            method = method_find(obj, c->name, tv_str(c->val)->len);
        if (method < 0) {
            st = tv_getattr(r, c, obj, c->name, tv_str(c->val)->len, &callee);
            tv_release(obj);
            obj = tv_undef(NULL);
            if (st)
                return st;
        }
    } else if ((st = eval_expr(r, c, &callee)))
        return st;
    targs a;
    st = eval_args(r, n, extra_name, extra, &a);
    if (st == SB_OK) {
        st = method >= 0 ? method_call(r, n, obj, method, &a, out) : call_value(r, n, callee, &a, out);
        eval_args_free(n, &a);
    }
    if (method >= 0)
        tv_release(obj);
    else
        tv_release(callee);
    return st;
}

/* A filter node; in a filter block the innermost operand is `input`. */
static sb_status eval_filter(trender *r, const tnode *n, const tv *input, tv *out) {
    tv operand;
    sb_status st = enter(r, n); /* block filter chains recurse here, not through eval_expr */
    if (st == SB_OK) {
        if (!n->a)
            operand = tv_retain(*input);
        else
            st = n->a->kind == N_FILTER && input ? eval_filter(r, n->a, input, &operand) : eval_expr(r, n->a, &operand);
    }
    if (st == SB_OK) {
        targs a;
        st = eval_args(r, n, NULL, tv_undef(NULL), &a);
        if (st == SB_OK) {
            st = apply_filter(r, n, n->name, operand, &a, out);
            eval_args_free(n, &a);
        }
        tv_release(operand);
    }
    r->depth--;
    return st;
}

/* `x is test(args)`: a bool. */
static sb_status eval_test(trender *r, const tnode *n, tv *out) {
    tv operand;
    sb_status st = eval_expr(r, n->a, &operand);
    if (st)
        return st;
    targs a;
    st = eval_args(r, n, NULL, tv_undef(NULL), &a);
    if (st == SB_OK) {
        bool res;
        st = apply_test(r, n, n->name, operand, &a, &res);
        if (st == SB_OK)
            *out = tv_bool((n->flags & 1) ? !res : res);
        eval_args_free(n, &a);
    }
    tv_release(operand);
    return st;
}

/* ---- expressions ---------------------------------------------------------- */

/* One comparison of a chain (==, <, in, ...). */
static sb_status compare_one(trender *r, const tnode *n, int op, tv a, tv b, bool *res) {
    sb_status st;
    switch (op) {
    case OP_EQ: case OP_NE:
        st = rt_equal(r, n, a, b, res);
        if (op == OP_NE)
            *res = !*res;
        return st;
    case OP_IN: case OP_NOTIN:
        st = tv_contains(r, n, b, a, res);
        if (op == OP_NOTIN)
            *res = !*res;
        return st;
    default: {
        if (a.type == TV_UNDEF)
            return rt_undefined_error(r, n, a);
        if (b.type == TV_UNDEF)
            return rt_undefined_error(r, n, b);
        const char *txt = op == OP_LT ? "<" : op == OP_LE ? "<=" : op == OP_GT ? ">" : ">=";
        int c;
        st = rt_compare(r, n, a, b, &c, txt);
        if (st)
            return st;
        *res = op == OP_LT ? c < 0 : op == OP_LE ? c <= 0 : op == OP_GT ? c > 0 : c >= 0;
        return SB_OK;
    }
    }
}

/* A comparison chain: a < b < c compares pairwise, evaluating each operand once. */
static sb_status eval_compare(trender *r, const tnode *n, tv *out) {
    tv left;
    sb_status st = eval_expr(r, n->a, &left);
    if (st)
        return st;
    bool res = true;
    for (uint32_t i = 0; st == SB_OK && i < n->nkids && res; i++) {
        tv right;
        if ((st = eval_expr(r, n->kids[i], &right)))
            break;
        st = compare_one(r, n, n->ops[i], left, right, &res);
        tv_release(left);
        left = right;
    }
    tv_release(left);
    if (st == SB_OK)
        *out = tv_bool(res);
    return st;
}

/* not, unary - and +. */
static sb_status eval_unary(trender *r, const tnode *n, tv *out) {
    tv v;
    sb_status st = eval_expr(r, n->a, &v);
    if (st)
        return st;
    if (n->op == OP_NOT) {
        *out = tv_bool(!tv_truthy(v));
    } else if (v.type == TV_UNDEF) {
        st = rt_undefined_error(r, n, v);
    } else if (v.type == TV_INT || v.type == TV_BOOL) {
        int64_t i = v.type == TV_BOOL ? v.u.b : v.u.i;
        if (n->op == OP_NEG && i == INT64_MIN)
            st = rt_error(r, n, "OverflowError: integer result does not fit in 64 bits");
        else
            *out = tv_int(n->op == OP_NEG ? -i : i);
    } else if (v.type == TV_FLOAT) {
        *out = tv_float(n->op == OP_NEG ? -v.u.f : v.u.f);
    } else
        st = rt_type_error(r, n, "bad operand type for unary %s: '%s'", n->op == OP_NEG ? "-" : "+", tv_type_name(v));
    tv_release(v);
    return st;
}

/* One bound of a slice: an int, or absent/None. */
static sb_status slice_index(trender *r, const tnode *n, const tnode *e, bool *given, int64_t *i) {
    *given = false;
    if (!e)
        return SB_OK;
    tv v;
    sb_status st = eval_expr(r, e, &v);
    if (st)
        return st;
    if (v.type == TV_INT || v.type == TV_BOOL) {
        *given = true;
        *i = v.type == TV_BOOL ? v.u.b : v.u.i;
    } else if (v.type != TV_NONE) {
        st = rt_type_error(r, n, "slice indices must be integers or None or have an __index__ method");
    }
    tv_release(v);
    return st;
}

/* Python's slice.indices(): clamps start/stop for a sequence of length len. */
static size_t slice_adjust(int64_t len, bool has_start, int64_t start, bool has_stop, int64_t stop, int64_t step,
                           int64_t *first) {
    if (!has_start)
        start = step < 0 ? len - 1 : 0;
    else if (start < 0) {
        start += len;
        if (start < 0)
            start = step < 0 ? -1 : 0;
    } else if (start >= len)
        start = step < 0 ? len - 1 : len;
    if (!has_stop)
        stop = step < 0 ? -1 : len;
    else if (stop < 0) {
        stop += len;
        if (stop < 0)
            stop = step < 0 ? -1 : 0;
    } else if (stop >= len)
        stop = step < 0 ? len - 1 : len;
    *first = start;
    if (step > 0)
        return start < stop ? (size_t)((stop - start - 1) / step + 1) : 0;
    return stop < start ? (size_t)((start - stop - 1) / (-step) + 1) : 0;
}

/* obj[start:stop:step] on lists, tuples and strings (by code point). */
static sb_status eval_slice(trender *r, const tnode *n, tv *out) {
    tv obj;
    sb_status st = eval_expr(r, n->a, &obj);
    if (st)
        return st;
    bool hs, he, hp;
    int64_t start = 0, stop = 0, step = 1;
    if ((st = slice_index(r, n, n->b, &hs, &start)) || (st = slice_index(r, n, n->c, &he, &stop)) ||
        (st = slice_index(r, n, n->d, &hp, &step)))
        goto done;
    if (!hp)
        step = 1;
    if (step == 0) {
        st = rt_error(r, n, "ValueError: slice step cannot be zero");
        goto done;
    }
    if (step == INT64_MIN)
        step = -INT64_MAX;
    if (obj.type == TV_UNDEF) {
        st = rt_undefined_error(r, n, obj);
    } else if (obj.type == TV_LIST) {
        tlist *l = tv_list(obj);
        int64_t first;
        size_t count = slice_adjust((int64_t)l->len, hs, start, he, stop, step, &first);
        st = rt_work(r, n, count + 1);
        if (st == SB_OK)
            st = rt_fix(r, n, list_new(&r->heap, count, l->tuple, out));
        for (size_t k = 0; st == SB_OK && k < count; k++)
            tv_list(*out)->items[tv_list(*out)->len++] = tv_retain(l->items[first + (int64_t)k * step]);
    } else if (obj.type == TV_STR) {
        tstr *s = tv_str(obj);
        int64_t first;
        size_t count = slice_adjust((int64_t)s->ncp, hs, start, he, stop, step, &first);
        st = rt_work(r, n, s->len / 16 + 1);
        if (st == SB_OK)
            st = rt_fix(r, n, pystr_slice(r, obj, first, step, count, out));
    } else
        *out = tv_undef(NULL);
done:
    tv_release(obj);
    return st;
}

/* List, tuple and dict literals. */
static sb_status eval_literal(trender *r, const tnode *n, tv *out) {
    sb_status st;
    if (n->kind == N_DICT) {
        if ((st = rt_fix(r, n, dict_new(&r->heap, false, out))))
            return st;
        for (uint32_t i = 0; i + 1 < n->nkids && st == SB_OK; i += 2) {
            tv k, v;
            if ((st = eval_expr(r, n->kids[i], &k)))
                break;
            if (!tv_hashable(k)) {
                st = rt_type_error(r, n, "unhashable type: '%s'", tv_type_name(k));
                tv_release(k);
                break;
            }
            if ((st = eval_expr(r, n->kids[i + 1], &v))) {
                tv_release(k);
                break;
            }
            st = rt_fix(r, n, dict_set(tv_dict(*out), k, v));
        }
    } else {
        if ((st = rt_fix(r, n, list_new(&r->heap, n->nkids, n->kind == N_TUPLE, out))))
            return st;
        for (uint32_t i = 0; i < n->nkids && st == SB_OK; i++) {
            tv v;
            if ((st = eval_expr(r, n->kids[i], &v)) == SB_OK)
                tv_list(*out)->items[tv_list(*out)->len++] = v;
        }
    }
    if (st)
        tv_release(*out);
    return st;
}

/* Evaluates one expression node; *out is a new reference. */
static sb_status eval_inner(trender *r, const tnode *n, tv *out) {
    tv a, b;
    sb_status st;
    switch (n->kind) {
    case N_CONST:
        *out = tv_retain(n->val);
        return SB_OK;
    case N_NAME:
        return lookup_name(r, n, out);
    case N_LIST: case N_TUPLE: case N_DICT:
        return eval_literal(r, n, out);
    case N_GETATTR:
        if ((st = eval_expr(r, n->a, &a)))
            return st;
        st = tv_getattr(r, n, a, n->name, tv_str(n->val)->len, out);
        if (st == SB_OK && out->type == TV_UNDEF && !out->u.name)
            out->u.name = n->name; /* the AST outlives the render */
        tv_release(a);
        return st;
    case N_GETITEM:
        if ((st = eval_expr(r, n->a, &a)))
            return st;
        if ((st = eval_expr(r, n->b, &b)) == SB_OK) {
            st = tv_getitem(r, n, a, b, out);
            tv_release(b);
        }
        tv_release(a);
        return st;
    case N_SLICE:
        return eval_slice(r, n, out);
    case N_CALL:
        return eval_call(r, n, NULL, tv_undef(NULL), out);
    case N_FILTER:
        return eval_filter(r, n, NULL, out);
    case N_TEST:
        return eval_test(r, n, out);
    case N_UNARY:
        return eval_unary(r, n, out);
    case N_BINOP:
        if ((st = eval_expr(r, n->a, &a)))
            return st;
        if ((st = eval_expr(r, n->b, &b)) == SB_OK) {
            st = tv_binop(r, n, n->op, a, b, out);
            tv_release(b);
        }
        tv_release(a);
        return st;
    case N_AND: case N_OR:
        if ((st = eval_expr(r, n->a, &a)))
            return st;
        if (tv_truthy(a) == (n->kind == N_OR)) {
            *out = a;
            return SB_OK;
        }
        tv_release(a);
        return eval_expr(r, n->b, out);
    case N_COMPARE:
        return eval_compare(r, n, out);
    case N_CONDEXPR:
        if ((st = eval_expr(r, n->a, &a)))
            return st;
        bool t = tv_truthy(a);
        tv_release(a);
        if (t)
            return eval_expr(r, n->b, out);
        if (n->c)
            return eval_expr(r, n->c, out);
        *out = tv_undef(NULL);
        return SB_OK;
    default:
        return rt_error(r, n, "internal error: node %d is not an expression", n->kind);
    }
}

/* Evaluates an expression with the depth and step limits applied. */
sb_status eval_expr(trender *r, const tnode *n, tv *out) {
    sb_status st = enter(r, n);
    if (st == SB_OK)
        st = eval_inner(r, n, out);
    r->depth--;
    return st;
}

/* ---- statements ----------------------------------------------------------- */

static sb_status exec_stmt(trender *r, const tnode *n);

/* Runs a list of statements (or one statement) until one fails or breaks. */
static sb_status exec_body(trender *r, const tnode *body) {
    if (body->kind != N_BODY)
        return exec_stmt(r, body);
    for (uint32_t i = 0; i < body->nkids; i++) {
        sb_status st = exec_stmt(r, body->kids[i]);
        if (st)
            return st;
    }
    return SB_OK;
}

/* Runs `body` in a new scope below the current one. */
static sb_status with_scope(trender *r, const tnode *n, tscope **out) {
    return rt_fix(r, n, scope_new(&r->heap, r->scope, out));
}

/* A for loop: snapshot the items, filter them, then one scope per iteration. */
static sb_status exec_for(trender *r, const tnode *n) {
    tv iterable;
    sb_status st = eval_expr(r, n->b, &iterable);
    if (st)
        return st;
    tlist *items;
    st = tv_iterate(r, n->b, iterable, &items);
    tv_release(iterable);
    if (st)
        return st;
    tscope *outer = r->scope;
    if (n->e) { /* `for x in xs if cond`: filter first, so loop.length counts what remains */
        tv kept;
        if ((st = rt_fix(r, n, list_new(&r->heap, 0, false, &kept)))) {
            tobj_release(&items->h);
            return st;
        }
        for (size_t i = 0; st == SB_OK && i < items->len; i++) {
            tscope *s;
            if ((st = with_scope(r, n, &s)))
                break;
            r->scope = s;
            tv cond;
            st = assign(r, n->a, tv_retain(items->items[i]));
            if (st == SB_OK && (st = eval_expr(r, n->e, &cond)) == SB_OK) {
                if (tv_truthy(cond))
                    st = rt_fix(r, n, list_push(tv_list(kept), tv_retain(items->items[i])));
                tv_release(cond);
            }
            r->scope = outer;
            tobj_release(&s->h);
            if (st == SB_OK)
                st = rt_iteration(r, n);
        }
        tobj_release(&items->h);
        if (st) {
            tv_release(kept);
            return st;
        }
        items = tv_list(kept);
    }
    tv loop;
    if ((st = rt_fix(r, n, loop_new(&r->heap, items, &loop)))) {
        tobj_release(&items->h);
        return st;
    }
    for (size_t i = 0; i < items->len; i++) {
        if ((st = rt_iteration(r, n)))
            break;
        ((tloop *)loop.u.o)->index0 = i;
        tscope *s;
        if ((st = with_scope(r, n, &s)))
            break;
        r->scope = s;
        st = assign(r, n->a, tv_retain(items->items[i]));
        if (st == SB_OK)
            st = rt_fix(r, n, scope_set(r, s, str_static_loop(), tv_retain(loop)));
        if (st == SB_OK)
            st = exec_body(r, n->c);
        r->scope = outer;
        tobj_release(&s->h);
        if (st == TS_CONTINUE)
            st = SB_OK;
        if (st)
            break;
    }
    if (st == TS_BREAK)
        st = SB_OK;
    if (st == SB_OK && items->len == 0 && n->d)
        st = exec_body(r, n->d);
    tv_release(loop);
    tobj_release(&items->h);
    return st;
}

/* {% call %}: calls the macro with the block as its `caller`. */
static sb_status exec_call_block(trender *r, const tnode *n) {
    tv caller, v;
    sb_status st = rt_fix(r, n, macro_new(&r->heap, n, r->scope, &caller));
    if (st)
        return st;
    st = eval_call(r, n->a, "caller", caller, &v);
    tv_release(caller);
    if (st)
        return st;
    st = write_value(r, n, v);
    tv_release(v);
    return st;
}

/* {% with %}: values evaluated outside, bound in a new scope. */
static sb_status exec_with(trender *r, const tnode *n) {
    tscope *s;
    sb_status st = with_scope(r, n, &s);
    if (st)
        return st;
    tscope *outer = r->scope;
    for (uint32_t i = 0; i < n->nkids && st == SB_OK; i++) {
        tv v;
        if ((st = eval_expr(r, n->defs[i], &v)))
            break;
        r->scope = s;
        st = assign(r, n->kids[i], v);
        r->scope = outer;
    }
    if (st == SB_OK) {
        r->scope = s;
        st = exec_body(r, n->b);
        r->scope = outer;
    }
    tobj_release(&s->h);
    return st;
}

/* Runs one statement node. */
static sb_status exec_inner(trender *r, const tnode *n) {
    tv v, text;
    sb_status st;
    switch (n->kind) {
    case N_BODY:
        return exec_body(r, n);
    case N_TEXT:
        return write_value(r, n, n->val);
    case N_OUTPUT:
        if ((st = eval_expr(r, n->a, &v)))
            return st;
        st = write_value(r, n, v);
        tv_release(v);
        return st;
    case N_IF:
        if ((st = eval_expr(r, n->a, &v)))
            return st;
        bool t = tv_truthy(v);
        tv_release(v);
        if (t)
            return exec_body(r, n->b);
        return n->c ? exec_body(r, n->c) : SB_OK;
    case N_FOR:
        return exec_for(r, n);
    case N_SET:
        if ((st = eval_expr(r, n->b, &v)))
            return st;
        return assign(r, n->a, v);
    case N_SETBLOCK:
        if ((st = render_to_string(r, n->b, &text)))
            return st;
        if (n->c) {
            st = eval_filter(r, n->c, &text, &v);
            tv_release(text);
            if (st)
                return st;
            text = v;
        }
        return assign(r, n->a, text);
    case N_MACRO:
        if ((st = rt_fix(r, n, macro_new(&r->heap, n, r->scope, &v))))
            return st;
        return rt_fix(r, n, scope_set(r, r->scope, n->val, v));
    case N_CALLBLOCK:
        return exec_call_block(r, n);
    case N_FILTERBLOCK:
        if ((st = render_to_string(r, n->b, &text)))
            return st;
        st = eval_filter(r, n->a, &text, &v);
        tv_release(text);
        if (st)
            return st;
        st = write_value(r, n, v);
        tv_release(v);
        return st;
    case N_WITH:
        return exec_with(r, n);
    case N_BREAK:
        return TS_BREAK;
    case N_CONTINUE:
        return TS_CONTINUE;
    default:
        return rt_error(r, n, "internal error: node %d is not a statement", n->kind);
    }
}

/* Runs a statement with the depth and step limits applied. */
static sb_status exec_stmt(trender *r, const tnode *n) {
    sb_status st = enter(r, n);
    if (st == SB_OK)
        st = exec_inner(r, n);
    r->depth--;
    return st;
}

/* ---- render --------------------------------------------------------------- */

/* Binds a global variable (takes v). */
static sb_status set_global(trender *r, const char *name, tv v) {
    tv key;
    sb_status st = str_new(&r->heap, name, strlen(name), &key);
    if (st) {
        tv_release(v);
        return st;
    }
    st = scope_set(r, r->globals, key, v);
    tv_release(key);
    return st;
}

static sb_status set_global_copy(trender *r, const char *name, const sb_tmpl_value *v);

/* Copies the inputs into the render heap as global variables. */
static sb_status load_inputs(trender *r, const sb_template_inputs *in) {
    sb_status st = SB_OK;
    const sb_tmpl_value *extra = in->extra;
    if (extra) {
        tv e = *(const tv *)extra;
        if (e.type != TV_DICT)
            return sb_error_set(r->err, SB_ERR_INTERNAL, "template: extra variables must be a dict");
        tdict *d = tv_dict(e);
        for (size_t i = 0; i < d->len && st == SB_OK; i++) {
            if (d->ents[i].key.type != TV_STR)
                continue;
            tv copy;
            st = tv_deep_copy(&r->heap, d->ents[i].val, r->lim->max_nesting, &copy);
            if (st == SB_OK)
                st = set_global(r, tv_str(d->ents[i].key)->data, copy);
        }
    }
    if (st == SB_OK && in->messages)
        st = set_global_copy(r, "messages", in->messages);
    if (st == SB_OK && in->tools)
        st = set_global_copy(r, "tools", in->tools);
    if (st == SB_OK)
        st = set_global(r, "add_generation_prompt", tv_bool(in->add_generation_prompt));
    tv s;
    if (st == SB_OK && (st = str_new_checked(&r->heap, in->bos_token.ptr ? in->bos_token.ptr : "", in->bos_token.len,
                                             &s)) == SB_OK)
        st = set_global(r, "bos_token", s);
    if (st == SB_OK && (st = str_new_checked(&r->heap, in->eos_token.ptr ? in->eos_token.ptr : "", in->eos_token.len,
                                             &s)) == SB_OK)
        st = set_global(r, "eos_token", s);
    return st;
}

/* Binds a global variable to a copy of a caller's value. */
static sb_status set_global_copy(trender *r, const char *name, const sb_tmpl_value *v) {
    tv copy;
    sb_status st = tv_deep_copy(&r->heap, *(const tv *)v, r->lim->max_nesting, &copy);
    if (st)
        return st;
    return set_global(r, name, copy);
}

/* Renders t with inputs in; the text is handed to the caller (sb_free). */
sb_status tmpl_render(const sb_template *t, const sb_template_inputs *in, char **out, size_t *out_len, sb_error *err);
/* Sets up the heap, scopes and inputs, runs the template, hands out the text. */
sb_status tmpl_render(const sb_template *t, const sb_template_inputs *in, char **out, size_t *out_len, sb_error *err) {
    sb_error local;
    sb_error_clear(&local);
    trender r;
    memset(&r, 0, sizeof r);
    r.t = t;
    r.lim = &t->limits;
    r.err = &local;
    r.now = in->now;
    heap_init(&r.heap, t->limits.max_memory_bytes, &local);
    sb_buf text;
    sb_buf_init(&text);
    text.limit = t->limits.max_output_bytes;
    r.out = &text;
    tscope *root = NULL;
    sb_status st = scope_new(&r.heap, NULL, &r.globals);
    if (st == SB_OK) {
        r.scope = r.globals;
        st = load_inputs(&r, in);
    }
    if (st == SB_OK)
        st = scope_new(&r.heap, r.globals, &root);
    if (st == SB_OK) {
        r.scope = root;
        st = exec_body(&r, t->root);
        if (st > 0)
            st = SB_OK;
    }
    if (st < SB_OK && local.code != st)
        rt_fix(&r, NULL, st);
    if (st == SB_OK) {
        size_t len = text.len;
        char *s = sb_buf_detach(&text, &len);
        if (!s)
            st = sb_error_set(&local, SB_ERR_NOMEM, "template: out of memory");
        else {
            s[len] = '\0'; /* detach of a never-filled buffer does not terminate it */
            *out = s;
            if (out_len)
                *out_len = len;
        }
    }
    sb_buf_free(&text);
    heap_destroy(&r.heap);
    if (st && err)
        *err = local;
    return st;
}
