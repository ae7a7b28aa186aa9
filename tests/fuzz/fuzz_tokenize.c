/*
 * fuzz_tokenize.c - libFuzzer target for tokenizing untrusted text (what a
 * prompt or a chat message of an HTTP request becomes) with real
 * vocabularies.
 *
 * The vocabularies are loaded once: every *.gguf under the shared data's
 * models/vocab/ ($SOLEBOX_SHARED, else $SOLEBOX_SHARED_DEFAULT, else the
 * build's shared directory), in name order, then the committed seeds of
 * fuzz_model (SentencePiece and byte-level BPE), so the target runs without
 * the shared data too. Files that build no tokenizer are skipped.
 *
 * Input: byte 0 picks the vocabulary (modulo their number), byte 1 the flags
 * (bit 0 add_special, bit 1 parse_special, bit 2 remove_special when
 * decoding), the rest is the text (any bytes). Checks: tokenizing succeeds
 * or refuses with a message; every id lies in the vocabulary; detokenizing
 * the ids succeeds; the streaming decoder accepts them and everything it
 * emits is valid UTF-8. Any disagreement traps, so the fuzzer reports it.
 */
#define _GNU_SOURCE
#include "fuzz_check.h"
#include "fuzz_tokens.h"

#include "sb_gguf.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef SB_FUZZ_SHARED_DIR
#define SB_FUZZ_SHARED_DIR "../shared"
#endif
#ifndef SB_FUZZ_SEED_DIR
#define SB_FUZZ_SEED_DIR "tests/fuzz/corpus/model"
#endif

#define MAX_VOCABS 32

static sb_tokenizer *g_toks[MAX_VOCABS];
static int g_n_toks;

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Adds the tokenizer of every *.gguf file in dir, in name order. */
static void load_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return;
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < 256) {
        size_t len = strlen(e->d_name);
        if (len > 5 && strcmp(e->d_name + len - 5, ".gguf") == 0)
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        free(names[i]);
        sb_gguf *g = NULL;
        sb_tokenizer *t = NULL;
        if (g_n_toks < MAX_VOCABS && sb_gguf_open(path, &g, NULL) == SB_OK &&
            sb_tokenizer_create(g, &t, NULL) == SB_OK)
            g_toks[g_n_toks++] = t;
        sb_gguf_close(g);
    }
}

static void load_vocabs(void) {
    const char *shared = getenv("SOLEBOX_SHARED");
    if (!shared || !*shared)
        shared = getenv("SOLEBOX_SHARED_DEFAULT");
    if (!shared || !*shared)
        shared = SB_FUZZ_SHARED_DIR;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/vocab", shared);
    load_dir(dir);
    load_dir(SB_FUZZ_SEED_DIR);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int loaded;
    if (!loaded) {
        load_vocabs();
        loaded = 1;
        FUZZ_ASSERT(g_n_toks > 0);
    }
    if (size < 2)
        return 0;
    const sb_tokenizer *t = g_toks[data[0] % g_n_toks];
    fuzz_tokens_roundtrip(t, (const char *)data + 2, size - 2, data[1] & 1, data[1] & 2, data[1] & 4);
    return 0;
}
