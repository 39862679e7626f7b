/* Test-only hooks inside the core's lock-free paths (see testing.h). Only the
 * test build of the core (//lockmap:lockmap_futex_hooks, built with
 * LM_TEST_HOOKS) calls them; in every other build they compile to nothing.
 * Internal header. */
#ifndef LOCKMAP_TEST_HOOKS_H
#define LOCKMAP_TEST_HOOKS_H

#ifdef LM_TEST_HOOKS
/* A lock-free probe has its table and is about to load one line's slots
 * (find_lockfree in lockfree.h). */
void lm_hook_probe_line(void);
#define LM_HOOK_PROBE_LINE() lm_hook_probe_line()
#else
#define LM_HOOK_PROBE_LINE() ((void)0)
#endif

#endif
