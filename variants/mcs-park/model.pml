/* Promela model of the mcs-park back end (variants/mcs-park/lock.h), for
 * SPIN. Run by scripts/modelcheck.
 *
 * Models, as the code stands:
 *   mcs_park_trylock     CAS word 0 -> LOCKED
 *   mcs_park_enqueue     reset the node, swap the tail, link behind the old
 *   mcs_park_wait_turn   the node's park handshake: CAS WAITING -> PARKED,
 *                        FUTEX_WAIT(state, PARKED), re-check; past the
 *                        deadline CAS WAITING|PARKED -> ABANDONED
 *   mcs_park_take        GIVEN: store LOCKED; 0: CAS 0 -> LOCKED
 *   mcs_park_head_wait   the head's rounds: load and take; past the deadline
 *                        CAS the word clearing SLEEPER|HANDOFF; else CAS
 *                        +SLEEPER (+HANDOFF from round HROUNDS on), then
 *                        FUTEX_WAIT(word, that value)
 *   mcs_park_pass        CAS the successor WAITING|PARKED -> HEAD and
 *                        FUTEX_WAKE it if it was PARKED; pass over and free
 *                        ABANDONED nodes; or swing the tail back to NULL
 *   mcs_park_lock        trylock; else enqueue the own node, wait for the
 *                        turn, wait for the word, pass headship on
 *   mcs_park_timedlock   trylock; else malloc a node, as lock with the
 *                        deadline, free the node; if malloc fails, poll
 *                        trylock until the deadline
 *   mcs_park_unlock      CAS LOCKED -> 0; else CAS to 0, or to LOCKED|GIVEN
 *                        if HANDOFF is set, and FUTEX_WAKE the word if
 *                        SLEEPER was set
 * and lm_futex_wait / lm_futex_wake of variants/platform.h as the kernel
 * implements them: WAIT compares the word and queues the caller in one atomic
 * step; WAKE unqueues a sleeper, if any. Each node's state word has its own
 * futex queue (asleep[]), where only the node's owner sleeps; the lock word
 * has one (wasleep), where only the queue's head sleeps (asserted).
 *
 * Nodes are indices: 0 .. NPROC-1 are the threads' own nodes (w->own),
 * NPROC .. NNODES-1 a heap. malloc hands out the lowest free heap node, so a
 * freed node is reused at once, as allocators do; it may also fail (SPIN
 * tries both). A FUTEX_WAKE can therefore reach a node whose owner has moved
 * on, or a reused heap node, or the word after its head has left and another
 * sleeps there, and wake that sleeper: the model includes these stale wakes.
 *
 * NPROC threads each run up to ROUNDS acquisitions and may stop after any
 * round. Each acquisition of threads 1 and 2 is a lock or a timedlock (SPIN
 * tries both); thread 0 only calls lock. Every acquisition starts with the
 * trylock, so any thread may barge past the queue.
 *
 * Checked:
 *   - mutual exclusion: the ghost incs rises in the step that takes the lock
 *     (a CAS to LOCKED, or the head's load that sees GIVEN) and falls in the
 *     unlock's CAS; it never exceeds 1 (assert);
 *   - the word's invariants: SLEEPER, HANDOFF and GIVEN only ever come with
 *     LOCKED, GIVEN only from a HANDOFF, and nobody writes a GIVEN word but
 *     the head that takes it (asserts);
 *   - memory safety of the abandon protocol: no access to a freed heap node,
 *     no double free, a node is reset only when no queue neighbour can reach
 *     it, every node another thread touches is in the queue (asserts on the
 *     ghosts live[] and inq[]); FUTEX_WAKE touches no memory and is exempt;
 *   - one head at a time (ghost heads), and only the head sleeps on the word;
 *   - no lost wake-up, no stranded waiter, no deadlock: a thread asleep for
 *     good, a waiter never made head, a head never given the word, or a pass
 *     waiting for a link that never comes, is an invalid end state once the
 *     others have finished (only the end of a thread is a valid end state);
 *   - no leak: when all threads are done the word is 0, the tail NULL and
 *     every heap node was freed (assert in init);
 *   - ltl all_finish: every execution ends with all threads done. pan -a
 *     checks it with no fairness assumption: every wait in the model is a
 *     blocking condition, so a correct model has no infinite execution, and
 *     a livelock (an endless loop) fails it as a deadlock does;
 *   - ltl woken: a waiter asleep on a node made HEAD is always woken;
 *   - ltl head_woken: a head asleep on the word after an unlock consumed its
 *     SLEEPER flag is always woken.
 *
 * Abstracted away:
 *   - memory orderings: SPIN explores sequentially consistent interleavings;
 *     each C11 atomic operation is one indivisible step. Steps that touch
 *     only a node nobody else can reach (reset, malloc, free) share the step
 *     of the atomic operation next to them (asserted: the node is not in the
 *     queue);
 *   - the spin phases of mcs_park_wait_turn and mcs_park_head_wait: their
 *     loads (and the head's CAS 0 -> LOCKED) do what the load after them
 *     does, which the model has; they are that load;
 *   - MCS_PARK_HANDOFF_ROUNDS is HROUNDS = 1 here, so that the hand-over
 *     path is reached within the few rounds the model runs; the code does
 *     not depend on its value;
 *   - weak CASes: a spurious failure only repeats the loop;
 *   - the yields and pauses of the link wait and of the poll: blocking waits
 *     for their conditions; a failed trylock changes nothing, so the poll
 *     only tries while the word is 0;
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
#define HROUNDS 1

/* the word */
#define LOCKED 1
#define SLEEPER 2
#define HANDOFF 4
#define GIVEN 8

/* node states */
#define WAITING 0
#define PARKED 1
#define HEAD 2
#define ABANDONED 3

byte word = 0;      /* mcs_park_lock.word, the head's futex word */
byte tail = NIL;    /* mcs_park_lock.tail */
byte nxt[NNODES];   /* mcs_park_node.next */
byte st[NNODES];    /* mcs_park_node.state, the futex word */
bit asleep[NNODES]; /* the kernel's futex queue of each node's word */
bit wasleep = 0;    /* the kernel's futex queue of the lock word */
bit live[NNODES];   /* ghost: allocated (own nodes always are) */
bit inq[NNODES];    /* ghost: in the queue, reachable by other threads */
byte incs = 0;      /* ghost: threads holding the lock */
byte heads = 0;     /* ghost: threads that are the queue's head */
byte finished = 0;  /* ghost: threads that have run to their end */

/* The step that takes the lock and the step that lets it go. */
#define ACQUIRE incs++; assert(incs == 1)
#define RELEASE assert(incs == 1); incs--

/* Another thread reaches node x through the queue. */
#define REACH(x) assert(x != NIL && live[x] && inq[x])

/* The word's flags only come with LOCKED. */
#define WORD_OK(x) assert((x) == 0 || ((x) & LOCKED))

/* The inlines below are parts of atomic steps. */

/* Reset of node x in mcs_park_enqueue: nobody else may reach x any more. */
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

/* The tail swap of mcs_park_enqueue(mine); an empty queue makes us head. */
inline swap_tail() {
    pred = tail;
    tail = mine;
    inq[mine] = 1;
    if
    :: pred == NIL -> heads++; assert(heads == 1)
    :: else
    fi
}

/* mcs_park_trylock: CAS word 0 -> LOCKED. */
inline trylock() {
    atomic {
        if
        :: word == 0 -> word = LOCKED; ACQUIRE; goto acquired
        :: else
        fi
    }
}

/* We stop being the head: mine leaves the queue; timedlock frees its node. */
inline leave_queue() {
    heads--;
    left(mine);
    if
    :: mine != me -> heap_free(mine)
    :: else
    fi
}

/* The head is done waiting for the word: clear its dead locals (so that
 * states differing only in them are one) and start mcs_park_pass at mine. */
inline pass_start() {
    v = 0;
    want = 0;
    hr = 0;
    timed = 0;
    expired = 0;
    n = mine
}

/* s = a load of our node's state; HEAD ends mcs_park_wait_turn. */
inline load_state() {
    s = st[mine];
    if
    :: s == HEAD -> goto head
    :: else
    fi
}

proctype thread(byte me) {
    byte round = 0;
    byte mine = NIL; /* the node in use: w->own or a heap node */
    byte pred = NIL;
    byte n = NIL;
    byte succ = NIL;
    byte s = 0;
    byte v = 0;      /* a value of the word */
    byte want = 0;   /* the word the head sleeps on */
    byte hr = 0;     /* the head's rounds, saturating at HROUNDS */
    bit timed = 0;   /* this round is a timedlock */
    bit expired = 0; /* its deadline is known to have passed */
    bit got = 0;     /* the head got the word (else it timed out) */

    do
    :: round < ROUNDS ->
        round++;
        if
        :: skip /* mcs_park_lock */
        :: me > 0 -> timed = 1 /* mcs_park_timedlock (threads 1 and 2) */
        fi;
        trylock();
        /* mcs_park_enqueue: the own node, or a node from malloc */
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
            swap_tail()
        };
        /* Link behind pred, unless the queue was empty. Then the first load
         * of mcs_park_wait_turn, in the same step: nobody can make us head
         * before the link, so it reads WAITING. */
        if
        :: pred == NIL -> goto head
        :: else -> atomic { REACH(pred); nxt[pred] = mine; pred = NIL; s = st[mine] }
        fi;

        /* mcs_park_wait_turn(mine, timed ? deadline : NULL) */
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

head: /* mcs_park_head_wait(l, timed ? deadline : NULL) */
        assert(heads == 1);
        /* v = load(word); mcs_park_take */
        atomic {
            s = 0;
            v = word;
            if
            :: v & GIVEN -> assert(v == (LOCKED | GIVEN)); ACQUIRE; goto given
            :: else
            fi
        };
        if
        :: v == 0 -> /* CAS 0 -> LOCKED; on failure v = the word */
            atomic {
                if
                :: word == 0 -> word = LOCKED; ACQUIRE; got = 1; pass_start(); goto next_node
                :: else -> v = word; assert(v & LOCKED && !(v & GIVEN))
                fi
            }
        :: else
        fi;
        if
        :: timed -> /* deadline passed: CAS v -> v without our flags */
            atomic {
                if
                :: word == v -> word = v & ~(SLEEPER | HANDOFF); pass_start(); goto next_node
                :: else
                fi
            };
            goto head
        :: !expired /* not passed, or no deadline */
        fi;
        want = v | SLEEPER;
        if
        :: hr >= HROUNDS -> want = want | HANDOFF
        :: else
        fi;
        if
        :: v == want
        :: else -> /* CAS v -> want */
            atomic {
                if
                :: word == v -> WORD_OK(want); word = want
                :: else -> goto head
                fi
            }
        fi;
        /* lm_futex_wait(&word, want, deadline) */
        atomic {
            if
            :: word == want -> assert(!wasleep); wasleep = 1
            :: else /* EAGAIN */
            fi;
            v = 0;
            want = 0
        };
        if
        :: !wasleep /* woken, or never slept */
        :: timed && wasleep -> /* ETIMEDOUT */
            atomic { wasleep = 0; expired = 1 }
        fi;
        atomic {
            if
            :: hr < HROUNDS -> hr++
            :: else
            fi
        };
        goto head;

given: /* mcs_park_take: the lock was handed to us; nobody else writes it */
        atomic {
            assert(word == (LOCKED | GIVEN));
            word = LOCKED;
            got = 1;
            pass_start()
        };
        /* mcs_park_pass(l, mine); n: the node whose successor becomes head */
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
                leave_queue();
                goto passed
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
        /* while (s != ABANDONED) CAS s -> HEAD */
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
        /* lm_futex_wake(&succ->state, 1) */
        atomic { asleep[succ] = 0; succ = NIL };
passed:
        if
        :: got
        :: else -> goto done
        fi;

acquired:
        /* mcs_park_unlock: CAS LOCKED -> 0 */
        atomic {
            if
            :: word == LOCKED -> word = 0; RELEASE; goto done
            :: else -> v = word
            fi
        };
ucas:
        /* CAS v -> 0, or -> LOCKED|GIVEN if HANDOFF is set */
        atomic {
            if
            :: word == v ->
                WORD_OK(v);
                assert(!(v & GIVEN));
                if
                :: v & HANDOFF -> word = LOCKED | GIVEN
                :: else -> word = 0
                fi;
                RELEASE;
                if
                :: v & SLEEPER -> v = 0
                :: else -> goto done
                fi
            :: else -> v = word; goto ucas
            fi
        };
        /* lm_futex_wake(&word, 1) */
        wasleep = 0;
        goto done;

poll: /* malloc failed: poll trylock until the deadline */
        if
        :: goto done /* deadline passed */
        :: word == 0
        fi;
        trylock();
        goto poll;

done:
        atomic {
            mine = NIL;
            n = NIL;
            succ = NIL;
            s = 0;
            v = 0;
            want = 0;
            hr = 0;
            timed = 0;
            expired = 0;
            got = 0
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
    /* Everyone is done: the lock is free, the queue empty, the heap freed. */
    finished == NPROC;
    d_step {
        assert(word == 0 && tail == NIL && heads == 0 && !wasleep);
        do
        :: i < NNODES -> assert(!inq[i] && (i < NPROC || !live[i])); i++
        :: else -> break
        od
    }
}

#define HEAD_ASLEEP(x) (st[x] == HEAD && asleep[x])
#define SLEEPS_AS_HEAD (HEAD_ASLEEP(0) || HEAD_ASLEEP(1) || \
    HEAD_ASLEEP(2) || HEAD_ASLEEP(3) || HEAD_ASLEEP(4))
#define WORD_OWES_WAKE (wasleep && !(word & SLEEPER))

ltl all_finish { <> (finished == NPROC) }
ltl woken { [] (SLEEPS_AS_HEAD -> <> !SLEEPS_AS_HEAD) }
ltl head_woken { [] (WORD_OWES_WAKE -> <> !WORD_OWES_WAKE) }
