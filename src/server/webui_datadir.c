/*
 * webui_datadir.c - where Solebox keeps what must persist (see webui.h).
 * The first module that needs the data directory is the chat history; this
 * belongs in a shared place once a second one (store, keys) needs it.
 */
#include "webui.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Copies a/b into out; false if it does not fit. */
static bool join(char *out, size_t cap, const char *a, const char *b) {
    int n = snprintf(out, cap, "%s%s%s", a, b && *b ? "/" : "", b ? b : "");
    return n > 0 && (size_t)n < cap;
}

/* A non-empty environment variable or NULL. */
static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* See webui.h. */
sb_status sb_data_dir_resolve(const char *flag, char *out, size_t cap, sb_error *err) {
    const char *v;
    char first[4096];
    bool ok;
    if (flag && *flag) {
        ok = join(out, cap, flag, NULL);
    } else if ((v = env("SOLEBOX_DATA_DIR"))) {
        ok = join(out, cap, v, NULL);
    } else if ((v = env("STATE_DIRECTORY"))) {
        /* systemd may list several directories separated by ':'. */
        snprintf(first, sizeof first, "%s", v);
        char *colon = strchr(first, ':');
        if (colon)
            *colon = 0;
        ok = join(out, cap, first, NULL);
    } else if (geteuid() == 0 && env("INVOCATION_ID")) {
        ok = join(out, cap, "/var/lib/solebox", NULL);
    } else if ((v = env("XDG_DATA_HOME")) && v[0] == '/') {
        ok = join(out, cap, v, "solebox");
    } else if ((v = env("HOME"))) {
        ok = join(out, cap, v, ".local/share/solebox");
    } else {
        return sb_error_set(err, SB_ERR_NOT_FOUND,
                            "no data directory: set --data-dir or SOLEBOX_DATA_DIR (HOME is not set)");
    }
    if (!ok)
        return sb_error_set(err, SB_ERR_LIMIT, "data directory: the path is too long");
    return SB_OK;
}

/* See webui.h. Parents are created as needed, each 0700: nothing under the
 * data directory is for other users. */
sb_status sb_data_dir_ensure(const char *dir, sb_error *err) {
    char path[4096];
    if (!join(path, sizeof path, dir, NULL) || !*path)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "data directory '%s': bad path", dir);
    for (char *p = path + 1;; p++) {
        bool end = *p == 0;
        if (*p == '/' || end) {
            char c = *p;
            *p = 0;
            if (mkdir(path, 0700) != 0 && errno != EEXIST)
                return sb_error_set(err, SB_ERR_IO, "data directory '%s': cannot create '%s': %s", dir, path,
                                    strerror(errno));
            *p = c;
        }
        if (end)
            break;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return sb_error_set(err, SB_ERR_IO, "data directory '%s': not a directory", dir);
    return SB_OK;
}
