/* Test-only hooks: what the map's test suites look at beyond the public API.
 * Only through the testonly target //lockmap:testing, so no library or tool
 * can depend on them. Every map that the suites run (the core, and each peer
 * in its test-only target) implements the lm_debug_* functions; the
 * allocation failpoints exist only in //lockmap:lockmap_futex_failpoints,
 * the probe hook only in //lockmap:lockmap_futex_hooks. */
#ifndef LOCKMAP_TESTING_H
#define LOCKMAP_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "lockmap/lockmap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-key states currently allocated (with a value, or held, or waited on). */
size_t lm_debug_live_states(lockmap *map);
/* Number of shards actually used (after rounding). */
size_t lm_debug_shards(lockmap *map);
/* The seed in use (drawn at random when the options said 0). */
uint64_t lm_debug_seed(lockmap *map);
/* Lines of the shards' tables whose overflow count is not 0 (lockmap/table.h;
 * the core only: peers have no such table). */
size_t lm_debug_overflowed_lines(lockmap *map);

/* Allocation failpoints (the core built with LM_ALLOC_FAILPOINTS): make the
 * nth allocation from now fail (n >= 1; 0 disarms). */
void lm_alloc_fail_nth(long n);
/* Blocks allocated and not yet freed. */
long lm_alloc_live(void);
/* Allocation calls so far, failed ones included. */
long lm_alloc_calls(void);

/* Probe hook (the core built with LM_TEST_HOOKS, only in
 * //lockmap:lockmap_futex_hooks): called by a lock-free probe, on the
 * probing thread, when it has loaded its table and is about to load the
 * slots of one line. NULL removes it. */
typedef void (*lm_probe_hook_fn)(void);
void lm_test_set_probe_hook(lm_probe_hook_fn hook);

#ifdef __cplusplus
}
#endif

#endif
