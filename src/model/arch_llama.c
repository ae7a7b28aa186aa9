/*
 * arch_llama.c - Llama (1, 2, 3.x) and Mistral, GGUF architecture "llama".
 *
 *   rope      normal (pairs 2i, 2i+1); Llama 3.1+ divides the frequencies by
 *             rope_freqs.weight [n_rot/2]; linear/YaRN scaling from the
 *             rope.scaling.* keys (model_hparams.c)
 *   attention q, k, v, output projections; biases used when present
 *   output    output.weight, or the token embedding when absent (tied)
 * Mixture-of-experts variants (Mixtral: llama.expert_count > 0) are refused.
 */
#include "model_internal.h"

/* Refuses the mixture-of-experts variants, which share the architecture name. */
static sb_status llama_check(const sb_gguf *g, sb_model_hparams *hp, sb_error *err) {
    (void)hp;
    int64_t experts = 0;
    sb_status st = sb_gguf_get_int(g, "llama.expert_count", &experts, err);
    if (st != SB_OK && st != SB_ERR_NOT_FOUND)
        return st;
    if (st == SB_OK && experts > 0)
        return sb_error_set(err, SB_ERR_UNSUPPORTED,
                            "mixture-of-experts models are not supported (llama.expert_count = %lld)",
                            (long long)experts);
    return SB_OK;
}

const sb_arch sb_arch_llama = {
    .name = "llama",
    .rope_mode = SB_ROPE_NORMAL,
    .qkv_bias = false,
    .qk_norm = false,
    .check = llama_check,
};
