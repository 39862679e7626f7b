/* Promela model of the clh back end (variants/clh/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   clh_node_for      a node for the acquisition: a spare heap node, or the
 *                     waiter's own (lent) node when allocation fails; reset
 *                     to HELD
 *   clh_trylock       CAS tail NULL -> node; on failure the node goes back
 *   clh_lock          swap the tail; wait until the predecessor's node is
 *                     GRANTED or LENT; clh_take_over: inherit a GRANTED node,
 *                     store RETURNED in a LENT one
 *   clh_timedlock     trylock; else a node: a lent one polls trylock until
 *                     the deadline (clh_timed_poll); a heap one is queued,
 *                     and past the deadline CASes the predecessor's state
 *                     HELD -> node|ABANDONED and leaves (or, if the CAS finds
 *                     GRANTED or LENT, takes the lock over)
 *   clh_unlock        from the own node on: CAS tail n -> NULL (n is ours);
 *                     else CAS n's state HELD -> GRANTED (n passes to the
 *                     successor) or, for a lent node, -> LENT and wait for
 *                     RETURNED; else n was marked ABANDONED: n is ours
 *                     again, go on with the node in the mark
 *
 * Nodes are indices: 0 .. NHEAP-1 a heap, NHEAP + i thread i's waiter node
 * (w->own). The per-thread spare caches are modelled as one shared heap
 * whose lowest free node is handed out at once: any thread may reuse a node
 * right after it is given back, which covers every reuse the per-thread
 * caches allow (and more). Taking a node may also fail (SPIN tries both),
 * which lends the waiter's own node. A state is HELD 0, GRANTED 1, LENT 2,
 * RETURNED 3, or MARK + m: node m's owner gave up.
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round.
 *
 * Checked:
 *   - mutual exclusion: the ghost incs rises in the step that takes the lock
 *     and falls in the step that hands it on; it never exceeds 1 (assert);
 *   - node lifetime: every node read or written through the queue is
 *     allocated; a node is given back (freed) or reset for a new acquisition
 *     only when no pointer to it is left: the tail, a waiter's pred, a live
 *     ABANDONED mark, or an unlock walking it (ghost count REFS, asserts). So
 *     a lent node is reused only after its successor is done with it, and an
 *     abandoned node is recycled only once nobody can reach it;
 *   - no stranded waiter and no deadlock: a waiter whose predecessor's node
 *     never changes, or an unlock waiting for RETURNED that never comes, is
 *     blocked for good: an invalid end state once the others have finished
 *     (only the end of a thread is a valid end state);
 *   - the timed abandon: a timed waiter that gives up leaves at once, its
 *     node stays queued, and the lock still reaches everyone behind it; in
 *     the end the tail is NULL, every heap node is given back and nothing
 *     points anywhere (asserts in init);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock fails it as a deadlock does.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step;
 *   - clh_pause: pauses and yields only delay, so each wait loop is one
 *     blocking wait for its condition; a timed waiter may give up (a free
 *     choice) at any moment while it waits. A failed trylock changes
 *     nothing, so the poll only tries while the tail is NULL;
 *   - steps that touch only a node nobody else can reach (taking, resetting
 *     or giving back a node) share the step of the atomic operation next to
 *     them (asserted); a given-back node keeps its stale state, as freed
 *     memory does;
 *   - the cache's own bookkeeping (thread-local lists, the exit destructor).
 */

#define NPROC 3
#define ROUNDS 2
#define NHEAP 2
#define NNODES 5 /* NHEAP + NPROC */
#define NIL 255

#define HELD 0
#define GRANTED 1
#define LENT 2
#define RETURNED 3
#define MARK 4 /* MARK + m: node m abandoned */

byte tail = NIL;     /* clh_lock.tail */
byte st[NNODES];     /* clh_node.state */
bit live[NNODES];    /* ghost: allocated (waiter nodes always are) */
byte pred[NPROC];    /* each thread's pred, while it waits on it */
byte walk[NPROC];    /* each unlock's n, while it walks */
byte marked[NNODES]; /* ghost: live ABANDONED marks naming the node */
byte incs = 0;       /* ghost: threads in the critical section */
byte finished = 0;   /* ghost: threads that have run to their end */

#define ACQUIRE incs++; assert(incs == 1)
#define RELEASE incs--

#define HEAP(x) (x < NHEAP)
/* Pointers to node x anyone still holds. */
#define REFS(x) ((tail == x) + (pred[0] == x) + (pred[1] == x) + \
                 (pred[2] == x) + marked[x] + (walk[0] == x) + \
                 (walk[1] == x) + (walk[2] == x))
#define REACH(x) assert(x != NIL && live[x])
#define UNREACHED(x) assert(live[x] && REFS(x) == 0)

/* clh_node_for: a heap node (the lowest free one) or the own node, reset to
 * HELD. Part of the step of the CAS or swap that publishes it. */
inline node_for(x) {
    x = 0;
    do
    :: x < NHEAP && live[x] -> x++
    :: else -> break
    od;
    if
    :: x < NHEAP -> live[x] = 1
    :: x = NHEAP + me /* no spare and allocation failed: lend the own node */
    fi;
    UNREACHED(x);
    st[x] = HELD
}

/* clh_node_give_back(x): x is a heap node nobody can reach. */
inline give_back(x) {
    assert(HEAP(x));
    UNREACHED(x);
    live[x] = 0
}

/* clh_trylock: CAS tail NULL -> mine; a failed try gives its node back. */
inline trylock() {
    atomic {
        node_for(mine);
        if
        :: tail == NIL -> tail = mine; ACQUIRE; goto acquired
        :: else ->
            if
            :: HEAP(mine) -> give_back(mine)
            :: else
            fi;
            mine = NIL
        fi
    }
}

proctype thread(byte me) {
    byte round = 0;
    byte mine = NIL; /* w->node */
    byte s = HELD;   /* the predecessor's state we acted on */
    byte x = NIL;

    do
    :: round < ROUNDS ->
        round++;
        if
        :: /* clh_lock: swap the tail */
            atomic {
                node_for(mine);
                pred[me] = tail;
                tail = mine;
                if
                :: pred[me] == NIL -> ACQUIRE; goto acquired
                :: else
                fi
            };
            atomic {
                (st[pred[me]] == GRANTED || st[pred[me]] == LENT) ->
                REACH(pred[me]);
                s = st[pred[me]];
                ACQUIRE
            };
            goto take_over
        :: /* clh_timedlock */
            trylock();
            atomic {
                node_for(mine);
                if
                :: !HEAP(mine) -> mine = NIL; goto poll /* lent: poll */
                :: else
                fi;
                pred[me] = tail;
                tail = mine;
                if
                :: pred[me] == NIL -> ACQUIRE; goto acquired
                :: else
                fi
            };
            if
            :: atomic {
                   (st[pred[me]] == GRANTED || st[pred[me]] == LENT) ->
                   REACH(pred[me]);
                   s = st[pred[me]];
                   ACQUIRE
               }
            :: atomic { /* deadline passed: CAS HELD -> mine|ABANDONED */
                   REACH(pred[me]);
                   if
                   :: st[pred[me]] == HELD ->
                       st[pred[me]] = MARK + mine;
                       marked[mine]++;
                       pred[me] = NIL;
                       mine = NIL;
                       goto done
                   :: else ->
                       assert(st[pred[me]] == GRANTED || st[pred[me]] == LENT);
                       s = st[pred[me]];
                       ACQUIRE
                   fi
               }
            fi;
            goto take_over
        fi;

poll: /* clh_timed_poll: a failed trylock changes nothing, so only attempts
       * that can succeed are made (tail NULL) */
        if
        :: goto done /* deadline passed */
        :: tail == NIL
        fi;
        trylock();
        goto poll;

take_over: /* clh_take_over */
        if
        :: s == GRANTED ->
            atomic { x = pred[me]; pred[me] = NIL; give_back(x); x = NIL }
        :: s == LENT ->
            atomic { REACH(pred[me]); st[pred[me]] = RETURNED; pred[me] = NIL }
        fi;
        s = HELD;

acquired:
        walk[me] = mine;
        mine = NIL;
next_node:
        /* CAS tail n -> NULL: n is ours */
        atomic {
            REACH(walk[me]);
            if
            :: tail == walk[me] ->
                tail = NIL;
                RELEASE;
                x = walk[me];
                walk[me] = NIL;
                if
                :: HEAP(x) -> give_back(x)
                :: else
                fi;
                x = NIL;
                goto done
            :: else
            fi
        };
        /* CAS n's state HELD -> GRANTED (LENT for the own node), or take
         * the mark */
        atomic {
            REACH(walk[me]);
            if
            :: st[walk[me]] == HELD && HEAP(walk[me]) ->
                st[walk[me]] = GRANTED; RELEASE; walk[me] = NIL; goto done
            :: st[walk[me]] == HELD && !HEAP(walk[me]) ->
                st[walk[me]] = LENT; RELEASE
            :: else ->
                assert(st[walk[me]] >= MARK);
                x = walk[me];
                walk[me] = st[x] - MARK;
                marked[walk[me]]--;
                if
                :: HEAP(x) -> give_back(x) /* nobody can reach it */
                :: else
                fi;
                x = NIL;
                goto next_node
            fi
        };
        atomic { st[walk[me]] == RETURNED -> walk[me] = NIL }; /* lent */
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
        :: i < NNODES -> live[i] = (i >= NHEAP); i++
        :: else -> break
        od;
        i = 0;
        do
        :: i < NPROC -> pred[i] = NIL; walk[i] = NIL; i++
        :: else -> break
        od;
        i = 0
    };
    atomic {
        run thread(0);
        run thread(1);
        run thread(2)
    };
    /* Everyone is done: the queue is empty, every heap node given back, and
     * nothing points anywhere. */
    finished == NPROC;
    d_step {
        assert(tail == NIL);
        do
        :: i < NNODES -> assert(REFS(i) == 0 && (i >= NHEAP || !live[i])); i++
        :: else -> break
        od
    }
}

ltl all_finish { <> (finished == NPROC) }
