/*
 * tmpl_lex.c - turns template source into tokens.
 *
 * Outside tags the source is text. `{{ ... }}` (print), `{% ... %}` (block)
 * and `{# ... #}` (comment) are tags; `{% raw %}...{% endraw %}` is text.
 * Whitespace control follows jinja2 with trim_blocks and lstrip_blocks on
 * (the Hugging Face setup):
 *   - `{%-`, `{{-`, `{#-` remove all whitespace before the tag; `-%}`, `-}}`,
 *     `-#}` remove all whitespace after it;
 *   - trim_blocks: a newline right after `%}` or `#}` is removed (`+%}` keeps it);
 *   - lstrip_blocks: spaces and tabs between the start of a line and `{%` or
 *     `{#` are removed (`{%+` keeps them).
 * Inside tags, `}}` / `%}` only end the tag when brackets are balanced.
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_checked.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct lexer {
    const char *s;
    size_t n, pos;
    uint32_t line;     /* line of `mark` */
    size_t line_start; /* offset where that line starts */
    size_t mark;       /* position line/line_start describe */
    bool line_starting; /* the previous match ended with a newline (jinja2's lstrip rule) */
    ttoklist *out;
    sb_error *err;
    unsigned max_nesting;
} lexer;

/* Moves the line bookkeeping forward to offset `to`. */
static void lx_track(lexer *lx, size_t to) {
    for (size_t i = lx->mark; i < to && i < lx->n; i++)
        if (lx->s[i] == '\n') {
            lx->line++;
            lx->line_start = i + 1;
        }
    if (to > lx->mark)
        lx->mark = to;
}

static sb_status lx_error(lexer *lx, size_t at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A syntax error at byte offset `at`, with its line and column. */
static sb_status lx_error(lexer *lx, size_t at, const char *fmt, ...) {
    lx_track(lx, at);
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sb_error_set(lx->err, SB_ERR_FORMAT, "template:%u:%zu: %s", lx->line, at - lx->line_start + 1, msg);
}

/* An allocation failure while lexing. */
static sb_status lx_nomem(lexer *lx) { return sb_error_set(lx->err, SB_ERR_NOMEM, "template: out of memory"); }

/* Appends a token at offset `at` (the token list owns nothing it points to). */
static sb_status lx_emit(lexer *lx, uint8_t type, uint8_t op, size_t at, const char *s, size_t len, ttok **made) {
    ttoklist *l = lx->out;
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        ttok *t = sb_reallocarray(l->toks, ncap, sizeof *t);
        if (!t)
            return lx_nomem(lx);
        l->toks = t;
        l->cap = ncap;
    }
    lx_track(lx, at);
    ttok *t = &l->toks[l->n++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->op = op;
    t->line = lx->line;
    t->col = (uint32_t)(at - lx->line_start + 1);
    t->s = s;
    t->len = len;
    if (made)
        *made = t;
    return SB_OK;
}

/* Python whitespace at s[i] (any code point uc_isspace accepts); its byte length or 0. */
static size_t ws_len(const char *s, size_t n, size_t i) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80)
        return uc_isspace(c) ? 1 : 0;
    size_t j = i;
    uint32_t cp = uc_next(s, n, &j);
    return uc_isspace(cp) ? j - i : 0;
}

/* End of `s[start..end)` with trailing Python whitespace removed (str.rstrip). */
static size_t rstrip_end(const char *s, size_t start, size_t end) {
    while (end > start) {
        size_t k = end - 1;
        while (k > start && ((unsigned char)s[k] & 0xC0) == 0x80)
            k--;
        size_t j = k;
        uint32_t cp = uc_next(s, end, &j);
        if (!uc_isspace(cp))
            break;
        end = k;
    }
    return end;
}

/* The first non-whitespace offset at or after i. */
static size_t skip_ws(const lexer *lx, size_t i) {
    size_t w;
    while (i < lx->n && (w = ws_len(lx->s, lx->n, i)) > 0)
        i += w;
    return i;
}

/* Where the text before a tag ends once the tag's whitespace control is
 * applied: `-` strips all whitespace; otherwise lstrip_blocks for block and
 * comment tags strips indentation when the tag starts its line. */
static size_t text_end(const lexer *lx, size_t start, size_t tag, char sign, bool lstrip_applies) {
    if (sign == '-')
        return rstrip_end(lx->s, start, tag);
    if (sign == '+' || !lstrip_applies)
        return tag;
    size_t l = tag;
    while (l > start && lx->s[l - 1] != '\n')
        l--;
    bool at_line_start = l > start || lx->line_starting;
    if (!at_line_start)
        return tag;
    for (size_t i = l; i < tag; i++)
        if (lx->s[i] != ' ' && lx->s[i] != '\t')
            return tag;
    return l;
}

/* A text token for src[start, end), if not empty. */
static sb_status emit_text(lexer *lx, size_t start, size_t end) {
    if (end <= start)
        return SB_OK;
    return lx_emit(lx, T_TEXT, 0, start, lx->s + start, end - start, NULL);
}

/* Matches `{%[-+]?\s*raw\s*(-%}\s*|%})` at p; returns the end or 0. */
static size_t match_raw_begin(const lexer *lx, size_t p, bool *strip_after) {
    size_t i = p + 2;
    if (i < lx->n && (lx->s[i] == '-' || lx->s[i] == '+'))
        i++;
    i = skip_ws(lx, i);
    if (lx->n - i < 3 || memcmp(lx->s + i, "raw", 3) != 0)
        return 0;
    i = skip_ws(lx, i + 3);
    if (lx->n - i >= 3 && memcmp(lx->s + i, "-%}", 3) == 0) {
        *strip_after = true;
        return skip_ws(lx, i + 3);
    }
    if (lx->n - i >= 2 && memcmp(lx->s + i, "%}", 2) == 0) {
        *strip_after = false;
        return i + 2;
    }
    return 0;
}

/* Matches `{%[-+]?\s*endraw\s*(+%}|-%}\s*|%}\n?)` at p; returns the end or 0. */
static size_t match_raw_end(const lexer *lx, size_t p, char *sign) {
    if (lx->n - p < 2 || lx->s[p] != '{' || lx->s[p + 1] != '%')
        return 0;
    size_t i = p + 2;
    *sign = 0;
    if (i < lx->n && (lx->s[i] == '-' || lx->s[i] == '+'))
        *sign = lx->s[i++];
    i = skip_ws(lx, i);
    if (lx->n - i < 6 || memcmp(lx->s + i, "endraw", 6) != 0)
        return 0;
    i = skip_ws(lx, i + 6);
    if (lx->n - i >= 3 && memcmp(lx->s + i, "+%}", 3) == 0)
        return i + 3;
    if (lx->n - i >= 3 && memcmp(lx->s + i, "-%}", 3) == 0)
        return skip_ws(lx, i + 3);
    if (lx->n - i >= 2 && memcmp(lx->s + i, "%}", 2) == 0) {
        i += 2;
        return i < lx->n && lx->s[i] == '\n' ? i + 1 : i;
    }
    return 0;
}

/* jinja2's line_starting: whether the last match ended a line. */
static void set_line_starting(lexer *lx, size_t match_start, size_t match_end) {
    lx->line_starting = match_end > match_start && lx->s[match_end - 1] == '\n';
}

/* `{% raw %}` at p (text before it already handled): emits the raw text. */
static sb_status lex_raw(lexer *lx, size_t p, size_t content) {
    for (size_t i = content; i + 1 < lx->n; i++) {
        char sign;
        size_t end;
        if (lx->s[i] != '{' || (end = match_raw_end(lx, i, &sign)) == 0)
            continue;
        sb_status st = emit_text(lx, content, text_end(lx, content, i, sign, true));
        if (st)
            return st;
        set_line_starting(lx, i, end);
        lx->pos = end;
        return SB_OK;
    }
    return lx_error(lx, p, "missing end of raw directive");
}

/* `{# ... #}` starting at p; c0 is where the comment text starts. */
static sb_status lex_comment(lexer *lx, size_t p, size_t c0) {
    for (size_t j = c0; j + 1 < lx->n; j++) {
        if (lx->s[j] != '#' || lx->s[j + 1] != '}')
            continue;
        size_t end = j + 2;
        char before = j > c0 ? lx->s[j - 1] : 0;
        if (before == '-')
            end = skip_ws(lx, end);
        else if (before != '+' && end < lx->n && lx->s[end] == '\n')
            end++;
        set_line_starting(lx, j, end);
        lx->pos = end;
        return SB_OK;
    }
    return lx_error(lx, p, "missing end of comment tag");
}

/* Character classes of jinja2's lexer. */
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

/* `(\d+_)*\d+` at i: returns the end, or i if none. */
static size_t scan_digits(const lexer *lx, size_t i) {
    size_t j = i;
    while (j < lx->n && is_digit(lx->s[j])) {
        while (j < lx->n && is_digit(lx->s[j]))
            j++;
        if (j + 1 < lx->n && lx->s[j] == '_' && is_digit(lx->s[j + 1]))
            j++;
    }
    return j;
}

/* Copies s[a..b) without underscores into buf (size cap); false if too long. */
static bool strip_underscores(const char *s, size_t a, size_t b, char *buf, size_t cap) {
    size_t k = 0;
    for (size_t i = a; i < b; i++) {
        if (s[i] == '_')
            continue;
        if (k + 1 >= cap)
            return false;
        buf[k++] = s[i];
    }
    buf[k] = '\0';
    return true;
}

/* An integer or float literal (underscores, 0x/0o/0b), as jinja2 reads them. */
static sb_status lex_number(lexer *lx, size_t i, size_t *end) {
    /* float: digits then (.digits)? e[+-]digits, or digits.digits (not after a '.') */
    size_t d = scan_digits(lx, i);
    size_t f = d;
    bool is_float = false;
    bool after_dot = i > 0 && lx->s[i - 1] == '.';
    if (!after_dot) {
        size_t k = d;
        if (k < lx->n && lx->s[k] == '.' && k + 1 < lx->n && is_digit(lx->s[k + 1])) {
            k = scan_digits(lx, k + 1);
            f = k;
            is_float = true;
        }
        if (k < lx->n && (lx->s[k] == 'e' || lx->s[k] == 'E')) {
            size_t e = k + 1;
            if (e < lx->n && (lx->s[e] == '+' || lx->s[e] == '-'))
                e++;
            size_t ed = scan_digits(lx, e);
            if (ed > e) {
                f = ed;
                is_float = true;
            }
        }
    }
    char buf[128];
    if (is_float) {
        if (!strip_underscores(lx->s, i, f, buf, sizeof buf))
            return lx_error(lx, i, "number literal too long");
        ttok *t;
        sb_status st = lx_emit(lx, T_FLOAT, 0, i, lx->s + i, f - i, &t);
        if (st)
            return st;
        t->f = strtod(buf, NULL);
        *end = f;
        return SB_OK;
    }
    int base = 10;
    size_t start = i, stop = d;
    if (lx->s[i] == '0' && i + 1 < lx->n && strchr("bBoOxX", lx->s[i + 1]) && lx->s[i + 1] != '\0') {
        char p = (char)(lx->s[i + 1] | 32);
        base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
        start = i + 2;
        stop = start;
        while (stop < lx->n && (lx->s[stop] == '_' || (base == 16 ? (lx->s[stop] && strchr("0123456789abcdefABCDEF", lx->s[stop]) != NULL)
                                                                  : lx->s[stop] >= '0' && lx->s[stop] < '0' + base)))
            stop++;
        if (stop == start)
            return lx_error(lx, i, "invalid number literal");
    }
    if (!strip_underscores(lx->s, start, stop, buf, sizeof buf))
        return lx_error(lx, i, "number literal too long");
    errno = 0;
    char *endp;
    unsigned long long v = strtoull(buf, &endp, base);
    if (errno || *endp || v > (unsigned long long)INT64_MAX)
        return lx_error(lx, i, "integer literal out of range");
    ttok *t;
    sb_status st = lx_emit(lx, T_INT, 0, i, lx->s + i, stop - i, &t);
    if (st)
        return st;
    t->i = (int64_t)v;
    *end = stop;
    return SB_OK;
}

/* Value of a hex digit, or -1. */
static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Decodes a string literal body with Python's unicode-escape rules. */
static sb_status decode_string(lexer *lx, size_t at, const char *s, size_t n, sb_buf *b) {
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\' || i + 1 >= n) {
            size_t j = i + 1;
            while (j < n && s[j] != '\\')
                j++;
            if (sb_buf_append(b, s + i, j - i))
                return lx_nomem(lx);
            i = j;
            continue;
        }
        char e = s[i + 1];
        i += 2;
        uint32_t cp;
        int digits = 0;
        switch (e) {
        case '\n': continue;
        case '\\': cp = '\\'; break;
        case '\'': cp = '\''; break;
        case '"': cp = '"'; break;
        case 'a': cp = 7; break;
        case 'b': cp = 8; break;
        case 'f': cp = 12; break;
        case 'n': cp = 10; break;
        case 'r': cp = 13; break;
        case 't': cp = 9; break;
        case 'v': cp = 11; break;
        case 'x': digits = 2; break;
        case 'u': digits = 4; break;
        case 'U': digits = 8; break;
        default:
            if (e >= '0' && e <= '7') {
                cp = (uint32_t)(e - '0');
                for (int k = 0; k < 2 && i < n && s[i] >= '0' && s[i] <= '7'; k++)
                    cp = cp * 8 + (uint32_t)(s[i++] - '0');
                break;
            }
            /* unknown escape: kept as written */
            if (sb_buf_putc(b, '\\'))
                return lx_nomem(lx);
            i--;
            continue;
        }
        if (digits) {
            cp = 0;
            for (int k = 0; k < digits; k++) {
                int h = i < n ? hexval(s[i]) : -1;
                if (h < 0)
                    return lx_error(lx, at, "truncated \\%c escape in string literal", e);
                cp = cp * 16 + (uint32_t)h;
                i++;
            }
            if (cp > 0x10FFFF)
                return lx_error(lx, at, "illegal Unicode character in string literal");
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
            cp = 0xFFFD;
        if (buf_put_cp(b, cp))
            return lx_nomem(lx);
    }
    return SB_OK;
}

/* A quoted string literal, decoded into lexer-owned storage. */
static sb_status lex_string(lexer *lx, size_t i, size_t *end) {
    char q = lx->s[i];
    size_t j = i + 1;
    while (j < lx->n && lx->s[j] != q) {
        if (lx->s[j] == '\\' && j + 1 < lx->n)
            j++;
        j++;
    }
    if (j >= lx->n)
        return lx_error(lx, i, "unterminated string literal");
    sb_buf b;
    sb_buf_init(&b);
    sb_status st = decode_string(lx, i, lx->s + i + 1, j - i - 1, &b);
    ttoklist *l = lx->out;
    if (st == SB_OK && l->nstrings == l->capstrings) {
        size_t ncap = l->capstrings ? l->capstrings * 2 : 16;
        char **ss = sb_reallocarray(l->strings, ncap, sizeof *ss);
        if (!ss)
            st = lx_nomem(lx);
        else {
            l->strings = ss;
            l->capstrings = ncap;
        }
    }
    size_t len = b.len;
    char *text = NULL;
    if (st == SB_OK && !(text = sb_buf_detach(&b, &len)))
        st = lx_nomem(lx);
    if (st == SB_OK)
        text[len] = '\0'; /* detach of a never-filled buffer does not terminate it */
    sb_buf_free(&b);
    if (st)
        return st;
    l->strings[l->nstrings++] = text;
    *end = j + 1;
    return lx_emit(lx, T_STRING, 0, i, text, len, NULL);
}

typedef struct opdef {
    const char *text;
    uint8_t op;
} opdef;

static const opdef k_ops[] = {
    {"//", OP_FLOORDIV}, {"**", OP_POW}, {"==", OP_EQ}, {"!=", OP_NE},   {">=", OP_GE},       {"<=", OP_LE},
    {"+", OP_ADD},       {"-", OP_SUB},  {"/", OP_DIV}, {"*", OP_MUL},   {"%", OP_MOD},       {"~", OP_TILDE},
    {"[", OP_LBRACKET},  {"]", OP_RBRACKET}, {"(", OP_LPAREN}, {")", OP_RPAREN}, {"{", OP_LBRACE}, {"}", OP_RBRACE},
    {">", OP_GT},        {"<", OP_LT},   {"=", OP_ASSIGN}, {".", OP_DOT}, {":", OP_COLON},    {"|", OP_PIPE},
    {",", OP_COMMA},     {";", OP_SEMICOLON},
};

/* Tokens inside `{{ }}` or `{% %}` up to and including the end marker. */
static sb_status lex_tag(lexer *lx, bool block) {
    char stack[256];
    unsigned depth = 0;
    unsigned max_depth = lx->max_nesting < sizeof stack ? lx->max_nesting : (unsigned)sizeof stack;
    const char *close = block ? "%}" : "}}";
    size_t tag_start = lx->pos;
    for (;;) {
        size_t i = lx->pos;
        if (i >= lx->n)
            return lx_error(lx, tag_start, "unexpected end of template: tag is not closed");
        const char *s = lx->s + i;
        size_t left = lx->n - i;
        if (depth == 0) {
            size_t end = 0;
            if (left >= 3 && s[0] == '-' && s[1] == close[0] && s[2] == close[1])
                end = skip_ws(lx, i + 3);
            else if (block && left >= 3 && s[0] == '+' && s[1] == '%' && s[2] == '}')
                end = i + 3;
            else if (left >= 2 && s[0] == close[0] && s[1] == close[1]) {
                end = i + 2;
                if (block && end < lx->n && lx->s[end] == '\n')
                    end++;
            }
            if (end) {
                sb_status st = lx_emit(lx, block ? T_BLOCK_END : T_VAR_END, 0, i, NULL, 0, NULL);
                set_line_starting(lx, i, end);
                lx->pos = end;
                return st;
            }
        }
        size_t w = ws_len(lx->s, lx->n, i);
        if (w) {
            lx->pos = skip_ws(lx, i);
            continue;
        }
        size_t end = i;
        sb_status st;
        if (is_digit(s[0]))
            st = lex_number(lx, i, &end);
        else if (is_name_start(s[0])) {
            end = i;
            while (end < lx->n && is_name_char(lx->s[end]))
                end++;
            st = lx_emit(lx, T_NAME, 0, i, s, end - i, NULL);
        } else if (s[0] == '\'' || s[0] == '"')
            st = lex_string(lx, i, &end);
        else {
            const opdef *op = NULL;
            for (size_t k = 0; k < sizeof k_ops / sizeof k_ops[0] && !op; k++) {
                size_t ol = strlen(k_ops[k].text);
                if (left >= ol && memcmp(s, k_ops[k].text, ol) == 0)
                    op = &k_ops[k];
            }
            if (!op)
                return lx_error(lx, i, "unexpected character '%c'", s[0] >= 0x20 && s[0] < 0x7f ? s[0] : '?');
            if (op->op == OP_LPAREN || op->op == OP_LBRACKET || op->op == OP_LBRACE) {
                if (depth >= max_depth)
                    return sb_error_set(lx->err, SB_ERR_LIMIT, "template: brackets nested deeper than %u", max_depth);
                stack[depth++] = op->text[0];
            } else if (op->op == OP_RPAREN || op->op == OP_RBRACKET || op->op == OP_RBRACE) {
                char want = op->op == OP_RPAREN ? '(' : op->op == OP_RBRACKET ? '[' : '{';
                if (depth == 0 || stack[depth - 1] != want)
                    return lx_error(lx, i, "unexpected '%c'", op->text[0]);
                depth--;
            }
            end = i + strlen(op->text);
            st = lx_emit(lx, T_OP, op->op, i, s, end - i, NULL);
        }
        if (st)
            return st;
        lx->pos = end;
    }
}

/* Tokenizes the whole (normalized) source. */
sb_status tmpl_lex(const char *src, size_t len, unsigned max_nesting, ttoklist *out, sb_error *err) {
    memset(out, 0, sizeof *out);
    lexer lx = {.s = src, .n = len, .line = 1, .line_starting = true, .out = out, .err = err,
                .max_nesting = max_nesting};
    sb_status st = SB_OK;
    while (st == SB_OK && lx.pos < lx.n) {
        size_t p = lx.pos;
        while (p + 1 < lx.n && !(lx.s[p] == '{' && (lx.s[p + 1] == '{' || lx.s[p + 1] == '%' || lx.s[p + 1] == '#')))
            p++;
        if (p + 1 >= lx.n) {
            st = emit_text(&lx, lx.pos, lx.n);
            lx.pos = lx.n;
            break;
        }
        char kind = lx.s[p + 1];
        char sign = p + 2 < lx.n && (lx.s[p + 2] == '-' || lx.s[p + 2] == '+') ? lx.s[p + 2] : 0;
        st = emit_text(&lx, lx.pos, text_end(&lx, lx.pos, p, sign, kind != '{'));
        if (st)
            break;
        size_t body = p + 2 + (sign ? 1 : 0);
        bool strip_after = false;
        size_t raw = kind == '%' ? match_raw_begin(&lx, p, &strip_after) : 0;
        if (raw) {
            set_line_starting(&lx, p, raw);
            st = lex_raw(&lx, p, raw);
        } else if (kind == '#') {
            st = lex_comment(&lx, p, body);
        } else {
            st = lx_emit(&lx, kind == '%' ? T_BLOCK_BEGIN : T_VAR_BEGIN, 0, p, NULL, 0, NULL);
            lx.line_starting = false;
            lx.pos = body;
            if (st == SB_OK)
                st = lex_tag(&lx, kind == '%');
        }
    }
    if (st == SB_OK)
        st = lx_emit(&lx, T_EOF, 0, lx.n, NULL, 0, NULL);
    if (st)
        tmpl_toklist_free(out);
    return st;
}

/* Frees a token list and its decoded strings. */
void tmpl_toklist_free(ttoklist *l) {
    for (size_t i = 0; i < l->nstrings; i++)
        sb_free(l->strings[i]);
    sb_free(l->strings);
    sb_free(l->toks);
    memset(l, 0, sizeof *l);
}

/* jinja2 reads `\r\n`, `\r` and `\n` as newlines and writes `\n`, and drops a
 * single trailing newline of the template (keep_trailing_newline=False). */
sb_status tmpl_normalize_source(const char *src, size_t len, char **out, size_t *out_len, sb_error *err) {
    size_t cap;
    if (!sb_add_size(len, 1, &cap))
        return sb_error_set(err, SB_ERR_LIMIT, "template: source too large");
    char *d = sb_malloc(cap);
    if (!d)
        return sb_error_set(err, SB_ERR_NOMEM, "template: out of memory");
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\r') {
            d[k++] = '\n';
            if (i + 1 < len && src[i + 1] == '\n')
                i++;
        } else
            d[k++] = src[i];
    }
    if (k > 0 && d[k - 1] == '\n')
        k--;
    d[k] = '\0';
    *out = d;
    *out_len = k;
    return SB_OK;
}
