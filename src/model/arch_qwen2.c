/*
 * arch_qwen2.c - Qwen2 / Qwen2.5, GGUF architecture "qwen2".
 *
 *   rope      neox (pairs i, i + n_rot/2), theta from rope.freq_base
 *   attention q, k, v projections WITH bias (attn_q/k/v.bias required)
 *   output    output.weight, or the token embedding when absent (the small
 *             models tie them)
 */
#include "model_internal.h"

const sb_arch sb_arch_qwen2 = {
    .name = "qwen2",
    .rope_mode = SB_ROPE_NEOX,
    .qkv_bias = true,
    .qk_norm = false,
    .check = NULL,
};
