/*
 * test_quant_golden.c - our reference quantizers against llama-quantize.
 *
 * The synthetic llama-spm512 models (../shared/models/synthetic) were made by
 * llama-quantize from llama-spm512-f32.gguf without an importance matrix.
 * For every tensor of the Q8_0, Q4_0, Q4_K_M and Q5_K_M files whose type we
 * quantize (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K), quantizing the F32 master's
 * tensor row by row must give the same bytes.
 */
#include "mm_test_util.h"
#include "sb_gguf.h"
#include "sb_test.h"

#include <stdio.h>

static const char *k_files[] = {
    "models/synthetic/llama-spm512-q8_0.gguf",
    "models/synthetic/llama-spm512-q4_0.gguf",
    "models/synthetic/llama-spm512-q4_k_m.gguf",
    "models/synthetic/llama-spm512-q5_k_m.gguf",
};

static void check_file(const sb_gguf *master, const char *rel) {
    const char *path = sb_test_shared(rel);
    SB_CHECKF(path != NULL, "%s is missing", rel);
    if (!path)
        return;
    sb_gguf *g = NULL;
    sb_error err;
    SB_CHECKF(sb_gguf_open(path, &g, &err) == SB_OK, "%s: %s", rel, err.msg);
    if (!g)
        return;
    int compared = 0, types_seen = 0;
    for (size_t i = 0; i < sb_gguf_n_tensors(g); i++) {
        const sb_gguf_tensor *t = sb_gguf_tensor_at(g, i);
        if (sb_pk_of_type(t->type) < 0)
            continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        const sb_gguf_tensor *m = sb_gguf_find_tensor(master, name);
        SB_CHECKF(m && m->type == SB_TYPE_F32, "%s: no F32 master for %s", rel, name);
        if (!m || m->type != SB_TYPE_F32)
            continue;
        const int64_t cols = t->ne[0], rows = sb_gguf_tensor_nelements(t) / cols;
        const size_t rb = mt_row_bytes(t->type, cols);
        uint8_t *q = sb_malloc(rb);
        int bad_rows = 0;
        for (int64_t r = 0; r < rows; r++) {
            SB_CHECK(sb_cpu_quantize_row(t->type, (const float *)m->data + r * cols, q, cols, NULL) == SB_OK);
            if (memcmp(q, (const uint8_t *)t->data + (size_t)r * rb, rb) != 0)
                bad_rows++;
        }
        SB_CHECKF(bad_rows == 0, "%s: %s (%s): %d of %lld rows differ from llama-quantize", rel, name,
                  sb_type_name(t->type), bad_rows, (long long)rows);
        types_seen |= 1 << sb_pk_of_type(t->type);
        compared++;
        sb_free(q);
    }
    fprintf(stderr, "  %s: %d tensors compared\n", rel, compared);
    SB_CHECK(compared > 0 && types_seen != 0);
    sb_gguf_close(g);
}

int main(void) {
    const char *mpath = sb_test_require_shared("models/synthetic/llama-spm512-f32.gguf");
    sb_gguf *master = NULL;
    sb_error err;
    if (sb_gguf_open(mpath, &master, &err) != SB_OK) {
        fprintf(stderr, "%s: %s\n", mpath, err.msg);
        return 1;
    }
    for (size_t i = 0; i < sizeof k_files / sizeof k_files[0]; i++)
        check_file(master, k_files[i]);
    sb_gguf_close(master);
    return sb_test_finish();
}
