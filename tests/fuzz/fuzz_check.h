/*
 * fuzz_check.h - what the libFuzzer targets share: an assertion that traps
 * (so the fuzzer reports it, in any build type), a sink that keeps reads
 * whose results are otherwise unused, and the check of a refusal.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include "sb_error.h"

#include <stdint.h>
#include <stdio.h>

#define FUZZ_ASSERT(cond)                                                                                      \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n", __FILE__, __LINE__, #cond);                \
            __builtin_trap();                                                                                  \
        }                                                                                                      \
    } while (0)

/* Written by the targets, never read: the compiler must keep the loads. */
static volatile uint64_t g_sink;

/* A refusal names its reason: the status is the error's code, with a message. */
static inline void fuzz_check_refusal(sb_status st, const sb_error *err) {
    FUZZ_ASSERT(st == err->code);
    FUZZ_ASSERT(err->msg[0] != '\0');
}

#endif
