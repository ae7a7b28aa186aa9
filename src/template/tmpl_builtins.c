/*
 * tmpl_builtins.c - the global functions a template can call: jinja2's
 * range, dict, namespace, joiner, cycler, and Hugging Face's raise_exception
 * and strftime_now. Nothing here reaches outside the render except the
 * wall clock for strftime_now when the caller did not pin a time.
 */
#include "tmpl_internal.h"

#include "sb_time.h"

#include <string.h>
#include <time.h>

/* jinja2's sandbox refuses ranges longer than this (MAX_RANGE). */
#define TMPL_MAX_RANGE 100000

enum builtin_id { B_RANGE, B_DICT, B_NAMESPACE, B_JOINER, B_CYCLER, B_RAISE, B_STRFTIME_NOW, B_COUNT };

static const char *const k_builtin_names[B_COUNT] = {"range",  "dict",   "namespace",      "joiner",
                                                     "cycler", "raise_exception", "strftime_now"};

/* The id of the global function called name, or -1. */
int builtin_find(const char *name) {
    for (int i = 0; i < B_COUNT; i++)
        if (strcmp(k_builtin_names[i], name) == 0)
            return i;
    return -1;
}

/* The name of a global function id (static storage). */
const char *builtin_name(int id) { return id >= 0 && id < B_COUNT ? k_builtin_names[id] : "?"; }

/* An int (or bool) argument of range(), else a TypeError. */
static sb_status int_arg(trender *r, const tnode *n, const tv *v, int64_t *out) {
    if (v->type == TV_INT || v->type == TV_BOOL) {
        *out = v->type == TV_INT ? v->u.i : v->u.b;
        return SB_OK;
    }
    return rt_type_error(r, n, "'%s' object cannot be interpreted as an integer", tv_type_name(*v));
}

/* range(): a list (jinja2's sandbox caps it at MAX_RANGE items). */
static sb_status b_range(trender *r, const tnode *n, const targs *a, tv *out) {
    if (a->nkw)
        return rt_type_error(r, n, "range() takes no keyword arguments");
    if (a->npos < 1 || a->npos > 3)
        return rt_type_error(r, n, "range expected 1 to 3 arguments, got %zu", a->npos);
    int64_t start = 0, stop = 0, step = 1;
    sb_status st;
    if (a->npos == 1)
        st = int_arg(r, n, &a->pos[0], &stop);
    else if ((st = int_arg(r, n, &a->pos[0], &start)) == SB_OK && (st = int_arg(r, n, &a->pos[1], &stop)) == SB_OK &&
             a->npos == 3)
        st = int_arg(r, n, &a->pos[2], &step);
    if (st)
        return st;
    if (step == 0)
        return rt_error(r, n, "ValueError: range() arg 3 must not be zero");
    /* item count in unsigned arithmetic: start/stop/step are any int64 */
    uint64_t count = 0;
    if (step > 0 && start < stop)
        count = ((uint64_t)stop - (uint64_t)start - 1) / (uint64_t)step + 1;
    else if (step < 0 && start > stop)
        count = ((uint64_t)start - (uint64_t)stop - 1) / (0 - (uint64_t)step) + 1;
    if (count > TMPL_MAX_RANGE)
        return rt_error(r, n, "OverflowError: Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).",
                        TMPL_MAX_RANGE);
    if ((st = rt_work(r, n, count + 1)) || (st = rt_fix(r, n, list_new(&r->heap, (size_t)count, false, out))))
        return st;
    for (uint64_t i = 0; i < count; i++)
        tv_list(*out)->items[tv_list(*out)->len++] = tv_int(start + (int64_t)(i * (uint64_t)step));
    return SB_OK;
}

/* dict(...) and namespace(...): from an optional mapping or (key, value)
 * pairs, then keyword arguments. */
static sb_status b_dict(trender *r, const tnode *n, const targs *a, bool ns, tv *out) {
    if (a->npos > 1)
        return rt_type_error(r, n, "%s expected at most 1 argument, got %zu", ns ? "Namespace" : "dict", a->npos);
    sb_status st = rt_fix(r, n, dict_new(&r->heap, ns, out));
    if (st)
        return st;
    tdict *d = tv_dict(*out);
    if (a->npos == 1) {
        tv src = a->pos[0];
        if (src.type == TV_DICT || src.type == TV_NS) {
            tdict *s = tv_dict(src);
            for (size_t i = 0; i < s->len && st == SB_OK; i++)
                st = rt_fix(r, n, dict_set(d, tv_retain(s->ents[i].key), tv_retain(s->ents[i].val)));
        } else {
            tlist *items;
            if ((st = tv_iterate(r, n, src, &items)) == SB_OK) {
                for (size_t i = 0; i < items->len && st == SB_OK; i++) {
                    tv p = items->items[i];
                    if (p.type != TV_LIST || tv_list(p)->len != 2)
                        st = rt_error(r, n, "ValueError: dictionary update sequence element #%zu has the wrong length",
                                      i);
                    else if (!tv_hashable(tv_list(p)->items[0]))
                        st = rt_type_error(r, n, "unhashable type: '%s'", tv_type_name(tv_list(p)->items[0]));
                    else
                        st = rt_fix(r, n, dict_set(d, tv_retain(tv_list(p)->items[0]), tv_retain(tv_list(p)->items[1])));
                }
                tobj_release(&items->h);
            }
        }
    }
    for (size_t i = 0; i < a->nkw && st == SB_OK; i++) {
        tv k;
        st = rt_fix(r, n, str_new(&r->heap, a->kwnames[i], strlen(a->kwnames[i]), &k));
        if (st == SB_OK)
            st = rt_fix(r, n, dict_set(d, k, tv_retain(a->kw[i])));
    }
    if (st)
        tv_release(*out);
    return st;
}

/* raise_exception(msg): fails the render with SB_ERR_INVALID_ARG and exactly msg. */
static sb_status b_raise(trender *r, const tnode *n, const targs *a) {
    if (a->npos + a->nkw != 1)
        return rt_type_error(r, n, "raise_exception() takes exactly one argument (%zu given)", a->npos + a->nkw);
    tv msg = a->npos ? a->pos[0] : a->kw[0];
    tv s;
    sb_status st = tv_to_str(r, n, msg, &s);
    if (st)
        return st;
    /* exactly the template's message, so the server can return it as is */
    sb_error_set(r->err, SB_ERR_INVALID_ARG, "%s", tv_str(s)->data);
    tv_release(s);
    return SB_ERR_INVALID_ARG;
}

/* strftime_now(fmt): the pinned or current time, formatted. */
static sb_status b_strftime_now(trender *r, const tnode *n, const targs *a, tv *out) {
    const tv *fmt = arg_get(a, 0, "format");
    if (!fmt || fmt->type != TV_STR)
        return rt_type_error(r, n, "strftime_now() expects a format string");
    bool pinned = r->now != 0;
    int64_t when = pinned ? r->now : sb_unix_time();
    sb_buf b;
    sb_buf_init(&b);
    b.limit = r->lim->max_output_bytes;
    sb_status st = tmpl_strftime(&b, tv_str(*fmt)->data, tv_str(*fmt)->len, when, pinned);
    if (st == SB_OK)
        st = str_new_checked(&r->heap, b.data ? b.data : "", b.len, out);
    sb_buf_free(&b);
    return rt_fix(r, n, st);
}

/* Calls global function id; *out is a new reference. */
sb_status builtin_call(trender *r, const tnode *n, int id, const targs *a, tv *out) {
    switch (id) {
    case B_RANGE:
        return b_range(r, n, a, out);
    case B_DICT:
        return b_dict(r, n, a, false, out);
    case B_NAMESPACE:
        return b_dict(r, n, a, true, out);
    case B_JOINER: {
        const tv *sep = arg_get(a, 0, "sep");
        if (sep)
            return rt_fix(r, n, joiner_new(&r->heap, *sep, out));
        tv def;
        sb_status st = rt_fix(r, n, str_new(&r->heap, ", ", 2, &def));
        if (st == SB_OK) {
            st = rt_fix(r, n, joiner_new(&r->heap, def, out));
            tv_release(def);
        }
        return st;
    }
    case B_CYCLER: {
        tv items;
        sb_status st = rt_fix(r, n, list_new(&r->heap, a->npos, false, &items));
        if (st)
            return st;
        for (size_t i = 0; i < a->npos; i++)
            tv_list(items)->items[tv_list(items)->len++] = tv_retain(a->pos[i]);
        st = rt_fix(r, n, cycler_new(&r->heap, tv_list(items), out));
        tv_release(items);
        return st;
    }
    case B_RAISE:
        return b_raise(r, n, a);
    case B_STRFTIME_NOW:
        return b_strftime_now(r, n, a, out);
    default:
        return rt_error(r, n, "internal error: unknown builtin");
    }
}

/* ---- strftime ------------------------------------------------------------- */

static const char *const k_days[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"};
static const char *const k_months[] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};

/* A number zero-padded to width (space-padded if pad == ' '), or unpadded. */
static sb_status put_num(sb_buf *b, int v, int width, bool nopad, char pad) {
    if (nopad)
        return sb_buf_printf(b, "%d", v);
    return pad == ' ' ? sb_buf_printf(b, "%*d", width, v) : sb_buf_printf(b, "%0*d", width, v);
}

/* C-locale strftime with English names; `%-d` style drops padding (glibc). */
sb_status tmpl_strftime(sb_buf *b, const char *fmt, size_t len, int64_t when, bool utc) {
    time_t t = (time_t)when;
    struct tm tm;
    if (!(utc ? gmtime_r(&t, &tm) : localtime_r(&t, &tm)))
        memset(&tm, 0, sizeof tm);
    sb_status st = SB_OK;
    for (size_t i = 0; i < len && st == SB_OK; i++) {
        if (fmt[i] != '%' || i + 1 >= len) {
            st = sb_buf_putc(b, fmt[i]);
            continue;
        }
        char c = fmt[++i];
        bool nopad = false;
        if (c == '-' && i + 1 < len) {
            nopad = true;
            c = fmt[++i];
        }
        int hour12 = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
        switch (c) {
        case 'a': st = sb_buf_printf(b, "%.3s", k_days[tm.tm_wday % 7]); break;
        case 'A': st = sb_buf_puts(b, k_days[tm.tm_wday % 7]); break;
        case 'b': case 'h': st = sb_buf_printf(b, "%.3s", k_months[tm.tm_mon % 12]); break;
        case 'B': st = sb_buf_puts(b, k_months[tm.tm_mon % 12]); break;
        case 'd': st = put_num(b, tm.tm_mday, 2, nopad, '0'); break;
        case 'e': st = put_num(b, tm.tm_mday, 2, nopad, ' '); break;
        case 'm': st = put_num(b, tm.tm_mon + 1, 2, nopad, '0'); break;
        case 'y': st = put_num(b, tm.tm_year % 100, 2, nopad, '0'); break;
        case 'Y': st = sb_buf_printf(b, "%d", tm.tm_year + 1900); break;
        case 'H': st = put_num(b, tm.tm_hour, 2, nopad, '0'); break;
        case 'I': st = put_num(b, hour12, 2, nopad, '0'); break;
        case 'M': st = put_num(b, tm.tm_min, 2, nopad, '0'); break;
        case 'S': st = put_num(b, tm.tm_sec, 2, nopad, '0'); break;
        case 'p': st = sb_buf_puts(b, tm.tm_hour < 12 ? "AM" : "PM"); break;
        case 'j': st = put_num(b, tm.tm_yday + 1, 3, nopad, '0'); break;
        case 'w': st = sb_buf_printf(b, "%d", tm.tm_wday); break;
        case 'u': st = sb_buf_printf(b, "%d", tm.tm_wday ? tm.tm_wday : 7); break;
        case 'F': st = sb_buf_printf(b, "%d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday); break;
        case 'D': st = sb_buf_printf(b, "%02d/%02d/%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_year % 100); break;
        case 'T': st = sb_buf_printf(b, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec); break;
        case 'R': st = sb_buf_printf(b, "%02d:%02d", tm.tm_hour, tm.tm_min); break;
        case 'c':
            st = sb_buf_printf(b, "%.3s %.3s %2d %02d:%02d:%02d %d", k_days[tm.tm_wday % 7], k_months[tm.tm_mon % 12],
                               tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
            break;
        case 'x': st = sb_buf_printf(b, "%02d/%02d/%02d", tm.tm_mon + 1, tm.tm_mday, tm.tm_year % 100); break;
        case 'X': st = sb_buf_printf(b, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec); break;
        case 'Z': st = sb_buf_puts(b, utc ? "UTC" : ""); break;
        case 'z': st = sb_buf_puts(b, utc ? "+0000" : ""); break;
        case 'n': st = sb_buf_putc(b, '\n'); break;
        case 't': st = sb_buf_putc(b, '\t'); break;
        case '%': st = sb_buf_putc(b, '%'); break;
        default: /* unknown directive: kept as written */
            st = sb_buf_putc(b, '%');
            if (st == SB_OK && nopad)
                st = sb_buf_putc(b, '-');
            if (st == SB_OK)
                st = sb_buf_putc(b, c);
            break;
        }
    }
    return st;
}
