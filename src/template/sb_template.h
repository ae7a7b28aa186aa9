/*
 * sb_template.h - chat templates: a sandboxed interpreter for the Jinja2
 * subset that models' `tokenizer.chat_template` strings use.
 *
 * A template is compiled once and rendered many times:
 *
 *   sb_template *t;
 *   sb_template_compile(src, len, NULL, &t, &err);          // NULL = default limits
 *   sb_tmpl_value *msgs;
 *   sb_tmpl_value_from_json(json, json_len, &msgs, &err);   // or build with the constructors
 *   sb_template_inputs in = {.messages = msgs, .add_generation_prompt = true,
 *                            .bos_token = bos, .eos_token = eos};
 *   char *text; size_t n;
 *   sb_template_render(t, &in, &text, &n, &err);            // sb_free(text)
 *
 * Semantics follow Python jinja2 as Hugging Face transformers configures it
 * (trim_blocks, lstrip_blocks, loop controls, `tojson` = json.dumps with
 * ensure_ascii=False, `raise_exception`, `strftime_now`), so renderings are
 * byte-identical to what `apply_chat_template` produces.
 *
 * THE TEMPLATE IS UNTRUSTED CODE. It can reach nothing but the values it is
 * given: no I/O, no environment, no clock except strftime_now. Output size,
 * memory, loop iterations, evaluation steps, call depth and nesting are all
 * bounded (sb_template_limits); hitting a bound fails with SB_ERR_LIMIT and a
 * message naming it.
 *
 * Errors from sb_template_render:
 *   SB_ERR_INVALID_ARG  the template called raise_exception(msg): err->msg is
 *                       exactly msg (a request the template rejects: HTTP 400).
 *                       Render returns this status for nothing else.
 *   SB_ERR_FORMAT       a template error at run time ("template:LINE:COL: TypeError: ...")
 *   SB_ERR_LIMIT        a limit was hit
 *   SB_ERR_NOMEM        an allocation failed
 * Compile errors are SB_ERR_FORMAT with "template:LINE:COL: ..." (or SB_ERR_LIMIT).
 *
 * A compiled template is immutable: several threads may render it at once.
 * Values (sb_tmpl_value) are not thread-safe; each render copies its inputs.
 * Compile and render recurse with bounded depth: they need about 256 KiB of
 * C stack with the default limits (about 1 MiB in an ASan build).
 */
#ifndef SB_TEMPLATE_H
#define SB_TEMPLATE_H

#include "sb_error.h"
#include "sb_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- values ------------------------------------------------------------ */

/* A JSON-like value: none, bool, int, float, string, list or dict (keys keep
 * insertion order). Handles are owned by the caller and freed with
 * sb_tmpl_value_free; containers own what is put in them. Values must form a
 * tree (do not put a container inside itself). */
typedef struct sb_tmpl_value sb_tmpl_value;

typedef enum sb_tmpl_type {
    SB_TMPL_NONE,
    SB_TMPL_BOOL,
    SB_TMPL_INT,
    SB_TMPL_FLOAT,
    SB_TMPL_STRING,
    SB_TMPL_LIST,
    SB_TMPL_DICT,
} sb_tmpl_type;

/* Constructors; each returns a new handle, or NULL when out of memory.
 * Strings are copied; invalid UTF-8 bytes become U+FFFD. */
sb_tmpl_value *sb_tmpl_none(void);
sb_tmpl_value *sb_tmpl_bool(bool b);
sb_tmpl_value *sb_tmpl_int(int64_t i);
sb_tmpl_value *sb_tmpl_float(double f);
sb_tmpl_value *sb_tmpl_string(const char *s, size_t len);
sb_tmpl_value *sb_tmpl_list(void);
sb_tmpl_value *sb_tmpl_dict(void);

/* Appends item to list. Takes ownership of item whatever happens, so calls can
 * nest: sb_tmpl_list_append(l, sb_tmpl_string(...)) (a NULL item gives
 * SB_ERR_NOMEM). SB_ERR_INVALID_ARG if list is not a list, or if item is the
 * list itself (then nothing is taken). */
sb_status sb_tmpl_list_append(sb_tmpl_value *list, sb_tmpl_value *item);
/* Sets dict[key] = val (replacing an existing value in place). Takes val, as
 * append takes item. */
sb_status sb_tmpl_dict_set(sb_tmpl_value *dict, const char *key, size_t key_len, sb_tmpl_value *val);

sb_tmpl_type sb_tmpl_value_type(const sb_tmpl_value *v);
/* Items of a list or dict, bytes of a string, else 0. */
size_t sb_tmpl_value_len(const sb_tmpl_value *v);
/* dict[key] / list[i] as a new handle the caller frees, or NULL if absent
 * (or out of memory). */
sb_tmpl_value *sb_tmpl_dict_get(const sb_tmpl_value *dict, const char *key);
sb_tmpl_value *sb_tmpl_list_get(const sb_tmpl_value *list, size_t i);
/* The bytes of a string value (NUL-terminated, owned by v), else NULL. */
const char *sb_tmpl_value_string(const sb_tmpl_value *v, size_t *len);

void sb_tmpl_value_free(sb_tmpl_value *v);

/* Parses JSON (RFC 8259, UTF-8; at most SB_TMPL_JSON_MAX_DEPTH levels of
 * nesting) into a new value the caller frees. SB_ERR_FORMAT with the byte
 * offset on malformed input. Integers that do not fit int64 become floats. */
#define SB_TMPL_JSON_MAX_DEPTH 256
sb_status sb_tmpl_value_from_json(const char *json, size_t len, sb_tmpl_value **out, sb_error *err);
/* Serializes v as Python's json.dumps(v, ensure_ascii=False) would. Caller
 * frees *out with sb_free. */
sb_status sb_tmpl_value_to_json(const sb_tmpl_value *v, char **out, size_t *out_len, sb_error *err);

/* ---- templates --------------------------------------------------------- */

typedef struct sb_template sb_template;

typedef struct sb_template_limits {
    size_t max_source_bytes;      /* template source size */
    size_t max_output_bytes;      /* rendered text (also any macro / block result) */
    size_t max_memory_bytes;      /* values alive at once during a render, inputs included */
    uint64_t max_loop_iterations; /* for-loop iterations (and range() items) over one render */
    uint64_t max_steps;           /* evaluation steps and bytes processed over one render */
    uint32_t max_call_depth;      /* nested macro calls */
    uint32_t max_nesting;         /* syntax nesting, and data nesting for repr/tojson/compare/copy */
} sb_template_limits;

#define SB_TEMPLATE_DEFAULT_MAX_SOURCE (1u << 20)        /* 1 MiB */
#define SB_TEMPLATE_DEFAULT_MAX_OUTPUT (4u << 20)        /* 4 MiB */
#define SB_TEMPLATE_DEFAULT_MAX_MEMORY (256u << 20)      /* 256 MiB */
#define SB_TEMPLATE_DEFAULT_MAX_ITERATIONS 1000000u
#define SB_TEMPLATE_DEFAULT_MAX_STEPS 50000000u
#define SB_TEMPLATE_DEFAULT_MAX_CALL_DEPTH 64u
#define SB_TEMPLATE_DEFAULT_MAX_NESTING 128u

/* Fills l with the defaults above. */
void sb_template_limits_default(sb_template_limits *l);

/* Compiles template source (UTF-8). limits may be NULL (defaults); a zero
 * field means its default. The caller frees *out with sb_template_free. */
sb_status sb_template_compile(const char *src, size_t len, const sb_template_limits *limits, sb_template **out,
                              sb_error *err);
void sb_template_free(sb_template *t);

/* What a render sees. messages is required (a list); everything else is
 * optional. */
typedef struct sb_template_inputs {
    const sb_tmpl_value *messages; /* `messages` */
    const sb_tmpl_value *tools;    /* `tools`; NULL = undefined (as HF does when there are none) */
    bool add_generation_prompt;    /* `add_generation_prompt` */
    sb_str bos_token;              /* `bos_token` text ({NULL, 0} = "") */
    sb_str eos_token;              /* `eos_token` text */
    const sb_tmpl_value *extra;    /* a dict of extra variables (enable_thinking, ...), or NULL */
    int64_t now;                   /* strftime_now's time: seconds since the epoch, shown in UTC;
                                      0 = the real clock, shown in local time */
} sb_template_inputs;

/* Renders t. On success *out is the NUL-terminated text (caller frees with
 * sb_free) and *out_len its length. See the top of this file for errors. */
sb_status sb_template_render(const sb_template *t, const sb_template_inputs *in, char **out, size_t *out_len,
                             sb_error *err);

/* The built-in ChatML template used when a model has none (static storage):
 * <|im_start|>role\ncontent<|im_end|>\n per message, and
 * <|im_start|>assistant\n when add_generation_prompt. */
const char *sb_template_default_chatml(void);

/* llama.cpp's server renders with the full template and then removes a
 * leading BOS text when the model's add_bos_token is true, because the
 * tokenizer adds the BOS id itself. This does the same on a rendered text:
 * when text[0..*len) starts with bos, the bos bytes are removed in place
 * (memmove) and *len shrinks. Returns true if it stripped. */
bool sb_template_strip_bos(char *text, size_t *len, sb_str bos);

#endif
