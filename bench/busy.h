/* Calibrated busy work: burns roughly N nanoseconds of CPU without a system
 * call or a clock read, for --cs-ns (inside the critical section) and
 * --think-ns (between operations). Never a sleep. */
#ifndef LMBENCH_BUSY_H
#define LMBENCH_BUSY_H

#include <stdint.h>

/* Measures this CPU's loop speed (a few milliseconds); returns iterations per
 * nanosecond. Call once before the threads start. */
double lmb_busy_calibrate(void);

/* Iterations of lmb_busy_spin that take about ns nanoseconds. */
uint64_t lmb_busy_iters(double iters_per_ns, uint64_t ns);

static inline void lmb_busy_spin(uint64_t iters) {
    for (uint64_t i = 0; i < iters; i++) __asm__ __volatile__("" ::: "memory");
}

/* Spins on the monotonic clock until ns nanoseconds have passed; for long
 * waits (--hold-us) where a clock read per turn is negligible. */
void lmb_busy_wait_ns(uint64_t ns);

uint64_t lmb_now_ns(void);

#endif
