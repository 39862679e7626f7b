/* The values the map workloads store: --value-size bytes seen as u64 words,
 * every word holding the same number (entry's counter, batch's balance, the
 * cache's value for the key). Writers write every word; readers can then
 * tell a whole value from a half-written one (words that disagree), and so
 * can the verification, which reads the number from the first word. */
#ifndef LMBENCH_VALUE_H
#define LMBENCH_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every word of v set to x. */
static inline void lmb_value_fill(uint64_t *v, size_t words, uint64_t x) {
    for (size_t i = 0; i < words; i++) v[i] = x;
}

/* The sum of v's words, read in place. */
static inline uint64_t lmb_value_sum(const uint64_t *v, size_t words) {
    uint64_t s = 0;
    for (size_t i = 0; i < words; i++) s += v[i];
    return s;
}

/* Every word equals the first. */
static inline bool lmb_value_whole(const uint64_t *v, size_t words) {
    for (size_t i = 1; i < words; i++)
        if (v[i] != v[0]) return false;
    return true;
}

#endif
