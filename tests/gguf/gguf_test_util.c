/* gguf_test_util.c - see gguf_test_util.h. */
#include "gguf_test_util.h"

#include "sb_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *gguf_seed_dir;

void gb_bytes(sb_buf *b, const void *p, size_t n) {
    if (sb_buf_append(b, p, n) != SB_OK) {
        fprintf(stderr, "out of memory building a test image\n");
        exit(1);
    }
}
void gb_u8(sb_buf *b, uint8_t v) { gb_bytes(b, &v, 1); }
void gb_u32(sb_buf *b, uint32_t v) { gb_bytes(b, &v, 4); }
void gb_u64(sb_buf *b, uint64_t v) { gb_bytes(b, &v, 8); }
void gb_str(sb_buf *b, const char *s) {
    gb_u64(b, strlen(s));
    gb_bytes(b, s, strlen(s));
}

void gb_header(sb_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    gb_bytes(b, "GGUF", 4);
    gb_u32(b, version);
    gb_u64(b, n_tensors);
    gb_u64(b, n_kv);
}

void gb_key(sb_buf *b, const char *key, uint32_t type) {
    gb_str(b, key);
    gb_u32(b, type);
}

void gb_tensor(sb_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset) {
    gb_str(b, name);
    gb_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++)
        gb_u64(b, ne[d]);
    gb_u32(b, type);
    gb_u64(b, offset);
}

void gb_pad(sb_buf *b, size_t align) {
    while (b->len % align)
        gb_u8(b, 0);
}

uint8_t *exact_copy(const void *p, size_t n) {
    uint8_t *c = malloc(n ? n : 1);
    if (!c) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    if (n)
        memcpy(c, p, n);
    return c;
}

void gguf_save_seed(const char *name, const void *p, size_t n) {
    if (!gguf_seed_dir)
        return;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.gguf", gguf_seed_dir, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(p, 1, n, fp) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(fp);
}

const char *expect_open_fail_at(const char *name, const void *p, size_t n, sb_status code, const char *substr,
                                const char *file, int line) {
    static sb_error err;
    gguf_save_seed(name, p, n);
    uint8_t *copy = exact_copy(p, n);
    sb_gguf *g = (sb_gguf *)1;
    sb_error_clear(&err);
    sb_status st = sb_gguf_open_memory(copy, n, &g, &err);
    sb_test_checkf(st == code && err.code == code, file, line, "%s: status %s (want %s), message \"%s\"", name,
                   sb_status_name(st), sb_status_name(code), err.msg);
    sb_test_checkf(g == NULL, file, line, "%s: *out is not NULL on failure", name);
    sb_test_checkf(strstr(err.msg, substr) != NULL, file, line, "%s: message \"%s\" lacks \"%s\"", name, err.msg,
                   substr);
    sb_gguf *g2 = (sb_gguf *)1;
    sb_status st2 = sb_gguf_open_memory(copy, n, &g2, NULL);
    sb_test_checkf(st2 == st && g2 == NULL, file, line, "%s: with a NULL error the status is %s (want %s)", name,
                   sb_status_name(st2), sb_status_name(st));
    if (st == SB_OK)
        sb_gguf_close(g);
    if (st2 == SB_OK)
        sb_gguf_close(g2);
    free(copy);
    return err.msg;
}

void fill_pattern(void *dst, size_t n, uint32_t seed) {
    uint8_t *p = dst;
    uint32_t x = seed * 2654435761u + 12345u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (uint8_t)x;
    }
}
