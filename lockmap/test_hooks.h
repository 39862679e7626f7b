/* Test-only hooks inside the core's lock-free paths (see testing.h). Only the
 * test build of the core (//lockmap:lockmap_futex_hooks, built with
 * LM_TEST_HOOKS) calls them; in every other build they compile to nothing.
 * Internal header. */
#ifndef LOCKMAP_TEST_HOOKS_H
#define LOCKMAP_TEST_HOOKS_H

#ifdef LM_TEST_HOOKS
/* A lock-free walk passed a state whose hash is not the key's and is about
 * to load its `next` link (find_lockfree in lockfree.h). */
void lm_hook_walk_step(void);
#define LM_HOOK_WALK_STEP() lm_hook_walk_step()
#else
#define LM_HOOK_WALK_STEP() ((void)0)
#endif

#endif
