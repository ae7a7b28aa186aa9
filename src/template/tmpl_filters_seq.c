/*
 * tmpl_filters_seq.c - jinja2's filters over sequences: map, select/reject,
 * selectattr/rejectattr, sort, dictsort, groupby, unique, min, max, sum,
 * batch, slice.
 * jinja2 returns generators for some of them; here they return lists, which
 * print and iterate the same way for every use a chat template makes.
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"

#include <string.h>

/* A key for sorting/grouping: item, or item's attribute path, lower-cased
 * when the filter is case-insensitive (jinja2's ignore_case). */
static sb_status key_of(trender *r, const tnode *n, tv item, const tv *attr, bool lower, tv *out) {
    sb_status st;
    tv k;
    if (attr && attr->type != TV_NONE && attr->type != TV_UNDEF)
        st = attr_path_get(r, n, item, *attr, &k);
    else {
        k = tv_retain(item);
        st = SB_OK;
    }
    if (st)
        return st;
    if (lower && k.type == TV_STR) {
        st = rt_fix(r, n, pystr_case(r, k, 0, out));
        tv_release(k);
        return st;
    }
    *out = k;
    return SB_OK;
}

/* An argument list made of a->pos[from..] and all keywords (borrowed views). */
static targs args_tail(const targs *a, size_t from) {
    targs t = *a;
    t.npos = a->npos > from ? a->npos - from : 0;
    t.pos = a->npos > from ? a->pos + from : NULL;
    return t;
}

/* map(filter, *args) or map(attribute=..., default=...): a list. */
sb_status f_map(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    const tv *attr = a->npos == 0 ? arg_get(a, 0, "attribute") : NULL, *def = NULL;
    const char *filter = NULL;
    if (attr) {
        def = arg_get(a, 99, "default");
        for (size_t i = 0; i < a->nkw; i++)
            if (strcmp(a->kwnames[i], "attribute") && strcmp(a->kwnames[i], "default"))
                return rt_error(r, n, "FilterArgumentError: Unexpected keyword argument '%s'", a->kwnames[i]);
    } else if (a->npos == 0 || a->pos[0].type != TV_STR)
        return rt_error(r, n, "FilterArgumentError: map requires a filter argument");
    else
        filter = tv_str(a->pos[0])->data;
    tlist *items;
    sb_status st = tv_iterate(r, n, self, &items);
    if (st)
        return st;
    if ((st = rt_fix(r, n, list_new(&r->heap, items->len, false, out)))) {
        tobj_release(&items->h);
        return st;
    }
    targs rest = args_tail(a, 1);
    for (size_t i = 0; st == SB_OK && i < items->len; i++) {
        tv v;
        if (attr) {
            st = attr_path_get(r, n, items->items[i], *attr, &v);
            if (st == SB_OK && v.type == TV_UNDEF && def)
                v = tv_retain(*def);
        } else
            st = apply_filter(r, n, filter, items->items[i], &rest, &v);
        if (st == SB_OK)
            tv_list(*out)->items[tv_list(*out)->len++] = v;
    }
    tobj_release(&items->h);
    if (st)
        tv_release(*out);
    return st;
}

/* select / reject / selectattr / rejectattr. */
static sb_status select_impl(trender *r, const tnode *n, tv self, const targs *a, bool by_attr, bool keep, tv *out) {
    if (by_attr && a->npos == 0)
        return rt_error(r, n, "FilterArgumentError: Missing parameter for attribute name");
    size_t off = by_attr ? 1 : 0;
    const tv *attr = by_attr ? &a->pos[0] : NULL;
    const char *test = NULL;
    if (a->npos > off) {
        if (a->pos[off].type != TV_STR)
            return rt_type_error(r, n, "test name must be a string");
        test = tv_str(a->pos[off])->data;
    }
    targs rest = args_tail(a, off + 1);
    tlist *items;
    sb_status st = tv_iterate(r, n, self, &items);
    if (st)
        return st;
    if ((st = rt_fix(r, n, list_new(&r->heap, 0, false, out)))) {
        tobj_release(&items->h);
        return st;
    }
    for (size_t i = 0; st == SB_OK && i < items->len; i++) {
        tv v;
        if ((st = key_of(r, n, items->items[i], attr, false, &v)))
            break;
        bool ok;
        if (test)
            st = apply_test(r, n, test, v, &rest, &ok);
        else
            ok = tv_truthy(v);
        tv_release(v);
        if (st == SB_OK && ok == keep)
            st = rt_fix(r, n, list_push(tv_list(*out), tv_retain(items->items[i])));
        if (st == SB_OK)
            st = rt_work(r, n, 1);
    }
    tobj_release(&items->h);
    if (st)
        tv_release(*out);
    return st;
}

/* select / reject / selectattr / rejectattr. */
sb_status f_select(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    return select_impl(r, n, self, a, false, true, out);
}
sb_status f_reject(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    return select_impl(r, n, self, a, false, false, out);
}
sb_status f_selectattr(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    return select_impl(r, n, self, a, true, true, out);
}
sb_status f_rejectattr(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    return select_impl(r, n, self, a, true, false, out);
}

/* ---- sorting -------------------------------------------------------------- */

typedef struct keyed {
    tv key, item;
} keyed;

/* Stable merge sort by key (Python's sorted); fails on incomparable keys. */
static sb_status merge_sort(trender *r, const tnode *n, keyed *v, keyed *tmp, size_t len, bool reverse) {
    if (len < 2)
        return SB_OK;
    size_t mid = len / 2;
    sb_status st = merge_sort(r, n, v, tmp, mid, reverse);
    if (st == SB_OK)
        st = merge_sort(r, n, v + mid, tmp, len - mid, reverse);
    if (st)
        return st;
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < len) {
        int c;
        /* reverse=True keeps equal items in their original order, as Python does */
        st = reverse ? rt_compare(r, n, v[i].key, v[j].key, &c, "<") : rt_compare(r, n, v[j].key, v[i].key, &c, "<");
        if (st)
            return st;
        if (c < 0)
            tmp[k++] = v[j++];
        else
            tmp[k++] = v[i++];
    }
    while (i < mid)
        tmp[k++] = v[i++];
    while (j < len)
        tmp[k++] = v[j++];
    memcpy(v, tmp, len * sizeof *v);
    return rt_work(r, n, len);
}

/* Sorts items by key; *out is a new list of the items (or of key-value tuples). */
static sb_status sort_items(trender *r, const tnode *n, tlist *items, const tv *attr, bool lower, bool reverse,
                            int by_pos, tv *out) {
    size_t len = items->len;
    keyed *v = sb_calloc(len ? len : 1, sizeof *v), *tmp = sb_calloc(len ? len : 1, sizeof *tmp);
    sb_status st = (!v || !tmp) ? rt_fix(r, n, SB_ERR_NOMEM) : SB_OK;
    size_t made = 0;
    for (; st == SB_OK && made < len; made++) {
        tv item = items->items[made], base = item;
        if (by_pos >= 0) /* dictsort: key or value of a (key, value) tuple */
            base = tv_list(item)->items[by_pos];
        v[made].item = item;
        st = key_of(r, n, base, attr, lower, &v[made].key);
        if (st)
            break;
    }
    if (st == SB_OK)
        st = merge_sort(r, n, v, tmp, len, reverse);
    if (st == SB_OK)
        st = rt_fix(r, n, list_new(&r->heap, len, false, out));
    for (size_t i = 0; st == SB_OK && i < len; i++)
        tv_list(*out)->items[tv_list(*out)->len++] = tv_retain(v[i].item);
    for (size_t i = 0; v && i < made; i++)
        tv_release(v[i].key);
    sb_free(v);
    sb_free(tmp);
    return st;
}

/* Whether an optional boolean argument is given and true. */
static bool arg_true(const tv *v) { return v && tv_truthy(*v); }

/* sort(reverse=False, case_sensitive=False, attribute=None): stable. */
sb_status f_sort(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"reverse", "case_sensitive", "attribute", NULL};
    sb_status st = arg_check(r, n, a, 3, names, "sort");
    if (st)
        return st;
    tlist *items;
    if ((st = tv_iterate(r, n, self, &items)))
        return st;
    st = sort_items(r, n, items, arg_get(a, 2, "attribute"), !arg_true(arg_get(a, 1, "case_sensitive")),
                    arg_true(arg_get(a, 0, "reverse")), -1, out);
    tobj_release(&items->h);
    return st;
}

/* dictsort(case_sensitive=False, by='key', reverse=False). */
sb_status f_dictsort(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"case_sensitive", "by", "reverse", NULL};
    sb_status st = arg_check(r, n, a, 3, names, "dictsort");
    if (st)
        return st;
    if (self.type != TV_DICT)
        return rt_type_error(r, n, "dictsort expects a mapping, not '%s'", tv_type_name(self));
    const tv *by = arg_get(a, 1, "by");
    int pos = 0;
    if (by && !(by->type == TV_STR && (!strcmp(tv_str(*by)->data, "key") || !strcmp(tv_str(*by)->data, "value"))))
        return rt_error(r, n, "FilterArgumentError: You can only sort by either \"key\" or \"value\"");
    if (by && !strcmp(tv_str(*by)->data, "value"))
        pos = 1;
    tv pairs;
    targs none = {0};
    if ((st = method_call(r, n, self, method_find(self, "items", 5), &none, &pairs)))
        return st;
    st = sort_items(r, n, tv_list(pairs), NULL, !arg_true(arg_get(a, 0, "case_sensitive")),
                    arg_true(arg_get(a, 2, "reverse")), pos, out);
    tv_release(pairs);
    return st;
}

/* The fields of groupby's tuples, which answer .grouper and .list as well
 * as [0] and [1] (jinja2's _GroupTuple). */
static const char *const group_fields[] = {"grouper", "list", NULL};

/* The grouping key of item: its attribute (lower-cased strings unless
 * case-sensitive), or `def` where the item lacks it and def is given. */
static sb_status group_key(trender *r, const tnode *n, tv item, const tv *attr, const tv *def, bool lower, tv *out) {
    sb_status st = key_of(r, n, item, attr, lower, out);
    if (st == SB_OK && out->type == TV_UNDEF && def) {
        tv_release(*out);
        st = key_of(r, n, *def, NULL, lower, out);
    }
    return st;
}

/* Appends (grouper, items[from..to)) to the list out. */
static sb_status push_group(trender *r, const tnode *n, tv grouper, const keyed *v, size_t from, size_t to, tv out) {
    tv members, pair;
    sb_status st = rt_fix(r, n, list_new(&r->heap, to - from, false, &members));
    if (st) {
        tv_release(grouper);
        return st;
    }
    for (size_t k = from; k < to; k++)
        tv_list(members)->items[tv_list(members)->len++] = tv_retain(v[k].item);
    if ((st = rt_fix(r, n, list_new(&r->heap, 2, true, &pair)))) {
        tv_release(grouper);
        tv_release(members);
        return st;
    }
    tlist *p = tv_list(pair);
    p->items[p->len++] = grouper;
    p->items[p->len++] = members;
    p->fields = group_fields;
    return rt_fix(r, n, list_push(tv_list(out), pair));
}

/* groupby(attribute, default=None, case_sensitive=False): the items sorted
 * by the attribute (a dotted path or index, as sort's) and grouped by equal
 * value, as (grouper, list) tuples. Without case_sensitive, strings group
 * regardless of case and the grouper is the first member's own value. */
sb_status f_groupby(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"attribute", "default", "case_sensitive", NULL};
    sb_status st = arg_check(r, n, a, 3, names, "groupby");
    if (st)
        return st;
    const tv *attr = arg_get(a, 0, "attribute"), *def = arg_get(a, 1, "default");
    if (!attr)
        return rt_type_error(r, n, "groupby() needs an attribute");
    const bool lower = !arg_true(arg_get(a, 2, "case_sensitive"));
    tlist *items;
    if ((st = tv_iterate(r, n, self, &items)))
        return st;
    const size_t len = items->len;
    keyed *v = sb_calloc(len ? len : 1, sizeof *v), *tmp = sb_calloc(len ? len : 1, sizeof *tmp);
    st = (!v || !tmp) ? rt_fix(r, n, SB_ERR_NOMEM) : SB_OK;
    size_t made = 0;
    for (; st == SB_OK && made < len; made++) {
        v[made].item = items->items[made];
        if ((st = group_key(r, n, v[made].item, attr, def, lower, &v[made].key)))
            break;
    }
    if (st == SB_OK)
        st = merge_sort(r, n, v, tmp, len, false);
    if (st == SB_OK)
        st = rt_fix(r, n, list_new(&r->heap, 0, false, out));
    for (size_t i = 0, j; st == SB_OK && i < len; i = j) {
        int c = 0;
        for (j = i + 1; st == SB_OK && j < len; j++)
            if ((st = rt_compare(r, n, v[j].key, v[i].key, &c, "==")) || c != 0)
                break;
        tv grouper;
        if (st == SB_OK && (st = group_key(r, n, v[i].item, attr, def, false, &grouper)) == SB_OK)
            st = push_group(r, n, grouper, v, i, j, *out);
        if (st)
            tv_release(*out);
    }
    for (size_t i = 0; v && i < made; i++)
        tv_release(v[i].key);
    sb_free(v);
    sb_free(tmp);
    tobj_release(&items->h);
    return st;
}

/* unique(case_sensitive=False, attribute=None), first occurrence kept. */
sb_status f_unique(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"case_sensitive", "attribute", NULL};
    sb_status st = arg_check(r, n, a, 2, names, "unique");
    if (st)
        return st;
    bool lower = !arg_true(arg_get(a, 0, "case_sensitive"));
    const tv *attr = arg_get(a, 1, "attribute");
    tlist *items;
    if ((st = tv_iterate(r, n, self, &items)))
        return st;
    tv seen;
    if ((st = rt_fix(r, n, dict_new(&r->heap, false, &seen)))) {
        tobj_release(&items->h);
        return st;
    }
    if ((st = rt_fix(r, n, list_new(&r->heap, 0, false, out)))) {
        tv_release(seen);
        tobj_release(&items->h);
        return st;
    }
    for (size_t i = 0; st == SB_OK && i < items->len; i++) {
        tv k;
        if ((st = key_of(r, n, items->items[i], attr, lower, &k)))
            break;
        if (!tv_hashable(k)) {
            st = rt_type_error(r, n, "unhashable type: '%s'", tv_type_name(k));
            tv_release(k);
            break;
        }
        if (dict_get(tv_dict(seen), k)) {
            tv_release(k);
            continue;
        }
        st = rt_fix(r, n, dict_set(tv_dict(seen), k, tv_none()));
        if (st == SB_OK)
            st = rt_fix(r, n, list_push(tv_list(*out), tv_retain(items->items[i])));
    }
    tv_release(seen);
    tobj_release(&items->h);
    if (st)
        tv_release(*out);
    return st;
}

/* min / max(case_sensitive=False, attribute=None); undefined when empty. */
static sb_status min_max(trender *r, const tnode *n, tv self, const targs *a, bool want_max, tv *out) {
    static const char *const names[] = {"case_sensitive", "attribute", NULL};
    sb_status st = arg_check(r, n, a, 2, names, want_max ? "max" : "min");
    if (st)
        return st;
    bool lower = !arg_true(arg_get(a, 0, "case_sensitive"));
    const tv *attr = arg_get(a, 1, "attribute");
    tlist *items;
    if ((st = tv_iterate(r, n, self, &items)))
        return st;
    if (items->len == 0) {
        tobj_release(&items->h);
        *out = tv_undef(want_max ? "max" : "min");
        return SB_OK;
    }
    size_t best = 0;
    tv best_key = tv_undef(NULL);
    st = key_of(r, n, items->items[0], attr, lower, &best_key);
    for (size_t i = 1; st == SB_OK && i < items->len; i++) {
        tv k;
        if ((st = key_of(r, n, items->items[i], attr, lower, &k)))
            break;
        int c;
        st = rt_compare(r, n, k, best_key, &c, "<");
        if (st == SB_OK && (want_max ? c > 0 : c < 0)) {
            tv_release(best_key);
            best_key = k;
            best = i;
        } else
            tv_release(k);
    }
    if (st == SB_OK) {
        tv_release(best_key);
        *out = tv_retain(items->items[best]);
    } else
        tv_release(best_key);
    tobj_release(&items->h);
    return st;
}

/* min / max filters. */
sb_status f_min(trender *r, const tnode *n, tv self, const targs *a, tv *out) { return min_max(r, n, self, a, false, out); }
sb_status f_max(trender *r, const tnode *n, tv self, const targs *a, tv *out) { return min_max(r, n, self, a, true, out); }

/* sum(attribute=None, start=0) with Python +. */
sb_status f_sum(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"attribute", "start", NULL};
    sb_status st = arg_check(r, n, a, 2, names, "sum");
    if (st)
        return st;
    const tv *attr = arg_get(a, 0, "attribute"), *start = arg_get(a, 1, "start");
    tlist *items;
    if ((st = tv_iterate(r, n, self, &items)))
        return st;
    tv total = start ? tv_retain(*start) : tv_int(0);
    for (size_t i = 0; st == SB_OK && i < items->len; i++) {
        tv v, next;
        if ((st = key_of(r, n, items->items[i], attr, false, &v)))
            break;
        st = tv_binop(r, n, OP_ADD, total, v, &next);
        tv_release(v);
        if (st == SB_OK) {
            tv_release(total);
            total = next;
        }
    }
    tobj_release(&items->h);
    if (st) {
        tv_release(total);
        return st;
    }
    *out = total;
    return SB_OK;
}

/* The (count, fill_with) arguments of batch and slice, named names[0]
 * and names[1]: the count a positive integer, fill_with optional. */
static sb_status count_fill_args(trender *r, const tnode *n, const targs *a, const char *const *names,
                                 const char *filter, size_t *count, const tv **fill) {
    sb_status st = arg_check(r, n, a, 2, names, filter);
    if (st)
        return st;
    const tv *c = arg_get(a, 0, names[0]);
    *fill = arg_get(a, 1, names[1]);
    if (!c || c->type != TV_INT || c->u.i < 1)
        return rt_type_error(r, n, "%s() needs a positive integer %s", filter, names[0]);
    *count = (size_t)c->u.i;
    return SB_OK;
}

/* batch(linecount, fill_with=None): a list of lists. */
sb_status f_batch(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"linecount", "fill_with", NULL};
    size_t count;
    const tv *fill;
    sb_status st = count_fill_args(r, n, a, names, "batch", &count, &fill);
    if (st)
        return st;
    tlist *items;
    if ((st = tv_iterate(r, n, self, &items)))
        return st;
    if ((st = rt_fix(r, n, list_new(&r->heap, 0, false, out)))) {
        tobj_release(&items->h);
        return st;
    }
    tv row = tv_undef(NULL);
    for (size_t i = 0; st == SB_OK && i < items->len; i++) {
        if (row.type == TV_UNDEF && (st = rt_fix(r, n, list_new(&r->heap, 0, false, &row))))
            break;
        st = rt_fix(r, n, list_push(tv_list(row), tv_retain(items->items[i])));
        if (st == SB_OK && tv_list(row)->len == count) {
            st = rt_fix(r, n, list_push(tv_list(*out), row));
            row = tv_undef(NULL);
        }
    }
    if (st == SB_OK && row.type != TV_UNDEF) {
        while (st == SB_OK && fill && fill->type != TV_NONE && tv_list(row)->len < count)
            st = rt_fix(r, n, list_push(tv_list(row), tv_retain(*fill)));
        if (st == SB_OK)
            st = rt_fix(r, n, list_push(tv_list(*out), row));
        else
            tv_release(row);
    } else
        tv_release(row);
    tobj_release(&items->h);
    if (st)
        tv_release(*out);
    return st;
}

/* slice(slices, fill_with=None): the items dealt into `slices` lists in
 * order, the first len % slices of them one item longer; with fill_with,
 * the shorter ones are padded by one. */
sb_status f_slice(trender *r, const tnode *n, tv self, const targs *a, tv *out) {
    static const char *const names[] = {"slices", "fill_with", NULL};
    size_t slices;
    const tv *fill;
    sb_status st = count_fill_args(r, n, a, names, "slice", &slices, &fill);
    if (st)
        return st;
    tlist *items;
    if ((st = tv_iterate(r, n, self, &items)))
        return st;
    const size_t len = items->len, per = len / slices, extra = len % slices;
    if ((st = rt_work(r, n, slices)) || (st = rt_fix(r, n, list_new(&r->heap, 0, false, out)))) {
        tobj_release(&items->h);
        return st;
    }
    size_t at = 0;
    for (size_t k = 0; st == SB_OK && k < slices; k++) {
        const size_t take = per + (k < extra ? 1 : 0);
        const bool pad = fill && fill->type != TV_NONE && k >= extra;
        tv part;
        if ((st = rt_fix(r, n, list_new(&r->heap, take + 1, false, &part))))
            break;
        for (size_t i = 0; i < take; i++)
            tv_list(part)->items[tv_list(part)->len++] = tv_retain(items->items[at++]);
        if (pad)
            tv_list(part)->items[tv_list(part)->len++] = tv_retain(*fill);
        st = rt_fix(r, n, list_push(tv_list(*out), part));
    }
    tobj_release(&items->h);
    if (st)
        tv_release(*out);
    return st;
}
