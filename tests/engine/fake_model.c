/*
 * fake_model.c - the deterministic fake model and text hooks (see fake_model.h).
 */
#include "fake_model.h"

#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_map.h"
#include "sb_utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

uint64_t fake_next_state(uint64_t prev, int32_t token) {
    return sb_hash_u64(prev * 0x9E3779B97F4A7C15ULL + (uint64_t)token + 1);
}

void fake_logits_of_state(uint64_t state, float *out, float eog_shift) {
    for (int v = 0; v < FAKE_VOCAB; v++) {
        uint64_t h = sb_hash_u64(state ^ ((uint64_t)v * 0xD1B54A32D192ED03ULL));
        /* roughly uniform in [-4, 4) */
        out[v] = (float)((double)(h >> 11) * 0x1.0p-53 * 8.0 - 4.0);
    }
    out[FAKE_EOG] += eog_shift;
}

static fake_model *fm(sb_backend *b) { return (fake_model *)b; }

static void fake_destroy(sb_backend *b) { (void)b; }

static sb_status fake_download(sb_backend *b, const sb_tensor *t, void *dst, size_t offset, size_t bytes) {
    (void)b;
    memcpy(dst, (const char *)t->data + offset, bytes);
    return SB_OK;
}

static void fake_kv_copy_page(sb_backend *b, int32_t src, int32_t dst, int n_pos) {
    fake_model *m = fm(b);
    memcpy(m->kv + (size_t)dst * m->page_size, m->kv + (size_t)src * m->page_size, sizeof(uint64_t) * (size_t)n_pos);
    /* poison the rest so that reading an uncopied slot shows */
    for (int i = n_pos; i < m->page_size; i++)
        m->kv[(size_t)dst * m->page_size + i] = 0xDEADBEEFULL;
    m->n_copies++;
}

typedef struct cand_sort {
    int32_t id;
    float v;
} cand_sort;

/* Higher logit first, then lower id; NaN after every number (the topk contract). */
static int cmp_cand(const void *a, const void *b) {
    const cand_sort *x = a, *y = b;
    if (isnan(x->v) != isnan(y->v))
        return isnan(x->v) ? 1 : -1;
    if (x->v > y->v)
        return -1;
    if (x->v < y->v)
        return 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Host reference of the topk op: bias, penalties, then the k best. */
static sb_status fake_topk(sb_backend *b, const sb_tensor *logits, int row, const sb_sample_prep *prep, int k,
                           sb_candidate *out, int *n_out) {
    (void)b;
    int nv = (int)logits->ne[0];
    const float *src = (const float *)logits->data + (size_t)row * nv;
    cand_sort c[FAKE_VOCAB]; /* not from sb_malloc: allocation-failure tests must not hit the fake */
    if (nv > FAKE_VOCAB)
        return SB_ERR_RANGE;
    for (int i = 0; i < nv; i++) {
        c[i].id = i;
        c[i].v = src[i];
    }
    if (prep) {
        for (int i = 0; i < prep->n_bias; i++)
            c[prep->bias_tokens[i]].v += prep->bias_values[i];
        for (int i = 0; i < prep->n_penalty; i++) {
            float *v = &c[prep->penalty_tokens[i]].v;
            if (prep->repeat_penalty != 1.0f && prep->repeat_penalty > 0.0f)
                *v = *v > 0 ? *v / prep->repeat_penalty : *v * prep->repeat_penalty;
            *v -= prep->presence_penalty + (float)prep->penalty_counts[i] * prep->frequency_penalty;
        }
        if (prep->temperature > 0.0f)
            for (int i = 0; i < nv; i++)
                c[i].v /= prep->temperature;
    }
    qsort(c, (size_t)nv, sizeof *c, cmp_cand);
    if (k > nv)
        k = nv;
    for (int i = 0; i < k; i++)
        out[i] = (sb_candidate){c[i].id, c[i].v};
    *n_out = k;
    return SB_OK;
}

static void fake_stats(sb_backend *b, sb_backend_stats *out) {
    (void)b;
    memset(out, 0, sizeof *out);
}

static const sb_backend_ops fake_ops = {
    .name = "fake",
    .destroy = fake_destroy,
    .download = fake_download,
    .kv_copy_page = fake_kv_copy_page,
    .topk = fake_topk,
    .stats = fake_stats,
};

fake_model *fake_model_create(int n_pages, int page_size, int max_rows) {
    fake_model *m = sb_calloc(1, sizeof *m);
    m->base.ops = &fake_ops;
    m->n_pages = n_pages;
    m->page_size = page_size;
    m->max_rows = max_rows;
    m->kv = sb_calloc((size_t)n_pages * page_size, sizeof(uint64_t));
    m->logits = sb_calloc((size_t)max_rows * FAKE_VOCAB, sizeof(float));
    int64_t ne[2] = {FAKE_VOCAB, max_rows};
    sb_tensor_init(&m->logits_t, "logits", SB_TYPE_F32, 2, ne);
    m->logits_t.data = m->logits;
    m->logits_t.backend = &m->base;
    m->eog_logit_shift = -20.0f;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    return m;
}

void fake_model_free(fake_model *m) {
    if (!m)
        return;
    sb_free(m->kv);
    sb_free(m->logits);
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    sb_free(m);
}

void fake_gate(fake_model *m, bool closed) {
    pthread_mutex_lock(&m->mu);
    m->gate_closed = closed;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void fake_pause_at(fake_model *m, int n) {
    pthread_mutex_lock(&m->mu);
    m->pause_at = n;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

void fake_wait_forwards(fake_model *m, int n) {
    pthread_mutex_lock(&m->mu);
    while (m->forwards_started < n)
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
}

/* The forward pass: writes each entry's state into its page slot (in entry
 * order, so a prompt chunk sees its own earlier positions), then fills the
 * logits of the output rows. */
static sb_status fake_forward(void *ud, const sb_batch *bt, const sb_tensor **logits, sb_error *err) {
    fake_model *m = ud;
    pthread_mutex_lock(&m->mu);
    m->forwards_started++;
    pthread_cond_broadcast(&m->cv);
    while (m->gate_closed || (m->pause_at > 0 && m->forwards_started >= m->pause_at))
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    if (bt->n_tokens > m->max_batch_seen)
        m->max_batch_seen = bt->n_tokens;
    if (bt->n_outputs > m->max_rows)
        return sb_error_set(err, SB_ERR_INTERNAL, "fake: too many outputs");
    int ps = m->page_size;
    for (int i = 0; i < bt->n_tokens; i++) {
        int s = bt->seq[i], pos = bt->pos[i];
        if (s < 0 || s >= bt->n_seqs || pos / ps >= bt->n_pages[s]) {
            m->bad_batches++;
            return sb_error_set(err, SB_ERR_INTERNAL, "fake: entry %d outside its page table", i);
        }
        uint64_t prev = 0;
        if (pos > 0) {
            int32_t pp = bt->page_tables[s][(pos - 1) / ps];
            prev = m->kv[(size_t)pp * ps + (pos - 1) % ps];
        }
        int32_t page = bt->page_tables[s][pos / ps];
        m->kv[(size_t)page * ps + pos % ps] = fake_next_state(prev, bt->tokens[i]);
    }
    for (int o = 0; o < bt->n_outputs; o++) {
        int i = bt->output_rows[o];
        if (o > 0 && i <= bt->output_rows[o - 1])
            m->bad_batches++;
        int s = bt->seq[i], pos = bt->pos[i];
        int32_t page = bt->page_tables[s][pos / ps];
        fake_logits_of_state(m->kv[(size_t)page * ps + pos % ps], m->logits + (size_t)o * FAKE_VOCAB,
                             m->eog_logit_shift);
    }
    *logits = &m->logits_t;
    return SB_OK;
}

sb_sched_model fake_sched_model(fake_model *m, int n_ctx) {
    sb_sched_model sm = {
        .backend = &m->base,
        .n_vocab = FAKE_VOCAB,
        .n_ctx = n_ctx,
        .page_size = m->page_size,
        .n_pages = m->n_pages,
        .forward = fake_forward,
        .ud = m,
    };
    return sm;
}

/* ---- text hooks ---- */

typedef struct fake_stream {
    sb_buf pending; /* bytes of an unfinished UTF-8 character */
} fake_stream;

static void *fs_create(void *ud) {
    (void)ud;
    fake_stream *s = sb_calloc(1, sizeof *s);
    if (s)
        sb_buf_init(&s->pending);
    return s;
}

static void piece_of(int32_t t, char *buf, size_t *len) {
    static const char *pairs = "thheanerinonatndreseshiouedtostarit";
    *len = 0;
    if (t < 26) {
        buf[(*len)++] = (char)('a' + t);
    } else if (t == 26) {
        buf[(*len)++] = ' ';
    } else if (t == 27) {
        buf[(*len)++] = '.';
    } else if (t == 40) {
        buf[(*len)++] = (char)0xC3;
    } else if (t == 41) {
        buf[(*len)++] = (char)0xA9;
    } else if (t >= 42 && t < 62) {
        int k = (t - 42) % 17;
        buf[(*len)++] = pairs[2 * k];
        buf[(*len)++] = pairs[2 * k + 1];
    } else if (t != FAKE_EOG) {
        buf[(*len)++] = (char)('A' + (t % 26));
    }
}

/* Emits complete characters; a byte that can never start or continue a
 * valid character becomes U+FFFD (like the real streaming decoder). */
static sb_status fs_push(void *stream, int32_t token, sb_buf *out, sb_error *err) {
    fake_stream *s = stream;
    char buf[4];
    size_t len;
    piece_of(token, buf, &len);
    if (sb_buf_append(&s->pending, buf, len) != SB_OK)
        return sb_error_set(err, SB_ERR_NOMEM, "oom");
    size_t i = 0, n = s->pending.len;
    const char *p = s->pending.data ? s->pending.data : "";
    while (i < n) {
        size_t need = sb_utf8_seq_len((unsigned char)p[i]);
        if (need == 0) {
            sb_buf_puts(out, "\xEF\xBF\xBD");
            i++;
            continue;
        }
        if (i + need > n) {
            /* incomplete: valid so far? then wait */
            bool ok = true;
            for (size_t k = i + 1; k < n; k++)
                ok = ok && ((unsigned char)p[k] & 0xC0) == 0x80;
            if (ok)
                break;
        }
        bool valid = false;
        uint32_t cp;
        size_t used = sb_utf8_decode(p + i, n - i, &cp, &valid);
        if (valid)
            sb_buf_append(out, p + i, used);
        else
            sb_buf_puts(out, "\xEF\xBF\xBD");
        i += valid ? used : 1;
    }
    memmove(s->pending.data, p + i, n - i);
    s->pending.len = n - i;
    return SB_OK;
}

static sb_status fs_flush(void *stream, sb_buf *out, sb_error *err) {
    (void)err;
    fake_stream *s = stream;
    if (s->pending.len > 0)
        sb_buf_puts(out, "\xEF\xBF\xBD");
    sb_buf_reset(&s->pending);
    return SB_OK;
}

static void fs_free(void *stream) {
    fake_stream *s = stream;
    if (!s)
        return;
    sb_buf_free(&s->pending);
    sb_free(s);
}

static bool fs_is_eog(void *ud, int32_t token) {
    (void)ud;
    return token == FAKE_EOG;
}

sb_sched_text fake_sched_text(void) {
    sb_sched_text t = {
        .stream_create = fs_create,
        .stream_push = fs_push,
        .stream_flush = fs_flush,
        .stream_free = fs_free,
        .is_eog = fs_is_eog,
        .ud = NULL,
    };
    return t;
}
