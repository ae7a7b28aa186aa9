/*
 * test_page_pool.c - the KV page pool, prefix index and sequence page
 * tables: refcounts, LRU eviction, reservations, prefix hits, copy-on-write,
 * fork, and accounting that returns to zero.
 */
#include "fake_model.h"
#include "sb_alloc.h"
#include "sb_page_pool.h"
#include "sb_seq_kv.h"
#include "sb_test.h"

#include <string.h>

static void check_invariants(const sb_page_pool *p) {
    sb_page_pool_stats st;
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_used + st.n_cached + st.n_free, st.n_pages);
    SB_CHECK(st.n_reserved <= st.n_free + st.n_cached);
    SB_CHECK(st.n_reserved >= 0);
}

static void test_take_ref_unref(void) {
    sb_page_pool *p;
    SB_CHECK(sb_page_pool_create(4, 16, &p, NULL) == SB_OK);
    int32_t a = sb_page_pool_take(p), b = sb_page_pool_take(p);
    SB_CHECK_EQ_INT(a, 0);
    SB_CHECK_EQ_INT(b, 1);
    SB_CHECK(!sb_page_pool_ref(p, a)); /* used page: no revival */
    SB_CHECK_EQ_INT(sb_page_pool_refcount(p, a), 2);
    sb_page_pool_unref(p, a);
    sb_page_pool_unref(p, a);
    sb_page_pool_unref(p, b);
    sb_page_pool_stats st;
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_free, 4);
    SB_CHECK_EQ_INT(st.n_used, 0);
    for (int i = 0; i < 4; i++)
        SB_CHECK(sb_page_pool_take(p) >= 0);
    SB_CHECK_EQ_INT(sb_page_pool_take(p), -1);
    check_invariants(p);
    sb_page_pool_free(p);
    SB_CHECK(sb_page_pool_create(0, 16, &p, NULL) == SB_ERR_INVALID_ARG);
    SB_CHECK(sb_page_pool_create(4, 0, &p, NULL) == SB_ERR_INVALID_ARG);
}

static void test_publish_find_lru(void) {
    sb_page_pool *p;
    SB_CHECK(sb_page_pool_create(3, 4, &p, NULL) == SB_OK);
    int32_t toks[3][4] = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
    int32_t pg[3];
    uint64_t h[3], parent = 0;
    for (int i = 0; i < 3; i++) {
        pg[i] = sb_page_pool_take(p);
        h[i] = sb_page_pool_hash(parent, toks[i], 4);
        SB_CHECK(sb_page_pool_publish(p, pg[i], h[i], parent, toks[i]));
        parent = h[i];
    }
    /* the same prefix under another page is not published twice */
    SB_CHECK(!sb_page_pool_publish(p, pg[1], h[0], 0, toks[0]));
    SB_CHECK_EQ_INT(sb_page_pool_find(p, h[0], 0, toks[0]), pg[0]);
    SB_CHECK_EQ_INT(sb_page_pool_find(p, h[1], h[0], toks[1]), pg[1]);
    /* same hash, different tokens or parent: no match (collision safety) */
    SB_CHECK_EQ_INT(sb_page_pool_find(p, h[1], h[0], toks[2]), -1);
    SB_CHECK_EQ_INT(sb_page_pool_find(p, h[1], 0, toks[1]), -1);
    /* the chained hash depends on the parent */
    SB_CHECK(sb_page_pool_hash(0, toks[1], 4) != h[1]);
    /* release in order 2, 0, 1: LRU order is 2, 0, 1 */
    sb_page_pool_unref(p, pg[2]);
    sb_page_pool_unref(p, pg[0]);
    sb_page_pool_unref(p, pg[1]);
    sb_page_pool_stats st;
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_cached, 3);
    SB_CHECK_EQ_INT(st.n_free, 0);
    /* reviving page 0 moves it out of the LRU list */
    SB_CHECK(sb_page_pool_ref(p, pg[0]));
    /* a fresh page evicts the least recently used: page 2 */
    int32_t f = sb_page_pool_take(p);
    SB_CHECK_EQ_INT(f, pg[2]);
    SB_CHECK_EQ_INT(sb_page_pool_find(p, h[2], h[1], toks[2]), -1);
    SB_CHECK(!sb_page_pool_is_published(p, f));
    f = sb_page_pool_take(p);
    SB_CHECK_EQ_INT(f, pg[1]);
    SB_CHECK_EQ_INT(sb_page_pool_take(p), -1);
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_evicted, 2);
    SB_CHECK_EQ_INT(st.n_revived, 1);
    check_invariants(p);
    sb_page_pool_unref(p, pg[0]);
    sb_page_pool_drop_cached(p);
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_cached, 0);
    sb_page_pool_free(p);
}

static void test_reservations(void) {
    sb_page_pool *p;
    SB_CHECK(sb_page_pool_create(10, 16, &p, NULL) == SB_OK);
    SB_CHECK(sb_page_pool_reserve(p, 6));
    SB_CHECK(!sb_page_pool_reserve(p, 5));
    SB_CHECK(sb_page_pool_reserve(p, 4));
    SB_CHECK_EQ_INT(sb_page_pool_unreserved(p), 0);
    sb_page_pool_unreserve(p, 10);
    SB_CHECK_EQ_INT(sb_page_pool_unreserved(p), 10);
    SB_CHECK(!sb_page_pool_reserve(p, -1));
    sb_page_pool_free(p);
}

static void test_worst_pages(void) {
    SB_CHECK_EQ_INT(sb_seq_kv_worst_pages(16, 0, 16), 2);
    SB_CHECK_EQ_INT(sb_seq_kv_worst_pages(16, 0, 17), 3);
    SB_CHECK_EQ_INT(sb_seq_kv_worst_pages(16, 20, 40), 3);
    SB_CHECK_EQ_INT(sb_seq_kv_worst_pages(16, 32, 33), 2);
}

/* Writes positions with the fake backend's state rule so that copies can be
 * checked. */
static void fill(fake_model *m, sb_seq_kv *s, const int32_t *toks, int n) {
    int ps = m->page_size;
    for (int i = 0; i < n; i++) {
        int pos = s->n_stored + i;
        uint64_t prev = 0;
        if (pos > 0)
            prev = m->kv[(size_t)s->pages[(pos - 1) / ps] * ps + (pos - 1) % ps];
        m->kv[(size_t)s->pages[pos / ps] * ps + pos % ps] = fake_next_state(prev, toks[i]);
    }
}

static uint64_t state_at(fake_model *m, const sb_seq_kv *s, int pos) {
    int ps = m->page_size;
    return m->kv[(size_t)s->pages[pos / ps] * ps + pos % ps];
}

static void test_seq_prefix_and_cow(void) {
    const int ps = 4, np = 12;
    fake_model *m = fake_model_create(np, ps, 1);
    sb_page_pool *p;
    SB_CHECK(sb_page_pool_create(np, ps, &p, NULL) == SB_OK);
    int32_t prompt[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};

    /* sequence A: 10 tokens -> pages 0,1 full (published), page 2 partial */
    sb_seq_kv a;
    sb_seq_kv_init(&a, p, true);
    SB_CHECK(sb_page_pool_reserve(p, 4));
    sb_seq_kv_add_reservation(&a, 4);
    int cached = -1;
    SB_CHECK(sb_seq_kv_match_prefix(&a, prompt, 10, &cached, NULL) == SB_OK);
    SB_CHECK_EQ_INT(cached, 0);
    SB_CHECK(sb_seq_kv_prepare(&a, &m->base, 10, NULL) == SB_OK);
    fill(m, &a, prompt, 10);
    SB_CHECK(sb_seq_kv_commit(&a, prompt, 10, NULL) == SB_OK);
    SB_CHECK_EQ_INT(a.n_pages, 3);
    SB_CHECK_EQ_INT(a.reserved, 1);
    SB_CHECK(sb_page_pool_is_published(p, a.pages[0]));
    SB_CHECK(sb_page_pool_is_published(p, a.pages[1]));
    SB_CHECK(!sb_page_pool_is_published(p, a.pages[2]));

    /* plan for B with the same first 9 tokens: 2 live hits */
    int hit, live;
    sb_seq_kv_plan(p, prompt, 9, &hit, &live);
    SB_CHECK_EQ_INT(hit, 2);
    SB_CHECK_EQ_INT(live, 2);

    /* B shares pages 0,1 and writes its own page 2 */
    sb_seq_kv b;
    sb_seq_kv_init(&b, p, true);
    SB_CHECK(sb_page_pool_reserve(p, 2));
    sb_seq_kv_add_reservation(&b, 2);
    int32_t pb[9] = {1, 2, 3, 4, 5, 6, 7, 8, 99};
    SB_CHECK(sb_seq_kv_match_prefix(&b, pb, 9, &cached, NULL) == SB_OK);
    SB_CHECK_EQ_INT(cached, 8);
    SB_CHECK_EQ_INT(b.pages[0], a.pages[0]);
    SB_CHECK_EQ_INT(b.pages[1], a.pages[1]);
    SB_CHECK(sb_seq_kv_prepare(&b, &m->base, 1, NULL) == SB_OK);
    SB_CHECK(b.pages[2] != a.pages[2]);
    fill(m, &b, pb + 8, 1);
    SB_CHECK(sb_seq_kv_commit(&b, pb + 8, 1, NULL) == SB_OK);
    SB_CHECK_EQ_INT(b.n_cow, 0);
    /* B's state at 8 follows A's state at 7 (shared page) */
    SB_CHECK(state_at(m, &b, 8) == fake_next_state(state_at(m, &a, 7), 99));

    /* C = exactly A's 8 first tokens: whole prompt cached; the last token is
     * recomputed after a copy-on-write of page 1 */
    sb_seq_kv c;
    sb_seq_kv_init(&c, p, true);
    SB_CHECK(sb_page_pool_reserve(p, 2));
    sb_seq_kv_add_reservation(&c, 2);
    SB_CHECK(sb_seq_kv_match_prefix(&c, prompt, 8, &cached, NULL) == SB_OK);
    SB_CHECK_EQ_INT(cached, 7);
    int32_t shared1 = c.pages[1];
    SB_CHECK(sb_seq_kv_prepare(&c, &m->base, 1, NULL) == SB_OK);
    SB_CHECK_EQ_INT(c.n_cow, 1);
    SB_CHECK(c.pages[1] != shared1);
    SB_CHECK(state_at(m, &c, 6) == state_at(m, &a, 6)); /* copied slots */
    fill(m, &c, prompt + 7, 1);
    SB_CHECK(state_at(m, &c, 7) == state_at(m, &a, 7)); /* recomputed the same */
    SB_CHECK(sb_seq_kv_commit(&c, prompt + 7, 1, NULL) == SB_OK);
    /* the copy is a duplicate of a published page: stays unpublished */
    SB_CHECK(!sb_page_pool_is_published(p, c.pages[1]));

    /* fork A: D shares all 3 pages; its first write copies page 2 */
    sb_seq_kv d;
    sb_seq_kv_init(&d, p, true);
    SB_CHECK(sb_page_pool_reserve(p, 2));
    sb_seq_kv_add_reservation(&d, 2);
    SB_CHECK(sb_seq_kv_fork(&d, &a, NULL) == SB_OK);
    SB_CHECK_EQ_INT(sb_page_pool_refcount(p, a.pages[2]), 2);
    int32_t t11 = 11;
    SB_CHECK(sb_seq_kv_prepare(&d, &m->base, 1, NULL) == SB_OK);
    SB_CHECK_EQ_INT(d.n_cow, 1);
    SB_CHECK(d.pages[2] != a.pages[2]);
    fill(m, &d, &t11, 1);
    SB_CHECK(sb_seq_kv_commit(&d, &t11, 1, NULL) == SB_OK);
    SB_CHECK(state_at(m, &d, 9) == state_at(m, &a, 9));
    /* A then writes in place (it holds page 2 alone again) */
    int32_t a2 = a.pages[2], t12[2] = {12, 13};
    SB_CHECK(sb_seq_kv_prepare(&a, &m->base, 2, NULL) == SB_OK);
    SB_CHECK_EQ_INT(a.pages[2], a2);
    SB_CHECK_EQ_INT(a.n_cow, 0);
    fill(m, &a, t12, 2);
    SB_CHECK(sb_seq_kv_commit(&a, t12, 2, NULL) == SB_OK);
    SB_CHECK(state_at(m, &d, 10) != state_at(m, &a, 10));
    SB_CHECK(sb_page_pool_is_published(p, a.pages[2])); /* 12 positions: 3 full pages */
    check_invariants(p);

    sb_seq_kv_free(&a);
    sb_seq_kv_free(&b);
    sb_seq_kv_free(&c);
    sb_seq_kv_free(&d);
    sb_page_pool_stats st;
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_used, 0);
    SB_CHECK_EQ_INT(st.n_reserved, 0);
    SB_CHECK_EQ_INT(st.n_cached, 3); /* A's three full pages */
    SB_CHECK_EQ_INT(st.n_free, np - 3);
    check_invariants(p);

    /* a later sequence revives the cached pages (they cost the pool) */
    sb_seq_kv e;
    sb_seq_kv_init(&e, p, true);
    int32_t pe[13] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 0};
    sb_seq_kv_plan(p, pe, 13, &hit, &live);
    SB_CHECK_EQ_INT(hit, 3);
    SB_CHECK_EQ_INT(live, 0);
    SB_CHECK(sb_page_pool_reserve(p, 5));
    sb_seq_kv_add_reservation(&e, 5);
    SB_CHECK(sb_seq_kv_match_prefix(&e, pe, 13, &cached, NULL) == SB_OK);
    SB_CHECK_EQ_INT(cached, 12);
    SB_CHECK_EQ_INT(e.reserved, 2);
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_reserved, 2);
    SB_CHECK_EQ_INT(st.n_revived, 3);
    sb_seq_kv_free(&e);
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_reserved, 0);
    SB_CHECK_EQ_INT(st.n_used, 0);
    sb_page_pool_free(p);
    fake_model_free(m);
}

static void test_no_cache(void) {
    fake_model *m = fake_model_create(4, 4, 1);
    sb_page_pool *p;
    SB_CHECK(sb_page_pool_create(4, 4, &p, NULL) == SB_OK);
    sb_seq_kv a;
    sb_seq_kv_init(&a, p, false);
    int32_t t[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    SB_CHECK(sb_seq_kv_prepare(&a, &m->base, 8, NULL) == SB_OK);
    SB_CHECK(sb_seq_kv_commit(&a, t, 8, NULL) == SB_OK);
    SB_CHECK(!sb_page_pool_is_published(p, a.pages[0]));
    sb_seq_kv_free(&a);
    sb_page_pool_stats st;
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_free, 4);
    /* running out: prepare fails cleanly */
    sb_seq_kv b;
    sb_seq_kv_init(&b, p, false);
    SB_CHECK(sb_seq_kv_prepare(&b, &m->base, 17, NULL) == SB_ERR_INTERNAL);
    sb_seq_kv_free(&b);
    sb_page_pool_get_stats(p, &st);
    SB_CHECK_EQ_INT(st.n_free, 4);
    sb_page_pool_free(p);
    fake_model_free(m);
}

/* Every allocation failure is reported, nothing leaks (ASan checks). */
static void test_alloc_failures(void) {
    for (long n = 1; n < 12; n++) {
        sb_page_pool *p = NULL;
        sb_alloc_fail_nth(n);
        sb_status st = sb_page_pool_create(8, 4, &p, NULL);
        sb_alloc_fail_nth(0);
        SB_CHECK(st == SB_OK || st == SB_ERR_NOMEM);
        sb_page_pool_free(p);
    }
}

int main(void) {
    SB_RUN(test_take_ref_unref);
    SB_RUN(test_publish_find_lru);
    SB_RUN(test_reservations);
    SB_RUN(test_worst_pages);
    SB_RUN(test_seq_prefix_and_cow);
    SB_RUN(test_no_cache);
    SB_RUN(test_alloc_failures);
    return sb_test_finish();
}
