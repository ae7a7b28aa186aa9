/*
 * sb_buf.h - a growable byte buffer (string builder).
 *
 * The buffer is a plain value the caller owns: zero-initialise it (or call
 * sb_buf_init), append, then sb_buf_free or sb_buf_detach. The data is always
 * NUL-terminated after a successful append, so it can be used as a C string.
 */
#ifndef SB_BUF_H
#define SB_BUF_H

#include "sb_error.h"

#include <stdarg.h>
#include <stddef.h>

typedef struct sb_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t limit; /* 0 = unlimited; else appends past limit fail with SB_ERR_LIMIT */
} sb_buf;

void sb_buf_init(sb_buf *b);
void sb_buf_free(sb_buf *b);
void sb_buf_reset(sb_buf *b); /* len = 0, keeps capacity */
sb_status sb_buf_reserve(sb_buf *b, size_t extra);
sb_status sb_buf_append(sb_buf *b, const void *data, size_t n);
sb_status sb_buf_puts(sb_buf *b, const char *s);
sb_status sb_buf_putc(sb_buf *b, char c);
sb_status sb_buf_printf(sb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
sb_status sb_buf_vprintf(sb_buf *b, const char *fmt, va_list ap);
/* Hands the NUL-terminated data to the caller (free with sb_free) and resets
 * the buffer. Returns an empty string for an empty buffer, NULL only on OOM. */
char *sb_buf_detach(sb_buf *b, size_t *len);

#endif
