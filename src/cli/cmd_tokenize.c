/*
 * cmd_tokenize.c - `solebox tokenize`: turn text into token ids with a
 * model's tokenizer (the same ids llama.cpp's llama-tokenize gives).
 *
 *   solebox tokenize -m MODEL [-p TEXT | -f FILE] [--special] [--bos | --no-bos] [--pieces]
 *
 * The text is -p TEXT, the bytes of -f FILE, or standard input (all of it,
 * byte for byte). Output: the ids space-separated on one line; with
 * --pieces one line per token, "<id>\t<piece>", where the piece is what the
 * token decodes to with special tokens rendered, escaped so every line stays
 * one line: \n \r \t \\ and \xNN for other control bytes and bytes that are
 * not valid UTF-8. --special parses special-token text (<|im_start|>, <s>, ...)
 * into special tokens; --bos/--no-bos force the BOS token on or off (default:
 * the model's tokenizer.ggml.add_bos_token, as llama.cpp). EOS follows the
 * model's add_eos_token.
 */
#include "commands.h"
#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_file.h"
#include "sb_gguf.h"
#include "sb_tokenizer.h"
#include "sb_utf8.h"

#include <stdio.h>
#include <string.h>

#define MAX_INPUT (256u << 20)

static void usage(FILE *out) {
    fprintf(out, "usage: solebox tokenize -m MODEL [-p TEXT | -f FILE] [--special] [--bos | --no-bos] [--pieces]\n"
                 "\n"
                 "Prints the token ids of TEXT (or of FILE, or of standard input) on one line.\n"
                 "  -m, --model MODEL  GGUF file whose tokenizer to use\n"
                 "  -p, --prompt TEXT  the text (default: read standard input)\n"
                 "  -f, --file FILE    read the text from FILE\n"
                 "  --special          turn special-token text such as <|im_start|> into special tokens\n"
                 "  --bos, --no-bos    add / do not add the BOS token (default: as the model says)\n"
                 "  --pieces           one line per token: id, a tab, the token's text (escaped)\n");
}

/* Reads all of stdin into *out (caller frees with sb_free). */
static int read_stdin(char **out, size_t *len) {
    sb_buf b;
    sb_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0) {
        if (b.len + n > MAX_INPUT || sb_buf_append(&b, chunk, n) != SB_OK) {
            sb_buf_free(&b);
            fprintf(stderr, "solebox tokenize: standard input is too large (limit %u MiB)\n", MAX_INPUT >> 20);
            return 1;
        }
    }
    if (ferror(stdin)) {
        sb_buf_free(&b);
        fprintf(stderr, "solebox tokenize: cannot read standard input\n");
        return 1;
    }
    *out = sb_buf_detach(&b, len);
    if (!*out) {
        fprintf(stderr, "solebox tokenize: out of memory\n");
        return 1;
    }
    return 0;
}

/* Prints a piece on one line: printable UTF-8 as is, the rest escaped. */
static void print_escaped(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\r') {
            fputs("\\r", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c == '\\') {
            fputs("\\\\", stdout);
        } else if (c < 0x20 || c == 0x7F) {
            printf("\\x%02x", c);
        } else if (c >= 0x80) {
            uint32_t cp;
            bool ok;
            size_t l = sb_utf8_decode(s + i, n - i, &cp, &ok);
            if (ok) {
                fwrite(s + i, 1, l, stdout);
                i += l;
                continue;
            }
            printf("\\x%02x", c);
        } else {
            putchar(c);
        }
        i++;
    }
}

int sb_cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *prompt = NULL, *file = NULL;
    bool special = false, pieces = false;
    int bos = SB_TOK_MODEL_DEFAULT;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) && i + 1 < argc) {
            model = argv[++i];
        } else if ((strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) && i + 1 < argc) {
            prompt = argv[++i];
        } else if ((strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(a, "--special") == 0) {
            special = true;
        } else if (strcmp(a, "--bos") == 0) {
            bos = 1;
        } else if (strcmp(a, "--no-bos") == 0) {
            bos = 0;
        } else if (strcmp(a, "--pieces") == 0) {
            pieces = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "solebox tokenize: unknown or incomplete option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!model || (prompt && file)) {
        fprintf(stderr, "solebox tokenize: %s\n\n", !model ? "-m MODEL is required" : "give -p or -f, not both");
        usage(stderr);
        return 2;
    }

    char *text = NULL;
    size_t len = 0;
    sb_error err = {0};
    if (prompt) {
        text = sb_strdup(prompt);
        len = strlen(prompt);
        if (!text) {
            fprintf(stderr, "solebox tokenize: out of memory\n");
            return 1;
        }
    } else if (file) {
        if (sb_file_read_all(file, MAX_INPUT, &text, &len, &err) != SB_OK) {
            fprintf(stderr, "solebox tokenize: %s\n", err.msg);
            return 1;
        }
    } else if (read_stdin(&text, &len) != 0) {
        return 1;
    }

    sb_gguf *g = NULL;
    sb_tokenizer *t = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = 1;
    if (sb_gguf_open(model, &g, &err) != SB_OK || sb_tokenizer_create(g, &t, &err) != SB_OK) {
        fprintf(stderr, "solebox tokenize: %s: %s\n", model, err.msg);
        goto done;
    }
    sb_gguf_close(g);
    g = NULL;
    sb_tokenize_opts opts = {bos, SB_TOK_MODEL_DEFAULT, special};
    if (sb_tokenize_ex(t, text, len, &opts, &ids, &n, &err) != SB_OK) {
        fprintf(stderr, "solebox tokenize: %s\n", err.msg);
        goto done;
    }
    if (pieces) {
        for (size_t i = 0; i < n; i++) {
            char small[256];
            int l = sb_token_to_piece(t, ids[i], small, sizeof small, 0, true);
            printf("%d\t", (int)ids[i]);
            if (l >= 0) {
                print_escaped(small, (size_t)l);
            } else {
                char *big = sb_malloc((size_t)-l);
                if (big) {
                    sb_token_to_piece(t, ids[i], big, (size_t)-l, 0, true);
                    print_escaped(big, (size_t)-l);
                    sb_free(big);
                }
            }
            putchar('\n');
        }
    } else {
        for (size_t i = 0; i < n; i++)
            printf(i ? " %d" : "%d", (int)ids[i]);
        putchar('\n');
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "solebox tokenize: cannot write the output\n");
        goto done;
    }
    rc = 0;
done:
    sb_free(ids);
    sb_free(text);
    sb_tokenizer_free(t);
    sb_gguf_close(g);
    return rc;
}
