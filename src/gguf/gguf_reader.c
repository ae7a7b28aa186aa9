/*
 * gguf_reader.c - parses and validates a GGUF image (format in sb_gguf.h).
 *
 * The parser walks the image with a bounds-checked cursor. Entries are
 * indexed into arrays that grow as entries are actually read, so memory is
 * proportional to the bytes present, never to a count claimed by the file.
 */
#include "sb_gguf.h"

#include "sb_alloc.h"
#include "sb_checked.h"
#include "sb_file.h"
#include "sb_map.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct sb_gguf {
    sb_mapped_file *file; /* NULL for memory images */
    const uint8_t *data;
    uint64_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    sb_gguf_kv *kvs;
    size_t n_kv, cap_kv;
    sb_gguf_tensor *tensors;
    size_t n_tensors, cap_tensors;
    sb_strmap kv_index;
    sb_strmap tensor_index;
    void **blocks; /* allocations made for array indexes, freed at close */
    size_t n_blocks, cap_blocks;
};

typedef struct cursor {
    const uint8_t *data;
    uint64_t pos;
    uint64_t size;
    sb_error *err;
} cursor;

/* ---- bounded reads ------------------------------------------------------ */

static sb_status truncated(cursor *c, uint64_t need, const char *what) {
    return sb_error_set(c->err, SB_ERR_FORMAT,
                        "truncated file: %s needs %" PRIu64 " bytes at offset %" PRIu64 " but the file has %" PRIu64 " bytes",
                        what, need, c->pos, c->size);
}

static sb_status rd_bytes(cursor *c, void *out, uint64_t n, const char *what) {
    if (!sb_range_ok(c->pos, n, c->size))
        return truncated(c, n, what);
    memcpy(out, c->data + c->pos, n);
    c->pos += n;
    return SB_OK;
}

static sb_status rd_u32(cursor *c, uint32_t *v, const char *what) { return rd_bytes(c, v, 4, what); }
static sb_status rd_u64(cursor *c, uint64_t *v, const char *what) { return rd_bytes(c, v, 8, what); }

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

/* How many bytes of a key or name an error message shows: hostile names may
 * be huge, and a negative %.*s precision would read up to a NUL. */
static int shown(size_t len) { return len > 200 ? 200 : (int)len; }

/* Prepends context to err's message and returns st itself (sb_error_prefix
 * alone returns SB_ERR_INTERNAL when err is NULL). */
static sb_status with_prefix(sb_status st, sb_error *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static sb_status with_prefix(sb_status st, sb_error *err, const char *fmt, ...) {
    if (err) {
        char prefix[SB_ERROR_MSG_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        sb_error_prefix(err, "%s", prefix);
    }
    return st;
}

/* Reads a GGUF string (u64 length + bytes) as a view into the image. */
static sb_status rd_str(cursor *c, sb_str *s, const char *what) {
    uint64_t len = 0;
    sb_status st = rd_u64(c, &len, what);
    if (st != SB_OK)
        return st;
    if (len > remaining(c))
        return sb_error_set(c->err, SB_ERR_FORMAT,
                            "%s: string length %" PRIu64 " at offset %" PRIu64 " runs past the end of the file (%" PRIu64
                            " bytes remain)",
                            what, len, c->pos - 8, remaining(c));
    s->ptr = (const char *)c->data + c->pos;
    s->len = (size_t)len;
    c->pos += len;
    return SB_OK;
}

/* ---- value types -------------------------------------------------------- */

size_t sb_gguf_type_size(sb_gguf_type t) {
    switch (t) {
    case SB_GGUF_UINT8: case SB_GGUF_INT8: case SB_GGUF_BOOL: return 1;
    case SB_GGUF_UINT16: case SB_GGUF_INT16: return 2;
    case SB_GGUF_UINT32: case SB_GGUF_INT32: case SB_GGUF_FLOAT32: return 4;
    case SB_GGUF_UINT64: case SB_GGUF_INT64: case SB_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

const char *sb_gguf_type_name(sb_gguf_type t) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < SB_GGUF_TYPE_COUNT ? names[t] : "unknown";
}

/* Decodes one fixed-size scalar at p into v (type already validated). */
static void decode_scalar(sb_gguf_type t, const uint8_t *p, sb_gguf_value *v) {
    v->type = t;
    switch (t) {
    case SB_GGUF_UINT8: v->v.u64 = p[0]; break;
    case SB_GGUF_INT8: v->v.i64 = (int8_t)p[0]; break;
    case SB_GGUF_BOOL: v->v.b = p[0] != 0; break;
    case SB_GGUF_UINT16: { uint16_t x; memcpy(&x, p, 2); v->v.u64 = x; break; }
    case SB_GGUF_INT16: { int16_t x; memcpy(&x, p, 2); v->v.i64 = x; break; }
    case SB_GGUF_UINT32: { uint32_t x; memcpy(&x, p, 4); v->v.u64 = x; break; }
    case SB_GGUF_INT32: { int32_t x; memcpy(&x, p, 4); v->v.i64 = x; break; }
    case SB_GGUF_FLOAT32: { float x; memcpy(&x, p, 4); v->v.f64 = x; break; }
    case SB_GGUF_UINT64: { uint64_t x; memcpy(&x, p, 8); v->v.u64 = x; break; }
    case SB_GGUF_INT64: { int64_t x; memcpy(&x, p, 8); v->v.i64 = x; break; }
    case SB_GGUF_FLOAT64: { double x; memcpy(&x, p, 8); v->v.f64 = x; break; }
    default: assert(!"not a scalar type");
    }
}

/* ---- parsing ------------------------------------------------------------ */

/* Hands an index block to g, which frees it at close; frees it on failure. */
static sb_status keep_block(sb_gguf *g, void *block, cursor *c) {
    if (g->n_blocks == g->cap_blocks) {
        size_t cap = g->cap_blocks ? g->cap_blocks * 2 : 16;
        void **nb = sb_reallocarray(g->blocks, cap, sizeof *nb);
        if (!nb) {
            sb_free(block);
            return sb_error_set(c->err, SB_ERR_NOMEM, "out of memory indexing metadata");
        }
        g->blocks = nb;
        g->cap_blocks = cap;
    }
    g->blocks[g->n_blocks++] = block;
    return SB_OK;
}

/* Makes room for element i of an index array of `count` elements that grows
 * as elements are actually read, so a count the file claims but does not
 * hold never turns into memory. *p and *cap are updated in place. */
static sb_status grow_index(void **p, uint64_t *cap, uint64_t i, uint64_t count, size_t elem, const sb_str *key,
                            cursor *c) {
    if (i < *cap)
        return SB_OK;
    uint64_t ncap = *cap ? *cap * 2 : 64;
    if (ncap > count)
        ncap = count;
    void *np = sb_reallocarray(*p, (size_t)ncap, elem);
    if (!np)
        return sb_error_set(c->err, SB_ERR_NOMEM, "key '%.*s': out of memory indexing an array of %" PRIu64 " elements",
                            shown(key->len), key->ptr, count);
    *p = np;
    *cap = ncap;
    return SB_OK;
}

static sb_status parse_array(sb_gguf *g, cursor *c, sb_gguf_value *v, int depth, const sb_str *key);

/* Reads `count` strings into an index kept by g. */
static sb_status parse_string_elems(sb_gguf *g, cursor *c, sb_gguf_array *arr, const sb_str *key) {
    sb_str *strs = NULL;
    uint64_t cap = 0;
    sb_status st = SB_OK;
    for (uint64_t i = 0; i < arr->count; i++) {
        void *p = strs;
        if ((st = grow_index(&p, &cap, i, arr->count, sizeof *strs, key, c)) != SB_OK)
            break;
        strs = p;
        if ((st = rd_str(c, &strs[i], "array string")) != SB_OK) {
            with_prefix(st, c->err, "key '%.*s' element %" PRIu64 ": ", shown(key->len), key->ptr, i);
            break;
        }
    }
    if (st != SB_OK) {
        sb_free(strs);
        return st;
    }
    arr->strings = strs;
    return strs ? keep_block(g, strs, c) : SB_OK;
}

/* Reads `count` nested arrays into an index kept by g. */
static sb_status parse_array_elems(sb_gguf *g, cursor *c, sb_gguf_array *arr, int depth, const sb_str *key) {
    sb_gguf_value *items = NULL;
    uint64_t cap = 0;
    sb_status st = SB_OK;
    for (uint64_t i = 0; i < arr->count; i++) {
        void *p = items;
        if ((st = grow_index(&p, &cap, i, arr->count, sizeof *items, key, c)) != SB_OK)
            break;
        items = p;
        if ((st = parse_array(g, c, &items[i], depth + 1, key)) != SB_OK)
            break;
    }
    if (st != SB_OK) {
        sb_free(items);
        return st;
    }
    arr->items = items;
    return items ? keep_block(g, items, c) : SB_OK;
}

/* Parses an array body (element type, count, elements) for `key`. depth is
 * the number of arrays that enclose this one. */
static sb_status parse_array(sb_gguf *g, cursor *c, sb_gguf_value *v, int depth, const sb_str *key) {
    uint32_t et;
    uint64_t count;
    sb_status st;
    if ((st = rd_u32(c, &et, "array element type")) != SB_OK || (st = rd_u64(c, &count, "array length")) != SB_OK)
        return with_prefix(st, c->err, "key '%.*s': ", shown(key->len), key->ptr);
    if (et >= SB_GGUF_TYPE_COUNT)
        return sb_error_set(c->err, SB_ERR_FORMAT, "key '%.*s': array element type %u is unknown", shown(key->len),
                            key->ptr, et);
    if (depth + 1 > SB_GGUF_MAX_ARRAY_DEPTH)
        return sb_error_set(c->err, SB_ERR_FORMAT, "key '%.*s': arrays nested deeper than %d levels", shown(key->len),
                            key->ptr, SB_GGUF_MAX_ARRAY_DEPTH);
    v->type = SB_GGUF_ARRAY;
    sb_gguf_array *arr = &v->v.arr;
    memset(arr, 0, sizeof *arr);
    arr->elem_type = (sb_gguf_type)et;
    arr->count = count;
    /* Smallest encoding of one element bounds the count by the bytes left. */
    uint64_t min_elem = sb_gguf_type_size(arr->elem_type);
    if (arr->elem_type == SB_GGUF_STRING)
        min_elem = 8;
    else if (arr->elem_type == SB_GGUF_ARRAY)
        min_elem = 12;
    if (count > remaining(c) / min_elem)
        return sb_error_set(c->err, SB_ERR_FORMAT,
                            "key '%.*s': array of %" PRIu64 " %s elements runs past the end of the file (%" PRIu64
                            " bytes remain)",
                            shown(key->len), key->ptr, count, sb_gguf_type_name(arr->elem_type), remaining(c));
    if (arr->elem_type == SB_GGUF_STRING)
        return parse_string_elems(g, c, arr, key);
    if (arr->elem_type == SB_GGUF_ARRAY)
        return parse_array_elems(g, c, arr, depth, key);
    arr->raw = c->data + c->pos;
    c->pos += count * min_elem;
    if (arr->elem_type == SB_GGUF_BOOL)
        for (uint64_t i = 0; i < count; i++)
            if (arr->raw[i] > 1)
                return sb_error_set(c->err, SB_ERR_FORMAT, "key '%.*s' element %" PRIu64 ": bool value %u is neither 0 nor 1",
                                    shown(key->len), key->ptr, i, arr->raw[i]);
    return SB_OK;
}

/* Parses one value of `type` for `key`. */
static sb_status parse_value(sb_gguf *g, cursor *c, sb_gguf_type type, sb_gguf_value *v, const sb_str *key) {
    if (type == SB_GGUF_STRING) {
        v->type = SB_GGUF_STRING;
        sb_status st = rd_str(c, &v->v.str, "string value");
        return st == SB_OK ? st : with_prefix(st, c->err, "key '%.*s': ", shown(key->len), key->ptr);
    }
    if (type == SB_GGUF_ARRAY)
        return parse_array(g, c, v, 0, key);
    size_t n = sb_gguf_type_size(type);
    if (!sb_range_ok(c->pos, n, c->size))
        return with_prefix(truncated(c, n, "value"), c->err, "key '%.*s': ", shown(key->len), key->ptr);
    if (type == SB_GGUF_BOOL && c->data[c->pos] > 1)
        return sb_error_set(c->err, SB_ERR_FORMAT, "key '%.*s': bool value %u is neither 0 nor 1", shown(key->len),
                            key->ptr, c->data[c->pos]);
    decode_scalar(type, c->data + c->pos, v);
    c->pos += n;
    return SB_OK;
}

static sb_status parse_kvs(sb_gguf *g, cursor *c, uint64_t n_kv) {
    for (uint64_t i = 0; i < n_kv; i++) {
        if (g->n_kv == g->cap_kv) {
            size_t cap = g->cap_kv ? g->cap_kv * 2 : 32;
            sb_gguf_kv *nk = sb_reallocarray(g->kvs, cap, sizeof *nk);
            if (!nk)
                return sb_error_set(c->err, SB_ERR_NOMEM, "out of memory reading metadata");
            g->kvs = nk;
            g->cap_kv = cap;
        }
        sb_gguf_kv *kv = &g->kvs[g->n_kv];
        memset(kv, 0, sizeof *kv);
        sb_status st = rd_str(c, &kv->key, "metadata key");
        if (st != SB_OK)
            return with_prefix(st, c->err, "metadata entry %" PRIu64 ": ", i);
        if (kv->key.len == 0)
            return sb_error_set(c->err, SB_ERR_FORMAT, "metadata entry %" PRIu64 " has an empty key", i);
        int kl = shown(kv->key.len);
        uint32_t type;
        if ((st = rd_u32(c, &type, "value type")) != SB_OK)
            return with_prefix(st, c->err, "key '%.*s': ", kl, kv->key.ptr);
        if (type >= SB_GGUF_TYPE_COUNT)
            return sb_error_set(c->err, SB_ERR_FORMAT, "key '%.*s': value type %u is unknown", kl, kv->key.ptr, type);
        if ((st = parse_value(g, c, (sb_gguf_type)type, &kv->value, &kv->key)) != SB_OK)
            return st;
        bool existed;
        if (sb_strmap_put(&g->kv_index, kv->key.ptr, kv->key.len, g->n_kv, &existed) != SB_OK)
            return sb_error_set(c->err, SB_ERR_NOMEM, "out of memory indexing metadata");
        if (existed)
            return sb_error_set(c->err, SB_ERR_FORMAT, "duplicate metadata key '%.*s'", kl, kv->key.ptr);
        g->n_kv++;
    }
    return SB_OK;
}

static sb_status parse_tensor_info(sb_gguf *g, cursor *c, uint64_t index) {
    if (g->n_tensors == g->cap_tensors) {
        size_t cap = g->cap_tensors ? g->cap_tensors * 2 : 64;
        sb_gguf_tensor *nt = sb_reallocarray(g->tensors, cap, sizeof *nt);
        if (!nt)
            return sb_error_set(c->err, SB_ERR_NOMEM, "out of memory reading tensor infos");
        g->tensors = nt;
        g->cap_tensors = cap;
    }
    sb_gguf_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    sb_status st = rd_str(c, &t->name, "tensor name");
    if (st != SB_OK)
        return with_prefix(st, c->err, "tensor %" PRIu64 ": ", index);
    if (t->name.len == 0)
        return sb_error_set(c->err, SB_ERR_FORMAT, "tensor %" PRIu64 " has an empty name", index);
    int nl = shown(t->name.len);
    const char *nm = t->name.ptr;
    if ((st = rd_u32(c, &t->n_dims, "tensor n_dims")) != SB_OK)
        return with_prefix(st, c->err, "tensor '%.*s': ", nl, nm);
    if (t->n_dims < 1 || t->n_dims > SB_GGUF_MAX_DIMS)
        return sb_error_set(c->err, SB_ERR_FORMAT, "tensor '%.*s': %u dimensions (must be 1 to %d)", nl, nm, t->n_dims,
                            SB_GGUF_MAX_DIMS);
    int64_t nelem = 1;
    for (uint32_t d = 0; d < SB_GGUF_MAX_DIMS; d++) {
        if (d >= t->n_dims) {
            t->ne[d] = 1;
            continue;
        }
        uint64_t ne;
        if ((st = rd_u64(c, &ne, "tensor dimension")) != SB_OK)
            return with_prefix(st, c->err, "tensor '%.*s': ", nl, nm);
        if (ne == 0)
            return sb_error_set(c->err, SB_ERR_FORMAT, "tensor '%.*s': dimension %u is zero", nl, nm, d);
        if (ne > (uint64_t)INT64_MAX)
            return sb_error_set(c->err, SB_ERR_FORMAT, "tensor '%.*s': dimension %u is negative (%" PRId64 ")", nl, nm,
                                d, (int64_t)ne);
        t->ne[d] = (int64_t)ne;
        if (!sb_mul_i64(nelem, t->ne[d], &nelem))
            return sb_error_set(c->err, SB_ERR_FORMAT, "tensor '%.*s': the product of its dimensions overflows", nl, nm);
    }
    if ((st = rd_u32(c, &t->type, "tensor type")) != SB_OK || (st = rd_u64(c, &t->offset, "tensor offset")) != SB_OK)
        return with_prefix(st, c->err, "tensor '%.*s': ", nl, nm);
    const sb_type_traits *tr = sb_type_traits_of(t->type);
    if (!tr)
        return sb_error_set(c->err, SB_ERR_UNSUPPORTED, "tensor '%.*s': type %u is unknown", nl, nm, t->type);
    if (t->ne[0] % tr->block_size != 0)
        return sb_error_set(c->err, SB_ERR_FORMAT,
                            "tensor '%.*s': first dimension %" PRId64 " is not a multiple of the block size %u of type %s",
                            nl, nm, t->ne[0], tr->block_size, tr->name);
    uint64_t row, size = 0;
    if (!sb_type_row_size(t->type, (uint64_t)t->ne[0], &row) || !sb_mul_u64(row, (uint64_t)(nelem / t->ne[0]), &size))
        return sb_error_set(c->err, SB_ERR_FORMAT, "tensor '%.*s': its byte size overflows", nl, nm);
    t->size = size;
    bool existed;
    if (sb_strmap_put(&g->tensor_index, t->name.ptr, t->name.len, g->n_tensors, &existed) != SB_OK)
        return sb_error_set(c->err, SB_ERR_NOMEM, "out of memory indexing tensors");
    if (existed)
        return sb_error_set(c->err, SB_ERR_FORMAT, "duplicate tensor name '%.*s'", nl, nm);
    g->n_tensors++;
    return SB_OK;
}

/* Reads general.alignment if present: a u32 power of two. */
static sb_status read_alignment(sb_gguf *g, sb_error *err) {
    g->alignment = SB_GGUF_DEFAULT_ALIGNMENT;
    const sb_gguf_kv *kv = sb_gguf_find(g, "general.alignment");
    if (!kv)
        return SB_OK;
    if (kv->value.type != SB_GGUF_UINT32)
        return sb_error_set(err, SB_ERR_FORMAT, "general.alignment has type %s (must be u32)",
                            sb_gguf_type_name(kv->value.type));
    uint64_t a = kv->value.v.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return sb_error_set(err, SB_ERR_FORMAT, "general.alignment %" PRIu64 " is not a power of two", a);
    g->alignment = (uint32_t)a;
    return SB_OK;
}

/* Places the data section and checks every tensor's bytes lie inside it. */
static sb_status place_tensors(sb_gguf *g, uint64_t infos_end, sb_error *err) {
    if (!sb_align_up_u64(infos_end, g->alignment, &g->data_offset))
        return sb_error_set(err, SB_ERR_FORMAT, "data section offset overflows");
    if (g->n_tensors > 0 && g->data_offset > g->size)
        return sb_error_set(err, SB_ERR_FORMAT,
                            "truncated file: the data section starts at %" PRIu64 " but the file has %" PRIu64 " bytes",
                            g->data_offset, g->size);
    uint64_t data_size = g->data_offset <= g->size ? g->size - g->data_offset : 0;
    for (size_t i = 0; i < g->n_tensors; i++) {
        sb_gguf_tensor *t = &g->tensors[i];
        int nl = shown(t->name.len);
        if (t->offset % g->alignment != 0)
            return sb_error_set(err, SB_ERR_FORMAT, "tensor '%.*s': offset %" PRIu64 " is not a multiple of the alignment %u",
                                nl, t->name.ptr, t->offset, g->alignment);
        uint64_t end;
        if (!sb_add_u64(t->offset, t->size, &end))
            return sb_error_set(err, SB_ERR_FORMAT, "tensor '%.*s': offset %" PRIu64 " + size %" PRIu64 " overflows", nl,
                                t->name.ptr, t->offset, t->size);
        if (end > data_size)
            return sb_error_set(err, SB_ERR_FORMAT,
                                "tensor '%.*s': data [%" PRIu64 ", %" PRIu64 ") lies past the end of the data section (%" PRIu64
                                " bytes; file truncated?)",
                                nl, t->name.ptr, t->offset, end, data_size);
        t->data = g->data + g->data_offset + t->offset;
    }
    return SB_OK;
}

static sb_status parse(sb_gguf *g, sb_error *err) {
    cursor c = {g->data, 0, g->size, err};
    uint32_t magic;
    if (g->size < 4)
        return sb_error_set(err, SB_ERR_FORMAT, "not a GGUF file: it is only %" PRIu64 " bytes long", g->size);
    rd_u32(&c, &magic, "magic");
    if (magic != SB_GGUF_MAGIC)
        return sb_error_set(err, SB_ERR_FORMAT, "not a GGUF file: bad magic %02x %02x %02x %02x (expected 'GGUF')",
                            g->data[0], g->data[1], g->data[2], g->data[3]);
    sb_status st;
    if ((st = rd_u32(&c, &g->version, "version")) != SB_OK)
        return st;
    if (g->version != 2 && g->version != 3) {
        uint32_t swapped = __builtin_bswap32(g->version);
        if (swapped == 2 || swapped == 3)
            return sb_error_set(err, SB_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "GGUF version %u is not supported (versions 2 and 3 are)",
                            g->version);
    }
    uint64_t n_tensors, n_kv;
    if ((st = rd_u64(&c, &n_tensors, "tensor count")) != SB_OK || (st = rd_u64(&c, &n_kv, "metadata count")) != SB_OK)
        return st;
    /* A metadata entry takes at least 13 bytes, a tensor info at least 32. */
    if (n_kv > remaining(&c) / 13)
        return sb_error_set(err, SB_ERR_FORMAT, "metadata count %" PRIu64 " is more than the file's %" PRIu64 " bytes can hold",
                            n_kv, g->size);
    if (n_tensors > remaining(&c) / 32)
        return sb_error_set(err, SB_ERR_FORMAT, "tensor count %" PRIu64 " is more than the file's %" PRIu64 " bytes can hold",
                            n_tensors, g->size);
    if ((st = parse_kvs(g, &c, n_kv)) != SB_OK)
        return st;
    if ((st = read_alignment(g, err)) != SB_OK)
        return st;
    for (uint64_t i = 0; i < n_tensors; i++)
        if ((st = parse_tensor_info(g, &c, i)) != SB_OK)
            return st;
    return place_tensors(g, c.pos, err);
}

static sb_status open_image(sb_gguf *g, sb_gguf **out, sb_error *err) {
    sb_status st = parse(g, err);
    if (st != SB_OK) {
        sb_gguf_close(g);
        return st;
    }
    *out = g;
    return SB_OK;
}

sb_status sb_gguf_open_memory(const void *data, size_t size, sb_gguf **out, sb_error *err) {
    *out = NULL;
    sb_gguf *g = sb_calloc(1, sizeof *g);
    if (!g)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    g->data = data;
    g->size = size;
    return open_image(g, out, err);
}

sb_status sb_gguf_open(const char *path, sb_gguf **out, sb_error *err) {
    *out = NULL;
    sb_gguf *g = sb_calloc(1, sizeof *g);
    if (!g)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    sb_status st = sb_file_map(path, &g->file, err);
    if (st != SB_OK) {
        sb_free(g);
        return st;
    }
    g->data = sb_mapped_file_data(g->file);
    g->size = sb_mapped_file_size(g->file);
    st = open_image(g, out, err);
    if (st != SB_OK)
        sb_error_prefix(err, "%s: ", path);
    return st;
}

void sb_gguf_close(sb_gguf *g) {
    if (!g)
        return;
    for (size_t i = 0; i < g->n_blocks; i++)
        sb_free(g->blocks[i]);
    sb_free(g->blocks);
    sb_free(g->kvs);
    sb_free(g->tensors);
    sb_strmap_free(&g->kv_index);
    sb_strmap_free(&g->tensor_index);
    sb_mapped_file_free(g->file);
    sb_free(g);
}

/* ---- accessors ---------------------------------------------------------- */

uint32_t sb_gguf_version(const sb_gguf *g) { return g->version; }
uint32_t sb_gguf_alignment(const sb_gguf *g) { return g->alignment; }
uint64_t sb_gguf_data_offset(const sb_gguf *g) { return g->data_offset; }
uint64_t sb_gguf_file_size(const sb_gguf *g) { return g->size; }
const uint8_t *sb_gguf_file_data(const sb_gguf *g) { return g->data; }
const char *sb_gguf_path(const sb_gguf *g) { return g->file ? sb_mapped_file_path(g->file) : ""; }
size_t sb_gguf_n_kv(const sb_gguf *g) { return g->n_kv; }
size_t sb_gguf_n_tensors(const sb_gguf *g) { return g->n_tensors; }

const sb_gguf_kv *sb_gguf_kv_at(const sb_gguf *g, size_t i) { return i < g->n_kv ? &g->kvs[i] : NULL; }

const sb_gguf_tensor *sb_gguf_tensor_at(const sb_gguf *g, size_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const sb_gguf_kv *sb_gguf_find(const sb_gguf *g, const char *key) {
    uint64_t idx;
    if (!sb_strmap_get(&g->kv_index, key, strlen(key), &idx))
        return NULL;
    return &g->kvs[idx];
}

const sb_gguf_tensor *sb_gguf_find_tensor(const sb_gguf *g, const char *name) {
    uint64_t idx;
    if (!sb_strmap_get(&g->tensor_index, name, strlen(name), &idx))
        return NULL;
    return &g->tensors[idx];
}

int64_t sb_gguf_tensor_nelements(const sb_gguf_tensor *t) { return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]; }

static bool is_unsigned(sb_gguf_type t) {
    return t == SB_GGUF_UINT8 || t == SB_GGUF_UINT16 || t == SB_GGUF_UINT32 || t == SB_GGUF_UINT64;
}
static bool is_signed(sb_gguf_type t) {
    return t == SB_GGUF_INT8 || t == SB_GGUF_INT16 || t == SB_GGUF_INT32 || t == SB_GGUF_INT64;
}

static sb_status find_kv(const sb_gguf *g, const char *key, const sb_gguf_kv **kv, sb_error *err) {
    *kv = sb_gguf_find(g, key);
    if (!*kv)
        return sb_error_set(err, SB_ERR_NOT_FOUND, "metadata key '%s' is missing", key);
    return SB_OK;
}

static sb_status wrong_type(const sb_gguf_kv *kv, const char *key, const char *want, sb_error *err) {
    return sb_error_set(err, SB_ERR_FORMAT, "metadata key '%s' has type %s (expected %s)", key,
                        sb_gguf_type_name(kv->value.type), want);
}

sb_status sb_gguf_get_int(const sb_gguf *g, const char *key, int64_t *out, sb_error *err) {
    const sb_gguf_kv *kv;
    sb_status st = find_kv(g, key, &kv, err);
    if (st != SB_OK)
        return st;
    if (is_signed(kv->value.type)) {
        *out = kv->value.v.i64;
        return SB_OK;
    }
    if (is_unsigned(kv->value.type)) {
        if (kv->value.v.u64 > (uint64_t)INT64_MAX)
            return sb_error_set(err, SB_ERR_FORMAT, "metadata key '%s': value %" PRIu64 " is too large", key,
                                kv->value.v.u64);
        *out = (int64_t)kv->value.v.u64;
        return SB_OK;
    }
    return wrong_type(kv, key, "an integer", err);
}

sb_status sb_gguf_get_uint(const sb_gguf *g, const char *key, uint64_t *out, sb_error *err) {
    const sb_gguf_kv *kv;
    sb_status st = find_kv(g, key, &kv, err);
    if (st != SB_OK)
        return st;
    if (is_unsigned(kv->value.type)) {
        *out = kv->value.v.u64;
        return SB_OK;
    }
    if (is_signed(kv->value.type)) {
        if (kv->value.v.i64 < 0)
            return sb_error_set(err, SB_ERR_FORMAT, "metadata key '%s': value %" PRId64 " is negative", key,
                                kv->value.v.i64);
        *out = (uint64_t)kv->value.v.i64;
        return SB_OK;
    }
    return wrong_type(kv, key, "an integer", err);
}

sb_status sb_gguf_get_float(const sb_gguf *g, const char *key, double *out, sb_error *err) {
    const sb_gguf_kv *kv;
    sb_status st = find_kv(g, key, &kv, err);
    if (st != SB_OK)
        return st;
    if (kv->value.type == SB_GGUF_FLOAT32 || kv->value.type == SB_GGUF_FLOAT64)
        *out = kv->value.v.f64;
    else if (is_signed(kv->value.type))
        *out = (double)kv->value.v.i64;
    else if (is_unsigned(kv->value.type))
        *out = (double)kv->value.v.u64;
    else
        return wrong_type(kv, key, "a number", err);
    return SB_OK;
}

sb_status sb_gguf_get_bool(const sb_gguf *g, const char *key, bool *out, sb_error *err) {
    const sb_gguf_kv *kv;
    sb_status st = find_kv(g, key, &kv, err);
    if (st != SB_OK)
        return st;
    if (kv->value.type != SB_GGUF_BOOL)
        return wrong_type(kv, key, "bool", err);
    *out = kv->value.v.b;
    return SB_OK;
}

sb_status sb_gguf_get_string(const sb_gguf *g, const char *key, sb_str *out, sb_error *err) {
    const sb_gguf_kv *kv;
    sb_status st = find_kv(g, key, &kv, err);
    if (st != SB_OK)
        return st;
    if (kv->value.type != SB_GGUF_STRING)
        return wrong_type(kv, key, "str", err);
    *out = kv->value.v.str;
    return SB_OK;
}

sb_status sb_gguf_get_array(const sb_gguf *g, const char *key, const sb_gguf_array **out, sb_error *err) {
    const sb_gguf_kv *kv;
    sb_status st = find_kv(g, key, &kv, err);
    if (st != SB_OK)
        return st;
    if (kv->value.type != SB_GGUF_ARRAY)
        return wrong_type(kv, key, "arr", err);
    *out = &kv->value.v.arr;
    return SB_OK;
}

sb_str sb_gguf_array_string(const sb_gguf_array *arr, uint64_t i) {
    assert(arr->elem_type == SB_GGUF_STRING && i < arr->count);
    return arr->strings[i];
}

int64_t sb_gguf_array_int(const sb_gguf_array *arr, uint64_t i) {
    assert(i < arr->count);
    sb_gguf_value v;
    decode_scalar(arr->elem_type, arr->raw + i * sb_gguf_type_size(arr->elem_type), &v);
    if (is_signed(v.type))
        return v.v.i64;
    if (is_unsigned(v.type))
        return v.v.u64 > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v.v.u64;
    if (v.type == SB_GGUF_BOOL)
        return v.v.b;
    assert(!"not an integer array");
    return 0;
}

double sb_gguf_array_float(const sb_gguf_array *arr, uint64_t i) {
    assert(i < arr->count);
    sb_gguf_value v;
    decode_scalar(arr->elem_type, arr->raw + i * sb_gguf_type_size(arr->elem_type), &v);
    if (v.type == SB_GGUF_FLOAT32 || v.type == SB_GGUF_FLOAT64)
        return v.v.f64;
    if (is_signed(v.type))
        return (double)v.v.i64;
    if (is_unsigned(v.type))
        return (double)v.v.u64;
    assert(!"not a numeric array");
    return 0;
}
