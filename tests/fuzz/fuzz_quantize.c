/*
 * fuzz_quantize.c - libFuzzer target for the weight quantizers on untrusted
 * values: what `solebox quantize` (and a quantized KV cache) hands them from
 * a hostile model file.
 *
 * Input: byte 0 picks the type (modulo the list below); the rest, read as
 * little-endian floats (so NaNs, infinities, denormals and huge values come
 * up), is one row, padded with zeros to a multiple of 256 values (at most
 * 4096). Checks:
 *   - quantizing succeeds, with no undefined behaviour (the fuzz build traps
 *     on a float-to-int conversion out of range), and twice gives the same
 *     bytes;
 *   - when every value is finite and at most 60000 in magnitude (within what
 *     every type's F16 scales hold), the result passes the validator
 *     (sb_cpu_row_first_invalid, ggml_validate_row_data's rules) and decodes
 *     to finite values within 4 x the row's largest magnitude plus 1e-3 (the
 *     slack covers F16 scales that underflow to subnormals);
 *   - the validator's answer is an element index in range, or -1.
 * Any disagreement traps, so the fuzzer reports it.
 */
#include "fuzz_check.h"

#include "cpu_matmul.h"
#include "sb_tensor_type.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_VALUES 4096

static const uint32_t k_types[] = {SB_TYPE_Q8_0, SB_TYPE_Q4_0, SB_TYPE_Q5_0, SB_TYPE_Q5_1, SB_TYPE_Q4_K,
                                   SB_TYPE_Q5_K, SB_TYPE_Q6_K, SB_TYPE_Q8_K, SB_TYPE_F16,  SB_TYPE_BF16};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const uint32_t type = k_types[data[0] % (sizeof k_types / sizeof k_types[0])];
    size_t nv = (size - 1) / sizeof(float);
    if (nv > MAX_VALUES)
        nv = MAX_VALUES;
    const int64_t n = nv == 0 ? 256 : (int64_t)((nv + 255) / 256 * 256);

    static float x[MAX_VALUES], y[MAX_VALUES];
    static uint8_t q1[MAX_VALUES * 4], q2[MAX_VALUES * 4];
    memset(x, 0, sizeof(float) * (size_t)n);
    memcpy(x, data + 1, nv * sizeof(float));
    uint64_t row_bytes = 0;
    FUZZ_ASSERT(sb_type_row_size(type, (uint64_t)n, &row_bytes) && row_bytes <= sizeof q1);

    sb_error err;
    memset(q1, 0xA5, (size_t)row_bytes);
    memset(q2, 0x5A, (size_t)row_bytes);
    FUZZ_ASSERT(sb_cpu_quantize_row(type, x, q1, n, &err) == SB_OK);
    FUZZ_ASSERT(sb_cpu_quantize_row(type, x, q2, n, &err) == SB_OK);
    FUZZ_ASSERT(memcmp(q1, q2, (size_t)row_bytes) == 0);

    const int64_t bad = sb_cpu_row_first_invalid(type, q1, n);
    FUZZ_ASSERT(bad >= -1 && bad < n);
    float amax = 0.0f;
    bool tame = true;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || fabsf(x[i]) > 60000.0f)
            tame = false;
        else
            amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
    }
    sb_cpu_dequantize_row(type, q1, y, n);
    if (tame) {
        FUZZ_ASSERT(bad == -1);
        for (int64_t i = 0; i < n; i++)
            FUZZ_ASSERT(isfinite(y[i]) && fabsf(y[i]) <= 4.0f * amax + 1e-3f);
    }
    fuzz_sink_floats(y, (size_t)n);
    return 0;
}
