/*
 * cpu_membw.h - the machine limit decode is measured against: how fast the
 * pool's threads can stream memory that is not in any cache.
 */
#ifndef SB_CPU_MEMBW_H
#define SB_CPU_MEMBW_H

#include "sb_error.h"
#include "sb_threadpool.h"

#include <stddef.h>

/* Reads a buffer of `bytes` (allocated and first touched here, much larger
 * than the last-level cache, e.g. 1 GiB) reps times with all of the pool's
 * threads, each streaming its own contiguous part, and returns the median
 * read bandwidth in bytes per second. Returns 0 if the buffer cannot be
 * allocated or an argument is out of range. Takes about reps * bytes /
 * bandwidth seconds plus the first touch. */
double sb_cpu_measure_read_bandwidth(sb_threadpool *pool, size_t bytes, int reps);

/* The same measurement on a buffer kept between calls, for pairing each
 * measured step of a benchmark with a bandwidth figure taken just before it
 * (this machine's bandwidth drifts by up to 2x within a minute). create
 * allocates and first-touches `bytes` (huge pages, like the weights);
 * run reads it reps times and returns the median in bytes per second.
 * The probe keeps using the pool it was created with. */
typedef struct sb_cpu_bw_probe sb_cpu_bw_probe;
sb_status sb_cpu_bw_probe_create(sb_threadpool *pool, size_t bytes, sb_cpu_bw_probe **out, sb_error *err);
double sb_cpu_bw_probe_run(sb_cpu_bw_probe *p, int reps);
void sb_cpu_bw_probe_free(sb_cpu_bw_probe *p);

#endif
