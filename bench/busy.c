#include "bench/busy.h"

#include <time.h>

uint64_t lmb_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double lmb_busy_calibrate(void) {
    /* Best of several rounds: the fastest one was least disturbed. */
    const uint64_t iters = 2000000;
    uint64_t best = UINT64_MAX;
    for (int round = 0; round < 5; round++) {
        uint64_t t0 = lmb_now_ns();
        lmb_busy_spin(iters);
        uint64_t dt = lmb_now_ns() - t0;
        if (dt < best) best = dt;
    }
    if (best == 0) best = 1;
    return (double)iters / (double)best;
}

uint64_t lmb_busy_iters(double iters_per_ns, uint64_t ns) {
    return (uint64_t)((double)ns * iters_per_ns + 0.5);
}

void lmb_busy_wait_ns(uint64_t ns) {
    uint64_t end = lmb_now_ns() + ns;
    while (lmb_now_ns() < end) __asm__ __volatile__("" ::: "memory");
}
