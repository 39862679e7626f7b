/* Promela model of the ticket back end (variants/ticket/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   ticket_trylock_from lines 106-115  CAS of the whole word (next, owner):
 *   ticket_trylock      lines 117-123  (o, o) -> (o+1, o), after one load
 *   ticket_lock         lines 138-153  take a ticket (fetch-and-add on next),
 *                                      wait until owner equals it
 *   ticket_timedlock    lines 159-171  poll trylock until the deadline; never
 *                                      queues
 *   ticket_unlock       lines 173-185  load owner, add 1 to owner only
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round. A timedlock
 * that gives up after its first poll is a failed trylock.
 *
 * The counters wrap modulo WRAP, as the C code's wrap modulo 2^32. WRAP is
 * above NPROC, so next - owner (mod WRAP) still counts the tickets out, and
 * the other threads together take WRAP tickets ((NPROC-1) * ROUNDS == WRAP),
 * so SPIN explores a trylock that loads the word, stalls while the counters
 * go once round the whole circle and the lock is held again, then tries its
 * CAS: the case the old code (CAS of next alone) got wrong.
 *
 * Checked:
 *   - mutual exclusion: at most one thread in the critical section (assert
 *     on incs), and next - owner (mod WRAP) is the number of tickets taken
 *     and not yet released (assert after every change of next or owner);
 *   - no deadlock: a thread waiting for a ticket that is never served is
 *     blocked for good, an invalid end state once the others have finished
 *     (only the end of a thread is a valid end state);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock (an endless loop, e.g. a timed poller polling a lock nobody
 *     can release) fails it as a deadlock does.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step;
 *   - the 64-bit word's arithmetic: taking a ticket adds to next only, and
 *     unlock's add (1, or 1 - 2^32 at the wrap) changes owner only; here
 *     each is an increment of one counter modulo WRAP. lock_test's wrap
 *     tests check the C arithmetic across the real 2^32 wrap;
 *   - ticket_backoff (lines 126-136): the pauses and yields only delay, so
 *     lock's wait loop is one blocking wait for owner == t. A failed poll
 *     changes nothing, so the timed loop polls again only once a poll can
 *     succeed (next == owner);
 *   - time: "the deadline has passed" is a free choice after each failed
 *     poll.
 */

#define NPROC 3
#define ROUNDS 2
#define WRAP 4

byte next = 0;     /* ticket_lock.word, high half */
byte owner = 0;    /* ticket_lock.word, low half */
byte tickets = 0;  /* ghost: tickets taken and not yet released */
byte incs = 0;     /* ghost: threads in the critical section */
byte finished = 0; /* ghost: threads that have run to their end */

#define CONSISTENT assert((next - owner + WRAP) % WRAP == tickets)

proctype thread(byte me) {
    byte round = 0;
    byte t = 0; /* our ticket */
    byte n = 0; /* a value of next we read */
    byte o = 0; /* a value of owner we read */

    do
    :: round < ROUNDS ->
        round++;
        if
        :: /* ticket_lock */
            atomic { t = next; next = (next + 1) % WRAP; tickets++; CONSISTENT };
            owner == t; /* the wait loop's acquire load sees our ticket */
            goto acquired
        :: skip; /* ticket_timedlock */
poll:
            /* ticket_trylock: one relaxed load of the word... */
            atomic { n = next; o = owner };
            /* ...then, if it was free, the CAS (n, o) -> (o+1, o) */
            atomic {
                if
                :: n == o && next == n && owner == o ->
                    next = (o + 1) % WRAP; tickets++; CONSISTENT; goto acquired
                :: else -> n = 0; o = 0
                fi
            };
            if
            :: goto done /* lm_deadline_passed */
            :: next == owner -> goto poll /* poll again once it can succeed */
            fi
        fi;

acquired:
        atomic { incs++; assert(incs == 1) };
        incs--;
        /* ticket_unlock: relaxed load of owner (only the holder writes it),
         * then the release add that moves owner alone */
        o = owner;
        atomic { owner = (o + 1) % WRAP; tickets--; CONSISTENT };
done:
        t = 0;
        n = 0;
        o = 0
    :: break
    od;
    finished++
}

init {
    atomic {
        run thread(0);
        run thread(1);
        run thread(2)
    }
}

ltl all_finish { <> (finished == NPROC) }
