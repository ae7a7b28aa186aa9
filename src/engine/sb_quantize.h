/*
 * sb_quantize.h - converts an F32/F16/BF16 GGUF model into a quantized one,
 * choosing each tensor's type the way llama.cpp's llama-quantize does
 * (llama-quant.cpp, llama_tensor_get_type), without an importance matrix.
 *
 * Rules (file types Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K):
 *   - only tensors whose name ends in "weight", with 2 or more dimensions,
 *     and that are not norms ("_norm.weight") are quantized; 1-D tensors
 *     (norms, biases) are copied as they are;
 *   - output.weight (or token_embd.weight when the output is tied to it):
 *     Q6_K, except for Q8_0 files (stays Q8_0); a row length that is not a
 *     multiple of 256 gives Q8_0;
 *   - Q4_K_M and Q5_K_M: attn_v.weight and ffn_down.weight of the layers
 *     where use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
 *     (counting those tensors in file order) get Q6_K; attn_qkv.weight gets
 *     Q5_K (Q4_K_M) / Q6_K (Q5_K_M);
 *   - everything else gets the file type's base type (Q8_0, Q4_0, Q4_K,
 *     Q5_K, Q6_K).
 * Fallback when a row is not a multiple of the chosen type's block: as
 * llama.cpp, Q5_0 / Q5_1 / Q8_0 for Q4_K / Q5_K / Q6_K (sb_type_for_row),
 * and F16 when the row is not even a multiple of 32 (Q4_0 / Q8_0 fall back
 * to F16 directly, where llama-quantize fails). Fallbacks are counted in the
 * report.
 *
 * All metadata is copied; general.quantization_version = 2 and
 * general.file_type = the llama_ftype number are set. Blocks are produced by
 * sb_cpu_quantize_row (ggml's reference quantizers), rows split over
 * threads. The output file appears atomically (temporary file + rename).
 *
 * Refused, as llama-quantize refuses them (its output check,
 * ggml_validate_row_data): a NaN or infinite weight in a tensor to be
 * quantized (SB_ERR_FORMAT), and values too large for the chosen type, whose
 * F16 scale (or F16 value) would overflow (SB_ERR_RANGE). The message names
 * the tensor, the row and the column; no output file is left behind.
 */
#ifndef SB_QUANTIZE_H
#define SB_QUANTIZE_H

#include "sb_error.h"
#include "sb_gguf_writer.h"

#include <stdbool.h>
#include <stdint.h>

/* llama_ftype numbers (general.file_type). */
enum {
    SB_FTYPE_ALL_F32 = 0,
    SB_FTYPE_MOSTLY_F16 = 1,
    SB_FTYPE_MOSTLY_Q4_0 = 2,
    SB_FTYPE_MOSTLY_Q8_0 = 7,
    SB_FTYPE_MOSTLY_Q4_K_M = 15,
    SB_FTYPE_MOSTLY_Q5_K_M = 17,
    SB_FTYPE_MOSTLY_Q6_K = 18,
    SB_FTYPE_MOSTLY_BF16 = 32,
};

/* The file type for "Q8_0", "q4_k_m", ... (case-insensitive), or -1. */
int sb_quantize_ftype_from_name(const char *name);
/* "Q4_K_M" etc. for a supported file type, else "?". */
const char *sb_quantize_ftype_name(uint32_t ftype);

/* Where a tensor stands in the layer counts the mixes depend on. */
typedef struct sb_quant_ctx {
    uint32_t ftype;
    bool has_output;     /* the file has output.weight (else it is tied to token_embd) */
    int n_attn_v, i_attn_v;
    int n_ffn_down, i_ffn_down;
} sb_quant_ctx;

/* The type for one tensor (src_type is its current type); advances the
 * attn_v / ffn_down counters. *quantize is false when the tensor is copied
 * unchanged; *fallback true when its rows forced a fallback type. */
uint32_t sb_quantize_choose_type(sb_quant_ctx *c, const char *name, int n_dims, const int64_t *ne, uint32_t src_type,
                                 bool *quantize, bool *fallback);

typedef struct sb_quantize_opts {
    uint32_t ftype;
    int n_threads;                 /* <= 0: one per online CPU */
    sb_gguf_progress_fn progress;  /* after each tensor; may be NULL */
    void *progress_ud;
} sb_quantize_opts;

typedef struct sb_quantize_report {
    int n_tensors;
    int n_quantized;
    int n_copied;
    int n_fallback;
    int count_by_type[40];         /* output tensors per sb_tensor_type */
    uint64_t bytes_in, bytes_out;  /* tensor data */
    double seconds;
} sb_quantize_report;

/* Quantizes in_path into out_path. Refuses (SB_ERR_UNSUPPORTED, naming the
 * tensor) input tensors that would need requantizing (already quantized),
 * unknown file types (SB_ERR_INVALID_ARG), and the non-finite or too large
 * weights above (SB_ERR_FORMAT, SB_ERR_RANGE). report may be NULL. */
sb_status sb_quantize_file(const char *in_path, const char *out_path, const sb_quantize_opts *opts,
                           sb_quantize_report *report, sb_error *err);

#endif
