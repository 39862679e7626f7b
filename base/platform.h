/* Small platform pieces shared by the core, the lock back ends and the peers:
 * the futex system call, the spin-wait hint, and CLOCK_MONOTONIC clocks and
 * deadlines. Linux only. */
#ifndef LOCKMAP_BASE_PLATFORM_H
#define LOCKMAP_BASE_PLATFORM_H

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Tell the core we are in a spin-wait loop (PAUSE on x86, YIELD on arm64). */
static inline void lm_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

/* Sleep while *word == expected, until woken or until the absolute
 * CLOCK_MONOTONIC deadline (NULL = no deadline). Returns 0 when woken or when
 * the word had already changed (EAGAIN) or a signal interrupted the wait;
 * returns -ETIMEDOUT once the deadline has passed. Callers re-check the word in
 * every case, so spurious returns are harmless. */
static inline int lm_futex_wait(_Atomic uint32_t *word, uint32_t expected,
                                const struct timespec *deadline) {
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC timeout, unlike
     * FUTEX_WAIT's relative one, so a retried wait never extends the deadline.
     */
    long rc = syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                      expected, deadline, NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == -1 && errno == ETIMEDOUT) return -ETIMEDOUT;
    return 0;
}

/* Wake up to n threads sleeping on word. */
static inline void lm_futex_wake(_Atomic uint32_t *word, int n) {
    syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

static inline uint64_t lm_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t lm_timespec_ns(const struct timespec *ts) {
    return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

/* True once the absolute CLOCK_MONOTONIC deadline has passed. */
static inline bool lm_deadline_passed(const struct timespec *deadline) {
    return lm_now_ns() >= lm_timespec_ns(deadline);
}

/* Absolute CLOCK_MONOTONIC deadline timeout_ns from now (saturating). */
static inline struct timespec lm_deadline_after(uint64_t timeout_ns) {
    uint64_t now = lm_now_ns();
    uint64_t at = now + timeout_ns < now ? UINT64_MAX : now + timeout_ns;
    /* time_t is 64-bit here; cap far in the future rather than overflow. */
    if (at > (uint64_t)INT64_MAX) at = (uint64_t)INT64_MAX;
    struct timespec ts = {.tv_sec = (time_t)(at / 1000000000u),
                          .tv_nsec = (long)(at % 1000000000u)};
    return ts;
}

#endif
