/*
 * sb_test.h - the minimal test harness shared by every Solebox unit test.
 *
 *   static void test_something(void) { SB_CHECK(1 + 1 == 2); }
 *   int main(void) { SB_RUN(test_something); return sb_test_finish(); }
 *
 * Checks count and report but do not stop the test. sb_test_finish prints
 * "N passed, N failed" and returns the exit status. A test whose data is
 * missing calls sb_test_skip, which exits 77 (CTest reports it as skipped).
 */
#ifndef SB_TEST_H
#define SB_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void sb_test_check(bool ok, const char *file, int line, const char *expr);
void sb_test_checkf(bool ok, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void sb_test_run(void (*fn)(void), const char *name);
int sb_test_finish(void);
int sb_test_failures(void);
_Noreturn void sb_test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Full path of a file under the shared data directory (../shared, or the
 * SOLEBOX_SHARED environment variable), or NULL if it is absent. The string
 * is static storage, overwritten by the next call. */
const char *sb_test_shared(const char *rel);
/* Like sb_test_shared, but skips the whole test (exit 77) when absent. */
const char *sb_test_require_shared(const char *rel);
/* A fresh temporary directory for this test process (removed by the OS tmp
 * cleaner, not by the test). Static storage. */
const char *sb_test_tmpdir(void);
/* Path of the solebox binary in the build tree (SOLEBOX_BINARY_DIR/solebox). */
const char *sb_test_solebox_bin(void);

#define SB_CHECK(cond) sb_test_check((cond), __FILE__, __LINE__, #cond)
#define SB_CHECKF(cond, ...) sb_test_checkf((cond), __FILE__, __LINE__, __VA_ARGS__)
#define SB_CHECK_EQ_INT(a, b)                                                                                  \
    do {                                                                                                       \
        long long sb_a_ = (long long)(a), sb_b_ = (long long)(b);                                             \
        sb_test_checkf(sb_a_ == sb_b_, __FILE__, __LINE__, "%s == %s (%lld vs %lld)", #a, #b, sb_a_, sb_b_); \
    } while (0)
#define SB_CHECK_STR(a, b)                                                                                     \
    do {                                                                                                       \
        const char *sb_a_ = (a), *sb_b_ = (b);                                                                 \
        sb_test_checkf(sb_a_ && sb_b_ && strcmp(sb_a_, sb_b_) == 0, __FILE__, __LINE__, "%s == %s (\"%s\" vs \"%s\")", \
                       #a, #b, sb_a_ ? sb_a_ : "(null)", sb_b_ ? sb_b_ : "(null)");                            \
    } while (0)
#define SB_RUN(fn) sb_test_run(fn, #fn)

#endif
