/*
 * sb_gguf.h - GGUF reader.
 *
 * THE FILE FORMAT (GGUF v2 and v3; all integers little-endian)
 *
 *   header
 *     u32  magic        "GGUF" (bytes 47 47 55 46)
 *     u32  version      2 or 3 (1 used 32-bit counts and is refused)
 *     u64  n_tensors
 *     u64  n_kv
 *   n_kv metadata entries
 *     str  key          u64 length + bytes, no NUL; unique, non-empty
 *     u32  value type   0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool,
 *                       8 str, 9 array, 10 u64, 11 i64, 12 f64
 *     ...  value        arrays: u32 element type, u64 count, count elements
 *                       (elements may themselves be arrays)
 *   n_tensors tensor infos
 *     str  name         unique, non-empty
 *     u32  n_dims       1..4
 *     u64  ne[n_dims]   each >= 1 and < 2^63; ne[0] a multiple of the block size
 *     u32  type         a tensor type id (sb_tensor_type.h)
 *     u64  offset       from the start of the data section; a multiple of the alignment
 *   padding to `general.alignment` (u32 key, a power of two; default 32)
 *   data section: each tensor's bytes at its offset, within the file
 *
 * The file is untrusted. Every count, length, offset and size is checked
 * against the bytes that remain before it is used, with overflow-safe
 * arithmetic; each kind of damage gets its own error message naming the key
 * or tensor. Nothing is read outside [data, data + size).
 *
 * Ownership: sb_gguf_open maps the file; tensor data and every string handed
 * out point into that mapping and stay valid until sb_gguf_close. Nothing is
 * copied except the small index of entries.
 */
#ifndef SB_GGUF_H
#define SB_GGUF_H

#include "sb_error.h"
#include "sb_str.h"
#include "sb_tensor_type.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define SB_GGUF_DEFAULT_ALIGNMENT 32
#define SB_GGUF_MAX_DIMS 4
#define SB_GGUF_MAX_ARRAY_DEPTH 8

typedef enum sb_gguf_type {
    SB_GGUF_UINT8 = 0,
    SB_GGUF_INT8 = 1,
    SB_GGUF_UINT16 = 2,
    SB_GGUF_INT16 = 3,
    SB_GGUF_UINT32 = 4,
    SB_GGUF_INT32 = 5,
    SB_GGUF_FLOAT32 = 6,
    SB_GGUF_BOOL = 7,
    SB_GGUF_STRING = 8,
    SB_GGUF_ARRAY = 9,
    SB_GGUF_UINT64 = 10,
    SB_GGUF_INT64 = 11,
    SB_GGUF_FLOAT64 = 12,
    SB_GGUF_TYPE_COUNT
} sb_gguf_type;

typedef struct sb_gguf_value sb_gguf_value;

/* An array value. Numeric and bool elements are left in place in the file
 * (`raw`, little-endian, possibly unaligned: use the accessors); strings and
 * nested arrays are indexed at open time. */
typedef struct sb_gguf_array {
    sb_gguf_type elem_type;
    uint64_t count;
    const uint8_t *raw;         /* numeric/bool elements: count * elem size bytes */
    const sb_str *strings;      /* elem_type == STRING: count entries (NULL if count is 0) */
    const sb_gguf_value *items; /* elem_type == ARRAY: count nested array values (NULL if count is 0) */
} sb_gguf_array;

struct sb_gguf_value {
    sb_gguf_type type;
    union {
        uint64_t u64; /* UINT8/16/32/64 */
        int64_t i64;  /* INT8/16/32/64 */
        double f64;   /* FLOAT32/64 */
        bool b;       /* BOOL */
        sb_str str;   /* STRING */
        sb_gguf_array arr;
    } v;
};

typedef struct sb_gguf_kv {
    sb_str key;
    sb_gguf_value value;
} sb_gguf_kv;

typedef struct sb_gguf_tensor {
    sb_str name;
    uint32_t n_dims;
    int64_t ne[SB_GGUF_MAX_DIMS]; /* dimensions, innermost first; unused ones are 1 */
    uint32_t type;                /* an sb_tensor_type id */
    uint64_t offset;              /* from the start of the data section */
    uint64_t size;                /* bytes */
    const void *data;             /* into the mapping */
} sb_gguf_tensor;

typedef struct sb_gguf sb_gguf;

/* Maps and validates a GGUF file. The caller frees with sb_gguf_close. */
sb_status sb_gguf_open(const char *path, sb_gguf **out, sb_error *err);

/* Validates a GGUF image in memory. The bytes are borrowed: they must stay
 * valid and unchanged until sb_gguf_close. */
sb_status sb_gguf_open_memory(const void *data, size_t size, sb_gguf **out, sb_error *err);

void sb_gguf_close(sb_gguf *g);

uint32_t sb_gguf_version(const sb_gguf *g);
uint32_t sb_gguf_alignment(const sb_gguf *g);
uint64_t sb_gguf_data_offset(const sb_gguf *g); /* start of the data section in the file */
uint64_t sb_gguf_file_size(const sb_gguf *g);
const uint8_t *sb_gguf_file_data(const sb_gguf *g); /* the whole mapped file */
const char *sb_gguf_path(const sb_gguf *g);         /* "" for memory images */

/* Metadata, in file order. */
size_t sb_gguf_n_kv(const sb_gguf *g);
const sb_gguf_kv *sb_gguf_kv_at(const sb_gguf *g, size_t i);
/* The entry with this key, or NULL. */
const sb_gguf_kv *sb_gguf_find(const sb_gguf *g, const char *key);

/* Typed getters. Each returns SB_OK and stores the value, SB_ERR_NOT_FOUND if
 * the key is absent, or SB_ERR_FORMAT (with a message naming the key) if the
 * value has the wrong type or does not fit. */
sb_status sb_gguf_get_int(const sb_gguf *g, const char *key, int64_t *out, sb_error *err);   /* any integer type */
sb_status sb_gguf_get_uint(const sb_gguf *g, const char *key, uint64_t *out, sb_error *err); /* any non-negative integer */
sb_status sb_gguf_get_float(const sb_gguf *g, const char *key, double *out, sb_error *err); /* f32, f64 or integer */
sb_status sb_gguf_get_bool(const sb_gguf *g, const char *key, bool *out, sb_error *err);
sb_status sb_gguf_get_string(const sb_gguf *g, const char *key, sb_str *out, sb_error *err);
sb_status sb_gguf_get_array(const sb_gguf *g, const char *key, const sb_gguf_array **out, sb_error *err);

/* Array element accessors; i < arr->count and the element type must match
 * (they assert: check elem_type first). */
sb_str sb_gguf_array_string(const sb_gguf_array *arr, uint64_t i);
int64_t sb_gguf_array_int(const sb_gguf_array *arr, uint64_t i);    /* integer and bool types; u64 > INT64_MAX saturates */
double sb_gguf_array_float(const sb_gguf_array *arr, uint64_t i);   /* f32, f64 and integer types */
/* Size in bytes of one element of a fixed-size type (0 for STRING/ARRAY). */
size_t sb_gguf_type_size(sb_gguf_type t);
const char *sb_gguf_type_name(sb_gguf_type t);

/* Tensors, in file order. */
size_t sb_gguf_n_tensors(const sb_gguf *g);
const sb_gguf_tensor *sb_gguf_tensor_at(const sb_gguf *g, size_t i);
/* The tensor with this name, or NULL. */
const sb_gguf_tensor *sb_gguf_find_tensor(const sb_gguf *g, const char *name);
/* Number of elements of a tensor (fits in int64: checked at open). */
int64_t sb_gguf_tensor_nelements(const sb_gguf_tensor *t);

#endif
