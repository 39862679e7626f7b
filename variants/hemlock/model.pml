/* Promela model of the hemlock back end (variants/hemlock/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   hemlock_trylock   reset the waiter's grant to NULL, CAS tail NULL -> it
 *   hemlock_lock      reset grant, swap the tail; wait until the
 *                     predecessor's grant is L, then ack (store NULL)
 *   hemlock_timedlock poll trylock until the deadline; never queues
 *   hemlock_unlock    CAS tail waiter -> NULL; else store L in our grant and
 *                     wait until the successor acks
 *
 * Thread i's waiter is node i, reused by each of its acquisitions, as a
 * caller reuses its lockmap_entry. Before each acquisition the waiter's
 * memory may hold anything: SPIN picks NULL or L for its grant word (L from
 * an earlier use is the dangerous garbage: it reads as a grant).
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round. A timedlock
 * that gives up after its first poll is a failed trylock.
 *
 * Checked:
 *   - mutual exclusion: the ghost incs rises in the step that takes the lock
 *     and falls in the step that hands it on; it never exceeds 1 (assert);
 *   - waiter lifetime: a waiter's memory is reused (its grant overwritten by
 *     garbage, or reset) only when no pointer to it is left in the tail or
 *     in a successor's `pred` (ghost refs[], asserts): unlock returns only
 *     once its successor is done with the waiter;
 *   - only an ack clears a grant, and only the successor acks (assert);
 *   - no stranded waiter and no deadlock: a waiter never granted, or an
 *     unlock whose ack never comes, is blocked for good: an invalid end
 *     state once the others have finished (only the end of a thread is a
 *     valid end state);
 *   - the timed abandon: a timed caller that gives up is not in the queue
 *     and leaves the lock as it found it; in the end the tail is NULL (assert
 *     in init);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock fails it as a deadlock does.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step;
 *   - hemlock_pause: pauses and yields only delay, so each wait loop is one
 *     blocking wait for its condition; a polling timed waiter may give up (a
 *     free choice) at any moment. A failed trylock changes nothing, so the
 *     poll only tries while the tail is NULL;
 *   - one lock: the grant word holds NULL or the address of that lock (L);
 *     with several locks a waiter grants only the one it releases, and a
 *     successor waits for its own lock's address, so other locks add
 *     nothing the waiter-per-acquisition design could confuse;
 *   - the relaxed reset of grant shares the step of the CAS or swap that
 *     publishes it (asserted: nobody can reach the waiter then).
 */

#define NPROC 3
#define ROUNDS 2
#define NIL 255
#define L 1 /* grant: the lock's address; 0 is NULL */

byte tail = NIL;   /* hemlock_lock.tail */
byte grant[NPROC]; /* hemlock_waiter.grant */
byte refs[NPROC];  /* ghost: the tail and successors' pred pointing at it */
byte incs = 0;     /* ghost: threads in the critical section */
byte finished = 0; /* ghost: threads that have run to their end */

#define ACQUIRE incs++; assert(incs == 1)
#define RELEASE incs--

/* The waiter's memory is ours to reuse: nobody can read it. */
#define UNREACHED assert(refs[me] == 0)

proctype thread(byte me) {
    byte round = 0;
    byte pred = NIL;

    do
    :: round < ROUNDS ->
        round++;
        /* the caller's waiter holds anything */
        if
        :: atomic { UNREACHED; grant[me] = 0 }
        :: atomic { UNREACHED; grant[me] = L }
        fi;
        if
        :: /* hemlock_lock: reset grant, swap the tail */
            atomic {
                UNREACHED;
                grant[me] = 0;
                pred = tail;
                tail = me;
                refs[me]++;
                if
                :: pred == NIL -> ACQUIRE; goto acquired
                :: else
                fi
            };
            atomic { grant[pred] == L -> assert(refs[pred] > 0); ACQUIRE };
            /* ack */
            atomic { assert(grant[pred] == L); grant[pred] = 0; refs[pred]--; pred = NIL };
            goto acquired
        :: skip /* hemlock_timedlock */
        fi;

poll: /* a failed trylock changes nothing: try only when it can succeed */
        if
        :: goto done /* deadline passed */
        :: tail == NIL
        fi;
        /* hemlock_trylock: reset grant, CAS tail NULL -> me */
        atomic {
            UNREACHED;
            grant[me] = 0;
            if
            :: tail == NIL -> tail = me; refs[me]++; ACQUIRE; goto acquired
            :: else
            fi
        };
        goto poll;

acquired:
        /* hemlock_unlock: CAS tail me -> NULL */
        atomic {
            if
            :: tail == me -> tail = NIL; refs[me]--; RELEASE; goto done
            :: else
            fi
        };
        atomic { RELEASE; grant[me] = L };
        atomic { grant[me] == 0 -> UNREACHED }; /* the successor's ack */
done:
        skip
    :: atomic { finished++; break }
    od
}

init {
    atomic {
        run thread(0);
        run thread(1);
        run thread(2)
    };
    /* Everyone is done: the queue is empty, nobody points at a waiter. */
    finished == NPROC;
    d_step {
        assert(tail == NIL);
        assert(refs[0] == 0 && refs[1] == 0 && refs[2] == 0)
    }
}

ltl all_finish { <> (finished == NPROC) }
