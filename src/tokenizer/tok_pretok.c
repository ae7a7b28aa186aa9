/*
 * tok_pretok.c - the pre-tokenizer of byte-level BPE vocabularies.
 *
 * llama.cpp splits a text into words by running a list of regexes (see
 * tok_pretok_defs.c); every regex refines the pieces of the previous one,
 * and both its matches and the text between matches become pieces. How each
 * regex is matched decides the result for non-ASCII text, so this file copies
 * llama.cpp's method, not just the patterns:
 *
 *  - GPT-2's and Llama 3's regexes are hand-written splitters over code
 *    points, using llama.cpp's Unicode classes (split_gpt2, split_llama3).
 *  - A regex using \p{L}/\p{N}/\p{P}/\p{M}/\p{S} runs on a "collapsed" text
 *    of one byte per code point: ASCII stays, non-ASCII white space becomes
 *    0x0B, other code points become one byte per category (0xD1 number,
 *    0xD2 letter, 0xD3 punctuation, 0xD4 mark, 0xD5 symbol, 0xD0 anything
 *    else), and each \p{X} becomes a class of that byte plus the ASCII
 *    members llama.cpp lists for X. PCRE2 (8-bit, no UTF) then behaves like
 *    std::regex on the collapsed bytes.
 *  - Any other regex runs on the code points with non-ASCII white space
 *    replaced by U+000B, here as UTF-8 with PCRE2 in UTF mode (\s, \d, \w
 *    and \b stay ASCII-only, as in std::wregex).
 *
 * Invalid UTF-8 becomes U+FFFD per bad byte, as llama.cpp decodes it; the
 * words are then slices of the re-encoded text.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "sb_alloc.h"
#include "sb_checked.h"
#include "sb_utf8.h"
#include "tok_internal.h"
#include "tok_pretok_defs.h"
#include "tok_unicode.h"

#include <pcre2.h>
#include <string.h>

typedef enum rx_kind { RX_KIND_GPT2, RX_KIND_LLAMA3, RX_KIND_COLLAPSED, RX_KIND_WIDE } rx_kind;

typedef struct rx_entry {
    rx_kind kind;
    pcre2_code *code;
} rx_entry;

struct sb_pretok {
    const sb_pretok_def *def;
    rx_entry rx[SB_PRETOK_MAX_REGEX];
    size_t n_rx;
    bool need_collapsed, need_wide, need_flags;
    pcre2_general_context *gctx;
};

/* PCRE2 allocates through the Solebox hook, so allocation-failure tests
 * reach it too. */
static void *pcre_alloc(size_t size, void *ud) {
    (void)ud;
    return sb_malloc(size);
}

/* The matching release hook for PCRE2. */
static void pcre_free(void *p, void *ud) {
    (void)ud;
    sb_free(p);
}

/* The \p{..} names llama.cpp collapses, with the byte standing for the
 * category and the ASCII characters it counts as members. */
typedef struct ucat {
    const char *name;
    unsigned char byte;
    const char *ascii;
} ucat;

static const ucat UCATS[] = {
    {"\\p{N}", 0xD1, "0-9"},
    {"\\p{L}", 0xD2, "A-Za-z"},
    {"\\p{P}", 0xD3, "!-#%-*,-/:-;?-@\\[-\\]_\\{\\}"},
    {"\\p{M}", 0xD4, ""},
    {"\\p{S}", 0xD5, "\\$\\+<->^`\\|"},
    {"\\p{Lu}", 0xD2, "A-Za-z"},
    {"\\p{Ll}", 0xD2, "A-Za-z"},
    {"\\p{Lt}", 0xD2, "A-Za-z"},
    {"\\p{Lm}", 0xD2, "A-Za-z"},
    {"\\p{Lo}", 0xD2, "A-Za-z"},
};

/* True when llama.cpp would run rx on the collapsed text. */
static bool uses_categories(const char *rx) {
    for (size_t i = 0; i < sizeof UCATS / sizeof UCATS[0]; i++)
        if (strstr(rx, UCATS[i].name))
            return true;
    return false;
}

/* Rewrites a regex for the collapsed text the way llama.cpp does: every
 * known \p{X} becomes "[<byte><ascii>]" (or just "<byte><ascii>" inside a
 * bracket expression). The caller frees the result with sb_free. */
static char *collapse_regex(const char *rx) {
    size_t n = strlen(rx);
    size_t cap = n * 4 + 64;
    char *out = sb_malloc(cap);
    if (!out)
        return NULL;
    size_t o = 0;
    bool inside = false;
    for (size_t i = 0; i < n; i++) {
        if (rx[i] == '[' && (i == 0 || rx[i - 1] != '\\')) {
            out[o++] = '[';
            inside = true;
            continue;
        }
        if (inside && rx[i] == ']' && rx[i - 1] != '\\') {
            out[o++] = ']';
            inside = false;
            continue;
        }
        if (rx[i] == '\\' && i + 3 < n && rx[i + 1] == 'p' && rx[i + 2] == '{') {
            const char *close = strchr(rx + i + 3, '}');
            if (close && (size_t)(close - rx) <= i + 10) {
                size_t plen = (size_t)(close - rx) - i + 1;
                const ucat *cat = NULL;
                for (size_t k = 0; k < sizeof UCATS / sizeof UCATS[0]; k++)
                    if (strlen(UCATS[k].name) == plen && memcmp(UCATS[k].name, rx + i, plen) == 0)
                        cat = &UCATS[k];
                if (cat) {
                    if (!inside)
                        out[o++] = '[';
                    out[o++] = (char)cat->byte;
                    size_t al = strlen(cat->ascii);
                    memcpy(out + o, cat->ascii, al);
                    o += al;
                    if (!inside)
                        out[o++] = ']';
                    i += plen - 1;
                    continue;
                }
            }
        }
        out[o++] = rx[i];
    }
    out[o] = '\0';
    return out;
}

/* Compiles one pattern (and JIT-compiles it when the CPU allows); *out is
 * freed by sb_pretok_free. */
static sb_status compile_rx(sb_pretok *p, const char *pattern, size_t len, bool utf, pcre2_code **out, sb_error *err) {
    pcre2_compile_context *cctx = pcre2_compile_context_create(p->gctx);
    if (!cctx)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory compiling a pre-tokenizer regex");
    uint32_t opts = PCRE2_NO_AUTO_CAPTURE | PCRE2_DOLLAR_ENDONLY | (utf ? PCRE2_UTF : 0);
    int code = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len, opts, &code, &off, cctx);
    pcre2_compile_context_free(cctx);
    if (!re) {
        if (code == PCRE2_ERROR_HEAP_FAILED || code == PCRE2_ERROR_NOMEMORY)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory compiling a pre-tokenizer regex");
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return sb_error_set(err, SB_ERR_INTERNAL, "pre-tokenizer '%s': regex does not compile at %zu: %s",
                            p->def->names[0], (size_t)off, (const char *)msg);
    }
    int jrc = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
    if (jrc == PCRE2_ERROR_NOMEMORY) {
        pcre2_code_free(re);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory compiling a pre-tokenizer regex");
    }
    /* Any other JIT failure (no JIT on this CPU): the interpreter is used. */
    *out = re;
    return SB_OK;
}

sb_status sb_pretok_create(const char *name, sb_pretok **out, sb_pretok_flags *flags, sb_error *err) {
    *out = NULL;
    const sb_pretok_def *def = NULL;
    const char *look = (name && name[0]) ? name : "default";
    for (size_t i = 0; i < sb_pretok_defs_count && !def; i++)
        for (const char *const *n = sb_pretok_defs[i].names; *n; n++)
            if (strcmp(*n, look) == 0) {
                def = &sb_pretok_defs[i];
                break;
            }
    if (!def)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "tokenizer.ggml.pre '%s' (pre-tokenizer) is not supported", look);
    flags->clean_spaces = def->clean_spaces;
    flags->ignore_merges = def->ignore_merges;
    flags->add_bos = def->add_bos;
    flags->add_sep = def->add_sep;
    flags->bos_null = def->bos_null;

    sb_pretok *p = sb_calloc(1, sizeof *p);
    if (!p)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory creating the pre-tokenizer");
    p->def = def;
    p->gctx = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!p->gctx) {
        sb_free(p);
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory creating the pre-tokenizer");
    }
    for (size_t i = 0; i < SB_PRETOK_MAX_REGEX && def->regex[i]; i++) {
        const char *rx = def->regex[i];
        rx_entry *e = &p->rx[p->n_rx];
        sb_status st = SB_OK;
        if (strcmp(rx, SB_RX_GPT2) == 0) {
            e->kind = RX_KIND_GPT2;
            p->need_flags = true;
        } else if (strcmp(rx, SB_RX_LLAMA3) == 0) {
            e->kind = RX_KIND_LLAMA3;
            p->need_flags = true;
        } else if (uses_categories(rx)) {
            e->kind = RX_KIND_COLLAPSED;
            p->need_collapsed = true;
            char *c = collapse_regex(rx);
            if (!c) {
                st = sb_error_set(err, SB_ERR_NOMEM, "out of memory creating the pre-tokenizer");
            } else {
                st = compile_rx(p, c, strlen(c), false, &e->code, err);
                sb_free(c);
            }
        } else {
            e->kind = RX_KIND_WIDE;
            p->need_wide = true;
            st = compile_rx(p, rx, strlen(rx), true, &e->code, err);
        }
        if (st != SB_OK) {
            sb_pretok_free(p);
            return st;
        }
        p->n_rx++;
    }
    *out = p;
    return SB_OK;
}

void sb_pretok_free(sb_pretok *p) {
    if (!p)
        return;
    for (size_t i = 0; i < p->n_rx; i++)
        pcre2_code_free(p->rx[i].code);
    pcre2_general_context_free(p->gctx);
    sb_free(p);
}

void sb_pretok_words_free(sb_pretok_words *w) {
    sb_free(w->canon);
    sb_free(w->ends);
    memset(w, 0, sizeof *w);
}

/* ---- one split call ---------------------------------------------------- */

#define OUT_OF_RANGE 0xFFFFFFFFu

/* The code points of the text and the pieces being built by one regex:
 * next[] holds piece ends (code point indices), room for one per code point. */
typedef struct split_ctx {
    const uint32_t *cps;
    const uint16_t *flags;
    size_t *next;
    size_t n_next;
    size_t prev_end; /* end of the last piece pushed to next */
} split_ctx;

/* Ends the current piece at code point `end` (nothing if it would be empty). */
static void piece_end(split_ctx *c, size_t end) {
    if (end > c->prev_end) {
        c->next[c->n_next++] = end;
        c->prev_end = end;
    }
}

/* The code point / flags at pos, or OUT_OF_RANGE / 0 outside the piece
 * [ini, end), as llama.cpp's splitters see it. */
static inline uint32_t cp_at(const split_ctx *c, size_t pos, size_t ini, size_t end) {
    return (pos >= ini && pos < end) ? c->cps[pos] : OUT_OF_RANGE;
}

static inline uint16_t flags_at(const split_ctx *c, size_t pos, size_t ini, size_t end) {
    return (pos >= ini && pos < end) ? c->flags[pos] : 0;
}

#define F_WS SB_UC_WHITESPACE
#define F_L SB_UC_LETTER
#define F_N SB_UC_NUMBER

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * over one piece [ini, end), exactly as llama.cpp's hand-written version. */
static void split_gpt2(split_ctx *c, size_t ini, size_t end) {
    size_t pos = ini;
    while (pos < end) {
        uint32_t cpt = cp_at(c, pos, ini, end);
        uint16_t f = flags_at(c, pos, ini, end);
        if (cpt == '\'' && pos + 1 < end) {
            uint32_t n1 = cp_at(c, pos + 1, ini, end);
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                pos += 2;
                piece_end(c, pos);
                continue;
            }
            if (pos + 2 < end) {
                uint32_t n2 = cp_at(c, pos + 2, ini, end);
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    pos += 3;
                    piece_end(c, pos);
                    continue;
                }
            }
        }
        uint16_t f2 = (cpt == ' ') ? flags_at(c, pos + 1, ini, end) : f;
        if (f2 & F_L) {
            pos += (cpt == ' ');
            while (f2 & F_L)
                f2 = flags_at(c, ++pos, ini, end);
            piece_end(c, pos);
            continue;
        }
        if (f2 & F_N) {
            pos += (cpt == ' ');
            while (f2 & F_N)
                f2 = flags_at(c, ++pos, ini, end);
            piece_end(c, pos);
            continue;
        }
        if (!(f2 & (F_WS | F_L | F_N)) && f2) {
            pos += (cpt == ' ');
            while (!(f2 & (F_WS | F_L | F_N)) && f2)
                f2 = flags_at(c, ++pos, ini, end);
            piece_end(c, pos);
            continue;
        }
        size_t nws = 0;
        while (flags_at(c, pos + nws, ini, end) & F_WS)
            nws++;
        if (nws > 1 && cp_at(c, pos + nws, ini, end) != OUT_OF_RANGE) {
            pos += nws - 1;
            piece_end(c, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            piece_end(c, pos);
            continue;
        }
        piece_end(c, ++pos);
    }
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
 * ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ as llama.cpp hand-codes it. */
static void split_llama3(split_ctx *c, size_t ini, size_t end) {
    size_t pos = ini;
    while (pos < end) {
        uint32_t cpt = cp_at(c, pos, ini, end);
        uint16_t f = flags_at(c, pos, ini, end);
        if (cpt == '\'' && pos + 1 < end) {
            uint32_t n1 = sb_uc_tolower(cp_at(c, pos + 1, ini, end));
            if (n1 == 's' || n1 == 't' || n1 == 'm' || n1 == 'd') {
                pos += 2;
                piece_end(c, pos);
                continue;
            }
            if (pos + 2 < end) {
                uint32_t n2 = sb_uc_tolower(cp_at(c, pos + 2, ini, end));
                if ((n1 == 'r' && n2 == 'e') || (n1 == 'v' && n2 == 'e') || (n1 == 'l' && n2 == 'l')) {
                    pos += 3;
                    piece_end(c, pos);
                    continue;
                }
            }
        }
        if (!(cpt == '\r' || cpt == '\n' || (f & F_N))) {
            if ((f & F_L) || (flags_at(c, pos + 1, ini, end) & F_L)) {
                pos++;
                while (flags_at(c, pos, ini, end) & F_L)
                    pos++;
                piece_end(c, pos);
                continue;
            }
        }
        if (f & F_N) {
            size_t start = pos;
            while (flags_at(c, pos, ini, end) & F_N) {
                if (++pos - start >= 3) {
                    piece_end(c, pos);
                    start = pos;
                }
            }
            piece_end(c, pos);
            continue;
        }
        uint16_t f2 = (cpt == ' ') ? flags_at(c, pos + 1, ini, end) : f;
        if (!(f2 & (F_WS | F_L | F_N)) && f) {
            pos += (cpt == ' ');
            while (!(f2 & (F_WS | F_L | F_N)) && f2)
                f2 = flags_at(c, ++pos, ini, end);
            uint32_t c2 = cp_at(c, pos, ini, end);
            while (c2 == '\r' || c2 == '\n')
                c2 = cp_at(c, ++pos, ini, end);
            piece_end(c, pos);
            continue;
        }
        size_t nws = 0, last_rn = 0;
        while (flags_at(c, pos + nws, ini, end) & F_WS) {
            uint32_t c2 = cp_at(c, pos + nws, ini, end);
            if (c2 == '\r' || c2 == '\n')
                last_rn = pos + nws + 1;
            nws++;
        }
        if (last_rn > 0) {
            pos = last_rn;
            piece_end(c, pos);
            continue;
        }
        if (nws > 1 && cp_at(c, pos + nws, ini, end) != OUT_OF_RANGE) {
            pos += nws - 1;
            piece_end(c, pos);
            continue;
        }
        if (nws > 0) {
            pos += nws;
            piece_end(c, pos);
            continue;
        }
        piece_end(c, ++pos);
    }
}

/* Converts byte offsets within a UTF-8 piece to code point indices, walking
 * forward only (match offsets never go back). */
typedef struct cp_cursor {
    const unsigned char *subj;
    bool utf;
    size_t ini, byte, cp;
} cp_cursor;

static size_t cursor_to_cp(cp_cursor *k, size_t b) {
    if (!k->utf)
        return k->ini + b;
    while (k->byte < b) {
        k->byte += sb_utf8_seq_len(k->subj[k->byte]);
        k->cp++;
    }
    return k->cp;
}

/* Runs one PCRE2 regex over the piece [ini, end) of a subject in which code
 * point i starts at byte boff[i] (boff == NULL: one byte per code point).
 * Matches and the gaps between them become pieces, as std::regex_iterator
 * walks them in llama.cpp; empty matches produce nothing. */
static sb_status split_regex(split_ctx *c, const pcre2_code *re, pcre2_match_data *md, const char *subject,
                             const size_t *boff, size_t ini, size_t end, sb_error *err) {
    size_t b0 = boff ? boff[ini] : ini;
    size_t blen = (boff ? boff[end] : end) - b0;
    PCRE2_SPTR subj = (PCRE2_SPTR)subject + b0;
    cp_cursor cur = {subj, boff != NULL, ini, 0, ini};
    size_t pos = 0;
    uint32_t opts = 0;
    while (pos <= blen) {
        int rc = pcre2_match(re, subj, blen, pos, opts | PCRE2_NO_UTF_CHECK, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(re, subj, blen, pos, opts | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            if (!opts)
                break;
            /* the retry after an empty match failed: step one character */
            opts = 0;
            if (pos >= blen)
                break;
            pos += boff ? sb_utf8_seq_len(subj[pos]) : 1;
            continue;
        }
        if (rc == PCRE2_ERROR_NOMEMORY || rc == PCRE2_ERROR_HEAPLIMIT)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory running a pre-tokenizer regex");
        if (rc < 0)
            return sb_error_set(err, SB_ERR_LIMIT, "pre-tokenizer regex failed (PCRE2 error %d)", rc);
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        piece_end(c, cursor_to_cp(&cur, ms));
        piece_end(c, cursor_to_cp(&cur, me));
        opts = (me == ms) ? (PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED) : 0;
        pos = me;
    }
    piece_end(c, end);
    return SB_OK;
}

sb_status sb_pretok_split(const sb_pretok *p, const char *text, size_t len, sb_pretok_words *w, sb_error *err) {
    w->n = 0;
    w->src = text;
    if (len == 0)
        return SB_OK;
    sb_status st = SB_ERR_NOMEM;
    uint32_t *cps = NULL;
    uint16_t *flags = NULL;
    size_t *off = NULL, *woff = NULL, *ends = NULL, *next = NULL;
    unsigned char *collapsed = NULL;
    char *wide = NULL;
    pcre2_match_data *md = NULL;

    /* Decode as llama.cpp does; off[i] is where code point i starts in src. */
    size_t n1;
    if (!sb_add_size(len, 1, &n1))
        goto oom;
    cps = sb_reallocarray(NULL, len, sizeof *cps);
    off = sb_reallocarray(NULL, n1, sizeof *off);
    if (!cps || !off)
        goto oom;
    size_t ncp = 0;
    bool valid = sb_utf8_valid(text, len);
    if (valid) {
        for (size_t i = 0; i < len;) {
            off[ncp] = i;
            i += sb_uc_decode(text + i, len - i, &cps[ncp]);
            ncp++;
        }
        off[ncp] = len;
    } else {
        /* re-encode: at most 3 bytes (U+FFFD) per input byte */
        size_t need;
        if (!sb_mul_size(len, 3, &need))
            goto oom;
        if (need > w->canon_cap) {
            char *q = sb_realloc(w->canon, need);
            if (!q)
                goto oom;
            w->canon = q;
            w->canon_cap = need;
        }
        size_t o = 0;
        for (size_t i = 0; i < len;) {
            uint32_t cp;
            i += sb_uc_decode(text + i, len - i, &cp);
            char enc[4];
            size_t el = sb_uc_encode(cp, enc);
            if (el == 0) { /* above U+10FFFF: llama.cpp cannot encode it either */
                cp = 0xFFFD;
                el = sb_uc_encode(cp, enc);
            }
            cps[ncp] = cp;
            off[ncp++] = o;
            memcpy(w->canon + o, enc, el);
            o += el;
        }
        off[ncp] = o;
        w->src = w->canon;
    }

    if (p->need_flags) {
        flags = sb_reallocarray(NULL, ncp, sizeof *flags);
        if (!flags)
            goto oom;
        for (size_t i = 0; i < ncp; i++)
            flags[i] = sb_uc_flags(cps[i]);
    }
    if (p->need_collapsed) {
        collapsed = sb_malloc(ncp);
        if (!collapsed)
            goto oom;
        for (size_t i = 0; i < ncp; i++) {
            uint32_t cp = cps[i];
            if (cp < 128) {
                collapsed[i] = (unsigned char)cp;
                continue;
            }
            uint16_t f = sb_uc_flags(cp);
            unsigned char b = 0xD0;
            if (f & SB_UC_WHITESPACE)
                b = 0x0B;
            else if (f & SB_UC_NUMBER)
                b = 0xD1;
            else if (f & SB_UC_LETTER)
                b = 0xD2;
            else if (f & SB_UC_PUNCT)
                b = 0xD3;
            else if (f & SB_UC_MARK)
                b = 0xD4;
            else if (f & SB_UC_SYMBOL)
                b = 0xD5;
            collapsed[i] = b;
        }
    }
    if (p->need_wide) {
        size_t need;
        if (!sb_mul_size(ncp, 4, &need))
            goto oom;
        wide = sb_malloc(need ? need : 1);
        woff = sb_reallocarray(NULL, ncp + 1, sizeof *woff);
        if (!wide || !woff)
            goto oom;
        size_t o = 0;
        for (size_t i = 0; i < ncp; i++) {
            uint32_t cp = cps[i];
            woff[i] = o;
            if (cp > 0x7F && (sb_uc_flags(cp) & SB_UC_WHITESPACE))
                cp = 0x0B;
            else if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
                cp = 0xFFFF; /* not valid UTF-8; matched by no pattern here */
            o += sb_utf8_encode(cp, wide + o);
        }
        woff[ncp] = o;
    }
    if (p->need_collapsed || p->need_wide) {
        md = pcre2_match_data_create(1, p->gctx);
        if (!md)
            goto oom;
    }

    /* Every regex refines the pieces; at most one piece per code point. */
    ends = sb_reallocarray(NULL, ncp + 1, sizeof *ends);
    next = sb_reallocarray(NULL, ncp + 1, sizeof *next);
    if (!ends || !next)
        goto oom;
    ends[0] = ncp;
    size_t n_ends = 1;
    split_ctx c = {.cps = cps, .flags = flags};
    st = SB_OK;
    for (size_t r = 0; r < p->n_rx; r++) {
        c.next = next;
        c.n_next = 0;
        c.prev_end = 0;
        size_t ini = 0;
        for (size_t k = 0; k < n_ends; k++) {
            size_t end = ends[k];
            switch (p->rx[r].kind) {
            case RX_KIND_GPT2:
                split_gpt2(&c, ini, end);
                break;
            case RX_KIND_LLAMA3:
                split_llama3(&c, ini, end);
                break;
            case RX_KIND_COLLAPSED:
                st = split_regex(&c, p->rx[r].code, md, (const char *)collapsed, NULL, ini, end, err);
                break;
            case RX_KIND_WIDE:
                st = split_regex(&c, p->rx[r].code, md, wide, woff, ini, end, err);
                break;
            }
            if (st != SB_OK)
                goto done;
            piece_end(&c, end);
            ini = end;
        }
        size_t *tmp = ends;
        ends = next;
        next = tmp;
        n_ends = c.n_next;
    }

    if (n_ends > w->ends_cap) {
        size_t *q = sb_reallocarray(w->ends, n_ends, sizeof *q);
        if (!q)
            goto oom;
        w->ends = q;
        w->ends_cap = n_ends;
    }
    for (size_t k = 0; k < n_ends; k++)
        w->ends[k] = off[ends[k]];
    w->n = n_ends;
    st = SB_OK;
    goto done;
oom:
    st = sb_error_set(err, SB_ERR_NOMEM, "out of memory pre-tokenizing %zu bytes", len);
done:
    pcre2_match_data_free(md);
    sb_free(cps);
    sb_free(flags);
    sb_free(off);
    sb_free(woff);
    sb_free(collapsed);
    sb_free(wide);
    sb_free(ends);
    sb_free(next);
    return st;
}
