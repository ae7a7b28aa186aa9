/*
 * test_peak.c - the compute probe behind `solebox bench`'s prefill
 * fractions: every loop this CPU can run (each ISA the kernels can be forced
 * to, with and without VNNI / dotprod) runs, reports positive finite
 * throughputs, and names the loops that match the kernels in use. Speeds
 * are not asserted (benchmarks, not timed tests).
 */
#include "cpu_matmul.h"
#include "cpu_peak.h"
#include "mm_kernels.h"
#include "sb_test.h"

#include <math.h>
#include <string.h>

typedef struct probe_case {
    sb_cpu_isa isa;
    bool no_vnni, no_dotprod;
    const char *label; /* what the probe must call its loops */
} probe_case;

static const probe_case k_cases[] = {
    {SB_ISA_SCALAR, false, false, "scalar"},    {SB_ISA_AVX2, false, false, "avx2-fma"},
    {SB_ISA_AVX512, false, false, "avx512-vnni"}, {SB_ISA_AVX512, true, false, "avx512"},
    {SB_ISA_NEON, false, false, "neon-dotprod"}, {SB_ISA_NEON, false, true, "neon"},
};

static void test_every_loop(void) {
    const sb_cpu_features detected = *sb_cpu_features_get();
    int ran = 0;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++) {
        const probe_case *c = &k_cases[i];
        sb_cpu_features f = detected;
        /* the plain case needs the feature, the "without" case hides it */
        if (c->isa == SB_ISA_AVX512 && !detected.avx512vnni && !c->no_vnni)
            continue;
        if (c->isa == SB_ISA_NEON && !detected.dotprod && !c->no_dotprod)
            continue;
        if (c->no_vnni)
            f.avx512vnni = f.avx_vnni = false;
        if (c->no_dotprod)
            f.dotprod = false;
        sb_cpu_features_override(&f);
        if (!sb_cpu_isa_force(c->isa))
            continue;
        double fma = -1, dot = -1;
        const char *isa = NULL;
        sb_error err;
        SB_CHECK(sb_cpu_probe_compute(1, 0.02, &fma, &dot, &isa, &err) == SB_OK);
        SB_CHECKF(isfinite(fma) && fma > 0 && isfinite(dot) && dot > 0, "%s: fma %g, int8 %g", c->label, fma, dot);
        SB_CHECKF(isa && strcmp(isa, c->label) == 0, "loops named %s, expected %s", isa ? isa : "(null)", c->label);
        ran++;
    }
    sb_cpu_features_override(&detected);
    sb_cpu_isa_force(SB_ISA_SCALAR);
    SB_CHECK(ran >= 1); /* plain C runs everywhere */
}

/* Two threads report the sum of both (about twice one thread on a machine
 * with two free cores, but only positive and finite is asserted). */
static void test_two_threads(void) {
    double fma = 0, dot = 0;
    const char *isa = NULL;
    sb_error err;
    SB_CHECK(sb_cpu_probe_compute(2, 0.02, &fma, &dot, &isa, &err) == SB_OK);
    SB_CHECK(isfinite(fma) && fma > 0 && isfinite(dot) && dot > 0);
    SB_CHECK(isa != NULL);
}

int main(void) {
    SB_RUN(test_every_loop);
    SB_RUN(test_two_threads);
    return sb_test_finish();
}
