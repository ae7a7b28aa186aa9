/*
 * srv_sse.c - SSE framing (see srv_sse.h).
 */
#include "srv_sse.h"

#include <stdlib.h>
#include <string.h>

/* Compact JSON never contains a raw newline (strings escape it), so one
 * `data:` line carries the whole chunk. */
sb_status sb_sse_json(sb_buf *out, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s)
        return SB_ERR_NOMEM;
    sb_status st = sb_buf_puts(out, "data: ");
    if (st == SB_OK)
        st = sb_buf_puts(out, s);
    if (st == SB_OK)
        st = sb_buf_puts(out, "\n\n");
    free(s); /* json_dumps allocates with jansson's allocator, malloc by default */
    return st;
}

/* See srv_sse.h. */
sb_status sb_sse_done(sb_buf *out) { return sb_buf_puts(out, "data: [DONE]\n\n"); }
