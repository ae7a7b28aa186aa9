/*
 * fake_model.h - a deterministic stand-in for a model, for engine tests.
 *
 * The fake backend stores one 64-bit "state" per KV position: the hash of
 * the token at that position and the state at the position before, read
 * through the sequence's page table. A position's logits are a fixed
 * pseudo-random function of its state, so they depend on the whole token
 * history as seen through the pages: a wrong page table, a page shared
 * when it should not be, or a copy-on-write that copied the wrong slots
 * all change the output. Its topk op implements sb_sample_prep (bias, then
 * penalties, then the k best with ties to the lower id) on the host.
 *
 * The text hooks map token t to a piece: 0..25 letters, 26 space, 27 '.',
 * 40 and 41 the two bytes of "é" (so a character spans tokens), 42..61
 * two-letter pieces, FAKE_EOG end of generation.
 */
#ifndef FAKE_MODEL_H
#define FAKE_MODEL_H

#include "sb_scheduler.h"

#include <pthread.h>
#include <stdbool.h>

#define FAKE_VOCAB 64
#define FAKE_EOG 63

typedef struct fake_model {
    sb_backend base; /* first: the backend header */
    int n_pages, page_size, max_rows;
    uint64_t *kv;    /* [n_pages * page_size] */
    float *logits;   /* [max_rows][FAKE_VOCAB] */
    sb_tensor logits_t;
    float eog_logit_shift; /* added to FAKE_EOG's logit (negative: rarely ends) */
    /* optional gate: forward waits while `gate_closed` */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool gate_closed;
    int pause_at;       /* > 0: forward number pause_at and later wait until it is reset to 0 */
    int forwards_started;
    int n_copies;       /* kv_copy_page calls */
    int max_batch_seen; /* most entries in one forward */
    int bad_batches;    /* batches that broke the sb_batch contract */
} fake_model;

/* n_pages pages of page_size; up to max_rows logits rows per forward. */
fake_model *fake_model_create(int n_pages, int page_size, int max_rows);
void fake_model_free(fake_model *m);

/* Fills the scheduler's model description (n_ctx positions per sequence). */
sb_sched_model fake_sched_model(fake_model *m, int n_ctx);
sb_sched_text fake_sched_text(void);

/* Logits of a state (for reference computations in tests). */
void fake_logits_of_state(uint64_t state, float *out, float eog_shift);
/* State after feeding token to state prev (prev 0 = start). */
uint64_t fake_next_state(uint64_t prev, int32_t token);

void fake_gate(fake_model *m, bool closed);
/* Makes forward passes from number n on wait (n = 0 releases them). */
void fake_pause_at(fake_model *m, int n);
/* Waits until at least n forwards have started. */
void fake_wait_forwards(fake_model *m, int n);

#endif
