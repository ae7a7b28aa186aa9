/*
 * tmpl_filters.c - jinja2's filters on strings and numbers, `tojson` as
 * Hugging Face defines it, and the filter table. Sequence filters (map,
 * select, sort, ...) are in tmpl_filters_seq.c.
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_checked.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sequence filters (tmpl_filters_seq.c). */
sb_status f_map(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_select(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_reject(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_selectattr(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_rejectattr(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_sort(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_dictsort(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_unique(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_min(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_max(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_sum(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_batch(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_groupby(trender *r, const tnode *n, tv self, const targs *a, tv *out);
sb_status f_slice(trender *r, const tnode *n, tv self, const targs *a, tv *out);

/* str(v) of a filter operand (soft_str: undefined -> ""). */
static sb_status soft_str(trender *r, const tnode *n, tv v, tv *out) { return tv_to_str(r, n, v, out); }

static const char *const k_no_args[] = {NULL};

/* ---- string filters -------------------------------------------------------- */

/* upper/lower/capitalize on str(self). */
static sb_status case_filter(trender *r, const tnode *n, tv self, const targs *a, int mode, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, n->name);
    tv s;
    if (st || (st = soft_str(r, n, self, &s)))
        return st;
    st = rt_fix(r, n, pystr_case(r, s, mode, out));
    tv_release(s);
    return st;
}

/* Filters upper, lower, capitalize. */
static sb_status f_upper(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    return case_filter(r, n, self, a, 1, out);
}
static sb_status f_lower(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    return case_filter(r, n, self, a, 0, out);
}
static sb_status f_capitalize(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    return case_filter(r, n, self, a, 2, out);
}

/* jinja2's title: words start after '-', whitespace, '(', '{', '[' or '<'. */
static sb_status f_title(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "title");
    tv s;
    if (st || (st = soft_str(r, n, self, &s)))
        return st;
    tstr *str = tv_str(s);
    if ((st = rt_work(r, n, str->len + 1))) {
        tv_release(s);
        return st;
    }
    sb_buf b;
    sb_buf_init(&b);
    b.limit = r->lim->max_output_bytes;
    bool start = true;
    for (size_t i = 0; i < str->len && st == SB_OK;) {
        uint32_t cp = uc_next(str->data, str->len, &i);
        bool delim = cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || uc_isspace(cp);
        if (start && cp == 0xDF)
            st = sb_buf_puts(&b, "Ss");
        else
            st = buf_put_cp(&b, start ? uc_upper(cp) : uc_lower(cp));
        start = delim;
    }
    if (st == SB_OK)
        st = str_new(&r->heap, b.data ? b.data : "", b.len, out);
    sb_buf_free(&b);
    tv_release(s);
    return rt_fix(r, n, st);
}

/* trim(chars=None): str.strip. */
static sb_status f_trim(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"chars", NULL};
    sb_status st = arg_check(r, n, a, 1, names, "trim");
    tv s;
    if (st || (st = soft_str(r, n, self, &s)))
        return st;
    const tv *chars = arg_get(a, 0, "chars");
    if (chars && chars->type != TV_STR && chars->type != TV_NONE) {
        tv_release(s);
        return rt_type_error(r, n, "strip arg must be None or str");
    }
    st = rt_fix(r, n, pystr_strip(r, s, chars, true, true, out));
    tv_release(s);
    return st;
}

/* replace(old, new, count=None). */
static sb_status f_replace(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"old", "new", "count", NULL};
    sb_status st = arg_check(r, n, a, 3, names, "replace");
    const tv *old = arg_get(a, 0, "old"), *nw = arg_get(a, 1, "new"), *count = arg_get(a, 2, "count");
    if (st)
        return st;
    if (!old || !nw)
        return rt_type_error(r, n, "replace() missing required arguments 'old' and 'new'");
    int64_t c = -1;
    if (count && count->type == TV_INT)
        c = count->u.i;
    else if (count && count->type != TV_NONE)
        return rt_type_error(r, n, "'%s' object cannot be interpreted as an integer", tv_type_name(*count));
    tv s, so, sn;
    if ((st = soft_str(r, n, self, &s)))
        return st;
    if ((st = soft_str(r, n, *old, &so)) == SB_OK) {
        if ((st = soft_str(r, n, *nw, &sn)) == SB_OK) {
            st = pystr_replace(r, n, s, so, sn, c, out);
            tv_release(sn);
        }
        tv_release(so);
    }
    tv_release(s);
    return st;
}

/* string: str(self). */
static sb_status f_string(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, n->name);
    return st ? st : soft_str(r, n, self, out);
}

/* HTML escaping as markupsafe does it. */
static sb_status f_escape(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "escape");
    tv s;
    if (st || (st = soft_str(r, n, self, &s)))
        return st;
    tstr *str = tv_str(s);
    if ((st = rt_work(r, n, str->len / 4 + 1))) {
        tv_release(s);
        return st;
    }
    sb_buf b;
    sb_buf_init(&b);
    b.limit = r->lim->max_output_bytes;
    for (size_t i = 0; i < str->len && st == SB_OK; i++) {
        char c = str->data[i];
        switch (c) {
        case '&': st = sb_buf_puts(&b, "&amp;"); break;
        case '<': st = sb_buf_puts(&b, "&lt;"); break;
        case '>': st = sb_buf_puts(&b, "&gt;"); break;
        case '"': st = sb_buf_puts(&b, "&#34;"); break;
        case '\'': st = sb_buf_puts(&b, "&#39;"); break;
        default: st = sb_buf_putc(&b, c); break;
        }
    }
    if (st == SB_OK)
        st = str_new(&r->heap, b.data ? b.data : "", b.len, out);
    sb_buf_free(&b);
    tv_release(s);
    return rt_fix(r, n, st);
}

/* center(width=80): Python str.center. */
static sb_status f_center(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"width", NULL};
    sb_status st = arg_check(r, n, a, 1, names, "center");
    const tv *w = arg_get(a, 0, "width");
    int64_t width = w ? (w->type == TV_INT ? w->u.i : -1) : 80;
    if (st)
        return st;
    if (width < 0 && w && w->type != TV_INT)
        return rt_type_error(r, n, "integer argument expected, got %s", tv_type_name(*w));
    tv s;
    if ((st = soft_str(r, n, self, &s)))
        return st;
    tstr *str = tv_str(s);
    if ((uint64_t)width <= str->ncp) {
        *out = s;
        return SB_OK;
    }
    if ((uint64_t)width > r->lim->max_output_bytes || (st = rt_work(r, n, (uint64_t)width / 16 + 1))) {
        tv_release(s);
        return rt_fix(r, n, st ? st : SB_ERR_LIMIT);
    }
    size_t marg = (size_t)width - str->ncp, left = marg / 2 + (marg & (size_t)width & 1);
    sb_buf b;
    sb_buf_init(&b);
    for (size_t i = 0; i < left && st == SB_OK; i++)
        st = sb_buf_putc(&b, ' ');
    if (st == SB_OK)
        st = sb_buf_append(&b, str->data, str->len);
    for (size_t i = left; i < marg && st == SB_OK; i++)
        st = sb_buf_putc(&b, ' ');
    if (st == SB_OK)
        st = str_new(&r->heap, b.data, b.len, out);
    sb_buf_free(&b);
    tv_release(s);
    return rt_fix(r, n, st);
}

/* The line boundaries of Python str.splitlines. */
static bool is_line_break(uint32_t cp) {
    return cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
           cp == 0x2028 || cp == 0x2029;
}

/* jinja2 3.1 indent(width=4, first=False, blank=False). */
static sb_status f_indent(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"width", "first", "blank", NULL};
    sb_status st = arg_check(r, n, a, 3, names, "indent");
    if (st)
        return st;
    const tv *w = arg_get(a, 0, "width"), *first = arg_get(a, 1, "first"), *blank = arg_get(a, 2, "blank");
    tv ind;
    if (w && w->type == TV_STR)
        ind = tv_retain(*w);
    else {
        int64_t width = w ? (w->type == TV_INT ? w->u.i : w->type == TV_BOOL ? w->u.b : -1) : 4;
        if (width < 0 && w && w->type != TV_INT)
            return rt_type_error(r, n, "can't multiply sequence by non-int of type '%s'", tv_type_name(*w));
        tv space;
        if ((st = rt_fix(r, n, str_new(&r->heap, " ", 1, &space))))
            return st;
        st = tv_binop(r, n, OP_MUL, space, tv_int(width), &ind); /* " " * width, with its limits */
        tv_release(space);
        if (st)
            return st;
    }
    tv s;
    if ((st = soft_str(r, n, self, &s))) {
        tv_release(ind);
        return st;
    }
    tstr *str = tv_str(s), *is = tv_str(ind);
    bool do_blank = blank && tv_truthy(*blank);
    if ((st = rt_work(r, n, str->len + 1))) {
        tv_release(s);
        tv_release(ind);
        return st;
    }
    sb_buf b;
    sb_buf_init(&b);
    b.limit = r->lim->max_output_bytes;
    if (first && tv_truthy(*first))
        st = sb_buf_append(&b, is->data, is->len);
    /* s + "\n" split into lines (str.splitlines): line i goes out as
     * (i ? "\n" : "") + (i && (blank || line) ? indent : "") + line */
    size_t i = 0, line = 0;
    while (st == SB_OK && i <= str->len) {
        size_t start = i, end = i;
        bool hit = false;
        while (i < str->len) {
            size_t j = i;
            uint32_t cp = uc_next(str->data, str->len, &j);
            if (is_line_break(cp)) {
                end = i;
                i = (cp == '\r' && j < str->len && str->data[j] == '\n') ? j + 1 : j;
                hit = true;
                break;
            }
            i = j;
        }
        if (!hit) { /* the final line (the appended "\n" ends it) */
            end = str->len;
            i = str->len + 1;
        }
        if (line) {
            st = sb_buf_putc(&b, '\n');
            if (st == SB_OK && (do_blank || end > start))
                st = sb_buf_append(&b, is->data, is->len);
        }
        if (st == SB_OK)
            st = sb_buf_append(&b, str->data + start, end - start);
        line++;
    }
    if (st == SB_OK)
        st = str_new(&r->heap, b.data ? b.data : "", b.len, out);
    sb_buf_free(&b);
    tv_release(s);
    tv_release(ind);
    return rt_fix(r, n, st);
}

/* wordcount: runs of word characters. */
static sb_status f_wordcount(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "wordcount");
    tv s;
    if (st || (st = soft_str(r, n, self, &s)))
        return st;
    tstr *str = tv_str(s);
    if ((st = rt_work(r, n, str->len + 1))) {
        tv_release(s);
        return st;
    }
    int64_t count = 0;
    bool in_word = false;
    for (size_t i = 0; i < str->len;) {
        uint32_t cp = uc_next(str->data, str->len, &i);
        bool w = cp == '_' || uc_isalpha(cp) || uc_isdigit(cp) || (cp >= 0x80 && !uc_isspace(cp) && uc_isprintable(cp) &&
                                                                    !(cp >= 0x2000 && cp <= 0x2BFF) && !(cp >= 0x3000 && cp <= 0x303F));
        if (w && !in_word)
            count++;
        in_word = w;
    }
    tv_release(s);
    *out = tv_int(count);
    return SB_OK;
}

/* truncate(length=255, killwords=False, end='...', leeway=5) as jinja2 3.1. */
static sb_status f_truncate(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"length", "killwords", "end", "leeway", NULL};
    sb_status st = arg_check(r, n, a, 4, names, "truncate");
    if (st)
        return st;
    const tv *lv = arg_get(a, 0, "length"), *kw = arg_get(a, 1, "killwords"), *ev = arg_get(a, 2, "end"),
             *lw = arg_get(a, 3, "leeway");
    int64_t length = lv && lv->type == TV_INT ? lv->u.i : 255, leeway = lw && lw->type == TV_INT ? lw->u.i : 5;
    tv s, end = ev && ev->type == TV_STR ? tv_retain(*ev) : tv_undef(NULL);
    if (end.type == TV_UNDEF && (st = rt_fix(r, n, str_new(&r->heap, "...", 3, &end))))
        return st;
    if ((st = soft_str(r, n, self, &s))) {
        tv_release(end);
        return st;
    }
    tstr *str = tv_str(s);
    int64_t endlen = (int64_t)tv_str(end)->ncp;
    if (length < endlen || leeway < 0)
        st = rt_error(r, n, "AssertionError: expected length >= %lld, got %lld", (long long)endlen, (long long)length);
    else if ((int64_t)str->ncp <= length + leeway)
        *out = tv_retain(s);
    else {
        tv head;
        st = rt_fix(r, n, pystr_slice(r, s, 0, 1, (size_t)(length - endlen), &head));
        if (st == SB_OK && !(kw && tv_truthy(*kw))) {
            tstr *h = tv_str(head);
            size_t cut = h->len;
            while (cut > 0 && h->data[cut - 1] != ' ')
                cut--;
            if (cut > 0) {
                tv shorter;
                st = rt_fix(r, n, str_new(&r->heap, h->data, cut - 1, &shorter));
                tv_release(head);
                head = shorter;
            }
        }
        if (st == SB_OK) {
            st = tv_binop(r, n, OP_ADD, head, end, out);
            tv_release(head);
        }
    }
    tv_release(s);
    tv_release(end);
    return st;
}

/* format(*args) / format(**kwargs): printf-style '%' formatting. */
static sb_status f_format(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    if (a->npos && a->nkw)
        return rt_error(r, n, "FilterArgumentError: can't handle positional and keyword arguments at the same time");
    tv s, args = tv_undef(NULL);
    sb_status st = soft_str(r, n, self, &s);
    if (st)
        return st;
    if (a->nkw) {
        st = rt_fix(r, n, dict_new(&r->heap, false, &args));
        for (size_t i = 0; st == SB_OK && i < a->nkw; i++) {
            tv k;
            st = rt_fix(r, n, str_new(&r->heap, a->kwnames[i], strlen(a->kwnames[i]), &k));
            if (st == SB_OK)
                st = rt_fix(r, n, dict_set(tv_dict(args), k, tv_retain(a->kw[i])));
        }
    } else {
        st = rt_fix(r, n, list_new(&r->heap, a->npos, true, &args));
        for (size_t i = 0; st == SB_OK && i < a->npos; i++)
            tv_list(args)->items[tv_list(args)->len++] = tv_retain(a->pos[i]);
    }
    if (st == SB_OK)
        st = py_format(r, n, s, args, out);
    tv_release(args);
    tv_release(s);
    return st;
}

/* ---- number filters -------------------------------------------------------- */

/* Python int(str, base): whitespace, sign, underscores between digits, prefix. */
static bool parse_py_int(const tstr *s, int base, int64_t *out) {
    const char *p = s->data, *e = s->data + s->len;
    while (p < e && uc_isspace((unsigned char)*p))
        p++;
    while (e > p && uc_isspace((unsigned char)e[-1]))
        e--;
    bool neg = false;
    if (p < e && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    if (e - p >= 2 && p[0] == '0') {
        char c = (char)(p[1] | 32);
        int pb = c == 'x' ? 16 : c == 'o' ? 8 : c == 'b' ? 2 : 0;
        if (pb && (base == pb || base == 0)) {
            base = pb;
            p += 2;
            if (p < e && *p == '_')
                p++;
        }
    }
    if (base == 0)
        base = 10;
    if (p >= e)
        return false;
    uint64_t v = 0;
    bool prev_digit = false;
    for (; p < e; p++) {
        if (*p == '_') {
            if (!prev_digit || p + 1 >= e)
                return false;
            prev_digit = false;
            continue;
        }
        int d = *p >= '0' && *p <= '9' ? *p - '0' : (*p | 32) >= 'a' && (*p | 32) <= 'z' ? (*p | 32) - 'a' + 10 : 99;
        if (d >= base)
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
        prev_digit = true;
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/* Python float(str): strtod after checking the characters are a number. */
static bool parse_py_float(const tstr *s, double *out) {
    char buf[128];
    size_t k = 0;
    const char *p = s->data, *e = s->data + s->len;
    while (p < e && uc_isspace((unsigned char)*p))
        p++;
    while (e > p && uc_isspace((unsigned char)e[-1]))
        e--;
    if (p >= e || (size_t)(e - p) >= sizeof buf)
        return false;
    const char *first = p;
    for (; p < e; p++) {
        if (*p == '_') { /* only between two digits */
            if (p == first || p + 1 >= e || p[-1] < '0' || p[-1] > '9' || p[1] < '0' || p[1] > '9')
                return false;
            continue;
        }
        if (!*p || !strchr("0123456789+-.eEinfatyINFATY", *p))
            return false;
        buf[k++] = *p;
    }
    buf[k] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (*end || end == buf)
        return false;
    /* strtod accepts "infinity"/"inf"/"nan" like Python; reject hex-like leftovers */
    *out = d;
    return true;
}

/* int(default=0, base=10): Python int(), else int(float()), else default. */
static sb_status f_int(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"default", "base", NULL};
    sb_status st = arg_check(r, n, a, 2, names, "int");
    if (st)
        return st;
    const tv *def = arg_get(a, 0, "default"), *bv = arg_get(a, 1, "base");
    int base = bv && bv->type == TV_INT && bv->u.i >= 0 && bv->u.i <= 36 && bv->u.i != 1 ? (int)bv->u.i : 10;
    int64_t i;
    double d;
    switch (self.type) {
    case TV_INT:
        *out = self;
        return SB_OK;
    case TV_BOOL:
        *out = tv_int(self.u.b);
        return SB_OK;
    case TV_FLOAT:
        if (isfinite(self.u.f) && fabs(self.u.f) < 9.2e18) {
            *out = tv_int((int64_t)self.u.f);
            return SB_OK;
        }
        if (isnan(self.u.f))
            break;
        return rt_error(r, n, "OverflowError: cannot convert float infinity to integer");
    case TV_STR:
        if (parse_py_int(tv_str(self), base, &i)) {
            *out = tv_int(i);
            return SB_OK;
        }
        if (parse_py_float(tv_str(self), &d) && isfinite(d) && fabs(d) < 9.2e18) {
            *out = tv_int((int64_t)d);
            return SB_OK;
        }
        break;
    default:
        break;
    }
    *out = def ? tv_retain(*def) : tv_int(0);
    return SB_OK;
}

/* float(default=0.0). */
static sb_status f_float(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"default", NULL};
    sb_status st = arg_check(r, n, a, 1, names, "float");
    if (st)
        return st;
    const tv *def = arg_get(a, 0, "default");
    double d;
    if (self.type == TV_FLOAT || self.type == TV_INT || self.type == TV_BOOL) {
        *out = tv_float(self.type == TV_FLOAT ? self.u.f : self.type == TV_INT ? (double)self.u.i : self.u.b);
        return SB_OK;
    }
    if (self.type == TV_STR && parse_py_float(tv_str(self), &d)) {
        *out = tv_float(d);
        return SB_OK;
    }
    *out = def ? tv_retain(*def) : tv_float(0.0);
    return SB_OK;
}

/* abs. */
static sb_status f_abs(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "abs");
    if (st)
        return st;
    if (self.type == TV_INT) {
        if (self.u.i == INT64_MIN)
            return rt_error(r, n, "OverflowError: integer result does not fit in 64 bits");
        *out = tv_int(self.u.i < 0 ? -self.u.i : self.u.i);
    } else if (self.type == TV_BOOL)
        *out = tv_int(self.u.b);
    else if (self.type == TV_FLOAT)
        *out = tv_float(fabs(self.u.f));
    else if (self.type == TV_UNDEF)
        return rt_undefined_error(r, n, self);
    else
        return rt_type_error(r, n, "bad operand type for abs(): '%s'", tv_type_name(self));
    return SB_OK;
}

/* Python round(x, ndigits): correctly rounded, ties to even (via printf). */
static double py_round(double x, int64_t nd) {
    if (!isfinite(x) || nd > 320)
        return x;
    if (nd < -320)
        return copysign(0.0, x);
    if (nd < 0) {
        double p = pow(10.0, (double)-nd);
        double y = x / p, ry = nearbyint(y);
        return ry * p;
    }
    char buf[512];
    snprintf(buf, sizeof buf, "%.*f", (int)nd, x);
    return strtod(buf, NULL);
}

/* round(precision=0, method='common'|'ceil'|'floor'). */
static sb_status f_round(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"precision", "method", NULL};
    sb_status st = arg_check(r, n, a, 2, names, "round");
    if (st)
        return st;
    const tv *pv = arg_get(a, 0, "precision"), *mv = arg_get(a, 1, "method");
    int64_t prec = pv && (pv->type == TV_INT || pv->type == TV_BOOL) ? (pv->type == TV_INT ? pv->u.i : pv->u.b) : 0;
    const char *method = mv && mv->type == TV_STR ? tv_str(*mv)->data : "common";
    if (strcmp(method, "common") && strcmp(method, "ceil") && strcmp(method, "floor"))
        return rt_error(r, n, "FilterArgumentError: method must be common, ceil or floor");
    if (self.type != TV_INT && self.type != TV_FLOAT && self.type != TV_BOOL)
        return rt_type_error(r, n, "type %s doesn't define __round__ method", tv_type_name(self));
    if (!strcmp(method, "common")) {
        if (self.type != TV_FLOAT) { /* round(int, n) stays an int */
            *out = self.type == TV_BOOL ? tv_int(self.u.b) : self;
            return SB_OK;
        }
        *out = tv_float(py_round(self.u.f, prec));
        return SB_OK;
    }
    double x = self.type == TV_FLOAT ? self.u.f : (double)(self.type == TV_INT ? self.u.i : self.u.b);
    double p = pow(10.0, (double)prec);
    double v = x * p;
    v = method[0] == 'c' ? ceil(v) : floor(v);
    *out = tv_float(v / p);
    return SB_OK;
}

/* ---- general filters ------------------------------------------------------- */

/* default(value, boolean=False) / d. */
static sb_status f_default(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"default_value", "boolean", NULL};
    sb_status st = arg_check(r, n, a, 2, names, "default");
    if (st)
        return st;
    const tv *def = arg_get(a, 0, "default_value"), *boolean = arg_get(a, 1, "boolean");
    bool use_default = self.type == TV_UNDEF || (boolean && tv_truthy(*boolean) && !tv_truthy(self));
    if (!use_default)
        *out = tv_retain(self);
    else
        *out = def ? tv_retain(*def) : str_empty();
    return SB_OK;
}

/* length / count: len() (code points for strings). */
static sb_status f_length(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, n->name);
    if (st)
        return st;
    switch (self.type) {
    case TV_UNDEF: *out = tv_int(0); return SB_OK;
    case TV_STR: *out = tv_int((int64_t)tv_str(self)->ncp); return SB_OK;
    case TV_LIST: *out = tv_int((int64_t)tv_list(self)->len); return SB_OK;
    case TV_DICT: *out = tv_int((int64_t)tv_dict(self)->len); return SB_OK;
    default: return rt_type_error(r, n, "object of type '%s' has no len()", tv_type_name(self));
    }
}

/* HF's tojson: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False). */
static sb_status f_tojson(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"ensure_ascii", "indent", "separators", "sort_keys", NULL};
    sb_status st = arg_check(r, n, a, 4, names, "tojson");
    if (st)
        return st;
    const tv *ea = arg_get(a, 0, "ensure_ascii"), *ind = arg_get(a, 1, "indent"), *sep = arg_get(a, 2, "separators"),
             *sk = arg_get(a, 3, "sort_keys");
    tjson_opts o = {.ensure_ascii = ea && tv_truthy(*ea), .sort_keys = sk && tv_truthy(*sk)};
    char spaces[257];
    if (ind && ind->type == TV_STR) {
        o.indent = tv_str(*ind)->data;
        o.indent_len = tv_str(*ind)->len;
    } else if (ind && (ind->type == TV_INT || ind->type == TV_BOOL)) {
        int64_t w = ind->type == TV_INT ? ind->u.i : ind->u.b;
        if (w < 0)
            w = 0;
        if (w > 256)
            w = 256;
        memset(spaces, ' ', (size_t)w);
        spaces[w] = '\0';
        o.indent = spaces;
        o.indent_len = (size_t)w;
    } else if (ind && ind->type != TV_NONE)
        return rt_type_error(r, n, "indent must be an int, a string or None");
    o.item_sep = o.indent ? "," : ", ";
    o.key_sep = ": ";
    if (sep && sep->type == TV_LIST) {
        tlist *l = tv_list(*sep);
        if (l->len != 2 || l->items[0].type != TV_STR || l->items[1].type != TV_STR)
            return rt_error(r, n, "ValueError: separators must be a pair of strings");
        o.item_sep = tv_str(l->items[0])->data;
        o.key_sep = tv_str(l->items[1])->data;
    }
    sb_buf b;
    sb_buf_init(&b);
    b.limit = r->lim->max_output_bytes;
    st = tv_write_json(&b, self, &o, r->lim->max_nesting, r->err);
    if (st == SB_OK)
        st = rt_work(r, n, b.len / 4 + 1);
    if (st == SB_OK)
        st = str_new(&r->heap, b.data ? b.data : "", b.len, out);
    sb_buf_free(&b);
    return rt_fix(r, n, st);
}

/* items: the (key, value) pairs of a dict; undefined gives none. */
static sb_status f_items(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "items");
    if (st)
        return st;
    if (self.type == TV_UNDEF)
        return rt_fix(r, n, list_new(&r->heap, 0, false, out));
    if (self.type != TV_DICT)
        return rt_type_error(r, n, "Can only get item pairs from a mapping.");
    int m = method_find(self, "items", 5);
    targs none = {0};
    return method_call(r, n, self, m, &none, out);
}

/* join(d='', attribute=None). */
static sb_status f_join(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"d", "attribute", NULL};
    sb_status st = arg_check(r, n, a, 2, names, "join");
    if (st)
        return st;
    const tv *d = arg_get(a, 0, "d"), *attr = arg_get(a, 1, "attribute");
    return pystr_join(r, n, d ? *d : str_empty(), self, attr, false, out);
}

/* first: the first item, or undefined. */
static sb_status f_first(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "first");
    tlist *items;
    if (st || (st = tv_iterate(r, n, self, &items)))
        return st;
    *out = items->len ? tv_retain(items->items[0]) : tv_undef("first");
    tobj_release(&items->h);
    return SB_OK;
}

/* last: the last item, or undefined. */
static sb_status f_last(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "last");
    tlist *items;
    if (st || (st = tv_iterate(r, n, self, &items)))
        return st;
    *out = items->len ? tv_retain(items->items[items->len - 1]) : tv_undef("last");
    tobj_release(&items->h);
    return SB_OK;
}

/* list: the items iteration yields. */
static sb_status f_list(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "list");
    tlist *items;
    if (st || (st = tv_iterate(r, n, self, &items)))
        return st;
    out->type = TV_LIST;
    out->u.o = &items->h;
    return SB_OK;
}

/* reverse: a reversed string or list. */
static sb_status f_reverse(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, "reverse");
    if (st)
        return st;
    if (self.type == TV_STR) {
        tstr *s = tv_str(self);
        if ((st = rt_work(r, n, s->len / 4 + 1)))
            return st;
        return rt_fix(r, n, pystr_slice(r, self, (int64_t)s->ncp - 1, -1, s->ncp, out));
    }
    tlist *items;
    if ((st = tv_iterate(r, n, self, &items)))
        return st;
    for (size_t i = 0, j = items->len ? items->len - 1 : 0; i < j; i++, j--) {
        tv t = items->items[i];
        items->items[i] = items->items[j];
        items->items[j] = t;
    }
    out->type = TV_LIST;
    out->u.o = &items->h;
    return SB_OK;
}

/* attr(name): an attribute only (never an item), as jinja2's sandbox getattr. */
static sb_status f_attr(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"name", NULL};
    sb_status st = arg_check(r, n, a, 1, names, "attr");
    if (st)
        return st;
    const tv *name = arg_get(a, 0, "name");
    if (!name || name->type != TV_STR)
        return rt_type_error(r, n, "attribute name must be a string");
    if (self.type == TV_DICT) { /* a Python attribute of a dict is a method, never a key */
        int m = method_find(self, tv_str(*name)->data, tv_str(*name)->len);
        if (m < 0) {
            *out = tv_undef(NULL);
            return SB_OK;
        }
    }
    return tv_getattr(r, n, self, tv_str(*name)->data, tv_str(*name)->len, out);
}

/* safe: no autoescaping here, so str(self). */
static sb_status f_safe(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    sb_status st = arg_check(r, n, a, 0, k_no_args, n->name);
    if (st)
        return st;
    if (self.type == TV_STR) {
        *out = tv_retain(self);
        return SB_OK;
    }
    return soft_str(r, n, self, out);
}

typedef struct filter_entry {
    const char *name;
    tfilter_fn fn;
} filter_entry;

static const filter_entry k_filters[] = {
    {"abs", f_abs},           {"attr", f_attr},         {"batch", f_batch},         {"capitalize", f_capitalize},
    {"center", f_center},     {"count", f_length},      {"d", f_default},           {"default", f_default},
    {"dictsort", f_dictsort}, {"e", f_escape},          {"escape", f_escape},       {"first", f_first},
    {"float", f_float},       {"forceescape", f_escape}, {"format", f_format},     {"groupby", f_groupby},
    {"indent", f_indent},     {"int", f_int},           {"items", f_items},         {"join", f_join},
    {"last", f_last},         {"length", f_length},     {"list", f_list},           {"lower", f_lower},
    {"map", f_map},           {"max", f_max},           {"min", f_min},             {"reject", f_reject},
    {"rejectattr", f_rejectattr}, {"replace", f_replace}, {"reverse", f_reverse},   {"round", f_round},
    {"safe", f_safe},         {"select", f_select},     {"selectattr", f_selectattr}, {"slice", f_slice},
    {"sort", f_sort},
    {"string", f_string},     {"sum", f_sum},           {"title", f_title},         {"tojson", f_tojson},
    {"trim", f_trim},         {"truncate", f_truncate}, {"unique", f_unique},       {"upper", f_upper},
    {"wordcount", f_wordcount},
};

/* The filter function called name, or NULL. */
tfilter_fn filter_find(const char *name) {
    for (size_t i = 0; i < sizeof k_filters / sizeof k_filters[0]; i++)
        if (strcmp(k_filters[i].name, name) == 0)
            return k_filters[i].fn;
    return NULL;
}

/* Applies filter `name` to self (borrowed); n names the filter for errors. */
sb_status apply_filter(trender *r, const tnode *n, const char *name, tv self, const targs *a, tv *out) {
    tfilter_fn fn = filter_find(name);
    if (!fn)
        return rt_error(r, n, "TemplateAssertionError: no filter named '%s'", name);
    return fn(r, n, self, a, out);
}
