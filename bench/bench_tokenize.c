/*
 * bench_tokenize.c - tokenizer throughput and construction time.
 *
 *   bench_tokenize [VOCAB.gguf [MB]]
 *
 * Default vocabulary: $SOLEBOX_SHARED (or ../shared)/models/vocab/
 * ggml-vocab-llama-bpe.gguf (Llama 3, 128,256 tokens). The text is
 * synthetic English-like prose, ~1 MB by default: sentences built by a fixed-
 * seed PRNG from a list of ~200 common English words (with capitalised
 * sentence starts, commas, contractions, a few numbers and paragraph breaks).
 * It is not natural text: real English has more rare words (more BPE merging
 * per word). Reported: the median of 5 runs of sb_tokenize (add_special and
 * parse_special off, one thread) in seconds and MB/s, the same with
 * parse_special on, and the median of 5 sb_tokenizer_create calls (the GGUF
 * file is opened once, outside the timing). Wall time and this thread's CPU
 * time are both shown: on a busy machine the CPU time is the steadier one.
 */
#include "sb_alloc.h"
#include "sb_buf.h"
#include "sb_gguf.h"
#include "sb_rng.h"
#include "sb_time.h"
#include "sb_tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const WORDS[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not",
    "he", "I", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they", "you", "were",
    "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more", "when", "will", "would", "who",
    "so", "no", "time", "people", "year", "way", "day", "man", "thing", "woman", "life", "child", "world", "school",
    "state", "family", "student", "group", "country", "problem", "hand", "part", "place", "case", "week", "company",
    "system", "program", "question", "work", "government", "number", "night", "point", "home", "water", "room",
    "mother", "area", "money", "story", "fact", "month", "lot", "right", "study", "book", "eye", "job", "word",
    "business", "issue", "side", "kind", "head", "house", "service", "friend", "father", "power", "hour", "game",
    "line", "end", "member", "law", "car", "city", "community", "name", "president", "team", "minute", "idea", "kid",
    "body", "information", "back", "parent", "face", "others", "level", "office", "door", "health", "person", "art",
    "war", "history", "party", "result", "change", "morning", "reason", "research", "girl", "guy", "moment", "air",
    "teacher", "force", "education", "good", "new", "first", "last", "long", "great", "little", "own", "other", "old",
    "big", "high", "different", "small", "large", "next", "early", "young", "important", "few", "public", "bad",
    "same", "able", "said", "made", "went", "took", "came", "saw", "knew", "thought", "looked", "wanted", "gave",
    "used", "found", "told", "asked", "seemed", "felt", "tried", "left", "called", "quickly", "really", "almost",
    "always", "never", "often", "however", "together", "perhaps", "nevertheless", "understanding", "extraordinary",
};
static const char *const CONTRACTIONS[] = {"don't", "it's", "we're", "they've", "I'm", "she'll", "he'd", "can't"};

/* ~target bytes of deterministic English-like prose. Caller frees. */
static char *make_text(size_t target, size_t *len) {
    sb_buf b;
    sb_buf_init(&b);
    sb_rng r;
    sb_rng_seed(&r, 12345);
    size_t nw = sizeof WORDS / sizeof WORDS[0];
    while (b.len < target) {
        size_t words = 6 + sb_rng_below(&r, 18);
        for (size_t i = 0; i < words; i++) {
            const char *w;
            uint64_t pick = sb_rng_below(&r, 100);
            char num[32];
            if (pick < 3) {
                snprintf(num, sizeof num, "%llu", (unsigned long long)sb_rng_below(&r, 100000));
                w = num;
            } else if (pick < 6) {
                w = CONTRACTIONS[sb_rng_below(&r, sizeof CONTRACTIONS / sizeof CONTRACTIONS[0])];
            } else {
                w = WORDS[sb_rng_below(&r, nw)];
            }
            if (i > 0)
                sb_buf_putc(&b, ' ');
            if (i == 0 && w[0] >= 'a' && w[0] <= 'z') {
                sb_buf_putc(&b, (char)(w[0] - 32));
                sb_buf_puts(&b, w + 1);
            } else {
                sb_buf_puts(&b, w);
            }
            if (i + 1 < words && sb_rng_below(&r, 10) == 0)
                sb_buf_putc(&b, ',');
        }
        sb_buf_puts(&b, sb_rng_below(&r, 8) == 0 ? "?" : ".");
        sb_buf_puts(&b, sb_rng_below(&r, 6) == 0 ? "\n\n" : " ");
    }
    return sb_buf_detach(&b, len);
}

/* CPU time of this thread: unlike wall time it does not grow when other
 * processes compete for the core. */
static double thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    char path[4096];
    if (argc > 1) {
        snprintf(path, sizeof path, "%s", argv[1]);
    } else {
        const char *shared = getenv("SOLEBOX_SHARED");
        snprintf(path, sizeof path, "%s/models/vocab/ggml-vocab-llama-bpe.gguf", shared && *shared ? shared : "../shared");
    }
    double mb = argc > 2 ? atof(argv[2]) : 1.0;
    sb_error err = {0};
    sb_gguf *g = NULL;
    if (sb_gguf_open(path, &g, &err) != SB_OK) {
        fprintf(stderr, "bench_tokenize: %s\n", err.msg);
        return 1;
    }
    double create_s[5], create_cpu[5];
    sb_tokenizer *t = NULL;
    for (int i = 0; i < 5; i++) {
        sb_tokenizer_free(t);
        t = NULL;
        double t0 = sb_now_seconds(), c0 = thread_cpu_seconds();
        if (sb_tokenizer_create(g, &t, &err) != SB_OK) {
            fprintf(stderr, "bench_tokenize: %s\n", err.msg);
            return 1;
        }
        create_s[i] = sb_now_seconds() - t0;
        create_cpu[i] = thread_cpu_seconds() - c0;
    }
    qsort(create_s, 5, sizeof create_s[0], cmp_double);
    qsort(create_cpu, 5, sizeof create_cpu[0], cmp_double);

    size_t len;
    char *text = make_text((size_t)(mb * 1000 * 1000), &len);
    double run_s[5], cpu_s[5];
    size_t n_tokens = 0;
    for (int i = 0; i < 5; i++) {
        int32_t *ids = NULL;
        double t0 = sb_now_seconds(), c0 = thread_cpu_seconds();
        if (sb_tokenize(t, text, len, false, false, &ids, &n_tokens, &err) != SB_OK) {
            fprintf(stderr, "bench_tokenize: %s\n", err.msg);
            return 1;
        }
        run_s[i] = sb_now_seconds() - t0;
        cpu_s[i] = thread_cpu_seconds() - c0;
        sb_free(ids);
    }
    qsort(cpu_s, 5, sizeof cpu_s[0], cmp_double);
    qsort(run_s, 5, sizeof run_s[0], cmp_double);
    double special_s[5];
    for (int i = 0; i < 5; i++) {
        int32_t *ids = NULL;
        size_t n = 0;
        double t0 = sb_now_seconds();
        if (sb_tokenize(t, text, len, false, true, &ids, &n, &err) != SB_OK) {
            fprintf(stderr, "bench_tokenize: %s\n", err.msg);
            return 1;
        }
        special_s[i] = sb_now_seconds() - t0;
        sb_free(ids);
    }
    qsort(special_s, 5, sizeof special_s[0], cmp_double);
    printf("vocab: %s (%s/%s, %d tokens)\n", path, sb_tokenizer_model_name(t), sb_tokenizer_pre_name(t),
           (int)sb_tokenizer_n_vocab(t));
    printf("construction: median %.3f s wall (min %.3f, max %.3f), %.3f s CPU, over 5\n", create_s[2], create_s[0],
           create_s[4], create_cpu[2]);
    printf("tokenize: %zu bytes -> %zu tokens, median %.3f s wall (min %.3f, max %.3f) over 5, %.2f MB/s; "
           "CPU median %.3f s, %.2f MB/s\n",
           len, n_tokens, run_s[2], run_s[0], run_s[4], (double)len / 1e6 / run_s[2], cpu_s[2],
           (double)len / 1e6 / cpu_s[2]);
    printf("tokenize with parse_special: median %.3f s, %.2f MB/s\n", special_s[2], (double)len / 1e6 / special_s[2]);
    sb_free(text);
    sb_tokenizer_free(t);
    sb_gguf_close(g);
    return 0;
}
