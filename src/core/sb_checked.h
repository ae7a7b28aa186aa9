/*
 * sb_checked.h - overflow-safe size arithmetic.
 *
 * Every size or offset that comes from a file or a request is combined with
 * these helpers; each returns true when the result fits and stores it in *out.
 */
#ifndef SB_CHECKED_H
#define SB_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline bool sb_add_size(size_t a, size_t b, size_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool sb_mul_size(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool sb_add_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool sb_mul_u64(uint64_t a, uint64_t b, uint64_t *out) { return !__builtin_mul_overflow(a, b, out); }
static inline bool sb_add_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_add_overflow(a, b, out); }
static inline bool sb_mul_i64(int64_t a, int64_t b, int64_t *out) { return !__builtin_mul_overflow(a, b, out); }

/* Rounds x up to a multiple of align (align > 0); false on overflow. */
static inline bool sb_align_up_u64(uint64_t x, uint64_t align, uint64_t *out) {
    uint64_t rem = x % align;
    if (rem == 0) {
        *out = x;
        return true;
    }
    return sb_add_u64(x, align - rem, out);
}

/* True when the range [off, off+len) lies inside [0, total). */
static inline bool sb_range_ok(uint64_t off, uint64_t len, uint64_t total) {
    return off <= total && len <= total - off;
}

#endif
