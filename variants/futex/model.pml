/* Promela model of the futex back end (variants/futex/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   futex_trylock    lines  57-65   CAS 0 -> 1
 *   futex_lock_spin  lines  70-77   bounded spin on the word
 *   futex_lock_slow  lines  80-105  swap in 2, give up past the deadline,
 *                                   FUTEX_WAIT(word, 2), repeat
 *   futex_lock       lines 107-109  trylock, then the slow path
 *   futex_timedlock  lines 112-115  the same with a deadline
 *   futex_unlock     lines 117-124  swap in 0, FUTEX_WAKE(1) if it was 2
 * and lm_futex_wait / lm_futex_wake of variants/platform.h (lines 31-45) as
 * the kernel implements them: WAIT compares the word and queues the caller in
 * one atomic step, WAKE dequeues one sleeper (any one: the model lets SPIN
 * pick) and makes it runnable.
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round, so every state
 * where the others have all gone home is reachable.
 *
 * Checked:
 *   - mutual exclusion: at most one thread in the critical section (assert on
 *     incs), and the word is 0 exactly when nobody holds the lock (assert on
 *     the ghost holders after every change of the word);
 *   - no deadlock and no lost wake-up: a thread asleep in FUTEX_WAIT that
 *     nobody will wake is blocked for good; when the others have finished
 *     that is an invalid end state. Only the end of a thread is a valid end
 *     state, so any stuck thread fails the safety run;
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock (an endless loop) fails it as a deadlock does.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step;
 *   - the spin of futex_lock_spin: its loads only watch the word, so it is
 *     one load at some moment (any moment: SPIN interleaves it anywhere),
 *     which covers both "saw 0" and "gave up while still 1". The second
 *     call, after a wait, has no effect on the algorithm and is left out;
 *   - time: "the deadline has passed" is a free choice at each check, and a
 *     timed FUTEX_WAIT may time out only while still queued (the kernel's
 *     wake and timeout race for the dequeue; one wins). After a timeout the
 *     deadline stays passed;
 *   - spurious returns from FUTEX_WAIT (signals): the code re-checks the
 *     word after every return, so such a return just repeats the loop from
 *     the same state;
 *   - the 32-bit word holds 0, 1 or 2 only; CPU relax hints.
 */

#define NPROC 3
#define ROUNDS 2

#define UNLOCKED 0
#define LOCKED 1
#define CONTENDED 2

byte state = UNLOCKED; /* futex_lock.state, also the futex word */
bit asleep[NPROC];     /* the kernel's futex queue for &state */
byte holders = 0;      /* ghost: threads that own the lock */
byte incs = 0;         /* ghost: threads in the critical section */
byte finished = 0;     /* ghost: threads that have run to their end */

/* After every change of the word: it is 0 exactly when nobody holds it. */
#define CONSISTENT assert(holders <= 1 && (state == UNLOCKED) == (holders == 0))

/* lm_futex_wake(&state, 1): dequeue one sleeper, if any, and wake it. */
inline futex_wake_one() {
    atomic {
        if
        :: asleep[0] -> asleep[0] = 0
        :: asleep[1] -> asleep[1] = 0
        :: asleep[2] -> asleep[2] = 0
        :: else
        fi
    }
}

proctype thread(byte me) {
    byte round = 0;
    bit timed = 0;   /* this round is a timedlock */
    bit expired = 0; /* its deadline is known to have passed */

    do
    :: round < ROUNDS ->
        round++;
        if
        :: timed = 0
        :: timed = 1
        fi;

        /* futex_trylock: CAS 0 -> 1 */
        atomic {
            if
            :: state == UNLOCKED -> state = LOCKED; holders++; CONSISTENT; goto acquired
            :: else
            fi
        };

        /* futex_lock_slow: the spin's last load; if it saw 0, a CAS 0 -> 1 */
        if
        :: state == UNLOCKED ->
            atomic {
                if
                :: state == UNLOCKED -> state = LOCKED; holders++; CONSISTENT; goto acquired
                :: else
                fi
            }
        :: state != UNLOCKED
        fi;
slow:
        /* swap in 2; the old value 0 means we own the lock */
        atomic {
            if
            :: state == UNLOCKED -> state = CONTENDED; holders++; CONSISTENT; goto acquired
            :: else -> state = CONTENDED; CONSISTENT
            fi
        };
        /* if (deadline && lm_deadline_passed(deadline)) return false; */
        if
        :: timed ->
            if
            :: goto done
            :: !expired
            fi
        :: else
        fi;
        /* lm_futex_wait(&state, CONTENDED, deadline): compare and queue at once */
        atomic {
            if
            :: state == CONTENDED -> asleep[me] = 1
            :: else /* EAGAIN */
            fi
        };
        if
        :: !asleep[me] /* woken, or never slept */
        :: timed && asleep[me] -> atomic { asleep[me] = 0; expired = 1 } /* ETIMEDOUT */
        fi;
        goto slow;

acquired:
        atomic { incs++; assert(incs == 1) };
        incs--;
        /* futex_unlock: swap in 0; FUTEX_WAKE(1) if the old value was 2 */
        atomic {
            if
            :: state == CONTENDED -> state = UNLOCKED; holders--; CONSISTENT
            :: else -> state = UNLOCKED; holders--; CONSISTENT; goto done
            fi
        };
        futex_wake_one();
done:
        timed = 0;
        expired = 0
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
