/* Linked into the jemalloc runners (with -ljemalloc): reports jemalloc and its
 * version, after checking that malloc really is jemalloc's. */
#include <jemalloc/jemalloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/meta.h"

void lmb_allocator_info(const char **name, char *version, size_t n) {
    const char *v = NULL;
    size_t sz = sizeof v;
    if (mallctl("version", &v, &sz, NULL, 0) != 0 || !v) v = "unknown";
    /* The thread's allocated-bytes counter moves only if malloc is jemalloc's
     * (it would not if something else had interposed malloc). */
    uint64_t before = 0, after = 0;
    size_t usz = sizeof before;
    int ok = mallctl("thread.allocated", &before, &usz, NULL, 0) == 0;
    void *volatile p = malloc(4096);
    usz = sizeof after;
    ok = ok && mallctl("thread.allocated", &after, &usz, NULL, 0) == 0;
    free(p);
    *name = ok && after > before ? "jemalloc" : "jemalloc-inactive";
    snprintf(version, n, "%s", v);
}

int lmb_allocated_bytes(uint64_t *out) {
    /* Objects parked in this thread's cache count as allocated; flushing
     * returns them, so two readings differ only by what the program holds.
     * It may fail when the cache is off, which is fine. */
    mallctl("thread.tcache.flush", NULL, NULL, NULL, 0);
    /* The statistics are a snapshot refreshed by writing "epoch". */
    uint64_t epoch = 1;
    size_t esz = sizeof epoch;
    if (mallctl("epoch", &epoch, &esz, &epoch, esz) != 0) return -1;
    size_t allocated = 0, sz = sizeof allocated;
    if (mallctl("stats.allocated", &allocated, &sz, NULL, 0) != 0) return -1;
    *out = allocated;
    return 0;
}
