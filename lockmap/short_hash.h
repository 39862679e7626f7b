/* The default hash of short keys (up to LM_SHORT_KEY bytes: u64 ids,
 * pointers, short strings), which XXH3 hashes too slowly for a map whose
 * lookups cost tens of nanoseconds. In the manner of foldhash (Orson
 * Peters' folded-multiply hash): the key's bytes read as two words, each
 * mixed with a word of the per-map secret, multiplied into 128 bits, the
 * halves xored, then one more multiply by a fixed odd constant so that the
 * high half (the shard) and the low bits (the bucket) both depend on every
 * key bit. The secret words are drawn from the map's random seed, so an
 * attacker who does not know it cannot aim keys at one bucket (HashDoS
 * resistance as foldhash gives it; longer keys keep XXH3). Internal
 * header. */
#ifndef LOCKMAP_SHORT_HASH_H
#define LOCKMAP_SHORT_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/hash.h"

#define LM_SHORT_KEY 16

/* The per-map secret of short-key hashing, drawn from the map's seed. */
typedef struct {
    uint64_t a, b;
} lm_short_secret;

static inline lm_short_secret short_secret_of(uint64_t seed) {
    uint64_t a = lm_splitmix64(seed);
    return (lm_short_secret){a, lm_splitmix64(a)};
}

/* The 128-bit product of x and y, its halves xored. */
static inline uint64_t folded_multiply(uint64_t x, uint64_t y) {
    unsigned __int128 p = (unsigned __int128)x * y;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

/* Bytes up to 8 as one word (klen 0..8), every byte contributing. */
static inline uint64_t small_word(const unsigned char *k, size_t klen) {
    uint32_t lo, hi;
    if (klen >= 4) {
        memcpy(&lo, k, sizeof lo);
        memcpy(&hi, k + klen - 4, sizeof hi);
        return (uint64_t)hi << 32 | lo;
    }
    if (klen == 0) return 0;
    return (uint64_t)k[0] << 16 | (uint64_t)k[klen / 2] << 8 | k[klen - 1];
}

/* klen <= LM_SHORT_KEY. */
static inline uint64_t short_hash(const lm_short_secret *s, const void *key,
                                  size_t klen) {
    const unsigned char *k = key;
    uint64_t x, y;
    if (klen > 8) {
        memcpy(&x, k, sizeof x);
        memcpy(&y, k + klen - 8, sizeof y);
    } else {
        x = small_word(k, klen);
        y = 0;
    }
    /* The length goes in too: keys that read as the same words (overlapping
     * loads, short keys padded with zeros) differ in it. */
    uint64_t h = folded_multiply(x ^ s->a, y ^ s->b ^ (uint64_t)klen);
    /* An odd constant (the 64-bit golden ratio): spreads h's low bits into
     * the high half that picks the shard. */
    return folded_multiply(h, 0x9e3779b97f4a7c15ull);
}

#endif
