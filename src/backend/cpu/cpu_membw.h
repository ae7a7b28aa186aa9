/*
 * cpu_membw.h - the machine limit decode is measured against: how fast the
 * pool's threads can stream memory that is not in any cache.
 */
#ifndef SB_CPU_MEMBW_H
#define SB_CPU_MEMBW_H

#include "sb_threadpool.h"

#include <stddef.h>

/* Reads a buffer of `bytes` (allocated and first touched here, much larger
 * than the last-level cache, e.g. 1 GiB) reps times with all of the pool's
 * threads, each streaming its own contiguous part, and returns the median
 * read bandwidth in bytes per second. Returns 0 if the buffer cannot be
 * allocated or an argument is out of range. Takes about reps * bytes /
 * bandwidth seconds plus the first touch. */
double sb_cpu_measure_read_bandwidth(sb_threadpool *pool, size_t bytes, int reps);

#endif
