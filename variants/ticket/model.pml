/* Promela model of the ticket back end (variants/ticket/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   ticket_trylock   lines  77-88   load owner, CAS next: owner -> owner+1
 *   ticket_lock      lines 103-115  take a ticket (fetch-and-add on next),
 *                                   wait until owner equals it
 *   ticket_timedlock lines 121-132  poll trylock until the deadline; never
 *                                   queues
 *   ticket_unlock    lines 134-140  load owner, store owner+1
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round. A timedlock
 * that gives up after its first poll is a failed trylock.
 *
 * Checked:
 *   - mutual exclusion: at most one thread in the critical section (assert
 *     on incs), and next - owner is the number of tickets taken and not yet
 *     released (assert after every change of next or owner);
 *   - the claim of ticket_trylock's comment: when its CAS succeeds, owner
 *     still holds the value it read (assert);
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
 *   - ticket_backoff (lines 91-101): the pauses and yields only delay, so
 *     lock's wait loop is one blocking wait for owner == t. Its two relaxed
 *     loads only size the pause. A failed poll changes nothing, so the
 *     timed loop polls again only once a poll can succeed (next == owner);
 *   - time: "the deadline has passed" is a free choice after each failed
 *     poll;
 *   - the counters are bytes: with at most NPROC * ROUNDS tickets they never
 *     wrap. The C code's 32-bit counters wrap too, which matters only if
 *     2^32 tickets are taken between a poller's load of owner and its CAS
 *     (not modelled).
 */

#define NPROC 3
#define ROUNDS 2

byte next = 0;     /* ticket_lock.next */
byte owner = 0;    /* ticket_lock.owner */
byte tickets = 0;  /* ghost: tickets taken and not yet released */
byte incs = 0;     /* ghost: threads in the critical section */
byte finished = 0; /* ghost: threads that have run to their end */

#define CONSISTENT assert(next - owner == tickets)

proctype thread(byte me) {
    byte round = 0;
    byte t = 0; /* our ticket */
    byte o = 0; /* a value of owner we read */

    do
    :: round < ROUNDS ->
        round++;
        if
        :: /* ticket_lock */
            atomic { t = next; next++; tickets++; CONSISTENT };
            owner == t; /* the wait loop's acquire load sees our ticket */
            goto acquired
        :: skip; /* ticket_timedlock */
poll:
            /* ticket_trylock: acquire load of owner, then CAS next o -> o+1 */
            o = owner;
            atomic {
                if
                :: next == o ->
                    assert(owner == o); /* "nobody holds a ticket and owner is still o" */
                    next = o + 1; tickets++; CONSISTENT; goto acquired
                :: else -> o = 0
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
         * then the release store of owner + 1 */
        o = owner;
        atomic { owner = o + 1; tickets--; CONSISTENT };
done:
        t = 0;
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
