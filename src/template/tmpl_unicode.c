/*
 * tmpl_unicode.c - the bits of Python's Unicode behaviour templates rely on:
 * whitespace (str.strip/split), simple case mapping (upper/lower/title) for
 * Latin, Greek, Cyrillic, Armenian and fullwidth letters, rough letter/digit
 * classes, and which characters repr() escapes.
 *
 * Full Unicode tables would be large; this covers the scripts chat templates
 * touch (role names, tool names, JSON keys). Outside them, characters are
 * treated as caseless letters, which is what Python does for most scripts.
 */
#include "tmpl_internal.h"

#include "sb_utf8.h"

/* Python str.isspace() for one code point. */
bool uc_isspace(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

typedef struct ucase_delta {
    uint32_t lo, hi; /* lower-case range */
    int32_t delta;   /* upper = lower + delta */
} ucase_delta;

static const ucase_delta k_delta[] = {
    {0x61, 0x7A, -32},      {0xE0, 0xF6, -32},     {0xF8, 0xFE, -32},     {0x3B1, 0x3C1, -32},
    {0x3C3, 0x3CB, -32},    {0x3AD, 0x3AF, -37},   {0x3CD, 0x3CE, -63},   {0x430, 0x44F, -32},
    {0x450, 0x45F, -80},    {0x561, 0x586, -48},   {0x2170, 0x217F, -16}, {0x24D0, 0x24E9, -26},
    {0xFF41, 0xFF5A, -32},  {0x10428, 0x1044F, -40},
};

typedef struct ucase_alt {
    uint32_t lo, hi;
    uint32_t upper_parity; /* (cp & 1) of the upper-case member of each pair */
} ucase_alt;

static const ucase_alt k_alt[] = {
    {0x100, 0x12F, 0},  {0x132, 0x137, 0},  {0x139, 0x148, 1},   {0x14A, 0x177, 0},   {0x179, 0x17E, 1},
    {0x1CD, 0x1DC, 1},  {0x1DE, 0x1EF, 0},  {0x1F8, 0x21F, 0},   {0x222, 0x233, 0},   {0x246, 0x24F, 0},
    {0x460, 0x481, 0},  {0x48A, 0x4BF, 0},  {0x4C1, 0x4CE, 1},   {0x4D0, 0x52F, 0},   {0x1E00, 0x1E95, 0},
    {0x1EA0, 0x1EFF, 0},
};

typedef struct ucase_pair {
    uint32_t lower, upper;
} ucase_pair;

/* Irregular pairs that map both ways. */
static const ucase_pair k_pairs[] = {{0xFF, 0x178}, {0x3AC, 0x386}, {0x3CC, 0x38C}, {0x4CF, 0x4C0}};
/* Lower-case letters whose upper case is not their own pair. */
static const ucase_pair k_upper_only[] = {{0xB5, 0x39C}, {0x3C2, 0x3A3}, {0x131, 0x49}, {0x17F, 0x53}};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The Latin digraphs DŽ/Dž/dž, LJ/Lj/lj, NJ/Nj/nj, DZ/Dz/dz come in threes:
 * upper, title, lower. Returns the member `which` (0, 1, 2) of cp's triple, or 0. */
static uint32_t digraph(uint32_t cp, int which) {
    static const uint32_t starts[] = {0x1C4, 0x1C7, 0x1CA, 0x1F1};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
        if (cp >= starts[i] && cp < starts[i] + 3)
            return starts[i] + (uint32_t)which;
    return 0;
}

/* Simple (one to one) case mappings. */
uint32_t uc_upper(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') ? cp - 32 : cp;
    if (digraph(cp, 0))
        return digraph(cp, 0);
    for (size_t i = 0; i < NELEM(k_delta); i++)
        if (cp >= k_delta[i].lo && cp <= k_delta[i].hi)
            return (uint32_t)((int32_t)cp + k_delta[i].delta);
    for (size_t i = 0; i < NELEM(k_alt); i++)
        if (cp >= k_alt[i].lo && cp <= k_alt[i].hi)
            return (cp & 1) == k_alt[i].upper_parity ? cp : cp - 1;
    for (size_t i = 0; i < NELEM(k_pairs); i++)
        if (cp == k_pairs[i].lower)
            return k_pairs[i].upper;
    for (size_t i = 0; i < NELEM(k_upper_only); i++)
        if (cp == k_upper_only[i].lower)
            return k_upper_only[i].upper;
    return cp;
}

uint32_t uc_lower(uint32_t cp) {
    if (cp < 0x80)
        return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    if (cp == 0x130)
        return 'i';
    if (digraph(cp, 2))
        return digraph(cp, 2);
    for (size_t i = 0; i < NELEM(k_delta); i++) {
        int64_t lo = (int64_t)k_delta[i].lo + k_delta[i].delta, hi = (int64_t)k_delta[i].hi + k_delta[i].delta;
        if ((int64_t)cp >= lo && (int64_t)cp <= hi)
            return (uint32_t)((int32_t)cp - k_delta[i].delta);
    }
    for (size_t i = 0; i < NELEM(k_alt); i++)
        if (cp >= k_alt[i].lo && cp <= k_alt[i].hi)
            return (cp & 1) == k_alt[i].upper_parity && cp + 1 <= k_alt[i].hi ? cp + 1 : cp;
    for (size_t i = 0; i < NELEM(k_pairs); i++)
        if (cp == k_pairs[i].upper)
            return k_pairs[i].lower;
    return cp;
}

/* Python's "cased" characters (Lu, Ll, Lt), approximately. */
bool uc_iscased(uint32_t cp) {
    return uc_upper(cp) != cp || uc_lower(cp) != cp || cp == 0xDF || cp == 0x138 || cp == 0x149;
}

typedef struct urange {
    uint32_t lo, hi;
} urange;

/* Whether cp falls in one of the ranges. */
static bool in_ranges(uint32_t cp, const urange *r, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return true;
    return false;
}

static const urange k_letters[] = {
    {0xAA, 0xAA},       {0xB5, 0xB5},       {0xBA, 0xBA},       {0xC0, 0xD6},       {0xD8, 0xF6},
    {0xF8, 0x2AF},      {0x370, 0x374},     {0x376, 0x37D},     {0x386, 0x386},     {0x388, 0x3FF},
    {0x400, 0x481},     {0x48A, 0x52F},     {0x531, 0x587},     {0x5D0, 0x5EA},     {0x620, 0x64A},
    {0x66E, 0x6D3},     {0x904, 0x939},     {0x10A0, 0x10FF},   {0x1100, 0x11FF},   {0x1E00, 0x1FFF},
    {0x3041, 0x3096},   {0x30A1, 0x30FA},   {0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xAC00, 0xD7A3},
    {0xF900, 0xFAFF},   {0xFF21, 0xFF3A},   {0xFF41, 0xFF5A},   {0xFF66, 0xFF9F},   {0x10400, 0x1044F},
    {0x20000, 0x2FFFF}, {0x30000, 0x3134F}, {0xE01, 0xE30},
};

/* Letters (approximately Python str.isalpha). */
bool uc_isalpha(uint32_t cp) {
    if (cp < 0x80)
        return (cp | 32) >= 'a' && (cp | 32) <= 'z';
    return in_ranges(cp, k_letters, NELEM(k_letters));
}

static const urange k_digits[] = {{'0', '9'},     {0xB2, 0xB3},     {0xB9, 0xB9},    {0x660, 0x669},
                                  {0x6F0, 0x6F9}, {0x966, 0x96F},   {0xFF10, 0xFF19}};

/* Digits (approximately Python str.isdigit). */
bool uc_isdigit(uint32_t cp) { return in_ranges(cp, k_digits, NELEM(k_digits)); }

/* Characters repr() shows as escapes: controls, separators other than the
 * space, format characters, private use and non-characters. */
static const urange k_unprintable[] = {
    {0x00, 0x1F},       {0x7F, 0xA0},       {0xAD, 0xAD},       {0x600, 0x605},     {0x61C, 0x61C},
    {0x6DD, 0x6DD},     {0x70F, 0x70F},     {0x890, 0x891},     {0x8E2, 0x8E2},     {0x1680, 0x1680},
    {0x180E, 0x180E},   {0x2000, 0x200F},   {0x2028, 0x202F},   {0x205F, 0x2064},   {0x2066, 0x206F},
    {0x3000, 0x3000},   {0xD800, 0xF8FF},   {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},
    {0xFFFE, 0xFFFF},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3},
    {0x1D173, 0x1D17A}, {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0x10FFFF},
};

/* Whether repr() shows cp as is (Python str.isprintable, approximately). */
bool uc_isprintable(uint32_t cp) {
    if (cp >= 0x20 && cp < 0x7F)
        return true;
    if ((cp & 0xFFFE) == 0xFFFE)
        return false;
    return !in_ranges(cp, k_unprintable, NELEM(k_unprintable));
}

/* Decodes the code point at s[*i] and advances *i (invalid bytes: U+FFFD, one byte). */
uint32_t uc_next(const char *s, size_t len, size_t *i) {
    uint32_t cp;
    *i += sb_utf8_decode(s + *i, len - *i, &cp, NULL);
    return cp;
}

/* Byte offset of code point number cp (<= ncp) in s. */
size_t uc_offset(const tstr *s, size_t cp) {
    if (s->ncp == s->len)
        return cp;
    size_t i = 0;
    for (size_t k = 0; k < cp && i < s->len; k++)
        uc_next(s->data, s->len, &i);
    return i;
}

/* Appends cp as UTF-8 (U+FFFD for an invalid code point). */
sb_status buf_put_cp(sb_buf *b, uint32_t cp) {
    char tmp[4];
    size_t n = sb_utf8_encode(cp, tmp);
    if (n == 0)
        n = sb_utf8_encode(SB_UTF8_REPLACEMENT, tmp);
    return sb_buf_append(b, tmp, n);
}
