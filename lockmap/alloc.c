/* The library's allocation functions (alloc.h), and in test builds
 * (LM_ALLOC_FAILPOINTS) the failpoints of lockmap/testing.h. */
#include "lockmap/alloc.h"

#include <stdbool.h>
#include <stdlib.h>

#ifdef LM_ALLOC_FAILPOINTS
#include "lockmap/testing.h"

/* Test builds only: fail the Nth allocation from the moment of arming, and
 * count live blocks. Single-threaded tests: plain counters suffice. */
static long countdown; /* 0: disarmed */
static long live, calls;

void lm_alloc_fail_nth(long n) { countdown = n; }

long lm_alloc_live(void) { return live; }

long lm_alloc_calls(void) { return calls; }

static bool injected_failure(void) {
    calls++;
    if (countdown <= 0) return false;
    return --countdown == 0;
}

static void *counted(void *p) {
    if (p) live++;
    return p;
}
#else
static bool injected_failure(void) { return false; }
static void *counted(void *p) { return p; }
#endif

void *lm_malloc(size_t size) {
    return injected_failure() ? NULL : counted(malloc(size));
}

void *lm_calloc(size_t n, size_t size) {
    return injected_failure() ? NULL : counted(calloc(n, size));
}

void *lm_aligned_alloc(size_t align, size_t size) {
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t rounded = (size + align - 1) / align * align;
    if (rounded < size || injected_failure()) return NULL;
    return counted(aligned_alloc(align, rounded));
}

void *lm_realloc(void *p, size_t size) {
    if (injected_failure()) return NULL;
    void *q = realloc(p, size);
    return p ? q : counted(q);
}

void lm_free(void *p) {
#ifdef LM_ALLOC_FAILPOINTS
    if (p) live--;
#endif
    free(p);
}
