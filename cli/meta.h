/* Machine and build metadata recorded in every row. */
#ifndef LMBENCH_META_H
#define LMBENCH_META_H

#include <stddef.h>
#include <stdint.h>

#include "cli/row.h"

/* Fills cpu_model, cores, numa_nodes, kernel, compiler and timestamp from
 * this machine (not from --topology). */
void lmb_meta_fill(lmb_row *r);

/* The source commit: $LMBENCH_GIT_COMMIT if set, else `git rev-parse` in
 * $BUILD_WORKSPACE_DIRECTORY (bazel run) or the current directory, with
 * "-dirty" when the work tree has changes; "unknown" when there is no git. */
void lmb_git_commit(char *buf, size_t n);

/* The allocator linked into this binary: name and version. Provided by
 * alloc_jemalloc.c or alloc_glibc.c, whichever the binary links. */
void lmb_allocator_info(const char **name, char *version, size_t n);

/* Bytes the program holds allocated right now, from the allocator's own
 * statistics: jemalloc's "stats.allocated" (after flushing this thread's
 * cache and refreshing "epoch"); glibc's mallinfo2() in-use bytes (main arena
 * plus mmapped chunks, chunk headers included). 0, or -1 when the allocator
 * cannot say (sanitizer builds). Same providers as lmb_allocator_info. */
int lmb_allocated_bytes(uint64_t *out);

#endif
