/*
 * make_model_seeds.c - writes the committed seeds of fuzz_model
 * (tests/fuzz/corpus/model/): complete, loadable models a few kilobytes
 * large, so that the fuzzer's mutations land on headers, metadata and
 * tensor tables rather than on megabytes of weights.
 *
 *   make_model_seeds DIR
 *
 * Three files, one per architecture family the engine runs, each with the
 * tokenizer kind its real models carry:
 *   llama-spm.gguf   llama, SentencePiece vocabulary with byte fallback,
 *                    separate output projection, Q8_0 matrices;
 *   qwen2-bpe.gguf   qwen2, byte-level BPE (pre-tokenizer "qwen2") with
 *                    merges and ChatML control tokens, q/k/v biases, output
 *                    tied to the embedding, Q4_0 matrices;
 *   qwen3-bpe.gguf   qwen3, the same vocabulary, q/k norms and a head size
 *                    from key_length, Q8_0 matrices.
 * Shapes: 32 wide, one layer, two query heads of 16 over one KV head, 64
 * feed-forward. Weights are random with sane scales (deterministic seed).
 */
#include "sb_alloc.h"
#include "sb_error.h"
#include "sb_gguf_writer.h"
#include "sb_half.h"
#include "sb_tensor_type.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define E 32
#define H 2
#define HKV 1
#define D 16
#define FF 64

static uint64_t g_rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 32);
}
static float rndf(void) { return (float)(rnd() >> 8) / (float)(1u << 24) - 0.5f; }

/* Tensor bytes kept until the file is written (the writer borrows them). */
static void *g_keep[64];
static int g_n_keep;

/* Adds a tensor of ne0 x ne1 values of type type, random: F32 values around
 * `off`, or quantized blocks with a small scale and random quants. */
static int add(sb_gguf_writer *w, const char *name, uint32_t type, int64_t ne0, int64_t ne1, float off) {
    uint64_t row = 0;
    if (!sb_type_row_size(type, (uint64_t)ne0, &row) || g_n_keep == 64)
        return 0;
    uint8_t *p = sb_malloc((size_t)(row * (uint64_t)ne1));
    if (!p)
        return 0;
    g_keep[g_n_keep++] = p;
    const size_t n = (size_t)(row * (uint64_t)ne1);
    if (type == SB_TYPE_F32) {
        for (size_t i = 0; i < n / 4; i++) {
            float v = off + 0.25f * rndf();
            memcpy(p + 4 * i, &v, 4);
        }
    } else {
        const size_t bs = type == SB_TYPE_Q8_0 ? 34 : 18; /* Q8_0 or Q4_0: an F16 scale, then quants */
        const uint16_t d = sb_f32_to_fp16(type == SB_TYPE_Q8_0 ? 0.004f : 0.03f);
        for (size_t b = 0; b < n; b += bs) {
            memcpy(p + b, &d, 2);
            for (size_t i = 2; i < bs; i++)
                p[b + i] = (uint8_t)rnd();
        }
    }
    const int64_t ne[2] = {ne0, ne1};
    return sb_gguf_writer_add_tensor(w, name, type, ne1 > 1 ? 2 : 1, ne, p, NULL, NULL) == SB_OK;
}

static int set_u32(sb_gguf_writer *w, const char *arch, const char *suffix, uint32_t v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return sb_gguf_writer_set_u32(w, key, v, NULL) == SB_OK;
}

static int set_str(sb_gguf_writer *w, const char *key, const char *v) {
    return sb_gguf_writer_set_string(w, key, v, strlen(v), NULL) == SB_OK;
}

/* A SentencePiece vocabulary: <unk> <s> </s>, the 256 byte tokens, and a
 * few word pieces. Returns its size. */
static int vocab_spm(sb_gguf_writer *w) {
    static const char *const pieces[] = {"\xe2\x96\x81", "\xe2\x96\x81t", "he", "\xe2\x96\x81the", "\xe2\x96\x81" "a",
                                         "in", "\xe2\x96\x81upon", "\xe2\x96\x81time", "on", "ce", "\xe2\x96\x81On",
                                         "\xe2\x96\x81was", "er", "an", "\xe2\x96\x81girl", ".", ","};
    enum { NP = sizeof pieces / sizeof pieces[0], N = 3 + 256 + NP };
    static char bytes[256][8];
    sb_str toks[N];
    float scores[N];
    int32_t types[N];
    const char *sp[3] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++) {
        toks[i] = (sb_str){sp[i], strlen(sp[i])};
        scores[i] = 0.0f;
        types[i] = i == 0 ? 2 : 3; /* unknown, control */
    }
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        toks[3 + b] = (sb_str){bytes[b], strlen(bytes[b])};
        scores[3 + b] = 0.0f;
        types[3 + b] = 6; /* byte */
    }
    for (int i = 0; i < NP; i++) {
        toks[259 + i] = (sb_str){pieces[i], strlen(pieces[i])};
        scores[259 + i] = -(float)i;
        types[259 + i] = 1;
    }
    int ok = set_str(w, "tokenizer.ggml.model", "llama") &&
             sb_gguf_writer_set_string_array(w, "tokenizer.ggml.tokens", toks, N, NULL) == SB_OK &&
             sb_gguf_writer_set_array(w, "tokenizer.ggml.scores", SB_GGUF_FLOAT32, scores, N, NULL) == SB_OK &&
             sb_gguf_writer_set_array(w, "tokenizer.ggml.token_type", SB_GGUF_INT32, types, N, NULL) == SB_OK &&
             sb_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", 1, NULL) == SB_OK &&
             sb_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 2, NULL) == SB_OK &&
             sb_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", 0, NULL) == SB_OK;
    return ok ? N : 0;
}

/* GPT-2's byte-to-character map: printable bytes stand for themselves, the
 * others for U+0100 onwards. Writes the UTF-8 of byte b's character. */
static void byte_char(int b, char out[4]) {
    int cp = b, n = 0;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
        for (int x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255)))
                n++;
        cp = 256 + n;
    }
    memset(out, 0, 4);
    if (cp < 0x80) {
        out[0] = (char)cp;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
    }
}

/* A byte-level BPE vocabulary (Qwen's pre-tokenizer): the 256 byte
 * characters, a few merges and their results, and ChatML control tokens. */
static int vocab_bpe(sb_gguf_writer *w) {
    static const char *const merges[] = {"\xc4\xa0 t", "h e", "\xc4\xa0t he", "i n", "o n", "\xc4\xa0 a", "e r",
                                         "a n", "\xc4\xa0 u", "\xc4\xa0u p", "\xc4\xa0up on"};
    static const char *const merged[] = {"\xc4\xa0t", "he", "\xc4\xa0the", "in", "on", "\xc4\xa0" "a", "er",
                                         "an", "\xc4\xa0u", "\xc4\xa0up", "\xc4\xa0upon"};
    static const char *const control[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    enum { NM = sizeof merges / sizeof merges[0], N = 256 + NM + 3 };
    static char chars[256][4];
    sb_str toks[N], ms[NM];
    int32_t types[N];
    for (int b = 0; b < 256; b++) {
        byte_char(b, chars[b]);
        toks[b] = (sb_str){chars[b], strlen(chars[b])};
        types[b] = 1;
    }
    for (int i = 0; i < NM; i++) {
        toks[256 + i] = (sb_str){merged[i], strlen(merged[i])};
        types[256 + i] = 1;
        ms[i] = (sb_str){merges[i], strlen(merges[i])};
    }
    for (int i = 0; i < 3; i++) {
        toks[256 + NM + i] = (sb_str){control[i], strlen(control[i])};
        types[256 + NM + i] = 3;
    }
    int ok = set_str(w, "tokenizer.ggml.model", "gpt2") && set_str(w, "tokenizer.ggml.pre", "qwen2") &&
             sb_gguf_writer_set_string_array(w, "tokenizer.ggml.tokens", toks, N, NULL) == SB_OK &&
             sb_gguf_writer_set_array(w, "tokenizer.ggml.token_type", SB_GGUF_INT32, types, N, NULL) == SB_OK &&
             sb_gguf_writer_set_string_array(w, "tokenizer.ggml.merges", ms, NM, NULL) == SB_OK &&
             sb_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", 256 + NM + 2, NULL) == SB_OK &&
             sb_gguf_writer_set_u32(w, "tokenizer.ggml.padding_token_id", 256 + NM, NULL) == SB_OK &&
             sb_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token", false, NULL) == SB_OK;
    return ok ? N : 0;
}

/* One model: arch's keys, its vocabulary, its tensors in matrix type mt. */
static int write_seed(const char *dir, const char *file, const char *arch, uint32_t mt) {
    const int spm = !strcmp(arch, "llama"), qwen2 = !strcmp(arch, "qwen2"), qwen3 = !strcmp(arch, "qwen3");
    sb_gguf_writer *w = sb_gguf_writer_create();
    if (!w)
        return 0;
    g_n_keep = 0;
    int ok = set_str(w, "general.architecture", arch) && set_u32(w, arch, "context_length", 256) &&
             set_u32(w, arch, "embedding_length", E) && set_u32(w, arch, "block_count", 1) &&
             set_u32(w, arch, "feed_forward_length", FF) && set_u32(w, arch, "attention.head_count", H) &&
             set_u32(w, arch, "attention.head_count_kv", HKV);
    char key[128];
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    ok = ok && sb_gguf_writer_set_f32(w, key, 1e-6f, NULL) == SB_OK;
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    ok = ok && sb_gguf_writer_set_f32(w, key, qwen2 ? 1000000.0f : 10000.0f, NULL) == SB_OK;
    if (qwen3)
        ok = ok && set_u32(w, arch, "attention.key_length", D) && set_u32(w, arch, "attention.value_length", D);
    const int nv = ok ? (spm ? vocab_spm(w) : vocab_bpe(w)) : 0;
    ok = nv > 0 && add(w, "token_embd.weight", SB_TYPE_Q8_0, E, nv, 0) &&
         add(w, "output_norm.weight", SB_TYPE_F32, E, 1, 1.0f);
    if (ok && !qwen2)
        ok = add(w, "output.weight", mt, E, nv, 0);
    ok = ok && add(w, "blk.0.attn_norm.weight", SB_TYPE_F32, E, 1, 1.0f) &&
         add(w, "blk.0.attn_q.weight", mt, E, H * D, 0) && add(w, "blk.0.attn_k.weight", mt, E, HKV * D, 0) &&
         add(w, "blk.0.attn_v.weight", mt, E, HKV * D, 0) && add(w, "blk.0.attn_output.weight", mt, H * D, E, 0) &&
         add(w, "blk.0.ffn_norm.weight", SB_TYPE_F32, E, 1, 1.0f) && add(w, "blk.0.ffn_gate.weight", mt, E, FF, 0) &&
         add(w, "blk.0.ffn_up.weight", mt, E, FF, 0) && add(w, "blk.0.ffn_down.weight", mt, FF, E, 0);
    if (ok && qwen2)
        ok = add(w, "blk.0.attn_q.bias", SB_TYPE_F32, H * D, 1, 0) &&
             add(w, "blk.0.attn_k.bias", SB_TYPE_F32, HKV * D, 1, 0) &&
             add(w, "blk.0.attn_v.bias", SB_TYPE_F32, HKV * D, 1, 0);
    if (ok && qwen3)
        ok = add(w, "blk.0.attn_q_norm.weight", SB_TYPE_F32, D, 1, 1.0f) &&
             add(w, "blk.0.attn_k_norm.weight", SB_TYPE_F32, D, 1, 1.0f);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    sb_error err;
    sb_error_clear(&err);
    if (ok && sb_gguf_writer_write(w, path, NULL, NULL, NULL, NULL, &err) != SB_OK) {
        fprintf(stderr, "make_model_seeds: %s: %s\n", path, err.msg);
        ok = 0;
    }
    for (int i = 0; i < g_n_keep; i++)
        sb_free(g_keep[i]);
    sb_gguf_writer_free(w);
    return ok;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: make_model_seeds DIR\n");
        return 2;
    }
    if (!write_seed(argv[1], "llama-spm.gguf", "llama", SB_TYPE_Q8_0) ||
        !write_seed(argv[1], "qwen2-bpe.gguf", "qwen2", SB_TYPE_Q4_0) ||
        !write_seed(argv[1], "qwen3-bpe.gguf", "qwen3", SB_TYPE_Q8_0)) {
        fprintf(stderr, "make_model_seeds: could not write the seeds\n");
        return 1;
    }
    return 0;
}
