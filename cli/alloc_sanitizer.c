/* Linked instead of the real allocator under --config=asan/tsan: the
 * sanitizer's runtime replaces malloc, so that is what rows must say. */
#include <stdio.h>

#include "cli/meta.h"

#ifndef LMB_SANITIZER
#define LMB_SANITIZER "sanitizer"
#endif

void lmb_allocator_info(const char **name, char *version, size_t n) {
    *name = LMB_SANITIZER "-malloc";
    snprintf(version, n, "gcc %s", __VERSION__);
}

int lmb_allocated_bytes(uint64_t *out) {
    (void)out;
    return -1; /* the sanitizer's allocator keeps no comparable count */
}
