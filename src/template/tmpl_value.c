/*
 * tmpl_value.c - the value model: heap accounting, reference counting,
 * strings, lists, ordered dicts, and Python equality/ordering/truthiness.
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_checked.h"
#include "sb_map.h"
#include "sb_utf8.h"

#include <math.h>
#include <string.h>

/* ---- heap ---------------------------------------------------------------- */

/* Starts an empty render heap. */
void heap_init(theap *h, size_t max_live, sb_error *err) {
    memset(h, 0, sizeof *h);
    h->max_live = max_live;
    h->err = err;
    h->fail = SB_ERR_NOMEM;
}

/* Charges size bytes to the heap; fails (and reports) past the memory limit. */
static bool heap_charge(theap *h, size_t size) {
    if (!h)
        return true;
    size_t nl;
    if (!sb_add_size(h->live, size, &nl) || (h->max_live && nl > h->max_live)) {
        h->fail = sb_error_set(h->err, SB_ERR_LIMIT, "template: memory limit of %zu bytes exceeded", h->max_live);
        return false;
    }
    h->live = nl;
    return true;
}

/* Records an out-of-memory failure on the heap. */
static void *heap_nomem(theap *h) {
    if (h)
        h->fail = sb_error_set(h->err, SB_ERR_NOMEM, "template: out of memory");
    return NULL;
}

/* Accounted allocation for object payloads; the caller frees with heap_free. */
void *heap_alloc(theap *h, size_t size) {
    if (size == 0)
        size = 1;
    if (!heap_charge(h, size))
        return NULL;
    void *p = sb_malloc(size);
    if (!p) {
        if (h)
            h->live -= size;
        return heap_nomem(h);
    }
    return p;
}

/* Accounted realloc; on failure the old block stays valid and charged. */
void *heap_realloc(theap *h, void *p, size_t old_size, size_t new_size) {
    if (new_size > old_size && !heap_charge(h, new_size - old_size))
        return NULL;
    void *q = sb_realloc(p, new_size ? new_size : 1);
    if (!q) {
        if (h && new_size > old_size)
            h->live -= new_size - old_size;
        return heap_nomem(h);
    }
    if (h && new_size < old_size)
        h->live -= old_size - new_size;
    return q;
}

/* Frees an accounted block (size as allocated). */
void heap_free(theap *h, void *p, size_t size) {
    if (!p)
        return;
    if (h)
        h->live -= size ? size : 1;
    sb_free(p);
}

/* Allocates a zeroed object of `size` bytes, linked into h (if any), rc = 1. */
static tobj *obj_alloc(theap *h, size_t size, uint8_t kind) {
    tobj *o = heap_alloc(h, size);
    if (!o)
        return NULL;
    memset(o, 0, size);
    o->rc = 1;
    o->kind = kind;
    o->heap = h;
    o->bytes = size;
    if (h) {
        o->next = h->head;
        if (h->head)
            h->head->prev = o;
        h->head = o;
    }
    return o;
}

/* Removes an object from its heap list. */
static void obj_unlink(tobj *o) {
    theap *h = o->heap;
    if (!h)
        return;
    if (o->prev)
        o->prev->next = o->next;
    else
        h->head = o->next;
    if (o->next)
        o->next->prev = o->prev;
    o->prev = o->next = NULL;
}

/* Frees what an object owns besides its children (arrays), then the object. */
static void obj_free_memory(tobj *o) {
    theap *h = o->heap;
    if (o->kind == OBJ_LIST) {
        tlist *l = (tlist *)o;
        heap_free(h, l->items, l->cap * sizeof(tv));
    } else if (o->kind == OBJ_DICT) {
        tdict *d = (tdict *)o;
        heap_free(h, d->ents, d->cap * sizeof(tdent));
        heap_free(h, d->index, d->icap * sizeof(uint32_t));
    }
    heap_free(h, o, o->bytes);
}

/* Drops one reference from o's child; children that reach zero go on the stack. */
static void push_release(tobj **stack, tobj *o) {
    if (!o || o->rc == TOBJ_IMMORTAL)
        return;
    if (--o->rc)
        return;
    obj_unlink(o);
    o->next = *stack;
    *stack = o;
}

/* push_release for a value (scalars hold no reference). */
static void push_release_tv(tobj **stack, tv v) {
    if (tv_is_obj(v))
        push_release(stack, v.u.o);
}

/* Drops the references an object holds (children reaching zero go on the stack). */
static void obj_drop_children(tobj *o, tobj **stack) {
    switch (o->kind) {
    case OBJ_LIST: {
        tlist *l = (tlist *)o;
        for (size_t i = 0; i < l->len; i++)
            push_release_tv(stack, l->items[i]);
        break;
    }
    case OBJ_DICT: {
        tdict *d = (tdict *)o;
        for (size_t i = 0; i < d->len; i++) {
            push_release_tv(stack, d->ents[i].key);
            push_release_tv(stack, d->ents[i].val);
        }
        break;
    }
    case OBJ_MACRO:
        push_release(stack, &((tmacro *)o)->closure->h);
        break;
    case OBJ_SCOPE: {
        tscope *s = (tscope *)o;
        push_release(stack, s->vars ? &s->vars->h : NULL);
        push_release(stack, s->parent ? &s->parent->h : NULL);
        break;
    }
    case OBJ_LOOP: {
        tloop *l = (tloop *)o;
        push_release(stack, &l->items->h);
        push_release_tv(stack, l->last_changed);
        break;
    }
    case OBJ_BOUND:
        push_release_tv(stack, ((tbound *)o)->self);
        break;
    case OBJ_JOINER:
        push_release_tv(stack, ((tjoiner *)o)->sep);
        break;
    case OBJ_CYCLER:
        push_release(stack, &((tcycler *)o)->items->h);
        break;
    default:
        break;
    }
}

/* Drops a reference; frees the object and, iteratively (no recursion, so
 * deeply nested data cannot overflow the stack), what only it held. */
void tobj_release(tobj *o) {
    tobj *stack = NULL;
    push_release(&stack, o);
    while (stack) {
        tobj *cur = stack;
        stack = cur->next;
        obj_drop_children(cur, &stack);
        obj_free_memory(cur);
    }
}

/* Drops one reference of v (no-op for scalars and immortals). */
void tv_release(tv v) {
    if (tv_is_obj(v))
        tobj_release(v.u.o);
}

/* Frees every object still in the heap, whatever its count (cycles included). */
void heap_destroy(theap *h) {
    tobj *o = h->head;
    while (o) {
        tobj *next = o->next;
        obj_free_memory(o);
        o = next;
    }
    h->head = NULL;
}

/* ---- strings ------------------------------------------------------------- */

/* Counts code points of valid UTF-8. */
size_t utf8_count_cp(const char *s, size_t len) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* A new string object with room for len bytes and a NUL. */
static sb_status str_alloc(theap *h, size_t len, tstr **out) {
    size_t size;
    if (!sb_add_size(sizeof(tstr), len, &size) || !sb_add_size(size, 1, &size))
        return h ? (h->fail = sb_error_set(h->err, SB_ERR_LIMIT, "template: string too long")) : SB_ERR_NOMEM;
    tstr *s = (tstr *)obj_alloc(h, size, OBJ_STR);
    if (!s)
        return heap_status(h);
    s->len = len;
    s->data = (char *)(s + 1);
    s->data[len] = '\0';
    *out = s;
    return SB_OK;
}

/* A new string from valid UTF-8 bytes. */
sb_status str_new(theap *h, const char *src, size_t len, tv *out) {
    if (len == 0) {
        *out = str_empty();
        return SB_OK;
    }
    tstr *s = NULL;
    sb_status st = str_alloc(h, len, &s);
    if (st)
        return st;
    memcpy(s->data, src, len);
    s->ncp = utf8_count_cp(src, len);
    out->type = TV_STR;
    out->u.o = &s->h;
    return SB_OK;
}

/* A new string from untrusted bytes: invalid UTF-8 sequences become U+FFFD. */
sb_status str_new_checked(theap *h, const char *src, size_t len, tv *out) {
    if (sb_utf8_valid(src, len))
        return str_new(h, src, len, out);
    sb_buf b;
    sb_buf_init(&b);
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        bool ok = true;
        size_t n = sb_utf8_decode(src + i, len - i, &cp, &ok);
        sb_status st = ok ? sb_buf_append(&b, src + i, n) : buf_put_cp(&b, SB_UTF8_REPLACEMENT);
        if (st) {
            sb_buf_free(&b);
            return SB_ERR_NOMEM;
        }
        i += n;
    }
    sb_status st = str_new(h, b.data, b.len, out);
    sb_buf_free(&b);
    return st;
}


/* An immortal string constant owned by a template (pushed on *list). */
sb_status str_immortal(const char *src, size_t len, tobj **list, tv *out) {
    tstr *s = NULL;
    sb_status st = str_alloc(NULL, len, &s);
    if (st)
        return st;
    memcpy(s->data, src, len);
    s->ncp = utf8_count_cp(src, len);
    s->h.rc = TOBJ_IMMORTAL;
    s->h.next = *list;
    *list = &s->h;
    out->type = TV_STR;
    out->u.o = &s->h;
    return SB_OK;
}

#define STATIC_STR(var, lit) static tstr var = {{TOBJ_IMMORTAL, OBJ_STR, NULL, NULL, NULL, 0}, sizeof(lit) - 1, sizeof(lit) - 1, (char *)lit}
STATIC_STR(g_empty, "");
STATIC_STR(g_loop, "loop");
STATIC_STR(g_caller, "caller");
STATIC_STR(g_varargs, "varargs");
STATIC_STR(g_kwargs, "kwargs");

/* A value for one of the static immortal strings. */
static tv static_str(tstr *s) {
    tv v = {.type = TV_STR};
    v.u.o = &s->h;
    return v;
}
/* Static immortal strings: "" and the special variable names. */
tv str_empty(void) { return static_str(&g_empty); }
tv str_static_loop(void) { return static_str(&g_loop); }
tv str_static_caller(void) { return static_str(&g_caller); }
tv str_static_varargs(void) { return static_str(&g_varargs); }
tv str_static_kwargs(void) { return static_str(&g_kwargs); }

/* ---- lists --------------------------------------------------------------- */

/* A new list (or tuple) with room for cap items; a new reference. */
sb_status list_new(theap *h, size_t cap, bool tuple, tv *out) {
    tlist *l = (tlist *)obj_alloc(h, sizeof(tlist), OBJ_LIST);
    if (!l)
        return heap_status(h);
    l->tuple = tuple;
    if (cap) {
        size_t bytes;
        if (!sb_mul_size(cap, sizeof(tv), &bytes) || !(l->items = heap_alloc(h, bytes))) {
            tobj_release(&l->h);
            return heap_status(h);
        }
        l->cap = cap;
    }
    out->type = TV_LIST;
    out->u.o = &l->h;
    return SB_OK;
}

/* Appends item (taken). */
sb_status list_push(tlist *l, tv item) {
    if (l->len == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 4, bytes;
        if (!sb_mul_size(ncap, sizeof(tv), &bytes)) {
            tv_release(item);
            return SB_ERR_LIMIT;
        }
        tv *items = heap_realloc(l->h.heap, l->items, l->cap * sizeof(tv), bytes);
        if (!items) {
            tv_release(item);
            return heap_status(l->h.heap);
        }
        l->items = items;
        l->cap = ncap;
    }
    l->items[l->len++] = item;
    return SB_OK;
}

/* ---- dicts --------------------------------------------------------------- */

#define DICT_INDEX_MIN 8
/* Tuples nested deeper than this are not usable as keys (bounds recursion). */
#define KEY_MAX_DEPTH 32

/* Python hashability (tuples of hashables), depth-bounded. */
static bool hashable_at(tv v, unsigned depth_left) {
    switch (v.type) {
    case TV_NONE: case TV_BOOL: case TV_INT: case TV_FLOAT: case TV_STR:
        return true;
    case TV_LIST:
        if (!tv_list(v)->tuple || depth_left == 0)
            return false;
        for (size_t i = 0; i < tv_list(v)->len; i++)
            if (!hashable_at(tv_list(v)->items[i], depth_left - 1))
                return false;
        return true;
    default:
        return false;
    }
}

/* Whether v can be a dict key. */
bool tv_hashable(tv v) { return hashable_at(v, KEY_MAX_DEPTH); }

/* Hash consistent with equality: 1, 1.0 and True hash alike. Only called on
 * hashable values, so tuple recursion is bounded by KEY_MAX_DEPTH. */
static uint64_t tv_hash(tv v) {
    switch (v.type) {
    case TV_BOOL:
        return sb_hash_u64((uint64_t)v.u.b);
    case TV_INT:
        return sb_hash_u64((uint64_t)v.u.i);
    case TV_FLOAT:
        if (v.u.f == floor(v.u.f) && fabs(v.u.f) < 9.2e18)
            return sb_hash_u64((uint64_t)(int64_t)v.u.f);
        {
            uint64_t bits;
            memcpy(&bits, &v.u.f, sizeof bits);
            return sb_hash_u64(bits);
        }
    case TV_STR:
        return sb_hash_bytes(tv_str(v)->data, tv_str(v)->len);
    case TV_LIST: {
        uint64_t hash = 0x9e3779b97f4a7c15ull;
        for (size_t i = 0; i < tv_list(v)->len; i++)
            hash = sb_hash_u64(hash ^ tv_hash(tv_list(v)->items[i]));
        return hash;
    }
    default:
        return 0x51ed2701ull;
    }
}

/* A new empty dict (or namespace); a new reference. */
sb_status dict_new(theap *h, bool ns, tv *out) {
    tdict *d = (tdict *)obj_alloc(h, sizeof(tdict), OBJ_DICT);
    if (!d)
        return heap_status(h);
    d->ns = ns;
    out->type = ns ? TV_NS : TV_DICT;
    out->u.o = &d->h;
    return SB_OK;
}

/* Key equality for dict lookups. */
static bool key_equal(tv a, tv b) {
    bool eq = false;
    if (a.type == TV_STR && b.type == TV_STR)
        return tv_str(a)->len == tv_str(b)->len && memcmp(tv_str(a)->data, tv_str(b)->data, tv_str(a)->len) == 0;
    if (tv_equal(a, b, 64, &eq, NULL) != SB_OK)
        return false;
    return eq;
}

/* (Re)builds the hash index over all entries. */
static sb_status dict_reindex(tdict *d) {
    theap *h = d->h.heap;
    size_t icap = 16;
    while (icap < d->len * 2)
        icap *= 2;
    if (icap != d->icap) {
        uint32_t *idx = heap_alloc(h, icap * sizeof(uint32_t));
        if (!idx)
            return heap_status(h);
        heap_free(h, d->index, d->icap * sizeof(uint32_t));
        d->index = idx;
        d->icap = icap;
    }
    memset(d->index, 0, d->icap * sizeof(uint32_t));
    for (size_t i = 0; i < d->len; i++) {
        size_t slot = d->ents[i].hash & (d->icap - 1);
        while (d->index[slot])
            slot = (slot + 1) & (d->icap - 1);
        d->index[slot] = (uint32_t)(i + 1);
    }
    return SB_OK;
}

/* Index of key in d, or -1. */
static long dict_find(const tdict *d, tv key, uint64_t hash) {
    if (d->index) {
        for (size_t slot = hash & (d->icap - 1);; slot = (slot + 1) & (d->icap - 1)) {
            uint32_t e = d->index[slot];
            if (!e)
                return -1;
            if (d->ents[e - 1].hash == hash && key_equal(d->ents[e - 1].key, key))
                return (long)(e - 1);
        }
    }
    for (size_t i = 0; i < d->len; i++)
        if (d->ents[i].hash == hash && key_equal(d->ents[i].key, key))
            return (long)i;
    return -1;
}

/* d[key] (borrowed), or NULL. */
tv *dict_get(const tdict *d, tv key) {
    long i = dict_find(d, key, tv_hash(key));
    return i < 0 ? NULL : &d->ents[i].val;
}

/* d[key] for a string key given as bytes (borrowed), or NULL. */
tv *dict_get_str(const tdict *d, const char *key, size_t len) {
    uint64_t hash = sb_hash_bytes(key, len);
    if (d->index) {
        for (size_t slot = hash & (d->icap - 1);; slot = (slot + 1) & (d->icap - 1)) {
            uint32_t e = d->index[slot];
            if (!e)
                return NULL;
            tdent *en = &d->ents[e - 1];
            if (en->hash == hash && en->key.type == TV_STR && tv_str(en->key)->len == len &&
                memcmp(tv_str(en->key)->data, key, len) == 0)
                return &en->val;
        }
    }
    for (size_t i = 0; i < d->len; i++) {
        tdent *en = &d->ents[i];
        if (en->hash == hash && en->key.type == TV_STR && tv_str(en->key)->len == len &&
            memcmp(tv_str(en->key)->data, key, len) == 0)
            return &en->val;
    }
    return NULL;
}

/* Sets d[key] = val (both taken). */
sb_status dict_set(tdict *d, tv key, tv val) {
    uint64_t hash = tv_hash(key);
    long i = dict_find(d, key, hash);
    if (i >= 0) {
        tv old = d->ents[i].val;
        d->ents[i].val = val;
        tv_release(old);
        tv_release(key);
        return SB_OK;
    }
    theap *h = d->h.heap;
    if (d->len == d->cap) {
        size_t ncap = d->cap ? d->cap * 2 : 4, bytes;
        tdent *ents = NULL;
        if (ncap < UINT32_MAX / 4 && sb_mul_size(ncap, sizeof(tdent), &bytes))
            ents = heap_realloc(h, d->ents, d->cap * sizeof(tdent), bytes);
        if (!ents) {
            tv_release(key);
            tv_release(val);
            return heap_status(h);
        }
        d->ents = ents;
        d->cap = ncap;
    }
    d->ents[d->len].key = key;
    d->ents[d->len].val = val;
    d->ents[d->len].hash = hash;
    d->len++;
    if (d->len >= DICT_INDEX_MIN && (!d->index || d->len * 2 > d->icap)) {
        sb_status st = dict_reindex(d);
        if (st) { /* the entry is in; drop the stale index so lookups scan */
            heap_free(h, d->index, d->icap * sizeof(uint32_t));
            d->index = NULL;
            d->icap = 0;
            return st;
        }
    } else if (d->index) {
        size_t slot = hash & (d->icap - 1);
        while (d->index[slot])
            slot = (slot + 1) & (d->icap - 1);
        d->index[slot] = (uint32_t)d->len;
    }
    return SB_OK;
}

/* Removes key; its value is handed to *removed_val (or released if NULL). */
bool dict_remove(tdict *d, tv key, tv *removed_val) {
    long i = dict_find(d, key, tv_hash(key));
    if (i < 0)
        return false;
    tv_release(d->ents[i].key);
    if (removed_val)
        *removed_val = d->ents[i].val;
    else
        tv_release(d->ents[i].val);
    memmove(&d->ents[i], &d->ents[i + 1], (d->len - (size_t)i - 1) * sizeof(tdent));
    d->len--;
    if (d->index && dict_reindex(d) != SB_OK) {
        /* Could not rebuild: drop the index, lookups scan. */
        heap_free(d->h.heap, d->index, d->icap * sizeof(uint32_t));
        d->index = NULL;
        d->icap = 0;
    }
    return true;
}

/* ---- other objects ------------------------------------------------------- */

/* A new scope whose lookups continue in parent (which it references). */
sb_status scope_new(theap *h, tscope *parent, tscope **out) {
    tscope *s = (tscope *)obj_alloc(h, sizeof(tscope), OBJ_SCOPE);
    if (!s)
        return heap_status(h);
    s->parent = parent;
    if (parent)
        parent->h.rc++;
    *out = s;
    return SB_OK;
}

/* Makes *out a value of the given type for a new object (or reports failure). */
static sb_status wrap(tobj *o, uint8_t type, tv *out, theap *h) {
    if (!o)
        return heap_status(h);
    out->type = type;
    out->u.o = o;
    return SB_OK;
}

/* A macro value closing over scope closure. */
sb_status macro_new(theap *h, const tnode *def, tscope *closure, tv *out) {
    tmacro *m = (tmacro *)obj_alloc(h, sizeof(tmacro), OBJ_MACRO);
    if (m) {
        m->def = def;
        m->closure = closure;
        closure->h.rc++;
    }
    return wrap(m ? &m->h : NULL, TV_MACRO, out, h);
}

/* The `loop` value of a for loop over items. */
sb_status loop_new(theap *h, tlist *items, tv *out) {
    tloop *l = (tloop *)obj_alloc(h, sizeof(tloop), OBJ_LOOP);
    if (l) {
        l->items = items;
        items->h.rc++;
        l->last_changed = tv_undef(NULL);
    }
    return wrap(l ? &l->h : NULL, TV_LOOP, out, h);
}

/* A method bound to self (a reference). */
sb_status bound_new(theap *h, tv self, int method, tv *out) {
    tbound *b = (tbound *)obj_alloc(h, sizeof(tbound), OBJ_BOUND);
    if (b) {
        b->self = tv_retain(self);
        b->method = method;
    }
    return wrap(b ? &b->h : NULL, TV_BOUND, out, h);
}

/* joiner(sep) objects. */
sb_status joiner_new(theap *h, tv sep, tv *out) {
    tjoiner *j = (tjoiner *)obj_alloc(h, sizeof(tjoiner), OBJ_JOINER);
    if (j)
        j->sep = tv_retain(sep);
    return wrap(j ? &j->h : NULL, TV_JOINER, out, h);
}

/* cycler(*items) objects. */
sb_status cycler_new(theap *h, tlist *items, tv *out) {
    tcycler *c = (tcycler *)obj_alloc(h, sizeof(tcycler), OBJ_CYCLER);
    if (c) {
        c->items = items;
        items->h.rc++;
    }
    return wrap(c ? &c->h : NULL, TV_CYCLER, out, h);
}

/* Copies a data value (none..dict) into heap h; other kinds are refused. */
sb_status tv_deep_copy(theap *h, tv v, unsigned max_depth, tv *out) {
    if (max_depth == 0)
        return sb_error_set(h ? h->err : NULL, SB_ERR_LIMIT, "template: input data nested too deeply");
    switch (v.type) {
    case TV_STR:
        return str_new(h, tv_str(v)->data, tv_str(v)->len, out);
    case TV_LIST: {
        tlist *src = tv_list(v);
        sb_status st = list_new(h, src->len, src->tuple, out);
        if (st)
            return st;
        for (size_t i = 0; st == SB_OK && i < src->len; i++) {
            tv item;
            st = tv_deep_copy(h, src->items[i], max_depth - 1, &item);
            if (st == SB_OK)
                st = list_push(tv_list(*out), item);
        }
        if (st)
            tv_release(*out);
        return st;
    }
    case TV_DICT: {
        tdict *src = tv_dict(v);
        sb_status st = dict_new(h, false, out);
        if (st)
            return st;
        for (size_t i = 0; st == SB_OK && i < src->len; i++) {
            tv k, val;
            st = tv_deep_copy(h, src->ents[i].key, max_depth - 1, &k);
            if (st)
                break;
            st = tv_deep_copy(h, src->ents[i].val, max_depth - 1, &val);
            if (st) {
                tv_release(k);
                break;
            }
            st = dict_set(tv_dict(*out), k, val);
        }
        if (st)
            tv_release(*out);
        return st;
    }
    case TV_UNDEF: case TV_NONE: case TV_BOOL: case TV_INT: case TV_FLOAT:
        *out = v;
        return SB_OK;
    default:
        return sb_error_set(h ? h->err : NULL, SB_ERR_INTERNAL, "template: input value of unsupported kind");
    }
}

/* ---- Python semantics ---------------------------------------------------- */

/* Python truthiness (undefined is false). */
bool tv_truthy(tv v) {
    switch (v.type) {
    case TV_UNDEF: case TV_NONE:
        return false;
    case TV_BOOL:
        return v.u.b;
    case TV_INT:
        return v.u.i != 0;
    case TV_FLOAT:
        return v.u.f != 0.0;
    case TV_STR:
        return tv_str(v)->len != 0;
    case TV_LIST:
        return tv_list(v)->len != 0;
    case TV_DICT:
        return tv_dict(v)->len != 0;
    default:
        return true;
    }
}

/* Python's type name of a value, for messages. */
const char *tv_type_name(tv v) {
    switch (v.type) {
    case TV_UNDEF: return "Undefined";
    case TV_NONE: return "NoneType";
    case TV_BOOL: return "bool";
    case TV_INT: return "int";
    case TV_FLOAT: return "float";
    case TV_STR: return "str";
    case TV_LIST: return tv_list(v)->tuple ? "tuple" : "list";
    case TV_DICT: return "dict";
    case TV_NS: return "Namespace";
    case TV_MACRO: return "Macro";
    case TV_FUNC: return "function";
    case TV_BOUND: return "builtin_function_or_method";
    case TV_LOOP: return "LoopContext";
    case TV_JOINER: return "Joiner";
    case TV_CYCLER: return "Cycler";
    default: return "object";
    }
}

/* Number helpers for comparisons: bool counts as int. */
static bool is_number(tv v) { return v.type == TV_BOOL || v.type == TV_INT || v.type == TV_FLOAT; }

static bool num_is_int(tv v, int64_t *i) {
    if (v.type == TV_BOOL) {
        *i = v.u.b;
        return true;
    }
    if (v.type == TV_INT) {
        *i = v.u.i;
        return true;
    }
    return false;
}

/* Exact comparison of two numbers (int vs float compared exactly, like Python). */
static int num_cmp(tv a, tv b) {
    int64_t ia, ib;
    bool ai = num_is_int(a, &ia), bi = num_is_int(b, &ib);
    if (ai && bi)
        return ia < ib ? -1 : ia > ib;
    if (!ai && !bi)
        return a.u.f < b.u.f ? -1 : a.u.f > b.u.f; /* NaN compares "equal" here; callers check */
    double f = ai ? b.u.f : a.u.f;
    int64_t i = ai ? ia : ib;
    int c; /* i vs f */
    if (isnan(f))
        c = 2;
    else if (f >= 9223372036854775808.0)
        c = -1;
    else if (f < -9223372036854775808.0)
        c = 1;
    else {
        double fl = floor(f);
        int64_t fi = (int64_t)fl;
        if (i != fi)
            c = i < fi ? -1 : 1;
        else
            c = fl < f ? -1 : 0;
    }
    if (c == 2)
        return 2;
    return ai ? c : -c;
}

/* Python ==; *work (if not NULL) counts the values visited. */
sb_status tv_equal_w(tv a, tv b, unsigned depth_left, bool *eq, sb_error *err, uint64_t *work) {
    *eq = false;
    if (work)
        (*work)++;
    if (depth_left == 0)
        return sb_error_set(err, SB_ERR_LIMIT, "template: comparison of data nested too deeply");
    if (is_number(a) && is_number(b)) {
        if ((a.type == TV_FLOAT && isnan(a.u.f)) || (b.type == TV_FLOAT && isnan(b.u.f)))
            return SB_OK;
        *eq = num_cmp(a, b) == 0;
        return SB_OK;
    }
    if (a.type != b.type)
        return SB_OK;
    switch (a.type) {
    case TV_UNDEF: case TV_NONE:
        *eq = true;
        return SB_OK;
    case TV_STR:
        *eq = tv_str(a)->len == tv_str(b)->len && memcmp(tv_str(a)->data, tv_str(b)->data, tv_str(a)->len) == 0;
        return SB_OK;
    case TV_LIST: {
        tlist *x = tv_list(a), *y = tv_list(b);
        if (x == y) {
            *eq = true;
            return SB_OK;
        }
        if (x->tuple != y->tuple || x->len != y->len)
            return SB_OK;
        for (size_t i = 0; i < x->len; i++) {
            sb_status st = tv_equal_w(x->items[i], y->items[i], depth_left - 1, eq, err, work);
            if (st || !*eq)
                return st;
        }
        *eq = true;
        return SB_OK;
    }
    case TV_DICT: {
        tdict *x = tv_dict(a), *y = tv_dict(b);
        if (x == y) {
            *eq = true;
            return SB_OK;
        }
        if (x->len != y->len)
            return SB_OK;
        for (size_t i = 0; i < x->len; i++) {
            tv *other = dict_get(y, x->ents[i].key);
            if (!other)
                return SB_OK;
            sb_status st = tv_equal_w(x->ents[i].val, *other, depth_left - 1, eq, err, work);
            if (st || !*eq)
                return st;
        }
        *eq = true;
        return SB_OK;
    }
    case TV_FUNC:
        *eq = a.u.i == b.u.i;
        return SB_OK;
    default:
        *eq = a.u.o == b.u.o;
        return SB_OK;
    }
}

/* Python == without work counting. */
sb_status tv_equal(tv a, tv b, unsigned depth_left, bool *eq, sb_error *err) {
    return tv_equal_w(a, b, depth_left, eq, err, NULL);
}

/* Python ordering for <, <=, >, >= (op names the operator for the message);
 * *work (if not NULL) counts the values visited. */
sb_status tv_compare_w(tv a, tv b, unsigned depth_left, int *cmp, const char *op, sb_error *err, uint64_t *work) {
    if (work)
        (*work)++;
    if (depth_left == 0)
        return sb_error_set(err, SB_ERR_LIMIT, "template: comparison of data nested too deeply");
    if (is_number(a) && is_number(b)) {
        int c = num_cmp(a, b);
        *cmp = c == 2 ? 0 : c; /* NaN: callers treat as unordered; good enough */
        return SB_OK;
    }
    if (a.type == TV_STR && b.type == TV_STR) {
        tstr *x = tv_str(a), *y = tv_str(b);
        size_t n = x->len < y->len ? x->len : y->len;
        int c = memcmp(x->data, y->data, n); /* UTF-8 byte order == code point order */
        *cmp = c < 0 ? -1 : c > 0 ? 1 : x->len < y->len ? -1 : x->len > y->len;
        return SB_OK;
    }
    if (a.type == TV_LIST && b.type == TV_LIST && tv_list(a)->tuple == tv_list(b)->tuple) {
        tlist *x = tv_list(a), *y = tv_list(b);
        for (size_t i = 0; i < x->len && i < y->len; i++) {
            bool eq;
            sb_status st = tv_equal_w(x->items[i], y->items[i], depth_left - 1, &eq, err, work);
            if (st)
                return st;
            if (!eq)
                return tv_compare_w(x->items[i], y->items[i], depth_left - 1, cmp, op, err, work);
        }
        *cmp = x->len < y->len ? -1 : x->len > y->len;
        return SB_OK;
    }
    return sb_error_set(err, SB_ERR_FORMAT, "TypeError: '%s' not supported between instances of '%s' and '%s'", op,
                        tv_type_name(a), tv_type_name(b));
}

/* Python ordering without work counting. */
sb_status tv_compare(tv a, tv b, unsigned depth_left, int *cmp, const char *op, sb_error *err) {
    return tv_compare_w(a, b, depth_left, cmp, op, err, NULL);
}

/* Rough cost of hashing and comparing a key: 1, plus the items of tuples. */
uint64_t tv_key_weight(tv v) {
    if (v.type != TV_LIST)
        return 1;
    uint64_t w = 1;
    for (size_t i = 0; i < tv_list(v)->len; i++)
        w += tv_list(v)->items[i].type == TV_LIST ? tv_list(tv_list(v)->items[i])->len + 1 : 1;
    return w;
}
