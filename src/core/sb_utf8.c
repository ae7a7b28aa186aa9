#include "sb_utf8.h"

size_t sb_utf8_seq_len(unsigned char c) {
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return 2;
    if (c < 0xF0)
        return 3;
    if (c < 0xF5)
        return 4;
    return 0;
}

size_t sb_utf8_decode(const char *str, size_t n, uint32_t *cp, bool *valid) {
    const unsigned char *s = (const unsigned char *)str;
    size_t len = sb_utf8_seq_len(s[0]);
    if (len == 1) {
        *cp = s[0];
        if (valid)
            *valid = true;
        return 1;
    }
    if (len == 0 || len > n)
        goto bad;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            goto bad;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) || (c >= 0xD800 && c <= 0xDFFF))
        goto bad;
    *cp = c;
    if (valid)
        *valid = true;
    return len;
bad:
    *cp = SB_UTF8_REPLACEMENT;
    if (valid)
        *valid = false;
    return 1;
}

size_t sb_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
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

bool sb_utf8_valid(const char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        bool ok;
        i += sb_utf8_decode(s + i, n - i, &cp, &ok);
        if (!ok)
            return false;
    }
    return true;
}

size_t sb_utf8_complete_prefix(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    /* Look back at most 3 bytes for a lead byte whose sequence is cut off. */
    size_t back = n < 4 ? n : 4;
    for (size_t k = 1; k <= back; k++) {
        unsigned char c = s[n - k];
        if ((c & 0xC0) == 0x80)
            continue; /* continuation byte: keep looking for the lead */
        size_t len = sb_utf8_seq_len(c);
        if (len > k) {
            /* Incomplete only if the bytes we have are valid continuations. */
            for (size_t j = 1; j < k; j++)
                if ((s[n - k + j] & 0xC0) != 0x80)
                    return n;
            return n - k;
        }
        return n;
    }
    return n;
}
