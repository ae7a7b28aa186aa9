/*
 * tmpl_parse.c - recursive-descent parser from tokens to the AST, following
 * jinja2's grammar (operator precedence, where filters and tests bind, which
 * tags exist). Nodes and their strings live in the template's arena; string
 * constants are immortal values so renders never copy them.
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_checked.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- arena --------------------------------------------------------------- */

struct tarena_chunk {
    tarena_chunk *next;
    size_t used, cap;
    max_align_t data[];
};

/* Zeroed memory owned by the template (freed by tarena_free). */
void *tarena_alloc(sb_template *t, size_t size) {
    size = (size + 15) & ~(size_t)15;
    tarena_chunk *c = t->arena;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > 16384 ? size : 16384;
        size_t total;
        if (!sb_add_size(sizeof *c, cap, &total))
            return NULL;
        c = sb_malloc(total);
        if (!c)
            return NULL;
        c->next = t->arena;
        c->used = 0;
        c->cap = cap;
        t->arena = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += size;
    memset(p, 0, size);
    return p;
}

/* Frees all arena chunks of a template. */
void tarena_free(sb_template *t) {
    tarena_chunk *c = t->arena;
    while (c) {
        tarena_chunk *next = c->next;
        sb_free(c);
        c = next;
    }
    t->arena = NULL;
}

/* ---- parser state ---------------------------------------------------------- */

typedef struct pending_name {
    const ttok *at; /* NULL: none */
    const char *name;
    bool is_filter;
} pending_name;

typedef struct parser {
    sb_template *t;
    const ttok *toks;
    size_t n, pos;
    sb_error *err;
    unsigned depth, max_depth;
    unsigned loop_depth; /* for break/continue */
    unsigned soft;       /* inside an `if` or `x if c else y`: unknown filters/tests fail only when run */
    pending_name pending; /* an unknown filter/test seen while it was not yet known to be conditional */
} parser;

typedef struct nvec {
    tnode **v;
    uint32_t n, cap;
} nvec;

typedef struct svec {
    const char **v;
    uint32_t n, cap;
} svec;

/* Token stream access: current, lookahead, advance. */
static const ttok *cur(parser *p) { return &p->toks[p->pos < p->n ? p->pos : p->n - 1]; }
static const ttok *peek(parser *p, size_t k) { return &p->toks[p->pos + k < p->n ? p->pos + k : p->n - 1]; }
static const ttok *advance(parser *p) {
    const ttok *t = cur(p);
    if (p->pos < p->n - 1)
        p->pos++;
    return t;
}

/* Token tests. */
static bool tok_is_op(const ttok *t, int op) { return t->type == T_OP && t->op == op; }
static bool tok_is_name(const ttok *t, const char *name) {
    return t->type == T_NAME && t->len == strlen(name) && memcmp(t->s, name, t->len) == 0;
}
/* Tests and conditional skips on the current token. */
static bool is_op(parser *p, int op) { return tok_is_op(cur(p), op); }
static bool is_name(parser *p, const char *name) { return tok_is_name(cur(p), name); }
static bool skip_op(parser *p, int op) {
    if (!is_op(p, op))
        return false;
    advance(p);
    return true;
}
static bool skip_name(parser *p, const char *name) {
    if (!is_name(p, name))
        return false;
    advance(p);
    return true;
}

/* A short description of a token for error messages. */
static void tok_describe(const ttok *t, char *buf, size_t cap) {
    switch (t->type) {
    case T_EOF: snprintf(buf, cap, "end of template"); break;
    case T_TEXT: snprintf(buf, cap, "template data"); break;
    case T_VAR_BEGIN: snprintf(buf, cap, "begin of print statement"); break;
    case T_VAR_END: snprintf(buf, cap, "end of print statement"); break;
    case T_BLOCK_BEGIN: snprintf(buf, cap, "begin of statement block"); break;
    case T_BLOCK_END: snprintf(buf, cap, "end of statement block"); break;
    case T_STRING: snprintf(buf, cap, "string"); break;
    case T_INT: case T_FLOAT: snprintf(buf, cap, "number"); break;
    default: snprintf(buf, cap, "'%.*s'", (int)(t->len < 40 ? t->len : 40), t->s); break;
    }
}

static sb_status perr_at(parser *p, const ttok *t, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A syntax error at token t. */
static sb_status perr_at(parser *p, const ttok *t, const char *fmt, ...) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sb_error_set(p->err, SB_ERR_FORMAT, "template:%u:%u: %s", t->line, t->col, msg);
}

/* An "expected X, got Y" / "unexpected Y" error at the current token. */
static sb_status unexpected(parser *p, const char *expected) {
    char d[64];
    tok_describe(cur(p), d, sizeof d);
    if (expected)
        return perr_at(p, cur(p), "expected %s, got %s", expected, d);
    return perr_at(p, cur(p), "unexpected %s", d);
}

/* An allocation failure while parsing. */
static sb_status nomem(parser *p) { return sb_error_set(p->err, SB_ERR_NOMEM, "template: out of memory"); }

/* Consumes an operator token or fails. */
static sb_status expect_op(parser *p, int op, const char *what) {
    if (!skip_op(p, op))
        return unexpected(p, what);
    return SB_OK;
}

/* Consumes a token of one type or fails. */
static sb_status expect_type(parser *p, int type, const char *what) {
    if (cur(p)->type != type)
        return unexpected(p, what);
    advance(p);
    return SB_OK;
}

/* Counts one level of syntax nesting against limits.max_nesting; callers undo it with
 * p->depth-- (after a failure the parse stops, so the count no longer matters). */
static sb_status enter(parser *p) {
    if (++p->depth > p->max_depth)
        return sb_error_set(p->err, SB_ERR_LIMIT, "template:%u:%u: nested deeper than %u levels", cur(p)->line,
                            cur(p)->col, p->max_depth);
    return SB_OK;
}

/* A zeroed AST node at token at (arena memory). */
static tnode *new_node(parser *p, int kind, const ttok *at) {
    tnode *n = tarena_alloc(p->t, sizeof *n);
    if (n) {
        n->kind = (uint8_t)kind;
        n->line = at->line;
        n->col = at->col;
    }
    return n;
}

/* A NUL-terminated arena copy. */
static char *arena_strndup(parser *p, const char *s, size_t len) {
    char *d = tarena_alloc(p->t, len + 1);
    if (d)
        memcpy(d, s, len);
    return d;
}

/* Names become NUL-terminated arena strings plus an immortal string value. */
static sb_status set_name(parser *p, tnode *n, const char *s, size_t len) {
    if (!(n->name = arena_strndup(p, s, len)))
        return nomem(p);
    if (str_immortal(s, len, &p->t->consts, &n->val))
        return nomem(p);
    return SB_OK;
}

/* Appends to a growable node vector in the arena. */
static sb_status nvec_push(parser *p, nvec *v, tnode *node) {
    if (v->n == v->cap) {
        uint32_t ncap = v->cap ? v->cap * 2 : 4;
        if (ncap < v->cap)
            return sb_error_set(p->err, SB_ERR_LIMIT, "template: too many items");
        tnode **nv = tarena_alloc(p->t, (size_t)ncap * sizeof *nv);
        if (!nv)
            return nomem(p);
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = ncap;
    }
    v->v[v->n++] = node;
    return SB_OK;
}

/* Appends to a growable string vector in the arena. */
static sb_status svec_push(parser *p, svec *v, const char *str) {
    if (v->n == v->cap) {
        uint32_t ncap = v->cap ? v->cap * 2 : 4;
        const char **nv = tarena_alloc(p->t, (size_t)ncap * sizeof *nv);
        if (!nv)
            return nomem(p);
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = ncap;
    }
    v->v[v->n++] = str;
    return SB_OK;
}

/* ---- expressions ----------------------------------------------------------- */

static sb_status parse_expression(parser *p, bool with_condexpr, tnode **out);
static sb_status unknown_name(parser *p, const ttok *at, const char *name, bool is_filter);
static sb_status parse_unary(parser *p, bool with_filter, tnode **out);
static sb_status parse_primary(parser *p, tnode **out);
static sb_status parse_postfix(parser *p, tnode **node);
static sb_status parse_filter(parser *p, tnode **node, bool start_inline);

typedef struct end_rules {
    const char *names[3];
} end_rules;

/* Where an unparenthesized tuple ends (jinja2's is_tuple_end). */
static bool is_tuple_end(parser *p, const end_rules *extra) {
    const ttok *t = cur(p);
    if (t->type == T_VAR_END || t->type == T_BLOCK_END || tok_is_op(t, OP_RPAREN))
        return true;
    if (extra)
        for (int i = 0; i < 3 && extra->names[i]; i++)
            if (tok_is_name(t, extra->names[i]))
                return true;
    return false;
}

/* parse_tuple: an expression or a comma-separated tuple of them. */
static sb_status parse_tuple(parser *p, bool simplified, bool with_condexpr, const end_rules *extra,
                             bool explicit_parens, tnode **out) {
    const ttok *start = cur(p);
    nvec items = {0};
    bool is_tuple = false;
    for (;;) {
        if (items.n) {
            sb_status st = expect_op(p, OP_COMMA, "','");
            if (st)
                return st;
        }
        if (is_tuple_end(p, extra))
            break;
        tnode *e;
        sb_status st = simplified ? parse_primary(p, &e) : parse_expression(p, with_condexpr, &e);
        if (st == SB_OK)
            st = nvec_push(p, &items, e);
        if (st)
            return st;
        if (is_op(p, OP_COMMA))
            is_tuple = true;
        else
            break;
    }
    if (!is_tuple) {
        if (items.n) {
            *out = items.v[0];
            return SB_OK;
        }
        if (!explicit_parens)
            return unexpected(p, "an expression");
    }
    tnode *n = new_node(p, N_TUPLE, start);
    if (!n)
        return nomem(p);
    n->kids = items.v;
    n->nkids = items.n;
    *out = n;
    return SB_OK;
}

/* [a, b, ...] */
static sb_status parse_list(parser *p, tnode **out) {
    tnode *n = new_node(p, N_LIST, cur(p));
    if (!n)
        return nomem(p);
    advance(p);
    nvec items = {0};
    while (!is_op(p, OP_RBRACKET)) {
        if (items.n) {
            sb_status st = expect_op(p, OP_COMMA, "','");
            if (st)
                return st;
            if (is_op(p, OP_RBRACKET))
                break;
        }
        tnode *e;
        sb_status st = parse_expression(p, true, &e);
        if (st == SB_OK)
            st = nvec_push(p, &items, e);
        if (st)
            return st;
    }
    advance(p);
    n->kids = items.v;
    n->nkids = items.n;
    *out = n;
    return SB_OK;
}

/* {k: v, ...} */
static sb_status parse_dict(parser *p, tnode **out) {
    tnode *n = new_node(p, N_DICT, cur(p));
    if (!n)
        return nomem(p);
    advance(p);
    nvec items = {0};
    while (!is_op(p, OP_RBRACE)) {
        if (items.n) {
            sb_status st = expect_op(p, OP_COMMA, "','");
            if (st)
                return st;
            if (is_op(p, OP_RBRACE))
                break;
        }
        tnode *k, *v;
        sb_status st = parse_expression(p, true, &k);
        if (st == SB_OK)
            st = expect_op(p, OP_COLON, "':'");
        if (st == SB_OK)
            st = parse_expression(p, true, &v);
        if (st == SB_OK)
            st = nvec_push(p, &items, k);
        if (st == SB_OK)
            st = nvec_push(p, &items, v);
        if (st)
            return st;
    }
    advance(p);
    n->kids = items.v;
    n->nkids = items.n;
    *out = n;
    return SB_OK;
}

/* Names and constants, literals, parenthesized expressions. */
static sb_status parse_primary(parser *p, tnode **out) {
    const ttok *t = cur(p);
    tnode *n;
    switch (t->type) {
    case T_NAME:
        if (!(n = new_node(p, N_CONST, t)))
            return nomem(p);
        if (tok_is_name(t, "true") || tok_is_name(t, "True"))
            n->val = tv_bool(true);
        else if (tok_is_name(t, "false") || tok_is_name(t, "False"))
            n->val = tv_bool(false);
        else if (tok_is_name(t, "none") || tok_is_name(t, "None"))
            n->val = tv_none();
        else {
            n->kind = N_NAME;
            if (set_name(p, n, t->s, t->len))
                return nomem(p);
        }
        advance(p);
        break;
    case T_STRING: {
        if (!(n = new_node(p, N_CONST, t)))
            return nomem(p);
        sb_buf b;
        sb_buf_init(&b);
        while (cur(p)->type == T_STRING) {
            if (sb_buf_append(&b, cur(p)->s, cur(p)->len)) {
                sb_buf_free(&b);
                return nomem(p);
            }
            advance(p);
        }
        sb_status st = str_immortal(b.data ? b.data : "", b.len, &p->t->consts, &n->val);
        sb_buf_free(&b);
        if (st)
            return nomem(p);
        break;
    }
    case T_INT: case T_FLOAT:
        if (!(n = new_node(p, N_CONST, t)))
            return nomem(p);
        n->val = t->type == T_INT ? tv_int(t->i) : tv_float(t->f);
        advance(p);
        break;
    case T_OP:
        if (t->op == OP_LPAREN) {
            advance(p);
            sb_status st = parse_tuple(p, false, true, NULL, true, &n);
            if (st == SB_OK)
                st = expect_op(p, OP_RPAREN, "')'");
            if (st)
                return st;
            break;
        }
        if (t->op == OP_LBRACKET)
            return parse_list(p, out);
        if (t->op == OP_LBRACE)
            return parse_dict(p, out);
        return unexpected(p, NULL);
    default:
        return unexpected(p, NULL);
    }
    *out = n;
    return SB_OK;
}

/* Call arguments `(a, b, key=value)`; fills the node's kids and kw arrays. */
static sb_status parse_call_args(parser *p, tnode *n) {
    sb_status st = expect_op(p, OP_LPAREN, "'('");
    if (st)
        return st;
    nvec args = {0}, kwvals = {0};
    svec kwnames = {0};
    bool need_comma = false;
    while (!is_op(p, OP_RPAREN)) {
        if (need_comma) {
            if ((st = expect_op(p, OP_COMMA, "','")))
                return st;
            if (is_op(p, OP_RPAREN))
                break;
        }
        if (is_op(p, OP_MUL) || is_op(p, OP_POW))
            return perr_at(p, cur(p), "*args and **kwargs in calls are not supported");
        tnode *e;
        if (cur(p)->type == T_NAME && tok_is_op(peek(p, 1), OP_ASSIGN)) {
            char *key = arena_strndup(p, cur(p)->s, cur(p)->len);
            if (!key)
                return nomem(p);
            advance(p);
            advance(p);
            if ((st = parse_expression(p, true, &e)) || (st = nvec_push(p, &kwvals, e)) ||
                (st = svec_push(p, &kwnames, key)))
                return st;
        } else {
            if (kwvals.n)
                return perr_at(p, cur(p), "positional argument after keyword argument");
            if ((st = parse_expression(p, true, &e)) || (st = nvec_push(p, &args, e)))
                return st;
        }
        need_comma = true;
    }
    advance(p);
    n->kids = args.v;
    n->nkids = args.n;
    n->kwvals = kwvals.v;
    n->kwnames = kwnames.v;
    n->nkw = kwvals.n;
    return SB_OK;
}

/* .name, .0 and [index] / [slice]. */
static sb_status parse_subscript(parser *p, tnode **node) {
    const ttok *t = cur(p);
    if (t->op == OP_DOT) {
        advance(p);
        const ttok *a = cur(p);
        tnode *n;
        if (a->type == T_NAME) {
            if (!(n = new_node(p, N_GETATTR, t)) || set_name(p, n, a->s, a->len))
                return nomem(p);
        } else if (a->type == T_INT) {
            tnode *k = new_node(p, N_CONST, a);
            if (!(n = new_node(p, N_GETITEM, t)) || !k)
                return nomem(p);
            k->val = tv_int(a->i);
            n->b = k;
        } else
            return unexpected(p, "a name or number");
        advance(p);
        n->a = *node;
        *node = n;
        return SB_OK;
    }
    /* '[' subscript ']' */
    advance(p);
    tnode *n = new_node(p, N_GETITEM, t);
    if (!n)
        return nomem(p);
    nvec args = {0};
    sb_status st;
    while (!is_op(p, OP_RBRACKET)) {
        if (args.n && (st = expect_op(p, OP_COMMA, "','")))
            return st;
        tnode *start = NULL, *stop = NULL, *step = NULL;
        const ttok *at = cur(p);
        if (!is_op(p, OP_COLON)) {
            if ((st = parse_expression(p, true, &start)))
                return st;
            if (!is_op(p, OP_COLON)) {
                if ((st = nvec_push(p, &args, start)))
                    return st;
                continue;
            }
        }
        advance(p); /* ':' */
        if (!is_op(p, OP_RBRACKET) && !is_op(p, OP_COMMA) && !is_op(p, OP_COLON) && (st = parse_expression(p, true, &stop)))
            return st;
        if (skip_op(p, OP_COLON) && !is_op(p, OP_RBRACKET) && !is_op(p, OP_COMMA) &&
            (st = parse_expression(p, true, &step)))
            return st;
        tnode *sl = new_node(p, N_SLICE, at);
        if (!sl)
            return nomem(p);
        sl->b = start;
        sl->c = stop;
        sl->d = step;
        if ((st = nvec_push(p, &args, sl)))
            return st;
    }
    advance(p);
    if (args.n == 0)
        return perr_at(p, t, "expected a subscript");
    if (args.n == 1 && args.v[0]->kind == N_SLICE) {
        tnode *sl = args.v[0];
        sl->a = *node;
        *node = sl;
        return SB_OK;
    }
    if (args.n == 1)
        n->b = args.v[0];
    else {
        /* x[a:b, c]: a tuple holding a slice object, which no value here
         * accepts as a key (jinja2 gives undefined): stand in an undefined */
        for (uint32_t i = 0; i < args.n; i++)
            if (args.v[i]->kind == N_SLICE) {
                args.v[i]->kind = N_CONST;
                args.v[i]->val = tv_undef(NULL);
            }
        tnode *tup = new_node(p, N_TUPLE, t);
        if (!tup)
            return nomem(p);
        tup->kids = args.v;
        tup->nkids = args.n;
        n->b = tup;
    }
    n->a = *node;
    *node = n;
    return SB_OK;
}

/* A call on the node parsed so far. */
static sb_status parse_call(parser *p, tnode **node) {
    tnode *n = new_node(p, N_CALL, cur(p));
    if (!n)
        return nomem(p);
    sb_status st = parse_call_args(p, n);
    if (st)
        return st;
    n->a = *node;
    *node = n;
    return SB_OK;
}

/* Attribute access, subscripts and calls after a primary. */
static sb_status parse_postfix(parser *p, tnode **node) {
    for (;;) {
        sb_status st;
        if (is_op(p, OP_DOT) || is_op(p, OP_LBRACKET))
            st = parse_subscript(p, node);
        else if (is_op(p, OP_LPAREN))
            st = parse_call(p, node);
        else
            return SB_OK;
        if (st)
            return st;
    }
}

/* A dotted name after `|` or `is`. */
static sb_status parse_dotted_name(parser *p, tnode *n) {
    if (cur(p)->type != T_NAME)
        return unexpected(p, "a name");
    const char *start = cur(p)->s;
    const char *end = start + cur(p)->len;
    advance(p);
    while (is_op(p, OP_DOT) && peek(p, 1)->type == T_NAME) {
        advance(p);
        end = cur(p)->s + cur(p)->len;
        advance(p);
    }
    n->name = arena_strndup(p, start, (size_t)(end - start));
    return n->name ? SB_OK : nomem(p);
}

/* `| name(args)` chains; node may be NULL (filter blocks). */
static sb_status parse_filter(parser *p, tnode **node, bool start_inline) {
    while (is_op(p, OP_PIPE) || start_inline) {
        const ttok *at = cur(p);
        if (!start_inline)
            advance(p);
        start_inline = false;
        tnode *n = new_node(p, N_FILTER, at);
        if (!n)
            return nomem(p);
        sb_status st = parse_dotted_name(p, n);
        if (st == SB_OK && !filter_find(n->name))
            st = unknown_name(p, at, n->name, true);
        if (st == SB_OK && is_op(p, OP_LPAREN))
            st = parse_call_args(p, n);
        if (st)
            return st;
        n->a = *node;
        *node = n;
    }
    return SB_OK;
}

/* `is [not] name [arg]`. */
static sb_status parse_test(parser *p, tnode **node) {
    tnode *n = new_node(p, N_TEST, cur(p));
    if (!n)
        return nomem(p);
    advance(p); /* 'is' */
    if (skip_name(p, "not"))
        n->flags |= 1;
    const ttok *name_tok = cur(p);
    sb_status st = parse_dotted_name(p, n);
    if (st == SB_OK && !test_exists(n->name))
        st = unknown_name(p, name_tok, n->name, false);
    if (st)
        return st;
    const ttok *t = cur(p);
    if (tok_is_op(t, OP_LPAREN)) {
        if ((st = parse_call_args(p, n)))
            return st;
    } else if ((t->type == T_NAME || t->type == T_STRING || t->type == T_INT || t->type == T_FLOAT ||
                tok_is_op(t, OP_LPAREN) || tok_is_op(t, OP_LBRACKET) || tok_is_op(t, OP_LBRACE)) &&
               !tok_is_name(t, "else") && !tok_is_name(t, "or") && !tok_is_name(t, "and")) {
        if (tok_is_name(t, "is"))
            return perr_at(p, t, "you cannot chain multiple tests with is");
        tnode *arg;
        if ((st = parse_primary(p, &arg)) || (st = parse_postfix(p, &arg)))
            return st;
        if (!(n->kids = tarena_alloc(p->t, sizeof(tnode *))))
            return nomem(p);
        n->kids[0] = arg;
        n->nkids = 1;
    }
    n->a = *node;
    *node = n;
    return SB_OK;
}

/* Filters, tests and calls after a unary expression. */
static sb_status parse_filter_expr(parser *p, tnode **node) {
    for (;;) {
        sb_status st;
        if (is_op(p, OP_PIPE))
            st = parse_filter(p, node, false);
        else if (is_name(p, "is"))
            st = parse_test(p, node);
        else if (is_op(p, OP_LPAREN))
            st = parse_call(p, node);
        else
            return SB_OK;
        if (st)
            return st;
    }
}

/* Unary - and +, then postfix, then filters/tests (when with_filter). */
static sb_status parse_unary(parser *p, bool with_filter, tnode **out) {
    sb_status st = enter(p);
    if (st)
        return st;
    const ttok *t = cur(p);
    tnode *n;
    if (tok_is_op(t, OP_SUB) || tok_is_op(t, OP_ADD)) {
        advance(p);
        if (!(n = new_node(p, N_UNARY, t)))
            return nomem(p);
        n->op = t->op == OP_SUB ? OP_NEG : OP_POS;
        st = parse_unary(p, false, &n->a);
    } else
        st = parse_primary(p, &n);
    if (st == SB_OK)
        st = parse_postfix(p, &n);
    if (st == SB_OK && with_filter)
        st = parse_filter_expr(p, &n);
    p->depth--;
    *out = n;
    return st;
}

/* A binary (or unary, b = NULL) operator node. */
static sb_status binop_node(parser *p, const ttok *at, int kind, int op, tnode *a, tnode *b, tnode **out) {
    tnode *n = new_node(p, kind, at);
    if (!n)
        return nomem(p);
    n->op = (uint8_t)op;
    n->a = a;
    n->b = b;
    *out = n;
    return SB_OK;
}

/* Binary operator levels, lowest binding last: ** * / // % ~ + -. */
static sb_status parse_pow(parser *p, tnode **out) {
    sb_status st = parse_unary(p, true, out);
    while (st == SB_OK && is_op(p, OP_POW)) {
        const ttok *at = advance(p);
        tnode *r;
        if ((st = parse_unary(p, true, &r)) == SB_OK)
            st = binop_node(p, at, N_BINOP, OP_POW, *out, r, out);
    }
    return st;
}

static sb_status parse_math2(parser *p, tnode **out) {
    sb_status st = parse_pow(p, out);
    while (st == SB_OK && (is_op(p, OP_MUL) || is_op(p, OP_DIV) || is_op(p, OP_FLOORDIV) || is_op(p, OP_MOD))) {
        const ttok *at = advance(p);
        tnode *r;
        if ((st = parse_pow(p, &r)) == SB_OK)
            st = binop_node(p, at, N_BINOP, at->op, *out, r, out);
    }
    return st;
}

static sb_status parse_concat(parser *p, tnode **out) {
    sb_status st = parse_math2(p, out);
    while (st == SB_OK && is_op(p, OP_TILDE)) {
        const ttok *at = advance(p);
        tnode *r;
        if ((st = parse_math2(p, &r)) == SB_OK)
            st = binop_node(p, at, N_BINOP, OP_TILDE, *out, r, out);
    }
    return st;
}

static sb_status parse_math1(parser *p, tnode **out) {
    sb_status st = parse_concat(p, out);
    while (st == SB_OK && (is_op(p, OP_ADD) || is_op(p, OP_SUB))) {
        const ttok *at = advance(p);
        tnode *r;
        if ((st = parse_concat(p, &r)) == SB_OK)
            st = binop_node(p, at, N_BINOP, at->op, *out, r, out);
    }
    return st;
}

/* Comparison chains with == != < <= > >= in, not in. */
static sb_status parse_compare(parser *p, tnode **out) {
    const ttok *start = cur(p);
    tnode *first;
    sb_status st = parse_math1(p, &first);
    if (st)
        return st;
    nvec operands = {0};
    uint8_t ops[64];
    for (;;) {
        const ttok *t = cur(p);
        int op;
        if (t->type == T_OP && (t->op == OP_EQ || t->op == OP_NE || t->op == OP_LT || t->op == OP_LE ||
                                t->op == OP_GT || t->op == OP_GE)) {
            op = t->op;
            advance(p);
        } else if (tok_is_name(t, "in")) {
            op = OP_IN;
            advance(p);
        } else if (tok_is_name(t, "not") && tok_is_name(peek(p, 1), "in")) {
            op = OP_NOTIN;
            advance(p);
            advance(p);
        } else
            break;
        if (operands.n >= sizeof ops)
            return perr_at(p, t, "too many chained comparisons");
        tnode *r;
        if ((st = parse_math1(p, &r)) || (st = nvec_push(p, &operands, r)))
            return st;
        ops[operands.n - 1] = (uint8_t)op;
    }
    if (operands.n == 0) {
        *out = first;
        return SB_OK;
    }
    tnode *n = new_node(p, N_COMPARE, start);
    if (!n || !(n->ops = tarena_alloc(p->t, operands.n)))
        return nomem(p);
    memcpy(n->ops, ops, operands.n);
    n->a = first;
    n->kids = operands.v;
    n->nkids = operands.n;
    *out = n;
    return SB_OK;
}

/* not (right-recursive). */
static sb_status parse_not(parser *p, tnode **out) {
    if (!is_name(p, "not"))
        return parse_compare(p, out);
    const ttok *at = advance(p);
    sb_status st = enter(p);
    tnode *inner = NULL;
    if (st == SB_OK)
        st = parse_not(p, &inner);
    p->depth--;
    if (st == SB_OK)
        st = binop_node(p, at, N_UNARY, OP_NOT, inner, NULL, out);
    return st;
}

/* and / or. */
static sb_status parse_and(parser *p, tnode **out) {
    sb_status st = parse_not(p, out);
    while (st == SB_OK && is_name(p, "and")) {
        const ttok *at = advance(p);
        tnode *r;
        if ((st = parse_not(p, &r)) == SB_OK)
            st = binop_node(p, at, N_AND, OP_AND, *out, r, out);
    }
    return st;
}

static sb_status parse_or(parser *p, tnode **out) {
    sb_status st = parse_and(p, out);
    while (st == SB_OK && is_name(p, "or")) {
        const ttok *at = advance(p);
        tnode *r;
        if ((st = parse_and(p, &r)) == SB_OK)
            st = binop_node(p, at, N_OR, OP_OR, *out, r, out);
    }
    return st;
}

/* jinja2 checks filter and test names at compile time, except inside an
 * `if` statement or a conditional expression, where an unknown one fails
 * only if it runs. The `then` part of `a if c else b` is parsed before the
 * `if` is seen, so unknown names found there wait in p->pending until the
 * parser knows whether the expression was conditional. */
static sb_status unknown_name(parser *p, const ttok *at, const char *name, bool is_filter) {
    if (!p->soft)
        return perr_at(p, at, "no %s named '%s'", is_filter ? "filter" : "test", name);
    if (!p->pending.at) {
        p->pending.at = at;
        p->pending.name = name;
        p->pending.is_filter = is_filter;
    }
    return SB_OK;
}

/* `a if c else b` (else optional), right-associative in the else part. */
static sb_status parse_condexpr(parser *p, tnode **out) {
    pending_name saved = p->pending;
    p->pending.at = NULL;
    p->soft++;
    sb_status st = parse_or(p, out);
    p->soft--;
    pending_name mine = p->pending;
    p->pending = saved;
    if (st)
        return st;
    if (!is_name(p, "if"))
        return mine.at ? unknown_name(p, mine.at, mine.name, mine.is_filter) : SB_OK;
    while (st == SB_OK && is_name(p, "if")) {
        const ttok *at = advance(p);
        tnode *n = new_node(p, N_CONDEXPR, at);
        if (!n)
            return nomem(p);
        n->b = *out;
        p->soft++;
        st = parse_or(p, &n->a);
        if (st == SB_OK && skip_name(p, "else")) {
            if ((st = enter(p)) == SB_OK)
                st = parse_condexpr(p, &n->c);
            p->depth--;
        }
        p->soft--;
        if (st)
            return st;
        *out = n;
    }
    return st;
}

/* An expression, with or without the conditional form. */
static sb_status parse_expression(parser *p, bool with_condexpr, tnode **out) {
    return with_condexpr ? parse_condexpr(p, out) : parse_or(p, out);
}

/* ---- statements ------------------------------------------------------------ */

static sb_status subparse(parser *p, const end_rules *end, tnode **out);

/* Checks a parsed target: a name, a tuple of names, or ns.attr. */
static sb_status check_target(parser *p, tnode *t) {
    if (t->kind == N_NAME || t->kind == N_NSREF)
        return SB_OK;
    if (t->kind == N_TUPLE) {
        for (uint32_t i = 0; i < t->nkids; i++)
            if (t->kids[i]->kind != N_NAME)
                return perr_at(p, cur(p), "can't assign to this expression");
        return SB_OK;
    }
    return sb_error_set(p->err, SB_ERR_FORMAT, "template:%u:%u: can't assign to this expression", t->line, t->col);
}

/* A set/for target: a name, a tuple of names, or ns.attr. */
static sb_status parse_assign_target(parser *p, bool with_tuple, bool with_namespace, const end_rules *extra,
                                     tnode **out) {
    const ttok *t = cur(p);
    sb_status st;
    if (with_namespace && t->type == T_NAME && tok_is_op(peek(p, 1), OP_DOT) && peek(p, 2)->type == T_NAME) {
        tnode *n = new_node(p, N_NSREF, t);
        if (!n || !(n->name = arena_strndup(p, t->s, t->len)))
            return nomem(p);
        advance(p);
        advance(p);
        if (str_immortal(cur(p)->s, cur(p)->len, &p->t->consts, &n->val))
            return nomem(p);
        advance(p);
        *out = n;
        return SB_OK;
    }
    if (with_tuple)
        st = parse_tuple(p, true, true, extra, false, out);
    else {
        if (t->type != T_NAME)
            return unexpected(p, "a name");
        st = parse_primary(p, out);
    }
    if (st)
        return st;
    return check_target(p, *out);
}

/* Block end, then a body up to one of the end tags (left current). */
static sb_status parse_statements(parser *p, const end_rules *end, bool drop_needle, tnode **out) {
    skip_op(p, OP_COLON);
    sb_status st = expect_type(p, T_BLOCK_END, "end of statement block");
    if (st == SB_OK)
        st = subparse(p, end, out);
    if (st)
        return st;
    if (cur(p)->type == T_EOF)
        return perr_at(p, cur(p), "unexpected end of template: expected '%s'", end->names[0]);
    if (drop_needle)
        advance(p);
    return SB_OK;
}

/* Macro / call-block parameters: (a, b=default, ...). */
static sb_status parse_signature(parser *p, tnode *n) {
    sb_status st = expect_op(p, OP_LPAREN, "'('");
    if (st)
        return st;
    nvec params = {0}, defs = {0};
    bool have_default = false;
    while (!is_op(p, OP_RPAREN)) {
        if (params.n && (st = expect_op(p, OP_COMMA, "','")))
            return st;
        if (is_op(p, OP_RPAREN))
            break;
        tnode *param, *def = NULL;
        if ((st = parse_assign_target(p, false, false, NULL, &param)))
            return st;
        if (skip_op(p, OP_ASSIGN)) {
            if ((st = parse_expression(p, true, &def)))
                return st;
            have_default = true;
        } else if (have_default)
            return perr_at(p, cur(p), "non-default argument follows default argument");
        if ((st = nvec_push(p, &params, param)) || (st = nvec_push(p, &defs, def)))
            return st;
    }
    advance(p);
    n->kids = params.v;
    n->defs = defs.v;
    n->nkids = params.n;
    return SB_OK;
}

/* {% for target in iter [if cond] %} ... [{% else %} ...] {% endfor %} */
static sb_status parse_for(parser *p, const ttok *at, tnode **out) {
    tnode *n = new_node(p, N_FOR, at);
    if (!n)
        return nomem(p);
    end_rules in_rule = {{"in"}}, rec_rule = {{"recursive"}};
    sb_status st = parse_assign_target(p, true, false, &in_rule, &n->a);
    if (st)
        return st;
    if (!skip_name(p, "in"))
        return unexpected(p, "'in'");
    if ((st = parse_tuple(p, false, false, &rec_rule, false, &n->b)))
        return st;
    if (skip_name(p, "if") && (st = parse_expression(p, true, &n->e)))
        return st;
    if (skip_name(p, "recursive"))
        return perr_at(p, at, "recursive for loops are not supported");
    end_rules body_end = {{"endfor", "else"}}, else_end = {{"endfor"}};
    unsigned soft = p->soft;
    p->soft = 0; /* a loop body is a new frame in jinja2 */
    p->loop_depth++;
    st = parse_statements(p, &body_end, false, &n->c);
    p->loop_depth--;
    if (st == SB_OK && tok_is_name(advance(p), "else"))
        st = parse_statements(p, &else_end, true, &n->d);
    p->soft = soft;
    if (st)
        return st;
    *out = n;
    return SB_OK;
}

/* The if statement, with its elif/else chain; all of it is a "soft" frame
 * (unknown filters and tests fail only if they run). */
static sb_status parse_if_chain(parser *p, tnode *n) {
    end_rules body_end = {{"elif", "else", "endif"}}, else_end = {{"endif"}};
    for (;;) {
        sb_status st = parse_tuple(p, false, false, NULL, false, &n->a);
        if (st == SB_OK)
            st = parse_statements(p, &body_end, false, &n->b);
        if (st)
            return st;
        const ttok *t = advance(p);
        if (tok_is_name(t, "elif")) {
            tnode *e = new_node(p, N_IF, t);
            if (!e)
                return nomem(p);
            n->c = e;
            n = e;
            continue;
        }
        if (tok_is_name(t, "else"))
            return parse_statements(p, &else_end, true, &n->c);
        return SB_OK;
    }
}

/* {% if %} statements. */
static sb_status parse_if(parser *p, const ttok *at, tnode **out) {
    tnode *n = new_node(p, N_IF, at);
    if (!n)
        return nomem(p);
    *out = n;
    p->soft++;
    sb_status st = parse_if_chain(p, n);
    p->soft--;
    return st;
}

/* {% set x = v %} and the block form {% set x [| filters] %}...{% endset %}. */
static sb_status parse_set(parser *p, const ttok *at, tnode **out) {
    tnode *target;
    sb_status st = parse_assign_target(p, true, true, NULL, &target);
    if (st)
        return st;
    if (skip_op(p, OP_ASSIGN)) {
        tnode *n = new_node(p, N_SET, at);
        if (!n)
            return nomem(p);
        n->a = target;
        *out = n;
        return parse_tuple(p, false, true, NULL, false, &n->b);
    }
    tnode *n = new_node(p, N_SETBLOCK, at);
    if (!n)
        return nomem(p);
    n->a = target;
    if (is_op(p, OP_PIPE) && (st = parse_filter(p, &n->c, false)))
        return st;
    end_rules end = {{"endset"}};
    *out = n;
    return parse_statements(p, &end, true, &n->b);
}

#define MACRO_SCAN_DEPTH 2000

/* Which of varargs / kwargs / caller a macro body refers to (jinja2 only
 * accepts extra arguments when the body uses them). Sets MACRO_USES_* bits. */
static void scan_macro_names(const tnode *n, uint8_t *flags, unsigned depth_left) {
    /* Trees deeper than the evaluator can run are cut off (their names
     * cannot matter: evaluating them fails first). */
    if (!n || depth_left == 0)
        return;
    depth_left--;
    if (n->kind == N_NAME) {
        if (!strcmp(n->name, "varargs"))
            *flags |= MACRO_USES_VARARGS;
        else if (!strcmp(n->name, "kwargs"))
            *flags |= MACRO_USES_KWARGS;
        else if (!strcmp(n->name, "caller"))
            *flags |= MACRO_USES_CALLER;
    }
    scan_macro_names(n->a, flags, depth_left);
    scan_macro_names(n->b, flags, depth_left);
    scan_macro_names(n->c, flags, depth_left);
    scan_macro_names(n->d, flags, depth_left);
    scan_macro_names(n->e, flags, depth_left);
    for (uint32_t i = 0; i < n->nkids; i++) {
        scan_macro_names(n->kids[i], flags, depth_left);
        if (n->defs)
            scan_macro_names(n->defs[i], flags, depth_left);
    }
    for (uint32_t i = 0; i < n->nkw; i++)
        scan_macro_names(n->kwvals[i], flags, depth_left);
}

/* {% macro name(params) %} ... {% endmacro %} */
static sb_status parse_macro(parser *p, const ttok *at, tnode **out) {
    tnode *n = new_node(p, N_MACRO, at);
    if (!n)
        return nomem(p);
    if (cur(p)->type != T_NAME)
        return unexpected(p, "a macro name");
    if (set_name(p, n, cur(p)->s, cur(p)->len))
        return nomem(p);
    advance(p);
    sb_status st = parse_signature(p, n);
    if (st)
        return st;
    end_rules end = {{"endmacro"}};
    unsigned saved = p->loop_depth, soft = p->soft;
    p->loop_depth = 0;
    p->soft = 0;
    st = parse_statements(p, &end, true, &n->b);
    p->loop_depth = saved;
    p->soft = soft;
    if (st == SB_OK) {
        scan_macro_names(n->b, &n->flags, MACRO_SCAN_DEPTH);
        for (uint32_t i = 0; i < n->nkids; i++)
            scan_macro_names(n->defs[i], &n->flags, MACRO_SCAN_DEPTH);
    }
    *out = n;
    return st;
}

/* {% call [(params)] macro(args) %} ... {% endcall %} */
static sb_status parse_call_block(parser *p, const ttok *at, tnode **out) {
    tnode *n = new_node(p, N_CALLBLOCK, at);
    if (!n)
        return nomem(p);
    sb_status st;
    if (is_op(p, OP_LPAREN) && (st = parse_signature(p, n)))
        return st;
    if ((st = parse_expression(p, true, &n->a)))
        return st;
    if (n->a->kind != N_CALL)
        return perr_at(p, at, "expected a call");
    end_rules end = {{"endcall"}};
    unsigned saved = p->loop_depth, soft = p->soft;
    p->loop_depth = 0;
    p->soft = 0;
    st = parse_statements(p, &end, true, &n->b);
    p->loop_depth = saved;
    p->soft = soft;
    if (st == SB_OK)
        scan_macro_names(n->b, &n->flags, MACRO_SCAN_DEPTH);
    *out = n;
    return st;
}

/* {% filter f | g %} ... {% endfilter %} */
static sb_status parse_filter_block(parser *p, const ttok *at, tnode **out) {
    tnode *n = new_node(p, N_FILTERBLOCK, at);
    if (!n)
        return nomem(p);
    sb_status st = parse_filter(p, &n->a, true);
    if (st)
        return st;
    end_rules end = {{"endfilter"}};
    *out = n;
    return parse_statements(p, &end, true, &n->b);
}

/* {% with a = 1, ... %} ... {% endwith %} */
static sb_status parse_with(parser *p, const ttok *at, tnode **out) {
    tnode *n = new_node(p, N_WITH, at);
    if (!n)
        return nomem(p);
    nvec targets = {0}, values = {0};
    sb_status st;
    while (cur(p)->type != T_BLOCK_END) {
        if (targets.n && (st = expect_op(p, OP_COMMA, "','")))
            return st;
        tnode *t, *v;
        if ((st = parse_assign_target(p, true, false, NULL, &t)) || (st = expect_op(p, OP_ASSIGN, "'='")) ||
            (st = parse_expression(p, true, &v)) || (st = nvec_push(p, &targets, t)) ||
            (st = nvec_push(p, &values, v)))
            return st;
    }
    n->kids = targets.v;
    n->defs = values.v;
    n->nkids = targets.n;
    end_rules end = {{"endwith"}};
    *out = n;
    return parse_statements(p, &end, true, &n->b);
}

/* A body-only block (`generation`, `block`): its content renders in place. */
static sb_status parse_plain_block(parser *p, const char *end_name, tnode **out) {
    if (cur(p)->type == T_NAME && strcmp(end_name, "endblock") == 0)
        advance(p); /* block name */
    end_rules end = {{end_name}};
    sb_status st = parse_statements(p, &end, true, out);
    if (st == SB_OK && strcmp(end_name, "endblock") == 0 && cur(p)->type == T_NAME)
        advance(p);
    return st;
}

/* Dispatches a {% tag %} by name. */
static sb_status parse_statement(parser *p, tnode **out) {
    const ttok *t = cur(p);
    if (t->type != T_NAME)
        return unexpected(p, "a tag name");
    sb_status st = enter(p);
    if (st)
        return st;
    advance(p);
    if (tok_is_name(t, "for"))
        st = parse_for(p, t, out);
    else if (tok_is_name(t, "if"))
        st = parse_if(p, t, out);
    else if (tok_is_name(t, "set"))
        st = parse_set(p, t, out);
    else if (tok_is_name(t, "macro"))
        st = parse_macro(p, t, out);
    else if (tok_is_name(t, "call"))
        st = parse_call_block(p, t, out);
    else if (tok_is_name(t, "filter"))
        st = parse_filter_block(p, t, out);
    else if (tok_is_name(t, "with"))
        st = parse_with(p, t, out);
    else if (tok_is_name(t, "generation"))
        st = parse_plain_block(p, "endgeneration", out);
    else if (tok_is_name(t, "block"))
        st = parse_plain_block(p, "endblock", out);
    else if (tok_is_name(t, "break") || tok_is_name(t, "continue")) {
        if (!p->loop_depth)
            st = perr_at(p, t, "'%.*s' outside of a loop", (int)t->len, t->s);
        else if (!(*out = new_node(p, tok_is_name(t, "break") ? N_BREAK : N_CONTINUE, t)))
            st = nomem(p);
    } else if (tok_is_name(t, "include") || tok_is_name(t, "extends") || tok_is_name(t, "import") ||
               tok_is_name(t, "from"))
        st = perr_at(p, t, "tag '%.*s' is not allowed in a chat template", (int)t->len, t->s);
    else
        st = perr_at(p, t, "unknown tag '%.*s'", (int)(t->len < 40 ? t->len : 40), t->s);
    p->depth--;
    return st;
}

/* Parses a sequence of text, prints and statements until one of the end
 * tags (the current token is then that tag's name) or the end of input. */
static sb_status subparse(parser *p, const end_rules *end, tnode **out) {
    tnode *body = new_node(p, N_BODY, cur(p));
    if (!body)
        return nomem(p);
    nvec kids = {0};
    sb_status st = SB_OK;
    for (;;) {
        const ttok *t = cur(p);
        tnode *n = NULL;
        if (t->type == T_EOF)
            break;
        if (t->type == T_TEXT) {
            if (!(n = new_node(p, N_TEXT, t)) || str_immortal(t->s, t->len, &p->t->consts, &n->val))
                return nomem(p);
            advance(p);
        } else if (t->type == T_VAR_BEGIN) {
            advance(p);
            if (!(n = new_node(p, N_OUTPUT, t)))
                return nomem(p);
            if ((st = parse_tuple(p, false, true, NULL, false, &n->a)) ||
                (st = expect_type(p, T_VAR_END, "end of print statement")))
                return st;
        } else if (t->type == T_BLOCK_BEGIN) {
            advance(p);
            if (end) {
                bool at_end = false;
                for (int i = 0; i < 3 && end->names[i]; i++)
                    at_end |= is_name(p, end->names[i]);
                if (at_end)
                    break;
            }
            if ((st = parse_statement(p, &n)) || (st = expect_type(p, T_BLOCK_END, "end of statement block")))
                return st;
        } else
            return unexpected(p, NULL);
        if ((st = nvec_push(p, &kids, n)))
            return st;
    }
    body->kids = kids.v;
    body->nkids = kids.n;
    *out = body;
    return SB_OK;
}

/* Parses the token list into t->root. */
sb_status tmpl_parse(sb_template *t, const ttoklist *toks, sb_error *err) {
    parser p = {.t = t, .toks = toks->toks, .n = toks->n, .err = err, .max_depth = t->limits.max_nesting};
    sb_status st = subparse(&p, NULL, &t->root);
    if (st == SB_OK && cur(&p)->type != T_EOF)
        st = unexpected(&p, NULL);
    return st;
}
