/*
 * sb_cpu_backend.h - the CPU implementation of the backend interface.
 *
 * Weights stay in the GGUF mapping (or in the kernels' repacked copy, which
 * replaces the mapped pages), activations and the paged KV cache live in
 * 64-byte aligned host memory, and every operation runs on the backend's own
 * thread pool (sb_threadpool.h) where the work is large enough to pay for
 * the wake-up. Matrix products go through the kernels of cpu_matmul.h.
 */
#ifndef SB_CPU_BACKEND_H
#define SB_CPU_BACKEND_H

#include "sb_backend.h"

#include <stdbool.h>

typedef struct sb_cpu_backend_opts {
    int n_threads; /* threads in the pool, caller included; <= 0: one per online CPU */
    bool repack;   /* let the kernels repack matmul weights at load */
} sb_cpu_backend_opts;

/* Default options: one thread per online CPU, repacking on. */
sb_cpu_backend_opts sb_cpu_backend_default_opts(void);

/* Creates a CPU backend (opts may be NULL for the defaults). The caller
 * frees it with sb_backend_destroy. */
sb_status sb_cpu_backend_create(const sb_cpu_backend_opts *opts, sb_backend **out, sb_error *err);

/* Threads of a CPU backend's pool (for reports). */
int sb_cpu_backend_n_threads(const sb_backend *b);

/* The backend's thread pool, for measurements that must run on the same
 * threads as the model (the bandwidth probe of `solebox bench`). Not for
 * use while an operation runs. */
struct sb_threadpool *sb_cpu_backend_pool(sb_backend *b);

#endif
