/*
 * cpu_features.c - what this CPU can run, and which kernel set is in use.
 *
 * Features come from CPUID/XGETBV on x86-64 (AVX state must be enabled by the
 * OS, not just present) and from the auxiliary vector on aarch64. The active
 * ISA is the best available unless SOLEBOX_CPU_ISA (scalar|avx2|avx512|neon)
 * asks for another one the CPU has; SOLEBOX_CPU_DISABLE (a comma list of
 * vnni, bf16, dotprod, avx512, avx2) hides features, for testing the
 * fallbacks on a CPU that has them.
 */
#include "cpu_matmul.h"
#include "mm_kernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1 << 10)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1 << 13)
#endif
#endif

static sb_cpu_features g_features;
static atomic_int g_features_ready;
static atomic_int g_isa = -1;

#if defined(__x86_64__)
static uint64_t read_xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* Reads CPUID leaves 1 and 7 and checks that the OS saves YMM/ZMM state. */
static void detect(sb_cpu_features *f) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return;
    const bool osxsave = (c >> 27) & 1;
    const bool avx = (c >> 28) & 1;
    f->fma = (c >> 12) & 1;
    f->f16c = (c >> 29) & 1;
    if (!osxsave || !avx)
        return;
    const uint64_t xcr0 = read_xcr0();
    const bool ymm_os = (xcr0 & 0x6) == 0x6;
    const bool zmm_os = (xcr0 & 0xE6) == 0xE6;
    if (!ymm_os)
        return;
    unsigned b7 = 0, c7 = 0, d7 = 0, a71 = 0;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b7, c7, d7);
        unsigned b1, c1, d1;
        __cpuid_count(7, 1, a71, b1, c1, d1);
    }
    f->avx2 = (b7 >> 5) & 1;
    f->avx_vnni = (a71 >> 4) & 1;
    if (zmm_os) {
        f->avx512f = (b7 >> 16) & 1;
        f->avx512dq = (b7 >> 17) & 1;
        f->avx512bw = (b7 >> 30) & 1;
        f->avx512vl = (b7 >> 31) & 1;
        f->avx512vnni = (c7 >> 11) & 1;
        f->avx512bf16 = (a71 >> 5) & 1;
    }
}
#elif defined(__aarch64__)
/* NEON is baseline on aarch64; the extensions come from the hwcaps. */
static void detect(sb_cpu_features *f) {
    f->neon = true;
#if defined(__linux__)
    const unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    f->dotprod = (hw & HWCAP_ASIMDDP) != 0;
    f->fp16 = (hw & HWCAP_ASIMDHP) != 0;
    f->i8mm = (hw2 & HWCAP2_I8MM) != 0;
#endif
}
#else
static void detect(sb_cpu_features *f) { (void)f; }
#endif

/* True if the comma list `list` names `word`. */
static bool list_has(const char *list, const char *word) {
    const size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        const size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, word, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

static void apply_disable(sb_cpu_features *f, const char *list) {
    if (!list)
        return;
    if (list_has(list, "vnni"))
        f->avx512vnni = f->avx_vnni = false;
    if (list_has(list, "bf16"))
        f->avx512bf16 = false;
    if (list_has(list, "dotprod"))
        f->dotprod = false;
    if (list_has(list, "i8mm"))
        f->i8mm = false;
    if (list_has(list, "avx512"))
        f->avx512f = f->avx512bw = f->avx512vl = f->avx512dq = f->avx512vnni = f->avx512bf16 = false;
    if (list_has(list, "avx2"))
        f->avx2 = false;
}

const sb_cpu_features *sb_cpu_features_get(void) {
    if (!atomic_load_explicit(&g_features_ready, memory_order_acquire)) {
        sb_cpu_features f = {0};
        detect(&f);
        apply_disable(&f, getenv("SOLEBOX_CPU_DISABLE"));
        g_features = f; /* every racing thread writes the same value */
        atomic_store_explicit(&g_features_ready, 1, memory_order_release);
    }
    return &g_features;
}

/* True if the CPU (as masked) can run the kernels of `isa`. */
static bool isa_usable(sb_cpu_isa isa) {
    const sb_cpu_features *f = sb_cpu_features_get();
    switch (isa) {
    case SB_ISA_SCALAR:
        return true;
    case SB_ISA_AVX2:
        return f->avx2 && f->fma && f->f16c;
    case SB_ISA_AVX512:
        return f->avx2 && f->fma && f->f16c && f->avx512f && f->avx512bw && f->avx512vl && f->avx512dq;
    case SB_ISA_NEON:
        return f->neon;
    }
    return false;
}

/* The kernel set a CPU gets when nobody asks for one. */
static sb_cpu_isa best_isa(void) {
    if (isa_usable(SB_ISA_AVX512) && sb_mm_kernels_for(SB_ISA_AVX512))
        return SB_ISA_AVX512;
    if (isa_usable(SB_ISA_AVX2) && sb_mm_kernels_for(SB_ISA_AVX2))
        return SB_ISA_AVX2;
    if (isa_usable(SB_ISA_NEON) && sb_mm_kernels_for(SB_ISA_NEON))
        return SB_ISA_NEON;
    return SB_ISA_SCALAR;
}

static int isa_from_name(const char *s) {
    for (int i = SB_ISA_SCALAR; i <= SB_ISA_NEON; i++)
        if (strcmp(s, sb_cpu_isa_name((sb_cpu_isa)i)) == 0)
            return i;
    return -1;
}

sb_cpu_isa sb_cpu_isa_active(void) {
    int isa = atomic_load_explicit(&g_isa, memory_order_acquire);
    if (isa >= 0)
        return (sb_cpu_isa)isa;
    isa = (int)best_isa();
    const char *env = getenv("SOLEBOX_CPU_ISA");
    if (env && *env) {
        const int want = isa_from_name(env);
        if (want >= 0 && isa_usable((sb_cpu_isa)want) && sb_mm_kernels_for((sb_cpu_isa)want))
            isa = want;
    }
    int expected = -1;
    atomic_compare_exchange_strong(&g_isa, &expected, isa);
    return (sb_cpu_isa)atomic_load(&g_isa);
}

bool sb_cpu_isa_force(sb_cpu_isa isa) {
    if ((int)isa < SB_ISA_SCALAR || (int)isa > SB_ISA_NEON || !isa_usable(isa) || !sb_mm_kernels_for(isa))
        return false;
    atomic_store(&g_isa, (int)isa);
    return true;
}

const char *sb_cpu_isa_name(sb_cpu_isa isa) {
    switch (isa) {
    case SB_ISA_SCALAR:
        return "scalar";
    case SB_ISA_AVX2:
        return "avx2";
    case SB_ISA_AVX512:
        return "avx512";
    case SB_ISA_NEON:
        return "neon";
    }
    return "unknown";
}

void sb_cpu_features_override(const sb_cpu_features *f) {
    sb_cpu_features_get();
    if (f)
        g_features = *f;
    else {
        sb_cpu_features d = {0};
        detect(&d);
        apply_disable(&d, getenv("SOLEBOX_CPU_DISABLE"));
        g_features = d;
    }
}
