/* mm_tiles_neon.c - the NEON int8 tiles with the dotprod extension (see mm_neon_impl.h). */
#if defined(__aarch64__)
#define SB_NEON_DOT 1
#define SB_NEON_SUFFIX(name) name##_neon_dot
#include "mm_neon_impl.h"
#endif
