#include "sb_tensor_type.h"

#include "sb_checked.h"

#include <strings.h>

/* Block layouts as GGUF defines them; sizes are checked against the block
 * structs of the kernels that use them (src/backend/cpu/quant_blocks.h). */
static const sb_type_traits traits[SB_TYPE_COUNT] = {
    [SB_TYPE_F32] = {"F32", 1, 4, false},
    [SB_TYPE_F16] = {"F16", 1, 2, false},
    [SB_TYPE_Q4_0] = {"Q4_0", 32, 18, true},
    [SB_TYPE_Q4_1] = {"Q4_1", 32, 20, true},
    [SB_TYPE_Q5_0] = {"Q5_0", 32, 22, true},
    [SB_TYPE_Q5_1] = {"Q5_1", 32, 24, true},
    [SB_TYPE_Q8_0] = {"Q8_0", 32, 34, true},
    [SB_TYPE_Q8_1] = {"Q8_1", 32, 36, true},
    [SB_TYPE_Q2_K] = {"Q2_K", 256, 84, true},
    [SB_TYPE_Q3_K] = {"Q3_K", 256, 110, true},
    [SB_TYPE_Q4_K] = {"Q4_K", 256, 144, true},
    [SB_TYPE_Q5_K] = {"Q5_K", 256, 176, true},
    [SB_TYPE_Q6_K] = {"Q6_K", 256, 210, true},
    [SB_TYPE_Q8_K] = {"Q8_K", 256, 292, true},
    [SB_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66, true},
    [SB_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74, true},
    [SB_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98, true},
    [SB_TYPE_IQ1_S] = {"IQ1_S", 256, 50, true},
    [SB_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18, true},
    [SB_TYPE_IQ3_S] = {"IQ3_S", 256, 110, true},
    [SB_TYPE_IQ2_S] = {"IQ2_S", 256, 82, true},
    [SB_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136, true},
    [SB_TYPE_I8] = {"I8", 1, 1, false},
    [SB_TYPE_I16] = {"I16", 1, 2, false},
    [SB_TYPE_I32] = {"I32", 1, 4, false},
    [SB_TYPE_I64] = {"I64", 1, 8, false},
    [SB_TYPE_F64] = {"F64", 1, 8, false},
    [SB_TYPE_IQ1_M] = {"IQ1_M", 256, 56, true},
    [SB_TYPE_BF16] = {"BF16", 1, 2, false},
    [SB_TYPE_TQ1_0] = {"TQ1_0", 256, 54, true},
    [SB_TYPE_TQ2_0] = {"TQ2_0", 256, 66, true},
    [SB_TYPE_MXFP4] = {"MXFP4", 32, 17, true},
};

const sb_type_traits *sb_type_traits_of(uint32_t type) {
    if (type >= SB_TYPE_COUNT || !traits[type].name)
        return NULL;
    return &traits[type];
}

const char *sb_type_name(uint32_t type) {
    const sb_type_traits *t = sb_type_traits_of(type);
    return t ? t->name : "unknown";
}

int sb_type_from_name(const char *name) {
    for (int i = 0; i < SB_TYPE_COUNT; i++)
        if (traits[i].name && strcasecmp(traits[i].name, name) == 0)
            return i;
    return -1;
}

uint32_t sb_type_for_row(uint32_t type, int64_t n) {
    const sb_type_traits *t = sb_type_traits_of(type);
    if (!t || n % (int64_t)t->block_size == 0)
        return type;
    const uint32_t sub = type == SB_TYPE_Q4_K ? SB_TYPE_Q5_0 : type == SB_TYPE_Q5_K ? SB_TYPE_Q5_1 : SB_TYPE_Q8_0;
    return n % (int64_t)sb_type_traits_of(sub)->block_size == 0 ? sub : SB_TYPE_F16;
}

bool sb_type_row_size(uint32_t type, uint64_t n, uint64_t *bytes) {
    const sb_type_traits *t = sb_type_traits_of(type);
    if (!t || n % t->block_size != 0)
        return false;
    return sb_mul_u64(n / t->block_size, t->type_size, bytes);
}
