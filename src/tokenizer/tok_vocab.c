/*
 * tok_vocab.c - reads and validates a tokenizer out of GGUF metadata.
 *
 * The file is untrusted: every array is checked for type and length before
 * use, merges must name tokens, special ids must be in range, and each
 * problem gets its own message naming the key. The result follows
 * llama.cpp's llama_vocab::load, including its per-model defaults and the
 * attribute fix-ups it applies from token texts (end-of-generation strings
 * become CONTROL, "unused" control tokens become UNUSED, phi-3 specials get
 * RSTRIP, ...).
 */
#include "sb_alloc.h"
#include "sb_checked.h"
#include "tok_internal.h"
#include "tok_unicode.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define KEY_PREFIX "tokenizer.ggml."

/* Optional string key: *present false when absent; wrong type is an error. */
static sb_status opt_string(const sb_gguf *g, const char *key, sb_str *out, bool *present, sb_error *err) {
    *present = false;
    sb_status st = sb_gguf_get_string(g, key, out, err);
    if (st == SB_ERR_NOT_FOUND) {
        sb_error_clear(err);
        return SB_OK;
    }
    if (st == SB_OK)
        *present = true;
    return st;
}

/* Optional bool key: leaves *v alone when absent. */
static sb_status opt_bool(const sb_gguf *g, const char *key, bool *v, sb_error *err) {
    bool b;
    sb_status st = sb_gguf_get_bool(g, key, &b, err);
    if (st == SB_ERR_NOT_FOUND) {
        sb_error_clear(err);
        return SB_OK;
    }
    if (st == SB_OK)
        *v = b;
    return st;
}

/* A special token id key. Absent, 4294967295 or -1: the default stays (as in
 * llama.cpp). Any other value must be a valid id. */
static sb_status opt_special_id(const sb_gguf *g, const char *key, int32_t n_vocab, int32_t *id, sb_error *err) {
    int64_t v;
    sb_status st = sb_gguf_get_int(g, key, &v, err);
    if (st == SB_ERR_NOT_FOUND) {
        sb_error_clear(err);
        return SB_OK;
    }
    if (st != SB_OK)
        return st;
    if (v == 4294967295LL || v == -1)
        return SB_OK;
    if (v < 0 || v >= n_vocab)
        return sb_error_set(err, SB_ERR_FORMAT, "%s = %lld is out of range (the vocabulary has %d tokens)", key,
                            (long long)v, (int)n_vocab);
    *id = (int32_t)v;
    return SB_OK;
}

/* The id of the token with text s, or -1. */
static int32_t find_cstr(const sb_tokenizer *t, const char *s) { return sb_tok_lookup(t, s, strlen(s)); }

/* Adds id to (or removes it from) the end-of-generation set. */
static void eog_set(sb_tokenizer *t, int32_t id, bool on) {
    if (!sb_tok_valid_id(t, id))
        return;
    if (on)
        t->eog_bits[id >> 3] |= (uint8_t)(1u << (id & 7));
    else
        t->eog_bits[id >> 3] &= (uint8_t)~(1u << (id & 7));
}

/* Whether id is in the end-of-generation set (false for -1). */
static bool eog_has(const sb_tokenizer *t, int32_t id) {
    return sb_tok_valid_id(t, id) && (t->eog_bits[id >> 3] >> (id & 7)) & 1;
}

/* llama.cpp's attribute for a GGUF token type (unknown types: UNDEFINED). */
static uint16_t attr_from_type(int64_t type) {
    switch (type) {
    case SB_TOKEN_TYPE_UNKNOWN:
        return SB_TOKEN_ATTR_UNKNOWN;
    case SB_TOKEN_TYPE_UNUSED:
        return SB_TOKEN_ATTR_UNUSED;
    case SB_TOKEN_TYPE_NORMAL:
        return SB_TOKEN_ATTR_NORMAL;
    case SB_TOKEN_TYPE_CONTROL:
        return SB_TOKEN_ATTR_CONTROL;
    case SB_TOKEN_TYPE_USER_DEFINED:
        return SB_TOKEN_ATTR_USER_DEFINED;
    case SB_TOKEN_TYPE_BYTE:
        return SB_TOKEN_ATTR_BYTE;
    default:
        return SB_TOKEN_ATTR_UNDEFINED;
    }
}

/* Model type and its llama.cpp defaults. */
static sb_status load_model_type(sb_tokenizer *t, const sb_gguf *g, sb_str *pre, sb_error *err) {
    sb_str model;
    sb_status st = sb_gguf_get_string(g, KEY_PREFIX "model", &model, err);
    if (st == SB_ERR_NOT_FOUND)
        return sb_error_set(err, SB_ERR_NOT_FOUND, "the file has no tokenizer (" KEY_PREFIX "model is missing)");
    if (st != SB_OK)
        return st;
    bool has_pre;
    st = opt_string(g, KEY_PREFIX "pre", pre, &has_pre, err);
    if (st != SB_OK)
        return st;
    if (!has_pre)
        *pre = (sb_str){"", 0};
    t->pre_name = sb_strndup(pre->ptr, pre->len);
    if (!t->pre_name)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory loading the tokenizer");

    t->bos = t->eos = t->eot = t->eom = t->unk = t->sep = t->pad = t->cls = t->mask = t->nl = -1;
    t->fim_pre = t->fim_suf = t->fim_mid = t->fim_pad = t->fim_rep = t->fim_sep = -1;
    t->escape_whitespaces = true;
    t->norm_lowercase = true;
    if (sb_str_eq_cstr(model, "llama")) {
        t->kind = SB_TOKENIZER_SPM;
        t->bos = 1;
        t->eos = 2;
        t->unk = 0;
        t->add_space_prefix = true;
        t->clean_spaces = false;
        t->add_bos = true;
        t->add_eos = false;
    } else if (sb_str_eq_cstr(model, "bert")) {
        t->kind = SB_TOKENIZER_WPM;
        t->bos = 101;
        t->unk = 100;
        t->sep = 102;
        t->pad = 0;
        t->mask = 103;
        t->add_sep = true;
        t->add_space_prefix = false;
        t->clean_spaces = true;
        t->add_bos = true;
        t->add_eos = false;
    } else if (sb_str_eq_cstr(model, "gpt2")) {
        t->kind = SB_TOKENIZER_BPE;
        t->bos = 11;
        t->eos = 11;
        t->add_space_prefix = false;
        t->escape_whitespaces = false;
        t->clean_spaces = true;
        sb_pretok_flags pf;
        st = sb_pretok_create(t->pre_name, &t->pretok, &pf, err);
        if (st != SB_OK)
            return st;
        t->clean_spaces = pf.clean_spaces;
        t->ignore_merges = pf.ignore_merges;
        if (pf.add_bos)
            t->add_bos = true;
        if (pf.add_sep)
            t->add_sep = true;
        if (pf.bos_null)
            t->bos = -1;
    } else {
        return sb_error_set(err, SB_ERR_UNSUPPORTED, KEY_PREFIX "model '%.*s' (tokenizer type) is not supported",
                            (int)(model.len > 64 ? 64 : model.len), model.ptr);
    }
    snprintf(t->model_name, sizeof t->model_name, "%.*s", (int)model.len, model.ptr);
    st = opt_bool(g, KEY_PREFIX "add_space_prefix", &t->add_space_prefix, err);
    if (st == SB_OK)
        st = opt_bool(g, KEY_PREFIX "remove_extra_whitespaces", &t->remove_extra_whitespaces, err);
    return st;
}

/* Tokens, scores and types: copied into the tokenizer, checked for type,
 * length and duplicates. */
static sb_status load_tokens(sb_tokenizer *t, const sb_gguf *g, sb_error *err) {
    const sb_gguf_array *tokens, *scores = NULL, *types = NULL;
    sb_status st = sb_gguf_get_array(g, KEY_PREFIX "tokens", &tokens, err);
    if (st == SB_ERR_NOT_FOUND)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "tokens is missing (no vocabulary)");
    if (st != SB_OK)
        return st;
    if (tokens->elem_type != SB_GGUF_STRING)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "tokens is an array of %s, not of strings",
                            sb_gguf_type_name(tokens->elem_type));
    if (tokens->count == 0 || tokens->count > INT32_MAX)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "tokens has %llu entries (must be 1 .. %d)",
                            (unsigned long long)tokens->count, INT32_MAX);
    int32_t n = (int32_t)tokens->count;

    st = sb_gguf_get_array(g, KEY_PREFIX "scores", &scores, err);
    if (st == SB_ERR_NOT_FOUND) {
        sb_error_clear(err);
        scores = NULL;
    } else if (st != SB_OK) {
        return st;
    } else if (scores->elem_type != SB_GGUF_FLOAT32 && scores->elem_type != SB_GGUF_INT32) {
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "scores is an array of %s, not of f32 or i32",
                            sb_gguf_type_name(scores->elem_type));
    } else if (scores->count != tokens->count) {
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "scores has %llu entries but there are %d tokens",
                            (unsigned long long)scores->count, (int)n);
    }
    st = sb_gguf_get_array(g, KEY_PREFIX "token_type", &types, err);
    if (st == SB_ERR_NOT_FOUND) {
        sb_error_clear(err);
        types = NULL;
    } else if (st != SB_OK) {
        return st;
    } else if (types->elem_type != SB_GGUF_INT32) {
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "token_type is an array of %s, not of i32",
                            sb_gguf_type_name(types->elem_type));
    } else if (types->count != tokens->count) {
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "token_type has %llu entries but there are %d tokens",
                            (unsigned long long)types->count, (int)n);
    }

    /* One arena for all texts; an empty token is renamed "[EMPTY_<id>]". */
    size_t total = 0;
    for (int32_t i = 0; i < n; i++) {
        size_t len = sb_gguf_array_string(tokens, (uint64_t)i).len;
        if (len == 0)
            len = 24;
        if (!sb_add_size(total, len + 1, &total))
            return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "tokens: total size overflows");
    }
    t->n_vocab = n;
    t->text_arena = sb_malloc(total);
    t->texts = sb_calloc((size_t)n, sizeof *t->texts);
    t->scores = sb_calloc((size_t)n, sizeof *t->scores);
    t->attr = sb_calloc((size_t)n, sizeof *t->attr);
    t->eog_bits = sb_calloc(((size_t)n + 7) / 8, 1);
    if (!t->text_arena || !t->texts || !t->scores || !t->attr || !t->eog_bits)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory loading %d tokens", (int)n);
    if (sb_strmap_reserve(&t->text_map, (size_t)n) != SB_OK)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory loading %d tokens", (int)n);
    size_t o = 0;
    for (int32_t i = 0; i < n; i++) {
        sb_str s = sb_gguf_array_string(tokens, (uint64_t)i);
        char *dst = t->text_arena + o;
        size_t len = s.len;
        if (len == 0) {
            len = (size_t)snprintf(dst, 24, "[EMPTY_%d]", (int)i);
        } else {
            memcpy(dst, s.ptr, len);
        }
        dst[len] = '\0';
        o += len + 1;
        t->texts[i] = (sb_str){dst, len};
        if (len > t->max_token_len)
            t->max_token_len = len;
        bool existed;
        if (sb_strmap_put(&t->text_map, dst, len, (uint64_t)i, &existed) != SB_OK)
            return sb_error_set(err, SB_ERR_NOMEM, "out of memory loading %d tokens", (int)n);
        if (existed)
            return sb_error_set(err, SB_ERR_FORMAT, "duplicate token in vocabulary: '%.*s' has ids %d and %d",
                                (int)(len > 64 ? 64 : len), dst, (int)sb_tok_lookup(t, dst, len), (int)i);
        t->scores[i] = scores ? (float)sb_gguf_array_float(scores, (uint64_t)i) : 0.0f;
        t->attr[i] = types ? attr_from_type(sb_gguf_array_int(types, (uint64_t)i)) : SB_TOKEN_ATTR_NORMAL;
    }
    return SB_OK;
}

/* BPE merges "left right" -> rank, keyed by the two token ids. The result is
 * the token of left+right (-1 when that text is no token). */
static sb_status load_merges(sb_tokenizer *t, const sb_gguf *g, sb_error *err) {
    const sb_gguf_array *merges;
    sb_status st = sb_gguf_get_array(g, KEY_PREFIX "merges", &merges, err);
    if (st == SB_ERR_NOT_FOUND)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "merges is missing (a gpt2 tokenizer needs it)");
    if (st != SB_OK)
        return st;
    if (merges->elem_type != SB_GGUF_STRING)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "merges is an array of %s, not of strings",
                            sb_gguf_type_name(merges->elem_type));
    if (merges->count > INT32_MAX)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "merges has too many entries (%llu)",
                            (unsigned long long)merges->count);
    if (sb_u64map_reserve(&t->merges, (size_t)merges->count) != SB_OK)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory loading %llu merges", (unsigned long long)merges->count);
    char *buf = sb_malloc(t->max_token_len * 2 + 1);
    if (!buf)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory loading merges");
    st = SB_OK;
    for (uint64_t i = 0; i < merges->count && st == SB_OK; i++) {
        sb_str m = sb_gguf_array_string(merges, i);
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp) {
            st = sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "merges[%llu] '%.*s' is not 'left right'",
                              (unsigned long long)i, (int)(m.len > 64 ? 64 : m.len), m.ptr);
            break;
        }
        size_t ll = (size_t)(sp - m.ptr), rl = m.len - ll - 1;
        int32_t l = sb_tok_lookup(t, m.ptr, ll), r = sb_tok_lookup(t, sp + 1, rl);
        if (l < 0 || r < 0) {
            st = sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "merges[%llu] '%.*s' names an unknown token '%.*s'",
                              (unsigned long long)i, (int)(m.len > 64 ? 64 : m.len), m.ptr,
                              (int)((l < 0 ? ll : rl) > 64 ? 64 : (l < 0 ? ll : rl)), l < 0 ? m.ptr : sp + 1);
            break;
        }
        int32_t res = -1;
        if (ll + rl <= t->max_token_len) {
            memcpy(buf, m.ptr, ll);
            memcpy(buf + ll, sp + 1, rl);
            res = sb_tok_lookup(t, buf, ll + rl);
        }
        uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
        if (sb_u64map_put(&t->merges, key, (i << 32) | (uint32_t)res, NULL) != SB_OK)
            st = sb_error_set(err, SB_ERR_NOMEM, "out of memory loading merges");
    }
    sb_free(buf);
    return st;
}

/* Special ids from the metadata, then add_bos/add_eos/add_sep and the BERT
 * normaliser options. */
static sb_status load_special_ids(sb_tokenizer *t, const sb_gguf *g, sb_error *err) {
    struct {
        const char *key;
        int32_t *id;
    } keys[] = {
        {KEY_PREFIX "bos_token_id", &t->bos},
        {KEY_PREFIX "eos_token_id", &t->eos},
        {KEY_PREFIX "eot_token_id", &t->eot},
        {KEY_PREFIX "eom_token_id", &t->eom},
        {KEY_PREFIX "unknown_token_id", &t->unk},
        {KEY_PREFIX "separator_token_id", &t->sep},
        {KEY_PREFIX "seperator_token_id", &t->sep}, /* llama.cpp's spelling, wins when both exist */
        {KEY_PREFIX "padding_token_id", &t->pad},
        {KEY_PREFIX "mask_token_id", &t->mask},
        {KEY_PREFIX "cls_token_id", &t->cls},
        {KEY_PREFIX "fim_pre_token_id", &t->fim_pre},
        {KEY_PREFIX "fim_suf_token_id", &t->fim_suf},
        {KEY_PREFIX "fim_mid_token_id", &t->fim_mid},
        {KEY_PREFIX "fim_pad_token_id", &t->fim_pad},
        {KEY_PREFIX "fim_rep_token_id", &t->fim_rep},
        {KEY_PREFIX "fim_sep_token_id", &t->fim_sep},
        {KEY_PREFIX "prefix_token_id", &t->fim_pre}, /* deprecated names */
        {KEY_PREFIX "suffix_token_id", &t->fim_suf},
        {KEY_PREFIX "middle_token_id", &t->fim_mid},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (*keys[i].id >= t->n_vocab) /* a default outside a small vocabulary */
            *keys[i].id = -1;
        sb_status st = opt_special_id(g, keys[i].key, t->n_vocab, keys[i].id, err);
        if (st != SB_OK)
            return st;
    }
    sb_status st = opt_bool(g, KEY_PREFIX "add_bos_token", &t->add_bos, err);
    if (st == SB_OK)
        st = opt_bool(g, KEY_PREFIX "add_eos_token", &t->add_eos, err);
    if (st == SB_OK)
        st = opt_bool(g, KEY_PREFIX "add_sep_token", &t->add_sep, err);
    if (st != SB_OK)
        return st;
    if (t->add_bos && t->bos < 0)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "add_bos_token is true, but bos_token_id is not set");
    if (t->add_eos && t->eos < 0)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "add_eos_token is true, but eos_token_id is not set");
    if (t->add_sep && t->sep < 0)
        return sb_error_set(err, SB_ERR_FORMAT, KEY_PREFIX "add_sep_token is true, but seperator_token_id is not set");
    st = opt_bool(g, KEY_PREFIX "normalizer.lowercase", &t->norm_lowercase, err);
    t->norm_strip_accents = t->norm_lowercase;
    if (st == SB_OK)
        st = opt_bool(g, KEY_PREFIX "normalizer.strip_accents", &t->norm_strip_accents, err);
    return st;
}

static const char *const EOT_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                        "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                        "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>",
                                        "<end_of_utterance>", NULL};
static const char *const EOM_TEXTS[] = {"<|eom_id|>", NULL};
static const char *const FIM_PRE_TEXTS[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                            "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
                                            "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL};
static const char *const FIM_SUF_TEXTS[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                            "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>",
                                            "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL};
static const char *const FIM_MID_TEXTS[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                            "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
                                            "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL};
static const char *const FIM_PAD_TEXTS[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL};
static const char *const FIM_REP_TEXTS[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
                                            NULL};
static const char *const FIM_SEP_TEXTS[] = {"<|file_sep|>", NULL};
static const char *const EOG_TEXTS[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                                        "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                                        "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
                                        "<turn|>", "<|tool_response>",
                                        "<\xef\xbd\x9c" "end\xe2\x96\x81" "of\xe2\x96\x81" "sentence\xef\xbd\x9c>",
                                        "[e~[", NULL};
static const char *const ALWAYS_RENDER_TEXTS[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>", NULL};

/* The highest id whose text is one of texts, or -1. */
static int32_t find_any(const sb_tokenizer *t, const char *const *texts) {
    int32_t best = -1;
    for (; *texts; texts++) {
        int32_t id = find_cstr(t, *texts);
        if (id > best)
            best = id;
    }
    return best;
}

/* llama.cpp finds EOT, EOM and FIM tokens by their text when the metadata
 * does not name them, and makes them CONTROL. It walks a hash map, so with
 * several candidates its choice is unspecified; here the highest id wins
 * (<|im_end|> over <|endoftext|>, <|eot_id|> over <|end_of_text|>). */
static void detect_by_text(sb_tokenizer *t) {
    struct {
        int32_t *id;
        const char *const *texts;
    } kinds[] = {
        {&t->eot, EOT_TEXTS},         {&t->eom, EOM_TEXTS},         {&t->fim_pre, FIM_PRE_TEXTS},
        {&t->fim_suf, FIM_SUF_TEXTS}, {&t->fim_mid, FIM_MID_TEXTS}, {&t->fim_pad, FIM_PAD_TEXTS},
        {&t->fim_rep, FIM_REP_TEXTS}, {&t->fim_sep, FIM_SEP_TEXTS},
    };
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        if (*kinds[k].id >= 0)
            continue;
        int32_t id = find_any(t, kinds[k].texts);
        if (id >= 0) {
            *kinds[k].id = id;
            t->attr[id] |= SB_TOKEN_ATTR_CONTROL;
        }
    }
    /* control tokens whose text says "unused" */
    for (int32_t id = 0; id < t->n_vocab; id++)
        if ((t->attr[id] & SB_TOKEN_ATTR_CONTROL) && t->texts[id].len >= 6 && strstr(t->texts[id].ptr, "unused"))
            t->attr[id] |= SB_TOKEN_ATTR_UNUSED;
}

/* The end-of-generation set, as llama.cpp builds it. */
static void build_eog(sb_tokenizer *t) {
    eog_set(t, t->fim_pad, true);
    eog_set(t, t->fim_rep, true);
    eog_set(t, t->fim_sep, true);
    for (const char *const *s = EOG_TEXTS; *s; s++) {
        int32_t id = find_cstr(t, *s);
        if (id >= 0) {
            eog_set(t, id, true);
            t->attr[id] |= SB_TOKEN_ATTR_CONTROL;
        }
    }
    for (const char *const *s = ALWAYS_RENDER_TEXTS; *s; s++) {
        int32_t id = find_cstr(t, *s);
        if (id >= 0)
            t->attr[id] = SB_TOKEN_ATTR_USER_DEFINED;
    }
    eog_set(t, t->eos, true);
    eog_set(t, t->eot, true);
    eog_set(t, t->eom, true);

    /* o200k_harmony / solar-open: "<|end|>" is not an end of generation */
    int32_t ret = find_cstr(t, "<|return|>"), call = find_cstr(t, "<|call|>"), calls = find_cstr(t, "<|calls|>");
    int32_t flush = find_cstr(t, "<|flush|>"), end = find_cstr(t, "<|end|>");
    bool has_return = eog_has(t, ret), has_call = eog_has(t, call) || eog_has(t, calls);
    bool has_flush = eog_has(t, flush), has_end = eog_has(t, end);
    if ((has_return && has_call && has_end) || (has_call && has_flush && has_end)) {
        eog_set(t, end, false);
        t->attr[end] = SB_TOKEN_ATTR_USER_DEFINED;
    }
    /* gemma 4: "</s>" is not an end of generation */
    int32_t tool = find_cstr(t, "<|tool_response>"), s_id = find_cstr(t, "</s>");
    if (eog_has(t, tool) && eog_has(t, s_id)) {
        eog_set(t, s_id, false);
        t->attr[s_id] = SB_TOKEN_ATTR_NORMAL;
    }
}

/* ASCII case-insensitive substring test (needle in lowercase). */
static bool contains_ci(const char *hay, const char *needle) {
    size_t hl = strlen(hay), nl = strlen(needle);
    for (size_t i = 0; i + nl <= hl; i++) {
        size_t k = 0;
        while (k < nl && tolower((unsigned char)hay[i + k]) == needle[k])
            k++;
        if (k == nl)
            return true;
    }
    return false;
}

/* Sets or clears an attribute bit of the token with this text, if any. */
static void set_attr_by_text(sb_tokenizer *t, const char *text, uint16_t bit, bool on) {
    int32_t id = find_cstr(t, text);
    if (id < 0)
        return;
    if (on)
        t->attr[id] |= bit;
    else
        t->attr[id] &= (uint16_t)~bit;
}

/* Per-model strip attributes llama.cpp sets by model / pre / arch name. */
static sb_status apply_name_attrs(sb_tokenizer *t, const sb_gguf *g, sb_error *err) {
    sb_str name = {"", 0}, arch = {"", 0};
    bool present;
    sb_status st = opt_string(g, "general.name", &name, &present, err);
    if (st == SB_OK)
        st = opt_string(g, "general.architecture", &arch, &present, err);
    if (st != SB_OK)
        return st;
    char name_c[256], arch_c[64];
    snprintf(name_c, sizeof name_c, "%.*s", (int)(name.len > 255 ? 255 : name.len), name.ptr);
    snprintf(arch_c, sizeof arch_c, "%.*s", (int)(arch.len > 63 ? 63 : arch.len), arch.ptr);
    const char *pre = t->pre_name;
    if (strstr(pre, "jina-v2-de") || strstr(pre, "jina-v2-es") || strstr(pre, "jina-v2-code") ||
        strstr(arch_c, "nomic-bert-moe") || strstr(arch_c, "jina-bert-v3")) {
        set_attr_by_text(t, "<mask>", SB_TOKEN_ATTR_LSTRIP, true);
    } else if (contains_ci(name_c, "phi-3") || contains_ci(name_c, "phi3")) {
        for (size_t i = 0; i < t->n_special; i++)
            t->attr[t->special[i]] |= SB_TOKEN_ATTR_RSTRIP;
        set_attr_by_text(t, "</s>", SB_TOKEN_ATTR_RSTRIP, true);
        set_attr_by_text(t, "<unk>", SB_TOKEN_ATTR_RSTRIP, false);
        set_attr_by_text(t, "<s>", SB_TOKEN_ATTR_RSTRIP, false);
        set_attr_by_text(t, "<|endoftext|>", SB_TOKEN_ATTR_RSTRIP, false);
    } else if (contains_ci(name_c, "modern-bert")) {
        set_attr_by_text(t, "[MASK]", SB_TOKEN_ATTR_LSTRIP, true);
    }
    return SB_OK;
}

/* The newline token llama.cpp reports (llama_vocab_nl), from the default
 * pad id it falls back to. */
static sb_status find_newline(sb_tokenizer *t, int32_t default_pad, sb_error *err) {
    if (t->kind == SB_TOKENIZER_WPM) {
        t->nl = default_pad;
        return SB_OK;
    }
    if (t->kind == SB_TOKENIZER_SPM) {
        t->nl = t->byte_token['\n'] >= 0 ? t->byte_token['\n'] : default_pad;
        return SB_OK;
    }
    sb_ids ids = {0};
    sb_pretok_words w = {0};
    sb_status st = sb_tok_bpe(t, "\n", 1, &w, &ids, err);
    sb_pretok_words_free(&w);
    if (st == SB_OK)
        t->nl = ids.n ? ids.v[0] : default_pad;
    sb_free(ids.v);
    return st;
}

/* Byte fallback tokens: BPE uses each byte's GPT-2 character; SPM uses
 * <0xNN>, else the single-byte token. */
static void build_byte_tokens(sb_tokenizer *t) {
    for (int b = 0; b < 256; b++) {
        char s[8];
        if (t->kind == SB_TOKENIZER_BPE) {
            size_t n = sb_uc_encode(sb_uc_byte_to_cp((uint8_t)b), s);
            t->byte_token[b] = sb_tok_lookup(t, s, n);
        } else {
            snprintf(s, sizeof s, "<0x%02X>", b);
            int32_t id = find_cstr(t, s);
            if (id < 0) {
                char c = (char)b;
                id = sb_tok_lookup(t, &c, 1);
            }
            t->byte_token[b] = id;
        }
    }
}

/* True when every U+2581 inside a token follows another U+2581 (see
 * spm_word_split). */
static bool spm_words_independent(const sb_tokenizer *t) {
    for (int32_t id = 0; id < t->n_vocab; id++) {
        sb_str s = t->texts[id];
        for (size_t i = 1; i + 3 <= s.len; i++)
            if (memcmp(s.ptr + i, "\xe2\x96\x81", 3) == 0 && (i < 3 || memcmp(s.ptr + i - 3, "\xe2\x96\x81", 3) != 0))
                return false;
    }
    return true;
}

sb_status sb_tok_load(sb_tokenizer *t, const sb_gguf *g, sb_error *err) {
    sb_str pre;
    sb_status st = load_model_type(t, g, &pre, err);
    if (st == SB_OK)
        st = load_tokens(t, g, err);
    if (st == SB_OK && t->kind == SB_TOKENIZER_BPE)
        st = load_merges(t, g, err);
    if (st != SB_OK)
        return st;
    build_byte_tokens(t);
    if (t->kind == SB_TOKENIZER_SPM)
        t->spm_word_split = spm_words_independent(t);
    int32_t default_pad = t->pad < t->n_vocab ? t->pad : -1;
    st = load_special_ids(t, g, err);
    if (st != SB_OK)
        return st;
    if (t->cls < 0)
        t->cls = t->bos;
    detect_by_text(t);
    build_eog(t);
    st = sb_tok_build_special(t, err);
    if (st == SB_OK)
        st = sb_tok_build_pieces(t, err);
    if (st == SB_OK)
        st = apply_name_attrs(t, g, err);
    if (st == SB_OK)
        st = find_newline(t, default_pad, err);
    return st;
}
