/* Introspection for the library's own tests; not part of the public API. */
#ifndef LOCKMAP_INTERNAL_H
#define LOCKMAP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "lockmap/lockmap.h"

/* Per-key states currently allocated (with a value, or held, or waited on). */
size_t lm_debug_live_states(lockmap *map);
/* Number of shards actually used (after rounding). */
size_t lm_debug_shards(lockmap *map);
/* The seed in use (drawn at random when the options said 0). */
uint64_t lm_debug_seed(lockmap *map);

#endif
