#!/usr/bin/env python3
"""gen_unicode_tables.py - generate src/tokenizer/tok_unicode_data.c.

Why: the tokenizers must classify code points exactly as llama.cpp does
(its \\p{L}, \\p{N}, \\s, lowercase and "first code point of the NFD form"
tables, built from the Unicode Character Database). This script builds the
same kind of tables from the UCD files of Debian's `unicode-data` package, so
the build itself needs nothing but the committed .c file.

Usage (run from the repository root; needs `apt-get install unicode-data`):
    python3 scripts/gen_unicode_tables.py [UCD_DIR] > src/tokenizer/tok_unicode_data.c

UCD_DIR defaults to /usr/share/unicode (Debian 12 ships Unicode 15.0).

Version note: llama.cpp's tables are Unicode 15.1, which added 627
characters to 15.0: U+2EBF0..U+2EE5D (CJK Unified Ideographs Extension I,
Lo), U+2FFC..U+2FFF (ideographic description characters, So) and U+31EF (CJK
stroke HXG, So). UNICODE_15_1_ADDITIONS below applies them to 15.0 input.
With Debian 12's 15.0 files the output was compared, code point by code
point (all 0x110000), with the tables of a llama.cpp build: categories, white
space, lowercase and NFD-first are identical.

Tables emitted:
  * per-code-point category flag (exactly one of UNDEFINED, NUMBER, LETTER,
    SEPARATOR, MARK, PUNCTUATION, SYMBOL, CONTROL), as a two-stage lookup;
    code points absent from UnicodeData.txt are UNDEFINED (category Cn).
  * White_Space code points (PropList.txt).
  * simple lowercase mapping (UnicodeData field 13), sorted pairs.
  * "NFD first": for each code point whose canonical decomposition differs
    from itself, the first code point of its full canonical decomposition
    (after canonical ordering); sorted, run-length grouped ranges. Hangul
    syllables decompose algorithmically to their leading jamo.
"""
import os
import re
import sys

MAX_CP = 0x110000
BLOCK = 128

FLAG = {
    'UNDEFINED': 0x01, 'NUMBER': 0x02, 'LETTER': 0x04, 'SEPARATOR': 0x08,
    'MARK': 0x10, 'PUNCTUATION': 0x20, 'SYMBOL': 0x40, 'CONTROL': 0x80,
}
FLAG_CODE = {v: i for i, v in enumerate(sorted(FLAG.values()))}
CATEGORY = {
    'Cn': 'UNDEFINED', 'Cc': 'CONTROL', 'Cf': 'CONTROL', 'Co': 'CONTROL', 'Cs': 'CONTROL',
    'Ll': 'LETTER', 'Lm': 'LETTER', 'Lo': 'LETTER', 'Lt': 'LETTER', 'Lu': 'LETTER',
    'Mc': 'MARK', 'Me': 'MARK', 'Mn': 'MARK',
    'Nd': 'NUMBER', 'Nl': 'NUMBER', 'No': 'NUMBER',
    'Pc': 'PUNCTUATION', 'Pd': 'PUNCTUATION', 'Pe': 'PUNCTUATION', 'Pf': 'PUNCTUATION',
    'Pi': 'PUNCTUATION', 'Po': 'PUNCTUATION', 'Ps': 'PUNCTUATION',
    'Sc': 'SYMBOL', 'Sk': 'SYMBOL', 'Sm': 'SYMBOL', 'So': 'SYMBOL',
    'Zl': 'SEPARATOR', 'Zp': 'SEPARATOR', 'Zs': 'SEPARATOR',
}

UNICODE_15_1_ADDITIONS = [
    (0x2EBF0, 0x2EE5D, 'Lo'),
    (0x2FFC, 0x2FFF, 'So'),
    (0x31EF, 0x31EF, 'So'),
]

S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
N_COUNT = V_COUNT * T_COUNT
S_COUNT = L_COUNT * N_COUNT


def read_unicode_data(path):
    """Yields (cp, category, ccc, decomposition, lower) for every assigned code point."""
    first = None
    with open(path, encoding='utf-8') as f:
        for line in f:
            fields = line.rstrip('\n').split(';')
            if len(fields) < 15:
                continue
            cp = int(fields[0], 16)
            name, cat, ccc, decomp = fields[1], fields[2], int(fields[3]), fields[5]
            lower = int(fields[13], 16) if fields[13] else 0
            if name.endswith(', First>'):
                first = (cp, cat, ccc)
                continue
            if name.endswith(', Last>'):
                assert first is not None and first[1] == cat
                for c in range(first[0], cp):
                    yield c, cat, ccc, '', 0
                first = None
            yield cp, cat, ccc, decomp, lower


def read_white_space(path):
    out = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            rng, prop = [x.strip() for x in line.split(';')]
            if prop != 'White_Space':
                continue
            if '..' in rng:
                a, b = rng.split('..')
                out.extend(range(int(a, 16), int(b, 16) + 1))
            else:
                out.append(int(rng, 16))
    return sorted(out)


def main():
    ucd = sys.argv[1] if len(sys.argv) > 1 else '/usr/share/unicode'
    flags = [FLAG['UNDEFINED']] * MAX_CP
    ccc = {}
    decomp = {}
    lower = []
    version_note = 'unknown'
    readme = os.path.join(ucd, 'ReadMe.txt')
    if os.path.exists(readme):
        with open(readme, encoding='utf-8') as f:
            for line in f:
                m = re.search(r'Version (\d+\.\d+\.\d+)', line)
                if m:
                    version_note = m.group(1)
                    break

    assigned = set()
    for cp, cat, c, d, lo in read_unicode_data(os.path.join(ucd, 'UnicodeData.txt')):
        flags[cp] = FLAG[CATEGORY[cat]]
        assigned.add(cp)
        if c:
            ccc[cp] = c
        if d and not d.startswith('<'):
            decomp[cp] = [int(x, 16) for x in d.split()]
        if lo:
            lower.append((cp, lo))
    for a, b, cat in UNICODE_15_1_ADDITIONS:
        for cp in range(a, b + 1):
            if cp in assigned:
                assert flags[cp] == FLAG[CATEGORY[cat]]
            flags[cp] = FLAG[CATEGORY[cat]]

    def full_decomp(cp):
        if S_BASE <= cp < S_BASE + S_COUNT:
            s = cp - S_BASE
            out = [L_BASE + s // N_COUNT, V_BASE + (s % N_COUNT) // T_COUNT]
            if s % T_COUNT:
                out.append(T_BASE + s % T_COUNT)
            return out
        if cp not in decomp:
            return [cp]
        out = []
        for x in decomp[cp]:
            out.extend(full_decomp(x))
        return out

    def canonical_order(seq):
        # stable sort of each run of non-starters by combining class
        out = list(seq)
        i = 0
        while i < len(out):
            if ccc.get(out[i], 0) == 0:
                i += 1
                continue
            j = i
            while j < len(out) and ccc.get(out[j], 0) != 0:
                j += 1
            out[i:j] = sorted(out[i:j], key=lambda x: ccc.get(x, 0))
            i = j
        return out

    nfd_first = []
    for cp in range(MAX_CP):
        if cp in decomp or S_BASE <= cp < S_BASE + S_COUNT:
            first = canonical_order(full_decomp(cp))[0]
            if first != cp:
                nfd_first.append((cp, first))
    ranges_nfd = []
    for cp, first in nfd_first:
        if ranges_nfd and ranges_nfd[-1][1] == cp - 1 and ranges_nfd[-1][2] == first:
            ranges_nfd[-1] = (ranges_nfd[-1][0], cp, first)
        else:
            ranges_nfd.append((cp, cp, first))

    white = read_white_space(os.path.join(ucd, 'PropList.txt'))

    # two-stage category table
    blocks = []
    block_index = {}
    stage1 = []
    for base in range(0, MAX_CP, BLOCK):
        blk = tuple(flags[base:base + BLOCK])
        if blk not in block_index:
            block_index[blk] = len(blocks)
            blocks.append(blk)
        stage1.append(block_index[blk])
    assert len(blocks) < 65536

    w = sys.stdout.write
    w('/*\n * tok_unicode_data.c - GENERATED by scripts/gen_unicode_tables.py; do not edit.\n')
    w(' *\n * Source: Unicode Character Database %s (Debian package unicode-data),\n' % version_note)
    w(' * plus the Unicode 15.1 additions listed in the generator. Category codes\n')
    w(' * in sb_uc_stage2 are digits: the flag of a code point is 1 << digit.\n */\n')
    w('#include "tok_unicode.h"\n\n')
    w('const uint16_t sb_uc_stage1[%d] = {\n' % len(stage1))
    for i in range(0, len(stage1), 24):
        w('    ' + ', '.join('%d' % x for x in stage1[i:i + 24]) + ',\n')
    w('};\n\n')
    w('const char sb_uc_stage2[%d][%d] = {\n' % (len(blocks), BLOCK + 1))
    for blk in blocks:
        digits = ''.join(str(FLAG_CODE[x]) for x in blk)
        w('    "%s"\n    "%s",\n' % (digits[:BLOCK // 2], digits[BLOCK // 2:]))
    w('};\n\n')
    w('const uint32_t sb_uc_whitespace[%d] = {\n' % len(white))
    for i in range(0, len(white), 10):
        w('    ' + ', '.join('0x%04X' % x for x in white[i:i + 10]) + ',\n')
    w('};\n')
    w('const size_t sb_uc_whitespace_count = %d;\n\n' % len(white))
    w('const sb_uc_pair sb_uc_lowercase[%d] = {\n' % len(lower))
    for i in range(0, len(lower), 6):
        w('    ' + ' '.join('{0x%05X, 0x%05X},' % x for x in lower[i:i + 6]) + '\n')
    w('};\n')
    w('const size_t sb_uc_lowercase_count = %d;\n\n' % len(lower))
    w('const sb_uc_range sb_uc_nfd_ranges[%d] = {\n' % len(ranges_nfd))
    for i in range(0, len(ranges_nfd), 4):
        w('    ' + ' '.join('{0x%05X, 0x%05X, 0x%05X},' % x for x in ranges_nfd[i:i + 4]) + '\n')
    w('};\n')
    w('const size_t sb_uc_nfd_ranges_count = %d;\n' % len(ranges_nfd))


if __name__ == '__main__':
    main()
