/*
 * sched_metrics.c - latency histograms for the scheduler's metrics.
 */
#include "sched_internal.h"

/* Bucket bounds chosen for interactive generation: inter-token gaps of a
 * few ms to time-to-first-token of seconds. */
const double sb_hist_bounds_ms[SB_HIST_BUCKETS] = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000};

void sched_hist_add(sb_histogram *h, double ms) {
    int i = 0;
    while (i < SB_HIST_BUCKETS && ms > sb_hist_bounds_ms[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += ms;
}
