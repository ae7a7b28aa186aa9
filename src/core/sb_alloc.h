/*
 * sb_alloc.h - the one allocation hook.
 *
 * Every heap allocation in Solebox goes through these functions, so a test can
 * make the n-th allocation fail (sb_alloc_fail_nth) and check that the code
 * under test reports SB_ERR_NOMEM and leaks nothing. Memory returned by any
 * of them is freed with sb_free (sb_aligned_free for sb_aligned_alloc).
 */
#ifndef SB_ALLOC_H
#define SB_ALLOC_H

#include <stddef.h>

typedef struct sb_allocator {
    void *(*alloc)(void *ud, size_t size);            /* like malloc */
    void *(*resize)(void *ud, void *ptr, size_t size); /* like realloc */
    void (*release)(void *ud, void *ptr);              /* like free */
    void *ud;
} sb_allocator;

/* Installs a custom allocator (NULL restores libc). Not thread-safe: call it
 * before any other thread allocates. */
void sb_set_allocator(const sb_allocator *a);

void *sb_malloc(size_t size);                        /* NULL on failure or size 0 overflow */
void *sb_calloc(size_t count, size_t size);          /* zeroed; NULL if count*size overflows */
void *sb_realloc(void *ptr, size_t size);            /* NULL on failure; ptr stays valid */
void *sb_reallocarray(void *ptr, size_t count, size_t size); /* overflow-checked realloc */
void sb_free(void *ptr);
char *sb_strdup(const char *s);                      /* caller frees with sb_free */
char *sb_strndup(const char *s, size_t n);           /* copies n bytes + NUL; caller frees */
void *sb_memdup(const void *p, size_t n);            /* caller frees */

/* Aligned allocation (align a power of two >= sizeof(void*)); the block is
 * freed with sb_aligned_free, never sb_free. */
void *sb_aligned_alloc(size_t align, size_t size);
void sb_aligned_free(void *ptr);

/* Test support: make the n-th allocation from now fail (n >= 1), once.
 * n = 0 disables. Counting is process-wide and thread-safe. */
void sb_alloc_fail_nth(long n);
/* True if an injected failure has fired since the last sb_alloc_fail_nth. */
int sb_alloc_injected_fired(void);
/* Number of allocations made so far (for sizing fail-injection loops). */
long sb_alloc_count(void);

#endif
