/*
 * stop_strings.c - stop-string matching with holdback (see sb_stop.h).
 */
#include "sb_stop.h"

#include "sb_alloc.h"
#include "sb_utf8.h"

#include <string.h>

struct sb_stop_matcher {
    int n;
    char *str[SB_MAX_STOP_STRINGS];
    size_t len[SB_MAX_STOP_STRINGS];
    sb_buf pending; /* text not yet emitted */
    int matched;
    bool done;
};

sb_status sb_stop_create(const char *const *stops, const size_t *lens, int n, sb_stop_matcher **out, sb_error *err) {
    *out = NULL;
    if (n < 0 || n > SB_MAX_STOP_STRINGS)
        return sb_error_set(err, SB_ERR_INVALID_ARG, "stop: at most %d stop strings are allowed", SB_MAX_STOP_STRINGS);
    for (int i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : (stops[i] ? strlen(stops[i]) : 0);
        if (!stops[i] || len == 0)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "stop: stop string %d is empty", i);
        if (len > SB_MAX_STOP_LEN)
            return sb_error_set(err, SB_ERR_INVALID_ARG, "stop: stop string %d is longer than %d bytes", i,
                                SB_MAX_STOP_LEN);
        if (!sb_utf8_valid(stops[i], len))
            return sb_error_set(err, SB_ERR_INVALID_ARG, "stop: stop string %d is not valid UTF-8", i);
    }
    sb_stop_matcher *m = sb_calloc(1, sizeof *m);
    if (!m)
        return sb_error_set(err, SB_ERR_NOMEM, "stop: out of memory");
    sb_buf_init(&m->pending);
    m->matched = -1;
    for (int i = 0; i < n; i++) {
        size_t len = lens ? lens[i] : strlen(stops[i]);
        m->str[i] = sb_strndup(stops[i], len);
        if (!m->str[i]) {
            sb_stop_free(m);
            return sb_error_set(err, SB_ERR_NOMEM, "stop: out of memory");
        }
        m->len[i] = len;
        m->n++;
    }
    *out = m;
    return SB_OK;
}

void sb_stop_free(sb_stop_matcher *m) {
    if (!m)
        return;
    for (int i = 0; i < m->n; i++)
        sb_free(m->str[i]);
    sb_buf_free(&m->pending);
    sb_free(m);
}

sb_status sb_stop_clone(const sb_stop_matcher *m, sb_stop_matcher **out, sb_error *err) {
    return sb_stop_create((const char *const *)m->str, m->len, m->n, out, err);
}

/* Earliest start of any stop string in s[0..n), or n; *which gets its index. */
static size_t find_first(const sb_stop_matcher *m, const char *s, size_t n, int *which) {
    size_t best = n;
    *which = -1;
    for (int i = 0; i < m->n; i++) {
        size_t L = m->len[i];
        if (L > n)
            continue;
        for (size_t at = 0; at + L <= n && at < best; at++) {
            if (s[at] == m->str[i][0] && memcmp(s + at, m->str[i], L) == 0) {
                best = at;
                *which = i;
                break;
            }
        }
    }
    return best;
}

/* Length of the longest suffix of s[0..n) that is a proper prefix of a
 * stop string. */
static size_t holdback(const sb_stop_matcher *m, const char *s, size_t n) {
    size_t best = 0;
    for (int i = 0; i < m->n; i++) {
        size_t max = m->len[i] - 1 < n ? m->len[i] - 1 : n;
        for (size_t k = max; k > best; k--) {
            if (memcmp(s + n - k, m->str[i], k) == 0) {
                best = k;
                break;
            }
        }
    }
    return best;
}

sb_status sb_stop_feed(sb_stop_matcher *m, const char *text, size_t len, sb_buf *out, bool *stopped, sb_error *err) {
    *stopped = m->done;
    if (m->done || len == 0)
        return SB_OK;
    if (m->n == 0)
        return sb_buf_append(out, text, len) == SB_OK ? SB_OK : sb_error_set(err, SB_ERR_NOMEM, "stop: out of memory");
    if (sb_buf_append(&m->pending, text, len) != SB_OK)
        return sb_error_set(err, SB_ERR_NOMEM, "stop: out of memory");
    const char *s = m->pending.data;
    size_t n = m->pending.len;
    int which;
    size_t at = find_first(m, s, n, &which);
    size_t emit, keep_from;
    if (which >= 0) {
        emit = at;
        keep_from = n;
        m->matched = which;
        m->done = true;
        *stopped = true;
    } else {
        emit = n - holdback(m, s, n);
        keep_from = emit;
    }
    if (emit > 0 && sb_buf_append(out, s, emit) != SB_OK)
        return sb_error_set(err, SB_ERR_NOMEM, "stop: out of memory");
    size_t rest = n - keep_from;
    memmove(m->pending.data, s + keep_from, rest);
    m->pending.len = rest;
    m->pending.data[rest] = '\0';
    return SB_OK;
}

sb_status sb_stop_flush(sb_stop_matcher *m, sb_buf *out, sb_error *err) {
    if (m->done || m->pending.len == 0)
        return SB_OK;
    if (sb_buf_append(out, m->pending.data, m->pending.len) != SB_OK)
        return sb_error_set(err, SB_ERR_NOMEM, "stop: out of memory");
    sb_buf_reset(&m->pending);
    return SB_OK;
}

int sb_stop_matched(const sb_stop_matcher *m) { return m->matched; }
size_t sb_stop_held(const sb_stop_matcher *m) { return m->done ? 0 : m->pending.len; }
