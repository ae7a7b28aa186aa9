/*
 * test_matmul.c - every kernel set this CPU can run (scalar, AVX2, AVX-512
 * with and without VNNI/BF16, NEON with and without dotprod) against the
 * scalar reference, for every weight type, on many shapes: rows not a
 * multiple of 16, n = 1, 2, 3, 7, 64, 130, one and several blocks, packed
 * and GGUF layout, 1 and 2 threads, accumulate on and off, realistic and
 * arbitrary-byte weights, extreme activations. Also: activation quantizers
 * bit-exact against the reference, repack round trip, weight_init errors
 * and allocation failure, the legacy types with a fifth bit or a min
 * (Q4_1, Q5_0, Q5_1) against float64, and an oversubscribed pool whose
 * threads split each other's ranges.
 */
#include "mm_test_util.h"
#include "sb_test.h"

#include <stdio.h>

static const uint32_t k_types[] = {SB_TYPE_F32,  SB_TYPE_F16,  SB_TYPE_BF16, SB_TYPE_Q8_0, SB_TYPE_Q4_0, SB_TYPE_Q5_0,
                                   SB_TYPE_Q5_1, SB_TYPE_Q4_1, SB_TYPE_Q4_K, SB_TYPE_Q5_K, SB_TYPE_Q6_K};
#define N_TYPES (sizeof k_types / sizeof k_types[0])

/* A kernel-set variant to test: an ISA plus features hidden from it. */
typedef struct variant {
    sb_cpu_isa isa;
    const char *name;
    bool no_vnni, no_bf16, no_dotprod;
} variant;

static const variant k_variants[] = {
    {SB_ISA_SCALAR, "scalar", false, false, false}, {SB_ISA_AVX2, "avx2", false, false, false},
    {SB_ISA_AVX512, "avx512", false, false, false}, {SB_ISA_AVX512, "avx512-novnni-nobf16", true, true, false},
    {SB_ISA_NEON, "neon", false, false, false},     {SB_ISA_NEON, "neon-nodotprod", false, false, true},
};
#define N_VARIANTS (sizeof k_variants / sizeof k_variants[0])

static sb_cpu_features g_detected;

/* Switches to a variant; false if this CPU/build cannot run it. */
static bool use_variant(const variant *v) {
    sb_cpu_features f = g_detected;
    if (v->no_vnni) {
        if (!f.avx512vnni)
            return false; /* same as the plain variant */
        f.avx512vnni = f.avx_vnni = false;
    }
    if (v->no_bf16)
        f.avx512bf16 = false;
    if (v->no_dotprod) {
        if (!f.dotprod)
            return false;
        f.dotprod = false;
    }
    sb_cpu_features_override(&f);
    return sb_cpu_isa_force(v->isa);
}

static void restore_features(void) {
    sb_cpu_features_override(&g_detected);
    sb_cpu_isa_force(SB_ISA_SCALAR);
}

typedef struct shape {
    int64_t rows, nblocks, n;
} shape;

/* nblocks 0: enough blocks that prefill walks a group in two or more column
 * chunks (cpu_matmul.c, SB_MM_L1_WEIGHT_BYTES). */
static const shape k_shapes[] = {
    {1, 1, 1},   {5, 1, 2},    {16, 2, 3},  {17, 3, 7}, {33, 2, 1},
    {40, 1, 64}, {19, 2, 130}, {100, 4, 1}, {3, 1, 9},  {18, 0, 11},
    /* decode over long rows; dense F16 (AVX-512) reads x as F32 up to 4096
     * columns, as an F16 copy up to 16384, then as F32 again */
    {7, 65, 1},  {5, 181, 1}, {3, 520, 1},
};
#define N_SHAPES (sizeof k_shapes / sizeof k_shapes[0])

static int64_t cols_of(uint32_t type, int64_t nblocks) {
    if (nblocks == 0) {
        const int pk = sb_pk_of_type(type);
        return pk < 0 ? 2080 : (16384 / (int64_t)sb_pk_main_bytes(pk) + 1) * sb_pk_block_cols(pk);
    }
    switch (type) {
    case SB_TYPE_Q4_K:
    case SB_TYPE_Q5_K:
    case SB_TYPE_Q6_K:
        return 256 * nblocks;
    case SB_TYPE_F32:
    case SB_TYPE_F16:
    case SB_TYPE_BF16:
        return 32 * nblocks + (nblocks % 2 ? 5 : 0); /* odd blocks: a partial vector at the row's end */
    default:
        return 32 * nblocks;
    }
}

/* Activations: normals, with rows of zeros, huge and tiny values, and exact
 * ties for the rounding. */
static void make_x(sb_rng *rng, float *x, int64_t n, int64_t cols, int mode) {
    mt_fill_normal(rng, x, n * cols, 1.0f);
    if (mode == 0)
        return;
    for (int64_t t = 0; t < n; t++) {
        float *r = x + t * cols;
        switch (t % 4) {
        case 0:
            memset(r, 0, (size_t)cols * sizeof(float));
            break;
        case 1:
            for (int64_t c = 0; c < cols; c++)
                r[c] = (c % 7 == 0) ? 3.0e4f * (c % 2 ? -1.f : 1.f) : r[c] * 1e-3f;
            break;
        case 2:
            for (int64_t c = 0; c < cols; c++)
                r[c] = (float)((int)(sb_rng_next(rng) % 255) - 127) * 0.5f; /* halves: ties */
            break;
        default:
            for (int64_t c = 0; c < cols; c++)
                r[c] *= 1e-20f;
            break;
        }
    }
}

static sb_threadpool *g_pool2;

/* Runs one configuration and compares with the reference. */
static void check_case(const variant *v, uint32_t type, const shape *s, int wmode, int xmode, sb_rng *rng) {
    const int64_t rows = s->rows, cols = cols_of(type, s->nblocks), n = s->n;
    uint8_t *w = mt_make_weight(rng, type, rows, cols, wmode);
    float *x = sb_malloc((size_t)(n * cols) * sizeof(float));
    make_x(rng, x, n, cols, xmode);
    float *ref = sb_malloc((size_t)(n * rows) * sizeof(float));
    double *mag = sb_malloc((size_t)(n * rows) * sizeof(double));
    mt_ref_matmul(type, w, rows, cols, x, n, ref, mag);

    float *y[4];
    for (int i = 0; i < 4; i++)
        y[i] = sb_malloc((size_t)(n * rows) * sizeof(float));
    sb_cpu_weight wp, wg;
    SB_CHECK(sb_cpu_weight_init(&wp, type, rows, cols, w, true, NULL) == SB_OK);
    SB_CHECK(sb_cpu_weight_init(&wg, type, rows, cols, w, false, NULL) == SB_OK);
    const size_t ss = sb_cpu_matmul_scratch_size(&wp, n);
    SB_CHECK(ss == sb_cpu_matmul_scratch_size(&wg, n));
    void *scratch = sb_aligned_alloc(64, ss);

    sb_cpu_matmul(NULL, &wp, x, n, y[0], false, scratch);    /* packed, 1 thread */
    sb_cpu_matmul(g_pool2, &wp, x, n, y[1], false, scratch); /* packed, 2 threads */
    sb_cpu_matmul(g_pool2, &wg, x, n, y[2], false, scratch); /* GGUF layout */
    for (int64_t i = 0; i < n * rows; i++)
        y[3][i] = (float)(i % 5);
    sb_cpu_matmul(g_pool2, &wp, x, n, y[3], true, scratch); /* accumulate */

    int bad = 0, bad_threads = 0, bad_layout = 0, bad_acc = 0, bad_exact = 0;
    double worst = 0.0;
    for (int64_t i = 0; i < n * rows; i++) {
        const double tol = 1e-5 * mag[i] + 1e-30;
        const double err = fabs((double)y[0][i] - (double)ref[i]);
        if (!(err <= tol))
            bad++;
        if (err / (mag[i] + 1e-30) > worst)
            worst = err / (mag[i] + 1e-30);
        if (memcmp(&y[0][i], &y[1][i], sizeof(float)) != 0)
            bad_threads++;
        if (memcmp(&y[0][i], &y[2][i], sizeof(float)) != 0)
            bad_layout++;
        if (memcmp(&y[3][i], &(float){(float)(i % 5) + y[0][i]}, sizeof(float)) != 0)
            bad_acc++;
        if (v->isa == SB_ISA_SCALAR && type != SB_TYPE_F32 && type != SB_TYPE_F16 && type != SB_TYPE_BF16 &&
            memcmp(&y[0][i], &ref[i], sizeof(float)) != 0)
            bad_exact++;
    }
    if (getenv("MT_VERBOSE"))
        fprintf(stderr, "    %s %s r%lld c%lld n%lld w%d x%d worst %.3g\n", v->name, sb_type_name(type),
                (long long)rows, (long long)cols, (long long)n, wmode, xmode, worst);
    SB_CHECKF(bad == 0, "%s %s rows %lld cols %lld n %lld wmode %d xmode %d: %d of %lld off (worst rel %.3g)", v->name,
              sb_type_name(type), (long long)rows, (long long)cols, (long long)n, wmode, xmode, bad,
              (long long)(n * rows), worst);
    SB_CHECKF(bad_threads == 0, "%s %s: 1 vs 2 threads differ in %d", v->name, sb_type_name(type), bad_threads);
    SB_CHECKF(bad_layout == 0, "%s %s: packed vs GGUF layout differ in %d", v->name, sb_type_name(type), bad_layout);
    SB_CHECKF(bad_acc == 0, "%s %s: accumulate differs in %d", v->name, sb_type_name(type), bad_acc);
    SB_CHECKF(bad_exact == 0, "%s %s: scalar kernel not bit-exact with the reference in %d", v->name,
              sb_type_name(type), bad_exact);

    sb_aligned_free(scratch);
    sb_cpu_weight_free(&wp);
    sb_cpu_weight_free(&wg);
    for (int i = 0; i < 4; i++)
        sb_free(y[i]);
    sb_free(mag);
    sb_free(ref);
    sb_free(x);
    sb_free(w);
}

static void test_kernels_vs_reference(void) {
    sb_rng rng;
    sb_rng_seed(&rng, 1234);
    for (size_t vi = 0; vi < N_VARIANTS; vi++) {
        const variant *v = &k_variants[vi];
        if (!use_variant(v))
            continue;
        fprintf(stderr, "  kernels: %s (%s)\n", v->name, sb_mm_kernels_for(v->isa)->name);
        for (size_t ti = 0; ti < N_TYPES; ti++)
            for (size_t si = 0; si < N_SHAPES; si++)
                for (int wmode = 0; wmode < 2; wmode++)
                    check_case(v, k_types[ti], &k_shapes[si], wmode, (int)((si + (size_t)wmode) % 2), &rng);
    }
    restore_features();
}

/* The SIMD activation quantizers round exactly as the reference does. */
static void test_act_quant_exact(void) {
    sb_rng rng;
    sb_rng_seed(&rng, 99);
    const int64_t n = 1024;
    float *x = sb_malloc((size_t)n * 4 * sizeof(float));
    make_x(&rng, x, 4, n, 1);
    mt_fill_normal(&rng, x + 3 * n, n, 3.0f); /* replace the tiny row by normals */
    x[3 * n + 5] = -1e-45f;                   /* a denormal */
    sb_act_q8_0 *a0 = sb_malloc(sizeof(sb_act_q8_0) * (size_t)n / 32),
                *b0 = sb_malloc(sizeof(sb_act_q8_0) * (size_t)n / 32);
    sb_act_q8_K *a1 = sb_malloc(sizeof(sb_act_q8_K) * (size_t)n / 256),
                *b1 = sb_malloc(sizeof(sb_act_q8_K) * (size_t)n / 256);
    float *a2 = sb_malloc((size_t)n * sizeof(float)), *b2 = sb_malloc((size_t)n * sizeof(float));
    uint16_t *a3 = sb_malloc((size_t)n * 2), *b3 = sb_malloc((size_t)n * 2);
    for (size_t vi = 0; vi < N_VARIANTS; vi++) {
        const variant *v = &k_variants[vi];
        if (!use_variant(v))
            continue;
        const sb_mm_kernels *k = sb_mm_kernels_for(v->isa);
        for (int row = 0; row < 4; row++) {
            const float *xr = x + row * n;
            const uint32_t wtypes[3] = {SB_TYPE_Q4_K, SB_TYPE_Q5_K, SB_TYPE_Q6_K};
            for (int off = 0; off <= 128; off += 8) {
                if (off != 0 && off != 8 && off != 128)
                    continue;
                sb_ref_act_q8_0(xr, a0, n, off);
                memset(b0, 0x55, sizeof(sb_act_q8_0) * (size_t)n / 32);
                k->act_q8_0(xr, b0, n, off);
                SB_CHECKF(memcmp(a0, b0, sizeof(sb_act_q8_0) * (size_t)n / 32) == 0, "%s act_q8_0 row %d off %d",
                          v->name, row, off);
            }
            for (int i = 0; i < 3; i++) {
                sb_ref_act_q8_K(xr, a1, n, wtypes[i]);
                memset(b1, 0x55, sizeof(sb_act_q8_K) * (size_t)n / 256);
                k->act_q8_K(xr, b1, n, wtypes[i]);
                SB_CHECKF(memcmp(a1, b1, sizeof(sb_act_q8_K) * (size_t)n / 256) == 0, "%s act_q8_K row %d type %s",
                          v->name, row, sb_type_name(wtypes[i]));
            }
            for (int64_t len = n; len >= n - 5; len -= 5) { /* lengths that are no vector multiple */
                sb_ref_act_f16(xr, a2, len);
                k->act_f16(xr, b2, len);
                SB_CHECKF(memcmp(a2, b2, (size_t)len * sizeof(float)) == 0, "%s act_f16 row %d", v->name, row);
                sb_ref_act_bf16(xr, a3, len);
                k->act_bf16(xr, b3, len);
                SB_CHECKF(memcmp(a3, b3, (size_t)len * 2) == 0, "%s act_bf16 row %d", v->name, row);
            }
        }
    }
    restore_features();
    sb_free(x);
    sb_free(a0);
    sb_free(b0);
    sb_free(a1);
    sb_free(b1);
    sb_free(a2);
    sb_free(b2);
    sb_free(a3);
    sb_free(b3);
}

/* pack then unpack gives back every block byte for byte. */
static void test_repack_roundtrip(void) {
    sb_rng rng;
    sb_rng_seed(&rng, 7);
    const uint32_t types[] = {SB_TYPE_Q8_0, SB_TYPE_Q4_0, SB_TYPE_Q5_0, SB_TYPE_Q5_1,
                              SB_TYPE_Q4_1, SB_TYPE_Q4_K, SB_TYPE_Q5_K, SB_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const uint32_t type = types[i];
        const int pk = sb_pk_of_type(type);
        const int64_t rows = 21, cols = cols_of(type, 3);
        uint8_t *w = mt_make_weight(&rng, type, rows, cols, 1);
        sb_cpu_weight cw;
        SB_CHECK(sb_cpu_weight_init(&cw, type, rows, cols, w, true, NULL) == SB_OK);
        SB_CHECK(cw.layout == SB_LAYOUT_X16 && cw.packed && cw.data == NULL);
        const int64_t nb = cols / sb_pk_block_cols(pk);
        const size_t bb = sb_pk_block_bytes(pk), rb = mt_row_bytes(type, cols);
        const size_t gbytes = sb_pk_group_bytes(pk, nb), mb = sb_pk_main_bytes(pk);
        SB_CHECK(cw.packed_bytes == (size_t)((rows + 15) / 16) * gbytes && gbytes % 64 == 0);
        SB_CHECK(mb % 64 == 0 && ((uintptr_t)cw.packed) % 64 == 0);
        SB_CHECK(((uintptr_t)sb_pk_gb(cw.packed, 1, mb, sb_pk_scale_bytes(pk))) % 64 == 0);
        int bad = 0;
        uint8_t blk[256];
        for (int64_t r = 0; r < rows; r++)
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *g = (const uint8_t *)cw.packed + (size_t)(r / 16) * gbytes;
                sb_pk_unpack_block(pk, g, b, (int)(r % 16), blk);
                if (memcmp(blk, w + (size_t)r * rb + (size_t)b * bb, bb) != 0)
                    bad++;
            }
        SB_CHECKF(bad == 0, "%s: %d blocks differ after pack/unpack", sb_type_name(type), bad);
        /* a packed weight dequantizes every row like the GGUF bytes do */
        float *a = sb_malloc((size_t)cols * sizeof(float)), *e = sb_malloc((size_t)cols * sizeof(float));
        bad = 0;
        for (int64_t r = 0; r < rows; r++) {
            sb_cpu_weight_dequantize_row(&cw, r, a);
            sb_cpu_dequantize_row(type, w + (size_t)r * rb, e, cols);
            bad += memcmp(a, e, (size_t)cols * sizeof(float)) != 0;
        }
        sb_cpu_weight wg;
        SB_CHECK(sb_cpu_weight_init(&wg, type, rows, cols, w, false, NULL) == SB_OK);
        sb_cpu_weight_dequantize_row(&wg, rows - 1, a);
        bad += memcmp(a, e, (size_t)cols * sizeof(float)) != 0;
        SB_CHECKF(bad == 0, "%s: %d rows dequantize differently from the packed layout", sb_type_name(type), bad);
        sb_free(a);
        sb_free(e);
        sb_cpu_weight_free(&cw);
        sb_free(w);
    }
}

/* Three weights of one fused call and their two output buffers. */
typedef struct fused_set {
    uint8_t *wb[3]; /* GGUF bytes */
    sb_cpu_weight w[3];
    const sb_cpu_weight *wp[3];
    float *y1[3], *y2[3]; /* n_max tokens of output each */
} fused_set;

/* Random weights of types[i] x rows[i] x cols (the last one borrowed,
 * not repacked, when repack_last is false) and outputs for n_max tokens. */
static void fused_set_make(fused_set *fs, sb_rng *rng, const uint32_t types[3], const int64_t rows[3], int64_t cols,
                           int64_t n_max, bool repack_last) {
    for (int i = 0; i < 3; i++) {
        fs->wb[i] = mt_make_weight(rng, types[i], rows[i], cols, 0);
        SB_CHECK(sb_cpu_weight_init(&fs->w[i], types[i], rows[i], cols, fs->wb[i], i != 2 || repack_last, NULL) ==
                 SB_OK);
        fs->wp[i] = &fs->w[i];
        fs->y1[i] = sb_malloc((size_t)(n_max * rows[i]) * sizeof(float));
        fs->y2[i] = sb_malloc((size_t)(n_max * rows[i]) * sizeof(float));
    }
}

static void fused_set_free(fused_set *fs) {
    for (int i = 0; i < 3; i++) {
        sb_cpu_weight_free(&fs->w[i]);
        sb_free(fs->wb[i]);
        sb_free(fs->y1[i]);
        sb_free(fs->y2[i]);
    }
}

/* The widest scratch one of the set's weights needs alone for n tokens. */
static size_t widest_single_scratch(const fused_set *fs, int64_t n) {
    size_t ss = 0;
    for (int i = 0; i < 3; i++) {
        const size_t s1 = sb_cpu_matmul_scratch_size(&fs->w[i], n);
        ss = s1 > ss ? s1 : ss;
    }
    return ss;
}

/* Runs the three weights one call each (into y1) and as one fused call
 * (into y2) over n tokens of x; returns how many of the outputs differ in
 * any bit. */
static int fused_differs(fused_set *fs, const float *x, int64_t n, void *scratch) {
    for (int i = 0; i < 3; i++)
        sb_cpu_matmul(g_pool2, fs->wp[i], x, n, fs->y1[i], false, scratch);
    sb_cpu_matmul_multi(g_pool2, fs->wp, 3, x, n, fs->y2, false, scratch);
    int bad = 0;
    for (int i = 0; i < 3; i++)
        bad += memcmp(fs->y1[i], fs->y2[i], (size_t)(n * fs->wp[i]->rows) * sizeof(float)) != 0;
    return bad;
}

/* sb_cpu_matmul_multi gives the same bits as one sb_cpu_matmul per weight,
 * also when the weights' types (and activation formats) differ. */
static void test_multi(void) {
    sb_rng rng;
    sb_rng_seed(&rng, 77);
    const uint32_t sets[][3] = {{SB_TYPE_Q4_K, SB_TYPE_Q6_K, SB_TYPE_Q4_K},
                                {SB_TYPE_Q8_0, SB_TYPE_Q4_0, SB_TYPE_Q8_0},
                                {SB_TYPE_F16, SB_TYPE_Q8_0, SB_TYPE_F32},
                                {SB_TYPE_Q5_K, SB_TYPE_BF16, SB_TYPE_Q6_K}};
    const int64_t rows[3] = {37, 16, 5}, cols = 512, n = 11;
    float *x = sb_malloc((size_t)(n * cols) * sizeof(float));
    mt_fill_normal(&rng, x, n * cols, 1.0f);
    for (size_t vi = 0; vi < N_VARIANTS; vi++) {
        const variant *v = &k_variants[vi];
        if (!use_variant(v))
            continue;
        for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
            fused_set fs;
            fused_set_make(&fs, &rng, sets[si], rows, cols, n, false);
            const size_t ss = widest_single_scratch(&fs, n), sm = sb_cpu_matmul_multi_scratch_size(fs.wp, 3, n);
            void *scratch = sb_aligned_alloc(64, sm > ss ? sm : ss);
            const int bad = fused_differs(&fs, x, n, scratch);
            SB_CHECKF(bad == 0, "%s: multi differs from single calls for set %zu (%d outputs)", v->name, si, bad);
            sb_aligned_free(scratch);
            fused_set_free(&fs);
        }
    }
    restore_features();
    sb_free(x);
}

/* A fused call whose weights share one activation format (q, k and v of
 * one type; Q4_K beside Q6_K) needs no more scratch than its widest single
 * weight, so the backend's scratch, sized per weight, takes it as one call.
 * Decode-sized calls (1 and 2 tokens, pieces of several groups taken by two
 * threads) give the same bits fused as one at a time. */
static void test_multi_shared_format(void) {
    sb_rng rng;
    sb_rng_seed(&rng, 78);
    const uint32_t sets[][3] = {{SB_TYPE_Q8_0, SB_TYPE_Q8_0, SB_TYPE_Q8_0},
                                {SB_TYPE_Q4_0, SB_TYPE_Q4_0, SB_TYPE_Q4_0},
                                {SB_TYPE_Q4_K, SB_TYPE_Q4_K, SB_TYPE_Q6_K}};
    const int64_t rows[3] = {1024, 128, 128}, cols = 4096;
    float *x = sb_malloc((size_t)(2 * cols) * sizeof(float));
    mt_fill_normal(&rng, x, 2 * cols, 1.0f);
    for (size_t si = 0; si < sizeof sets / sizeof sets[0]; si++) {
        fused_set fs;
        fused_set_make(&fs, &rng, sets[si], rows, cols, 2, true);
        for (int64_t n = 1; n <= 2; n++) {
            const size_t ss = widest_single_scratch(&fs, n), sm = sb_cpu_matmul_multi_scratch_size(fs.wp, 3, n);
            SB_CHECKF(sm == ss, "set %zu, n %lld: fused scratch %zu bytes, widest single %zu", si, (long long)n, sm,
                      ss);
            void *scratch = sb_aligned_alloc(64, ss);
            const int bad = fused_differs(&fs, x, n, scratch);
            SB_CHECKF(bad == 0, "set %zu, n %lld: fused call differs from single calls (%d outputs)", si,
                      (long long)n, bad);
            sb_aligned_free(scratch);
        }
        fused_set_free(&fs);
    }
    sb_free(x);
}

/* A large dense weight is copied with repack (huge-page memory) and gives
 * the same results as the borrowed bytes; a small one stays borrowed. */
static void test_dense_copy(void) {
    sb_rng rng;
    sb_rng_seed(&rng, 5);
    const int64_t rows = 1024, cols = 2048, n = 3;
    uint8_t *wb = mt_make_weight(&rng, SB_TYPE_F16, rows, cols, 0);
    sb_cpu_weight wc, wg, ws;
    SB_CHECK(sb_cpu_weight_init(&wc, SB_TYPE_F16, rows, cols, wb, true, NULL) == SB_OK);
    SB_CHECK(sb_cpu_weight_init(&wg, SB_TYPE_F16, rows, cols, wb, false, NULL) == SB_OK);
    SB_CHECK(sb_cpu_weight_init(&ws, SB_TYPE_F16, 16, cols, wb, true, NULL) == SB_OK);
    SB_CHECK(wc.packed && wc.data == wc.packed && wc.packed_bytes == (size_t)(rows * cols * 2));
    SB_CHECK(wg.packed == NULL && wg.data == wb && ws.packed == NULL && ws.data == wb);
    float *x = sb_malloc((size_t)(n * cols) * sizeof(float));
    float *y1 = sb_malloc((size_t)(n * rows) * sizeof(float)), *y2 = sb_malloc((size_t)(n * rows) * sizeof(float));
    mt_fill_normal(&rng, x, n * cols, 1.0f);
    void *scratch = sb_aligned_alloc(64, sb_cpu_matmul_scratch_size(&wc, n));
    sb_cpu_matmul(g_pool2, &wc, x, n, y1, false, scratch);
    sb_cpu_matmul(g_pool2, &wg, x, n, y2, false, scratch);
    SB_CHECK(memcmp(y1, y2, (size_t)(n * rows) * sizeof(float)) == 0);
    sb_aligned_free(scratch);
    sb_free(x);
    sb_free(y1);
    sb_free(y2);
    sb_cpu_weight_free(&wc);
    sb_cpu_weight_free(&wg);
    sb_cpu_weight_free(&ws);
    sb_free(wb);
}

/* Q4_1, Q5_0 and Q5_1 weights, packed as they are (no conversion at
 * load): the packed and borrowed GGUF layouts agree bit for bit, rows
 * dequantize back exactly (get_rows of a tied embedding), and products stay
 * within the Q8_0 activation rounding of the float64 product of the
 * dequantized rows. */
static void test_legacy_types(void) {
    const uint32_t types[] = {SB_TYPE_Q5_0, SB_TYPE_Q5_1, SB_TYPE_Q4_1};
    const int64_t rows = 37, cols = 96, ns[] = {1, 2, 5};
    sb_rng rng;
    sb_rng_seed(&rng, 11);
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const uint32_t type = types[ti];
        const size_t rb = mt_row_bytes(type, cols);
        uint8_t *wb = mt_make_weight(&rng, type, rows, cols, 1);
        float *deq = sb_malloc((size_t)(rows * cols) * sizeof(float));
        for (int64_t r = 0; r < rows; r++)
            sb_cpu_dequantize_row(type, wb + (size_t)r * rb, deq + r * cols, cols);
        sb_cpu_weight wq, wg;
        SB_CHECK(sb_cpu_weight_init(&wq, type, rows, cols, wb, true, NULL) == SB_OK);
        SB_CHECK(sb_cpu_weight_init(&wg, type, rows, cols, wb, false, NULL) == SB_OK);
        SB_CHECK(wq.type == type && wq.layout == SB_LAYOUT_X16 &&
                 wq.packed_bytes == 3 * sb_pk_group_bytes(sb_pk_of_type(type), cols / 32));
        SB_CHECK(wg.type == type && wg.layout == SB_LAYOUT_GGUF && wg.packed == NULL);
        float row[96];
        for (int64_t r = 0; r < rows; r++) {
            sb_cpu_weight_dequantize_row(&wq, r, row);
            SB_CHECK(memcmp(row, deq + r * cols, sizeof row) == 0);
        }
        for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++) {
            const int64_t n = ns[ni];
            float *x = sb_malloc((size_t)(n * cols) * sizeof(float));
            float *y[2];
            for (int k = 0; k < 2; k++)
                y[k] = sb_malloc((size_t)(n * rows) * sizeof(float));
            mt_fill_normal(&rng, x, n * cols, 1.0f);
            void *scratch = sb_aligned_alloc(64, sb_cpu_matmul_scratch_size(&wq, n));
            sb_cpu_matmul(g_pool2, &wq, x, n, y[0], false, scratch);
            sb_cpu_matmul(g_pool2, &wg, x, n, y[1], false, scratch);
            SB_CHECKF(memcmp(y[0], y[1], (size_t)(n * rows) * sizeof(float)) == 0, "%s n=%lld: packed vs borrowed",
                      sb_type_name(type), (long long)n);
            double worst = 0;
            for (int64_t t = 0; t < n; t++)
                for (int64_t r = 0; r < rows; r++) {
                    double dot = 0, mag = 0;
                    for (int64_t c = 0; c < cols; c++) {
                        dot += (double)deq[r * cols + c] * x[t * cols + c];
                        mag += fabs((double)deq[r * cols + c] * x[t * cols + c]);
                    }
                    const double e = fabs(y[0][t * rows + r] - dot) / (mag + 1e-12);
                    worst = e > worst ? e : worst;
                }
            /* Q8_0 activations: within 1/127 of each product */
            SB_CHECKF(worst <= 1.0 / 127, "%s n=%lld: relative error %.3g", sb_type_name(type), (long long)n, worst);
            sb_aligned_free(scratch);
            sb_free(x);
            for (int k = 0; k < 2; k++)
                sb_free(y[k]);
        }
        sb_cpu_weight_free(&wq);
        sb_cpu_weight_free(&wg);
        sb_free(wb);
        sb_free(deq);
    }
    /* allocation failure while packing: NOMEM, nothing owned */
    static uint8_t data[22 * 4];
    sb_cpu_weight w;
    sb_error err;
    sb_alloc_fail_nth(1);
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_Q5_0, 4, 32, data, true, &err) == SB_ERR_NOMEM);
    SB_CHECK(sb_alloc_injected_fired());
    sb_alloc_fail_nth(0);
    SB_CHECK(w.packed == NULL && strstr(err.msg, "Q5_0") != NULL);
}

static void test_weight_init_errors(void) {
    sb_cpu_weight w;
    sb_error err;
    static uint8_t data[4096];
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_Q2_K, 4, 256, data, true, &err) == SB_ERR_UNSUPPORTED);
    SB_CHECK(strstr(err.msg, "Q2_K") != NULL);
    SB_CHECK(sb_cpu_weight_init(&w, 99, 4, 32, data, true, &err) == SB_ERR_UNSUPPORTED);
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_Q8_0, 4, 48, data, true, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_Q4_K, 4, 32, data, true, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_F16, 0, 32, data, true, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_F16, 4, 32, NULL, true, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_Q8_0, INT64_MAX / 2, 1LL << 40, data, true, &err) == SB_ERR_LIMIT);
    /* allocation failure while repacking: NOMEM, nothing owned */
    sb_alloc_fail_nth(1);
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_Q8_0, 4, 64, data, true, &err) == SB_ERR_NOMEM);
    SB_CHECK(sb_alloc_injected_fired());
    sb_alloc_fail_nth(0);
    SB_CHECK(w.packed == NULL);
    sb_cpu_weight_free(&w);
    sb_cpu_weight_free(NULL);
    /* without repack nothing is allocated */
    sb_alloc_fail_nth(1);
    SB_CHECK(sb_cpu_weight_init(&w, SB_TYPE_Q8_0, 4, 64, data, false, &err) == SB_OK);
    SB_CHECK(!sb_alloc_injected_fired());
    sb_alloc_fail_nth(0);
    SB_CHECK(w.data == data && w.layout == SB_LAYOUT_GGUF);
    sb_cpu_weight_free(&w);
    SB_CHECK(sb_cpu_matmul_supports(SB_TYPE_Q6_K) && !sb_cpu_matmul_supports(SB_TYPE_Q2_K));
    float f[32] = {0};
    uint8_t q[64];
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_Q8_0, f, q, 31, &err) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_cpu_quantize_row(SB_TYPE_IQ2_XS, f, q, 256, &err) == SB_ERR_UNSUPPORTED);
    SB_CHECK(sb_cpu_quantize_row(77, f, q, 32, &err) == SB_ERR_UNSUPPORTED);
}

static void test_isa_selection(void) {
    SB_CHECK(sb_cpu_isa_force(SB_ISA_SCALAR));
    SB_CHECK(sb_cpu_isa_active() == SB_ISA_SCALAR);
    SB_CHECK(!sb_cpu_isa_force((sb_cpu_isa)42));
#if defined(__x86_64__)
    SB_CHECK(!sb_cpu_isa_force(SB_ISA_NEON));
#elif defined(__aarch64__)
    SB_CHECK(!sb_cpu_isa_force(SB_ISA_AVX2));
    SB_CHECK(sb_cpu_isa_force(SB_ISA_NEON));
#endif
    SB_CHECK(strcmp(sb_cpu_isa_name(SB_ISA_AVX512), "avx512") == 0);
    fprintf(stderr, "  features:%s%s%s%s%s%s%s\n", g_detected.avx2 ? " avx2" : "", g_detected.avx512f ? " avx512f" : "",
            g_detected.avx512vnni ? " vnni" : "", g_detected.avx512bf16 ? " bf16" : "", g_detected.neon ? " neon" : "",
            g_detected.dotprod ? " dotprod" : "", g_detected.i8mm ? " i8mm" : "");
}

/* More threads than this 2-core machine has, so workers are descheduled
 * mid-call and ranges are split by thieves in every order: decode calls of
 * one and two tokens (large pieces, halves stolen), a fused call of three
 * weights and a prefill call must each give the bits of one thread, with
 * accumulate catching a unit done twice and NaN-filled outputs one never
 * done. */
static void test_oversubscribed_steals(void) {
    sb_threadpool *pool7 = NULL;
    SB_CHECK(sb_threadpool_create(7, &pool7, NULL) == SB_OK);
    sb_rng rng;
    sb_rng_seed(&rng, 77);
    const uint32_t types[3] = {SB_TYPE_Q4_0, SB_TYPE_Q8_0, SB_TYPE_Q4_K};
    const int64_t rows[3] = {16 * 233 + 5, 16 * 31, 16 * 17 + 9}, cols = 512, n_max = 5;
    sb_cpu_weight w[3];
    const sb_cpu_weight *wp[3];
    uint8_t *wb[3];
    float *y1[3], *y7[3];
    for (int i = 0; i < 3; i++) {
        wb[i] = mt_make_weight(&rng, types[i], rows[i], cols, 0);
        SB_CHECK(sb_cpu_weight_init(&w[i], types[i], rows[i], cols, wb[i], true, NULL) == SB_OK);
        wp[i] = &w[i];
        y1[i] = sb_malloc((size_t)(n_max * rows[i]) * sizeof(float));
        y7[i] = sb_malloc((size_t)(n_max * rows[i]) * sizeof(float));
    }
    float *x = sb_malloc((size_t)(n_max * cols) * sizeof(float));
    mt_fill_normal(&rng, x, n_max * cols, 1.0f);
    size_t ss = 0;
    for (int64_t n = 1; n <= n_max; n++) {
        const size_t s1 = sb_cpu_matmul_multi_scratch_size(wp, 3, n), s2 = sb_cpu_matmul_scratch_size(wp[0], n);
        ss = s1 > ss ? s1 : ss;
        ss = s2 > ss ? s2 : ss;
    }
    void *scratch = sb_aligned_alloc(64, ss);
    int bad = 0;
    const int64_t ns[3] = {1, 2, 5};
    for (int rep = 0; rep < 60; rep++) {
        const int64_t n = ns[rep % 3];
        const bool multi = rep % 2 == 1, acc = rep % 4 < 2;
        const int nw = multi ? 3 : 1;
        for (int i = 0; i < nw; i++)
            for (int64_t e = 0; e < n * rows[i]; e++) {
                y1[i][e] = acc ? (float)(e % 7) : NAN;
                y7[i][e] = acc ? (float)(e % 7) : NAN;
            }
        sb_cpu_matmul_multi(NULL, wp, nw, x, n, y1, acc, scratch);
        sb_cpu_matmul_multi(pool7, wp, nw, x, n, y7, acc, scratch);
        for (int i = 0; i < nw; i++)
            bad += memcmp(y1[i], y7[i], (size_t)(n * rows[i]) * sizeof(float)) != 0;
    }
    SB_CHECKF(bad == 0, "7 threads on 2 cores vs 1 thread: %d outputs differ", bad);
    sb_aligned_free(scratch);
    sb_free(x);
    for (int i = 0; i < 3; i++) {
        sb_cpu_weight_free(&w[i]);
        sb_free(wb[i]);
        sb_free(y1[i]);
        sb_free(y7[i]);
    }
    sb_threadpool_free(pool7);
}

int main(void) {
    g_detected = *sb_cpu_features_get();
    if (sb_threadpool_create(2, &g_pool2, NULL) != SB_OK)
        return 1;
    SB_RUN(test_isa_selection);
    SB_RUN(test_weight_init_errors);
    SB_RUN(test_repack_roundtrip);
    SB_RUN(test_act_quant_exact);
    SB_RUN(test_multi);
    SB_RUN(test_multi_shared_format);
    SB_RUN(test_oversubscribed_steals);
    SB_RUN(test_dense_copy);
    SB_RUN(test_legacy_types);
    SB_RUN(test_kernels_vs_reference);
    sb_threadpool_free(g_pool2);
    return sb_test_finish();
}
