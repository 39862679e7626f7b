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
