#include "sb_alloc.h"

#include "sb_checked.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void *libc_alloc(void *ud, size_t size) { (void)ud; return malloc(size); }
static void *libc_resize(void *ud, void *p, size_t size) { (void)ud; return realloc(p, size); }
static void libc_release(void *ud, void *p) { (void)ud; free(p); }

static sb_allocator g_alloc = {libc_alloc, libc_resize, libc_release, NULL};
static atomic_long g_count;
static atomic_long g_fail_at; /* absolute count at which to fail; 0 = off */
static atomic_int g_fired;

void sb_set_allocator(const sb_allocator *a) {
    if (a)
        g_alloc = *a;
    else
        g_alloc = (sb_allocator){libc_alloc, libc_resize, libc_release, NULL};
}

void sb_alloc_fail_nth(long n) {
    atomic_store(&g_fired, 0);
    atomic_store(&g_fail_at, n > 0 ? atomic_load(&g_count) + n : 0);
}

int sb_alloc_injected_fired(void) { return atomic_load(&g_fired); }
long sb_alloc_count(void) { return atomic_load(&g_count); }

/* Counts one allocation; returns 1 if this one must fail. */
static int should_fail(void) {
    long n = atomic_fetch_add(&g_count, 1) + 1;
    long at = atomic_load(&g_fail_at);
    if (at != 0 && n == at) {
        atomic_store(&g_fired, 1);
        return 1;
    }
    return 0;
}

void *sb_malloc(size_t size) {
    if (should_fail())
        return NULL;
    return g_alloc.alloc(g_alloc.ud, size ? size : 1);
}

void *sb_calloc(size_t count, size_t size) {
    size_t total;
    if (!sb_mul_size(count, size, &total))
        return NULL;
    void *p = sb_malloc(total);
    if (p)
        memset(p, 0, total ? total : 1);
    return p;
}

void *sb_realloc(void *ptr, size_t size) {
    if (should_fail())
        return NULL;
    return g_alloc.resize(g_alloc.ud, ptr, size ? size : 1);
}

void *sb_reallocarray(void *ptr, size_t count, size_t size) {
    size_t total;
    if (!sb_mul_size(count, size, &total))
        return NULL;
    return sb_realloc(ptr, total);
}

void sb_free(void *ptr) {
    if (ptr)
        g_alloc.release(g_alloc.ud, ptr);
}

char *sb_strdup(const char *s) { return sb_strndup(s, strlen(s)); }

char *sb_strndup(const char *s, size_t n) {
    size_t total;
    if (!sb_add_size(n, 1, &total))
        return NULL;
    char *p = sb_malloc(total);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void *sb_memdup(const void *src, size_t n) {
    void *p = sb_malloc(n);
    if (p && n)
        memcpy(p, src, n);
    return p;
}

/* Aligned blocks over-allocate and keep the raw pointer just before the
 * aligned address, so they still go through the hook. */
void *sb_aligned_alloc(size_t align, size_t size) {
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return NULL;
    size_t total;
    if (!sb_add_size(size, align + sizeof(void *), &total))
        return NULL;
    void *raw = sb_malloc(total);
    if (!raw)
        return NULL;
    uintptr_t base = (uintptr_t)raw + sizeof(void *);
    uintptr_t aligned = (base + align - 1) & ~(uintptr_t)(align - 1);
    ((void **)aligned)[-1] = raw;
    return (void *)aligned;
}

void sb_aligned_free(void *ptr) {
    if (ptr)
        sb_free(((void **)ptr)[-1]);
}
