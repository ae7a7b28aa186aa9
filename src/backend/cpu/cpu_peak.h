/*
 * cpu_peak.h - a short probe of this machine's compute limit, measured in
 * the same run as a benchmark so that `solebox bench` can print prefill
 * speed beside the limit that bounds it: FP32-FMA throughput (F32/F16/BF16
 * weights) and int8-dot throughput (quantized weights, whose kernels work
 * on 8-bit activations). The memory-bandwidth limit of decode is
 * cpu_membw.h's sb_cpu_measure_read_bandwidth.
 *
 * The probe runs tight loops of the instructions the kernels in use multiply
 * with (AVX-512 FMA and VNNI, AVX2 FMA and maddubs, NEON FMLA and SDOT or
 * SMULL, else plain C) on n_threads threads for about `seconds` each: many
 * independent chains, hidden from the compiler so that it cannot merge
 * them. Each figure is the best of a few rounds (a disturbance only lowers
 * a round). It measures what this code reaches, which is close to, not
 * exactly, the hardware's datasheet peak.
 *
 * Thread-safe (each call uses its own threads and memory).
 */
#ifndef SB_CPU_PEAK_H
#define SB_CPU_PEAK_H

#include "sb_error.h"

#include <stddef.h>

/* FP32 FMA throughput (1e9 flops/s, an FMA is 2 flops) and int8 dot
 * throughput (1e9 ops/s, a multiply-add is 2 ops) on n_threads threads,
 * ~seconds each (the best of its rounds); *isa names the loops (static): "avx512-vnni", "avx512",
 * "avx2-fma", "neon-dotprod", "neon" or "scalar". */
sb_status sb_cpu_probe_compute(int n_threads, double seconds, double *fma_gflops, double *int8_gops, const char **isa,
                               sb_error *err);

/* ---- loops (internal; each in the file built for its ISA) ---- */
/* Each runs `iters` iterations and returns the operations done. */
double sb_peak_fma_avx512(long iters);
double sb_peak_dot_avx512(long iters);
double sb_peak_fma_avx2(long iters);
double sb_peak_dot_avx2(long iters);
double sb_peak_fma_neon(long iters);
double sb_peak_dot_neon(long iters);
double sb_peak_dot_neon_dot(long iters);

#endif
