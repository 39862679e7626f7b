#include "lockmap/alloc.h"

#include <stdlib.h>

void *lm_malloc(size_t size) { return malloc(size); }

void *lm_calloc(size_t n, size_t size) { return calloc(n, size); }

void *lm_aligned_alloc(size_t align, size_t size) {
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t rounded = (size + align - 1) / align * align;
    if (rounded < size) return NULL;
    return aligned_alloc(align, rounded);
}

void lm_free(void *p) { free(p); }
