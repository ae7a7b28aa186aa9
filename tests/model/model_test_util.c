#define _GNU_SOURCE
#include "model_test_util.h"

#include "sb_alloc.h"
#include "sb_gguf_writer.h"
#include "sb_rng.h"
#include "sb_test.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MT_PAGE 16

bool mt_runner_init(mt_runner *r, sb_model *m, int n_seqs, int max_pos, int max_batch, uint32_t kv_type) {
    memset(r, 0, sizeof *r);
    r->m = m;
    r->be = sb_model_backend(m);
    r->n_seqs = n_seqs;
    r->pages_per_seq = (max_pos + MT_PAGE - 1) / MT_PAGE;
    r->n_vocab = sb_model_get_hparams(m)->n_vocab;
    const int total = n_seqs * r->pages_per_seq;
    r->tables = calloc((size_t)total, sizeof *r->tables);
    /* Page j of sequence s: interleave the sequences and run backwards. */
    for (int s = 0; s < n_seqs; s++)
        for (int j = 0; j < r->pages_per_seq; j++)
            r->tables[s * r->pages_per_seq + j] = total - 1 - (j * n_seqs + s);
    sb_kv_config kv = sb_model_kv_config(m, MT_PAGE, total, kv_type);
    sb_error err;
    if (sb_backend_kv_init(r->be, &kv, &err) != SB_OK || sb_model_reserve(m, max_batch, max_batch, &err) != SB_OK) {
        SB_CHECKF(false, "runner: %s", err.msg);
        return false;
    }
    return true;
}

void mt_runner_free(mt_runner *r) { free(r->tables); }

bool mt_forward(mt_runner *r, int seq, const int32_t *toks, int n, int pos0, float *out, float *last) {
    int32_t *pos = calloc((size_t)n, sizeof *pos), *seqs = calloc((size_t)n, sizeof *seqs);
    int32_t *rows = calloc((size_t)n, sizeof *rows);
    const int32_t **tables = calloc((size_t)r->n_seqs, sizeof *tables);
    int32_t *np = calloc((size_t)r->n_seqs, sizeof *np);
    for (int i = 0; i < n; i++) {
        pos[i] = pos0 + i;
        seqs[i] = seq;
        rows[i] = i;
    }
    for (int s = 0; s < r->n_seqs; s++) {
        tables[s] = r->tables + s * r->pages_per_seq;
        np[s] = r->pages_per_seq;
    }
    int n_out = out ? n : 1;
    if (!out)
        rows[0] = n - 1;
    sb_batch b = {.n_tokens = n,
                  .tokens = toks,
                  .pos = pos,
                  .seq = seqs,
                  .n_seqs = r->n_seqs,
                  .page_tables = tables,
                  .n_pages = np,
                  .n_outputs = n_out,
                  .output_rows = rows};
    sb_error err;
    bool ok = sb_model_forward(r->m, &b, &err) == SB_OK;
    SB_CHECKF(ok, "forward: %s", err.msg);
    const size_t V = (size_t)r->n_vocab;
    if (ok && out)
        ok = sb_backend_download(r->be, sb_model_logits(r->m), out, 0, (size_t)n * V * sizeof(float)) == SB_OK;
    else if (ok && last)
        ok = sb_backend_download(r->be, sb_model_logits(r->m), last, 0, V * sizeof(float)) == SB_OK;
    free(pos);
    free(seqs);
    free(rows);
    free(tables);
    free(np);
    return ok;
}

double mt_max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m || isnan(d))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* log-softmax into out */
static void log_softmax(const float *x, int n, double *out) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++)
        s += exp((double)x[i] - mx);
    double ls = log(s);
    for (int i = 0; i < n; i++)
        out[i] = (double)x[i] - mx - ls;
}

double mt_kl(const float *ref, const float *x, int n) {
    double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    log_softmax(ref, n, a);
    log_softmax(x, n, b);
    double kl = 0;
    for (int i = 0; i < n; i++)
        kl += exp(a[i]) * (a[i] - b[i]);
    free(a);
    free(b);
    return kl;
}

int mt_argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b])
            b = i;
    return b;
}

/* ---- tiny GGUF ---------------------------------------------------------- */

enum { T_E = 64, T_H = 2, T_HKV = 1, T_D = 32, T_F = 96, T_L = 2, T_V = 40 };

static bool add_tensor(sb_gguf_writer *w, const mt_tiny *t, const char *name, int n_dims, int64_t ne0, int64_t ne1,
                       sb_rng *rng, float scale, float offset, void **keep, int *n_keep) {
    if (t->skip_tensor && strcmp(t->skip_tensor, name) == 0)
        return true;
    int64_t ne[2] = {ne0, ne1};
    if (t->bad_shape && strcmp(t->bad_shape, name) == 0)
        ne[n_dims - 1] += 1;
    uint32_t type = SB_TYPE_F32;
    if (t->odd_type && strcmp(t->odd_type, name) == 0)
        type = t->odd_type_id;
    uint64_t row = 0;
    if (!sb_type_row_size(type, (uint64_t)ne[0], &row))
        return false;
    size_t bytes = (size_t)row * (size_t)(n_dims > 1 ? ne[1] : 1);
    uint8_t *p = sb_malloc(bytes);
    if (type == SB_TYPE_F32) {
        float *f = (float *)p;
        for (size_t i = 0; i < bytes / 4; i++)
            f[i] = offset + scale * sb_rng_normal(rng);
    } else {
        memset(p, 0, bytes);
    }
    keep[(*n_keep)++] = p;
    return sb_gguf_writer_add_tensor(w, name, type, (uint32_t)n_dims, ne, p, NULL, NULL) == SB_OK;
}

bool mt_tiny_gguf(const mt_tiny *t, void **data, size_t *len) {
    const char *arch = t->arch ? t->arch : "llama";
    sb_gguf_writer *w = sb_gguf_writer_create();
    char key[128];
    bool ok = sb_gguf_writer_set_string(w, "general.architecture", arch, strlen(arch), NULL) == SB_OK;
#define KEY_U32(suffix, v)                                                                                             \
    do {                                                                                                               \
        snprintf(key, sizeof key, "%s.%s", arch, suffix);                                                              \
        ok = ok && sb_gguf_writer_set_u32(w, key, (uint32_t)(v), NULL) == SB_OK;                                       \
    } while (0)
    KEY_U32("context_length", 128);
    KEY_U32("embedding_length", T_E);
    KEY_U32("block_count", T_L);
    KEY_U32("feed_forward_length", T_F);
    KEY_U32("attention.head_count", T_H);
    KEY_U32("attention.head_count_kv", T_HKV);
    if (t->expert_count > 0)
        KEY_U32("expert_count", t->expert_count);
#undef KEY_U32
    if (t->rope_type) {
        snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
        ok = ok && sb_gguf_writer_set_string(w, key, t->rope_type, strlen(t->rope_type), NULL) == SB_OK;
    }
    if (t->rope_factor > 0) {
        snprintf(key, sizeof key, "%s.rope.scaling.factor", arch);
        ok = ok && sb_gguf_writer_set_f32(w, key, t->rope_factor, NULL) == SB_OK;
    }
    if (t->rope_orig_ctx > 0) {
        snprintf(key, sizeof key, "%s.rope.scaling.original_context_length", arch);
        ok = ok && sb_gguf_writer_set_u32(w, key, (uint32_t)t->rope_orig_ctx, NULL) == SB_OK;
    }
    if (t->freq_base > 0) {
        snprintf(key, sizeof key, "%s.rope.freq_base", arch);
        ok = ok && sb_gguf_writer_set_f32(w, key, t->freq_base, NULL) == SB_OK;
    }
    if (!t->skip_eps) {
        snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
        ok = ok && sb_gguf_writer_set_f32(w, key, 1e-5f, NULL) == SB_OK;
    }
    sb_rng rng;
    sb_rng_seed(&rng, 77);
    void *keep[64];
    int n_keep = 0;
    ok = ok && add_tensor(w, t, "token_embd.weight", 2, T_E, T_V, &rng, 1.0f, 0, keep, &n_keep);
    ok = ok && add_tensor(w, t, "output_norm.weight", 1, T_E, 1, &rng, 0.05f, 1.0f, keep, &n_keep);
    ok = ok && add_tensor(w, t, "output.weight", 2, T_E, T_V, &rng, 0.125f, 0, keep, &n_keep);
    for (int l = 0; l < T_L && ok; l++) {
        char n[64];
        const struct {
            const char *s;
            int nd;
            int64_t a, b;
            float scale, off;
        } ts[] = {
            {"attn_norm.weight", 1, T_E, 1, 0.05f, 1.0f},
            {"attn_q.weight", 2, T_E, T_H * T_D, 0.125f, 0},
            {"attn_k.weight", 2, T_E, T_HKV * T_D, 0.125f, 0},
            {"attn_v.weight", 2, T_E, T_HKV * T_D, 0.125f, 0},
            {"attn_output.weight", 2, T_H * T_D, T_E, 0.125f, 0},
            {"ffn_norm.weight", 1, T_E, 1, 0.05f, 1.0f},
            {"ffn_gate.weight", 2, T_E, T_F, 0.125f, 0},
            {"ffn_up.weight", 2, T_E, T_F, 0.125f, 0},
            {"ffn_down.weight", 2, T_F, T_E, 0.1f, 0},
        };
        for (size_t i = 0; i < sizeof ts / sizeof ts[0] && ok; i++) {
            snprintf(n, sizeof n, "blk.%d.%s", l, ts[i].s);
            ok = add_tensor(w, t, n, ts[i].nd, ts[i].a, ts[i].b, &rng, ts[i].scale, ts[i].off, keep, &n_keep);
        }
    }
    ok = ok && sb_gguf_writer_write_memory(w, data, len, NULL, NULL, NULL) == SB_OK;
    for (int i = 0; i < n_keep; i++)
        sb_free(keep[i]);
    sb_gguf_writer_free(w);
    return ok;
}

bool mt_tiny_gguf_file(const mt_tiny *t, const char *path) {
    void *data;
    size_t len;
    if (!mt_tiny_gguf(t, &data, &len))
        return false;
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f)
        ok = fclose(f) == 0 && ok;
    sb_free(data);
    return ok;
}

/* Reads what fd holds into buf (NUL-terminated, truncated to cap-1). */
static void slurp(int fd, char *buf, size_t cap) {
    size_t used = 0;
    char tmp[4096];
    ssize_t got;
    while ((got = read(fd, tmp, sizeof tmp)) > 0) {
        size_t take = (size_t)got;
        if (buf && used + 1 < cap) {
            size_t room = cap - 1 - used;
            memcpy(buf + used, tmp, take < room ? take : room);
            used += take < room ? take : room;
        }
    }
    if (buf && cap)
        buf[used] = 0;
}

int mt_run_solebox(const char *const *args, char *out, size_t out_cap, char *errs, size_t err_cap) {
    char outp[512], errp[512];
    snprintf(outp, sizeof outp, "%s/stdout.txt", sb_test_tmpdir());
    snprintf(errp, sizeof errp, "%s/stderr.txt", sb_test_tmpdir());
    const char *argv[64];
    int n = 0;
    argv[n++] = sb_test_solebox_bin();
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600), fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    int fo = open(outp, O_RDONLY), fe = open(errp, O_RDONLY);
    slurp(fo, out, out_cap);
    slurp(fe, errs, err_cap);
    close(fo);
    close(fe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
