/*
 * test_stop.c - stop strings with holdback (sb_stop.h).
 */
#include "sb_alloc.h"
#include "sb_stop.h"
#include "sb_test.h"

#include <stdio.h>
#include <string.h>

/* Feeds pieces one by one; returns the emitted text (static) and whether
 * it stopped, and checks that no emitted prefix contains a stop string. */
static const char *run(const char *const *stops, int n_stops, const char *const *pieces, int n_pieces, bool *stopped,
                       int *which) {
    static char result[1024];
    sb_stop_matcher *m = NULL;
    SB_CHECK(sb_stop_create(stops, NULL, n_stops, &m, NULL) == SB_OK);
    sb_buf out;
    sb_buf_init(&out);
    *stopped = false;
    for (int i = 0; i < n_pieces && !*stopped; i++)
        SB_CHECK(sb_stop_feed(m, pieces[i], strlen(pieces[i]), &out, stopped, NULL) == SB_OK);
    if (!*stopped)
        SB_CHECK(sb_stop_flush(m, &out, NULL) == SB_OK);
    *which = sb_stop_matched(m);
    snprintf(result, sizeof result, "%s", out.data ? out.data : "");
    sb_buf_free(&out);
    sb_stop_free(m);
    return result;
}

static void test_basic(void) {
    bool st;
    int w;
    const char *stops[] = {"</s>", "\n\nUser:"};
    const char *p1[] = {"Hello", " world", "</s>", "never"};
    SB_CHECK_STR(run(stops, 2, p1, 4, &st, &w), "Hello world");
    SB_CHECK(st);
    SB_CHECK_EQ_INT(w, 0);
    /* split across pieces */
    const char *p2[] = {"ab<", "/", "s", "> tail"};
    SB_CHECK_STR(run(stops, 2, p2, 4, &st, &w), "ab");
    SB_CHECK(st);
    /* partial match that fails is released */
    const char *p3[] = {"a</", "x", "b"};
    SB_CHECK_STR(run(stops, 2, p3, 3, &st, &w), "a</xb");
    SB_CHECK(!st);
    SB_CHECK_EQ_INT(w, -1);
    /* held back at the end of generation: flushed */
    const char *p4[] = {"end\n\nUs"};
    SB_CHECK_STR(run(stops, 2, p4, 1, &st, &w), "end\n\nUs");
    SB_CHECK(!st);
    const char *p5[] = {"x\n", "\nUser:", " hi"};
    SB_CHECK_STR(run(stops, 2, p5, 3, &st, &w), "x");
    SB_CHECK_EQ_INT(w, 1);
    /* no stop strings: everything passes */
    const char *p6[] = {"a", "b"};
    SB_CHECK_STR(run(NULL, 0, p6, 2, &st, &w), "ab");
}

static void test_holdback_visible(void) {
    const char *stops[] = {"STOP"};
    sb_stop_matcher *m;
    SB_CHECK(sb_stop_create(stops, NULL, 1, &m, NULL) == SB_OK);
    sb_buf out;
    sb_buf_init(&out);
    bool st;
    SB_CHECK(sb_stop_feed(m, "abcST", 5, &out, &st, NULL) == SB_OK);
    SB_CHECK_EQ_INT(out.len, 3); /* "ST" held */
    SB_CHECK_EQ_INT(sb_stop_held(m), 2);
    SB_CHECK(sb_stop_feed(m, "O", 1, &out, &st, NULL) == SB_OK);
    SB_CHECK_EQ_INT(out.len, 3);
    SB_CHECK(sb_stop_feed(m, "X", 1, &out, &st, NULL) == SB_OK);
    SB_CHECK_STR(out.data, "abcSTOX");
    SB_CHECK(!st);
    /* overlapping: "SSTOP" */
    SB_CHECK(sb_stop_feed(m, "SST", 3, &out, &st, NULL) == SB_OK);
    SB_CHECK(sb_stop_feed(m, "OP", 2, &out, &st, NULL) == SB_OK);
    SB_CHECK(st);
    SB_CHECK_STR(out.data, "abcSTOXS");
    /* after a stop, input is ignored */
    SB_CHECK(sb_stop_feed(m, "more", 4, &out, &st, NULL) == SB_OK);
    SB_CHECK(st);
    SB_CHECK_STR(out.data, "abcSTOXS");
    sb_buf_free(&out);
    sb_stop_free(m);
}

static void test_earliest_wins_and_utf8(void) {
    bool st;
    int w;
    const char *stops[] = {"bc", "abcd"};
    const char *p[] = {"xabcd"};
    SB_CHECK_STR(run(stops, 2, p, 1, &st, &w), "x");
    SB_CHECK_EQ_INT(w, 1);
    /* a multi-byte stop string: held text starts on a character boundary */
    const char *s2[] = {"\xC3\xA9t\xC3\xA9"}; /* "été" */
    const char *p2[] = {"caf\xC3\xA9", " \xC3\xA9t", "\xC3\xA9!"};
    SB_CHECK_STR(run(s2, 1, p2, 3, &st, &w), "caf\xC3\xA9 ");
    SB_CHECK(st);
}

static const char *const *stops_for_oom(void) {
    static const char *s[] = {"one", "two"};
    return s;
}

static void test_invalid(void) {
    sb_stop_matcher *m;
    sb_error err;
    const char *empty[] = {""};
    SB_CHECK(sb_stop_create(empty, NULL, 1, &m, &err) == SB_ERR_INVALID_ARG);
    const char *bad[] = {"\xC3"};
    SB_CHECK(sb_stop_create(bad, NULL, 1, &m, &err) == SB_ERR_INVALID_ARG);
    const char *many[SB_MAX_STOP_STRINGS + 1];
    for (int i = 0; i <= SB_MAX_STOP_STRINGS; i++)
        many[i] = "x";
    SB_CHECK(sb_stop_create(many, NULL, SB_MAX_STOP_STRINGS + 1, &m, &err) == SB_ERR_INVALID_ARG);
    char longs[SB_MAX_STOP_LEN + 2];
    memset(longs, 'a', sizeof longs - 1);
    longs[sizeof longs - 1] = 0;
    const char *lp[] = {longs};
    SB_CHECK(sb_stop_create(lp, NULL, 1, &m, &err) == SB_ERR_INVALID_ARG);
    /* clone is independent */
    const char *ok[] = {"zz"};
    SB_CHECK(sb_stop_create(ok, NULL, 1, &m, NULL) == SB_OK);
    sb_stop_matcher *c;
    SB_CHECK(sb_stop_clone(m, &c, NULL) == SB_OK);
    sb_stop_free(m);
    sb_buf out;
    sb_buf_init(&out);
    bool st;
    SB_CHECK(sb_stop_feed(c, "azzb", 4, &out, &st, NULL) == SB_OK);
    SB_CHECK(st);
    SB_CHECK_STR(out.data, "a");
    sb_buf_free(&out);
    sb_stop_free(c);
    for (long n = 1; n < 6; n++) {
        sb_alloc_fail_nth(n);
        sb_status s = sb_stop_create(stops_for_oom(), NULL, 2, &m, NULL);
        sb_alloc_fail_nth(0);
        if (s == SB_OK)
            sb_stop_free(m);
        SB_CHECK(s == SB_OK || s == SB_ERR_NOMEM);
    }
}

int main(void) {
    SB_RUN(test_basic);
    SB_RUN(test_holdback_visible);
    SB_RUN(test_earliest_wins_and_utf8);
    SB_RUN(test_invalid);
    return sb_test_finish();
}
