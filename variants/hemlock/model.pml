/* Promela model of the hemlock back end (variants/hemlock/lock.h), for SPIN.
 * Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   hemlock_node_reset / hemlock_enqueue
 *                      grant = NULL, swap the tail
 *   hemlock_trylock    reset the own node, CAS tail NULL -> it
 *   hemlock_lock       enqueue the own node; wait until the predecessor's
 *                      grant is L, then ack (store NULL)
 *   hemlock_timedlock  trylock; else a heap node (malloc), enqueue it, wait;
 *                      past the deadline CAS the predecessor's grant NULL ->
 *                      node|ABANDONED and leave (or, if the CAS finds L, own
 *                      the lock and ack); if malloc fails, poll trylock
 *   hemlock_unlock     from the own node on: CAS tail n -> NULL, else CAS
 *                      n's grant NULL -> L and wait for the ack, else (n was
 *                      marked ABANDONED) free an abandoned n and go on with
 *                      the node in the mark; in the end free the heap nodes
 *
 * Nodes are indices: 0 .. NPROC-1 the threads' own nodes (in their waiters,
 * reused by each acquisition, as a caller reuses its lockmap_entry),
 * NPROC .. NNODES-1 a heap whose lowest free node malloc hands out at once;
 * malloc may also fail (SPIN tries both). Before each acquisition the own
 * node's memory may hold anything: SPIN picks NULL or L for its grant (L from
 * an earlier use is the dangerous garbage: it reads as a grant). A grant word
 * is NULL (0), L (1) or 2 + m: node m's owner abandoned it.
 *
 * NPROC threads each run up to ROUNDS acquisitions, each one lock or
 * timedlock (SPIN tries both), and may stop after any round.
 *
 * Checked:
 *   - mutual exclusion: the ghost incs rises in the step that takes the lock
 *     and falls in the step that hands it on; it never exceeds 1 (assert);
 *   - node lifetime: every node read or written through the queue is
 *     allocated (no use after free); a node is freed, or an own node reset
 *     or overwritten with garbage, only when no pointer to it is left: the
 *     tail, a waiter's pred, a live ABANDONED mark, or an unlock walking it
 *     (ghost count REFS, asserts). So unlock returns only after the ack, and
 *     an abandoned node is freed only once its successor is done with it;
 *   - no stranded waiter and no deadlock: a waiter never granted, or an
 *     unlock whose ack never comes, is blocked for good: an invalid end
 *     state once the others have finished (only the end of a thread is a
 *     valid end state);
 *   - the timed abandon: a timed waiter that gives up leaves at once, its
 *     node stays queued, and the lock still reaches everyone behind it; in
 *     the end the tail is NULL, every heap node is freed and nothing points
 *     anywhere (asserts in init);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock fails it as a deadlock does.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step;
 *   - hemlock_pause: pauses and yields only delay, so each wait loop is one
 *     blocking wait for its condition; a timed waiter may give up (a free
 *     choice) at any moment while it waits. A failed trylock changes
 *     nothing, so the poll only tries while the tail is NULL;
 *   - one lock: a grant word holds NULL, the address of that lock (L) or a
 *     mark; other locks' addresses never appear in this lock's nodes;
 *   - steps that touch only a node nobody else can reach (reset, malloc,
 *     free) share the step of the atomic operation next to them (asserted);
 *     the freed memory keeps its stale grant, as real memory does.
 */

#define NPROC 3
#define ROUNDS 2
#define NHEAP 2
#define NNODES 5 /* NPROC + NHEAP */
#define NIL 255
#define L 1      /* grant: the lock's address; 0 is NULL */
#define MARK 2   /* grant 2 + m: node m abandoned */

byte tail = NIL;     /* hemlock_lock.tail */
byte grant[NNODES];  /* hemlock_node.grant */
bit live[NNODES];    /* ghost: allocated (own nodes always are) */
byte pred[NPROC];    /* each thread's pred, while it waits on it */
byte walk[NPROC];    /* each unlock's n, while it walks */
byte marked[NNODES]; /* ghost: live ABANDONED marks naming the node */
byte incs = 0;       /* ghost: threads in the critical section */
byte finished = 0;   /* ghost: threads that have run to their end */

#define ACQUIRE incs++; assert(incs == 1)
#define RELEASE incs--

/* Pointers to node x anyone still holds. */
#define REFS(x) ((tail == x) + (pred[0] == x) + (pred[1] == x) + \
                 (pred[2] == x) + marked[x] + (walk[0] == x) + \
                 (walk[1] == x) + (walk[2] == x))
#define REACH(x) assert(x != NIL && live[x])
#define UNREACHED(x) assert(live[x] && REFS(x) == 0)

/* free(x): x is a heap node nobody can reach. */
inline heap_free(x) {
    assert(x >= NPROC && x < NNODES);
    UNREACHED(x);
    live[x] = 0
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

/* hemlock_enqueue(mine): reset, swap. Part of one atomic step. */
inline enqueue() {
    UNREACHED(mine);
    grant[mine] = 0;
    pred[me] = tail;
    tail = mine;
    if
    :: pred[me] == NIL -> ACQUIRE; goto acquired
    :: else
    fi
}

/* hemlock_ack(pred) */
inline ack() {
    atomic { REACH(pred[me]); assert(grant[pred[me]] == L); grant[pred[me]] = 0; pred[me] = NIL }
}

proctype thread(byte me) {
    byte round = 0;
    byte mine = NIL; /* w->node */
    byte n = NIL;    /* (the unlock's n is walk[me]) */

    do
    :: round < ROUNDS ->
        round++;
        /* the caller's waiter holds anything */
        if
        :: atomic { UNREACHED(me); grant[me] = 0 }
        :: atomic { UNREACHED(me); grant[me] = L }
        fi;
        if
        :: /* hemlock_lock */
            atomic { mine = me; enqueue() };
            atomic { grant[pred[me]] == L -> REACH(pred[me]); ACQUIRE };
            ack();
            goto acquired
        :: /* hemlock_timedlock: trylock first */
            atomic {
                mine = me;
                UNREACHED(mine);
                grant[mine] = 0;
                if
                :: tail == NIL -> tail = mine; ACQUIRE; goto acquired
                :: else -> mine = NIL
                fi
            };
            /* malloc, then enqueue: malloc and reset touch only a node
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
                enqueue()
            };
            if
            :: atomic { grant[pred[me]] == L -> REACH(pred[me]); ACQUIRE }
            :: atomic { /* deadline passed: CAS NULL -> mine|ABANDONED */
                   REACH(pred[me]);
                   if
                   :: grant[pred[me]] == 0 ->
                       grant[pred[me]] = MARK + mine;
                       marked[mine]++;
                       pred[me] = NIL;
                       mine = NIL;
                       goto done
                   :: else -> assert(grant[pred[me]] == L); ACQUIRE
                   fi
               }
            fi;
            ack();
            goto acquired
        fi;

poll: /* hemlock_timed_poll: a failed trylock changes nothing, so only
       * attempts that can succeed are made (tail NULL) */
        if
        :: goto done /* deadline passed */
        :: tail == NIL
        fi;
        atomic {
            mine = me;
            UNREACHED(mine);
            grant[mine] = 0;
            if
            :: tail == NIL -> tail = mine; ACQUIRE; goto acquired
            :: else -> mine = NIL
            fi
        };
        goto poll;

acquired:
        walk[me] = mine;
next_node:
        /* CAS tail n -> NULL */
        atomic {
            REACH(walk[me]);
            if
            :: tail == walk[me] -> tail = NIL; RELEASE; goto finish
            :: else
            fi
        };
        /* CAS n's grant NULL -> L, or take the mark */
        atomic {
            REACH(walk[me]);
            if
            :: grant[walk[me]] == 0 -> grant[walk[me]] = L; RELEASE; goto ack_wait
            :: else ->
                assert(grant[walk[me]] >= MARK);
                n = walk[me];
                walk[me] = grant[n] - MARK;
                marked[walk[me]]--;
                if
                :: n != mine -> heap_free(n) /* abandoned, now unreachable */
                :: else
                fi;
                n = NIL
            fi
        };
        goto next_node;
ack_wait:
        atomic { grant[walk[me]] == 0 -> REACH(walk[me]) };
finish:
        atomic {
            n = walk[me];
            walk[me] = NIL;
            if
            :: n != mine -> heap_free(n)
            :: else
            fi;
            if
            :: mine >= NPROC -> heap_free(mine)
            :: else
            fi;
            n = NIL
        };
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
        :: i < NNODES -> live[i] = (i < NPROC); i++
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
    /* Everyone is done: the queue is empty, the heap all freed, and nothing
     * points anywhere. */
    finished == NPROC;
    d_step {
        assert(tail == NIL);
        do
        :: i < NNODES -> assert(REFS(i) == 0 && (i < NPROC || !live[i])); i++
        :: else -> break
        od
    }
}

ltl all_finish { <> (finished == NPROC) }
