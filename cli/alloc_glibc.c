/* Linked into the glibc runners: reports glibc's malloc and glibc's version. */
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdio.h>

#include "cli/meta.h"

void lmb_allocator_info(const char **name, char *version, size_t n) {
    *name = "glibc";
    snprintf(version, n, "%s", gnu_get_libc_version());
}

int lmb_allocated_bytes(uint64_t *out) {
    /* uordblks: bytes in use in the main arena's heap (chunk headers
     * included); hblkhd: bytes in chunks malloc took straight from mmap. The
     * map is built by the main thread, so other arenas hold none of it. */
    struct mallinfo2 mi = mallinfo2();
    *out = (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
    return 0;
}
