/*
 * rp2040_tool.c - host-side helper of the RP2040 build (compiled with the host compiler):
 *
 *   rp2040_tool selftest                 CRC32 known answer
 *   rp2040_tool boot2 IN.bin OUT.bin     pad the stage 2 to 252 bytes and append its CRC32
 *   rp2040_tool verify IMAGE.bin         check the stage-2 CRC32 of a flash image
 *   rp2040_tool uf2 IN.bin OUT.uf2 ADDR  wrap a flash image in UF2 (RP2040 family, 256-byte payloads)
 *
 * The boot ROM's CRC32: polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no reflection, no final
 * XOR (CRC-32/MPEG-2), over the first 252 bytes, stored little-endian in bytes 252..255.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UF2_MAGIC0 0x0A324655u
#define UF2_MAGIC1 0x9E5D5157u
#define UF2_MAGIC_END 0x0AB16F30u
#define UF2_FLAG_FAMILY 0x00002000u
#define UF2_FAMILY_RP2040 0xE48BFF56u
#define MAX_IMAGE (2u * 1024u * 1024u)

static uint32_t crc32_mpeg2(const uint8_t *p, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint32_t)p[i] << 24;
        for (int k = 0; k < 8; k++)
            crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
    }
    return crc;
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Reads a whole file of at most max bytes into a new buffer; NULL (with a message) on failure. */
static uint8_t *read_file(const char *path, size_t max, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "rp2040_tool: cannot open %s\n", path);
        return NULL;
    }
    uint8_t *buf = malloc(max + 1);
    size_t got = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || got > max) {
        fprintf(stderr, "rp2040_tool: %s: %s\n", path, buf ? "too large" : "out of memory");
        free(buf);
        return NULL;
    }
    *n = got;
    return buf;
}

static int write_file(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "rp2040_tool: cannot write %s\n", path);
        return 1;
    }
    return 0;
}

static int cmd_boot2(const char *in, const char *out) {
    size_t n = 0;
    uint8_t *code = read_file(in, 252, &n);
    if (!code)
        return 1;
    uint8_t blk[256];
    memset(blk, 0, sizeof blk);
    memcpy(blk, code, n);
    free(code);
    put32(blk + 252, crc32_mpeg2(blk, 252));
    printf("boot2: %zu bytes of code, CRC32 0x%08X\n", n, (unsigned)get32(blk + 252));
    return write_file(out, blk, sizeof blk);
}

static int cmd_verify(const char *in) {
    size_t n = 0;
    uint8_t *img = read_file(in, MAX_IMAGE, &n);
    if (!img)
        return 1;
    int rc = 0;
    if (n < 256) {
        fprintf(stderr, "rp2040_tool: %s: shorter than the 256-byte stage 2\n", in);
        rc = 1;
    } else if (crc32_mpeg2(img, 252) != get32(img + 252)) {
        fprintf(stderr, "rp2040_tool: %s: stage-2 CRC32 mismatch\n", in);
        rc = 1;
    } else if (get32(img + 256) < 0x20000000u || get32(img + 256) > 0x20042000u ||
               (get32(img + 260) & 0xFF000001u) != 0x10000001u) {
        fprintf(stderr, "rp2040_tool: %s: no vector table at 0x10000100 (SP %08X, reset %08X)\n", in,
                (unsigned)get32(img + 256), (unsigned)get32(img + 260));
        rc = 1;
    } else {
        printf("%s: stage-2 CRC32 ok, initial SP 0x%08X, reset handler 0x%08X\n", in, (unsigned)get32(img + 256),
               (unsigned)get32(img + 260));
    }
    free(img);
    return rc;
}

static int cmd_uf2(const char *in, const char *out, uint32_t base) {
    size_t n = 0;
    uint8_t *img = read_file(in, MAX_IMAGE, &n);
    if (!img)
        return 1;
    uint32_t blocks = (uint32_t)((n + 255) / 256);
    uint8_t *uf2 = calloc(blocks ? blocks : 1, 512);
    if (!uf2) {
        free(img);
        fprintf(stderr, "rp2040_tool: out of memory\n");
        return 1;
    }
    for (uint32_t b = 0; b < blocks; b++) {
        uint8_t *blk = uf2 + 512u * b;
        put32(blk + 0, UF2_MAGIC0);
        put32(blk + 4, UF2_MAGIC1);
        put32(blk + 8, UF2_FLAG_FAMILY);
        put32(blk + 12, base + 256u * b);
        put32(blk + 16, 256);
        put32(blk + 20, b);
        put32(blk + 24, blocks);
        put32(blk + 28, UF2_FAMILY_RP2040);
        size_t off = 256u * b, k = n - off < 256 ? n - off : 256;
        memcpy(blk + 32, img + off, k);
        put32(blk + 508, UF2_MAGIC_END);
    }
    int rc = write_file(out, uf2, 512u * blocks);
    if (rc == 0)
        printf("uf2: %u blocks of 256 bytes at 0x%08X, family 0x%08X\n", (unsigned)blocks, (unsigned)base,
               UF2_FAMILY_RP2040);
    free(uf2);
    free(img);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "selftest") == 0) {
        uint32_t c = crc32_mpeg2((const uint8_t *)"123456789", 9);
        if (c != 0x0376E6E7u) {
            fprintf(stderr, "rp2040_tool: CRC32/MPEG-2 self-test failed: 0x%08X\n", (unsigned)c);
            return 1;
        }
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "boot2") == 0)
        return cmd_boot2(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "verify") == 0)
        return cmd_verify(argv[2]);
    if (argc == 5 && strcmp(argv[1], "uf2") == 0)
        return cmd_uf2(argv[2], argv[3], (uint32_t)strtoul(argv[4], NULL, 0));
    fprintf(stderr, "usage: rp2040_tool selftest | boot2 IN OUT | verify IMAGE | uf2 IN OUT ADDR\n");
    return 2;
}
