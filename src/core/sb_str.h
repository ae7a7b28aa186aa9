/*
 * sb_str.h - a borrowed byte string (pointer + length, not NUL-terminated).
 *
 * Strings inside a mapped GGUF file, token pieces and request fields are
 * referred to this way without copying; the owner of the bytes outlives the
 * sb_str.
 */
#ifndef SB_STR_H
#define SB_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct sb_str {
    const char *ptr;
    size_t len;
} sb_str;

static inline sb_str sb_str_from_cstr(const char *s) { return (sb_str){s, strlen(s)}; }

static inline bool sb_str_eq(sb_str a, sb_str b) { return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0); }

static inline bool sb_str_eq_cstr(sb_str a, const char *b) { return sb_str_eq(a, sb_str_from_cstr(b)); }

#endif
