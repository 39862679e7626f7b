/* Shared (reader) holders of a key: the protocol's exclusive side, used by
 * every path that takes a key lock to write (pin.h, lockfree.h, walk.h); the
 * shared side is lockmap/shared.h. Internal header.
 *
 * One generic protocol over the lock seam, for every back end: the key's own
 * lock (the back end's) orders arrivals, and a count of shared holders in the
 * state word (state.h) says who is inside. It is the shape of the slow path
 * of Linux's queued rwlock (kernel/locking/qrwlock.c, W. Long, 2014): readers
 * and writers queue on one lock, and a writer that holds it waits for the
 * reader count to drain; here there is no reader fast path beside it, so
 * that exclusive holders keep their cost (a fast path needs every writer to
 * announce itself with an extra atomic RMW on the word).
 *
 *   key state      readers  WAITS  key lock
 *   free           0        0      free
 *   read           n > 0    0      free, or held an instant by a joiner
 *   writer drains  n > 0    0/1    held by the writer (1 once it sleeps)
 *   written        0        0      held by the writer
 *
 *   shared lock:    take the key lock; word += READER; let the key lock go;
 *                   read the value in place
 *   shared unlock:  word -= READER; the last one out wakes a waiting holder
 *                   (WAITS set)
 *   exclusive lock: take the key lock; while readers > 0: spin, then set
 *                   WAITS and futex-wait on the word; clear WAITS; then
 *                   write as before (writes_begin)
 *
 * Readers join only while holding the key lock, so an exclusive holder that
 * has seen the count at 0 keeps it at 0 until it lets the key lock go: it
 * excludes every reader, and readers exclude it. A writer that waits does so
 * holding the key lock, so readers that come after it queue on the key lock
 * behind it: no writer starvation. How soon the writer gets the key lock
 * among readers that want it too is the back end's fairness, as among
 * writers: FIFO back ends serve it in arrival order, barging ones as soon as
 * it runs while the lock is free (readers hold it only an instant). A shared
 * lock costs two key lock operations and two atomic
 * additions on the word; an exclusive one a load of the word it needs anyway.
 *
 * Why the count is in the word: the state header is exactly 32 bytes with
 * the futex lock and the value sits at the next 16-byte boundary, so a field
 * of its own would cost 16 bytes per key. In the word it costs nothing, and
 * a reader counts as a reference for free: a state with readers is never 0
 * (nor exactly HAS_VALUE), so it is neither buried, nor evicted, nor popped
 * while read. The price is range: 1023 readers (a reader beyond that waits
 * as a writer does, for one to leave) and 2^19 - 1 references per key (the
 * threads waiting for, holding or walking one key at once), down from 2^30.
 *
 * Why not the back ends' own reader-writer forms: none of today's 16 has
 * one, each would need a second protocol and its own model, and the
 * generic one keeps the lock word and the state as they are. A back end
 * that gains from a native form (a phase-fair ticket lock, say) can still
 * add one behind the seam; measure it against this first.
 *
 * Waiting: the key lock's holder is the only one that waits on the word
 * (a writer for 0 readers, a reader for fewer than LM_READERS_MAX), so one
 * bit, WAITS, set and cleared only by it, tells a leaving reader whether to
 * wake anyone. The futex sleeps on the whole word, which pins and unpins
 * also change: such a return is spurious and the loop checks again. */
#ifndef LOCKMAP_READERS_H
#define LOCKMAP_READERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/platform.h"
#include "lockmap/state.h"

/* Spins (a load and a PAUSE each) before the key lock's holder sleeps until
 * readers leave. 100, as the futex back end's FUTEX_SPIN_LIMIT (Rust std's
 * choice): about 1-4 us on current x86, longer than reading a few KiB in
 * place and shorter than a futex sleep and wake (~5 us). */
#define LM_READERS_SPIN 100

static inline uint32_t readers_of(uint32_t word) {
    return (word & LM_READERS_MASK) / LM_READER;
}

/* With the key lock held: true once fewer than `limit` shared holders are
 * inside (limit 1: none, for a writer; LM_READERS_MAX: room for one more
 * reader). `wait` false checks once (trylock); otherwise it waits until the
 * absolute CLOCK_MONOTONIC deadline (NULL: for ever) and says false past it.
 * Once true it stays true until the key lock is let go, as readers join only
 * under it. */
static inline bool readers_below(lm_state *st, uint32_t limit, bool wait,
                                 const struct timespec *deadline) {
    /* Acquire: pairs with the release of the readers' leaving (shared.h),
     * so what they read happens before what we write next. */
    uint32_t w = atomic_load_explicit(&st->word, memory_order_acquire);
    if (readers_of(w) < limit) return true;
    if (!wait) return false;
    for (int i = 0; i < LM_READERS_SPIN; i++) {
        lm_cpu_relax();
        /* Acquire: as above. */
        w = atomic_load_explicit(&st->word, memory_order_acquire);
        if (readers_of(w) < limit) return true;
    }
    bool below = true;
    for (;;) {
        /* Announce a sleeper. The word's RMWs are totally ordered, so a
         * reader leaving after this sees WAITS and wakes us; one that left
         * before shows in the value returned. Acquire: as above, when that
         * value shows them gone. */
        w = atomic_fetch_or_explicit(&st->word, LM_WAITS,
                                     memory_order_acquire) |
            LM_WAITS;
        if (readers_of(w) < limit) break;
        if (deadline && lm_deadline_passed(deadline)) {
            below = false;
            break;
        }
        /* Sleeps only while the word is still w: any change (a reader
         * leaving, a pin) returns at once and we look again. */
        lm_futex_wait(&st->word, w, deadline);
    }
    /* Relaxed: only we (the key lock's holder) set or clear WAITS; leaving
     * readers read it only to decide whether to wake. */
    atomic_fetch_and_explicit(&st->word, ~LM_WAITS, memory_order_relaxed);
    return below;
}

#endif
