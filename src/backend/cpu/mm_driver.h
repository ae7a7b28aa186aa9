/*
 * mm_driver.h - the threaded matmul driver behind sb_cpu_matmul and
 * sb_cpu_matmul_multi (mm_driver.c).
 */
#ifndef SB_MM_DRIVER_H
#define SB_MM_DRIVER_H

#include "cpu_matmul.h"
#include "mm_kernels.h"

/* Scratch bytes for nw weights sharing n activation rows. */
size_t sb_mm_scratch_size(const sb_cpu_weight *const *ws, int nw, int64_t n);

/* ys[i] (+)= x * ws[i]^T for i < nw (1..SB_MM_MULTI_MAX), all weights with
 * the same cols; see sb_cpu_matmul_multi. pool may be NULL (one thread). */
void sb_mm_run(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const float *x, int64_t n, float *const *ys,
               bool accumulate, void *scratch);

/* The same with x transformed by pre as it is quantized (one token; see
 * sb_cpu_matmul_multi_pre). */
bool sb_mm_pre_fuses(const sb_cpu_weight *const *ws, int nw, int64_t n);
void sb_mm_run_pre(sb_threadpool *pool, const sb_cpu_weight *const *ws, int nw, const sb_mm_pre *pre, const float *x,
                   int64_t n, float *const *ys, bool accumulate, void *scratch);

#endif
