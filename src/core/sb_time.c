#include "sb_time.h"

#include <time.h>

uint64_t sb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

double sb_now_seconds(void) { return (double)sb_now_ns() * 1e-9; }

int64_t sb_unix_time(void) { return (int64_t)time(NULL); }
