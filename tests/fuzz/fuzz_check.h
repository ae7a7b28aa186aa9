/*
 * fuzz_check.h - what the libFuzzer targets share: an assertion that traps
 * (so the fuzzer reports it, in any build type), a sink that keeps reads
 * whose results are otherwise unused (and a helper that feeds it floats),
 * and the check of a refusal.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

#include "sb_error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define FUZZ_ASSERT(cond)                                                                                      \
    do {                                                                                                       \
        if (!(cond)) {                                                                                         \
            fprintf(stderr, "%s:%d: fuzz assertion failed: %s\n", __FILE__, __LINE__, #cond);                \
            __builtin_trap();                                                                                  \
        }                                                                                                      \
    } while (0)

/* Written by the targets, never read: the compiler must keep the loads. */
static volatile uint64_t g_sink;

/* Folds the bits of n floats (any value, NaN included) into g_sink, so
 * the computation that produced them is kept. */
static inline void fuzz_sink_floats(const float *x, size_t n) {
    uint32_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bits ^= u;
    }
    g_sink += bits;
}

/* A refusal names its reason: the status is the error's code, with a message. */
static inline void fuzz_check_refusal(sb_status st, const sb_error *err) {
    FUZZ_ASSERT(st == err->code);
    FUZZ_ASSERT(err->msg[0] != '\0');
}

#endif
