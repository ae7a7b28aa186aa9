/*
 * tmpl_internal.h - shared internals of the chat-template interpreter.
 *
 * The interpreter is a pipeline: lexer (tmpl_lex.c) -> parser to an AST
 * (tmpl_parse.c) -> evaluator (tmpl_eval.c) over Python-like values
 * (tmpl_value.c), with filters, tests, methods and globals in their own files.
 *
 * VALUES. A `tv` is a small tagged value passed by value. Scalars (none, bool,
 * int, float, undefined) live inside it; everything else points to a
 * reference-counted object (`tobj` header first). Reference rules:
 *   - a function that returns a tv through an out parameter hands over one
 *     reference (the caller calls tv_release when done);
 *   - a tv passed as an argument is borrowed unless the comment says "takes".
 * Objects created while rendering belong to the render's heap (`theap`): the
 * heap counts their bytes against the memory limit and, when the render ends,
 * frees whatever is left (this also reclaims reference cycles a template can
 * build, e.g. a namespace that holds itself). Objects created outside a render
 * (the public value API) have heap == NULL and live by reference count alone.
 * Template constants are IMMORTAL: never counted, never freed by a release, so
 * a compiled template can be rendered by several threads at once.
 */
#ifndef TMPL_INTERNAL_H
#define TMPL_INTERNAL_H

#include "sb_buf.h"
#include "sb_error.h"
#include "sb_template.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- values ------------------------------------------------------------ */

typedef enum tv_type {
    TV_UNDEF = 0, /* jinja2 Undefined; u.name = the missing name (static/AST storage) or NULL */
    TV_NONE,
    TV_BOOL,
    TV_INT,
    TV_FLOAT,
    TV_STR,    /* tstr */
    TV_LIST,   /* tlist (also tuples: tlist.tuple) */
    TV_DICT,   /* tdict */
    TV_NS,     /* tdict with ns = true: a namespace() object */
    TV_MACRO,  /* tmacro */
    TV_FUNC,   /* a global function; u.i = its builtin id (no object) */
    TV_BOUND,  /* tbound: a method bound to its object */
    TV_LOOP,   /* tloop: the `loop` variable of a for loop */
    TV_JOINER, /* tjoiner */
    TV_CYCLER, /* tcycler */
} tv_type;

typedef struct tobj tobj;

typedef struct tv {
    uint8_t type;
    union {
        bool b;
        int64_t i;
        double f;
        tobj *o;
        const char *name;
    } u;
} tv;

enum tobj_kind { OBJ_STR = 1, OBJ_LIST, OBJ_DICT, OBJ_MACRO, OBJ_SCOPE, OBJ_LOOP, OBJ_BOUND, OBJ_JOINER, OBJ_CYCLER };

#define TOBJ_IMMORTAL UINT32_MAX

typedef struct theap theap;

struct tobj {
    uint32_t rc;    /* references; TOBJ_IMMORTAL for constants */
    uint8_t kind;   /* enum tobj_kind */
    theap *heap;    /* owning render heap, or NULL (standalone/immortal) */
    tobj *prev, *next; /* the heap's list of live objects; `next` doubles as a free-stack link */
    size_t bytes;   /* bytes charged to the heap for the object itself */
};

typedef struct tstr {
    tobj h;
    size_t len;  /* bytes, excluding the terminating NUL */
    size_t ncp;  /* code points; == len when the string is ASCII */
    char *data;  /* NUL-terminated, valid UTF-8 */
} tstr;

typedef struct tlist {
    tobj h;
    size_t len, cap;
    tv *items;
    bool tuple;
    const char *const *fields; /* a named tuple's attribute names (static, NULL-ended), else NULL */
} tlist;

typedef struct tdent {
    tv key, val;
    uint64_t hash;
} tdent;

typedef struct tdict {
    tobj h;
    size_t len, cap;
    tdent *ents;     /* insertion order */
    uint32_t *index; /* open addressing over ents (slot = entry index + 1), built past a few entries */
    size_t icap;
    bool ns;
} tdict;

typedef struct tscope tscope;
typedef struct tnode tnode;

typedef struct tmacro {
    tobj h;
    const tnode *def; /* N_MACRO, or the N_CALLBLOCK that made this `caller` */
    tscope *closure;  /* the scope the macro was defined in (a reference) */
} tmacro;

struct tscope {
    tobj h;
    tdict *vars;   /* created on the first assignment */
    tscope *parent;
};

typedef struct tloop {
    tobj h;
    tlist *items;
    size_t index0;
    tv last_changed; /* loop.changed() state */
    bool changed_used;
} tloop;

typedef struct tbound {
    tobj h;
    tv self;
    int method; /* a method id from tmpl_methods.c */
} tbound;

typedef struct tjoiner {
    tobj h;
    tv sep;
    bool used;
} tjoiner;

typedef struct tcycler {
    tobj h;
    tlist *items;
    size_t pos;
} tcycler;

/* A public value handle is a boxed tv (see sb_template.c). */
struct sb_tmpl_value {
    tv v;
};

/* A render heap: every object allocated during one render. */
struct theap {
    tobj *head;
    size_t live;     /* bytes currently held */
    size_t max_live; /* 0 = unlimited */
    sb_error *err;   /* where allocation failures are reported */
    sb_status fail;  /* the status of the last failed allocation (NOMEM or LIMIT) */
};

static inline tv tv_undef(const char *name) { tv v = {.type = TV_UNDEF}; v.u.name = name; return v; }
static inline tv tv_none(void) { tv v = {.type = TV_NONE}; return v; }
static inline tv tv_bool(bool b) { tv v = {.type = TV_BOOL}; v.u.b = b; return v; }
static inline tv tv_int(int64_t i) { tv v = {.type = TV_INT}; v.u.i = i; return v; }
static inline tv tv_float(double f) { tv v = {.type = TV_FLOAT}; v.u.f = f; return v; }
static inline bool tv_is_obj(tv v) { return v.type >= TV_STR && v.type != TV_FUNC; }
static inline tstr *tv_str(tv v) { return (tstr *)v.u.o; }
static inline tlist *tv_list(tv v) { return (tlist *)v.u.o; }
static inline tdict *tv_dict(tv v) { return (tdict *)v.u.o; }

/* Reference counting (no-ops for scalars and immortal objects). */
static inline tv tv_retain(tv v) {
    if (tv_is_obj(v) && v.u.o->rc != TOBJ_IMMORTAL)
        v.u.o->rc++;
    return v;
}
void tv_release(tv v);
void tobj_release(tobj *o);

/* Heap lifetime. heap_destroy frees every object still alive. */
void heap_init(theap *h, size_t max_live, sb_error *err);
void heap_destroy(theap *h);
/* Raw accounted memory for object payloads (arrays). h may be NULL (plain
 * allocation). On failure they return NULL, fill h->err and h->fail. */
void *heap_alloc(theap *h, size_t size);
void *heap_realloc(theap *h, void *p, size_t old_size, size_t new_size);
void heap_free(theap *h, void *p, size_t size);
/* The status to return after a heap allocation failed. */
static inline sb_status heap_status(const theap *h) { return h ? h->fail : SB_ERR_NOMEM; }

/* Strings. `s` must be valid UTF-8 (str_new_checked repairs invalid bytes). */
sb_status str_new(theap *h, const char *s, size_t len, tv *out);
sb_status str_new_checked(theap *h, const char *s, size_t len, tv *out);
sb_status str_immortal(const char *s, size_t len, tobj **list, tv *out); /* template constants */
tv str_empty(void);
/* The static immortal string for a short ASCII literal used as a key ("loop"). */
tv str_static_loop(void);
tv str_static_caller(void);
tv str_static_varargs(void);
tv str_static_kwargs(void);

/* Lists. list_push takes `item` (also on failure). */
sb_status list_new(theap *h, size_t cap, bool tuple, tv *out);
sb_status list_push(tlist *l, tv item);

/* Dicts. dict_set takes key and val (also on failure); an existing key keeps
 * its position and gets the new value. Keys must be hashable (checked by the
 * caller with tv_hashable). dict_get returns a borrowed pointer or NULL. */
sb_status dict_new(theap *h, bool ns, tv *out);
sb_status dict_set(tdict *d, tv key, tv val);
tv *dict_get(const tdict *d, tv key);
tv *dict_get_str(const tdict *d, const char *key, size_t len);
bool dict_remove(tdict *d, tv key, tv *removed_val); /* hands removed_val over */
bool tv_hashable(tv v);

/* Other objects; each returns a new reference. */
sb_status scope_new(theap *h, tscope *parent, tscope **out);
sb_status macro_new(theap *h, const tnode *def, tscope *closure, tv *out);
sb_status loop_new(theap *h, tlist *items, tv *out);
sb_status bound_new(theap *h, tv self, int method, tv *out);
sb_status joiner_new(theap *h, tv sep, tv *out);
sb_status cycler_new(theap *h, tlist *items, tv *out);

/* Deep copy into heap h (inputs of a render); fails past max_depth levels. */
sb_status tv_deep_copy(theap *h, tv v, unsigned max_depth, tv *out);

/* Python semantics. */
bool tv_truthy(tv v);
const char *tv_type_name(tv v); /* Python's type name: 'str', 'NoneType', 'dict', ... */
/* Equality (Python ==); *eq out. Fails only on too-deep nesting. The _w
 * forms add the number of values visited to *work (for the step limit). */
sb_status tv_equal(tv a, tv b, unsigned depth_left, bool *eq, sb_error *err);
sb_status tv_equal_w(tv a, tv b, unsigned depth_left, bool *eq, sb_error *err, uint64_t *work);
/* Ordering (Python <): -1/0/1 in *cmp; SB_ERR_FORMAT when not comparable. */
sb_status tv_compare(tv a, tv b, unsigned depth_left, int *cmp, const char *op, sb_error *err);
sb_status tv_compare_w(tv a, tv b, unsigned depth_left, int *cmp, const char *op, sb_error *err, uint64_t *work);
/* A cost estimate for hashing/comparing v as a dict key (step accounting). */
uint64_t tv_key_weight(tv v);

/* ---- text forms (tmpl_repr.c) -------------------------------------------- */

/* Python str(v) appended to b (undefined -> ""). */
sb_status tv_write_str(sb_buf *b, tv v, unsigned depth_left, sb_error *err);
/* Python repr(v) appended to b. */
sb_status tv_write_repr(sb_buf *b, tv v, unsigned depth_left, sb_error *err);
/* Python float repr ("1.0", "1e-05", "inf") into out (>= 32 bytes); returns length. */
size_t float_repr(double x, char *out);

typedef struct tjson_opts {
    const char *indent; /* NULL = no indentation (indent=None) */
    size_t indent_len;
    const char *item_sep, *key_sep;
    bool sort_keys;
    bool ensure_ascii;
} tjson_opts;
/* Python json.dumps(v, ...) appended to b; TypeError (SB_ERR_FORMAT) for values
 * JSON cannot hold (undefined, namespace, macro, ...). */
sb_status tv_write_json(sb_buf *b, tv v, const tjson_opts *o, unsigned depth_left, sb_error *err);

/* ---- JSON reading (tmpl_json.c) ------------------------------------------- */

/* Parses one JSON document into a value in heap h (NULL = standalone). */
sb_status tv_from_json(theap *h, const char *s, size_t len, unsigned max_depth, tv *out, sb_error *err);

/* ---- Unicode helpers (tmpl_unicode.c) ------------------------------------- */

bool uc_isspace(uint32_t cp);   /* Python str.isspace for one code point */
uint32_t uc_upper(uint32_t cp); /* simple case mappings */
uint32_t uc_lower(uint32_t cp);
bool uc_iscased(uint32_t cp);
bool uc_isalpha(uint32_t cp);
bool uc_isdigit(uint32_t cp);
bool uc_isprintable(uint32_t cp); /* for repr() escaping */
/* Decodes the code point at s[*i] (valid UTF-8) and advances *i. */
uint32_t uc_next(const char *s, size_t len, size_t *i);
/* Byte offset of code point index cp in a string (ncp known). */
size_t uc_offset(const tstr *s, size_t cp);
sb_status buf_put_cp(sb_buf *b, uint32_t cp);
size_t utf8_count_cp(const char *s, size_t len);

/* ---- lexer and parser ---------------------------------------------------- */

typedef enum ttok_type {
    T_EOF, T_TEXT, T_VAR_BEGIN, T_VAR_END, T_BLOCK_BEGIN, T_BLOCK_END, T_NAME, T_STRING, T_INT, T_FLOAT, T_OP
} ttok_type;

typedef enum top {
    OP_NONE, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_FLOORDIV, OP_MOD, OP_POW, OP_TILDE,
    OP_LBRACKET, OP_RBRACKET, OP_LPAREN, OP_RPAREN, OP_LBRACE, OP_RBRACE,
    OP_EQ, OP_NE, OP_GT, OP_GE, OP_LT, OP_LE, OP_ASSIGN, OP_DOT, OP_COLON, OP_PIPE, OP_COMMA, OP_SEMICOLON,
    /* not tokens: operators the parser builds */
    OP_IN, OP_NOTIN, OP_AND, OP_OR, OP_NOT, OP_NEG, OP_POS,
} top;

typedef struct ttok {
    uint8_t type; /* ttok_type */
    uint8_t op;   /* top for T_OP */
    uint32_t line, col;
    const char *s; /* T_TEXT/T_NAME: into the source; T_STRING: decoded, lexer-owned */
    size_t len;
    int64_t i;
    double f;
} ttok;

typedef struct ttoklist {
    ttok *toks;
    size_t n, cap;
    char **strings; /* decoded string literals (freed with the list) */
    size_t nstrings, capstrings;
} ttoklist;

/* Tokenizes a normalized template source (see tmpl_lex.c) with jinja2's
 * trim_blocks + lstrip_blocks whitespace rules. The tokens point into src. */
sb_status tmpl_lex(const char *src, size_t len, unsigned max_nesting, ttoklist *out, sb_error *err);
void tmpl_toklist_free(ttoklist *l);
/* Newline normalization + dropping one trailing newline (jinja2 defaults);
 * returns a new NUL-terminated buffer the caller frees with sb_free. */
sb_status tmpl_normalize_source(const char *src, size_t len, char **out, size_t *out_len, sb_error *err);

typedef enum tnode_kind {
    /* expressions */
    N_CONST, N_NAME, N_LIST, N_TUPLE, N_DICT, N_GETATTR, N_GETITEM, N_SLICE, N_CALL, N_FILTER, N_TEST,
    N_UNARY, N_BINOP, N_AND, N_OR, N_COMPARE, N_CONDEXPR, N_NSREF,
    /* statements */
    N_BODY, N_TEXT, N_OUTPUT, N_IF, N_FOR, N_SET, N_SETBLOCK, N_MACRO, N_CALLBLOCK, N_FILTERBLOCK, N_WITH,
    N_BREAK, N_CONTINUE,
} tnode_kind;

/* One AST node. Field use per kind:
 *   N_CONST      val
 *   N_NAME       name, val (the name as an immortal string)
 *   N_LIST/TUPLE kids;  N_DICT kids = key, value, key, value ...
 *   N_GETATTR    a = object, name/val = attribute;  N_GETITEM a = object, b = key
 *   N_SLICE      a = object, b/c/d = start/stop/step (each may be NULL)
 *   N_CALL       a = callee, kids = positional, kw* = keyword arguments
 *   N_FILTER     a = operand (NULL in a filter block), name, kids/kw* = arguments
 *   N_TEST       a = operand, name, kids/kw* = arguments, flags bit0 = negated
 *   N_UNARY      op, a;  N_BINOP op, a, b;  N_AND/N_OR a, b
 *   N_COMPARE    a = first operand, kids = further operands, ops[i] = operator before kids[i]
 *   N_CONDEXPR   a = condition, b = then, c = else (NULL = undefined)
 *   N_NSREF      name = namespace variable, val = attribute (as a set target)
 *   N_BODY       kids = statements;  N_TEXT val;  N_OUTPUT a
 *   N_IF         a = condition, b = body, c = else part (N_BODY or an elif N_IF) or NULL
 *   N_FOR        a = target, b = iterable, c = body, d = else body, e = filter condition, flags bit0 = recursive
 *   N_SET        a = target, b = value;  N_SETBLOCK a = target, b = body, c = filter chain or NULL
 *   N_MACRO      name/val, kids = parameters (N_NAME), defs[i] = default or NULL, b = body,
 *                flags = MACRO_USES_* (what the body refers to)
 *   N_CALLBLOCK  a = the call, kids/defs = caller parameters, b = body, flags = MACRO_USES_*
 *   N_FILTERBLOCK a = filter chain (innermost operand NULL), b = body
 *   N_WITH       kids = targets, defs = values, b = body
 */
struct tnode {
    uint8_t kind;
    uint8_t op;
    uint8_t flags;
    uint32_t line, col;
    const char *name;
    tv val;
    tnode *a, *b, *c, *d, *e;
    tnode **kids;
    tnode **defs;
    uint8_t *ops;
    uint32_t nkids;
    const char **kwnames;
    tnode **kwvals;
    uint32_t nkw;
};

#define MACRO_USES_VARARGS 1
#define MACRO_USES_KWARGS 2
#define MACRO_USES_CALLER 4

/* The parsed template: AST nodes live in an arena, constants are immortal. */
typedef struct tarena_chunk tarena_chunk;

struct sb_template {
    tarena_chunk *arena;
    tobj *consts; /* immortal strings, freed with the template */
    tnode *root;
    sb_template_limits limits;
};

void *tarena_alloc(sb_template *t, size_t size); /* zeroed; NULL on OOM */
void tarena_free(sb_template *t);

sb_status tmpl_parse(sb_template *t, const ttoklist *toks, sb_error *err);

/* ---- evaluation ---------------------------------------------------------- */

/* Internal control-flow signals (sb_status values are <= 0). */
#define TS_BREAK 1
#define TS_CONTINUE 2

typedef struct trender {
    const sb_template *t;
    const sb_template_limits *lim;
    theap heap;
    sb_error *err;
    sb_buf *out;      /* where output goes now (macros and blocks redirect it) */
    tscope *scope;    /* innermost scope */
    tscope *globals;  /* the render's input variables */
    unsigned call_depth;
    unsigned depth;   /* evaluator recursion */
    uint64_t iterations;
    uint64_t steps;
    int64_t now;
} trender;

/* Arguments of a call/filter/test/method: owned references. */
typedef struct targs {
    size_t npos;
    tv *pos;
    size_t nkw;
    const char **kwnames;
    tv *kw;
} targs;

sb_status rt_error(trender *r, const tnode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
sb_status rt_type_error(trender *r, const tnode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
sb_status rt_undefined_error(trender *r, const tnode *n, tv undef);
/* Gives a failure from a lower layer (buffer limit, out of memory, a
 * position-less TypeError) its message and position; returns st. */
sb_status rt_fix(trender *r, const tnode *n, sb_status st);
/* Counts `n` units of work against limits.max_steps. */
sb_status rt_work(trender *r, const tnode *n, uint64_t units);
/* Counts one loop iteration against limits.max_loop_iterations. */
sb_status rt_iteration(trender *r, const tnode *n);
/* Python == and ordering, with the work they do counted as steps and
 * position-less errors given a position. */
sb_status rt_equal(trender *r, const tnode *n, tv a, tv b, bool *eq);
sb_status rt_compare(trender *r, const tnode *n, tv a, tv b, int *cmp, const char *op);

/* Renders a compiled template (tmpl_eval.c); the API in sb_template.c checks arguments. */
sb_status tmpl_render(const sb_template *t, const sb_template_inputs *in, char **out, size_t *out_len, sb_error *err);

sb_status eval_expr(trender *r, const tnode *n, tv *out);
/* Calls any callable value (macro, builtin, bound method, joiner ...). */
sb_status call_value(trender *r, const tnode *n, tv fn, const targs *a, tv *out);
/* Python str(v) as a string value. */
sb_status tv_to_str(trender *r, const tnode *n, tv v, tv *out);
/* A list of the values iteration over v yields (str -> characters, dict -> keys,
 * undefined -> empty). TypeError for non-iterables. */
sb_status tv_iterate(trender *r, const tnode *n, tv v, tlist **out);
/* jinja2 environment getattr / getitem: never fail for missing keys (undefined). */
sb_status tv_getattr(trender *r, const tnode *n, tv obj, const char *name, size_t len, tv *out);
sb_status tv_getitem(trender *r, const tnode *n, tv obj, tv key, tv *out);
/* Python operators; `op` is a top value. */
sb_status tv_binop(trender *r, const tnode *n, int op, tv a, tv b, tv *out);
sb_status tv_contains(trender *r, const tnode *n, tv container, tv item, bool *out);
void targs_free(targs *a);
/* Positional index or keyword argument by name; borrowed, or NULL if absent. */
const tv *arg_get(const targs *a, size_t pos, const char *name);
/* Fails when more than max_pos positional arguments or an unknown keyword was given. */
sb_status arg_check(trender *r, const tnode *n, const targs *a, size_t max_pos, const char *const *names,
                    const char *what);

/* Filters, tests, methods, globals: lookup by name and dispatch. */
typedef sb_status (*tfilter_fn)(trender *r, const tnode *n, tv self, const targs *a, tv *out);
typedef sb_status (*ttest_fn)(trender *r, const tnode *n, tv self, const targs *a, bool *out);
tfilter_fn filter_find(const char *name);
bool test_exists(const char *name);
sb_status apply_filter(trender *r, const tnode *n, const char *name, tv self, const targs *a, tv *out);
sb_status apply_test(trender *r, const tnode *n, const char *name, tv self, const targs *a, bool *out);

int method_find(tv self, const char *name, size_t len); /* method id or -1 */
const char *method_name(int id);
sb_status method_call(trender *r, const tnode *n, tv self, int method, const targs *a, tv *out);

int builtin_find(const char *name); /* builtin id or -1 */
const char *builtin_name(int id);
sb_status builtin_call(trender *r, const tnode *n, int id, const targs *a, tv *out);

/* strftime with English names, used by strftime_now. */
sb_status tmpl_strftime(sb_buf *b, const char *fmt, size_t len, int64_t when, bool utc);

/* Python string helpers shared by filters and methods (tmpl_strings.c). */
sb_status pystr_strip(trender *r, tv s, const tv *chars, bool left, bool right, tv *out);
sb_status pystr_replace(trender *r, const tnode *n, tv s, tv old, tv new_, int64_t count, tv *out);
sb_status pystr_case(trender *r, tv s, int mode, tv *out); /* mode: 0 lower, 1 upper, 2 capitalize, 3 title, 4 swapcase */
sb_status pystr_split(trender *r, const tnode *n, tv s, const tv *sep, int64_t maxsplit, bool from_right, tv *out);
/* `count` code points of s starting at code point `first`, every `step`. */
sb_status pystr_slice(trender *r, tv s, int64_t first, int64_t step, size_t count, tv *out);
/* str.find/rfind over code points [start, end) (already clamped); -1 if absent. */
int64_t pystr_find(tv hay, tv needle, int64_t start, int64_t end, bool from_right);
/* sep.join(items): strict = Python str.join (items must be strings), else
 * jinja2's join filter (str() of each item, optional attribute). */
sb_status pystr_join(trender *r, const tnode *n, tv sep, tv iterable, const tv *attr, bool strict, tv *out);
/* printf-style `fmt % args` (args: a tuple, a dict for %(name)s, or one value). */
sb_status py_format(trender *r, const tnode *n, tv fmt, tv args, tv *out);
/* jinja2's attribute getter: "a.b.0" resolved with getitem per part. */
sb_status attr_path_get(trender *r, const tnode *n, tv obj, tv path, tv *out);

#endif
