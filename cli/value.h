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

/* The loops below go 4 words a turn: gcc at -O2 does not vectorise a loop
 * of unknown length, but turns 4 independent words into vector operations
 * (SLP). Measured with --value-size=4096 on 100 keys (in cache), one word a
 * turn made read-shared's sum cost twice what get's memcpy of the value
 * costs; 4 a turn brings it to about the same. */
#define LMB_VALUE_UNROLL 4

/* Every word of v set to x. */
static inline void lmb_value_fill(uint64_t *v, size_t words, uint64_t x) {
    size_t i = 0;
    for (; i + LMB_VALUE_UNROLL <= words; i += LMB_VALUE_UNROLL) {
        v[i] = x;
        v[i + 1] = x;
        v[i + 2] = x;
        v[i + 3] = x;
    }
    for (; i < words; i++) v[i] = x;
}

/* The sum of v's words, read in place: four running sums, added at the
 * end. */
static inline uint64_t lmb_value_sum(const uint64_t *v, size_t words) {
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + LMB_VALUE_UNROLL <= words; i += LMB_VALUE_UNROLL) {
        s0 += v[i];
        s1 += v[i + 1];
        s2 += v[i + 2];
        s3 += v[i + 3];
    }
    for (; i < words; i++) s0 += v[i];
    return s0 + s1 + s2 + s3;
}

/* Every word equals the first. */
static inline bool lmb_value_whole(const uint64_t *v, size_t words) {
    for (size_t i = 1; i < words; i++)
        if (v[i] != v[0]) return false;
    return true;
}

#endif
