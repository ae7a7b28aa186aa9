/*
 * gguf_test_util.h - helpers shared by the GGUF tests: a raw byte builder for
 * hand-made (and deliberately broken) GGUF images, exact-size copies so ASan
 * sees any read past the end, and an "open must fail like this" check.
 */
#ifndef GGUF_TEST_UTIL_H
#define GGUF_TEST_UTIL_H

#include "sb_buf.h"
#include "sb_gguf.h"

#include <stddef.h>
#include <stdint.h>

/* Raw little-endian appends to an sb_buf (the test aborts on OOM). */
void gb_bytes(sb_buf *b, const void *p, size_t n);
void gb_u8(sb_buf *b, uint8_t v);
void gb_u32(sb_buf *b, uint32_t v);
void gb_u64(sb_buf *b, uint64_t v);
void gb_str(sb_buf *b, const char *s); /* u64 length + bytes */
void gb_header(sb_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv);
void gb_key(sb_buf *b, const char *key, uint32_t type); /* key + value type */
/* A tensor info; ne has n_dims entries. */
void gb_tensor(sb_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset);
/* Zero bytes up to a multiple of align. */
void gb_pad(sb_buf *b, size_t align);

/* A heap copy of exactly n bytes (never NULL; free with free()). */
uint8_t *exact_copy(const void *p, size_t n);

/* Opens an exact copy of [p, p+n) and checks it fails with `code` and a
 * message containing `substr`, and that a NULL error gives the same status.
 * When seeds are being written (gguf_seed_dir set), also saves the image as
 * <dir>/<name>.gguf. Returns the error message (static storage). */
const char *expect_open_fail_at(const char *name, const void *p, size_t n, sb_status code, const char *substr,
                                const char *file, int line);
#define EXPECT_FAIL(name, buf, code, substr) \
    expect_open_fail_at((name), (buf)->data, (buf)->len, (code), (substr), __FILE__, __LINE__)

/* Directory hostile images are saved into (NULL: don't save). */
extern const char *gguf_seed_dir;
void gguf_save_seed(const char *name, const void *p, size_t n);

/* Deterministic pseudo-random bytes. */
void fill_pattern(void *dst, size_t n, uint32_t seed);

#endif
