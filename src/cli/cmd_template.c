/*
 * cmd_template.c - `solebox template`: render a conversation through a
 * model's chat template and print the prompt exactly as the model sees it.
 *
 *   solebox template -m MODEL.gguf --messages FILE.json [--add-generation-prompt]
 *                    [--tools FILE.json] [--template FILE.jinja] [--template-name NAME]
 *                    [--bos-text-strip] [--now SECONDS]
 *
 * The template is the model's `tokenizer.chat_template` (or
 * `tokenizer.chat_template.NAME`), or FILE.jinja; without either, the
 * built-in ChatML template (with a note on stderr). bos_token/eos_token are
 * the texts of the model's BOS/EOS tokens. The messages file is an
 * OpenAI-style array of messages, or an object with "messages" and
 * optionally "tools", "add_generation_prompt" and any extra variables the
 * template reads (e.g. "enable_thinking").
 */
#include "commands.h"

#include "sb_alloc.h"
#include "sb_file.h"
#include "sb_gguf.h"
#include "sb_template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JSON_FILE (64u << 20)

/* Prints the usage text. */
static void usage(FILE *out) {
    fprintf(out,
            "usage: solebox template -m MODEL.gguf --messages FILE.json [options]\n"
            "\n"
            "Renders a conversation through the model's chat template and prints the prompt.\n"
            "\n"
            "  -m, --model FILE          GGUF model: its tokenizer.chat_template and BOS/EOS texts\n"
            "      --messages FILE       JSON: an array of messages, or {\"messages\": [...], \"tools\": [...], ...}\n"
            "      --add-generation-prompt  end with the assistant turn's opening\n"
            "      --tools FILE          JSON array of tool definitions (overrides \"tools\" in --messages)\n"
            "      --template FILE       use this Jinja template instead of the model's\n"
            "      --template-name NAME  use the model's tokenizer.chat_template.NAME\n"
            "      --bos-text-strip      drop a leading BOS text when the model adds BOS itself\n"
            "                            (what llama.cpp's server sends to the tokenizer)\n"
            "      --now SECONDS         time for strftime_now (seconds since the epoch, UTC)\n");
}

typedef struct template_opts {
    const char *model, *messages, *tools, *template_file, *template_name;
    bool add_generation_prompt, strip_bos;
    int64_t now;
} template_opts;

/* Parses argv; returns 0, or 2 after printing a usage error. */
static int parse_args(int argc, char **argv, template_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model"))
            slot = &o->model;
        else if (!strcmp(a, "--messages"))
            slot = &o->messages;
        else if (!strcmp(a, "--tools"))
            slot = &o->tools;
        else if (!strcmp(a, "--template"))
            slot = &o->template_file;
        else if (!strcmp(a, "--template-name"))
            slot = &o->template_name;
        else if (!strcmp(a, "--add-generation-prompt"))
            o->add_generation_prompt = true;
        else if (!strcmp(a, "--bos-text-strip"))
            o->strip_bos = true;
        else if (!strcmp(a, "--now")) {
            char *end;
            if (i + 1 >= argc || (o->now = strtoll(argv[i + 1], &end, 10), *end != '\0') || o->now <= 0) {
                fprintf(stderr, "solebox template: --now needs a positive number of seconds\n");
                return 2;
            }
            i++;
        } else {
            fprintf(stderr, "solebox template: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "solebox template: %s needs a value\n", a);
                return 2;
            }
            *slot = argv[++i];
        }
    }
    if (!o->messages || (!o->model && !o->template_file)) {
        fprintf(stderr, "solebox template: --messages and -m (or --template) are required\n\n");
        usage(stderr);
        return 2;
    }
    return 0;
}

/* The text of token `key_id` (a token id key) from the vocabulary, copied
 * into *out (caller frees; "" when the model has none). */
static sb_status token_text(const sb_gguf *g, const char *key_id, char **out, sb_error *err) {
    int64_t id;
    const sb_gguf_array *tokens;
    *out = NULL;
    sb_status st = sb_gguf_get_int(g, key_id, &id, err);
    if (st == SB_ERR_NOT_FOUND) {
        *out = sb_strdup("");
        return *out ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    }
    if (st == SB_OK)
        st = sb_gguf_get_array(g, "tokenizer.ggml.tokens", &tokens, err);
    if (st)
        return st;
    if (tokens->elem_type != SB_GGUF_STRING || id < 0 || (uint64_t)id >= tokens->count)
        return sb_error_set(err, SB_ERR_FORMAT, "%s: token %lld is not in tokenizer.ggml.tokens", key_id, (long long)id);
    sb_str s = sb_gguf_array_string(tokens, (uint64_t)id);
    *out = sb_strndup(s.ptr, s.len);
    return *out ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "out of memory");
}

/* Whether the tokenizer adds BOS itself: tokenizer.ggml.add_bos_token, or
 * llama.cpp's default when absent (true for SentencePiece "llama" vocabs). */
static bool model_adds_bos(const sb_gguf *g) {
    bool b;
    sb_error err;
    if (sb_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, &err) == SB_OK)
        return b;
    sb_str model;
    return sb_gguf_get_string(g, "tokenizer.ggml.model", &model, &err) == SB_OK && sb_str_eq_cstr(model, "llama");
}

/* Everything the command reads from the model. */
typedef struct model_info {
    char *chat_template; /* NULL: the model has none */
    char *bos, *eos;
    bool adds_bos;
} model_info;

/* Reads the chat template, BOS/EOS texts and add_bos flag from the model. */
static sb_status read_model(const template_opts *o, model_info *mi, sb_error *err) {
    sb_gguf *g;
    sb_status st = sb_gguf_open(o->model, &g, err);
    if (st)
        return sb_error_prefix(err, "%s: ", o->model);
    char key[256];
    if (o->template_name)
        snprintf(key, sizeof key, "tokenizer.chat_template.%s", o->template_name);
    else
        snprintf(key, sizeof key, "tokenizer.chat_template");
    sb_str tmpl;
    st = sb_gguf_get_string(g, key, &tmpl, err);
    if (st == SB_OK && !(mi->chat_template = sb_strndup(tmpl.ptr, tmpl.len)))
        st = sb_error_set(err, SB_ERR_NOMEM, "out of memory");
    else if (st == SB_ERR_NOT_FOUND && o->template_name)
        st = sb_error_set(err, SB_ERR_NOT_FOUND, "the model has no %s", key);
    else if (st == SB_ERR_NOT_FOUND)
        st = SB_OK;
    if (st == SB_OK)
        st = token_text(g, "tokenizer.ggml.bos_token_id", &mi->bos, err);
    if (st == SB_OK)
        st = token_text(g, "tokenizer.ggml.eos_token_id", &mi->eos, err);
    mi->adds_bos = model_adds_bos(g);
    sb_gguf_close(g);
    return st ? sb_error_prefix(err, "%s: ", o->model) : SB_OK;
}

/* Reads and parses a JSON file into a new value the caller frees. */
static sb_status read_json(const char *path, sb_tmpl_value **out, sb_error *err) {
    char *text;
    size_t len;
    sb_status st = sb_file_read_all(path, MAX_JSON_FILE, &text, &len, err);
    if (st)
        return st;
    st = sb_tmpl_value_from_json(text, len, out, err);
    sb_free(text);
    return st ? sb_error_prefix(err, "%s: ", path) : SB_OK;
}

/* Splits the --messages document: *msgs is doc itself (an array) or its
 * "messages" (a new handle); *tools a new handle or NULL; *extra is doc when
 * it is an object (its other keys become template variables). */
static sb_status split_messages(const char *path, sb_tmpl_value *doc, sb_tmpl_value **msgs, sb_tmpl_value **tools,
                                sb_tmpl_value **extra, bool *agp, sb_error *err) {
    if (sb_tmpl_value_type(doc) == SB_TMPL_LIST) {
        *msgs = doc;
        return SB_OK;
    }
    if (sb_tmpl_value_type(doc) != SB_TMPL_DICT)
        return sb_error_set(err, SB_ERR_FORMAT, "%s: expected an array of messages or an object", path);
    *msgs = sb_tmpl_dict_get(doc, "messages");
    if (!*msgs || sb_tmpl_value_type(*msgs) != SB_TMPL_LIST)
        return sb_error_set(err, SB_ERR_FORMAT, "%s: \"messages\" must be an array", path);
    *tools = sb_tmpl_dict_get(doc, "tools");
    sb_tmpl_value *flag = sb_tmpl_dict_get(doc, "add_generation_prompt");
    if (flag) {
        char *json = NULL;
        if (sb_tmpl_value_to_json(flag, &json, NULL, err) == SB_OK && strcmp(json, "true") == 0)
            *agp = true;
        sb_free(json);
        sb_tmpl_value_free(flag);
    }
    *extra = doc;
    return SB_OK;
}

/* The `template` subcommand: see the top of this file. */
int sb_cmd_template(int argc, char **argv) {
    template_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    sb_error err = {0};
    model_info mi = {0};
    sb_tmpl_value *doc = NULL, *msgs = NULL, *tools = NULL, *extra = NULL, *tools_file = NULL;
    sb_template *t = NULL;
    char *src = NULL, *text = NULL;
    size_t src_len = 0, len = 0;
    bool agp = o.add_generation_prompt;
    sb_status st = SB_OK;

    if (o.model)
        st = read_model(&o, &mi, &err);
    if (st == SB_OK && o.template_file)
        st = sb_file_read_all(o.template_file, SB_TEMPLATE_DEFAULT_MAX_SOURCE, &src, &src_len, &err);
    else if (st == SB_OK && mi.chat_template) {
        src = mi.chat_template;
        mi.chat_template = NULL;
        src_len = strlen(src);
    } else if (st == SB_OK) {
        fprintf(stderr, "solebox template: note: %s has no chat template; using the built-in ChatML template\n",
                o.model);
        src = sb_strdup(sb_template_default_chatml());
        src_len = src ? strlen(src) : 0;
        if (!src)
            st = sb_error_set(&err, SB_ERR_NOMEM, "out of memory");
    }
    if (st == SB_OK && (st = sb_template_compile(src, src_len, NULL, &t, &err)))
        sb_error_prefix(&err, "%s: ", o.template_file ? o.template_file : "chat template");
    if (st == SB_OK)
        st = read_json(o.messages, &doc, &err);
    if (st == SB_OK)
        st = split_messages(o.messages, doc, &msgs, &tools, &extra, &agp, &err);
    if (st == SB_OK && o.tools && (st = read_json(o.tools, &tools_file, &err)) == SB_OK) {
        sb_tmpl_value_free(tools);
        tools = NULL;
    }
    if (st == SB_OK) {
        sb_template_inputs in = {.messages = msgs, .tools = tools_file ? tools_file : tools,
                                 .add_generation_prompt = agp, .extra = extra, .now = o.now};
        in.bos_token = sb_str_from_cstr(mi.bos ? mi.bos : "");
        in.eos_token = sb_str_from_cstr(mi.eos ? mi.eos : "");
        st = sb_template_render(t, &in, &text, &len, &err);
    }
    if (st == SB_OK && o.strip_bos && mi.adds_bos && mi.bos)
        sb_template_strip_bos(text, &len, sb_str_from_cstr(mi.bos));
    if (st == SB_OK && fwrite(text, 1, len, stdout) != len)
        st = sb_error_set(&err, SB_ERR_IO, "writing the prompt to stdout failed");
    if (st == SB_OK && fflush(stdout) != 0)
        st = sb_error_set(&err, SB_ERR_IO, "writing the prompt to stdout failed");
    if (st == SB_ERR_INVALID_ARG) /* raise_exception(): the template refuses this conversation */
        fprintf(stderr, "solebox template: the template rejected the conversation: %s\n", err.msg);
    else if (st)
        fprintf(stderr, "solebox template: %s\n", err.msg[0] ? err.msg : sb_status_name(st));

    sb_free(text);
    sb_free(src);
    sb_free(mi.chat_template);
    sb_free(mi.bos);
    sb_free(mi.eos);
    sb_template_free(t);
    if (msgs != doc)
        sb_tmpl_value_free(msgs);
    sb_tmpl_value_free(tools);
    sb_tmpl_value_free(tools_file);
    sb_tmpl_value_free(doc);
    return st ? 1 : 0;
}
