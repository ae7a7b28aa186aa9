/*
 * sb_proc.h - what Linux's /proc says about memory: this process's resident
 * set (benchmarks report it, tests bound it) and the memory the machine
 * still has available (loaders refuse what cannot fit). Each figure is 0
 * where /proc does not say (not Linux, no /proc mounted).
 */
#ifndef SB_PROC_H
#define SB_PROC_H

#include <stdint.h>

/* This process's resident bytes now (VmRSS) and at their peak (VmHWM), from
 * /proc/self/status. Either pointer may be NULL. */
void sb_proc_memory(uint64_t *rss, uint64_t *hwm);

/* MemAvailable from /proc/meminfo, in bytes. */
uint64_t sb_proc_mem_available(void);

#endif
