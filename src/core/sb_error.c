#include "sb_error.h"

#include <stdio.h>
#include <string.h>

sb_status sb_error_setv(sb_error *err, sb_status code, const char *fmt, va_list ap) {
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

sb_status sb_error_set(sb_error *err, sb_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_error_setv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

sb_status sb_error_prefix(sb_error *err, const char *fmt, ...) {
    if (!err)
        return SB_ERR_INTERNAL;
    char prefix[SB_ERROR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* prefix + old message, truncated to the buffer */
    size_t plen = strnlen(prefix, sizeof err->msg - 1);
    size_t olen = strnlen(err->msg, sizeof err->msg - 1);
    if (plen + olen > sizeof err->msg - 1)
        olen = sizeof err->msg - 1 - plen;
    memmove(err->msg + plen, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + olen] = '\0';
    return err->code;
}

void sb_error_clear(sb_error *err) {
    if (err) {
        err->code = SB_OK;
        err->msg[0] = '\0';
    }
}

const char *sb_status_name(sb_status code) {
    switch (code) {
    case SB_OK: return "ok";
    case SB_ERR_INVALID_ARG: return "invalid_argument";
    case SB_ERR_NOMEM: return "out_of_memory";
    case SB_ERR_IO: return "io";
    case SB_ERR_FORMAT: return "format";
    case SB_ERR_UNSUPPORTED: return "unsupported";
    case SB_ERR_LIMIT: return "limit";
    case SB_ERR_RANGE: return "range";
    case SB_ERR_NOT_FOUND: return "not_found";
    case SB_ERR_CANCELLED: return "cancelled";
    case SB_ERR_INTERNAL: return "internal";
    case SB_ERR_BUSY: return "busy";
    }
    return "unknown";
}
