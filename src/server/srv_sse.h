/*
 * srv_sse.h - Server-Sent Events framing as OpenAI streams use it:
 * `data: {json}\n\n` per chunk and `data: [DONE]\n\n` at the end.
 */
#ifndef SB_SRV_SSE_H
#define SB_SRV_SSE_H

#include "sb_buf.h"

#include <jansson.h>

/* Appends one `data:` event holding j (compact, one line); takes j. */
sb_status sb_sse_json(sb_buf *out, json_t *j);
/* Appends the terminating `data: [DONE]` event. */
sb_status sb_sse_done(sb_buf *out);

#endif
