/* sb_time.h - monotonic clock for timing and deadlines. */
#ifndef SB_TIME_H
#define SB_TIME_H

#include <stdint.h>

uint64_t sb_now_ns(void);   /* CLOCK_MONOTONIC in nanoseconds */
double sb_now_seconds(void); /* the same, in seconds */
int64_t sb_unix_time(void); /* wall-clock seconds since the epoch */

#endif
