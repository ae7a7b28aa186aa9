/*
 * sb_file.h - read-only file mappings and crash-safe writes.
 */
#ifndef SB_FILE_H
#define SB_FILE_H

#include "sb_error.h"

#include <stddef.h>
#include <stdint.h>

typedef struct sb_mapped_file sb_mapped_file;

/* Maps path read-only (MAP_PRIVATE). An empty file maps to size 0 with a
 * non-NULL data pointer. The caller frees with sb_mapped_file_free. */
sb_status sb_file_map(const char *path, sb_mapped_file **out, sb_error *err);
const uint8_t *sb_mapped_file_data(const sb_mapped_file *f);
size_t sb_mapped_file_size(const sb_mapped_file *f);
const char *sb_mapped_file_path(const sb_mapped_file *f);
/* Asks the kernel to read the mapping ahead (madvise WILLNEED). */
void sb_mapped_file_prefetch(const sb_mapped_file *f);
void sb_mapped_file_free(sb_mapped_file *f);

/* Reads a whole file into a NUL-terminated buffer the caller frees with
 * sb_free. Fails with SB_ERR_LIMIT if the file exceeds max_size bytes. */
sb_status sb_file_read_all(const char *path, size_t max_size, char **data, size_t *len, sb_error *err);

/* Writes data to path so that a crash leaves either the old or the new file:
 * temporary file in the same directory, fsync, rename, fsync of the directory. */
sb_status sb_file_write_atomic(const char *path, const void *data, size_t len, sb_error *err);

#endif
