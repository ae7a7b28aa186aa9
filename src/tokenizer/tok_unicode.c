/*
 * tok_unicode.c - lookups over the generated Unicode tables, lenient UTF-8
 * and the GPT-2 byte <-> code point map (see tok_unicode.h).
 */
#include "tok_unicode.h"

/* Binary search of the sorted lowercase pairs: the tables are static, so
 * this needs no allocation and is safe from any thread. */
uint32_t sb_uc_tolower(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    size_t lo = 0, hi = sb_uc_lowercase_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sb_uc_lowercase[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < sb_uc_lowercase_count && sb_uc_lowercase[lo].cp == cp)
        return sb_uc_lowercase[lo].value;
    return cp;
}

/* Binary search of the NFD-first ranges (sorted, non-overlapping). */
uint32_t sb_uc_nfd_first(uint32_t cp) {
    if (cp < 0xC0)
        return cp;
    size_t lo = 0, hi = sb_uc_nfd_ranges_count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sb_uc_nfd_ranges[mid].last < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < sb_uc_nfd_ranges_count && sb_uc_nfd_ranges[lo].first <= cp && cp <= sb_uc_nfd_ranges[lo].last)
        return sb_uc_nfd_ranges[lo].value;
    return cp;
}

/* Mirrors llama.cpp's decoder: the lead byte's high bits pick the length,
 * every following byte must be a continuation byte, nothing else is checked
 * (overlong forms, surrogates and values up to 0x1FFFFF pass). */
size_t sb_uc_decode(const char *str, size_t n, uint32_t *cp) {
    const unsigned char *s = (const unsigned char *)str;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v;
    if (!(c & 0x40))
        goto bad;
    if (!(c & 0x20)) {
        len = 2;
        v = c & 0x1F;
    } else if (!(c & 0x10)) {
        len = 3;
        v = c & 0x0F;
    } else if (!(c & 0x08)) {
        len = 4;
        v = c & 0x07;
    } else {
        goto bad;
    }
    if (len > n)
        goto bad;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            goto bad;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
bad:
    *cp = 0xFFFD;
    return 1;
}

size_t sb_uc_encode(uint32_t cp, char out[4]) {
    if (cp <= 0x7F) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp <= 0x7FF) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp <= 0xFFFF) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp <= 0x10FFFF) {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

/* Bytes that are printable Latin-1 stand for themselves; the other 68
 * (0x00-0x20, 0x7F-0xA0, 0xAD) map, in byte order, to U+0100..U+0143. */
static bool byte_is_printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

uint32_t sb_uc_byte_to_cp(uint8_t b) {
    if (byte_is_printable(b))
        return b;
    if (b <= 0x20)
        return 256u + b;
    if (b <= 0xA0)
        return 256u + 33u + (b - 0x7Fu);
    return 256u + 67u; /* 0xAD */
}

int sb_uc_cp_to_byte(uint32_t cp) {
    if (cp < 256)
        return byte_is_printable(cp) ? (int)cp : -1;
    if (cp <= 256 + 32)
        return (int)(cp - 256);
    if (cp <= 256 + 66)
        return (int)(cp - 256 - 33 + 0x7F);
    if (cp == 256 + 67)
        return 0xAD;
    return -1;
}
