/* Bytes that a lock-free reader may read while a writer changes them: the
 * value and key bytes of a plain map's states, which get_lockfree (lockfree.h)
 * copies between two reads of the state's write count (see DESIGN in
 * lockmap/map.h). Under C11 a plain copy racing with a write is a data race
 * even when the seqlock throws the copy away; so, as Boehm proposes ("Can
 * seqlocks get along with programming language memory models?", MSPC 2012),
 * both sides access these bytes as relaxed atomics: 8-byte words where the
 * address is 8-byte aligned, single bytes for the rest. Reader and writer
 * split a range the same way, as the split depends only on its address.
 * Relaxed everywhere: the seqlock's fences and the count's acquire/release
 * give the ordering; these only remove the race. On x86-64 and AArch64 a
 * relaxed load or store is a plain mov/ldr/str. Internal header. */
#ifndef LOCKMAP_SHARED_BYTES_H
#define LOCKMAP_SHARED_BYTES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline bool word_aligned(const void *p) {
    return ((uintptr_t)p & (sizeof(uint64_t) - 1)) == 0;
}

/* Store n bytes from private memory into shared bytes. */
static inline void shared_store(unsigned char *dst, const void *src, size_t n) {
    const unsigned char *s = src;
    size_t i = 0;
    if (n == sizeof(uint64_t) && word_aligned(dst)) {
        /* The common 8-byte value: one store, no loop. */
        uint64_t w;
        memcpy(&w, s, sizeof w);
        atomic_store_explicit((_Atomic uint64_t *)dst, w, memory_order_relaxed);
        return;
    }
    if (word_aligned(dst)) {
        for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
            uint64_t w;
            memcpy(&w, s + i, sizeof w);
            atomic_store_explicit((_Atomic uint64_t *)(dst + i), w,
                                  memory_order_relaxed);
        }
    }
    for (; i < n; i++)
        atomic_store_explicit((_Atomic unsigned char *)(dst + i), s[i],
                              memory_order_relaxed);
}

/* Zero n shared bytes. */
static inline void shared_zero(unsigned char *dst, size_t n) {
    size_t i = 0;
    if (word_aligned(dst)) {
        for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t))
            atomic_store_explicit((_Atomic uint64_t *)(dst + i), 0,
                                  memory_order_relaxed);
    }
    for (; i < n; i++)
        atomic_store_explicit((_Atomic unsigned char *)(dst + i), 0,
                              memory_order_relaxed);
}

/* Load n shared bytes into private memory. */
static inline void shared_load(void *dst, const unsigned char *src, size_t n) {
    unsigned char *d = dst;
    size_t i = 0;
    if (word_aligned(src)) {
        for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
            uint64_t w = atomic_load_explicit(
                (const _Atomic uint64_t *)(src + i), memory_order_relaxed);
            memcpy(d + i, &w, sizeof w);
        }
    }
    for (; i < n; i++)
        d[i] = atomic_load_explicit((const _Atomic unsigned char *)(src + i),
                                    memory_order_relaxed);
}

/* Whether n shared bytes equal n bytes of private memory. */
static inline bool shared_equal(const unsigned char *shared, const void *mine,
                                size_t n) {
    const unsigned char *m = mine;
    size_t i = 0;
    if (n == sizeof(uint64_t) && word_aligned(shared)) {
        /* The common 8-byte key: one load, no loop. */
        uint64_t x;
        memcpy(&x, m, sizeof x);
        return atomic_load_explicit((const _Atomic uint64_t *)shared,
                                    memory_order_relaxed) == x;
    }
    if (word_aligned(shared)) {
        for (; i + sizeof(uint64_t) <= n; i += sizeof(uint64_t)) {
            uint64_t w, x;
            w = atomic_load_explicit((const _Atomic uint64_t *)(shared + i),
                                     memory_order_relaxed);
            memcpy(&x, m + i, sizeof x);
            if (w != x) return false;
        }
    }
    for (; i < n; i++)
        if (atomic_load_explicit((const _Atomic unsigned char *)(shared + i),
                                 memory_order_relaxed) != m[i])
            return false;
    return true;
}

#endif
