/*
 * cmd_inspect.c - `solebox inspect FILE [--json] [--full] [--max-array N]`:
 * prints a GGUF file's header, metadata table and tensor table.
 *
 * Human output abbreviates long arrays (`[32000 str] "<unk>", "<s>", ...`)
 * and long strings (`"{% for ..." (1234 bytes)`) unless --full; bytes that
 * are not printable UTF-8 are shown as C-style escapes (\n, \xff).
 *
 * --json prints one JSON document with every metadata value (arrays complete
 * unless --max-array N) and every tensor. Strings from the file are
 * arbitrary bytes: each byte that is not part of valid UTF-8 is replaced by
 * U+FFFD, so the output is always valid JSON (NUL bytes come out as \u0000).
 * u64 values above 2^63-1 are written as decimal strings (many JSON parsers,
 * jansson included, cannot hold them as numbers), and NaN/infinite floats as
 * the strings "nan", "inf", "-inf".
 */
#include "cli_args.h"
#include "commands.h"

#include "sb_buf.h"
#include "sb_gguf.h"
#include "sb_utf8.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRING_PREVIEW 64 /* bytes of a string shown without --full */
#define ARRAY_PREVIEW 64  /* characters of array elements shown without --full */
#define KEY_COL_MAX 44
#define NAME_COL_MAX 48

typedef struct inspect_opts {
    const char *path;
    bool json;
    bool full;
    uint64_t max_array; /* JSON: elements per array; UINT64_MAX = all */
} inspect_opts;

/* Output is built in an sb_buf; an allocation failure sticks in `oom` and is
 * reported once at the end, so the rendering code stays linear. */
typedef struct out {
    sb_buf b;
    bool oom;
} out;

static void put(out *o, const char *s, size_t n) {
    if (!o->oom && sb_buf_append(&o->b, s, n) != SB_OK)
        o->oom = true;
}
static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }
static void printf_(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (!o->oom && sb_buf_vprintf(&o->b, fmt, ap) != SB_OK)
        o->oom = true;
    va_end(ap);
}

/* Writes what has been rendered to stdout and empties the buffer (keeps
 * memory flat for huge vocabularies). */
static void flush_out(out *o) {
    if (o->b.len)
        fwrite(o->b.data, 1, o->b.len, stdout);
    sb_buf_reset(&o->b);
}

/* ---- formatting helpers ------------------------------------------------- */

/* Shortest decimal form of v that reads back as the same value (as float
 * when is_f32). Non-finite values give "nan", "inf", "-inf". */
static void format_float(double v, bool is_f32, char *buf, size_t cap) {
    if (isnan(v)) {
        snprintf(buf, cap, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, cap, v < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = is_f32 ? 6 : 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (is_f32 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
            return;
    }
}

/* Human form of s: valid UTF-8 as is, control and invalid bytes escaped.
 * At most `limit` source bytes (cut on a character boundary); returns the
 * number of source bytes shown. */
static size_t escape_human(out *o, const char *s, size_t n, size_t limit, bool quoted) {
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        bool valid;
        size_t len = sb_utf8_decode(s + i, n - i, &cp, &valid);
        if (i + len > limit)
            break;
        unsigned char c = (unsigned char)s[i];
        if (!valid) {
            printf_(o, "\\x%02x", c);
        } else if (len > 1) {
            put(o, s + i, len);
        } else if (c == '\n') {
            puts_(o, "\\n");
        } else if (c == '\t') {
            puts_(o, "\\t");
        } else if (c == '\r') {
            puts_(o, "\\r");
        } else if (c < 0x20 || c == 0x7f) {
            printf_(o, "\\x%02x", c);
        } else if (quoted && (c == '"' || c == '\\')) {
            char e[2] = {'\\', (char)c};
            put(o, e, 2);
        } else {
            put(o, s + i, 1);
        }
        i += len;
    }
    return i;
}

/* A quoted string, truncated with its length unless full. */
static void human_string(out *o, sb_str s, bool full) {
    puts_(o, "\"");
    size_t shown = escape_human(o, s.ptr, s.len, full ? s.len : STRING_PREVIEW, true);
    if (shown < s.len)
        printf_(o, "...\" (%zu bytes)", s.len);
    else
        puts_(o, "\"");
}

/* Display width of the escaped form (for column alignment). */
static size_t escaped_width(sb_str s) {
    out t = {0};
    escape_human(&t, s.ptr, s.len, s.len, false);
    size_t w = 0;
    for (size_t i = 0; i < t.b.len; i++) /* count characters, not bytes */
        w += ((unsigned char)t.b.data[i] & 0xC0) != 0x80;
    sb_buf_free(&t.b);
    return w;
}

static void pad_to(out *o, size_t have, size_t want) {
    for (size_t i = have; i < want; i++)
        put(o, " ", 1);
}

static void human_scalar(out *o, const sb_gguf_value *v) {
    char num[64];
    switch (v->type) {
    case SB_GGUF_UINT8: case SB_GGUF_UINT16: case SB_GGUF_UINT32: case SB_GGUF_UINT64:
        printf_(o, "%" PRIu64, v->v.u64);
        break;
    case SB_GGUF_INT8: case SB_GGUF_INT16: case SB_GGUF_INT32: case SB_GGUF_INT64:
        printf_(o, "%" PRId64, v->v.i64);
        break;
    case SB_GGUF_FLOAT32: case SB_GGUF_FLOAT64:
        format_float(v->v.f64, v->type == SB_GGUF_FLOAT32, num, sizeof num);
        puts_(o, num);
        break;
    case SB_GGUF_BOOL: puts_(o, v->v.b ? "true" : "false"); break;
    default: break;
    }
}

/* Element i of a numeric/bool array as a scalar value. */
static sb_gguf_value array_elem(const sb_gguf_array *a, uint64_t i) {
    sb_gguf_value v = {.type = a->elem_type};
    const uint8_t *p = a->raw + i * sb_gguf_type_size(a->elem_type);
    switch (a->elem_type) {
    case SB_GGUF_BOOL: v.v.b = p[0] != 0; break;
    case SB_GGUF_FLOAT32: case SB_GGUF_FLOAT64: v.v.f64 = sb_gguf_array_float(a, i); break;
    case SB_GGUF_UINT64: memcpy(&v.v.u64, p, 8); break;
    case SB_GGUF_UINT8: case SB_GGUF_UINT16: case SB_GGUF_UINT32: v.v.u64 = (uint64_t)sb_gguf_array_int(a, i); break;
    default: v.v.i64 = sb_gguf_array_int(a, i); break;
    }
    return v;
}

/* `[N type] e0, e1, ...` (nested arrays as `[N type: ...]`), elements shown
 * while they fit in `budget` characters (all of them when full). */
static void human_array(out *o, const sb_gguf_array *a, bool full, size_t budget, bool nested) {
    printf_(o, nested ? "[%" PRIu64 " %s" : "[%" PRIu64 " %s]", a->count, sb_gguf_type_name(a->elem_type));
    if (a->count)
        puts_(o, nested ? ": " : " ");
    size_t start = o->b.len;
    for (uint64_t i = 0; i < a->count && !o->oom; i++) {
        if (i > 0) {
            if (!full && o->b.len - start >= budget) {
                puts_(o, ", ...");
                break;
            }
            puts_(o, ", ");
        }
        size_t used = o->b.len - start;
        size_t left = budget > used ? budget - used : 8;
        if (a->elem_type == SB_GGUF_STRING) {
            human_string(o, sb_gguf_array_string(a, i), full);
        } else if (a->elem_type == SB_GGUF_ARRAY) {
            human_array(o, &a->items[i].v.arr, full, left, true);
        } else {
            sb_gguf_value v = array_elem(a, i);
            human_scalar(o, &v);
        }
        if (full && (i & 1023) == 1023) { /* long --full arrays: keep memory flat */
            flush_out(o);
            start = 0;
        }
    }
    if (nested)
        puts_(o, "]");
}

static void human_value(out *o, const sb_gguf_value *v, bool full) {
    if (v->type == SB_GGUF_STRING)
        human_string(o, v->v.str, full);
    else if (v->type == SB_GGUF_ARRAY)
        human_array(o, &v->v.arr, full, ARRAY_PREVIEW, false);
    else
        human_scalar(o, v);
}

static void shape_str(const sb_gguf_tensor *t, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (uint32_t d = 0; d < t->n_dims && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, d ? ", " : "", t->ne[d]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

/* Sums over all tensors. */
typedef struct totals {
    uint64_t params, bytes;
} totals;

static totals sum_tensors(const sb_gguf *g) {
    totals t = {0, 0};
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *x = sb_gguf_tensor_at(g, i);
        t.params += (uint64_t)sb_gguf_tensor_nelements(x);
        t.bytes += x->size;
    }
    return t;
}

static void human_size(uint64_t bytes, char *buf, size_t cap) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void print_human(const sb_gguf *g, const inspect_opts *opt, out *o) {
    char sz[32];
    human_size(sb_gguf_file_size(g), sz, sizeof sz);
    printf_(o, "file:         %s\n", opt->path);
    printf_(o, "size:         %" PRIu64 " bytes (%s)\n", sb_gguf_file_size(g), sz);
    printf_(o, "version:      %u\n", sb_gguf_version(g));
    printf_(o, "alignment:    %u\n", sb_gguf_alignment(g));
    if (sb_gguf_n_tensors(g))
        printf_(o, "data offset:  %" PRIu64 "\n", sb_gguf_data_offset(g));
    else
        printf_(o, "data offset:  none (no tensors)\n");
    printf_(o, "\nmetadata:     %zu keys\n", sb_gguf_n_kv(g));
    size_t kw = 3;
    for (size_t i = 0; i < sb_gguf_n_kv(g); i++) {
        size_t w = escaped_width(sb_gguf_kv_at(g, i)->key);
        if (w > kw && w <= KEY_COL_MAX)
            kw = w;
    }
    if (sb_gguf_n_kv(g)) {
        puts_(o, "  KEY");
        pad_to(o, 3, kw + 2);
        puts_(o, "TYPE  VALUE\n");
    }
    for (size_t i = 0; i < sb_gguf_n_kv(g) && !o->oom; i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(g, i);
        puts_(o, "  ");
        escape_human(o, kv->key.ptr, kv->key.len, kv->key.len, false);
        pad_to(o, escaped_width(kv->key), kw + 2);
        printf_(o, "%-5s ", sb_gguf_type_name(kv->value.type));
        human_value(o, &kv->value, opt->full);
        puts_(o, "\n");
        flush_out(o);
    }

    printf_(o, "\ntensors:      %zu\n", sb_gguf_n_tensors(g));
    size_t nw = 4;
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        size_t w = escaped_width(sb_gguf_tensor_at(g, i)->name);
        if (w > nw && w <= NAME_COL_MAX)
            nw = w;
    }
    if (sb_gguf_n_tensors(g)) {
        puts_(o, "  NAME");
        pad_to(o, 4, nw + 2);
        printf_(o, "%-8s %-24s %12s %12s\n", "TYPE", "SHAPE", "OFFSET", "BYTES");
    }
    for (size_t i = 0; i < sb_gguf_n_tensors(g) && !o->oom; i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        char shape[128];
        shape_str(t, shape, sizeof shape);
        puts_(o, "  ");
        escape_human(o, t->name.ptr, t->name.len, t->name.len, false);
        pad_to(o, escaped_width(t->name), nw + 2);
        printf_(o, "%-8s %-24s %12" PRIu64 " %12" PRIu64 "\n", sb_type_name(t->type), shape, t->offset, t->size);
        flush_out(o);
    }
    totals tot = sum_tensors(g);
    human_size(tot.bytes, sz, sizeof sz);
    printf_(o, "\ntotal:        %zu tensors, %" PRIu64 " parameters, %" PRIu64 " bytes (%s)", sb_gguf_n_tensors(g),
            tot.params, tot.bytes, sz);
    if (tot.params)
        printf_(o, ", %.2f bits per weight", (double)tot.bytes * 8.0 / (double)tot.params);
    puts_(o, "\n");
    flush_out(o);
}

/* ---- JSON --------------------------------------------------------------- */

/* A JSON string: valid UTF-8 kept, each invalid byte replaced by U+FFFD,
 * quotes, backslashes and control characters escaped. */
static void json_string(out *o, const char *s, size_t n) {
    puts_(o, "\"");
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        bool valid;
        size_t len = sb_utf8_decode(s + i, n - i, &cp, &valid);
        unsigned char c = (unsigned char)s[i];
        if (!valid)
            puts_(o, "\xef\xbf\xbd");
        else if (len > 1)
            put(o, s + i, len);
        else if (c == '"')
            puts_(o, "\\\"");
        else if (c == '\\')
            puts_(o, "\\\\");
        else if (c == '\n')
            puts_(o, "\\n");
        else if (c == '\t')
            puts_(o, "\\t");
        else if (c == '\r')
            puts_(o, "\\r");
        else if (c < 0x20)
            printf_(o, "\\u%04x", c);
        else
            put(o, s + i, 1);
        i += len;
    }
    puts_(o, "\"");
}

static void json_scalar(out *o, const sb_gguf_value *v) {
    char num[64];
    switch (v->type) {
    case SB_GGUF_UINT8: case SB_GGUF_UINT16: case SB_GGUF_UINT32: case SB_GGUF_UINT64:
        printf_(o, v->v.u64 > (uint64_t)INT64_MAX ? "\"%" PRIu64 "\"" : "%" PRIu64, v->v.u64);
        break;
    case SB_GGUF_INT8: case SB_GGUF_INT16: case SB_GGUF_INT32: case SB_GGUF_INT64:
        printf_(o, "%" PRId64, v->v.i64);
        break;
    case SB_GGUF_FLOAT32: case SB_GGUF_FLOAT64:
        format_float(v->v.f64, v->type == SB_GGUF_FLOAT32, num, sizeof num);
        if (isfinite(v->v.f64))
            puts_(o, num);
        else
            printf_(o, "\"%s\"", num);
        break;
    case SB_GGUF_BOOL: puts_(o, v->v.b ? "true" : "false"); break;
    default: puts_(o, "null"); break;
    }
}

/* The fields describing an array (after its opening brace and any key):
 * "type":"arr","elem_type":..,"count":..,"value":[...] and "truncated". */
static void json_array_fields(out *o, const sb_gguf_array *a, uint64_t max) {
    printf_(o, "\"type\": \"arr\", \"elem_type\": \"%s\", \"count\": %" PRIu64 ", \"value\": [",
            sb_gguf_type_name(a->elem_type), a->count);
    uint64_t n = a->count < max ? a->count : max;
    for (uint64_t i = 0; i < n && !o->oom; i++) {
        if (i)
            puts_(o, ", ");
        if (a->elem_type == SB_GGUF_STRING) {
            sb_str s = sb_gguf_array_string(a, i);
            json_string(o, s.ptr, s.len);
        } else if (a->elem_type == SB_GGUF_ARRAY) {
            puts_(o, "{");
            json_array_fields(o, &a->items[i].v.arr, max);
            puts_(o, "}");
        } else {
            sb_gguf_value v = array_elem(a, i);
            json_scalar(o, &v);
        }
        if ((i & 1023) == 1023)
            flush_out(o);
    }
    puts_(o, "]");
    if (n < a->count)
        puts_(o, ", \"truncated\": true");
}

static void print_json(const sb_gguf *g, const inspect_opts *opt, out *o) {
    puts_(o, "{\n  \"file\": ");
    json_string(o, opt->path, strlen(opt->path));
    printf_(o, ",\n  \"size\": %" PRIu64 ",\n  \"version\": %u,\n  \"alignment\": %u,\n  \"data_offset\": %" PRIu64 ",\n",
            sb_gguf_file_size(g), sb_gguf_version(g), sb_gguf_alignment(g), sb_gguf_data_offset(g));
    puts_(o, "  \"metadata\": [");
    for (size_t i = 0; i < sb_gguf_n_kv(g) && !o->oom; i++) {
        const sb_gguf_kv *kv = sb_gguf_kv_at(g, i);
        puts_(o, i ? ",\n    {\"key\": " : "\n    {\"key\": ");
        json_string(o, kv->key.ptr, kv->key.len);
        puts_(o, ", ");
        if (kv->value.type == SB_GGUF_ARRAY) {
            json_array_fields(o, &kv->value.v.arr, opt->max_array);
        } else {
            printf_(o, "\"type\": \"%s\", \"value\": ", sb_gguf_type_name(kv->value.type));
            if (kv->value.type == SB_GGUF_STRING)
                json_string(o, kv->value.v.str.ptr, kv->value.v.str.len);
            else
                json_scalar(o, &kv->value);
        }
        puts_(o, "}");
        flush_out(o);
    }
    puts_(o, sb_gguf_n_kv(g) ? "\n  ],\n  \"tensors\": [" : "],\n  \"tensors\": [");
    for (size_t i = 0; i < sb_gguf_n_tensors(g) && !o->oom; i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        puts_(o, i ? ",\n    {\"name\": " : "\n    {\"name\": ");
        json_string(o, t->name.ptr, t->name.len);
        char shape[128];
        shape_str(t, shape, sizeof shape);
        printf_(o,
                ", \"type\": \"%s\", \"type_id\": %u, \"shape\": %s, \"elements\": %" PRId64 ", \"offset\": %" PRIu64
                ", \"bytes\": %" PRIu64 "}",
                sb_type_name(t->type), t->type, shape, sb_gguf_tensor_nelements(t), t->offset, t->size);
        flush_out(o);
    }
    totals tot = sum_tensors(g);
    puts_(o, sb_gguf_n_tensors(g) ? "\n  ],\n" : "],\n");
    printf_(o, "  \"totals\": {\"tensors\": %zu, \"parameters\": %" PRIu64 ", \"bytes\": %" PRIu64, sb_gguf_n_tensors(g),
            tot.params, tot.bytes);
    if (tot.params) {
        char num[64];
        format_float((double)tot.bytes * 8.0 / (double)tot.params, false, num, sizeof num);
        printf_(o, ", \"bits_per_weight\": %s", num);
    }
    puts_(o, "}\n}\n");
    flush_out(o);
}

/* ---- command ------------------------------------------------------------ */

static void usage(FILE *f) {
    fprintf(f,
            "usage: solebox inspect FILE [--json] [--full] [--max-array N]\n"
            "\n"
            "Prints a GGUF file's header, metadata and tensor table.\n"
            "  --json          one JSON document (every array complete unless --max-array;\n"
            "                  invalid UTF-8 bytes become U+FFFD)\n"
            "  --full          do not abbreviate long strings and arrays (human output)\n"
            "  --max-array N   with --json, at most N elements per array\n");
}

/* Parses a non-negative decimal count. */
int sb_cmd_inspect(int argc, char **argv) {
    inspect_opts opt = {.max_array = UINT64_MAX};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            opt.json = true;
        } else if (strcmp(a, "--full") == 0) {
            opt.full = true;
        } else if (strcmp(a, "--max-array") == 0 || strncmp(a, "--max-array=", 12) == 0) {
            const char *v = a[11] == '=' ? a + 12 : (i + 1 < argc ? argv[++i] : NULL);
            if (!sb_cli_u64(v, &opt.max_array)) {
                fprintf(stderr, "solebox inspect: --max-array needs a non-negative number\n");
                usage(stderr);
                return 2;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "solebox inspect: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (opt.path) {
            fprintf(stderr, "solebox inspect: only one FILE may be given\n");
            usage(stderr);
            return 2;
        } else {
            opt.path = a;
        }
    }
    if (!opt.path) {
        usage(stderr);
        return 2;
    }
    sb_gguf *g;
    sb_error err;
    if (sb_gguf_open(opt.path, &g, &err) != SB_OK) {
        fprintf(stderr, "solebox inspect: %s\n", err.msg);
        return 1;
    }
    out o = {0};
    sb_buf_init(&o.b);
    if (opt.json)
        print_json(g, &opt, &o);
    else
        print_human(g, &opt, &o);
    bool oom = o.oom;
    sb_buf_free(&o.b);
    sb_gguf_close(g);
    if (oom) {
        fprintf(stderr, "solebox inspect: out of memory\n");
        return 1;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "solebox inspect: error writing the output\n");
        return 1;
    }
    return 0;
}
