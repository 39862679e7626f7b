/* The default key hash and per-map seeds, shared by the core and the peers
 * that hash like it (striped, global, tbb): XXH3 64-bit with the map's seed,
 * splitmix64 to mix seeds, and lm_draw_seed for a fresh one per map.
 *
 * lm_default_hash is the one function whose address a map stores when its
 * options name no hash; callers compare against that address and then call
 * lm_default_hash_inline, so the hash of a short key is inlined where it is
 * computed (XXH_INLINE_ALL compiles XXH3 into every includer). */
#ifndef LOCKMAP_BASE_HASH_H
#define LOCKMAP_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XXH3 of the key with the seed; an empty key hashes as "" (XXH3 wants a
 * valid pointer even for zero bytes). */
static inline uint64_t lm_default_hash_inline(const void *key, size_t klen,
                                              uint64_t seed) {
    return XXH3_64bits_withSeed(klen ? key : "", klen, seed);
}

/* The same, out of line: the value to store as a map's hash function. */
uint64_t lm_default_hash(const void *key, size_t klen, uint64_t seed);

/* splitmix64's finaliser: spreads every input bit over the whole result. */
static inline uint64_t lm_splitmix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15u;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
    return x ^ (x >> 31);
}

/* A fresh non-zero seed: kernel randomness when available, mixed with a
 * process-wide counter so that two maps never share one even if getrandom
 * fails. */
uint64_t lm_draw_seed(void);

#ifdef __cplusplus
}
#endif

#endif
