/*
 * tmpl_ops.c - Python operator semantics on template values: attribute and
 * item lookup (jinja2's getattr-then-getitem rules), slicing, arithmetic,
 * `in`, iteration and str().
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_checked.h"

#include <math.h>
#include <string.h>

/* str(v) as a string value (a new reference). */
sb_status tv_to_str(trender *r, const tnode *n, tv v, tv *out) {
    if (v.type == TV_STR) {
        *out = tv_retain(v);
        return SB_OK;
    }
    if (v.type == TV_UNDEF) {
        *out = str_empty();
        return SB_OK;
    }
    sb_buf b;
    sb_buf_init(&b);
    b.limit = r->lim->max_output_bytes;
    sb_status st = tv_write_str(&b, v, r->lim->max_nesting, r->err);
    if (st == SB_OK)
        st = rt_work(r, n, b.len / 4 + 1);
    if (st == SB_OK)
        st = str_new(&r->heap, b.data ? b.data : "", b.len, out);
    sb_buf_free(&b);
    return rt_fix(r, n, st);
}

/* The items iteration over v yields, as a new list (a snapshot). */
sb_status tv_iterate(trender *r, const tnode *n, tv v, tlist **out) {
    tv lst;
    sb_status st;
    switch (v.type) {
    case TV_UNDEF:
        st = list_new(&r->heap, 0, false, &lst);
        break;
    case TV_LIST: {
        tlist *src = tv_list(v);
        st = rt_work(r, n, src->len);
        if (st == SB_OK)
            st = list_new(&r->heap, src->len, false, &lst);
        for (size_t i = 0; st == SB_OK && i < src->len; i++)
            tv_list(lst)->items[tv_list(lst)->len++] = tv_retain(src->items[i]);
        break;
    }
    case TV_DICT: {
        tdict *d = tv_dict(v);
        st = rt_work(r, n, d->len);
        if (st == SB_OK)
            st = list_new(&r->heap, d->len, false, &lst);
        for (size_t i = 0; st == SB_OK && i < d->len; i++)
            tv_list(lst)->items[tv_list(lst)->len++] = tv_retain(d->ents[i].key);
        break;
    }
    case TV_STR: {
        tstr *s = tv_str(v);
        st = rt_work(r, n, s->len);
        if (st == SB_OK)
            st = list_new(&r->heap, s->ncp, false, &lst);
        if (st)
            return st;
        for (size_t i = 0; st == SB_OK && i < s->len;) {
            size_t start = i;
            uc_next(s->data, s->len, &i);
            tv ch;
            st = str_new(&r->heap, s->data + start, i - start, &ch);
            if (st == SB_OK)
                st = list_push(tv_list(lst), ch);
        }
        if (st)
            tv_release(lst);
        break;
    }
    default:
        return rt_type_error(r, n, "'%s' object is not iterable", tv_type_name(v));
    }
    if (st)
        return st;
    *out = tv_list(lst);
    return SB_OK;
}

/* ---- attribute / item access --------------------------------------------- */

/* An attribute of the `loop` variable. */
static sb_status loop_attr(trender *r, const tnode *n, tloop *l, const char *name, tv self, tv *out) {
    size_t len = l->items->len, i = l->index0;
    if (!strcmp(name, "index"))
        *out = tv_int((int64_t)i + 1);
    else if (!strcmp(name, "index0"))
        *out = tv_int((int64_t)i);
    else if (!strcmp(name, "revindex"))
        *out = tv_int((int64_t)(len - i));
    else if (!strcmp(name, "revindex0"))
        *out = tv_int((int64_t)(len - i - 1));
    else if (!strcmp(name, "first"))
        *out = tv_bool(i == 0);
    else if (!strcmp(name, "last"))
        *out = tv_bool(i + 1 == len);
    else if (!strcmp(name, "length"))
        *out = tv_int((int64_t)len);
    else if (!strcmp(name, "depth"))
        *out = tv_int(1);
    else if (!strcmp(name, "depth0"))
        *out = tv_int(0);
    else if (!strcmp(name, "previtem"))
        *out = i > 0 ? tv_retain(l->items->items[i - 1]) : tv_undef("previtem");
    else if (!strcmp(name, "nextitem"))
        *out = i + 1 < len ? tv_retain(l->items->items[i + 1]) : tv_undef("nextitem");
    else {
        int m = method_find(self, name, strlen(name));
        if (m >= 0)
            return bound_new(&r->heap, self, m, out);
        *out = tv_undef(NULL);
    }
    (void)n;
    return SB_OK;
}

/* obj.name as jinja2 resolves it: a Python attribute (methods of str, list,
 * dict; namespace and loop attributes) first, then obj[name], else undefined.
 * `name` must be NUL-terminated at len. A missing attribute gives an
 * undefined without a name: `name` may not outlive this call (the caller
 * names it when it has a name that does). */
sb_status tv_getattr(trender *r, const tnode *n, tv obj, const char *name, size_t len, tv *out) {
    switch (obj.type) {
    case TV_UNDEF:
        return rt_undefined_error(r, n, obj);
    case TV_NS: {
        tv *v = dict_get_str(tv_dict(obj), name, len);
        *out = v ? tv_retain(*v) : tv_undef(NULL);
        return SB_OK;
    }
    case TV_LOOP:
        return loop_attr(r, n, (tloop *)obj.u.o, name, obj, out);
    case TV_LIST: { /* a named tuple's fields (groupby's grouper / list) */
        const tlist *l = tv_list(obj);
        for (size_t i = 0; l->fields && l->fields[i] && i < l->len; i++)
            if (strlen(l->fields[i]) == len && memcmp(l->fields[i], name, len) == 0) {
                *out = tv_retain(l->items[i]);
                return SB_OK;
            }
        break;
    }
    case TV_CYCLER:
        if (!strcmp(name, "current")) {
            tcycler *c = (tcycler *)obj.u.o;
            *out = c->items->len ? tv_retain(c->items->items[c->pos % c->items->len]) : tv_none();
            return SB_OK;
        }
        break;
    default:
        break;
    }
    int m = method_find(obj, name, len);
    if (m >= 0)
        return bound_new(&r->heap, obj, m, out);
    if (obj.type == TV_DICT) {
        tv *v = dict_get_str(tv_dict(obj), name, len);
        *out = v ? tv_retain(*v) : tv_undef(NULL);
        return SB_OK;
    }
    *out = tv_undef(NULL);
    return SB_OK;
}

/* Normalizes a Python index (negative from the end); false if out of range. */
static bool py_index(int64_t i, size_t len, size_t *out) {
    if (i < 0)
        i += (int64_t)len;
    if (i < 0 || (uint64_t)i >= len)
        return false;
    *out = (size_t)i;
    return true;
}

/* An int (or bool) usable as an index. */
static bool as_index(tv k, int64_t *i) {
    if (k.type == TV_INT) {
        *i = k.u.i;
        return true;
    }
    if (k.type == TV_BOOL) {
        *i = k.u.b;
        return true;
    }
    return false;
}

/* obj[key] as jinja2 resolves it: item first, then attribute for string
 * keys, else undefined. */
sb_status tv_getitem(trender *r, const tnode *n, tv obj, tv key, tv *out) {
    int64_t i;
    size_t idx;
    switch (obj.type) {
    case TV_UNDEF:
        return rt_undefined_error(r, n, obj);
    case TV_LIST:
        if (as_index(key, &i)) {
            if (py_index(i, tv_list(obj)->len, &idx)) {
                *out = tv_retain(tv_list(obj)->items[idx]);
                return SB_OK;
            }
            *out = tv_undef(NULL);
            return SB_OK;
        }
        break;
    case TV_STR:
        if (as_index(key, &i)) {
            tstr *s = tv_str(obj);
            if (!py_index(i, s->ncp, &idx)) {
                *out = tv_undef(NULL);
                return SB_OK;
            }
            sb_status st = rt_work(r, n, s->ncp == s->len ? 1 : idx / 16 + 1);
            if (st)
                return st;
            size_t off = uc_offset(s, idx), end = off;
            uc_next(s->data, s->len, &end);
            return str_new(&r->heap, s->data + off, end - off, out);
        }
        break;
    case TV_DICT:
    case TV_NS:
        if (tv_hashable(key)) {
            sb_status st = rt_work(r, n, tv_key_weight(key));
            if (st)
                return st;
            tv *v = dict_get(tv_dict(obj), key);
            if (v) {
                *out = tv_retain(*v);
                return SB_OK;
            }
        }
        if (obj.type == TV_NS) {
            *out = tv_undef(NULL);
            return SB_OK;
        }
        break;
    default:
        break;
    }
    if (key.type == TV_STR)
        return tv_getattr(r, n, obj, tv_str(key)->data, tv_str(key)->len, out);
    *out = tv_undef(NULL);
    return SB_OK;
}

/* ---- arithmetic ---------------------------------------------------------- */

/* Number helpers: bool counts as int, as in Python. */
static bool is_num(tv v) { return v.type == TV_INT || v.type == TV_FLOAT || v.type == TV_BOOL; }
static bool is_intlike(tv v) { return v.type == TV_INT || v.type == TV_BOOL; }
static int64_t ival(tv v) { return v.type == TV_BOOL ? v.u.b : v.u.i; }
static double fval(tv v) { return v.type == TV_FLOAT ? v.u.f : (double)ival(v); }

/* An operator as Python names it in messages. */
static const char *op_text(int op) {
    switch (op) {
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_FLOORDIV: return "//";
    case OP_MOD: return "%";
    case OP_POW: return "** or pow()";
    default: return "?";
    }
}

/* Python's TypeError for operands an operator does not take. */
static sb_status unsupported(trender *r, const tnode *n, int op, tv a, tv b) {
    return rt_type_error(r, n, "unsupported operand type(s) for %s: '%s' and '%s'", op_text(op), tv_type_name(a),
                         tv_type_name(b));
}

/* Integers are 64-bit here; Python would grow them. */
static sb_status overflow(trender *r, const tnode *n) {
    return rt_error(r, n, "OverflowError: integer result does not fit in 64 bits");
}

/* s * count (Python str/list repetition). */
static sb_status repeat(trender *r, const tnode *n, tv seq, int64_t count, tv *out) {
    if (count < 0)
        count = 0;
    if (seq.type == TV_STR) {
        tstr *s = tv_str(seq);
        size_t total;
        if (!sb_mul_size(s->len, (size_t)count, &total) || total > r->lim->max_output_bytes)
            return sb_error_set(r->err, SB_ERR_LIMIT, "template:%u:%u: string repetition longer than %zu bytes",
                                n->line, n->col, r->lim->max_output_bytes);
        sb_status st = rt_work(r, n, total / 16 + 1);
        if (st)
            return st;
        sb_buf b;
        sb_buf_init(&b);
        st = sb_buf_reserve(&b, total + 1);
        for (int64_t k = 0; st == SB_OK && k < count; k++)
            st = sb_buf_append(&b, s->data, s->len);
        if (st == SB_OK)
            st = str_new(&r->heap, b.data ? b.data : "", b.len, out);
        sb_buf_free(&b);
        return st;
    }
    tlist *l = tv_list(seq);
    size_t total;
    if (!sb_mul_size(l->len, (size_t)count, &total) || total > r->lim->max_loop_iterations)
        return sb_error_set(r->err, SB_ERR_LIMIT, "template:%u:%u: list repetition longer than %llu items", n->line,
                            n->col, (unsigned long long)r->lim->max_loop_iterations);
    sb_status st = rt_work(r, n, total + 1);
    if (st == SB_OK)
        st = list_new(&r->heap, total, l->tuple, out);
    for (int64_t k = 0; st == SB_OK && k < count; k++)
        for (size_t i = 0; i < l->len; i++)
            tv_list(*out)->items[tv_list(*out)->len++] = tv_retain(l->items[i]);
    return st;
}

/* a + b for lists (or tuples). */
static sb_status concat_lists(trender *r, const tnode *n, tlist *a, tlist *b, tv *out) {
    sb_status st = rt_work(r, n, a->len + b->len + 1);
    if (st == SB_OK)
        st = list_new(&r->heap, a->len + b->len, a->tuple, out);
    for (size_t i = 0; st == SB_OK && i < a->len; i++)
        tv_list(*out)->items[tv_list(*out)->len++] = tv_retain(a->items[i]);
    for (size_t i = 0; st == SB_OK && i < b->len; i++)
        tv_list(*out)->items[tv_list(*out)->len++] = tv_retain(b->items[i]);
    return st;
}

/* a + b for strings (either may be returned as is when the other is empty). */
static sb_status concat_strs(trender *r, const tnode *n, tstr *a, tstr *b, tv *out) {
    size_t total;
    if (!sb_add_size(a->len, b->len, &total) || total > r->lim->max_output_bytes)
        return sb_error_set(r->err, SB_ERR_LIMIT, "template:%u:%u: string longer than %zu bytes", n->line, n->col,
                            r->lim->max_output_bytes);
    sb_status st = rt_work(r, n, total / 16 + 1);
    if (st)
        return st;
    if (a->len == 0) {
        *out = tv_retain((tv){.type = TV_STR, .u.o = &b->h});
        return SB_OK;
    }
    if (b->len == 0) {
        *out = tv_retain((tv){.type = TV_STR, .u.o = &a->h});
        return SB_OK;
    }
    sb_buf buf;
    sb_buf_init(&buf);
    st = sb_buf_reserve(&buf, total + 1);
    if (st == SB_OK)
        st = sb_buf_append(&buf, a->data, a->len);
    if (st == SB_OK)
        st = sb_buf_append(&buf, b->data, b->len);
    if (st == SB_OK)
        st = str_new(&r->heap, buf.data, buf.len, out);
    sb_buf_free(&buf);
    return st;
}

/* Python floor division and modulo for ints (b != 0). */
static int64_t floordiv_i(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}
/* Python's modulo for ints (sign of the divisor). */
static int64_t mod_i(int64_t a, int64_t b) {
    int64_t m = a % b;
    if (m != 0 && ((m < 0) != (b < 0)))
        m += b;
    return m;
}

/* Python's modulo for floats. */
static double mod_f(double a, double b) {
    double m = fmod(a, b);
    if (m != 0) {
        if ((b < 0) != (m < 0))
            m += b;
    } else
        m = copysign(0.0, b);
    return m;
}

/* Python float floor division (CPython's float_floor_div). */
static double floordiv_f(double vx, double wx) {
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod != 0 && ((wx < 0) != (mod < 0)))
        div -= 1.0;
    if (div == 0)
        return copysign(0.0, vx / wx);
    double fl = floor(div);
    if (div - fl > 0.5)
        fl += 1.0;
    return fl;
}

/* base ** exp for ints, exp >= 0, with overflow checks. */
static sb_status int_pow(trender *r, const tnode *n, int64_t base, int64_t exp, tv *out) {
    int64_t result = 1;
    while (exp > 0) {
        if (exp & 1) {
            if (!sb_mul_i64(result, base, &result))
                return overflow(r, n);
        }
        exp >>= 1;
        if (exp && !sb_mul_i64(base, base, &base))
            return overflow(r, n);
    }
    *out = tv_int(result);
    return SB_OK;
}

/* a <op> b with Python semantics (op: + - * / // % ** ~). */
sb_status tv_binop(trender *r, const tnode *n, int op, tv a, tv b, tv *out) {
    if (op == OP_TILDE) {
        tv sa, sb;
        sb_status st = tv_to_str(r, n, a, &sa);
        if (st)
            return st;
        st = tv_to_str(r, n, b, &sb);
        if (st == SB_OK) {
            st = concat_strs(r, n, tv_str(sa), tv_str(sb), out);
            tv_release(sb);
        }
        tv_release(sa);
        return st;
    }
    if (a.type == TV_UNDEF)
        return rt_undefined_error(r, n, a);
    if (b.type == TV_UNDEF)
        return rt_undefined_error(r, n, b);
    if (is_num(a) && is_num(b)) {
        bool ints = is_intlike(a) && is_intlike(b);
        int64_t x = ints ? ival(a) : 0, y = ints ? ival(b) : 0, z;
        double fx = fval(a), fy = fval(b);
        switch (op) {
        case OP_ADD:
            if (!ints) {
                *out = tv_float(fx + fy);
                return SB_OK;
            }
            if (!sb_add_i64(x, y, &z))
                return overflow(r, n);
            *out = tv_int(z);
            return SB_OK;
        case OP_SUB:
            if (!ints) {
                *out = tv_float(fx - fy);
                return SB_OK;
            }
            if (__builtin_sub_overflow(x, y, &z))
                return overflow(r, n);
            *out = tv_int(z);
            return SB_OK;
        case OP_MUL:
            if (!ints) {
                *out = tv_float(fx * fy);
                return SB_OK;
            }
            if (!sb_mul_i64(x, y, &z))
                return overflow(r, n);
            *out = tv_int(z);
            return SB_OK;
        case OP_DIV:
            if (fy == 0)
                return rt_error(r, n, "ZeroDivisionError: division by zero");
            *out = tv_float(fx / fy);
            return SB_OK;
        case OP_FLOORDIV:
            if (ints) {
                if (y == 0)
                    return rt_error(r, n, "ZeroDivisionError: integer division or modulo by zero");
                if (x == INT64_MIN && y == -1)
                    return overflow(r, n);
                *out = tv_int(floordiv_i(x, y));
                return SB_OK;
            }
            if (fy == 0)
                return rt_error(r, n, "ZeroDivisionError: float floor division by zero");
            *out = tv_float(floordiv_f(fx, fy));
            return SB_OK;
        case OP_MOD:
            if (ints) {
                if (y == 0)
                    return rt_error(r, n, "ZeroDivisionError: integer division or modulo by zero");
                *out = tv_int(y == -1 ? 0 : mod_i(x, y));
                return SB_OK;
            }
            if (fy == 0)
                return rt_error(r, n, "ZeroDivisionError: float modulo");
            *out = tv_float(mod_f(fx, fy));
            return SB_OK;
        case OP_POW:
            if (ints && y >= 0)
                return int_pow(r, n, x, y, out);
            if (fx == 0 && fy < 0)
                return rt_error(r, n, "ZeroDivisionError: 0.0 cannot be raised to a negative power");
            *out = tv_float(pow(fx, fy));
            return SB_OK;
        default:
            return unsupported(r, n, op, a, b);
        }
    }
    if (op == OP_ADD) {
        if (a.type == TV_STR && b.type == TV_STR)
            return concat_strs(r, n, tv_str(a), tv_str(b), out);
        if (a.type == TV_LIST && b.type == TV_LIST && tv_list(a)->tuple == tv_list(b)->tuple)
            return concat_lists(r, n, tv_list(a), tv_list(b), out);
        if (a.type == TV_STR || a.type == TV_LIST)
            return rt_type_error(r, n, "can only concatenate %s (not \"%s\") to %s", tv_type_name(a), tv_type_name(b),
                                 tv_type_name(a));
        return unsupported(r, n, op, a, b);
    }
    if (op == OP_MUL) {
        if ((a.type == TV_STR || a.type == TV_LIST) && is_intlike(b))
            return repeat(r, n, a, ival(b), out);
        if ((b.type == TV_STR || b.type == TV_LIST) && is_intlike(a))
            return repeat(r, n, b, ival(a), out);
        if (a.type == TV_STR || a.type == TV_LIST || b.type == TV_STR || b.type == TV_LIST)
            return rt_type_error(r, n, "can't multiply sequence by non-int of type '%s'",
                                 tv_type_name(a.type == TV_STR || a.type == TV_LIST ? b : a));
    }
    if (op == OP_MOD && a.type == TV_STR)
        return py_format(r, n, a, b, out);
    return unsupported(r, n, op, a, b);
}

/* item in container (Python semantics; undefined containers hold nothing). */
sb_status tv_contains(trender *r, const tnode *n, tv container, tv item, bool *out) {
    *out = false;
    switch (container.type) {
    case TV_UNDEF:
        return SB_OK;
    case TV_STR: {
        if (item.type != TV_STR)
            return rt_type_error(r, n, "'in <string>' requires string as left operand, not %s", tv_type_name(item));
        tstr *h = tv_str(container), *nd = tv_str(item);
        sb_status st = rt_work(r, n, h->len / 16 + 1);
        if (st)
            return st;
        *out = nd->len == 0 || (nd->len <= h->len && memmem(h->data, h->len, nd->data, nd->len) != NULL);
        return SB_OK;
    }
    case TV_LIST: {
        tlist *l = tv_list(container);
        sb_status st = rt_work(r, n, l->len + 1);
        for (size_t i = 0; st == SB_OK && i < l->len && !*out; i++)
            st = rt_equal(r, n, l->items[i], item, out);
        return st;
    }
    case TV_DICT: case TV_NS:
        if (!tv_hashable(item))
            return rt_type_error(r, n, "unhashable type: '%s'", tv_type_name(item));
        *out = dict_get(tv_dict(container), item) != NULL;
        return rt_work(r, n, tv_key_weight(item));
    default:
        return rt_type_error(r, n, "argument of type '%s' is not iterable", tv_type_name(container));
    }
}
