/*
 * fuzz_replay_main.c - runs the frame fuzz target (fuzz_frame.c) as an ordinary test under any
 * compiler: over generated inputs (valid frames of every command, and their bit flips, truncations,
 * extensions and splices, from a seeded generator) and over the files of any directories given as
 * arguments. With --emit DIR it writes a seed corpus for libFuzzer instead.
 */
#include "sb_smc_msg.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t g_s = 0xF022;
static uint32_t rnd(void) {
    g_s ^= g_s << 13;
    g_s ^= g_s >> 7;
    g_s ^= g_s << 17;
    return (uint32_t)(g_s >> 16);
}

/* A valid frame of a random command with a random payload, prefixed by its length byte. */
static size_t gen_frame(uint8_t *out, size_t cap) {
    static const uint8_t cmds[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 0x42, 0};
    uint8_t p[SB_SMC_PAYLOAD_MAX];
    size_t len = rnd() % 4 == 0 ? rnd() % (SB_SMC_PAYLOAD_MAX + 1) : rnd() % 8;
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)rnd();
    if (cap < SB_SMC_FRAME_MAX + 1)
        return 0;
    size_t n = sb_smc_frame_encode(out + 1, cap - 1, cmds[rnd() % sizeof cmds], (uint16_t)rnd(), p, len);
    out[0] = (uint8_t)(n > 254 ? 254 : n);
    return n + 1;
}

static size_t gen_input(uint8_t *buf, size_t cap) {
    size_t n = 0;
    int frames = 1 + (int)(rnd() % 4);
    for (int k = 0; k < frames && cap - n > SB_SMC_FRAME_MAX + 1; k++)
        n += gen_frame(buf + n, cap - n);
    switch (rnd() % 6) {
    case 0: /* bit flips */
        for (int k = 1 + (int)(rnd() % 3); k > 0 && n; k--)
            buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
        break;
    case 1: /* truncation */
        if (n)
            n = rnd() % n;
        break;
    case 2: /* random tail */
        for (int k = (int)(rnd() % 40); k > 0 && n < cap; k--)
            buf[n++] = (uint8_t)rnd();
        break;
    case 3: /* replay: the first frame twice */
        if (n && 2 * n < cap) {
            memcpy(buf + n, buf, n);
            n *= 2;
        }
        break;
    default:
        break;
    }
    return n;
}

static int run_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    static uint8_t buf[1 << 16];
    while ((e = readdir(d))) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        count++;
    }
    closedir(d);
    return count;
}

int main(int argc, char **argv) {
    static uint8_t buf[4 * (SB_SMC_FRAME_MAX + 1) + 64];
    if (argc == 3 && strcmp(argv[1], "--emit") == 0) {
        for (int i = 0; i < 64; i++) {
            size_t n = gen_input(buf, sizeof buf);
            char path[4096];
            snprintf(path, sizeof path, "%s/seed-%02d", argv[2], i);
            FILE *f = fopen(path, "wb");
            if (!f || fwrite(buf, 1, n, f) != n) {
                fprintf(stderr, "cannot write %s\n", path);
                if (f)
                    fclose(f);
                return 1;
            }
            fclose(f);
        }
        return 0;
    }
    int generated = 0;
    for (int i = 0; i < 50000; i++) {
        size_t n = gen_input(buf, sizeof buf);
        LLVMFuzzerTestOneInput(buf, n);
        generated++;
    }
    LLVMFuzzerTestOneInput(NULL, 0);
    int files = 0;
    for (int i = 1; i < argc; i++)
        files += run_dir(argv[i]);
    printf("%d generated inputs, %d files replayed, no crash\n", generated, files);
    return 0;
}
