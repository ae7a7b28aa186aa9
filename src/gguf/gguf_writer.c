/*
 * gguf_writer.c - serialises metadata and tensors into a GGUF v3 file.
 *
 * Each metadata value is encoded to its on-disk bytes when it is set, so
 * writing is a plain concatenation. Tensor offsets are assigned at write
 * time, each aligned to general.alignment (default 32).
 */
#define _GNU_SOURCE
#include "sb_gguf_writer.h"

#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_checked.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

typedef struct wkv {
    char *key;
    sb_buf enc; /* u32 type + value bytes */
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t type;
    uint32_t n_dims;
    int64_t ne[SB_GGUF_MAX_DIMS];
    uint64_t size;
    uint64_t offset;
    const void *data;
} wtensor;

struct sb_gguf_writer {
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
};

sb_gguf_writer *sb_gguf_writer_create(void) { return sb_calloc(1, sizeof(sb_gguf_writer)); }

void sb_gguf_writer_free(sb_gguf_writer *w) {
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        sb_free(w->kvs[i].key);
        sb_buf_free(&w->kvs[i].enc);
    }
    for (size_t i = 0; i < w->n_tensors; i++)
        sb_free(w->tensors[i].name);
    sb_free(w->kvs);
    sb_free(w->tensors);
    sb_free(w);
}

/* ---- encoding ----------------------------------------------------------- */

static sb_status put_u32(sb_buf *b, uint32_t v) { return sb_buf_append(b, &v, 4); }
static sb_status put_u64(sb_buf *b, uint64_t v) { return sb_buf_append(b, &v, 8); }

static sb_status put_str(sb_buf *b, const char *s, size_t len) {
    sb_status st = put_u64(b, len);
    return st != SB_OK ? st : sb_buf_append(b, s, len);
}

static sb_status encode_value(sb_buf *b, const sb_gguf_value *v, int depth);

/* Appends an array's element type, count and elements. depth is the number
 * of arrays enclosing this one; the reader accepts SB_GGUF_MAX_ARRAY_DEPTH
 * levels in all, so the writer refuses more. */
static sb_status encode_array_body(sb_buf *b, const sb_gguf_array *a, int depth) {
    if (depth + 1 > SB_GGUF_MAX_ARRAY_DEPTH)
        return SB_ERR_LIMIT;
    if ((unsigned)a->elem_type >= SB_GGUF_TYPE_COUNT)
        return SB_ERR_INVALID_ARG;
    sb_status st;
    if ((st = put_u32(b, a->elem_type)) != SB_OK || (st = put_u64(b, a->count)) != SB_OK)
        return st;
    if (a->elem_type == SB_GGUF_STRING) {
        for (uint64_t i = 0; i < a->count; i++)
            if ((st = put_str(b, a->strings[i].ptr, a->strings[i].len)) != SB_OK)
                return st;
        return SB_OK;
    }
    if (a->elem_type == SB_GGUF_ARRAY) {
        for (uint64_t i = 0; i < a->count; i++) {
            if (a->items[i].type != SB_GGUF_ARRAY)
                return SB_ERR_INVALID_ARG;
            if ((st = encode_array_body(b, &a->items[i].v.arr, depth + 1)) != SB_OK)
                return st;
        }
        return SB_OK;
    }
    size_t es = sb_gguf_type_size(a->elem_type);
    uint64_t bytes;
    if (es == 0 || !sb_mul_u64(a->count, es, &bytes) || bytes > SIZE_MAX)
        return SB_ERR_INVALID_ARG;
    if (a->elem_type == SB_GGUF_BOOL) /* the reader refuses any other byte */
        for (uint64_t i = 0; i < a->count; i++)
            if (a->raw[i] > 1)
                return SB_ERR_INVALID_ARG;
    return sb_buf_append(b, a->raw, (size_t)bytes);
}

/* Appends the scalar of v in its own type's width. */
static sb_status encode_scalar(sb_buf *b, const sb_gguf_value *v) {
    union { uint8_t u8; uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64; } x;
    size_t n = sb_gguf_type_size(v->type);
    switch (v->type) {
    case SB_GGUF_UINT8: x.u8 = (uint8_t)v->v.u64; break;
    case SB_GGUF_INT8: x.u8 = (uint8_t)(int8_t)v->v.i64; break;
    case SB_GGUF_BOOL: x.u8 = v->v.b ? 1 : 0; break;
    case SB_GGUF_UINT16: x.u16 = (uint16_t)v->v.u64; break;
    case SB_GGUF_INT16: x.u16 = (uint16_t)(int16_t)v->v.i64; break;
    case SB_GGUF_UINT32: x.u32 = (uint32_t)v->v.u64; break;
    case SB_GGUF_INT32: x.u32 = (uint32_t)(int32_t)v->v.i64; break;
    case SB_GGUF_FLOAT32: x.f32 = (float)v->v.f64; break;
    case SB_GGUF_UINT64: x.u64 = v->v.u64; break;
    case SB_GGUF_INT64: x.u64 = (uint64_t)v->v.i64; break;
    case SB_GGUF_FLOAT64: x.f64 = v->v.f64; break;
    default: return SB_ERR_INVALID_ARG;
    }
    return sb_buf_append(b, &x, n);
}

static sb_status encode_value(sb_buf *b, const sb_gguf_value *v, int depth) {
    if ((unsigned)v->type >= SB_GGUF_TYPE_COUNT)
        return SB_ERR_INVALID_ARG;
    sb_status st = put_u32(b, v->type);
    if (st != SB_OK)
        return st;
    if (v->type == SB_GGUF_STRING)
        return put_str(b, v->v.str.ptr, v->v.str.len);
    if (v->type == SB_GGUF_ARRAY)
        return encode_array_body(b, &v->v.arr, depth);
    return encode_scalar(b, v);
}

/* ---- metadata ----------------------------------------------------------- */

static wkv *find_kv(sb_gguf_writer *w, const char *key) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kvs[i].key, key) == 0)
            return &w->kvs[i];
    return NULL;
}

sb_status sb_gguf_writer_set_value(sb_gguf_writer *w, const char *key, const sb_gguf_value *v, sb_error *err) {
    if (!key[0])
        return sb_error_set(err, SB_ERR_INVALID_ARG, "metadata key is empty");
    sb_buf enc;
    sb_buf_init(&enc);
    sb_status st = encode_value(&enc, v, 0);
    if (st != SB_OK) {
        sb_buf_free(&enc);
        return sb_error_set(err, st, "key '%s': cannot encode value (%s)", key, sb_status_name(st));
    }
    wkv *kv = find_kv(w, key);
    if (kv) {
        sb_buf_free(&kv->enc);
        kv->enc = enc;
        return SB_OK;
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 32;
        wkv *n = sb_reallocarray(w->kvs, cap, sizeof *n);
        if (!n) {
            sb_buf_free(&enc);
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        }
        w->kvs = n;
        w->cap_kv = cap;
    }
    char *k = sb_strdup(key);
    if (!k) {
        sb_buf_free(&enc);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    w->kvs[w->n_kv].key = k;
    w->kvs[w->n_kv].enc = enc;
    w->n_kv++;
    return SB_OK;
}

void sb_gguf_writer_remove(sb_gguf_writer *w, const char *key) {
    wkv *kv = find_kv(w, key);
    if (!kv)
        return;
    sb_free(kv->key);
    sb_buf_free(&kv->enc);
    size_t i = (size_t)(kv - w->kvs);
    memmove(&w->kvs[i], &w->kvs[i + 1], (w->n_kv - i - 1) * sizeof *kv);
    w->n_kv--;
}

static sb_status set_scalar(sb_gguf_writer *w, const char *key, sb_gguf_value v, sb_error *err) {
    return sb_gguf_writer_set_value(w, key, &v, err);
}

sb_status sb_gguf_writer_set_u32(sb_gguf_writer *w, const char *key, uint32_t v, sb_error *err) {
    return set_scalar(w, key, (sb_gguf_value){.type = SB_GGUF_UINT32, .v.u64 = v}, err);
}
sb_status sb_gguf_writer_set_i32(sb_gguf_writer *w, const char *key, int32_t v, sb_error *err) {
    return set_scalar(w, key, (sb_gguf_value){.type = SB_GGUF_INT32, .v.i64 = v}, err);
}
sb_status sb_gguf_writer_set_u64(sb_gguf_writer *w, const char *key, uint64_t v, sb_error *err) {
    return set_scalar(w, key, (sb_gguf_value){.type = SB_GGUF_UINT64, .v.u64 = v}, err);
}
sb_status sb_gguf_writer_set_f32(sb_gguf_writer *w, const char *key, float v, sb_error *err) {
    return set_scalar(w, key, (sb_gguf_value){.type = SB_GGUF_FLOAT32, .v.f64 = v}, err);
}
sb_status sb_gguf_writer_set_bool(sb_gguf_writer *w, const char *key, bool v, sb_error *err) {
    return set_scalar(w, key, (sb_gguf_value){.type = SB_GGUF_BOOL, .v.b = v}, err);
}
sb_status sb_gguf_writer_set_string(sb_gguf_writer *w, const char *key, const char *s, size_t len, sb_error *err) {
    return set_scalar(w, key, (sb_gguf_value){.type = SB_GGUF_STRING, .v.str = {s, len}}, err);
}
sb_status sb_gguf_writer_set_array(sb_gguf_writer *w, const char *key, sb_gguf_type elem_type, const void *data,
                                   uint64_t count, sb_error *err) {
    if (sb_gguf_type_size(elem_type) == 0)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "key '%s': set_array takes numeric element types", key);
    sb_gguf_value v = {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = elem_type, .count = count, .raw = data}};
    return sb_gguf_writer_set_value(w, key, &v, err);
}
sb_status sb_gguf_writer_set_string_array(sb_gguf_writer *w, const char *key, const sb_str *strs, uint64_t count,
                                          sb_error *err) {
    sb_gguf_value v = {.type = SB_GGUF_ARRAY, .v.arr = {.elem_type = SB_GGUF_STRING, .count = count, .strings = strs}};
    return sb_gguf_writer_set_value(w, key, &v, err);
}

/* ---- tensors ------------------------------------------------------------ */

sb_status sb_gguf_writer_add_tensor(sb_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                    const int64_t *ne, const void *data, size_t *index, sb_error *err) {
    if (!name[0])
        return sb_error_set(err, SB_ERR_INVALID_ARG, "tensor name is empty");
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "duplicate tensor name '%s'", name);
    if (n_dims < 1 || n_dims > SB_GGUF_MAX_DIMS)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "tensor '%s': %u dimensions", name, n_dims);
    const sb_type_traits *tr = sb_type_traits_of(type);
    if (!tr)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "tensor '%s': unknown type %u", name, type);
    wtensor t = {.type = type, .n_dims = n_dims, .data = data};
    int64_t nelem = 1;
    for (uint32_t d = 0; d < SB_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] <= 0 || !sb_mul_i64(nelem, t.ne[d], &nelem))
            return sb_error_set(err, SB_ERR_INVALID_ARG, "tensor '%s': bad dimension %u", name, d);
    }
    uint64_t row;
    if (!sb_type_row_size(type, (uint64_t)t.ne[0], &row) || !sb_mul_u64(row, (uint64_t)(nelem / t.ne[0]), &t.size))
        return sb_error_set(err, SB_ERR_INVALID_ARG,
                            "tensor '%s': first dimension %lld is not a multiple of the %s block size %u", name,
                            (long long)t.ne[0], tr->name, tr->block_size);
    if (w->n_tensors == w->cap_tensors) {
        size_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        wtensor *n = sb_reallocarray(w->tensors, cap, sizeof *n);
        if (!n)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        w->tensors = n;
        w->cap_tensors = cap;
    }
    t.name = sb_strdup(name);
    if (!t.name)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    if (index)
        *index = w->n_tensors;
    w->tensors[w->n_tensors++] = t;
    return SB_OK;
}

/* ---- output ------------------------------------------------------------- */

typedef struct sink {
    sb_buf *mem; /* memory output, or */
    FILE *fp;    /* file output */
} sink;

static sb_status sink_write(sink *s, const void *p, size_t n) {
    if (s->mem)
        return sb_buf_append(s->mem, p, n);
    return fwrite(p, 1, n, s->fp) == n ? SB_OK : SB_ERR_IO;
}

static sb_status sink_pad(sink *s, uint64_t pos, uint32_t align) {
    static const uint8_t zeros[256];
    uint64_t pad = (align - pos % align) % align;
    while (pad > 0) {
        size_t n = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
        sb_status st = sink_write(s, zeros, n);
        if (st != SB_OK)
            return st;
        pad -= n;
    }
    return SB_OK;
}

/* The data alignment general.alignment asks for (default 32). A key the
 * reader would refuse (not a u32 power of two) is refused here too, rather
 * than written into a file nobody can open. */
static sb_status writer_alignment(sb_gguf_writer *w, uint32_t *align, sb_error *err) {
    wkv *kv = find_kv(w, "general.alignment");
    uint32_t type, a;
    *align = SB_GGUF_DEFAULT_ALIGNMENT;
    if (!kv)
        return SB_OK;
    memcpy(&type, kv->enc.data, 4);
    if (type != SB_GGUF_UINT32)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "general.alignment has type %s (must be u32)",
                            sb_gguf_type_name((sb_gguf_type)type));
    memcpy(&a, kv->enc.data + 4, 4);
    if (a == 0 || (a & (a - 1)) != 0)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "general.alignment %u is not a power of two", a);
    *align = a;
    return SB_OK;
}

/* Writes header, metadata, tensor infos, then the aligned data section. */
static sb_status write_all(sb_gguf_writer *w, sink *s, sb_gguf_fill_fn fill, void *fill_ud, sb_gguf_progress_fn progress,
                           void *progress_ud, sb_error *err) {
    uint32_t align;
    sb_status ast = writer_alignment(w, &align, err);
    if (ast != SB_OK)
        return ast;
    uint64_t off = 0, total = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        w->tensors[i].offset = off;
        if (!sb_add_u64(off, w->tensors[i].size, &off) || !sb_align_up_u64(off, align, &off))
            return sb_error_set(err, SB_ERR_INVALID_ARG, "tensor data too large");
        total += w->tensors[i].size;
        if (!w->tensors[i].data && !fill)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "tensor '%s' has no data", w->tensors[i].name);
    }
    sb_buf head;
    sb_buf_init(&head);
    sb_status st = SB_OK;
    uint32_t magic = SB_GGUF_MAGIC, version = 3;
    st = sb_buf_append(&head, &magic, 4);
    if (st == SB_OK) st = sb_buf_append(&head, &version, 4);
    if (st == SB_OK) st = put_u64(&head, w->n_tensors);
    if (st == SB_OK) st = put_u64(&head, w->n_kv);
    for (size_t i = 0; st == SB_OK && i < w->n_kv; i++) {
        st = put_str(&head, w->kvs[i].key, strlen(w->kvs[i].key));
        if (st == SB_OK)
            st = sb_buf_append(&head, w->kvs[i].enc.data, w->kvs[i].enc.len);
    }
    for (size_t i = 0; st == SB_OK && i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        st = put_str(&head, t->name, strlen(t->name));
        if (st == SB_OK) st = put_u32(&head, t->n_dims);
        for (uint32_t d = 0; st == SB_OK && d < t->n_dims; d++)
            st = put_u64(&head, (uint64_t)t->ne[d]);
        if (st == SB_OK) st = put_u32(&head, t->type);
        if (st == SB_OK) st = put_u64(&head, t->offset);
    }
    if (st == SB_OK)
        st = sink_write(s, head.data, head.len);
    uint64_t pos = head.len;
    sb_buf_free(&head);
    /* The data section starts aligned. A file without tensors has none and
     * ends after the tensor infos (as gguf-py writes vocab-only files), so a
     * large alignment does not pad an empty file. */
    if (st == SB_OK && w->n_tensors > 0)
        st = sink_pad(s, pos, align);
    if (st != SB_OK)
        return sb_error_set(err, st, "writing the GGUF header failed (%s)", sb_status_name(st));

    uint64_t done = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        wtensor *t = &w->tensors[i];
        if (t->size > SIZE_MAX)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "tensor '%s' is too large", t->name);
        if (t->data) {
            st = sink_write(s, t->data, (size_t)t->size);
        } else {
            void *buf = sb_malloc((size_t)t->size);
            if (!buf)
                return sb_error_set(err, SB_ERR_NOMEM, "out of memory for tensor '%s'", t->name);
            st = fill(fill_ud, i, buf, t->size, err);
            if (st != SB_OK) {
                sb_free(buf);
                return st;
            }
            st = sink_write(s, buf, (size_t)t->size);
            sb_free(buf);
        }
        if (st == SB_OK)
            st = sink_pad(s, t->size, align);
        if (st != SB_OK)
            return sb_error_set(err, st, "writing tensor '%s' failed (%s)", t->name, sb_status_name(st));
        done += t->size;
        if (progress)
            progress(progress_ud, done, total);
    }
    return SB_OK;
}

sb_status sb_gguf_writer_write_memory(sb_gguf_writer *w, void **out, size_t *out_len, sb_gguf_fill_fn fill,
                                      void *fill_ud, sb_error *err) {
    sb_buf b;
    sb_buf_init(&b);
    sink s = {.mem = &b};
    sb_status st = write_all(w, &s, fill, fill_ud, NULL, NULL, err);
    if (st != SB_OK) {
        sb_buf_free(&b);
        return st;
    }
    *out = sb_buf_detach(&b, out_len);
    if (!*out)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    return SB_OK;
}

/* Makes a rename into path's directory durable (best effort, as in
 * sb_file_write_atomic). */
static void fsync_parent_dir(const char *path) {
    char *dup = sb_strdup(path);
    if (!dup)
        return;
    int dfd = open(dirname(dup), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    sb_free(dup);
}

sb_status sb_gguf_writer_write(sb_gguf_writer *w, const char *path, sb_gguf_fill_fn fill, void *fill_ud,
                               sb_gguf_progress_fn progress, void *progress_ud, sb_error *err) {
    /* A fresh temporary name beside path, created exclusively (O_EXCL: never
     * an existing file or a planted symlink; unique between threads and
     * processes), renamed over path once complete. */
    static atomic_uint seq;
    sb_buf tmp;
    sb_buf_init(&tmp);
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < 100; attempt++) {
        sb_buf_reset(&tmp);
        if (sb_buf_printf(&tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&seq, 1)) != SB_OK) {
            sb_buf_free(&tmp);
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory");
        }
        fd = open(tmp.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    FILE *fp = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!fp) {
        sb_status st = sb_error_set(err, SB_ERR_IO, "cannot create %s: %s", tmp.data, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp.data);
        }
        sb_buf_free(&tmp);
        return st;
    }
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    sink s = {.fp = fp};
    sb_status st = write_all(w, &s, fill, fill_ud, progress, progress_ud, err);
    if (st == SB_OK && (fflush(fp) != 0 || fsync(fileno(fp)) != 0))
        st = sb_error_set(err, SB_ERR_IO, "cannot write %s: %s", tmp.data, strerror(errno));
    if (fclose(fp) != 0 && st == SB_OK)
        st = sb_error_set(err, SB_ERR_IO, "cannot write %s: %s", tmp.data, strerror(errno));
    if (st == SB_OK && rename(tmp.data, path) != 0)
        st = sb_error_set(err, SB_ERR_IO, "cannot rename %s to %s: %s", tmp.data, path, strerror(errno));
    if (st != SB_OK)
        unlink(tmp.data);
    sb_buf_free(&tmp);
    if (st == SB_OK)
        fsync_parent_dir(path);
    return st;
}
