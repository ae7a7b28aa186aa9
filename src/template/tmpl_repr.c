/*
 * tmpl_repr.c - values as text, exactly as Python shows them: str(), repr()
 * (what `{{ some_list }}` prints), float repr, and json.dumps (the `tojson`
 * filter, with Python's separators and indent layout).
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Python repr(float): the shortest digits that round-trip, fixed notation for
 * decimal exponents in (-4, 16], else d.ddde+XX. Writes a NUL-terminated
 * string (< 32 bytes) to out and returns its length. */
size_t float_repr(double x, char *out) {
    if (isnan(x))
        return (size_t)snprintf(out, 32, "nan");
    if (isinf(x))
        return (size_t)snprintf(out, 32, x > 0 ? "inf" : "-inf");
    if (x == 0)
        return (size_t)snprintf(out, 32, signbit(x) ? "-0.0" : "0.0");
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    const char *p = tmp;
    bool neg = *p == '-';
    p += neg;
    char digits[24];
    int nd = 0;
    while (*p && *p != 'e') {
        if (*p >= '0' && *p <= '9' && nd < 20)
            digits[nd++] = *p;
        p++;
    }
    int exp = *p == 'e' ? atoi(p + 1) : 0;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int decpt = exp + 1;
    char *o = out;
    if (neg)
        *o++ = '-';
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -decpt; i++)
                *o++ = '0';
            for (int i = 0; i < nd; i++)
                *o++ = digits[i];
        } else if (decpt >= nd) {
            for (int i = 0; i < nd; i++)
                *o++ = digits[i];
            for (int i = nd; i < decpt; i++)
                *o++ = '0';
            *o++ = '.';
            *o++ = '0';
        } else {
            for (int i = 0; i < nd; i++) {
                if (i == decpt)
                    *o++ = '.';
                *o++ = digits[i];
            }
        }
        *o = '\0';
    } else {
        *o++ = digits[0];
        if (nd > 1) {
            *o++ = '.';
            for (int i = 1; i < nd; i++)
                *o++ = digits[i];
        }
        int e = decpt - 1;
        char etxt[16];
        int n = snprintf(etxt, sizeof etxt, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
        memcpy(o, etxt, (size_t)n + 1);
        o += n;
    }
    return (size_t)(o - out);
}

/* repr()'s \x, \u and \U escapes. */
static sb_status put_hex_escape(sb_buf *b, uint32_t cp) {
    if (cp <= 0xFF)
        return sb_buf_printf(b, "\\x%02x", cp);
    if (cp <= 0xFFFF)
        return sb_buf_printf(b, "\\u%04x", cp);
    return sb_buf_printf(b, "\\U%08x", cp);
}

/* Python repr(str). */
static sb_status write_str_repr(sb_buf *b, const tstr *s) {
    bool has_single = memchr(s->data, '\'', s->len) != NULL, has_double = memchr(s->data, '"', s->len) != NULL;
    char quote = has_single && !has_double ? '"' : '\'';
    sb_status st = sb_buf_putc(b, quote);
    for (size_t i = 0; i < s->len && st == SB_OK;) {
        size_t start = i;
        uint32_t cp = uc_next(s->data, s->len, &i);
        if (cp == (uint32_t)quote || cp == '\\') {
            st = sb_buf_putc(b, '\\');
            if (st == SB_OK)
                st = sb_buf_putc(b, (char)cp);
        } else if (cp == '\t')
            st = sb_buf_puts(b, "\\t");
        else if (cp == '\n')
            st = sb_buf_puts(b, "\\n");
        else if (cp == '\r')
            st = sb_buf_puts(b, "\\r");
        else if (uc_isprintable(cp))
            st = sb_buf_append(b, s->data + start, i - start);
        else
            st = put_hex_escape(b, cp);
    }
    if (st == SB_OK)
        st = sb_buf_putc(b, quote);
    return st;
}

/* str() of bool, int and float. */
static sb_status write_number(sb_buf *b, tv v) {
    if (v.type == TV_BOOL)
        return sb_buf_puts(b, v.u.b ? "True" : "False");
    if (v.type == TV_INT)
        return sb_buf_printf(b, "%" PRId64, v.u.i);
    char tmp[32];
    size_t n = float_repr(v.u.f, tmp);
    return sb_buf_append(b, tmp, n);
}

/* The error for printing data nested past max_nesting. */
static sb_status nested_too_deep(sb_error *err) {
    return sb_error_set(err, SB_ERR_LIMIT, "template: data nested too deeply to print");
}

/* repr() of a dict's items. */
static sb_status write_dict_repr(sb_buf *b, const tdict *d, unsigned depth_left, sb_error *err) {
    sb_status st = sb_buf_putc(b, '{');
    for (size_t i = 0; i < d->len && st == SB_OK; i++) {
        if (i)
            st = sb_buf_puts(b, ", ");
        if (st == SB_OK)
            st = tv_write_repr(b, d->ents[i].key, depth_left - 1, err);
        if (st == SB_OK)
            st = sb_buf_puts(b, ": ");
        if (st == SB_OK)
            st = tv_write_repr(b, d->ents[i].val, depth_left - 1, err);
    }
    if (st == SB_OK)
        st = sb_buf_putc(b, '}');
    return st;
}

/* Python repr(v) (containers show their items with repr). */
sb_status tv_write_repr(sb_buf *b, tv v, unsigned depth_left, sb_error *err) {
    if (depth_left == 0)
        return nested_too_deep(err);
    switch (v.type) {
    case TV_UNDEF:
        return sb_buf_puts(b, "Undefined");
    case TV_STR:
        return write_str_repr(b, tv_str(v));
    case TV_LIST: {
        tlist *l = tv_list(v);
        sb_status st = sb_buf_putc(b, l->tuple ? '(' : '[');
        for (size_t i = 0; i < l->len && st == SB_OK; i++) {
            if (i)
                st = sb_buf_puts(b, ", ");
            if (st == SB_OK)
                st = tv_write_repr(b, l->items[i], depth_left - 1, err);
        }
        if (st == SB_OK && l->tuple && l->len == 1)
            st = sb_buf_putc(b, ',');
        if (st == SB_OK)
            st = sb_buf_putc(b, l->tuple ? ')' : ']');
        return st;
    }
    case TV_DICT:
        return write_dict_repr(b, tv_dict(v), depth_left, err);
    case TV_NS: {
        sb_status st = sb_buf_puts(b, "<Namespace ");
        if (st == SB_OK)
            st = write_dict_repr(b, tv_dict(v), depth_left, err);
        if (st == SB_OK)
            st = sb_buf_putc(b, '>');
        return st;
    }
    default:
        return tv_write_str(b, v, depth_left, err);
    }
}

/* Python str(v); undefined prints as nothing (jinja2's default Undefined). */
sb_status tv_write_str(sb_buf *b, tv v, unsigned depth_left, sb_error *err) {
    switch (v.type) {
    case TV_UNDEF:
        return SB_OK;
    case TV_NONE:
        return sb_buf_puts(b, "None");
    case TV_BOOL: case TV_INT: case TV_FLOAT:
        return write_number(b, v);
    case TV_STR:
        return sb_buf_append(b, tv_str(v)->data, tv_str(v)->len);
    case TV_LIST: case TV_DICT: case TV_NS:
        return tv_write_repr(b, v, depth_left, err);
    case TV_MACRO: {
        const tnode *def = ((tmacro *)v.u.o)->def;
        return sb_buf_printf(b, "<Macro '%s'>", def->name ? def->name : "caller");
    }
    case TV_FUNC:
        return sb_buf_printf(b, "<function %s>", builtin_name((int)v.u.i));
    case TV_BOUND: {
        tbound *bd = (tbound *)v.u.o;
        return sb_buf_printf(b, "<built-in method %s of %s object>", method_name(bd->method), tv_type_name(bd->self));
    }
    case TV_LOOP: {
        tloop *l = (tloop *)v.u.o;
        return sb_buf_printf(b, "<LoopContext %zu/%zu>", l->index0 + 1, l->items->len);
    }
    case TV_JOINER:
        return sb_buf_puts(b, "<jinja2.utils.Joiner object>");
    case TV_CYCLER:
        return sb_buf_puts(b, "<jinja2.utils.Cycler object>");
    default:
        return sb_buf_puts(b, "<object>");
    }
}

/* ---- json.dumps ---------------------------------------------------------- */

/* A JSON string as json.dumps writes it (ensure_ascii or not). */
static sb_status json_string(sb_buf *b, const char *s, size_t len, bool ensure_ascii) {
    sb_status st = sb_buf_putc(b, '"');
    size_t run = 0; /* start of bytes copied verbatim */
    for (size_t i = 0; i < len && st == SB_OK;) {
        unsigned char c = (unsigned char)s[i];
        size_t start = i;
        uint32_t cp = c;
        if (c >= 0x80)
            cp = uc_next(s, len, &i);
        else
            i++;
        const char *esc = NULL;
        char tmp[16];
        switch (cp) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        default:
            if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
                if (cp >= 0x10000) {
                    uint32_t v = cp - 0x10000;
                    snprintf(tmp, sizeof tmp, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                } else
                    snprintf(tmp, sizeof tmp, "\\u%04x", cp);
                esc = tmp;
            }
        }
        if (esc) {
            st = sb_buf_append(b, s + run, start - run);
            if (st == SB_OK)
                st = sb_buf_puts(b, esc);
            run = i;
        }
    }
    if (st == SB_OK)
        st = sb_buf_append(b, s + run, len - run);
    if (st == SB_OK)
        st = sb_buf_putc(b, '"');
    return st;
}

/* A float as json.dumps writes it (NaN, Infinity). */
static sb_status json_float(sb_buf *b, double f) {
    if (isnan(f))
        return sb_buf_puts(b, "NaN");
    if (isinf(f))
        return sb_buf_puts(b, f > 0 ? "Infinity" : "-Infinity");
    char tmp[32];
    size_t n = float_repr(f, tmp);
    return sb_buf_append(b, tmp, n);
}

/* A newline and the indentation of a level (indent mode). */
static sb_status json_newline(sb_buf *b, const tjson_opts *o, unsigned level) {
    sb_status st = sb_buf_putc(b, '\n');
    for (unsigned i = 0; i < level && st == SB_OK; i++)
        st = sb_buf_append(b, o->indent, o->indent_len);
    return st;
}

/* Dict keys as json.dumps converts them. */
static sb_status json_key(sb_buf *b, tv k, const tjson_opts *o, sb_error *err) {
    switch (k.type) {
    case TV_STR:
        return json_string(b, tv_str(k)->data, tv_str(k)->len, o->ensure_ascii);
    case TV_BOOL:
        return sb_buf_puts(b, k.u.b ? "\"true\"" : "\"false\"");
    case TV_NONE:
        return sb_buf_puts(b, "\"null\"");
    case TV_INT:
        return sb_buf_printf(b, "\"%" PRId64 "\"", k.u.i);
    case TV_FLOAT: {
        sb_status st = sb_buf_putc(b, '"');
        if (st == SB_OK)
            st = json_float(b, k.u.f);
        if (st == SB_OK)
            st = sb_buf_putc(b, '"');
        return st;
    }
    default:
        return sb_error_set(err, SB_ERR_FORMAT, "TypeError: keys must be str, int, float, bool or None, not %s",
                            tv_type_name(k));
    }
}

static sb_status json_value(sb_buf *b, tv v, const tjson_opts *o, unsigned level, unsigned depth_left, sb_error *err);

/* Stable merge sort of entry indexes by key, for sort_keys (Python's sorted). */
static sb_status json_sort(const tdict *d, size_t *v, size_t *tmp, size_t len, unsigned depth_left, sb_error *err) {
    if (len < 2)
        return SB_OK;
    size_t mid = len / 2;
    sb_status st = json_sort(d, v, tmp, mid, depth_left, err);
    if (st == SB_OK)
        st = json_sort(d, v + mid, tmp, len - mid, depth_left, err);
    size_t i = 0, j = mid, k = 0;
    while (st == SB_OK && i < mid && j < len) {
        int c;
        st = tv_compare(d->ents[v[j]].key, d->ents[v[i]].key, depth_left, &c, "<", err);
        tmp[k++] = st == SB_OK && c < 0 ? v[j++] : v[i++];
    }
    if (st)
        return st;
    while (i < mid)
        tmp[k++] = v[i++];
    while (j < len)
        tmp[k++] = v[j++];
    memcpy(v, tmp, len * sizeof *v);
    return SB_OK;
}

/* Entry indexes sorted by key (sort_keys). */
static sb_status json_sorted_order(const tdict *d, size_t *order, unsigned depth_left, sb_error *err) {
    for (size_t i = 0; i < d->len; i++)
        order[i] = i;
    size_t *tmp = sb_calloc(d->len, sizeof *tmp);
    if (!tmp)
        return sb_error_set(err, SB_ERR_NOMEM, "template: out of memory");
    sb_status st = json_sort(d, order, tmp, d->len, depth_left, err);
    sb_free(tmp);
    return st;
}

/* A dict as json.dumps writes it. */
static sb_status json_dict(sb_buf *b, const tdict *d, const tjson_opts *o, unsigned level, unsigned depth_left,
                           sb_error *err) {
    if (d->len == 0)
        return sb_buf_puts(b, "{}");
    size_t *order = NULL;
    if (o->sort_keys) {
        order = sb_calloc(d->len, sizeof *order);
        if (!order)
            return sb_error_set(err, SB_ERR_NOMEM, "template: out of memory");
        sb_status st = json_sorted_order(d, order, depth_left, err);
        if (st) {
            sb_free(order);
            return st;
        }
    }
    sb_status st = sb_buf_putc(b, '{');
    for (size_t i = 0; i < d->len && st == SB_OK; i++) {
        const tdent *e = &d->ents[order ? order[i] : i];
        if (i)
            st = sb_buf_puts(b, o->item_sep);
        if (st == SB_OK && o->indent)
            st = json_newline(b, o, level + 1);
        if (st == SB_OK)
            st = json_key(b, e->key, o, err);
        if (st == SB_OK)
            st = sb_buf_puts(b, o->key_sep);
        if (st == SB_OK)
            st = json_value(b, e->val, o, level + 1, depth_left - 1, err);
    }
    if (st == SB_OK && o->indent)
        st = json_newline(b, o, level);
    if (st == SB_OK)
        st = sb_buf_putc(b, '}');
    sb_free(order);
    return st;
}

/* Any value as json.dumps writes it. */
static sb_status json_value(sb_buf *b, tv v, const tjson_opts *o, unsigned level, unsigned depth_left, sb_error *err) {
    if (depth_left == 0)
        return sb_error_set(err, SB_ERR_LIMIT, "template: data nested too deeply for tojson");
    switch (v.type) {
    case TV_NONE:
        return sb_buf_puts(b, "null");
    case TV_BOOL:
        return sb_buf_puts(b, v.u.b ? "true" : "false");
    case TV_INT:
        return sb_buf_printf(b, "%" PRId64, v.u.i);
    case TV_FLOAT:
        return json_float(b, v.u.f);
    case TV_STR:
        return json_string(b, tv_str(v)->data, tv_str(v)->len, o->ensure_ascii);
    case TV_LIST: {
        tlist *l = tv_list(v);
        if (l->len == 0)
            return sb_buf_puts(b, "[]");
        sb_status st = sb_buf_putc(b, '[');
        for (size_t i = 0; i < l->len && st == SB_OK; i++) {
            if (i)
                st = sb_buf_puts(b, o->item_sep);
            if (st == SB_OK && o->indent)
                st = json_newline(b, o, level + 1);
            if (st == SB_OK)
                st = json_value(b, l->items[i], o, level + 1, depth_left - 1, err);
        }
        if (st == SB_OK && o->indent)
            st = json_newline(b, o, level);
        if (st == SB_OK)
            st = sb_buf_putc(b, ']');
        return st;
    }
    case TV_DICT:
        return json_dict(b, tv_dict(v), o, level, depth_left, err);
    default:
        return sb_error_set(err, SB_ERR_FORMAT, "TypeError: Object of type %s is not JSON serializable",
                            tv_type_name(v));
    }
}

/* json.dumps(v, ...) appended to b. */
sb_status tv_write_json(sb_buf *b, tv v, const tjson_opts *o, unsigned depth_left, sb_error *err) {
    sb_status st = json_value(b, v, o, 0, depth_left, err);
    if (st == SB_ERR_NOMEM)
        sb_error_set(err, SB_ERR_NOMEM, "template: out of memory");
    else if (st == SB_ERR_LIMIT && err && err->code != SB_ERR_LIMIT)
        sb_error_set(err, SB_ERR_LIMIT, "template: output limit exceeded");
    return st;
}
