/* The test hooks of test_hooks.h and testing.h; compiled only into the test
 * build of the core (//lockmap:lockmap_futex_hooks, LM_TEST_HOOKS). */
#include "lockmap/test_hooks.h"

#include <stdatomic.h>
#include <stddef.h>

#include "lockmap/testing.h"

/* Relaxed: the hook creates no ordering of its own between the test's
 * threads (that is the point: a parked prober must see only what the map's
 * own atomics order for it); the test sets it before starting them. */
static _Atomic(lm_probe_hook_fn) probe_hook;

void lm_test_set_probe_hook(lm_probe_hook_fn hook) {
    atomic_store_explicit(&probe_hook, hook, memory_order_relaxed);
}

void lm_hook_probe_line(void) {
    lm_probe_hook_fn hook =
        atomic_load_explicit(&probe_hook, memory_order_relaxed);
    if (hook) hook();
}
