#include "sb_buf.h"

#include "sb_alloc.h"
#include "sb_checked.h"

#include <stdio.h>
#include <string.h>

void sb_buf_init(sb_buf *b) { memset(b, 0, sizeof *b); }

void sb_buf_free(sb_buf *b) {
    sb_free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void sb_buf_reset(sb_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

sb_status sb_buf_reserve(sb_buf *b, size_t extra) {
    size_t need;
    if (!sb_add_size(b->len, extra, &need) || !sb_add_size(need, 1, &need))
        return SB_ERR_NOMEM;
    if (b->limit && need - 1 > b->limit)
        return SB_ERR_LIMIT;
    if (need <= b->cap)
        return SB_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (!sb_mul_size(cap, 2, &cap))
            return SB_ERR_NOMEM;
    }
    char *p = sb_realloc(b->data, cap);
    if (!p)
        return SB_ERR_NOMEM;
    b->data = p;
    b->cap = cap;
    return SB_OK;
}

sb_status sb_buf_append(sb_buf *b, const void *data, size_t n) {
    sb_status st = sb_buf_reserve(b, n);
    if (st != SB_OK)
        return st;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SB_OK;
}

sb_status sb_buf_puts(sb_buf *b, const char *s) { return sb_buf_append(b, s, strlen(s)); }

sb_status sb_buf_putc(sb_buf *b, char c) { return sb_buf_append(b, &c, 1); }

sb_status sb_buf_vprintf(sb_buf *b, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SB_ERR_FORMAT;
    sb_status st = sb_buf_reserve(b, (size_t)n);
    if (st != SB_OK)
        return st;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return SB_OK;
}

sb_status sb_buf_printf(sb_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_status st = sb_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return st;
}

char *sb_buf_detach(sb_buf *b, size_t *len) {
    if (!b->data) {
        if (sb_buf_reserve(b, 0) != SB_OK)
            return NULL;
        b->data[0] = '\0';
    }
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
