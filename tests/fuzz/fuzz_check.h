/*
 * fuzz_check.h - what the libFuzzer targets share: an assertion that traps
 * (so the fuzzer reports it, in any build type) and a sink that keeps reads
 * whose results are otherwise unused.
 */
#ifndef FUZZ_CHECK_H
#define FUZZ_CHECK_H

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

#endif
