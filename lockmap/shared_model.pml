/* Promela model of the core's shared (reader) key locks, for SPIN: the
 * protocol of lockmap/readers.h and lockmap/shared.h over any key lock.
 * Run by scripts/modelcheck (as "shared").
 *
 * Models, as the code stands:
 *   readers_below       readers.h   with the key lock held: the count below
 *                                   a limit at once; else (try) fail; else
 *                                   fetch_or WAITS, check, give up past the
 *                                   deadline, FUTEX_WAIT(word, seen), repeat;
 *                                   then clear WAITS
 *   lock_pinned         pin.h       exclusive: key lock (lock, try or timed),
 *                                   readers_below(1), or let the key lock go
 *   lock_pinned_shared  shared.h    shared: key lock, readers_below(MAX),
 *   + shared_join                   word += READER, let the key lock go
 *   release_shared      shared.h    word -= READER; FUTEX_WAKE(1) if WAITS
 *                                   was set and the count is now 0 or MAX-1
 *   release_entry       pin.h       exclusive unlock: let the key lock go
 * and lm_futex_wait / lm_futex_wake (base/platform.h) as the kernel does
 * them: WAIT compares the word and queues the caller in one step, WAKE
 * dequeues one sleeper.
 *
 * NREADERS shared lockers and NWRITERS exclusive ones each run one
 * acquisition, in a form SPIN picks (lock, trylock or timedlock), with
 * READERS_MAX lowered to 2 so that the third reader meets the limit.
 *
 * Checked:
 *   - mutual exclusion of writers with everyone: at every entry and exit of
 *     a critical section at most one writer is in and, if one is, no reader
 *     (assert); never more than READERS_MAX readers;
 *   - no deadlock and no lost wake-up: only the end of a thread is a valid
 *     end state, so a thread asleep for good fails the safety run; at the
 *     end the word is back to 0 readers, WAITS clear, the key lock free;
 *   - ltl writer_enters: a writer that holds the key lock and waits for the
 *     readers without a deadline (lock) always gets in;
 *   - ltl all_finish: every execution ends with all threads done (every wait
 *     in the model blocks, so a correct model has no infinite execution).
 *
 * Abstracted away:
 *   - the key lock: any back end, as the seam's contract says: a blocking
 *     acquire that waits until the lock is free, a try that never waits, a
 *     timed acquire that may give up while the lock is held. Its fairness
 *     is the back end's (FIFO or not); what this model checks is that once
 *     a writer has it, the readers drain and no new one joins;
 *   - the rest of the state word (references, HAS_VALUE, DEAD): they change
 *     the futex word too, which only makes a FUTEX_WAIT return at once
 *     (EAGAIN) and the loop look again: the same as a spurious return;
 *   - spurious returns from FUTEX_WAIT; the bounded spin (its loads only
 *     watch the word: one load at some moment, which the first check of the
 *     count already covers);
 *   - time: "the deadline has passed" is a free choice at each check, and a
 *     timed FUTEX_WAIT may time out only while still queued; after a
 *     timeout the deadline stays passed;
 *   - memory orderings: SPIN's interleavings are sequentially consistent.
 */

#define NREADERS 3
#define NWRITERS 1
#define NPROC 4
#define READERS_MAX 2

#define FOREVER 0
#define NEVER 1
#define UNTIL 2

byte keylock = 0;  /* the key lock: 0 free, else holder + 1 */
byte readers = 0;  /* the word's reader count */
bit waits = 0;     /* the word's WAITS */
bit asleep[NPROC]; /* the kernel's futex queue for the word */
byte readers_in = 0; /* ghost: shared holders reading */
byte writers_in = 0; /* ghost: exclusive holders writing */
byte blocked = 0;    /* ghost: lock() writers holding the key lock, waiting */
byte finished = 0;   /* ghost: threads that have run to their end */

#define EXCLUSION assert(writers_in <= 1 && (writers_in == 0 || readers_in == 0) && readers <= READERS_MAX)

/* lm_futex_wake(&word, 1) */
inline futex_wake_one() {
    atomic {
        if
        :: asleep[0] -> asleep[0] = 0
        :: asleep[1] -> asleep[1] = 0
        :: asleep[2] -> asleep[2] = 0
        :: asleep[3] -> asleep[3] = 0
        :: else
        fi
    }
}

/* The seam's acquire in the form `how`; got says whether we hold it. */
inline key_acquire(how, got) {
    if
    :: how == FOREVER -> atomic { keylock == 0 -> keylock = me + 1 }; got = 1
    :: how == NEVER ->
        atomic {
            if
            :: keylock == 0 -> keylock = me + 1; got = 1
            :: else -> got = 0
            fi
        }
    :: how == UNTIL ->
        if
        :: atomic { keylock == 0 -> keylock = me + 1 }; got = 1
        :: atomic { keylock != 0 -> got = 0 } /* timed out while held */
        fi
    fi
}

inline key_release() {
    atomic { assert(keylock == me + 1); keylock = 0 }
}

/* readers_below(limit, how != NEVER, deadline), key lock held. */
inline readers_below(limit, how, below) {
    if
    :: readers < limit -> below = 1
    :: else ->
        if
        :: how == NEVER -> below = 0
        :: else ->
            do
            :: atomic { waits = 1; seen = readers };
               if
               :: seen < limit -> below = 1; break
               :: else
               fi;
               if
               :: how == UNTIL -> if
                                  :: below = 0; break /* deadline passed */
                                  :: !expired
                                  fi
               :: else
               fi;
               /* FUTEX_WAIT(word, seen | WAITS): compare and queue at once */
               atomic {
                   if
                   :: readers == seen && waits -> asleep[me] = 1
                   :: else /* EAGAIN */
                   fi
               };
               if
               :: !asleep[me]
               :: how == UNTIL && asleep[me] -> atomic { asleep[me] = 0; expired = 1 } /* ETIMEDOUT */
               fi
            od;
            waits = 0
        fi
    fi
}

proctype writer(byte me) {
    byte how, seen;
    bit got, below, expired; /* expired: the deadline is known passed */
    if
    :: how = FOREVER
    :: how = NEVER
    :: how = UNTIL
    fi;
    key_acquire(how, got);
    if
    :: got ->
        atomic { if :: how == FOREVER -> blocked++ :: else fi };
        readers_below(1, how, below);
        atomic { if :: how == FOREVER -> blocked-- :: else fi };
        if
        :: below ->
            atomic { writers_in++; EXCLUSION };
            atomic { writers_in--; EXCLUSION };
            key_release()
        :: else -> assert(how != FOREVER); key_release()
        fi
    :: else
    fi;
    finished++
}

proctype reader(byte me) {
    byte how, seen;
    bit got, below, woke, expired;
    if
    :: how = FOREVER
    :: how = NEVER
    :: how = UNTIL
    fi;
    key_acquire(how, got);
    if
    :: got ->
        readers_below(READERS_MAX, how, below);
        if
        :: below ->
            /* shared_join: only under the key lock */
            atomic { readers++; readers_in++; EXCLUSION };
            key_release();
            /* reading the value in place */
            atomic { readers_in--; EXCLUSION };
            /* release_shared: fetch_sub, then wake if it made the count
             * what the waiter waits for */
            atomic {
                readers--;
                seen = readers;
                woke = waits
            };
            if
            :: woke && (seen == 0 || seen == READERS_MAX - 1) -> futex_wake_one()
            :: else
            fi
        :: else -> assert(how != FOREVER); key_release()
        fi
    :: else
    fi;
    finished++
}

init {
    atomic {
        run reader(0);
        run reader(1);
        run reader(2);
        run writer(3)
    };
    (finished == NPROC);
    assert(readers == 0 && waits == 0 && keylock == 0 && readers_in == 0 &&
           writers_in == 0);
    assert(!asleep[0] && !asleep[1] && !asleep[2] && !asleep[3])
}

ltl writer_enters { [] (blocked > 0 -> <> (blocked == 0)) }
ltl all_finish { <> (finished == NPROC) }
