/*
 * tok_unicode.h - Unicode helpers with llama.cpp's exact semantics.
 *
 * The tokenizers classify code points the way llama.cpp does: one category
 * flag per code point (\p{L}, \p{N}, ... from the UCD general category, Cn =
 * UNDEFINED), a separate White_Space flag, the simple lowercase mapping and
 * "the first code point of the NFD form" (which is how llama.cpp's BERT
 * normaliser strips accents). UTF-8 is decoded leniently as llama.cpp does:
 * an invalid lead byte or a truncated sequence becomes U+FFFD and consumes
 * one byte; overlong forms and surrogates are accepted. The tables live in
 * the generated tok_unicode_data.c (scripts/gen_unicode_tables.py).
 */
#ifndef SB_TOK_UNICODE_H
#define SB_TOK_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    SB_UC_UNDEFINED = 0x0001,
    SB_UC_NUMBER = 0x0002,
    SB_UC_LETTER = 0x0004,
    SB_UC_SEPARATOR = 0x0008,
    SB_UC_MARK = 0x0010,
    SB_UC_PUNCT = 0x0020,
    SB_UC_SYMBOL = 0x0040,
    SB_UC_CONTROL = 0x0080,
    SB_UC_CATEGORY_MASK = 0x00FF,
    SB_UC_WHITESPACE = 0x0100,
};

#define SB_UC_MAX 0x110000u

typedef struct sb_uc_pair {
    uint32_t cp, value;
} sb_uc_pair;

typedef struct sb_uc_range {
    uint32_t first, last, value;
} sb_uc_range;

/* Generated tables (tok_unicode_data.c). */
extern const uint16_t sb_uc_stage1[SB_UC_MAX / 128];
extern const char sb_uc_stage2[][129];
extern const uint32_t sb_uc_whitespace[];
extern const size_t sb_uc_whitespace_count;
extern const sb_uc_pair sb_uc_lowercase[];
extern const size_t sb_uc_lowercase_count;
extern const sb_uc_range sb_uc_nfd_ranges[];
extern const size_t sb_uc_nfd_ranges_count;

/* Category flag plus SB_UC_WHITESPACE; SB_UC_UNDEFINED above U+10FFFF. */
static inline uint16_t sb_uc_flags(uint32_t cp) {
    if (cp >= SB_UC_MAX)
        return SB_UC_UNDEFINED;
    uint16_t f = (uint16_t)(1u << (sb_uc_stage2[sb_uc_stage1[cp >> 7]][cp & 127] - '0'));
    if (cp <= 0x20 ? (cp == 0x20 || (cp >= 0x09 && cp <= 0x0D))
                   : (cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
                      cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000))
        f |= SB_UC_WHITESPACE;
    return f;
}

/* Simple lowercase mapping (the code point itself when there is none). */
uint32_t sb_uc_tolower(uint32_t cp);

/* First code point of the canonical decomposition (the code point itself
 * when it does not decompose). */
uint32_t sb_uc_nfd_first(uint32_t cp);

/* llama.cpp's byte-length-from-lead-byte (1 for continuation bytes, 4 for
 * 0xF8..0xFF); callers clamp it to the bytes left. */
static inline size_t sb_uc_lead_len(unsigned char c) {
    static const unsigned char lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[c >> 4];
}

/* Lenient decode of one code point from s[0..n) (n >= 1); returns the bytes
 * consumed (1 for an invalid sequence, which yields U+FFFD). */
size_t sb_uc_decode(const char *s, size_t n, uint32_t *cp);

/* Encodes any cp <= 0x10FFFF (surrogates included, as llama.cpp does) into
 * out; returns 1..4, or 0 for cp > 0x10FFFF. */
size_t sb_uc_encode(uint32_t cp, char out[4]);

/* GPT-2 byte-level map: byte -> code point of its printable stand-in, and
 * back (returns -1 for a code point that stands for no byte). */
uint32_t sb_uc_byte_to_cp(uint8_t b);
int sb_uc_cp_to_byte(uint32_t cp);

#endif
