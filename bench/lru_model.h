/* What hit ratio an LRU cache should reach on a key distribution: Che's
 * approximation (H. Che, Y. Tung, Z. Wang, "Hierarchical Web caching systems:
 * modeling, design and experimental results", IEEE JSAC 20(7), 2002; shown
 * to be accurate for LRU under independent requests by Fricker, Robert and
 * Roberts, ITC 2012).
 *
 * Under independent draws where key i has probability p_i, an LRU cache of C
 * entries behaves as if every key stayed cached for one common time T after
 * its last request, T being the root of  sum_i (1 - exp(-p_i T)) = C.  Key i
 * is then found with probability 1 - exp(-p_i T), and the hit ratio is
 * sum_i p_i (1 - exp(-p_i T)). lmbench's cache workload reports it next to
 * the measured hit ratio.
 *
 * Scan streams (dist.h's scan:F:BASE): the one-off keys are the limit of
 * infinitely many keys of vanishing probability; together they hold F T of
 * the cache's entries (each request of the last T brought one with
 * chance F) and are never hit, so T solves
 * sum_i (1 - exp(-p_i T)) + F T = C with p_i = (1 - F) q_i, q_i the base
 * distribution's, and the hit ratio is sum_i p_i (1 - exp(-p_i T)). */
#ifndef LMBENCH_LRU_MODEL_H
#define LMBENCH_LRU_MODEL_H

#include <stdint.h>

#include "bench/dist.h"

/* Keys beyond which the estimate is not computed (its cost is O(keys) per
 * bisection step: about 0.1 s at this size). */
#define LMB_LRU_MODEL_MAX_KEYS ((uint64_t)1 << 20)

/* The estimated hit ratio in [0, 1] of an LRU cache holding `capacity` of the
 * `keys` keys drawn from `spec`; 1 when everything fits (and no scan). -1
 * when keys is above LMB_LRU_MODEL_MAX_KEYS, or on ENOMEM. */
double lmb_lru_hit_estimate(const lmb_dist_spec *spec, uint64_t keys,
                            uint64_t capacity);

#endif
