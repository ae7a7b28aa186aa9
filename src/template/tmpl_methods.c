/*
 * tmpl_methods.c - Python methods templates call on values: str methods
 * (strip, split, startswith, ...), list methods (append, pop, ...), dict
 * methods (items, get, ...), and loop.cycle/changed, cycler.next/reset.
 * List and dict methods may mutate template-made and input values of this
 * render; the caller's own values are never touched (a render copies them).
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"

#include <string.h>

enum method_id {
    /* str */
    M_STR_FIRST, M_UPPER = M_STR_FIRST, M_LOWER, M_CASEFOLD, M_STRIP, M_LSTRIP, M_RSTRIP, M_SPLIT, M_RSPLIT,
    M_SPLITLINES, M_STARTSWITH, M_ENDSWITH, M_REPLACE, M_TITLE, M_CAPITALIZE, M_SWAPCASE, M_FIND, M_RFIND, M_INDEX,
    M_RINDEX, M_COUNT, M_JOIN, M_ISDIGIT, M_ISALPHA, M_ISALNUM, M_ISSPACE, M_ISUPPER, M_ISLOWER, M_ISNUMERIC,
    M_ISDECIMAL, M_ZFILL, M_CENTER, M_LJUST, M_RJUST, M_REMOVEPREFIX, M_REMOVESUFFIX, M_PARTITION, M_RPARTITION,
    M_FORMAT, M_STR_LAST = M_FORMAT,
    /* list */
    M_APPEND, M_POP, M_INSERT, M_EXTEND, M_REMOVE, M_LINDEX, M_LCOUNT, M_REVERSE, M_SORT, M_LCOPY, M_LCLEAR,
    /* dict */
    M_ITEMS, M_KEYS, M_VALUES, M_GET, M_DPOP, M_UPDATE, M_DCOPY, M_SETDEFAULT, M_DCLEAR,
    /* loop, cycler */
    M_CYCLE, M_CHANGED, M_NEXT, M_RESET,
    M_COUNT_ALL
};

typedef struct method_def {
    const char *name;
    int id;
} method_def;

static const method_def k_str_methods[] = {
    {"upper", M_UPPER},         {"lower", M_LOWER},           {"casefold", M_CASEFOLD},   {"strip", M_STRIP},
    {"lstrip", M_LSTRIP},       {"rstrip", M_RSTRIP},         {"split", M_SPLIT},         {"rsplit", M_RSPLIT},
    {"splitlines", M_SPLITLINES}, {"startswith", M_STARTSWITH}, {"endswith", M_ENDSWITH}, {"replace", M_REPLACE},
    {"title", M_TITLE},         {"capitalize", M_CAPITALIZE}, {"swapcase", M_SWAPCASE},   {"find", M_FIND},
    {"rfind", M_RFIND},         {"index", M_INDEX},           {"rindex", M_RINDEX},       {"count", M_COUNT},
    {"join", M_JOIN},           {"isdigit", M_ISDIGIT},       {"isalpha", M_ISALPHA},     {"isalnum", M_ISALNUM},
    {"isspace", M_ISSPACE},     {"isupper", M_ISUPPER},       {"islower", M_ISLOWER},     {"isnumeric", M_ISNUMERIC},
    {"isdecimal", M_ISDECIMAL}, {"zfill", M_ZFILL},           {"center", M_CENTER},       {"ljust", M_LJUST},
    {"rjust", M_RJUST},         {"removeprefix", M_REMOVEPREFIX}, {"removesuffix", M_REMOVESUFFIX},
    {"partition", M_PARTITION}, {"rpartition", M_RPARTITION}, {"format", M_FORMAT},
};
static const method_def k_list_methods[] = {
    {"append", M_APPEND}, {"pop", M_POP},         {"insert", M_INSERT},   {"extend", M_EXTEND},
    {"remove", M_REMOVE}, {"index", M_LINDEX},    {"count", M_LCOUNT},    {"reverse", M_REVERSE},
    {"sort", M_SORT},     {"copy", M_LCOPY},      {"clear", M_LCLEAR},
};
static const method_def k_tuple_methods[] = {{"index", M_LINDEX}, {"count", M_LCOUNT}};
static const method_def k_dict_methods[] = {
    {"items", M_ITEMS}, {"keys", M_KEYS},   {"values", M_VALUES},         {"get", M_GET},     {"pop", M_DPOP},
    {"update", M_UPDATE}, {"copy", M_DCOPY}, {"setdefault", M_SETDEFAULT}, {"clear", M_DCLEAR},
};
static const method_def k_loop_methods[] = {{"cycle", M_CYCLE}, {"changed", M_CHANGED}};
static const method_def k_cycler_methods[] = {{"next", M_NEXT}, {"reset", M_RESET}};

/* The method id called name in one table, or -1. */
static int find_in(const method_def *defs, size_t n, const char *name, size_t len) {
    for (size_t i = 0; i < n; i++)
        if (strlen(defs[i].name) == len && memcmp(defs[i].name, name, len) == 0)
            return defs[i].id;
    return -1;
}

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* The id of self's method called name, or -1. */
int method_find(tv self, const char *name, size_t len) {
    switch (self.type) {
    case TV_STR:
        return find_in(k_str_methods, COUNT_OF(k_str_methods), name, len);
    case TV_LIST:
        if (tv_list(self)->tuple)
            return find_in(k_tuple_methods, COUNT_OF(k_tuple_methods), name, len);
        return find_in(k_list_methods, COUNT_OF(k_list_methods), name, len);
    case TV_DICT:
        return find_in(k_dict_methods, COUNT_OF(k_dict_methods), name, len);
    case TV_LOOP:
        return find_in(k_loop_methods, COUNT_OF(k_loop_methods), name, len);
    case TV_CYCLER:
        return find_in(k_cycler_methods, COUNT_OF(k_cycler_methods), name, len);
    default:
        return -1;
    }
}

/* A method id's name (static storage). */
const char *method_name(int id) {
    static const method_def *const tables[] = {k_str_methods, k_list_methods, k_tuple_methods, k_dict_methods,
                                               k_loop_methods, k_cycler_methods};
    static const size_t sizes[] = {COUNT_OF(k_str_methods),  COUNT_OF(k_list_methods), COUNT_OF(k_tuple_methods),
                                   COUNT_OF(k_dict_methods), COUNT_OF(k_loop_methods), COUNT_OF(k_cycler_methods)};
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (size_t i = 0; i < sizes[t]; i++)
            if (tables[t][i].id == id)
                return tables[t][i].name;
    return "?";
}

/* ---- helpers ----------------------------------------------------------------- */

/* A TypeError unless v is a string. */
static sb_status want_str(trender *r, const tnode *n, const tv *v, const char *what) {
    if (!v || v->type != TV_STR)
        return rt_type_error(r, n, "%s must be str, not %s", what, v ? tv_type_name(*v) : "nothing");
    return SB_OK;
}

/* Optional code point bounds start/end of str methods, clamped like slices. */
static void cp_bounds(const targs *a, size_t first_arg, size_t ncp, int64_t *start, int64_t *end) {
    const tv *s = arg_get(a, first_arg, "start"), *e = arg_get(a, first_arg + 1, "end");
    int64_t len = (int64_t)ncp;
    *start = s && s->type == TV_INT ? s->u.i : 0;
    *end = e && e->type == TV_INT ? e->u.i : len;
    if (*start < 0 && (*start += len) < 0)
        *start = 0;
    if (*start > len)
        *start = len;
    if (*end < 0 && (*end += len) < 0)
        *end = 0;
    if (*end > len)
        *end = len;
}

/* Whether p occurs in s at byte offset at. */
static bool str_has_at(const tstr *s, size_t at, const tstr *p) {
    return at + p->len <= s->len && memcmp(s->data + at, p->data, p->len) == 0;
}

/* startswith/endswith(prefix or tuple of prefixes, start, end). */
static sb_status starts_ends(trender *r, const tnode *n, tv self, const targs *a, bool ends, tv *out) {
    const tv *p = arg_get(a, 0, NULL);
    if (!p)
        return rt_type_error(r, n, "%s() takes at least 1 argument (0 given)", ends ? "endswith" : "startswith");
    tstr *s = tv_str(self);
    int64_t cs, ce;
    cp_bounds(a, 1, s->ncp, &cs, &ce);
    size_t bs = uc_offset(s, (size_t)cs), be = uc_offset(s, (size_t)(ce > cs ? ce : cs));
    const tv *cands = p;
    size_t ncand = 1;
    if (p->type == TV_LIST && tv_list(*p)->tuple) {
        cands = tv_list(*p)->items;
        ncand = tv_list(*p)->len;
    }
    bool hit = false;
    for (size_t i = 0; i < ncand && !hit; i++) {
        if (cands[i].type != TV_STR)
            return rt_type_error(r, n, "%s first arg must be str or a tuple of str, not %s",
                                 ends ? "endswith" : "startswith", tv_type_name(cands[i]));
        tstr *c = tv_str(cands[i]);
        if (ce < cs || c->len > be - bs)
            continue;
        hit = ends ? str_has_at(s, be - c->len, c) : str_has_at(s, bs, c);
    }
    *out = tv_bool(hit);
    return SB_OK;
}

/* isdigit/isalpha/isalnum/isspace/isupper/islower. */
static sb_status str_pred(tv self, int id, tv *out) {
    tstr *s = tv_str(self);
    bool all = s->len > 0, cased = false, has_upper = false, has_lower = false;
    for (size_t i = 0; i < s->len;) {
        uint32_t cp = uc_next(s->data, s->len, &i);
        bool ok;
        switch (id) {
        case M_ISDIGIT: case M_ISNUMERIC: case M_ISDECIMAL: ok = uc_isdigit(cp); break;
        case M_ISALPHA: ok = uc_isalpha(cp); break;
        case M_ISALNUM: ok = uc_isalpha(cp) || uc_isdigit(cp); break;
        case M_ISSPACE: ok = uc_isspace(cp); break;
        default:
            ok = true;
            if (uc_lower(cp) != cp)
                has_upper = cased = true;
            else if (uc_upper(cp) != cp || cp == 0xDF)
                has_lower = cased = true;
            break;
        }
        all = all && ok;
    }
    if (id == M_ISUPPER)
        all = cased && !has_lower;
    else if (id == M_ISLOWER)
        all = cased && !has_upper;
    *out = tv_bool(all);
    return SB_OK;
}

/* center/ljust/rjust/zfill. */
static sb_status pad_method(trender *r, const tnode *n, tv self, const targs *a, int id, tv *out) {
    const tv *w = arg_get(a, 0, "width"), *f = arg_get(a, 1, "fillchar");
    if (!w || w->type != TV_INT)
        return rt_type_error(r, n, "integer width expected");
    tstr *s = tv_str(self);
    uint32_t fill = ' ';
    if (f) {
        if (f->type != TV_STR || tv_str(*f)->ncp != 1)
            return rt_type_error(r, n, "The fill character must be exactly one character long");
        size_t k = 0;
        fill = uc_next(tv_str(*f)->data, tv_str(*f)->len, &k);
    }
    if (w->u.i <= (int64_t)s->ncp) {
        *out = tv_retain(self);
        return SB_OK;
    }
    if ((uint64_t)w->u.i > r->lim->max_output_bytes)
        return rt_fix(r, n, SB_ERR_LIMIT);
    sb_status st = rt_work(r, n, (uint64_t)w->u.i / 16 + 1);
    if (st)
        return st;
    size_t marg = (size_t)w->u.i - s->ncp, left;
    if (id == M_CENTER)
        left = marg / 2 + (marg & (size_t)w->u.i & 1);
    else
        left = id == M_LJUST ? 0 : marg;
    sb_buf b;
    sb_buf_init(&b);
    size_t body = 0;
    if (id == M_ZFILL && s->len && (s->data[0] == '+' || s->data[0] == '-')) {
        st = sb_buf_putc(&b, s->data[0]);
        body = 1;
    }
    for (size_t i = 0; i < left && st == SB_OK; i++)
        st = id == M_ZFILL ? sb_buf_putc(&b, '0') : buf_put_cp(&b, fill);
    if (st == SB_OK)
        st = sb_buf_append(&b, s->data + body, s->len - body);
    for (size_t i = left; i < marg && st == SB_OK; i++)
        st = buf_put_cp(&b, fill);
    if (st == SB_OK)
        st = str_new(&r->heap, b.data, b.len, out);
    sb_buf_free(&b);
    return rt_fix(r, n, st);
}

/* partition / rpartition: a 3-tuple. */
static sb_status partition(trender *r, const tnode *n, tv self, const targs *a, bool from_right, tv *out) {
    const tv *sep = arg_get(a, 0, NULL);
    sb_status st = want_str(r, n, sep, "separator");
    if (st)
        return st;
    tstr *s = tv_str(self), *p = tv_str(*sep);
    if (p->len == 0)
        return rt_error(r, n, "ValueError: empty separator");
    int64_t at = pystr_find(self, *sep, 0, (int64_t)s->ncp, from_right);
    tv parts[3];
    size_t made = 0;
    if (at < 0) {
        parts[0] = from_right ? str_empty() : tv_retain(self);
        parts[1] = str_empty();
        parts[2] = from_right ? tv_retain(self) : str_empty();
        made = 3;
    } else {
        size_t off = uc_offset(s, (size_t)at);
        if ((st = str_new(&r->heap, s->data, off, &parts[0])) == SB_OK) {
            made = 1;
            parts[made++] = tv_retain(*sep);
            if ((st = str_new(&r->heap, s->data + off + p->len, s->len - off - p->len, &parts[2])) == SB_OK)
                made = 3;
        }
    }
    if (st == SB_OK)
        st = list_new(&r->heap, 3, true, out);
    if (st) {
        for (size_t i = 0; i < made; i++)
            tv_release(parts[i]);
        return rt_fix(r, n, st);
    }
    for (size_t i = 0; i < 3; i++)
        tv_list(*out)->items[tv_list(*out)->len++] = parts[i];
    return SB_OK;
}

/* splitlines(keepends=False). */
static sb_status splitlines(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    const tv *ke = arg_get(a, 0, "keepends");
    bool keep = ke && tv_truthy(*ke);
    tstr *s = tv_str(self);
    sb_status st = rt_fix(r, n, list_new(&r->heap, 0, false, out));
    size_t i = 0;
    while (st == SB_OK && i < s->len) {
        size_t start = i, end = s->len, next = s->len;
        while (i < s->len) {
            size_t j = i;
            uint32_t cp = uc_next(s->data, s->len, &j);
            if (cp == '\n' || cp == '\r' || cp == 0x0B || cp == 0x0C || (cp >= 0x1C && cp <= 0x1E) || cp == 0x85 ||
                cp == 0x2028 || cp == 0x2029) {
                end = i;
                next = (cp == '\r' && j < s->len && s->data[j] == '\n') ? j + 1 : j;
                break;
            }
            i = j;
        }
        tv piece;
        st = rt_fix(r, n, str_new(&r->heap, s->data + start, (keep ? next : end) - start, &piece));
        if (st == SB_OK)
            st = rt_fix(r, n, list_push(tv_list(*out), piece));
        i = next;
    }
    return st;
}

/* Python str.format with {} / {0} / {name} fields and !s / !r conversions. */
static sb_status str_format(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    tstr *f = tv_str(self);
    sb_status st = rt_work(r, n, f->len + 1);
    if (st)
        return st;
    sb_buf b;
    sb_buf_init(&b);
    b.limit = r->lim->max_output_bytes;
    size_t auto_idx = 0;
    for (size_t i = 0; i < f->len && st == SB_OK;) {
        char c = f->data[i];
        if ((c == '{' || c == '}') && i + 1 < f->len && f->data[i + 1] == c) {
            st = sb_buf_putc(&b, c);
            i += 2;
            continue;
        }
        if (c == '}') {
            st = rt_error(r, n, "ValueError: Single '}' encountered in format string");
            break;
        }
        if (c != '{') {
            st = sb_buf_putc(&b, c);
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < f->len && f->data[j] != '}')
            j++;
        if (j >= f->len) {
            st = rt_error(r, n, "ValueError: Single '{' encountered in format string");
            break;
        }
        const char *field = f->data + i + 1;
        size_t flen = j - i - 1, name_len = 0;
        while (name_len < flen && field[name_len] != '!' && field[name_len] != ':')
            name_len++;
        char conv = name_len + 1 < flen && field[name_len] == '!' ? field[name_len + 1] : 's';
        if (name_len < flen && (field[name_len] == ':' || (name_len + 2 < flen))) {
            st = rt_error(r, n, "ValueError: format specs in str.format are not supported");
            break;
        }
        const tv *arg = NULL;
        if (name_len == 0)
            arg = auto_idx < a->npos ? &a->pos[auto_idx++] : NULL;
        else if (field[0] >= '0' && field[0] <= '9') {
            size_t idx = 0;
            for (size_t k = 0; k < name_len && idx < 100000; k++)
                idx = idx * 10 + (size_t)(field[k] - '0');
            arg = idx < a->npos ? &a->pos[idx] : NULL;
        } else
            for (size_t k = 0; k < a->nkw && !arg; k++)
                if (strlen(a->kwnames[k]) == name_len && memcmp(a->kwnames[k], field, name_len) == 0)
                    arg = &a->kw[k];
        if (!arg) {
            st = rt_error(r, n, "IndexError: Replacement index out of range for positional args tuple");
            break;
        }
        st = conv == 'r' ? tv_write_repr(&b, *arg, r->lim->max_nesting, r->err)
                         : tv_write_str(&b, *arg, r->lim->max_nesting, r->err);
        i = j + 1;
    }
    if (st == SB_OK)
        st = str_new(&r->heap, b.data ? b.data : "", b.len, out);
    sb_buf_free(&b);
    return rt_fix(r, n, st);
}

/* Dispatches a str method; *out is a new reference. */
static sb_status str_method(trender *r, const tnode *n, tv self, int id, const targs *a, tv *out) {
    tstr *s = tv_str(self);
    const tv *a0 = arg_get(a, 0, NULL), *a1 = arg_get(a, 1, NULL);
    sb_status st = rt_work(r, n, s->len / 16 + 1);
    if (st)
        return st;
    switch (id) {
    case M_UPPER: return rt_fix(r, n, pystr_case(r, self, 1, out));
    case M_LOWER: case M_CASEFOLD: return rt_fix(r, n, pystr_case(r, self, 0, out));
    case M_CAPITALIZE: return rt_fix(r, n, pystr_case(r, self, 2, out));
    case M_TITLE: return rt_fix(r, n, pystr_case(r, self, 3, out));
    case M_SWAPCASE: return rt_fix(r, n, pystr_case(r, self, 4, out));
    case M_STRIP: case M_LSTRIP: case M_RSTRIP:
        if (a0 && a0->type != TV_STR && a0->type != TV_NONE)
            return rt_type_error(r, n, "strip arg must be None or str");
        return rt_fix(r, n, pystr_strip(r, self, a0, id != M_RSTRIP, id != M_LSTRIP, out));
    case M_SPLIT: case M_RSPLIT: {
        const tv *sep = arg_get(a, 0, "sep"), *ms = arg_get(a, 1, "maxsplit");
        if (sep && sep->type != TV_STR && sep->type != TV_NONE)
            return rt_type_error(r, n, "must be str or None, not %s", tv_type_name(*sep));
        int64_t maxsplit = ms && ms->type == TV_INT ? ms->u.i : -1;
        return pystr_split(r, n, self, sep, maxsplit, id == M_RSPLIT, out);
    }
    case M_SPLITLINES: return splitlines(r, n, self, a, out);
    case M_STARTSWITH: case M_ENDSWITH: return starts_ends(r, n, self, a, id == M_ENDSWITH, out);
    case M_REPLACE: {
        if ((st = want_str(r, n, a0, "replace() argument 1")) || (st = want_str(r, n, a1, "replace() argument 2")))
            return st;
        const tv *c = arg_get(a, 2, "count");
        return pystr_replace(r, n, self, *a0, *a1, c && c->type == TV_INT ? c->u.i : -1, out);
    }
    case M_FIND: case M_RFIND: case M_INDEX: case M_RINDEX: case M_COUNT: {
        if ((st = want_str(r, n, a0, "substring")))
            return st;
        int64_t cs, ce;
        cp_bounds(a, 1, s->ncp, &cs, &ce);
        if (id == M_COUNT) {
            tstr *p = tv_str(*a0);
            if (ce < cs) {
                *out = tv_int(0);
                return SB_OK;
            }
            if (p->len == 0) {
                *out = tv_int(ce - cs + 1);
                return SB_OK;
            }
            size_t bs = uc_offset(s, (size_t)cs), be = uc_offset(s, (size_t)ce);
            int64_t count = 0;
            for (size_t i = bs; i + p->len <= be;) {
                const char *hit = memmem(s->data + i, be - i, p->data, p->len);
                if (!hit)
                    break;
                count++;
                i = (size_t)(hit - s->data) + p->len;
            }
            *out = tv_int(count);
            return SB_OK;
        }
        int64_t at = pystr_find(self, *a0, cs, ce, id == M_RFIND || id == M_RINDEX);
        if (at < 0 && (id == M_INDEX || id == M_RINDEX))
            return rt_error(r, n, "ValueError: substring not found");
        *out = tv_int(at);
        return SB_OK;
    }
    case M_JOIN:
        if (!a0)
            return rt_type_error(r, n, "join() takes exactly one argument (0 given)");
        return pystr_join(r, n, self, *a0, NULL, true, out);
    case M_ISDIGIT: case M_ISALPHA: case M_ISALNUM: case M_ISSPACE: case M_ISUPPER: case M_ISLOWER:
    case M_ISNUMERIC: case M_ISDECIMAL:
        return str_pred(self, id, out);
    case M_ZFILL: case M_CENTER: case M_LJUST: case M_RJUST: return pad_method(r, n, self, a, id, out);
    case M_REMOVEPREFIX: case M_REMOVESUFFIX: {
        if ((st = want_str(r, n, a0, "argument")))
            return st;
        tstr *p = tv_str(*a0);
        bool pre = id == M_REMOVEPREFIX;
        if (p->len && p->len <= s->len && str_has_at(s, pre ? 0 : s->len - p->len, p))
            return rt_fix(r, n, str_new(&r->heap, s->data + (pre ? p->len : 0), s->len - p->len, out));
        *out = tv_retain(self);
        return SB_OK;
    }
    case M_PARTITION: case M_RPARTITION: return partition(r, n, self, a, id == M_RPARTITION, out);
    case M_FORMAT: return str_format(r, n, self, a, out);
    default: return rt_error(r, n, "internal error: bad str method");
    }
}

/* ---- list and dict methods ----------------------------------------------------- */

/* Dispatches a list method (some mutate the list). */
static sb_status list_method(trender *r, const tnode *n, tv self, int id, const targs *a, tv *out) {
    tlist *l = tv_list(self);
    const tv *a0 = arg_get(a, 0, NULL), *a1 = arg_get(a, 1, NULL);
    /* steps: the list's length for methods that walk or move it */
    sb_status st = rt_work(r, n, id == M_APPEND || (id == M_POP && !a0) ? 1 : l->len + 1);
    if (st)
        return st;
    *out = tv_none();
    switch (id) {
    case M_APPEND:
        if (!a0)
            return rt_type_error(r, n, "append() takes exactly one argument (0 given)");
        return rt_fix(r, n, list_push(l, tv_retain(*a0)));
    case M_POP: {
        if (l->len == 0)
            return rt_error(r, n, "IndexError: pop from empty list");
        int64_t i = a0 && a0->type == TV_INT ? a0->u.i : -1;
        if (i < 0)
            i += (int64_t)l->len;
        if (i < 0 || i >= (int64_t)l->len)
            return rt_error(r, n, "IndexError: pop index out of range");
        *out = l->items[i];
        memmove(&l->items[i], &l->items[i + 1], (l->len - (size_t)i - 1) * sizeof(tv));
        l->len--;
        return SB_OK;
    }
    case M_INSERT: {
        if (!a0 || !a1 || a0->type != TV_INT)
            return rt_type_error(r, n, "insert() expects an integer index and a value");
        int64_t i = a0->u.i, len = (int64_t)l->len;
        if (i < 0 && (i += len) < 0)
            i = 0;
        if (i > len)
            i = len;
        if ((st = rt_fix(r, n, list_push(l, tv_retain(*a1)))))
            return st;
        tv moved = l->items[l->len - 1];
        memmove(&l->items[i + 1], &l->items[i], (l->len - 1 - (size_t)i) * sizeof(tv));
        l->items[i] = moved;
        return SB_OK;
    }
    case M_EXTEND: { /* tv_iterate counts the other sequence's items */
        if (!a0)
            return rt_type_error(r, n, "extend() takes exactly one argument (0 given)");
        tlist *items;
        if ((st = tv_iterate(r, n, *a0, &items)))
            return st;
        for (size_t i = 0; i < items->len && st == SB_OK; i++)
            st = rt_fix(r, n, list_push(l, tv_retain(items->items[i])));
        tobj_release(&items->h);
        return st;
    }
    case M_REMOVE: case M_LINDEX: case M_LCOUNT: {
        if (!a0)
            return rt_type_error(r, n, "method takes exactly one argument (0 given)");
        int64_t count = 0, first = -1;
        for (size_t i = 0; i < l->len; i++) {
            bool eq;
            if ((st = rt_equal(r, n, l->items[i], *a0, &eq)))
                return st;
            if (eq) {
                count++;
                if (first < 0)
                    first = (int64_t)i;
                if (id != M_LCOUNT)
                    break;
            }
        }
        if (id == M_LCOUNT) {
            *out = tv_int(count);
            return SB_OK;
        }
        if (first < 0)
            return rt_error(r, n, "ValueError: %s", id == M_REMOVE ? "list.remove(x): x not in list" : "value is not in list");
        if (id == M_LINDEX) {
            *out = tv_int(first);
            return SB_OK;
        }
        tv_release(l->items[first]);
        memmove(&l->items[first], &l->items[first + 1], (l->len - (size_t)first - 1) * sizeof(tv));
        l->len--;
        return SB_OK;
    }
    case M_REVERSE:
        for (size_t i = 0, j = l->len ? l->len - 1 : 0; i < j; i++, j--) {
            tv t = l->items[i];
            l->items[i] = l->items[j];
            l->items[j] = t;
        }
        return SB_OK;
    case M_SORT: { /* in place, through the sort filter (reverse= only: no key functions in templates) */
        tv sorted;
        static const char *const names[] = {"reverse", "case_sensitive"};
        const tv *given = arg_get(a, 99, "reverse");
        tv kw[2] = {given ? *given : tv_bool(false), tv_bool(true)};
        targs fa = {.nkw = 2, .kwnames = (const char **)names, .kw = kw};
        if ((st = apply_filter(r, n, "sort", self, &fa, &sorted)))
            return st;
        for (size_t i = 0; i < l->len; i++) {
            tv old = l->items[i];
            l->items[i] = tv_retain(tv_list(sorted)->items[i]);
            tv_release(old);
        }
        tv_release(sorted);
        return SB_OK;
    }
    case M_LCOPY:
        st = rt_fix(r, n, list_new(&r->heap, l->len, false, out));
        for (size_t i = 0; st == SB_OK && i < l->len; i++)
            tv_list(*out)->items[tv_list(*out)->len++] = tv_retain(l->items[i]);
        return st;
    case M_LCLEAR:
        for (size_t i = 0; i < l->len; i++)
            tv_release(l->items[i]);
        l->len = 0;
        return SB_OK;
    default:
        return rt_error(r, n, "internal error: bad list method");
    }
}

/* Dispatches a dict method (some mutate the dict). */
static sb_status dict_method(trender *r, const tnode *n, tv self, int id, const targs *a, tv *out) {
    tdict *d = tv_dict(self);
    const tv *a0 = arg_get(a, 0, NULL), *a1 = arg_get(a, 1, NULL);
    /* steps: the dict's size for methods that walk it, the key's weight for lookups */
    bool walks = id == M_ITEMS || id == M_KEYS || id == M_VALUES || id == M_DCOPY || id == M_DCLEAR || id == M_UPDATE;
    sb_status st = rt_work(r, n, walks ? d->len + 1 : a0 ? tv_key_weight(*a0) : 1);
    if (st)
        return st;
    *out = tv_none();
    switch (id) {
    case M_ITEMS: case M_KEYS: case M_VALUES:
        if ((st = rt_fix(r, n, list_new(&r->heap, d->len, false, out))))
            return st;
        for (size_t i = 0; i < d->len && st == SB_OK; i++) {
            tv item;
            if (id == M_KEYS)
                item = tv_retain(d->ents[i].key);
            else if (id == M_VALUES)
                item = tv_retain(d->ents[i].val);
            else if ((st = rt_fix(r, n, list_new(&r->heap, 2, true, &item))) == SB_OK) {
                tv_list(item)->items[0] = tv_retain(d->ents[i].key);
                tv_list(item)->items[1] = tv_retain(d->ents[i].val);
                tv_list(item)->len = 2;
            }
            if (st == SB_OK)
                tv_list(*out)->items[tv_list(*out)->len++] = item;
        }
        if (st)
            tv_release(*out);
        return st;
    case M_GET: case M_SETDEFAULT: case M_DPOP: {
        if (!a0)
            return rt_type_error(r, n, "%s expected at least 1 argument, got 0", method_name(id));
        if (!tv_hashable(*a0))
            return rt_type_error(r, n, "unhashable type: '%s'", tv_type_name(*a0));
        tv *v = dict_get(d, *a0);
        if (id == M_GET) {
            *out = v ? tv_retain(*v) : a1 ? tv_retain(*a1) : tv_none();
            return SB_OK;
        }
        if (id == M_SETDEFAULT) {
            if (v) {
                *out = tv_retain(*v);
                return SB_OK;
            }
            tv def = a1 ? tv_retain(*a1) : tv_none();
            *out = tv_retain(def);
            return rt_fix(r, n, dict_set(d, tv_retain(*a0), def));
        }
        if (!v) {
            if (a1) {
                *out = tv_retain(*a1);
                return SB_OK;
            }
            return rt_error(r, n, "KeyError: key not found");
        }
        dict_remove(d, *a0, out);
        return SB_OK;
    }
    case M_UPDATE: {
        if (a0) {
            if (a0->type != TV_DICT)
                return rt_type_error(r, n, "update() expects a dict");
            tdict *o = tv_dict(*a0);
            if ((st = rt_work(r, n, o->len)))
                return st;
            for (size_t i = 0; i < o->len && st == SB_OK; i++)
                st = rt_fix(r, n, dict_set(d, tv_retain(o->ents[i].key), tv_retain(o->ents[i].val)));
        }
        for (size_t i = 0; i < a->nkw && st == SB_OK; i++) {
            tv k;
            st = rt_fix(r, n, str_new(&r->heap, a->kwnames[i], strlen(a->kwnames[i]), &k));
            if (st == SB_OK)
                st = rt_fix(r, n, dict_set(d, k, tv_retain(a->kw[i])));
        }
        return st;
    }
    case M_DCOPY:
        if ((st = rt_fix(r, n, dict_new(&r->heap, false, out))))
            return st;
        for (size_t i = 0; i < d->len && st == SB_OK; i++)
            st = rt_fix(r, n, dict_set(tv_dict(*out), tv_retain(d->ents[i].key), tv_retain(d->ents[i].val)));
        if (st)
            tv_release(*out);
        return st;
    case M_DCLEAR:
        while (d->len)
            dict_remove(d, d->ents[d->len - 1].key, NULL);
        return SB_OK;
    default:
        return rt_error(r, n, "internal error: bad dict method");
    }
}

/* loop.cycle(...) and loop.changed(...). */
static sb_status loop_method(trender *r, const tnode *n, tv self, int id, const targs *a, tv *out) {
    tloop *l = (tloop *)self.u.o;
    if (id == M_CYCLE) {
        if (a->npos == 0)
            return rt_type_error(r, n, "no items for cycling given");
        *out = tv_retain(a->pos[l->index0 % a->npos]);
        return SB_OK;
    }
    /* changed(*values): true when the values differ from the previous call's */
    tv now;
    sb_status st = rt_fix(r, n, list_new(&r->heap, a->npos, true, &now));
    if (st)
        return st;
    for (size_t i = 0; i < a->npos; i++)
        tv_list(now)->items[tv_list(now)->len++] = tv_retain(a->pos[i]);
    bool same = false;
    if (l->changed_used && (st = rt_equal(r, n, now, l->last_changed, &same))) {
        tv_release(now);
        return st;
    }
    if (same) {
        tv_release(now);
        *out = tv_bool(false);
        return SB_OK;
    }
    tv_release(l->last_changed);
    l->last_changed = now;
    l->changed_used = true;
    *out = tv_bool(true);
    return SB_OK;
}

/* Calls method `id` of self with arguments a. */
sb_status method_call(trender *r, const tnode *n, tv self, int id, const targs *a, tv *out) {
    if (id >= M_STR_FIRST && id <= M_STR_LAST && self.type == TV_STR)
        return str_method(r, n, self, id, a, out);
    if (self.type == TV_LIST)
        return list_method(r, n, self, id, a, out);
    if (self.type == TV_DICT)
        return dict_method(r, n, self, id, a, out);
    if (self.type == TV_LOOP)
        return loop_method(r, n, self, id, a, out);
    if (self.type == TV_CYCLER) {
        tcycler *c = (tcycler *)self.u.o;
        if (id == M_RESET) {
            c->pos = 0;
            *out = tv_none();
            return SB_OK;
        }
        if (c->items->len == 0)
            return rt_error(r, n, "cycler has no items");
        *out = tv_retain(c->items->items[c->pos % c->items->len]);
        c->pos = (c->pos + 1) % c->items->len;
        return SB_OK;
    }
    return rt_error(r, n, "internal error: method on '%s'", tv_type_name(self));
}
