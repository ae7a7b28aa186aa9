/*
 * arch_qwen3.c - Qwen3 (dense), GGUF architecture "qwen3".
 *
 *   heads     head size from attention.key_length / value_length, so the
 *             query width n_head * head_dim may differ from n_embd
 *   attention q, k, v without bias; each q and k head is RMS-normalised
 *             (attn_q_norm / attn_k_norm, [head_dim]) before rope
 *   rope      neox
 *   output    output.weight, or the token embedding when absent
 */
#include "model_internal.h"

const sb_arch sb_arch_qwen3 = {
    .name = "qwen3",
    .rope_mode = SB_ROPE_NEOX,
    .qkv_bias = false,
    .qk_norm = true,
    .check = NULL,
};
