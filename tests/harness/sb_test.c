#define _GNU_SOURCE
#include "sb_test.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int g_passed, g_failed;
static const char *g_current = "";

void sb_test_check(bool ok, const char *file, int line, const char *expr) {
    if (ok) {
        g_passed++;
        return;
    }
    g_failed++;
    fprintf(stderr, "FAIL %s:%d [%s]: %s\n", file, line, g_current, expr);
}

void sb_test_checkf(bool ok, const char *file, int line, const char *fmt, ...) {
    if (ok) {
        g_passed++;
        return;
    }
    g_failed++;
    fprintf(stderr, "FAIL %s:%d [%s]: ", file, line, g_current);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void sb_test_run(void (*fn)(void), const char *name) {
    g_current = name;
    int before = g_failed;
    fn();
    fprintf(stderr, "%s %s\n", g_failed == before ? "ok  " : "FAIL", name);
    g_current = "";
}

int sb_test_failures(void) { return g_failed; }

int sb_test_finish(void) {
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}

void sb_test_skip(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("SKIP: ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
    exit(g_failed ? 1 : 77);
}

static const char *shared_root(void) {
    const char *env = getenv("SOLEBOX_SHARED");
    if (env && *env)
        return env;
    env = getenv("SOLEBOX_SHARED_DEFAULT");
    if (env && *env)
        return env;
    return "../shared";
}

const char *sb_test_shared(const char *rel) {
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", shared_root(), rel);
    struct stat st;
    if (stat(path, &st) != 0)
        return NULL;
    return path;
}

const char *sb_test_require_shared(const char *rel) {
    const char *p = sb_test_shared(rel);
    if (!p)
        sb_test_skip("shared test data %s/%s is absent (set SOLEBOX_SHARED to the shared/ directory)", shared_root(), rel);
    return p;
}

const char *sb_test_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/sbtest.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            fprintf(stderr, "cannot create a temporary directory\n");
            exit(1);
        }
    }
    return dir;
}

const char *sb_test_solebox_bin(void) {
    static char path[4096];
    const char *env = getenv("SOLEBOX_BINARY_DIR");
    snprintf(path, sizeof path, "%s/solebox", env && *env ? env : ".");
    return path;
}
