/* Promela model of the clh back end (variants/clh/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   clh_node_for      a node for the acquisition: a spare heap node, or the
 *                     waiter's own (lent) node when malloc fails; reset HELD
 *   clh_trylock       CAS tail NULL -> node; on failure the node goes back
 *   clh_lock          swap the tail; wait until the predecessor's node is
 *                     GRANTED (inherit it) or LENT (store RETURNED)
 *   clh_timedlock     poll trylock until the deadline; never queues
 *   clh_unlock        CAS tail node -> NULL and keep the node; else store
 *                     GRANTED (the node passes to the successor), or for a
 *                     lent node store LENT and wait for RETURNED
 *
 * Nodes are indices: 0 .. NHEAP-1 a heap, NHEAP + i thread i's waiter node
 * (w->own). The per-thread spare caches are modelled as one shared heap
 * whose lowest free node is handed out at once: any thread may reuse a node
 * right after it is given back, which covers every reuse the per-thread
 * caches allow (and more). Taking a node may also fail (SPIN tries both),
 * which lends the waiter's own node.
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round. A timedlock
 * that gives up after its first poll is a failed trylock.
 *
 * Checked:
 *   - mutual exclusion: the ghost incs rises in the step that takes the lock
 *     and falls in the step that hands it on; it never exceeds 1 (assert);
 *   - node lifetime: every node read through the queue is allocated; a node
 *     is given back (freed) or reset for a new acquisition only when no
 *     pointer to it is left in the tail or in a waiter's `pred` (ghost
 *     refs[]), so a lent node is reused only after its successor is done;
 *   - no stranded waiter and no deadlock: a waiter whose predecessor's node
 *     never changes, or an unlock waiting for RETURNED that never comes, is
 *     blocked for good: an invalid end state once the others have finished
 *     (only the end of a thread is a valid end state);
 *   - no leak: when all threads are done the tail is NULL and every heap
 *     node was given back (assert in init);
 *   - the timed abandon: a timed caller that gives up holds no node and
 *     leaves the lock as it found it (the same end checks);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock fails it as a deadlock does.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step;
 *   - clh_pause: pauses and yields only delay, so each wait loop is one
 *     blocking wait for its condition; a polling timed waiter may give up (a
 *     free choice) at any moment. A failed trylock changes nothing, so the
 *     poll only tries while the tail is NULL;
 *   - steps that touch only a node nobody else can reach (taking, resetting
 *     or giving back a node) share the step of the atomic operation next to
 *     them (asserted: no pointer to the node is left);
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

byte tail = NIL;   /* clh_lock.tail */
byte st[NNODES];   /* clh_node.state */
bit live[NNODES];  /* ghost: allocated (waiter nodes always are) */
byte refs[NNODES]; /* ghost: the tail and waiters' pred pointing at it */
byte incs = 0;     /* ghost: threads in the critical section */
byte finished = 0; /* ghost: threads that have run to their end */

#define ACQUIRE incs++; assert(incs == 1)
#define RELEASE incs--

/* Reading node x through the queue. */
#define REACH(x) assert(x != NIL && live[x] && refs[x] > 0)

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
    :: x = NHEAP + me /* no spare and malloc failed: lend the own node */
    fi;
    assert(refs[x] == 0); /* nobody can read it any more */
    st[x] = HELD
}

/* clh_node_give_back(x): x is ours, and nobody can reach it. */
inline give_back(x) {
    assert(x < NHEAP && live[x] && refs[x] == 0);
    live[x] = 0 /* keeps its stale state, as freed memory does */
}

/* clh_trylock: CAS tail NULL -> mine; a failed try gives its node back. */
inline trylock() {
    atomic {
        node_for(mine);
        if
        :: tail == NIL -> tail = mine; refs[mine]++; ACQUIRE; goto acquired
        :: else ->
            if
            :: mine < NHEAP -> give_back(mine)
            :: else
            fi;
            mine = NIL
        fi
    }
}

proctype thread(byte me) {
    byte round = 0;
    byte mine = NIL; /* w->node */
    byte pred = NIL;

    do
    :: round < ROUNDS ->
        round++;
        if
        :: /* clh_lock: swap the tail; the tail's pointer to the old tail
            * becomes our pred, so only mine gains a reference */
            atomic {
                node_for(mine);
                pred = tail;
                tail = mine;
                refs[mine]++;
                if
                :: pred == NIL -> ACQUIRE; goto acquired
                :: else
                fi
            };
            if
            :: atomic {
                   st[pred] == GRANTED -> REACH(pred);
                   ACQUIRE;
                   refs[pred]--;
                   give_back(pred); /* inherited */
                   pred = NIL
               }
            :: atomic { st[pred] == LENT -> REACH(pred); ACQUIRE };
               atomic {
                   REACH(pred);
                   st[pred] = RETURNED;
                   refs[pred]--;
                   pred = NIL
               }
            fi;
            goto acquired
        :: skip /* clh_timedlock */
        fi;

poll: /* a failed trylock changes nothing: try only when it can succeed */
        if
        :: goto done /* deadline passed */
        :: tail == NIL
        fi;
        trylock();
        goto poll;

acquired:
        /* clh_unlock: CAS tail mine -> NULL */
        atomic {
            if
            :: tail == mine ->
                tail = NIL;
                refs[mine]--;
                RELEASE;
                if
                :: mine < NHEAP -> give_back(mine)
                :: else
                fi;
                goto done
            :: else
            fi
        };
        if
        :: mine < NHEAP ->
            /* store GRANTED: the node is the successor's now */
            atomic { RELEASE; st[mine] = GRANTED; mine = NIL }
        :: else ->
            atomic { RELEASE; st[mine] = LENT };
            atomic { st[mine] == RETURNED } /* wait for the successor */
        fi;
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
        i = 0
    };
    atomic {
        run thread(0);
        run thread(1);
        run thread(2)
    };
    /* Everyone is done: the queue is empty and every heap node given back. */
    finished == NPROC;
    d_step {
        assert(tail == NIL);
        do
        :: i < NNODES -> assert(refs[i] == 0 && (i >= NHEAP || !live[i])); i++
        :: else -> break
        od
    }
}

ltl all_finish { <> (finished == NPROC) }
