/* Promela model of the twa back end (variants/twa/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   twa_trylock    load owner, CAS next: owner -> owner+1
 *   twa_lock       take a ticket (fetch-and-add on next); if more than
 *                  TWA_NEAR tickets are ahead, twa_wait_far: read the slot,
 *                  recheck owner, wait until the slot changes, repeat; then
 *                  wait until owner equals the ticket
 *   twa_timedlock  poll trylock until the deadline; never queues
 *   twa_unlock     load owner, store owner+1 (k), bump slot(k + TWA_NEAR)
 *
 * The waiting array has NSLOTS slots and ticket t waits on slot t % NSLOTS:
 * with 2 slots, tickets two apart share a slot, so the model covers the
 * collisions that the C code's 4096 slots make rare (spurious wake-ups, and
 * a bump meant for another waiter).
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round. A timedlock
 * that gives up after its first poll is a failed trylock.
 *
 * Checked:
 *   - mutual exclusion: at most one thread in the critical section (assert
 *     on incs), and next - owner is the number of tickets taken and not yet
 *     released (assert after every change of next or owner);
 *   - no lost wake-up and no deadlock: a far waiter that waits on its slot
 *     after the bump meant for it, or a ticket never served, is blocked for
 *     good: an invalid end state once the others have finished (only the end
 *     of a thread is a valid end state);
 *   - the timed abandon: a timed caller that gives up holds no ticket, so
 *     nobody waits for it (the same checks);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock fails it as a deadlock does.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step. (The C code's
 *     release bump / acquire slot read gives the one ordering the wake-up
 *     argument needs: a waiter that reads a bumped slot sees the new owner.)
 *   - twa_pause: pauses and yields only delay, so each wait loop is one
 *     blocking wait for its condition; a polling timed waiter may give up (a
 *     free choice) at any moment. A failed poll changes nothing, so the
 *     timed loop polls again only once a poll can succeed (next == owner);
 *   - the hash: slot t % NSLOTS stands for the address hash plus stride;
 *   - the counters are bytes: with at most NPROC * ROUNDS tickets and bumps
 *     they never wrap. The C code's 32-bit counters wrap too; a slot that
 *     wraps all the way round (2^32 bumps) between a waiter's read and its
 *     recheck would be missed (not modelled).
 */

#define NPROC 3
#define ROUNDS 2
#define NEAR 1   /* TWA_NEAR */
#define NSLOTS 2 /* TWA_WAIT_SLOTS, shrunk to force collisions */

byte next = 0;     /* twa_lock.next */
byte owner = 0;    /* twa_lock.owner */
byte slot[NSLOTS]; /* twa_wait_array */
byte tickets = 0;  /* ghost: tickets taken and not yet released */
byte incs = 0;     /* ghost: threads in the critical section */
byte finished = 0; /* ghost: threads that have run to their end */

#define CONSISTENT assert(next - owner == tickets)

proctype thread(byte me) {
    byte round = 0;
    byte t = 0; /* our ticket */
    byte o = 0; /* a value of owner we read */
    byte u = 0; /* a value of our slot we read */

    do
    :: round < ROUNDS ->
        round++;
        if
        :: /* twa_lock */
            atomic { t = next; next++; tickets++; CONSISTENT };
            if
            :: t - owner > NEAR -> /* twa_wait_far */
far:
                u = slot[t % NSLOTS];
                if
                :: t - owner <= NEAR
                :: else -> slot[t % NSLOTS] != u; goto far
                fi
            :: else
            fi;
            atomic { owner == t -> incs++; assert(incs == 1) };
            goto acquired
        :: skip /* twa_timedlock */
        fi;

poll: /* twa_trylock: acquire load of owner, then CAS next o -> o+1 */
        o = owner;
        atomic {
            if
            :: next == o ->
                assert(owner == o);
                next = o + 1; tickets++; CONSISTENT;
                incs++; assert(incs == 1);
                goto acquired
            :: else -> o = 0
            fi
        };
        if
        :: goto done /* deadline passed */
        :: next == owner -> goto poll /* poll again once it can succeed */
        fi;

acquired:
        incs--;
        /* twa_unlock: relaxed load of owner (only the holder writes it), the
         * release store of owner + 1, then the bump of its near waiter's
         * slot */
        o = owner;
        atomic { owner = o + 1; tickets--; CONSISTENT };
        slot[(o + 1 + NEAR) % NSLOTS]++;
done:
        t = 0;
        o = 0;
        u = 0
    :: atomic { finished++; break }
    od
}

init {
    atomic {
        run thread(0);
        run thread(1);
        run thread(2)
    }
}

ltl all_finish { <> (finished == NPROC) }
