/* Every allocation the library makes goes through these, so tests can observe
 * or fail them in one place (alloc.c; the failpoints are declared in
 * lockmap/testing.h). Internal header. */
#ifndef LOCKMAP_ALLOC_H
#define LOCKMAP_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

void *lm_malloc(size_t size);
void *lm_calloc(size_t n, size_t size);
void *lm_aligned_alloc(size_t align, size_t size);
/* Grow (or, p NULL, allocate) a block; NULL on failure, p then intact. */
void *lm_realloc(void *p, size_t size);
void lm_free(void *p);

#endif
