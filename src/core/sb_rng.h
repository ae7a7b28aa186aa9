/*
 * sb_rng.h - a small, fast, seedable PRNG (xoshiro256**).
 * Same seed, same sequence on every platform: sampling with a seed is
 * reproducible, and synthetic models are the same on every machine.
 */
#ifndef SB_RNG_H
#define SB_RNG_H

#include <stdint.h>

typedef struct sb_rng {
    uint64_t s[4];
} sb_rng;

void sb_rng_seed(sb_rng *r, uint64_t seed);
uint64_t sb_rng_next(sb_rng *r);
double sb_rng_uniform(sb_rng *r);   /* [0, 1) with 53 bits */
float sb_rng_uniformf(sb_rng *r);   /* [0, 1) with 24 bits */
float sb_rng_normal(sb_rng *r);     /* standard normal (Box-Muller) */
uint64_t sb_rng_below(sb_rng *r, uint64_t n); /* uniform in [0, n), n > 0 */

#endif
