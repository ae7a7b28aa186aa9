/*
 * tmpl_strings.c - Python str operations shared by filters and methods:
 * strip, replace, case changes, split, slicing and find by code point, join,
 * and printf-style `%` formatting. All of them work on code points, as
 * Python does, never on bytes.
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_checked.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* A result string from a buffer (counts the work, checks the length). */
static sb_status finish(trender *r, sb_buf *b, sb_status st, tv *out) {
    if (st == SB_OK)
        st = str_new(&r->heap, b->data ? b->data : "", b->len, out);
    sb_buf_free(b);
    return st;
}

/* A result buffer limited to max_output_bytes. */
static void buf_start(trender *r, sb_buf *b) {
    sb_buf_init(b);
    b->limit = r->lim->max_output_bytes;
}

/* Whether code point cp is in the string set. */
static bool cp_in(uint32_t cp, const tstr *set) {
    for (size_t i = 0; i < set->len;)
        if (uc_next(set->data, set->len, &i) == cp)
            return true;
    return false;
}

/* str.strip/lstrip/rstrip(chars): chars NULL or None strips whitespace. */
sb_status pystr_strip(trender *r, tv s, const tv *chars, bool left, bool right, tv *out) {
    tstr *str = tv_str(s);
    const tstr *set = chars && chars->type == TV_STR ? tv_str(*chars) : NULL;
    size_t start = 0, end = str->len;
    sb_status st = rt_work(r, NULL, str->len / 4 * (set ? set->ncp : 1) + 1);
    if (st)
        return st;
    if (left)
        while (start < end) {
            size_t j = start;
            uint32_t cp = uc_next(str->data, end, &j);
            if (set ? !cp_in(cp, set) : !uc_isspace(cp))
                break;
            start = j;
        }
    if (right)
        while (end > start) {
            size_t k = end - 1;
            while (k > start && ((unsigned char)str->data[k] & 0xC0) == 0x80)
                k--;
            size_t j = k;
            uint32_t cp = uc_next(str->data, end, &j);
            if (set ? !cp_in(cp, set) : !uc_isspace(cp))
                break;
            end = k;
        }
    if (start == 0 && end == str->len) {
        *out = tv_retain(s);
        return SB_OK;
    }
    return str_new(&r->heap, str->data + start, end - start, out);
}

/* str.replace(old, new, count); count < 0 replaces all. */
sb_status pystr_replace(trender *r, const tnode *n, tv s, tv old, tv new_, int64_t count, tv *out) {
    tstr *str = tv_str(s), *o = tv_str(old), *nw = tv_str(new_);
    sb_status st = rt_work(r, n, str->len / 16 + 1);
    if (st)
        return st;
    sb_buf b;
    buf_start(r, &b);
    if (o->len == 0) { /* Python inserts `new` before every character and at the end */
        if ((st = rt_work(r, n, str->len + nw->len * (str->ncp + 1) / 16)))
            return st;
        int64_t done = 0;
        for (size_t i = 0; st == SB_OK && i <= str->len;) {
            if (count < 0 || done < count) {
                st = sb_buf_append(&b, nw->data, nw->len);
                done++;
            }
            if (i == str->len)
                break;
            size_t j = i;
            uc_next(str->data, str->len, &j);
            if (st == SB_OK)
                st = sb_buf_append(&b, str->data + i, j - i);
            i = j;
        }
        return rt_fix(r, n, finish(r, &b, st, out));
    }
    size_t i = 0;
    int64_t done = 0;
    while (st == SB_OK && i < str->len && (count < 0 || done < count)) {
        const char *hit = memmem(str->data + i, str->len - i, o->data, o->len);
        if (!hit)
            break;
        size_t at = (size_t)(hit - str->data);
        st = sb_buf_append(&b, str->data + i, at - i);
        if (st == SB_OK)
            st = sb_buf_append(&b, nw->data, nw->len);
        i = at + o->len;
        done++;
    }
    if (st == SB_OK)
        st = sb_buf_append(&b, str->data + i, str->len - i);
    return rt_fix(r, n, finish(r, &b, st, out));
}

/* Case changes: 0 lower, 1 upper, 2 capitalize, 3 title (Python str.title), 4 swapcase. */
sb_status pystr_case(trender *r, tv s, int mode, tv *out) {
    tstr *str = tv_str(s);
    sb_status st = rt_work(r, NULL, str->len + 1); /* per character work: a step per byte */
    if (st)
        return st;
    sb_buf b;
    buf_start(r, &b);
    bool prev_cased = false, first = true;
    for (size_t i = 0; i < str->len && st == SB_OK;) {
        uint32_t cp = uc_next(str->data, str->len, &i), m;
        bool up;
        switch (mode) {
        case 0: up = false; break;
        case 1: up = true; break;
        case 2: up = first; break;
        case 3: up = !prev_cased; break;
        default: up = uc_lower(cp) == cp && uc_upper(cp) != cp; break;
        }
        if (mode == 4 && uc_upper(cp) == cp && uc_lower(cp) == cp && cp != 0xDF)
            m = cp;
        else if (up && cp == 0xDF)
            m = 0; /* German sharp s upper-cases to "SS" ("Ss" in title case) */
        else
            m = up ? uc_upper(cp) : uc_lower(cp);
        if (m == 0)
            st = sb_buf_puts(&b, mode == 1 || mode == 4 ? "SS" : "Ss");
        else
            st = buf_put_cp(&b, m);
        prev_cased = uc_iscased(cp);
        first = false;
    }
    return finish(r, &b, st, out);
}

/* Appends a new string piece to a list. */
static sb_status push_piece(trender *r, tlist *l, const char *s, size_t len) {
    tv piece;
    sb_status st = str_new(&r->heap, s, len, &piece);
    return st ? st : list_push(l, piece);
}

/* Reverses a list in place. */
static void reverse_list(tlist *l) {
    for (size_t i = 0, j = l->len ? l->len - 1 : 0; i < j; i++, j--) {
        tv t = l->items[i];
        l->items[i] = l->items[j];
        l->items[j] = t;
    }
}

/* Start of the code point before byte offset i. */
static size_t prev_cp_start(const char *s, size_t i) {
    size_t k = i - 1;
    while (k > 0 && ((unsigned char)s[k] & 0xC0) == 0x80)
        k--;
    return k;
}

/* Whitespace split (sep=None): runs of whitespace separate, no empty pieces. */
static sb_status split_ws(trender *r, tstr *s, int64_t maxsplit, bool from_right, tlist *l) {
    sb_status st = SB_OK;
    int64_t splits = 0;
    if (!from_right) {
        size_t i = 0;
        while (st == SB_OK) {
            while (i < s->len) { /* skip whitespace */
                size_t j = i;
                if (!uc_isspace(uc_next(s->data, s->len, &j)))
                    break;
                i = j;
            }
            if (i >= s->len)
                break;
            if (maxsplit >= 0 && splits >= maxsplit) { /* the rest, trailing whitespace included */
                st = push_piece(r, l, s->data + i, s->len - i);
                break;
            }
            size_t start = i;
            while (i < s->len) {
                size_t j = i;
                if (uc_isspace(uc_next(s->data, s->len, &j)))
                    break;
                i = j;
            }
            st = push_piece(r, l, s->data + start, i - start);
            splits++;
        }
        return st;
    }
    size_t i = s->len;
    while (st == SB_OK) {
        while (i > 0) {
            size_t k = prev_cp_start(s->data, i), j = k;
            if (!uc_isspace(uc_next(s->data, s->len, &j)))
                break;
            i = k;
        }
        if (i == 0)
            break;
        if (maxsplit >= 0 && splits >= maxsplit) {
            st = push_piece(r, l, s->data, i);
            break;
        }
        size_t end = i;
        while (i > 0) {
            size_t k = prev_cp_start(s->data, i), j = k;
            if (uc_isspace(uc_next(s->data, s->len, &j)))
                break;
            i = k;
        }
        st = push_piece(r, l, s->data + i, end - i);
        splits++;
    }
    reverse_list(l);
    return st;
}

/* str.split / rsplit(sep, maxsplit) as a new list. */
sb_status pystr_split(trender *r, const tnode *n, tv s, const tv *sep, int64_t maxsplit, bool from_right, tv *out) {
    tstr *str = tv_str(s);
    sb_status st = rt_work(r, n, str->len + 1);
    if (st)
        return st;
    if (sep && sep->type == TV_STR && tv_str(*sep)->len == 0)
        return rt_error(r, n, "ValueError: empty separator");
    if ((st = list_new(&r->heap, 0, false, out)))
        return rt_fix(r, n, st);
    tlist *l = tv_list(*out);
    if (!sep || sep->type != TV_STR)
        st = split_ws(r, str, maxsplit, from_right, l);
    else {
        tstr *p = tv_str(*sep);
        int64_t splits = 0;
        if (!from_right) {
            size_t i = 0;
            for (;;) {
                const char *hit = maxsplit >= 0 && splits >= maxsplit ? NULL
                                  : memmem(str->data + i, str->len - i, p->data, p->len);
                if (!hit) {
                    st = push_piece(r, l, str->data + i, str->len - i);
                    break;
                }
                size_t at = (size_t)(hit - str->data);
                if ((st = push_piece(r, l, str->data + i, at - i)))
                    break;
                i = at + p->len;
                splits++;
            }
        } else {
            size_t end = str->len;
            for (;;) {
                size_t at = SIZE_MAX;
                if (!(maxsplit >= 0 && splits >= maxsplit) && end >= p->len)
                    for (size_t k = end - p->len + 1; k-- > 0;)
                        if (memcmp(str->data + k, p->data, p->len) == 0) {
                            at = k;
                            break;
                        }
                if (at == SIZE_MAX) {
                    st = push_piece(r, l, str->data, end);
                    break;
                }
                if ((st = push_piece(r, l, str->data + at + p->len, end - at - p->len)))
                    break;
                end = at;
                splits++;
            }
            reverse_list(l);
        }
    }
    if (st) {
        tv_release(*out);
        return rt_fix(r, n, st);
    }
    return SB_OK;
}

/* `count` code points of s starting at code point `first`, every `step`. */
sb_status pystr_slice(trender *r, tv s, int64_t first, int64_t step, size_t count, tv *out) {
    tstr *str = tv_str(s);
    if (count == 0) {
        *out = str_empty();
        return SB_OK;
    }
    if (str->ncp == str->len) { /* ASCII: code point == byte */
        if (step == 1)
            return str_new(&r->heap, str->data + first, count, out);
        sb_buf b;
        buf_start(r, &b);
        sb_status st = sb_buf_reserve(&b, count + 1);
        for (size_t k = 0; st == SB_OK && k < count; k++)
            st = sb_buf_putc(&b, str->data[first + (int64_t)k * step]);
        return finish(r, &b, st, out);
    }
    if (step == 1) {
        size_t a = uc_offset(str, (size_t)first), e = a;
        for (size_t k = 0; k < count; k++)
            uc_next(str->data, str->len, &e);
        return str_new(&r->heap, str->data + a, e - a, out);
    }
    size_t *offs = sb_calloc(str->ncp + 1, sizeof *offs);
    if (!offs)
        return SB_ERR_NOMEM;
    size_t i = 0;
    for (size_t k = 0; k < str->ncp; k++) {
        offs[k] = i;
        uc_next(str->data, str->len, &i);
    }
    offs[str->ncp] = str->len;
    sb_buf b;
    buf_start(r, &b);
    sb_status st = SB_OK;
    for (size_t k = 0; st == SB_OK && k < count; k++) {
        size_t c = (size_t)(first + (int64_t)k * step);
        st = sb_buf_append(&b, str->data + offs[c], offs[c + 1] - offs[c]);
    }
    sb_free(offs);
    return finish(r, &b, st, out);
}

/* str.find / rfind between code points start and end (0 <= start, end <= ncp). */
int64_t pystr_find(tv hay, tv needle, int64_t start, int64_t end, bool from_right) {
    tstr *h = tv_str(hay), *nd = tv_str(needle);
    if (start > end)
        return -1;
    size_t a = uc_offset(h, (size_t)start), e = uc_offset(h, (size_t)end);
    if (nd->len > e - a)
        return -1;
    size_t at = SIZE_MAX;
    if (!from_right) {
        const char *hit = nd->len ? memmem(h->data + a, e - a, nd->data, nd->len) : h->data + a;
        if (hit)
            at = (size_t)(hit - h->data);
    } else {
        for (size_t k = e - nd->len + 1; k-- > a;)
            if (memcmp(h->data + k, nd->data, nd->len) == 0) {
                at = k;
                break;
            }
    }
    if (at == SIZE_MAX)
        return -1;
    return (int64_t)(h->ncp == h->len ? at : utf8_count_cp(h->data, at));
}

/* jinja2's attribute path: "a.b" looks up a then b; all-digit parts are
 * integer indexes. */
sb_status attr_path_get(trender *r, const tnode *n, tv obj, tv path, tv *out) {
    if (path.type != TV_STR)
        return tv_getitem(r, n, obj, path, out);
    tstr *p = tv_str(path);
    tv cur = tv_retain(obj);
    size_t i = 0;
    do {
        size_t j = i;
        while (j < p->len && p->data[j] != '.')
            j++;
        bool digits = j > i;
        int64_t idx = 0;
        for (size_t k = i; k < j && digits; k++) {
            digits = p->data[k] >= '0' && p->data[k] <= '9' && idx < INT64_MAX / 10;
            idx = idx * 10 + (p->data[k] - '0');
        }
        tv key, next;
        sb_status st = digits ? (key = tv_int(idx), SB_OK) : str_new(&r->heap, p->data + i, j - i, &key);
        if (st == SB_OK) {
            st = tv_getitem(r, n, cur, key, &next);
            tv_release(key);
        }
        tv_release(cur);
        if (st)
            return rt_fix(r, n, st);
        cur = next;
        i = j + 1;
    } while (i <= p->len);
    *out = cur;
    return SB_OK;
}

/* sep.join(items). */
sb_status pystr_join(trender *r, const tnode *n, tv sep, tv iterable, const tv *attr, bool strict, tv *out) {
    tlist *items;
    sb_status st = tv_iterate(r, n, iterable, &items);
    if (st)
        return st;
    sb_buf b;
    buf_start(r, &b);
    for (size_t i = 0; i < items->len && st == SB_OK; i++) {
        tv item = tv_retain(items->items[i]);
        if (attr && attr->type != TV_NONE && attr->type != TV_UNDEF) {
            tv v;
            st = attr_path_get(r, n, item, *attr, &v);
            tv_release(item);
            if (st)
                break;
            item = v;
        }
        if (strict && item.type != TV_STR)
            st = rt_type_error(r, n, "sequence item %zu: expected str instance, %s found", i, tv_type_name(item));
        size_t before = b.len;
        if (st == SB_OK && i)
            st = tv_write_str(&b, sep, r->lim->max_nesting, r->err);
        if (st == SB_OK)
            st = tv_write_str(&b, item, r->lim->max_nesting, r->err);
        if (st == SB_OK)
            st = rt_work(r, n, (b.len - before) / 4 + 1);
        tv_release(item);
    }
    tobj_release(&items->h);
    return rt_fix(r, n, finish(r, &b, st, out));
}

/* ---- printf-style formatting --------------------------------------------- */

/* Appends s padded to width code points. */
static sb_status pad_to(sb_buf *b, const char *s, size_t len, size_t ncp, int width, bool left, char fill) {
    sb_status st = SB_OK;
    size_t padn = width > 0 && (size_t)width > ncp ? (size_t)width - ncp : 0;
    for (size_t i = 0; !left && i < padn && st == SB_OK; i++)
        st = sb_buf_putc(b, fill);
    if (st == SB_OK)
        st = sb_buf_append(b, s, len);
    for (size_t i = 0; left && i < padn && st == SB_OK; i++)
        st = sb_buf_putc(b, ' ');
    return st;
}

/* `fmt % args` with the common conversions: s r d i u f F e E g G x X o c %.
 * The printf formats it builds come from parsed, checked flags only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
sb_status py_format(trender *r, const tnode *n, tv fmt, tv args, tv *out) {
    tstr *f = tv_str(fmt);
    const tv *items = &args;
    size_t nitems = 1, next = 0;
    bool mapping = args.type == TV_DICT;
    if (args.type == TV_LIST && tv_list(args)->tuple) {
        items = tv_list(args)->items;
        nitems = tv_list(args)->len;
    }
    sb_buf b, tmp;
    buf_start(r, &b);
    sb_buf_init(&tmp);
    sb_status st = rt_work(r, n, f->len + 1);
    for (size_t i = 0; i < f->len && st == SB_OK;) {
        if (f->data[i] != '%') {
            size_t j = i;
            while (j < f->len && f->data[j] != '%')
                j++;
            st = sb_buf_append(&b, f->data + i, j - i);
            i = j;
            continue;
        }
        i++;
        const tv *arg = NULL;
        tv keyed = tv_undef(NULL);
        if (i < f->len && f->data[i] == '(') {
            size_t j = i + 1;
            while (j < f->len && f->data[j] != ')')
                j++;
            if (j >= f->len || !mapping) {
                st = rt_type_error(r, n, "format requires a mapping");
                break;
            }
            tv *v = dict_get_str(tv_dict(args), f->data + i + 1, j - i - 1);
            if (!v) {
                st = rt_error(r, n, "KeyError: '%.*s'", (int)(j - i - 1), f->data + i + 1);
                break;
            }
            keyed = *v;
            arg = &keyed;
            i = j + 1;
        }
        bool left = false, plus = false, space = false, alt = false, zero = false;
        for (; i < f->len && strchr("-+ #0", f->data[i]) && f->data[i]; i++) {
            char c = f->data[i];
            left |= c == '-';
            plus |= c == '+';
            space |= c == ' ';
            alt |= c == '#';
            zero |= c == '0';
        }
        int width = 0, prec = -1;
        while (i < f->len && f->data[i] >= '0' && f->data[i] <= '9' && width < 100000)
            width = width * 10 + (f->data[i++] - '0');
        if (i < f->len && f->data[i] == '.') {
            prec = 0;
            i++;
            while (i < f->len && f->data[i] >= '0' && f->data[i] <= '9' && prec < 1000)
                prec = prec * 10 + (f->data[i++] - '0');
        }
        while (i < f->len && strchr("hlL", f->data[i]) && f->data[i])
            i++;
        if (i >= f->len) {
            st = rt_error(r, n, "ValueError: incomplete format");
            break;
        }
        char conv = f->data[i++];
        if (conv == '%') {
            st = sb_buf_putc(&b, '%');
            continue;
        }
        if (!arg) {
            if (next >= nitems || mapping) {
                st = mapping ? rt_type_error(r, n, "format requires a mapping")
                             : rt_type_error(r, n, "not enough arguments for format string");
                break;
            }
            arg = &items[next++];
        }
        sb_buf_reset(&tmp);
        char spec[32];
        bool int_conv = conv && strchr("diuxXo", conv) != NULL;
        snprintf(spec, sizeof spec, "%%%s%s%s%s%s*%s", left ? "-" : "", plus ? "+" : "", space ? " " : "",
                 alt ? "#" : "", zero && !left ? "0" : "", int_conv && prec < 0 ? "" : ".*");
        size_t sl = strlen(spec);
        if (conv == 's' || conv == 'r' || conv == 'a') {
            st = conv == 's' ? tv_write_str(&tmp, *arg, r->lim->max_nesting, r->err)
                             : tv_write_repr(&tmp, *arg, r->lim->max_nesting, r->err);
            if (st)
                break;
            size_t len = tmp.len, ncp;
            if (prec >= 0 && (ncp = utf8_count_cp(tmp.data ? tmp.data : "", len)) > (size_t)prec) {
                size_t k = 0;
                for (int c = 0; c < prec; c++)
                    uc_next(tmp.data, len, &k);
                len = k;
            }
            st = pad_to(&b, tmp.data ? tmp.data : "", len, utf8_count_cp(tmp.data ? tmp.data : "", len), width, left,
                        ' ');
        } else if (conv && strchr("diuxXoc", conv)) {
            int64_t v;
            if (arg->type == TV_INT || arg->type == TV_BOOL)
                v = arg->type == TV_BOOL ? arg->u.b : arg->u.i;
            else if (arg->type == TV_FLOAT && conv && strchr("diu", conv) && isfinite(arg->u.f) && fabs(arg->u.f) < 9.2e18)
                v = (int64_t)arg->u.f;
            else {
                st = rt_type_error(r, n, "%%%c format: a number is required, not %s", conv, tv_type_name(*arg));
                break;
            }
            if (conv == 'c') {
                st = buf_put_cp(&b, (uint32_t)v);
                continue;
            }
            char c = conv == 'i' || conv == 'u' ? 'd' : conv;
            spec[sl] = 'l';
            spec[sl + 1] = 'l';
            spec[sl + 2] = c;
            spec[sl + 3] = '\0';
            if (prec < 0)
                st = c == 'd' ? sb_buf_printf(&b, spec, width, (long long)v) : sb_buf_printf(&b, spec, width, (unsigned long long)v);
            else
                st = c == 'd' ? sb_buf_printf(&b, spec, width, prec, (long long)v)
                              : sb_buf_printf(&b, spec, width, prec, (unsigned long long)v);
        } else if (conv && strchr("eEfFgG", conv)) {
            double d;
            if (arg->type == TV_FLOAT)
                d = arg->u.f;
            else if (arg->type == TV_INT || arg->type == TV_BOOL)
                d = (double)(arg->type == TV_BOOL ? arg->u.b : arg->u.i);
            else {
                st = rt_type_error(r, n, "must be real number, not %s", tv_type_name(*arg));
                break;
            }
            spec[sl] = conv;
            spec[sl + 1] = '\0';
            st = sb_buf_printf(&b, spec, width, prec < 0 ? 6 : prec, d);
        } else {
            st = rt_error(r, n, "ValueError: unsupported format character '%c'", conv);
        }
    }
    bool tuple = args.type == TV_LIST && tv_list(args)->tuple;
    if (st == SB_OK && !mapping && (tuple ? next < nitems : next == 0))
        st = rt_type_error(r, n, "not all arguments converted during string formatting");
    sb_buf_free(&tmp);
    return rt_fix(r, n, finish(r, &b, st, out));
}
#pragma GCC diagnostic pop
