/* Every allocation the library makes goes through these, so tests can observe
 * or fail them in one place. */
#ifndef LOCKMAP_ALLOC_H
#define LOCKMAP_ALLOC_H

#include <stddef.h>

void *lm_malloc(size_t size);
void *lm_calloc(size_t n, size_t size);
void *lm_aligned_alloc(size_t align, size_t size);
void lm_free(void *p);

#endif
