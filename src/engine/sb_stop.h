/*
 * sb_stop.h - stop strings with holdback, for streamed generation.
 *
 * Generated text arrives in pieces; a stop string may be split across
 * pieces. The matcher emits only text that cannot be the start of a stop
 * string: the longest suffix that is a prefix of some stop string is held
 * back until the next piece decides it. When a stop string appears, the
 * text before it is emitted and the stop string itself (and anything after
 * it) is not. At the end of a generation that did not stop on a string,
 * sb_stop_flush emits what was held back.
 *
 * Input pieces are complete UTF-8 (the streaming detokenizer guarantees
 * it) and stop strings must be valid UTF-8, so every emitted piece is
 * complete UTF-8 too.
 *
 * Not thread-safe: one matcher per sequence.
 */
#ifndef SB_STOP_H
#define SB_STOP_H

#include "sb_buf.h"
#include "sb_error.h"

#include <stdbool.h>
#include <stddef.h>

#define SB_MAX_STOP_STRINGS 16
#define SB_MAX_STOP_LEN 256

typedef struct sb_stop_matcher sb_stop_matcher;

/* Copies n stop strings (lens[i] bytes each; lens NULL = NUL-terminated).
 * Empty, over-long (SB_MAX_STOP_LEN) or invalid UTF-8 strings, or more
 * than SB_MAX_STOP_STRINGS, are refused with SB_ERR_INVALID_ARG. n may be 0.
 * Caller frees with sb_stop_free. */
sb_status sb_stop_create(const char *const *stops, const size_t *lens, int n, sb_stop_matcher **out, sb_error *err);
void sb_stop_free(sb_stop_matcher *m);
/* A fresh matcher with the same stop strings. Caller frees. */
sb_status sb_stop_clone(const sb_stop_matcher *m, sb_stop_matcher **out, sb_error *err);

/* Feeds len bytes; appends the text now safe to emit to out. Sets *stopped
 * when a stop string matched (the matcher then ignores further input). */
sb_status sb_stop_feed(sb_stop_matcher *m, const char *text, size_t len, sb_buf *out, bool *stopped, sb_error *err);
/* Appends the held-back text to out (end of generation without a stop). */
sb_status sb_stop_flush(sb_stop_matcher *m, sb_buf *out, sb_error *err);
/* Index of the stop string that matched, or -1. */
int sb_stop_matched(const sb_stop_matcher *m);
/* Bytes currently held back. */
size_t sb_stop_held(const sb_stop_matcher *m);

#endif
