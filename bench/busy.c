#include "bench/busy.h"

#include <time.h>

uint64_t lmb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double lmb_busy_calibrate(void) {
    /* Median of several short rounds: robust to a round that was
     * interrupted, and to one that ran in an unusually quiet moment. */
    enum { ROUNDS = 7 };
    const uint64_t iters = 1000000;
    uint64_t dt[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t t0 = lmb_now_ns();
        lmb_busy_spin(iters);
        dt[round] = lmb_now_ns() - t0;
    }
    for (int i = 1; i < ROUNDS; i++)
        for (int j = i; j > 0 && dt[j - 1] > dt[j]; j--) {
            uint64_t t = dt[j];
            dt[j] = dt[j - 1];
            dt[j - 1] = t;
        }
    uint64_t med = dt[ROUNDS / 2] ? dt[ROUNDS / 2] : 1;
    return (double)iters / (double)med;
}

uint64_t lmb_busy_iters(double iters_per_ns, uint64_t ns) {
    return (uint64_t)((double)ns * iters_per_ns + 0.5);
}

void lmb_busy_wait_ns(uint64_t ns) {
    uint64_t end = lmb_now_ns() + ns;
    while (lmb_now_ns() < end) __asm__ __volatile__("" ::: "memory");
}
