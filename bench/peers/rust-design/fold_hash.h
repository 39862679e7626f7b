/* The peer's default hash, in the spirit of foldhash (the crate's default
 * hasher, by Orson Peters): a "folded multiply" (the 128-bit product of two
 * words, its halves XORed) absorbs 16 bytes per step, and one more fold with
 * the seed finishes. Written from foldhash's published description, not its
 * code, and with its own constants; like foldhash it is fast, seeded, and not
 * a cryptographic hash.
 *
 *   keys of 0..16 bytes: two words read from the ends of the key (they
 *       overlap for 8..15 bytes; 4..7 bytes two 32-bit halves; 1..3 bytes
 *       its first, middle and last byte), one fold;
 *   longer keys: one fold per 16 bytes, the last 16 read from the end;
 *   finish: fold the result with the seed again.
 *
 * A u64 key (the benchmarks') costs two multiplies. The seed enters both
 * operands of the first fold (XORed with different constants) so a key
 * cannot zero a multiplier without knowing the seed. Every output bit depends
 * on every input bit, so the map may take its shard from one part of the
 * hash, the table's start slot from another, and the tag from the top. */
#ifndef LOCKMAP_PEERS_RUST_FOLD_HASH_H
#define LOCKMAP_PEERS_RUST_FOLD_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Digits of pi (as in many hash functions): arbitrary, odd, dense. */
#define FOLD_K0 0x243f6a8885a308d3ull
#define FOLD_K1 0x13198a2e03707345ull
#define FOLD_K2 0xa4093822299f31d1ull

static inline uint64_t fold_mul(uint64_t a, uint64_t b) {
    __uint128_t p = (__uint128_t)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

static inline uint64_t fold_load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t fold_load32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint64_t fold_hash(const void *key, size_t klen, uint64_t seed) {
    const unsigned char *p = key;
    uint64_t s0 = seed ^ FOLD_K0;
    uint64_t s1 = ((seed << 32) | (seed >> 32)) ^ FOLD_K1;
    uint64_t acc;
    if (klen <= 16) {
        uint64_t a = 0, b = 0;
        if (klen >= 8) {
            a = fold_load64(p);
            b = fold_load64(p + klen - 8);
        } else if (klen >= 4) {
            a = fold_load32(p);
            b = fold_load32(p + klen - 4);
        } else if (klen > 0) {
            a = (uint64_t)p[0] | (uint64_t)p[klen / 2] << 8 |
                (uint64_t)p[klen - 1] << 16;
        }
        acc = fold_mul(a ^ s0, b ^ s1 ^ klen);
    } else {
        acc = s0 ^ klen;
        size_t off = 0;
        for (; klen - off > 16; off += 16)
            acc = fold_mul(fold_load64(p + off) ^ acc,
                           fold_load64(p + off + 8) ^ s1);
        acc = fold_mul(fold_load64(p + klen - 16) ^ acc,
                       fold_load64(p + klen - 8) ^ s1);
    }
    return fold_mul(acc ^ FOLD_K2, s1 | 1);
}

#endif
