/*
 * make_model.c - writes a random-weight model of a real shape to a GGUF
 * file, for benchmarks that load from disk (resident memory of a mapped
 * model, `solebox serve` on a real-sized model) where no real checkpoint
 * can be shipped.
 *
 *   make_model SHAPE:TYPE OUT.gguf [VOCAB.gguf]
 *
 * SHAPE:TYPE as `solebox bench --synthetic` takes it (e.g.
 * tinyllama-1.1b:q8_0); the weights are the same bytes that option builds
 * in memory, so `bench -m OUT.gguf` and `bench --synthetic` compute the
 * same. VOCAB.gguf (e.g. ../shared/models/vocab/ggml-vocab-llama-spm.gguf
 * for the 32,000-token llama shapes) supplies the tokenizer.* keys, so the
 * file also runs under `solebox run` and `solebox serve`. The text such a
 * model writes is random tokens.
 */
#include "sb_model.h"
#include "sb_time.h"

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: make_model SHAPE:TYPE OUT.gguf [VOCAB.gguf]\n");
        return 2;
    }
    sb_error err = {0};
    const double t0 = sb_now_seconds();
    if (sb_model_write_synthetic(argv[1], argc == 4 ? argv[3] : NULL, argv[2], &err) != SB_OK) {
        fprintf(stderr, "make_model: %s\n", err.msg);
        return 1;
    }
    printf("wrote %s (%s) in %.1f s\n", argv[2], argv[1], sb_now_seconds() - t0);
    return 0;
}
