/*
 * sb_utf8.h - UTF-8 decoding, encoding and validation.
 *
 * Decoding is strict (no overlongs, no surrogates, nothing above U+10FFFF);
 * invalid bytes are reported, never read past the given length.
 */
#ifndef SB_UTF8_H
#define SB_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SB_UTF8_REPLACEMENT 0xFFFDu

/* Length of the sequence announced by a lead byte (1..4), or 0 for a byte
 * that cannot start a sequence (continuation byte, 0xF8..0xFF, 0xC0, 0xC1). */
size_t sb_utf8_seq_len(unsigned char lead);

/* Decodes one code point from s[0..n) (n >= 1). Returns the bytes consumed
 * (>= 1). On an invalid or truncated sequence returns 1, sets *cp to
 * SB_UTF8_REPLACEMENT and *valid (if not NULL) to false. */
size_t sb_utf8_decode(const char *s, size_t n, uint32_t *cp, bool *valid);

/* Encodes cp (<= 0x10FFFF, not a surrogate) into out; returns 1..4, or 0 for
 * an invalid code point. */
size_t sb_utf8_encode(uint32_t cp, char out[4]);

bool sb_utf8_valid(const char *s, size_t n);

/* Length of the longest prefix of s[0..n) that does not end inside an
 * incomplete (but so far valid) multi-byte sequence. Invalid bytes count as
 * complete: they will never become valid by waiting for more input. */
size_t sb_utf8_complete_prefix(const char *s, size_t n);

#endif
