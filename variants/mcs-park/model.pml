/* Promela model of the mcs-park back end (variants/mcs-park/lock.h), for
 * SPIN. Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   mcs_park_node_reset lines 104-108  next = NULL, state = WAITING
 *   mcs_park_enqueue    lines 111-122  swap the tail, link behind the old one
 *   mcs_park_wait       lines 126-163  the park handshake: CAS WAITING ->
 *                                      PARKED, FUTEX_WAIT(state, PARKED),
 *                                      re-check; past the deadline CAS
 *                                      WAITING|PARKED -> ABANDONED
 *   mcs_park_trylock    lines 165-174  CAS tail NULL -> own node
 *   mcs_park_lock       lines 176-180  enqueue the own node, wait
 *   mcs_park_timedlock  lines 184-198  trylock; else malloc a node, enqueue,
 *                                      wait with the deadline; if malloc
 *                                      fails, poll trylock until the deadline
 *   mcs_park_unlock     lines 200-249  CAS the successor WAITING|PARKED ->
 *                                      GRANTED and FUTEX_WAKE it if it was
 *                                      PARKED; pass over and free ABANDONED
 *                                      nodes; or swing the tail back to NULL
 * and lm_futex_wait / lm_futex_wake of variants/platform.h (lines 31-45) as
 * the kernel implements them: WAIT compares the word and queues the caller in
 * one atomic step; WAKE unqueues the sleeper, if any. Each node's state word
 * has its own futex queue (asleep[]); only the node's owner sleeps on it.
 *
 * Nodes are indices: 0 .. NPROC-1 are the threads' own nodes (w->own),
 * NPROC .. NNODES-1 a heap. malloc hands out the lowest free heap node, so a
 * freed node is reused at once, as allocators do; it may also fail (SPIN
 * tries both). A releaser's FUTEX_WAKE can therefore reach a node whose owner
 * has moved on, or a reused heap node, and wake its new sleeper: the model
 * includes these stale wakes.
 *
 * NPROC threads each run up to ROUNDS acquisitions and may stop after any
 * round. Each acquisition of threads 1 and 2 is a lock or a timedlock (SPIN
 * tries both); thread 0 only calls lock: a third timed thread multiplies the
 * states by four and adds no new kind of step (one timed thread already
 * leaves two abandoned nodes in a row, and abandons from WAITING and from
 * PARKED).
 *
 * Checked:
 *   - mutual exclusion: the ghost incs rises in the step that takes the lock
 *     and falls in the step that hands it on; it never exceeds 1 (assert);
 *   - memory safety of the abandon protocol: no access to a freed heap node,
 *     no double free, a node is reset only when no queue neighbour can reach
 *     it, every node another thread touches is in the queue (asserts on the
 *     ghosts live[] and inq[]); FUTEX_WAKE touches no memory and is exempt;
 *   - no lost wake-up, no stranded waiter, no deadlock: a thread asleep on a
 *     node nobody will wake, a waiter never granted, or an unlock waiting
 *     for a link that never comes, is blocked for good: an invalid end state
 *     once the others have finished (only the end of a thread is a valid end
 *     state);
 *   - no leak: when all threads are done the tail is NULL and every heap
 *     node was freed (assert in init);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock (an endless loop) fails it as a deadlock does.
 *   - ltl woken: a waiter asleep on a GRANTED node is always woken
 *     eventually (pan -a, no fairness assumption needed, as above).
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step. Steps that touch
 *     only a node nobody else can reach (reset, malloc, free) share the step
 *     of the atomic operation next to them (asserted: the node is not in the
 *     queue);
 *   - the spin phase of mcs_park_wait (lines 128-134): its loads can only
 *     return on GRANTED, as the load after it does; they are that one load;
 *   - the yields and pauses of the link wait and of the poll: blocking waits
 *     for their conditions; a failed trylock changes nothing, so the poll
 *     only tries while tail is NULL;
 *   - time: "the deadline has passed" is a free choice at each check, and a
 *     timed FUTEX_WAIT may time out while queued; after that the deadline
 *     stays passed;
 *   - spurious returns from FUTEX_WAIT (signals): the waiter reloads its
 *     word after every return, so one just repeats the loop; the stale
 *     wakes above are spurious returns of this kind.
 */

#define NPROC 3
#define ROUNDS 2
#define NHEAP 2
#define NNODES 5 /* NPROC + NHEAP */
#define NIL 255

#define WAITING 0
#define PARKED 1
#define GRANTED 2
#define ABANDONED 3

byte tail = NIL;   /* mcs_park_lock.tail */
byte nxt[NNODES];  /* mcs_park_node.next */
byte st[NNODES];   /* mcs_park_node.state, the futex word */
bit asleep[NNODES]; /* the kernel's futex queue of each node's word */
bit live[NNODES];  /* ghost: allocated (own nodes always are) */
bit inq[NNODES];   /* ghost: in the queue, reachable by other threads */
byte incs = 0;     /* ghost: threads holding the lock */
byte finished = 0; /* ghost: threads that have run to their end */

/* The step that takes the lock and the step that hands it on. */
#define ACQUIRE incs++; assert(incs == 1)
#define RELEASE incs--

/* Another thread reaches node x through the queue. */
#define REACH(x) assert(x != NIL && live[x] && inq[x])

/* The inlines below are parts of atomic steps. */

/* mcs_park_node_reset(x): nobody else may reach x any more. */
inline node_reset(x) {
    assert(live[x] && !inq[x]);
    nxt[x] = NIL;
    st[x] = WAITING
}

/* x left the queue for good (ghost). Its stale link and state are cleared
 * so that states differing only in them are one; the asserts show nobody
 * reads them before the next reset. */
inline left(x) {
    inq[x] = 0;
    nxt[x] = NIL;
    st[x] = WAITING
}

/* free(x) */
inline heap_free(x) {
    assert(x >= NPROC && x < NNODES && live[x]);
    live[x] = 0;
    left(x)
}

/* malloc: the lowest free heap node, or NIL. */
inline heap_alloc(x) {
    x = NPROC;
    do
    :: x < NNODES && live[x] -> x++
    :: else -> break
    od;
    if
    :: x < NNODES -> live[x] = 1
    :: else -> x = NIL
    fi
}

/* The tail swap of mcs_park_enqueue(mine). */
inline swap_tail() {
    pred = tail;
    tail = mine;
    inq[mine] = 1;
    if
    :: pred == NIL -> ACQUIRE
    :: else
    fi
}

/* The lock is handed on: mine leaves the queue, a heap node is freed. */
inline release_mine() {
    RELEASE;
    left(mine);
    if
    :: mine != me -> heap_free(mine)
    :: else
    fi
}

/* The second half of mcs_park_enqueue: link behind pred, unless we hold
 * the lock (pred NULL). Then mcs_park_wait's first load, in the same step:
 * nobody can grant us before the link, so it reads WAITING (the spin phase
 * before it can only return on GRANTED, as the loop's later loads do). */
inline link() {
    if
    :: pred == NIL -> goto acquired
    :: else -> atomic { REACH(pred); nxt[pred] = mine; pred = NIL; s = st[mine] }
    fi
}

/* mcs_park_trylock: reset the own node, CAS tail NULL -> it. */
inline trylock() {
    atomic {
        mine = me;
        node_reset(mine);
        if
        :: tail == NIL -> tail = mine; inq[mine] = 1; ACQUIRE; goto acquired
        :: else
        fi
    }
}

/* s = a load of our state; GRANTED returns true. */
inline load_state() {
    s = st[mine];
    if
    :: s == GRANTED -> ACQUIRE; goto acquired
    :: else
    fi
}

proctype thread(byte me) {
    byte round = 0;
    byte mine = NIL; /* w->node */
    byte pred = NIL;
    byte n = NIL;
    byte succ = NIL;
    byte s = 0;
    bit timed = 0;   /* this round is a timedlock */
    bit expired = 0; /* its deadline is known to have passed */

    do
    :: round < ROUNDS ->
        round++;
        if
        :: /* mcs_park_lock: enqueue the own node */
            atomic { mine = me; node_reset(mine); swap_tail() };
            link()
        :: me > 0 -> /* mcs_park_timedlock (threads 1 and 2) */
            timed = 1;
            trylock();
            /* malloc, then mcs_park_enqueue */
            atomic {
                if
                :: heap_alloc(mine)
                :: mine = NIL /* malloc failed */
                fi;
                if
                :: mine == NIL -> goto poll
                :: else
                fi;
                node_reset(mine);
                swap_tail()
            };
            link()
        fi;

        /* mcs_park_wait(mine, timed ? deadline : NULL), after its first load */
        assert(s == WAITING);
wait_loop:
        if
        :: timed -> /* deadline passed: CAS s -> ABANDONED */
            atomic {
                if
                :: st[mine] == s -> st[mine] = ABANDONED; goto done
                :: else -> load_state()
                fi
            };
            goto wait_loop
        :: !expired /* not passed, or no deadline */
        fi;
        if
        :: s == WAITING -> /* CAS WAITING -> PARKED */
            atomic {
                if
                :: st[mine] == WAITING -> st[mine] = PARKED; s = PARKED
                :: else -> load_state(); goto wait_loop
                fi
            }
        :: else
        fi;
        /* lm_futex_wait(&state, PARKED, deadline): compare and queue at once;
         * then the load after it. That load can be in the same step as
         * noticing the wake-up, or the EAGAIN: they have no effect. */
        atomic {
            if
            :: st[mine] == PARKED -> asleep[mine] = 1
            :: else -> load_state(); goto wait_loop /* EAGAIN */
            fi
        };
        if
        :: atomic { !asleep[mine] -> load_state() } /* woken */
        :: timed && asleep[mine] -> /* ETIMEDOUT */
            atomic { asleep[mine] = 0; expired = 1 };
            atomic { load_state() }
        fi;
        goto wait_loop;

poll: /* malloc failed: poll trylock until the deadline (lines 190-194) */
        if
        :: goto done /* deadline passed */
        :: tail == NIL
        fi;
        trylock();
        goto poll;

acquired:
        /* mcs_park_unlock; n: the node whose successor gets the lock */
        n = mine;
next_node:
        atomic {
            REACH(n);
            succ = nxt[n];
            if
            :: succ != NIL -> goto grant
            :: else
            fi
        };
        /* CAS tail n -> NULL: the queue is empty */
        atomic {
            if
            :: tail == n ->
                tail = NIL;
                if
                :: n != mine -> heap_free(n)
                :: else
                fi;
                n = NIL;
                release_mine();
                goto done
            :: else
            fi
        };
        atomic { nxt[n] != NIL -> succ = nxt[n] } /* wait for the link */
grant:
        /* free an abandoned n, now unlinked; load succ's state */
        atomic {
            if
            :: n != mine -> heap_free(n)
            :: else
            fi;
            REACH(succ);
            s = st[succ];
            n = succ
        };
cas:
        /* while (s != ABANDONED) CAS s -> GRANTED */
        if
        :: s == ABANDONED -> succ = NIL; goto next_node
        :: else
        fi;
        atomic {
            REACH(succ);
            if
            :: st[succ] == s ->
                st[succ] = GRANTED;
                n = NIL;
                release_mine();
                if
                :: s == PARKED
                :: else -> goto done
                fi
            :: else -> s = st[succ]; goto cas
            fi
        };
        /* lm_futex_wake(&succ->state, 1) */
        asleep[succ] = 0;
done:
        atomic {
            mine = NIL;
            n = NIL;
            succ = NIL;
            s = 0;
            timed = 0;
            expired = 0
        }
    :: atomic { finished++; break }
    od
}

init {
    byte i;
    d_step {
        i = 0;
        do
        :: i < NNODES ->
            nxt[i] = NIL;
            live[i] = (i < NPROC);
            i++
        :: else -> break
        od;
        i = 0
    };
    atomic {
        run thread(0);
        run thread(1);
        run thread(2)
    };
    /* Everyone is done: the queue is empty and the heap all freed. */
    finished == NPROC;
    d_step {
        assert(tail == NIL);
        do
        :: i < NNODES -> assert(!inq[i] && (i < NPROC || !live[i])); i++
        :: else -> break
        od
    }
}

#define GRANTED_ASLEEP(x) (st[x] == GRANTED && asleep[x])
#define SLEEPS_WITH_LOCK (GRANTED_ASLEEP(0) || GRANTED_ASLEEP(1) || \
    GRANTED_ASLEEP(2) || GRANTED_ASLEEP(3) || GRANTED_ASLEEP(4))

ltl all_finish { <> (finished == NPROC) }
ltl woken { [] (SLEEPS_WITH_LOCK -> <> !SLEEPS_WITH_LOCK) }
