/* Promela model of the shfl back end (variants/shfl/lock.h), for SPIN. Run
 * by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   shfl_trylock     load the word and the tail; if LOCKED, or the queue
 *                    is non-empty and the steal count at the limit, fail;
 *                    CAS the word to LOCKED, counting the steal if queued
 *   shfl_enqueue     reset the node (NUMA node: thread 1 on node 1, the
 *                    others on node 0), swap the tail, link behind the old
 *                    tail
 *   shfl_wait_turn   spin (a load), past the deadline CAS WAITING|PARKED ->
 *                    ABANDONED, else CAS WAITING -> PARKED and
 *                    FUTEX_WAIT(state, PARKED); after any return spin again
 *   shfl_wake_next   load the head's link, CAS the successor PARKED ->
 *                    WAITING (one step, see below), FUTEX_WAKE it
 *   shfl_shuffle     find, behind the run of the head's NUMA node right
 *                    behind it, a waiter of that node that has a successor;
 *                    move it to the end of the run with three link stores
 *   shfl_head_wait   wake the successor early; then: CAS a free word to
 *                    LOCKED (count reset); shuffle (and wake the new
 *                    successor early if it changed); past the deadline give up
 *   shfl_pass        CAS the successor WAITING|PARKED -> HEAD and FUTEX_WAKE
 *                    it if it was PARKED; pass over and free ABANDONED nodes;
 *                    or swing the tail back to NULL
 *   shfl_lock        trylock; else enqueue the own node, wait for the turn,
 *                    wait for the word, pass headship on
 *   shfl_timedlock   trylock; else malloc a node, as lock with the deadline,
 *                    pass headship on, free the node; if malloc fails, poll
 *                    trylock until the deadline
 *   shfl_unlock      clear LOCKED, keep the count
 * and lm_futex_wait / lm_futex_wake as the kernel implements them: WAIT
 * compares the word and queues the caller in one atomic step; WAKE unqueues a
 * sleeper, if any. Each node's state word has its own futex queue (asleep[]),
 * where only the node's owner sleeps.
 *
 * Nodes are indices: 0 .. NPROC-1 are the threads' own nodes, NPROC ..
 * NNODES-1 a heap. malloc hands out the lowest free heap node, so a freed
 * node is reused at once; it may also fail (SPIN tries both). One heap node
 * is enough for every case: an abandoned heap node stays in the queue while
 * its owner queues again with its own node, so the queue can hold four
 * nodes, e.g. head (node 0), abandoned (node 1), waiter (node 0), waiter
 * (node 1): the shuffler moves the third past the second.
 *
 * NPROC threads each run up to ROUNDS acquisitions and may stop after any
 * round. Each acquisition of threads 1 and 2 is a lock or a timedlock (SPIN
 * tries both); thread 0 only calls lock.
 *
 * Checked:
 *   - mutual exclusion: the ghost incs rises in the step that takes the word
 *     and falls in the unlock; it never exceeds 1 (assert);
 *   - the steal bound: the count of steals since the head last took the
 *     word never exceeds SLIMIT (assert);
 *   - memory safety of the abandon protocol: no access to a freed heap node,
 *     no double free, a node is reset only when no queue neighbour can reach
 *     it, every node another thread touches is in the queue (asserts);
 *   - the shuffler never writes the link of the tail or of a node without a
 *     successor (a newcomer may be writing it), and never loses a node: as
 *     many nodes are reachable from the head after a move as before it, or
 *     more (newcomers);
 *   - one head at a time (ghost heads);
 *   - no lost wake-up, no stranded waiter, no deadlock: a thread asleep for
 *     good, a waiter never made head, or a pass waiting for a link that
 *     never comes, is an invalid end state once the others have finished;
 *   - no leak: when all threads are done the word is free, the tail NULL
 *     and every heap node freed (assert in init);
 *   - ltl all_finish: every execution ends with all threads done (each wait
 *     in the model blocks on its condition, so a correct model has no
 *     infinite execution and a livelock fails it, as a deadlock does);
 *   - ltl woken: a waiter asleep on a node made HEAD is always woken.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step; steps on a node
 *     nobody else can reach share the step of the atomic next to them;
 *   - the two loads of trylock are one step (a change of the word between
 *     them makes the CAS fail, as a change before the first load would);
 *   - the shuffler's walk is one step: the links it reads change
 *     concurrently only from NULL to a node (a newcomer linking behind the
 *     tail), and it moves only nodes it saw with a successor; its three
 *     stores are separate steps. The head shuffles at most once per turn
 *     as head, and the run budget (SHFL_LOCAL_LIMIT) is not modelled: it
 *     only stops shuffling;
 *   - SHFL_STEAL_LIMIT is SLIMIT = 1, so that the limit is reached;
 *   - a trylock whose CAS fails gives up (the code retries while the word
 *     is free; a retry is another attempt, which lock() or the poll makes);
 *     and a trylock may fail on a free word whatever the others do: in the
 *     code it can lose the word to a steal that is undone before it looks
 *     again. This lets SPIN build the queues the shuffler works on with the
 *     few threads it can afford;
 *   - spin phases, yields and pauses: a spinning head is a wait for the
 *     word to be free (or for its other choices); the waiter's spin is its
 *     state load;
 *   - time: "the deadline has passed" is a free choice at each check, and a
 *     timed FUTEX_WAIT may time out while queued; after that the deadline
 *     stays passed;
 *   - spurious returns from FUTEX_WAIT: every return is followed by a load
 *     of the state, so one just repeats the loop; stale wakes (a
 *     FUTEX_WAKE reaching a node whose owner moved on) are included.
 */

#define NPROC 3
#define ROUNDS 2
#define NHEAP 1
#define NNODES 4 /* NPROC + NHEAP */
#define NIL 255
#define SLIMIT 1

/* the word: LOCKED, and the steal count in the bits above it */
#define LOCKED 1
#define ONE 2
#define COUNT(w) ((w) / ONE)

/* node states */
#define WAITING 0
#define PARKED 1
#define HEAD 2
#define ABANDONED 3

byte word = 0;
byte tail = NIL;
byte nxt[NNODES];   /* shfl_node.next */
byte st[NNODES];    /* shfl_node.state, the futex word */
bit numa[NNODES];   /* shfl_node.numa */
bit asleep[NNODES]; /* the kernel's futex queue of each node's word */
bit live[NNODES];   /* ghost: allocated (own nodes always are) */
bit inq[NNODES];    /* ghost: in the queue */
byte qlen = 0;      /* ghost: nodes in the queue */
byte incs = 0;      /* ghost: threads holding the lock */
byte heads = 0;     /* ghost: threads that are the queue's head */
byte finished = 0;  /* ghost: threads that have run to their end */
/* Scratch of the ghost walk reachable(), used only inside one atomic step:
 * hidden, so not part of the state. */
hidden byte k;
hidden byte c;

#define ACQUIRE incs++; assert(incs == 1)
#define RELEASE assert(incs == 1); incs--

/* Another thread reaches node x through the queue. */
#define REACH(x) assert(x != NIL && live[x] && inq[x])

inline node_reset(x) {
    assert(live[x] && !inq[x]);
    nxt[x] = NIL;
    st[x] = WAITING
}

/* x left the queue for good (ghost); its stale fields are cleared so that
 * states differing only in them are one. */
inline left(x) {
    if
    :: inq[x] -> qlen--
    :: else
    fi;
    inq[x] = 0;
    nxt[x] = NIL;
    st[x] = WAITING;
    numa[x] = 0
}

inline heap_free(x) {
    assert(x >= NPROC && x < NNODES && live[x]);
    live[x] = 0;
    left(x)
}

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

inline swap_tail() {
    pred = tail;
    tail = mine;
    inq[mine] = 1;
    qlen++;
    if
    :: pred == NIL -> heads++; assert(heads == 1)
    :: else
    fi
}

/* shfl_trylock: a failed attempt falls through, a success goes to acquired.
 * may_lose: the attempt may also lose a race on a free word (see the header;
 * not in the poll, whose retries would make that an endless loop). */
inline trylock(may_lose) {
    atomic { v = word; q = (tail != NIL) };
    if
    :: v & LOCKED
    :: else ->
        if
        :: q && COUNT(v) >= SLIMIT
        :: may_lose && !(q && COUNT(v) >= SLIMIT) /* lost a race */
        :: !(q && COUNT(v) >= SLIMIT) ->
            atomic {
                if
                :: word == v ->
                    if
                    :: q -> word = v + ONE + LOCKED
                    :: else -> word = v + LOCKED
                    fi;
                    assert(COUNT(word) <= SLIMIT);
                    ACQUIRE; v = 0; q = 0; goto acquired
                :: else /* the word changed: this attempt fails */
                fi
            }
        fi
    fi;
    atomic { v = 0; q = 0 }
}

inline leave_queue() {
    heads--;
    left(mine);
    if
    :: mine != me -> heap_free(mine)
    :: else
    fi
}

inline pass_start() {
    timed = 0;
    expired = 0;
    shuffled = 0;
    n = mine
}

inline load_state() {
    s = st[mine];
    if
    :: s == HEAD -> goto head
    :: else
    fi
}

/* shfl_wake_next(mine): the link's load and the CAS PARKED -> WAITING are
 * one step here (the successor cannot leave meanwhile: only we make heads
 * and free nodes; a link that appears in between is one we may miss, which
 * only skips an early wake); then FUTEX_WAKE. */
inline wake_next() {
    atomic {
        succ = nxt[mine];
        if
        :: succ != NIL && st[succ] == PARKED -> REACH(succ); st[succ] = WAITING
        :: else -> succ = NIL
        fi
    };
    if
    :: succ != NIL -> atomic { asleep[succ] = 0; succ = NIL } /* FUTEX_WAKE */
    :: else
    fi
}

/* One store of the shuffler to the link of x: x has a successor, so no
 * newcomer writes it. */
inline shuffle_store(x, val) {
    atomic {
        REACH(x);
        assert(x != tail && nxt[x] != NIL);
        nxt[x] = val
    }
}

/* k = the nodes reachable from the head mine (ghost). */
inline reachable() {
    k = 0;
    c = mine;
    do
    :: c != NIL -> k++; c = nxt[c]
    :: else -> break
    od;
    c = NIL
}

proctype thread(byte me) {
    byte round = 0;
    byte mine = NIL;
    byte pred = NIL;
    byte n = NIL;
    byte succ = NIL;
    byte s = 0;
    byte v = 0;
    bit q = 0;
    bit timed = 0;
    bit expired = 0;
    bit got = 0;
    bit shuffled = 0;
    byte last = NIL; /* the shuffler's: end of the local run */
    byte prv = NIL;  /* node before cur */
    byte cur = NIL;  /* the node to move */
    byte k0 = 0;     /* ghost: nodes reachable from the head before a move */

    do
    :: round < ROUNDS && !(me == 0 && round == 1) ->
        round++;
        if
        :: skip /* shfl_lock */
        :: me > 0 -> timed = 1 /* shfl_timedlock (threads 1 and 2) */
        fi;
        trylock(1);
        /* shfl_enqueue: the own node, or a node from malloc */
        atomic {
            if
            :: !timed -> mine = me
            :: timed ->
                if
                :: heap_alloc(mine)
                :: mine = NIL /* malloc failed */
                fi;
                if
                :: mine == NIL -> goto poll
                :: else
                fi
            fi;
            node_reset(mine);
            numa[mine] = me % 2;
            swap_tail()
        };
        if
        :: pred == NIL -> goto head
        :: else -> atomic { REACH(pred); nxt[pred] = mine; pred = NIL; s = st[mine] }
        fi;

        /* shfl_wait_turn(mine, timed ? deadline : NULL) */
wait_loop:
        if
        :: s == HEAD -> goto head
        :: else
        fi;
        if
        :: timed -> /* deadline passed: CAS s -> ABANDONED */
            atomic {
                if
                :: st[mine] == s -> st[mine] = ABANDONED; goto done
                :: else -> load_state()
                fi
            };
            goto wait_loop
        :: !expired
        fi;
        if
        :: s == WAITING -> /* CAS WAITING -> PARKED */
            atomic {
                if
                :: st[mine] == WAITING -> st[mine] = PARKED
                :: else -> load_state(); goto wait_loop
                fi
            }
        :: else
        fi;
        /* lm_futex_wait(&state, PARKED, deadline) */
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

head: /* shfl_head_wait(l, mine, timed ? deadline : NULL) */
        assert(heads == 1);
        s = 0;
        wake_next();
head_loop:
        if
        :: atomic { /* CAS a free word -> LOCKED, count reset */
            !(word & LOCKED) -> word = LOCKED; ACQUIRE; got = 1; pass_start()
           };
           goto next_node
        :: !shuffled -> /* shfl_shuffle(mine), once per turn here */
            shuffled = 1;
            atomic {
                reachable();
                k0 = k;
                /* last: end of the run of our node behind us */
                last = mine;
                cur = nxt[mine];
                do
                :: cur != NIL && numa[cur] == numa[mine] -> last = cur; cur = nxt[cur]
                :: else -> break
                od;
                /* cur: the first later node of ours that has a successor */
                prv = last;
                do
                :: cur != NIL && nxt[cur] != NIL && numa[cur] == numa[mine] -> break
                :: cur != NIL && nxt[cur] != NIL && numa[cur] != numa[mine] -> prv = cur; cur = nxt[cur]
                :: else -> cur = NIL; break
                od
            };
            if
            :: cur != NIL ->
                shuffle_store(prv, nxt[cur]);
                shuffle_store(cur, nxt[last]);
                shuffle_store(last, cur);
                /* Nothing lost: newcomers may only have added nodes. */
                d_step { reachable(); assert(k >= k0); k0 = 0 }
                if
                :: last == mine -> wake_next()
                :: else
                fi
            :: else
            fi;
            atomic { last = NIL; prv = NIL; cur = NIL; k0 = 0 };
            goto head_loop
        :: timed -> /* deadline passed: give up, pass headship on */
            pass_start();
            goto next_node
        fi;

next_node: /* shfl_pass(l, mine) */
        atomic {
            REACH(n);
            succ = nxt[n];
            if
            :: succ != NIL -> goto grant
            :: else
            fi
        };
        atomic {
            if
            :: tail == n ->
                tail = NIL;
                if
                :: n != mine -> heap_free(n)
                :: else
                fi;
                n = NIL;
                leave_queue();
                goto passed
            :: else
            fi
        };
        atomic { nxt[n] != NIL -> succ = nxt[n] } /* wait for the link */
grant:
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
        if
        :: s == ABANDONED -> succ = NIL; goto next_node
        :: else
        fi;
        atomic {
            REACH(succ);
            if
            :: st[succ] == s ->
                st[succ] = HEAD;
                n = NIL;
                leave_queue();
                heads++;
                if
                :: s == PARKED -> s = 0
                :: else -> s = 0; succ = NIL; goto passed
                fi
            :: else -> s = st[succ]; goto cas
            fi
        };
        atomic { asleep[succ] = 0; succ = NIL }; /* FUTEX_WAKE */
passed:
        if
        :: got
        :: else -> goto done
        fi;

acquired: /* shfl_unlock: clear LOCKED, keep the count */
        atomic { assert(word & LOCKED); word = word - LOCKED; RELEASE; goto done };

poll: /* malloc failed: poll trylock until the deadline; a failed attempt
       * that changes nothing is only repeated, so poll when one can succeed */
        if
        :: goto done /* deadline passed */
        :: !(word & LOCKED) && (tail == NIL || COUNT(word) < SLIMIT)
        fi;
        trylock(0);
        goto poll;

done:
        atomic {
            mine = NIL;
            n = NIL;
            succ = NIL;
            s = 0;
            v = 0;
            q = 0;
            timed = 0;
            expired = 0;
            got = 0;
            shuffled = 0
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
    finished == NPROC;
    d_step {
        assert(!(word & LOCKED) && tail == NIL && heads == 0 && qlen == 0);
        do
        :: i < NNODES -> assert(!inq[i] && (i < NPROC || !live[i])); i++
        :: else -> break
        od
    }
}

#define HEAD_ASLEEP(x) (st[x] == HEAD && asleep[x])
#define SLEEPS_AS_HEAD (HEAD_ASLEEP(0) || HEAD_ASLEEP(1) || \
    HEAD_ASLEEP(2) || HEAD_ASLEEP(3))

ltl all_finish { <> (finished == NPROC) }
ltl woken { [] (SLEEPS_AS_HEAD -> <> !SLEEPS_AS_HEAD) }
