/*
 * sb_template.c - the public API: compile/render/free, limits, the built-in
 * ChatML template, BOS stripping, and the value handles callers build
 * conversations with.
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_utf8.h"

#include <string.h>

/* Fills l with the documented defaults. */
void sb_template_limits_default(sb_template_limits *l) {
    l->max_source_bytes = SB_TEMPLATE_DEFAULT_MAX_SOURCE;
    l->max_output_bytes = SB_TEMPLATE_DEFAULT_MAX_OUTPUT;
    l->max_memory_bytes = SB_TEMPLATE_DEFAULT_MAX_MEMORY;
    l->max_loop_iterations = SB_TEMPLATE_DEFAULT_MAX_ITERATIONS;
    l->max_steps = SB_TEMPLATE_DEFAULT_MAX_STEPS;
    l->max_call_depth = SB_TEMPLATE_DEFAULT_MAX_CALL_DEPTH;
    l->max_nesting = SB_TEMPLATE_DEFAULT_MAX_NESTING;
}

/* The caller's limits with zero fields replaced by defaults. */
static sb_template_limits effective_limits(const sb_template_limits *in) {
    sb_template_limits l;
    sb_template_limits_default(&l);
    if (in) {
        if (in->max_source_bytes)
            l.max_source_bytes = in->max_source_bytes;
        if (in->max_output_bytes)
            l.max_output_bytes = in->max_output_bytes;
        if (in->max_memory_bytes)
            l.max_memory_bytes = in->max_memory_bytes;
        if (in->max_loop_iterations)
            l.max_loop_iterations = in->max_loop_iterations;
        if (in->max_steps)
            l.max_steps = in->max_steps;
        if (in->max_call_depth)
            l.max_call_depth = in->max_call_depth;
        if (in->max_nesting)
            l.max_nesting = in->max_nesting;
    }
    return l;
}

/* Frees a template's immortal string constants (a list linked through h.next). */
static void free_consts(tobj *o) {
    while (o) {
        tobj *next = o->next;
        sb_free(o);
        o = next;
    }
}

/* Frees a compiled template and everything it owns; NULL is a no-op. */
void sb_template_free(sb_template *t) {
    if (!t)
        return;
    tarena_free(t);
    free_consts(t->consts);
    sb_free(t);
}

/* Validates, normalizes, lexes and parses src into a new template (caller frees). */
sb_status sb_template_compile(const char *src, size_t len, const sb_template_limits *limits, sb_template **out,
                              sb_error *err) {
    *out = NULL;
    if (!src && len)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "template: no source");
    sb_template_limits l = effective_limits(limits);
    if (len > l.max_source_bytes)
        return sb_error_set(err, SB_ERR_LIMIT, "template: source is %zu bytes, more than %zu (max_source_bytes)", len,
                            l.max_source_bytes);
    if (!sb_utf8_valid(src ? src : "", len)) {
        size_t i = 0;
        while (i < len) {
            bool ok = true;
            size_t n = sb_utf8_decode(src + i, len - i, &(uint32_t){0}, &ok);
            if (!ok)
                break;
            i += n;
        }
        return sb_error_set(err, SB_ERR_FORMAT, "template: source is not valid UTF-8 (byte %zu)", i);
    }
    sb_template *t = sb_calloc(1, sizeof *t);
    if (!t)
        return sb_error_set(err, SB_ERR_NOMEM, "template: out of memory");
    t->limits = l;
    char *norm = NULL;
    size_t norm_len = 0;
    ttoklist toks;
    memset(&toks, 0, sizeof toks);
    sb_status st = tmpl_normalize_source(src ? src : "", len, &norm, &norm_len, err);
    if (st == SB_OK)
        st = tmpl_lex(norm, norm_len, l.max_nesting, &toks, err);
    if (st == SB_OK)
        st = tmpl_parse(t, &toks, err);
    tmpl_toklist_free(&toks);
    sb_free(norm);
    if (st) {
        sb_template_free(t);
        return st;
    }
    *out = t;
    return SB_OK;
}

/* Checks the arguments and renders; the text is the caller's (sb_free). */
sb_status sb_template_render(const sb_template *t, const sb_template_inputs *in, char **out, size_t *out_len,
                             sb_error *err) {
    if (!t || !in || !out)
        return sb_error_set(err, SB_ERR_INTERNAL, "template: render called without a template, inputs or output");
    *out = NULL;
    if (out_len)
        *out_len = 0;
    return tmpl_render(t, in, out, out_len, err);
}

static const char k_chatml[] =
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- elif message['content'] is iterable -%}"
    "{%- for part in message['content'] -%}"
    "{%- if part is mapping and part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

/* The built-in ChatML template source (static storage). */
const char *sb_template_default_chatml(void) { return k_chatml; }

/* Removes a leading BOS text in place, as llama.cpp's server does. */
bool sb_template_strip_bos(char *text, size_t *len, sb_str bos) {
    if (!text || bos.len == 0 || *len < bos.len || memcmp(text, bos.ptr, bos.len) != 0)
        return false;
    memmove(text, text + bos.len, *len - bos.len);
    *len -= bos.len;
    text[*len] = '\0';
    return true;
}

/* ---- value handles ---------------------------------------------------------- */

/* Wraps v (taken) in a new handle; NULL (and v released) on OOM. */
static sb_tmpl_value *box(tv v) {
    sb_tmpl_value *b = sb_malloc(sizeof *b);
    if (!b) {
        tv_release(v);
        return NULL;
    }
    b->v = v;
    return b;
}

/* Scalar constructors: new handles the caller frees. */
sb_tmpl_value *sb_tmpl_none(void) { return box(tv_none()); }
sb_tmpl_value *sb_tmpl_bool(bool b) { return box(tv_bool(b)); }
sb_tmpl_value *sb_tmpl_int(int64_t i) { return box(tv_int(i)); }
sb_tmpl_value *sb_tmpl_float(double f) { return box(tv_float(f)); }

/* A new string handle (copied; invalid UTF-8 repaired); caller frees. */
sb_tmpl_value *sb_tmpl_string(const char *s, size_t len) {
    tv v;
    if (str_new_checked(NULL, s ? s : "", s ? len : 0, &v))
        return NULL;
    return box(v);
}

/* A new empty list handle; caller frees. */
sb_tmpl_value *sb_tmpl_list(void) {
    tv v;
    return list_new(NULL, 0, false, &v) ? NULL : box(v);
}

/* A new empty dict handle; caller frees. */
sb_tmpl_value *sb_tmpl_dict(void) {
    tv v;
    return dict_new(NULL, false, &v) ? NULL : box(v);
}

/* Moves item (a handle) into list; see sb_template.h for ownership. */
sb_status sb_tmpl_list_append(sb_tmpl_value *list, sb_tmpl_value *item) {
    if (!item)
        return SB_ERR_NOMEM;
    if (item == list)
        return SB_ERR_INVALID_ARG;
    if (!list || list->v.type != TV_LIST || (tv_is_obj(item->v) && item->v.u.o == list->v.u.o)) {
        sb_tmpl_value_free(item);
        return SB_ERR_INVALID_ARG;
    }
    tv v = item->v;
    sb_free(item);
    return list_push(tv_list(list->v), v);
}

/* Moves val into dict under a copy of key; see sb_template.h for ownership. */
sb_status sb_tmpl_dict_set(sb_tmpl_value *dict, const char *key, size_t key_len, sb_tmpl_value *val) {
    if (!val)
        return SB_ERR_NOMEM;
    if (val == dict)
        return SB_ERR_INVALID_ARG;
    if (!dict || dict->v.type != TV_DICT || !key || (tv_is_obj(val->v) && val->v.u.o == dict->v.u.o)) {
        sb_tmpl_value_free(val);
        return SB_ERR_INVALID_ARG;
    }
    tv k;
    if (str_new_checked(NULL, key, key_len, &k)) {
        sb_tmpl_value_free(val);
        return SB_ERR_NOMEM;
    }
    tv v = val->v;
    sb_free(val);
    return dict_set(tv_dict(dict->v), k, v);
}

/* The public type of a handle (NULL reads as none). */
sb_tmpl_type sb_tmpl_value_type(const sb_tmpl_value *v) {
    switch (v ? v->v.type : TV_NONE) {
    case TV_BOOL: return SB_TMPL_BOOL;
    case TV_INT: return SB_TMPL_INT;
    case TV_FLOAT: return SB_TMPL_FLOAT;
    case TV_STR: return SB_TMPL_STRING;
    case TV_LIST: return SB_TMPL_LIST;
    case TV_DICT: return SB_TMPL_DICT;
    default: return SB_TMPL_NONE;
    }
}

/* Length of a string (bytes), list or dict; 0 otherwise. */
size_t sb_tmpl_value_len(const sb_tmpl_value *v) {
    if (!v)
        return 0;
    switch (v->v.type) {
    case TV_STR: return tv_str(v->v)->len;
    case TV_LIST: return tv_list(v->v)->len;
    case TV_DICT: return tv_dict(v->v)->len;
    default: return 0;
    }
}

/* dict[key] as a new handle (caller frees), or NULL. */
sb_tmpl_value *sb_tmpl_dict_get(const sb_tmpl_value *dict, const char *key) {
    if (!dict || dict->v.type != TV_DICT || !key)
        return NULL;
    tv *v = dict_get_str(tv_dict(dict->v), key, strlen(key));
    return v ? box(tv_retain(*v)) : NULL;
}

/* list[i] as a new handle (caller frees), or NULL. */
sb_tmpl_value *sb_tmpl_list_get(const sb_tmpl_value *list, size_t i) {
    if (!list || list->v.type != TV_LIST || i >= tv_list(list->v)->len)
        return NULL;
    return box(tv_retain(tv_list(list->v)->items[i]));
}

/* The bytes of a string handle (owned by it), or NULL. */
const char *sb_tmpl_value_string(const sb_tmpl_value *v, size_t *len) {
    if (!v || v->v.type != TV_STR)
        return NULL;
    if (len)
        *len = tv_str(v->v)->len;
    return tv_str(v->v)->data;
}

/* Drops a handle and its reference; NULL is a no-op. */
void sb_tmpl_value_free(sb_tmpl_value *v) {
    if (!v)
        return;
    tv_release(v->v);
    sb_free(v);
}

/* Parses JSON into a new standalone value handle (caller frees). */
sb_status sb_tmpl_value_from_json(const char *json, size_t len, sb_tmpl_value **out, sb_error *err) {
    *out = NULL;
    tv v;
    sb_status st = tv_from_json(NULL, json ? json : "", json ? len : 0, SB_TMPL_JSON_MAX_DEPTH, &v, err);
    if (st)
        return st;
    if (!(*out = box(v)))
        return sb_error_set(err, SB_ERR_NOMEM, "JSON: out of memory");
    return SB_OK;
}

/* json.dumps of a handle into a new string the caller frees. */
sb_status sb_tmpl_value_to_json(const sb_tmpl_value *v, char **out, size_t *out_len, sb_error *err) {
    *out = NULL;
    if (!v)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "JSON: no value");
    tjson_opts o = {.item_sep = ", ", .key_sep = ": "};
    sb_buf b;
    sb_buf_init(&b);
    sb_status st = tv_write_json(&b, v->v, &o, SB_TMPL_JSON_MAX_DEPTH, err);
    if (st == SB_ERR_NOMEM)
        sb_error_set(err, st, "JSON: out of memory");
    size_t len = 0;
    if (st == SB_OK && !(*out = sb_buf_detach(&b, &len)))
        st = sb_error_set(err, SB_ERR_NOMEM, "JSON: out of memory");
    if (st == SB_OK)
        (*out)[len] = '\0'; /* detach of a never-filled buffer does not terminate it */
    if (st == SB_OK && out_len)
        *out_len = len;
    sb_buf_free(&b);
    return st;
}
