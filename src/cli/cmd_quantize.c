/*
 * cmd_quantize.c - `solebox quantize IN.gguf OUT.gguf TYPE`: writes a
 * quantized copy of an F32/F16/BF16 model (rules in src/engine/sb_quantize.h),
 * with a progress bar when stderr is a terminal.
 */
#include "commands.h"

#include "sb_quantize.h"
#include "sb_tensor_type.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out) {
    fprintf(out, "usage: solebox quantize IN.gguf OUT.gguf TYPE [-t THREADS]\n"
                 "\n"
                 "TYPE: Q8_0, Q4_0, Q4_K_M, Q5_K_M or Q6_K (case-insensitive). IN must be F32, F16 or BF16.\n"
                 "Tensor types follow llama-quantize's rules; OUT is written atomically.\n");
}

/* Redraws a 40-column bar on the terminal. */
static void progress_bar(void *ud, uint64_t done, uint64_t total) {
    (void)ud;
    int pct = total ? (int)(done * 100 / total) : 100;
    int fill = pct * 40 / 100;
    char bar[41];
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[40] = 0;
    fprintf(stderr, "\r[%s] %3d%%", bar, pct);
    fflush(stderr);
}

int sb_cmd_quantize(int argc, char **argv) {
    const char *pos[3] = {NULL, NULL, NULL};
    int n_pos = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "-t") || !strcmp(argv[i], "--threads")) {
            char *end;
            errno = 0;
            long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : 0;
            if (i + 1 >= argc || errno || *end || v < 1 || v > 1024) {
                fprintf(stderr, "solebox quantize: -t needs a thread count (1..1024)\n");
                return 2;
            }
            threads = (int)v;
            i++;
            continue;
        }
        if (n_pos == 3) {
            usage(stderr);
            return 2;
        }
        pos[n_pos++] = argv[i];
    }
    if (n_pos != 3) {
        usage(stderr);
        return 2;
    }
    int ft = sb_quantize_ftype_from_name(pos[2]);
    if (ft < 0) {
        fprintf(stderr, "solebox quantize: unknown type '%s' (Q8_0, Q4_0, Q4_K_M, Q5_K_M, Q6_K)\n", pos[2]);
        return 1;
    }
    sb_quantize_opts o = {.ftype = (uint32_t)ft, .n_threads = threads};
    bool tty = isatty(STDERR_FILENO);
    if (tty)
        o.progress = progress_bar;
    sb_quantize_report rep;
    sb_error err;
    sb_error_clear(&err);
    sb_status st = sb_quantize_file(pos[0], pos[1], &o, &rep, &err);
    if (tty)
        fprintf(stderr, "\n");
    if (st != SB_OK) {
        fprintf(stderr, "solebox quantize: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "%s: %d tensors (%d quantized, %d copied", sb_quantize_ftype_name((uint32_t)ft), rep.n_tensors,
            rep.n_quantized, rep.n_copied);
    if (rep.n_fallback)
        fprintf(stderr, ", %d with a fallback type", rep.n_fallback);
    fprintf(stderr, "): ");
    bool first = true;
    for (int t = 0; t < 40; t++) {
        if (rep.count_by_type[t]) {
            fprintf(stderr, "%s%d %s", first ? "" : ", ", rep.count_by_type[t], sb_type_name((uint32_t)t));
            first = false;
        }
    }
    fprintf(stderr, "\n%.2f MB -> %.2f MB in %.2f s\n", rep.bytes_in / 1e6, rep.bytes_out / 1e6, rep.seconds);
    return 0;
}
