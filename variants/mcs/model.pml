/* Promela model of the mcs back end (variants/mcs/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   mcs_node_reset   lines  98-102  node: next = NULL, state = WAITING
 *   mcs_enqueue      lines 105-117  swap the tail, link behind the old one
 *   mcs_trylock      lines 119-128  CAS tail NULL -> own node
 *   mcs_lock         lines 130-138  enqueue the own node, wait for GRANTED
 *   mcs_timed_poll   lines 141-148  no heap node: poll trylock until the
 *                                   deadline
 *   mcs_timedlock    lines 152-175  trylock; else malloc a node, enqueue it,
 *                                   wait; past the deadline CAS it WAITING ->
 *                                   ABANDONED and leave (or own the lock if
 *                                   the CAS finds GRANTED)
 *   mcs_unlock       lines 177-216  hand over to the next node, passing over
 *                                   and freeing ABANDONED ones, or swing the
 *                                   tail back to NULL
 *
 * Nodes are indices: 0 .. NPROC-1 are the threads' own nodes (w->own),
 * NPROC .. NNODES-1 a heap. malloc hands out the lowest free heap node, so a
 * freed node is reused at once, as allocators do; it may also fail (SPIN
 * tries both), which takes the polling path.
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round.
 *
 * Checked:
 *   - mutual exclusion: the ghost incs rises in the step that takes the lock
 *     and falls in the step that hands it on; it never exceeds 1 (assert);
 *   - memory safety of the abandon protocol: no access to a freed heap node
 *     and no double free; a node is reset only while no queue neighbour can
 *     reach it, and every node another thread touches is in the queue
 *     (asserts on the ghosts live[] and inq[]);
 *   - no stranded waiter and no deadlock: a waiter never granted, or an
 *     unlock waiting for a link that never comes, is blocked for good: an
 *     invalid end state once the others have finished (only the end of a
 *     thread is a valid end state);
 *   - no leak: when all threads are done the tail is NULL and every heap
 *     node was freed (assert in init);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock (an endless loop) fails it as a deadlock does.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step;
 *   - mcs_pause (lines 89-96): pauses and yields only delay, so each wait
 *     loop is one blocking wait for its condition; a timed waiter may check
 *     its deadline (a free choice) at any moment while it waits. A failed
 *     trylock changes nothing, so the poll only tries while tail is NULL;
 *   - steps that touch only a node nobody else can reach (reset, malloc,
 *     free) share the step of the atomic operation next to them (asserted:
 *     the node is not in the queue); the lock counts as taken and handed on
 *     in the steps of the operations that do so, with no separate critical
 *     section step;
 *   - malloc is the lowest free node of a small heap, or failure.
 */

#define NPROC 3
#define ROUNDS 2
#define NHEAP 2
#define NNODES 5 /* NPROC + NHEAP */
#define NIL 255

#define WAITING 0
#define GRANTED 1
#define ABANDONED 2

byte tail = NIL;    /* mcs_lock.tail */
byte nxt[NNODES];   /* mcs_node.next */
byte st[NNODES];    /* mcs_node.state */
bit live[NNODES];   /* ghost: allocated (own nodes always are) */
bit inq[NNODES];    /* ghost: in the queue, reachable by other threads */
byte incs = 0;      /* ghost: threads in the critical section */
byte finished = 0;  /* ghost: threads that have run to their end */

/* The step that takes the lock and the step that hands it on. */
#define ACQUIRE incs++; assert(incs == 1)
#define RELEASE incs--

/* Another thread reaches node x through the queue. */
#define REACH(x) assert(x != NIL && live[x] && inq[x])

/* mcs_node_reset(x): nobody else may reach x any more. */
inline node_reset(x) {
    assert(live[x] && !inq[x]);
    nxt[x] = NIL;
    st[x] = WAITING
}

/* x joined the queue (ghost, part of the swap or CAS). */
inline joined(x) {
    inq[x] = 1
}

/* x left the queue for good (ghost). Its stale fields are cleared so that
 * states differing only in them are one; the asserts show nobody reads
 * them before the next reset. */
inline left(x) {
    inq[x] = 0;
    nxt[x] = NIL;
    st[x] = WAITING
}

/* The inlines below are parts of atomic steps. */

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

/* The lock is handed on: mine leaves the queue, and a heap node is freed.
 * Part of the releasing CAS's step: nobody can reach mine any more. */
inline release_mine() {
    RELEASE;
    left(mine);
    if
    :: mine != me -> heap_free(mine)
    :: else
    fi
}

/* The second half of mcs_enqueue: link behind pred, unless we hold the lock
 * (pred NULL). The first half, reset and swap, is in the callers' step. */
inline link() {
    if
    :: pred == NIL -> goto acquired
    :: else -> atomic { REACH(pred); nxt[pred] = mine; pred = NIL }
    fi
}

/* The tail swap of mcs_enqueue(mine). */
inline swap_tail() {
    pred = tail;
    tail = mine;
    joined(mine);
    if
    :: pred == NIL -> ACQUIRE
    :: else
    fi
}

/* mcs_trylock: reset the own node, CAS tail NULL -> it. */
inline trylock() {
    atomic {
        mine = me;
        node_reset(mine);
        if
        :: tail == NIL -> tail = mine; joined(mine); ACQUIRE; goto acquired
        :: else
        fi
    }
}

proctype thread(byte me) {
    byte round = 0;
    byte mine = NIL; /* w->node */
    byte pred = NIL;
    byte n = NIL;
    byte succ = NIL;

    do
    :: round < ROUNDS ->
        round++;
        if
        :: /* mcs_lock: enqueue the own node, wait for GRANTED */
            atomic { mine = me; node_reset(mine); swap_tail() };
            link();
            atomic { st[mine] == GRANTED -> ACQUIRE };
            goto acquired
        :: /* mcs_timedlock */
            trylock();
            /* malloc, then mcs_enqueue: malloc and reset touch only a node
             * nobody else can reach, so they share the swap's step */
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
            link();
            if
            :: atomic { st[mine] == GRANTED -> ACQUIRE }
            :: /* deadline passed: CAS WAITING -> ABANDONED */
                atomic {
                    true; /* (keeps the else below local to this CAS) */
                    if
                    :: st[mine] == WAITING -> st[mine] = ABANDONED; goto done
                    :: else -> assert(st[mine] == GRANTED); ACQUIRE
                    fi
                }
            fi;
            goto acquired
        fi;

poll: /* mcs_timed_poll. A failed trylock changes nothing, so only attempts
       * that can succeed are made: those that start while tail is NULL. */
        if
        :: goto done /* deadline passed */
        :: tail == NIL
        fi;
        trylock();
        goto poll;

acquired:
        /* mcs_unlock; n: the node whose successor gets the lock */
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
        /* free an abandoned n, now unlinked, then CAS succ WAITING -> GRANTED
         * (one step: the free touches only a node nobody else can reach) */
        atomic {
            if
            :: n != mine -> heap_free(n)
            :: else
            fi;
            REACH(succ);
            if
            :: st[succ] == WAITING ->
                st[succ] = GRANTED;
                n = NIL;
                succ = NIL;
                release_mine();
                goto done
            :: else -> assert(st[succ] == ABANDONED); n = succ; succ = NIL
            fi
        };
        goto next_node;
done:
        mine = NIL
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

ltl all_finish { <> (finished == NPROC) }
