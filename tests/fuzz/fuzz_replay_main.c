/*
 * fuzz_replay_main.c - runs a libFuzzer target over files without libFuzzer.
 *
 *   fuzz_<name>_replay [--suffix=.gguf] [--shared=REL]... PATH...
 *
 * Every PATH (a file, or a directory walked recursively in name order) is
 * read into a buffer of exactly its size and passed to LLVMFuzzerTestOneInput,
 * so a normal or ASan build replays a corpus as a regression test.
 * --suffix=S keeps only files found in directories whose name ends in S
 * (files named directly are always run). --shared=REL adds the path REL under
 * the shared data directory ($SOLEBOX_SHARED, else $SOLEBOX_SHARED_DEFAULT);
 * if it is absent the rest still runs and the exit status is 77 (skipped).
 * Other arguments starting with '-' are ignored, as libFuzzer flags.
 * Exits 0 when every input ran (a crash is the failure), 1 on an unreadable
 * path.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *g_suffix = "";
static long g_runs;
static int g_errors;

/* Reads a whole file into a malloc'd buffer of exactly its size (so ASan sees
 * any read past the end) and runs the target on it. */
static void run_file(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        g_errors++;
        return;
    }
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len, fp)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(fp);
    if (!buf) {
        fprintf(stderr, "replay: out of memory reading %s\n", path);
        g_errors++;
        return;
    }
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact) {
        free(buf);
        g_errors++;
        return;
    }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    g_runs++;
}

static int has_suffix(const char *name) {
    size_t n = strlen(name), s = strlen(g_suffix);
    return n >= s && strcmp(name + n - s, g_suffix) == 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

static void run_path(const char *path, int named) {
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        g_errors++;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (named || has_suffix(path))
            run_file(path);
        return;
    }
    struct dirent **ents;
    int n = scandir(path, &ents, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "replay: cannot read directory %s\n", path);
        g_errors++;
        return;
    }
    for (int i = 0; i < n; i++) {
        const char *name = ents[i]->d_name;
        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
            size_t len = strlen(path) + strlen(name) + 2;
            char *child = malloc(len);
            if (child) {
                snprintf(child, len, "%s/%s", path, name);
                run_path(child, 0);
                free(child);
            }
        }
        free(ents[i]);
    }
    free(ents);
}

int main(int argc, char **argv) {
    int missing = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--suffix=", 9) == 0) {
            g_suffix = a + 9;
        } else if (strncmp(a, "--shared=", 9) == 0) {
            const char *root = getenv("SOLEBOX_SHARED");
            if (!root || !*root)
                root = getenv("SOLEBOX_SHARED_DEFAULT");
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", root && *root ? root : "../shared", a + 9);
            struct stat st;
            if (stat(path, &st) != 0) {
                printf("replay: shared data %s is absent; skipping it\n", path);
                missing = 1;
            } else {
                run_path(path, 0);
            }
        } else if (a[0] == '-') {
            continue;
        } else {
            run_path(a, 1);
        }
    }
    printf("replay: %ld inputs run, %d unreadable paths\n", g_runs, g_errors);
    if (g_errors)
        return 1;
    return missing ? 77 : 0;
}
