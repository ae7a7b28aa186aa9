/*
 * cli_args.c - option value parsing shared by the subcommands.
 */
#include "cli_args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

bool sb_cli_long(const char *s, long lo, long hi, long *out) {
    if (!s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

bool sb_cli_int(const char *s, int lo, int hi, int *out) {
    long v;
    if (!sb_cli_long(s, lo, hi, &v))
        return false;
    *out = (int)v;
    return true;
}

bool sb_cli_float(const char *s, float *out) {
    if (!s)
        return false;
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

bool sb_cli_u64(const char *s, uint64_t *out) {
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = (uint64_t)v;
    return true;
}
