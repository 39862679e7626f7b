/* Every allocation the library makes goes through these, so tests can observe
 * or fail them in one place. */
#ifndef LOCKMAP_ALLOC_H
#define LOCKMAP_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *lm_malloc(size_t size);
void *lm_calloc(size_t n, size_t size);
void *lm_aligned_alloc(size_t align, size_t size);
void lm_free(void *p);

#ifdef LM_ALLOC_FAILPOINTS
/* Make the nth allocation from now fail (n >= 1); 0 disarms. */
void lm_alloc_fail_nth(long n);
/* Blocks allocated and not yet freed. */
long lm_alloc_live(void);
/* Allocation calls so far, failed ones included. */
long lm_alloc_calls(void);
#endif

#endif
