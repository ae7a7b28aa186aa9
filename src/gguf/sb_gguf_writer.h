/*
 * sb_gguf_writer.h - writes GGUF v3 files (format in sb_gguf.h).
 *
 * Build the metadata and the tensor list, then write: the header, the
 * tensor infos and the aligned data section go to a temporary file that is
 * fsynced and renamed over the target, so a crash never leaves a half
 * written model under the final name. Tensor bytes come from a pointer set
 * beforehand or from a callback called once per tensor, in order, so a
 * quantizer can produce one tensor at a time instead of holding the model.
 */
#ifndef SB_GGUF_WRITER_H
#define SB_GGUF_WRITER_H

#include "sb_gguf.h"

typedef struct sb_gguf_writer sb_gguf_writer;

/* Produces tensor `index`'s `size` bytes into dst. */
typedef sb_status (*sb_gguf_fill_fn)(void *ud, size_t index, void *dst, uint64_t size, sb_error *err);

/* Progress after each tensor (done of total bytes); may be NULL. */
typedef void (*sb_gguf_progress_fn)(void *ud, uint64_t done, uint64_t total);

/* NULL on out of memory. Freed with sb_gguf_writer_free. */
sb_gguf_writer *sb_gguf_writer_create(void);
void sb_gguf_writer_free(sb_gguf_writer *w);

/* Metadata setters copy key and value. Setting an existing key replaces its
 * value in place (file order is kept). Values the reader would refuse are
 * refused: arrays nested deeper than SB_GGUF_MAX_ARRAY_DEPTH (SB_ERR_LIMIT),
 * bool elements other than 0/1 and unknown types (SB_ERR_INVALID_ARG). */
sb_status sb_gguf_writer_set_u32(sb_gguf_writer *w, const char *key, uint32_t v, sb_error *err);
sb_status sb_gguf_writer_set_i32(sb_gguf_writer *w, const char *key, int32_t v, sb_error *err);
sb_status sb_gguf_writer_set_u64(sb_gguf_writer *w, const char *key, uint64_t v, sb_error *err);
sb_status sb_gguf_writer_set_f32(sb_gguf_writer *w, const char *key, float v, sb_error *err);
sb_status sb_gguf_writer_set_bool(sb_gguf_writer *w, const char *key, bool v, sb_error *err);
sb_status sb_gguf_writer_set_string(sb_gguf_writer *w, const char *key, const char *s, size_t len, sb_error *err);
/* A numeric array: count elements of elem_type, little-endian, from data. */
sb_status sb_gguf_writer_set_array(sb_gguf_writer *w, const char *key, sb_gguf_type elem_type, const void *data,
                                   uint64_t count, sb_error *err);
sb_status sb_gguf_writer_set_string_array(sb_gguf_writer *w, const char *key, const sb_str *strs, uint64_t count,
                                          sb_error *err);
/* Any value, deep-copied (e.g. from a reader's sb_gguf_kv). */
sb_status sb_gguf_writer_set_value(sb_gguf_writer *w, const char *key, const sb_gguf_value *v, sb_error *err);
/* Removes a key if present. */
void sb_gguf_writer_remove(sb_gguf_writer *w, const char *key);

/* Adds a tensor (n_dims 1..4, ne innermost first). `data`, if not NULL, is
 * borrowed until the write. Returns its index in *index (may be NULL). */
sb_status sb_gguf_writer_add_tensor(sb_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                                    const int64_t *ne, const void *data, size_t *index, sb_error *err);

/* Writes the file. Tensors without data get their bytes from fill (which
 * must then be non-NULL). The data section is aligned to general.alignment
 * (default 32); a general.alignment that is not a u32 power of two fails
 * with SB_ERR_INVALID_ARG, as the reader would refuse the file. A file
 * without tensors ends right after its metadata (no padding). */
sb_status sb_gguf_writer_write(sb_gguf_writer *w, const char *path, sb_gguf_fill_fn fill, void *fill_ud,
                               sb_gguf_progress_fn progress, void *progress_ud, sb_error *err);

/* Serialises the whole file into memory (for tests and small files); the
 * caller frees *out with sb_free. */
sb_status sb_gguf_writer_write_memory(sb_gguf_writer *w, void **out, size_t *out_len, sb_gguf_fill_fn fill,
                                      void *fill_ud, sb_error *err);

#endif
