/* mm_tiles_neon_base.c - the NEON int8 tiles for CPUs without dotprod (see mm_neon_impl.h). */
#if defined(__aarch64__)
#define SB_NEON_DOT 0
#define SB_NEON_SUFFIX(name) name##_neon
#include "mm_neon_impl.h"
#endif
