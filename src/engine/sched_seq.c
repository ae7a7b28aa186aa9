/*
 * sched_seq.c - what happens to one sequence when its logits row arrives:
 * sampling, end-of-generation, streaming detokenization, stop strings,
 * max_tokens, and the DONE event with its statistics.
 *
 * Runs on the scheduler thread only.
 */
#include "sched_internal.h"

#include "sb_alloc.h"
#include "sb_time.h"

#include <string.h>

static double ms_between(uint64_t a_ns, uint64_t b_ns) { return b_ns > a_ns ? (double)(b_ns - a_ns) / 1e6 : 0.0; }

/* Queues a TEXT event with text and optionally one token. */
static void push_text(sb_request *r, int choice, sb_buf *text, const int32_t *token,
                      const sb_sample_result *res) {
    sb_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SB_EVENT_TEXT;
    ev.choice = choice;
    ev.stop_index = -1;
    size_t len = 0;
    ev.text = sb_buf_detach(text, &len);
    ev.text_len = ev.text ? len : 0;
    if (token) {
        ev.tokens = sb_malloc(sizeof(int32_t));
        if (ev.tokens) {
            ev.tokens[0] = *token;
            ev.n_tokens = 1;
        }
        if (ev.tokens && res && (r->sampling.logprobs || r->sampling.top_logprobs > 0)) {
            ev.logprobs = sb_memdup(res, sizeof *res);
        }
    }
    sched_request_push(r, &ev);
}

void sched_seq_release(sched_seq *q, const sb_sched_text *text) {
    sb_seq_kv_free(&q->kv);
    sb_sampler_free(q->sampler);
    q->sampler = NULL;
    sb_stop_free(q->stop);
    q->stop = NULL;
    if (q->detok && text->stream_free)
        text->stream_free(q->detok);
    q->detok = NULL;
}

void sched_seq_finish(sb_scheduler *s, sched_seq *q, sb_finish_reason why, int stop_index, const sb_error *err) {
    if (q->state == SEQ_DONE)
        return;
    sb_request *r = q->req;
    sb_error e2;
    sb_error_clear(&e2);
    /* whatever text is still held back belongs to the answer, unless the
     * request was cancelled or failed */
    if ((why == SB_FINISH_STOP || why == SB_FINISH_LENGTH) && stop_index < 0 && q->detok) {
        sb_buf tail, out;
        sb_buf_init(&tail);
        sb_buf_init(&out);
        bool stopped = false;
        sb_status st = s->text.stream_flush(q->detok, &tail, &e2);
        if (st == SB_OK && q->stop)
            st = sb_stop_feed(q->stop, tail.data ? tail.data : "", tail.len, &out, &stopped, &e2);
        if (st == SB_OK && q->stop && !stopped)
            st = sb_stop_flush(q->stop, &out, &e2);
        if (st == SB_OK && stopped) {
            why = SB_FINISH_STOP;
            stop_index = sb_stop_matched(q->stop);
        }
        if (st == SB_OK && out.len > 0)
            push_text(r, q->choice, &out, NULL, NULL);
        sb_buf_free(&tail);
        sb_buf_free(&out);
        if (st != SB_OK) {
            why = SB_FINISH_ERROR;
            err = &e2;
        }
    }
    sb_event ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = SB_EVENT_DONE;
    ev.choice = q->choice;
    ev.finish = why;
    ev.stop_index = stop_index;
    if (why == SB_FINISH_ERROR && err)
        ev.error = *err;
    sb_gen_stats *st = &ev.stats;
    st->n_prompt = r->n_prompt;
    st->n_cached = r->n_cached;
    st->n_generated = q->n_generated;
    if (r->admitted)
        st->queue_ms = ms_between(r->t_submit_ns, r->t_admit_ns);
    if (r->t_prompt_done_ns)
        st->prompt_ms = ms_between(r->t_admit_ns, r->t_prompt_done_ns);
    if (q->n_generated > 0) {
        st->ttft_ms = ms_between(r->t_submit_ns, q->t_first_ns);
        st->gen_ms = ms_between(q->t_first_ns, q->t_last_ns);
    }
    if (q->n_generated > 1)
        st->itl_mean_ms = q->itl_sum_ms / (q->n_generated - 1);
    st->itl_max_ms = q->itl_max_ms;
    st->seed = q->sampler ? sb_sampler_seed(q->sampler) : 0;

    q->state = SEQ_DONE;
    sched_seq_release(q, &s->text);
    r->n_seqs_done++;

    pthread_mutex_lock(&s->mu);
    s->metrics.requests_finished[why]++;
    pthread_mutex_unlock(&s->mu);
    sched_request_push(r, &ev);
    /* choices still waiting for choice 0's prompt can never start now */
    if (q->choice == 0)
        for (int c = 1; c < r->n_choices; c++)
            if (r->seqs[c].state == SEQ_WAIT_FORK)
                sched_seq_finish(s, &r->seqs[c], why == SB_FINISH_CANCELLED ? why : SB_FINISH_ERROR, -1,
                                 why == SB_FINISH_ERROR ? err : NULL);
}

void sched_seq_on_logits(sb_scheduler *s, sched_seq *q, const sb_tensor *logits, int row) {
    sb_request *r = q->req;
    sb_error err;
    sb_error_clear(&err);
    sb_sample_result res;
    sb_status st = sb_sampler_sample(q->sampler, s->model.backend, logits, row, &res, &err);
    if (st != SB_OK) {
        sched_seq_finish(s, q, SB_FINISH_ERROR, -1, &err);
        return;
    }
    uint64_t now = sb_now_ns();
    double gap = -1.0;
    if (q->n_generated == 0) {
        q->t_first_ns = now;
    } else {
        gap = ms_between(q->t_last_ns, now);
        q->itl_sum_ms += gap;
        if (gap > q->itl_max_ms)
            q->itl_max_ms = gap;
    }
    q->t_last_ns = now;
    q->n_generated++;
    pthread_mutex_lock(&s->mu);
    s->metrics.generated_tokens++;
    if (gap >= 0.0)
        sched_hist_add(&s->metrics.itl_ms, gap);
    else if (q->choice == 0)
        sched_hist_add(&s->metrics.ttft_ms, ms_between(r->t_submit_ns, now));
    pthread_mutex_unlock(&s->mu);

    int32_t tok = res.token;
    if (!r->ignore_eos && s->text.is_eog && s->text.is_eog(s->text.ud, tok)) {
        sched_seq_finish(s, q, SB_FINISH_STOP, -1, NULL);
        return;
    }
    sb_sampler_accept(q->sampler, tok);

    sb_buf piece, out;
    sb_buf_init(&piece);
    sb_buf_init(&out);
    bool stopped = false;
    st = s->text.stream_push(q->detok, tok, &piece, &err);
    if (st == SB_OK) {
        if (q->stop)
            st = sb_stop_feed(q->stop, piece.data ? piece.data : "", piece.len, &out, &stopped, &err);
        else
            st = sb_buf_append(&out, piece.data ? piece.data : "", piece.len) == SB_OK
                     ? SB_OK
                     : sb_error_set(&err, SB_ERR_NOMEM, "out of memory");
    }
    sb_buf_free(&piece);
    if (st != SB_OK) {
        sb_buf_free(&out);
        sched_seq_finish(s, q, SB_FINISH_ERROR, -1, &err);
        return;
    }
    push_text(r, q->choice, &out, &tok, &res);
    sb_buf_free(&out);
    if (stopped)
        sched_seq_finish(s, q, SB_FINISH_STOP, sb_stop_matched(q->stop), NULL);
    else if (q->n_generated >= q->max_tokens)
        sched_seq_finish(s, q, SB_FINISH_LENGTH, -1, NULL);
    else {
        q->next_token = tok;
        q->state = SEQ_DECODE;
    }
}
