/*
 * tok_tokenizer.c - the public entry points: create/free, tokenize, and the
 * vocabulary queries.
 *
 * Tokenizing follows llama.cpp's llama_vocab::impl::tokenize: cut the text at
 * special tokens (tok_special.c), run the model's algorithm on every raw
 * fragment, add BOS/EOS. For SentencePiece a fragment at the start or right
 * after a special token gets the leading space (add_space_prefix), and its
 * spaces become U+2581.
 */
#include "sb_alloc.h"
#include "sb_checked.h"
#include "tok_internal.h"

#include <string.h>

sb_status sb_ids_push(sb_ids *a, int32_t id) {
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 64;
        int32_t *q = sb_reallocarray(a->v, ncap, sizeof *q);
        if (!q)
            return SB_ERR_NOMEM;
        a->v = q;
        a->cap = ncap;
    }
    a->v[a->n++] = id;
    return SB_OK;
}

void sb_tokenizer_free(sb_tokenizer *t) {
    if (!t)
        return;
    sb_free(t->pre_name);
    sb_free(t->text_arena);
    sb_free(t->texts);
    sb_free(t->scores);
    sb_free(t->attr);
    sb_strmap_free(&t->text_map);
    sb_free(t->piece_arena);
    sb_free(t->pieces);
    sb_free(t->eog_bits);
    sb_free(t->special);
    sb_free(t->trie_terminal);
    sb_u64map_free(&t->trie_edges);
    sb_u64map_free(&t->merges);
    sb_pretok_free(t->pretok);
    sb_free(t);
}

sb_status sb_tokenizer_create(const sb_gguf *g, sb_tokenizer **out, sb_error *err) {
    *out = NULL;
    sb_tokenizer *t = sb_calloc(1, sizeof *t);
    if (!t)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory creating the tokenizer");
    sb_strmap_init(&t->text_map);
    sb_u64map_init(&t->merges);
    sb_u64map_init(&t->trie_edges);
    sb_status st = sb_tok_load(t, g, err);
    if (st != SB_OK) {
        sb_tokenizer_free(t);
        return st;
    }
    *out = t;
    return SB_OK;
}

/* One SPM fragment: optional leading space, spaces -> U+2581. */
static sb_status spm_fragment(const sb_tokenizer *t, const char *text, size_t len, bool prefix, sb_ids *out,
                              sb_error *err) {
    size_t spaces = prefix ? 1 : 0;
    for (size_t i = 0; i < len; i++)
        spaces += text[i] == ' ';
    size_t cap = len + spaces * 2 + 1;
    char *buf = sb_malloc(cap);
    if (!buf)
        return sb_error_set(err, SB_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
    size_t o = 0;
    if (prefix) {
        memcpy(buf, "\xe2\x96\x81", 3);
        o = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(buf + o, "\xe2\x96\x81", 3);
            o += 3;
        } else {
            buf[o++] = text[i];
        }
    }
    sb_status st = sb_tok_spm(t, buf, o, out, err);
    sb_free(buf);
    return st;
}

sb_status sb_tokenize_ex(const sb_tokenizer *t, const char *text, size_t len, const sb_tokenize_opts *opts,
                         int32_t **ids, size_t *n, sb_error *err) {
    *ids = NULL;
    *n = 0;
    if (!t || !opts || (!text && len))
        return sb_error_set(err, SB_ERR_INVALID_ARG, "sb_tokenize: missing tokenizer, options or text");
    if (len > INT32_MAX)
        return sb_error_set(err, SB_ERR_LIMIT, "text of %zu bytes is too long to tokenize (limit %d)", len, INT32_MAX);
    bool wpm = t->kind == SB_TOKENIZER_WPM;
    /* BERT: add_special means [CLS] ... [SEP] whatever add_bos/add_eos say */
    bool add_bos = opts->add_bos == SB_TOK_MODEL_DEFAULT ? (wpm || t->add_bos) : opts->add_bos != 0;
    bool add_eos = opts->add_eos == SB_TOK_MODEL_DEFAULT ? (wpm || t->add_eos) : opts->add_eos != 0;
    int32_t end_id = wpm ? t->sep : t->eos;
    if (add_bos && t->bos < 0)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "cannot add BOS: the model has no BOS token");
    if (add_eos && end_id < 0)
        return sb_error_set(err, SB_ERR_UNSUPPORTED, "cannot add %s: the model has no %s token", wpm ? "SEP" : "EOS",
                            wpm ? "SEP" : "EOS");

    sb_tok_frag *frags = NULL;
    size_t nf = 0;
    sb_status st = sb_tok_partition(t, text, len, opts->parse_special, &frags, &nf, err);
    if (st != SB_OK)
        return st;
    sb_ids out = {0};
    sb_pretok_words words = {0};
    if (add_bos && sb_ids_push(&out, t->bos) != SB_OK)
        goto oom;
    bool prev_special = true;
    for (size_t i = 0; i < nf && st == SB_OK; i++) {
        const sb_tok_frag *f = &frags[i];
        if (f->token >= 0) {
            if (sb_ids_push(&out, f->token) != SB_OK)
                goto oom;
            prev_special = true;
            continue;
        }
        switch (t->kind) {
        case SB_TOKENIZER_SPM:
            st = spm_fragment(t, text + f->off, f->len, t->add_space_prefix && prev_special, &out, err);
            break;
        case SB_TOKENIZER_BPE:
            st = sb_tok_bpe(t, text + f->off, f->len, &words, &out, err);
            break;
        case SB_TOKENIZER_WPM:
            st = sb_tok_wpm(t, text + f->off, f->len, &out, err);
            break;
        }
        prev_special = false;
    }
    if (st == SB_OK && add_eos && sb_ids_push(&out, end_id) != SB_OK)
        goto oom;
    sb_free(frags);
    sb_pretok_words_free(&words);
    if (st != SB_OK) {
        sb_free(out.v);
        return st;
    }
    if (out.n > INT32_MAX) {
        sb_free(out.v);
        return sb_error_set(err, SB_ERR_LIMIT, "text gives %zu tokens (limit %d)", out.n, INT32_MAX);
    }
    if (out.n == 0) {
        sb_free(out.v);
        out.v = NULL;
    }
    *ids = out.v;
    *n = out.n;
    return SB_OK;
oom:
    sb_free(frags);
    sb_pretok_words_free(&words);
    sb_free(out.v);
    return sb_error_set(err, SB_ERR_NOMEM, "out of memory tokenizing %zu bytes", len);
}

sb_status sb_tokenize(const sb_tokenizer *t, const char *text, size_t len, bool add_special, bool parse_special,
                      int32_t **ids, size_t *n, sb_error *err) {
    sb_tokenize_opts o = {add_special ? SB_TOK_MODEL_DEFAULT : 0, add_special ? SB_TOK_MODEL_DEFAULT : 0,
                          parse_special};
    return sb_tokenize_ex(t, text, len, &o, ids, n, err);
}

sb_tokenizer_kind sb_tokenizer_get_kind(const sb_tokenizer *t) { return t->kind; }
const char *sb_tokenizer_model_name(const sb_tokenizer *t) { return t->model_name; }
const char *sb_tokenizer_pre_name(const sb_tokenizer *t) { return t->pre_name; }
int32_t sb_tokenizer_n_vocab(const sb_tokenizer *t) { return t->n_vocab; }
int32_t sb_tokenizer_bos(const sb_tokenizer *t) { return t->bos; }
int32_t sb_tokenizer_eos(const sb_tokenizer *t) { return t->eos; }
int32_t sb_tokenizer_eot(const sb_tokenizer *t) { return t->eot; }
int32_t sb_tokenizer_pad(const sb_tokenizer *t) { return t->pad; }
int32_t sb_tokenizer_unk(const sb_tokenizer *t) { return t->unk; }
int32_t sb_tokenizer_sep(const sb_tokenizer *t) { return t->sep; }
int32_t sb_tokenizer_cls(const sb_tokenizer *t) { return t->cls; }
int32_t sb_tokenizer_nl(const sb_tokenizer *t) { return t->nl; }
bool sb_tokenizer_add_bos(const sb_tokenizer *t) { return t->add_bos; }
bool sb_tokenizer_add_eos(const sb_tokenizer *t) { return t->add_eos; }
bool sb_tokenizer_add_space_prefix(const sb_tokenizer *t) { return t->add_space_prefix; }

bool sb_tokenizer_is_eog(const sb_tokenizer *t, int32_t id) {
    return sb_tok_valid_id(t, id) && ((t->eog_bits[id >> 3] >> (id & 7)) & 1);
}

bool sb_tokenizer_is_control(const sb_tokenizer *t, int32_t id) {
    return sb_tok_valid_id(t, id) && (t->attr[id] & SB_TOKEN_ATTR_CONTROL);
}

sb_str sb_tokenizer_token_text(const sb_tokenizer *t, int32_t id) {
    return sb_tok_valid_id(t, id) ? t->texts[id] : (sb_str){"", 0};
}

uint32_t sb_tokenizer_token_attr(const sb_tokenizer *t, int32_t id) {
    return sb_tok_valid_id(t, id) ? t->attr[id] : 0;
}

sb_token_type sb_tokenizer_token_type(const sb_tokenizer *t, int32_t id) {
    if (!sb_tok_valid_id(t, id))
        return SB_TOKEN_TYPE_UNDEFINED;
    uint16_t a = t->attr[id];
    if (a & SB_TOKEN_ATTR_CONTROL)
        return SB_TOKEN_TYPE_CONTROL;
    if (a & SB_TOKEN_ATTR_USER_DEFINED)
        return SB_TOKEN_TYPE_USER_DEFINED;
    if (a & SB_TOKEN_ATTR_UNKNOWN)
        return SB_TOKEN_TYPE_UNKNOWN;
    if (a & SB_TOKEN_ATTR_BYTE)
        return SB_TOKEN_TYPE_BYTE;
    if (a & SB_TOKEN_ATTR_UNUSED)
        return SB_TOKEN_TYPE_UNUSED;
    if (a & SB_TOKEN_ATTR_NORMAL)
        return SB_TOKEN_TYPE_NORMAL;
    return SB_TOKEN_TYPE_UNDEFINED;
}

float sb_tokenizer_token_score(const sb_tokenizer *t, int32_t id) { return sb_tok_valid_id(t, id) ? t->scores[id] : 0; }

int32_t sb_tokenizer_find(const sb_tokenizer *t, const char *text, size_t len) { return sb_tok_lookup(t, text, len); }
