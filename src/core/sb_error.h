/*
 * sb_error.h - status codes and error messages.
 *
 * Library functions return an sb_status (SB_OK on success) and, on failure,
 * fill the caller's sb_error with a code and a human-readable message. They
 * never print, exit or abort on bad input: the CLI decides what the user sees.
 * Passing a NULL sb_error is allowed; the message is then dropped.
 */
#ifndef SB_ERROR_H
#define SB_ERROR_H

#include <stdarg.h>

typedef enum sb_status {
    SB_OK = 0,
    SB_ERR_INVALID_ARG = -1, /* bad argument from the caller (flag, request field) */
    SB_ERR_NOMEM = -2,       /* an allocation failed */
    SB_ERR_IO = -3,          /* open/read/write/mmap failed */
    SB_ERR_FORMAT = -4,      /* malformed input data (file, JSON, template) */
    SB_ERR_UNSUPPORTED = -5, /* well-formed but not supported (version, type, arch) */
    SB_ERR_LIMIT = -6,       /* a configured bound was hit (size, depth, iterations) */
    SB_ERR_RANGE = -7,       /* a value out of its valid range (token id, position) */
    SB_ERR_NOT_FOUND = -8,   /* a named thing does not exist (key, tensor, model) */
    SB_ERR_CANCELLED = -9,   /* the operation was cancelled */
    SB_ERR_INTERNAL = -10,   /* an invariant broke: a bug in Solebox */
    SB_ERR_BUSY = -11,       /* temporarily unable (queue full) */
} sb_status;

#define SB_ERROR_MSG_MAX 512

typedef struct sb_error {
    sb_status code;
    char msg[SB_ERROR_MSG_MAX];
} sb_error;

/* Records code and a printf-style message in err (if not NULL); returns code
 * so that callers can write `return sb_error_set(err, SB_ERR_IO, ...)`. */
sb_status sb_error_set(sb_error *err, sb_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
sb_status sb_error_setv(sb_error *err, sb_status code, const char *fmt, va_list ap);

/* Prepends context ("loading model.gguf: ") to an existing message; returns
 * err->code. With a NULL err there is no code to return: it returns
 * SB_ERR_INTERNAL, so code that may be handed a NULL err must keep the
 * status it got rather than `return sb_error_prefix(...)`. */
sb_status sb_error_prefix(sb_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets err to SB_OK with an empty message. */
void sb_error_clear(sb_error *err);

/* A short stable name for a status ("io", "format", ...). Static storage. */
const char *sb_status_name(sb_status code);

#endif
