/*
 * tmpl_json.c - a strict JSON reader that builds template values, so that
 * callers and tests can load conversations without a JSON library (the
 * engine layers may not use jansson). Objects keep key order; a repeated key
 * keeps its first position and its last value, as Python's json does.
 */
#include "tmpl_internal.h"

#include "sb_alloc.h"
#include "sb_utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct jreader {
    const char *s;
    size_t len, pos;
    theap *h;
    sb_error *err;
    sb_buf scratch; /* string decoding */
} jreader;

/* A parse error at the current byte. */
static sb_status jfail(jreader *j, const char *what) {
    return sb_error_set(j->err, SB_ERR_FORMAT, "JSON: %s at byte %zu", what, j->pos);
}

/* Gives an allocation failure its message (once). */
static sb_status jnomem(jreader *j, sb_status st) {
    if (st == SB_ERR_NOMEM && (!j->err || j->err->code != SB_ERR_NOMEM))
        sb_error_set(j->err, SB_ERR_NOMEM, "JSON: out of memory");
    return st;
}

/* Skips JSON whitespace. */
static void jskip_ws(jreader *j) {
    while (j->pos < j->len) {
        char c = j->s[j->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        j->pos++;
    }
}

/* Four hex digits of a \u escape, or -1. */
static int jhex4(jreader *j) {
    if (j->len - j->pos < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = j->s[j->pos + (size_t)i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    j->pos += 4;
    return v;
}

/* Decodes a string literal (j->pos at the opening quote) into j->scratch. */
static sb_status jstring_raw(jreader *j) {
    sb_buf_reset(&j->scratch);
    j->pos++;
    for (;;) {
        if (j->pos >= j->len)
            return jfail(j, "unterminated string");
        unsigned char c = (unsigned char)j->s[j->pos];
        if (c == '"') {
            j->pos++;
            return SB_OK;
        }
        if (c < 0x20)
            return jfail(j, "control character in string");
        if (c != '\\') {
            size_t run = j->pos;
            while (j->pos < j->len && (unsigned char)j->s[j->pos] >= 0x20 && j->s[j->pos] != '"' &&
                   j->s[j->pos] != '\\')
                j->pos++;
            if (!sb_utf8_valid(j->s + run, j->pos - run)) {
                j->pos = run;
                return jfail(j, "invalid UTF-8 in string");
            }
            sb_status st = sb_buf_append(&j->scratch, j->s + run, j->pos - run);
            if (st)
                return jnomem(j, st);
            continue;
        }
        j->pos++;
        if (j->pos >= j->len)
            return jfail(j, "unterminated string");
        char e = j->s[j->pos++];
        uint32_t cp;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
            int u = jhex4(j);
            if (u < 0)
                return jfail(j, "bad \\u escape");
            cp = (uint32_t)u;
            if (cp >= 0xD800 && cp <= 0xDBFF && j->len - j->pos >= 6 && j->s[j->pos] == '\\' &&
                j->s[j->pos + 1] == 'u') {
                size_t save = j->pos;
                j->pos += 2;
                int lo = jhex4(j);
                if (lo >= 0xDC00 && lo <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
                else
                    j->pos = save;
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = SB_UTF8_REPLACEMENT; /* a lone surrogate cannot be UTF-8 */
            break;
        }
        default:
            j->pos--;
            return jfail(j, "bad escape");
        }
        sb_status st = buf_put_cp(&j->scratch, cp);
        if (st)
            return jnomem(j, st);
    }
}

/* A number: int64 when it is an integer that fits, else a double. */
static sb_status jnumber(jreader *j, tv *out) {
    size_t start = j->pos;
    bool is_float = false;
    if (j->s[j->pos] == '-')
        j->pos++;
    if (j->pos >= j->len || j->s[j->pos] < '0' || j->s[j->pos] > '9')
        return jfail(j, "bad number");
    if (j->s[j->pos] == '0')
        j->pos++;
    else
        while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
            j->pos++;
    if (j->pos < j->len && j->s[j->pos] == '.') {
        is_float = true;
        j->pos++;
        if (j->pos >= j->len || j->s[j->pos] < '0' || j->s[j->pos] > '9')
            return jfail(j, "bad number");
        while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
            j->pos++;
    }
    if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
        is_float = true;
        j->pos++;
        if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-'))
            j->pos++;
        if (j->pos >= j->len || j->s[j->pos] < '0' || j->s[j->pos] > '9')
            return jfail(j, "bad number");
        while (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
            j->pos++;
    }
    size_t n = j->pos - start;
    char small[64];
    char *text = n < sizeof small ? small : sb_malloc(n + 1);
    if (!text)
        return jnomem(j, SB_ERR_NOMEM);
    memcpy(text, j->s + start, n);
    text[n] = '\0';
    if (!is_float) {
        errno = 0;
        long long v = strtoll(text, NULL, 10);
        if (errno == 0) {
            *out = tv_int(v);
            if (text != small)
                sb_free(text);
            return SB_OK;
        }
    }
    *out = tv_float(strtod(text, NULL));
    if (text != small)
        sb_free(text);
    return SB_OK;
}

/* Consumes word if it is next. */
static bool jliteral(jreader *j, const char *word) {
    size_t n = strlen(word);
    if (j->len - j->pos < n || memcmp(j->s + j->pos, word, n) != 0)
        return false;
    j->pos += n;
    return true;
}

static sb_status jvalue(jreader *j, unsigned depth_left, tv *out);

/* An array (j->pos at the bracket). */
static sb_status jarray(jreader *j, unsigned depth_left, tv *out) {
    sb_status st = list_new(j->h, 0, false, out);
    if (st)
        return jnomem(j, st);
    j->pos++;
    jskip_ws(j);
    if (j->pos < j->len && j->s[j->pos] == ']') {
        j->pos++;
        return SB_OK;
    }
    for (;;) {
        tv item;
        st = jvalue(j, depth_left, &item);
        if (st == SB_OK)
            st = jnomem(j, list_push(tv_list(*out), item));
        if (st)
            break;
        jskip_ws(j);
        if (j->pos < j->len && j->s[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (j->pos < j->len && j->s[j->pos] == ']') {
            j->pos++;
            return SB_OK;
        }
        st = jfail(j, "expected ',' or ']'");
        break;
    }
    tv_release(*out);
    return st;
}

/* An object (j->pos at the brace); a repeated key keeps its first position. */
static sb_status jobject(jreader *j, unsigned depth_left, tv *out) {
    sb_status st = dict_new(j->h, false, out);
    if (st)
        return jnomem(j, st);
    j->pos++;
    jskip_ws(j);
    if (j->pos < j->len && j->s[j->pos] == '}') {
        j->pos++;
        return SB_OK;
    }
    for (;;) {
        jskip_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != '"') {
            st = jfail(j, "expected a string key");
            break;
        }
        tv key, val;
        st = jstring_raw(j);
        if (st == SB_OK)
            st = jnomem(j, str_new(j->h, j->scratch.data ? j->scratch.data : "", j->scratch.len, &key));
        if (st)
            break;
        jskip_ws(j);
        if (j->pos >= j->len || j->s[j->pos] != ':') {
            tv_release(key);
            st = jfail(j, "expected ':'");
            break;
        }
        j->pos++;
        st = jvalue(j, depth_left, &val);
        if (st) {
            tv_release(key);
            break;
        }
        st = jnomem(j, dict_set(tv_dict(*out), key, val));
        if (st)
            break;
        jskip_ws(j);
        if (j->pos < j->len && j->s[j->pos] == ',') {
            j->pos++;
            continue;
        }
        if (j->pos < j->len && j->s[j->pos] == '}') {
            j->pos++;
            return SB_OK;
        }
        st = jfail(j, "expected ',' or '}'");
        break;
    }
    tv_release(*out);
    return st;
}

/* Any value, with the nesting depth bounded. */
static sb_status jvalue(jreader *j, unsigned depth_left, tv *out) {
    jskip_ws(j);
    if (j->pos >= j->len)
        return jfail(j, "unexpected end of input");
    char c = j->s[j->pos];
    if (c == '{' || c == '[') {
        if (depth_left == 0)
            return sb_error_set(j->err, SB_ERR_LIMIT, "JSON: nested deeper than %d levels at byte %zu",
                                SB_TMPL_JSON_MAX_DEPTH, j->pos);
        return c == '{' ? jobject(j, depth_left - 1, out) : jarray(j, depth_left - 1, out);
    }
    if (c == '"') {
        sb_status st = jstring_raw(j);
        if (st)
            return st;
        return jnomem(j, str_new(j->h, j->scratch.data ? j->scratch.data : "", j->scratch.len, out));
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return jnumber(j, out);
    if (jliteral(j, "true")) {
        *out = tv_bool(true);
        return SB_OK;
    }
    if (jliteral(j, "false")) {
        *out = tv_bool(false);
        return SB_OK;
    }
    if (jliteral(j, "null")) {
        *out = tv_none();
        return SB_OK;
    }
    return jfail(j, "unexpected character");
}

/* Parses a whole JSON document into a new value (heap h, or standalone). */
sb_status tv_from_json(theap *h, const char *s, size_t len, unsigned max_depth, tv *out, sb_error *err) {
    jreader j = {.s = s, .len = len, .h = h, .err = err};
    sb_buf_init(&j.scratch);
    sb_status st = jvalue(&j, max_depth, out);
    if (st == SB_OK) {
        jskip_ws(&j);
        if (j.pos != j.len) {
            tv_release(*out);
            st = jfail(&j, "trailing characters");
        }
    }
    sb_buf_free(&j.scratch);
    return st;
}
