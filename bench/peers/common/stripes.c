/* The lockmap API over lock striping: PEER_STRIPES pthread mutexes, chosen by
 * key hash, each guarding its own chained hash table (its stripe of the map).
 *
 * This is the pattern many programs use instead of per-key locks, and the
 * naive map is its one-stripe case:
 *
 *   global   PEER_STRIPES = 1: one mutex around one unsharded table
 *   striped  PEER_STRIPES = 256: a fixed array of stripes
 *
 * An entry (a "key lock") is the key's stripe mutex, held: a held key blocks
 * every other key of its stripe (of the whole map, for global), for entries
 * and one-shot operations alike. Everything else follows lockmap.h:
 *
 *   - one-shot operations (get, insert, remove, contains) take the stripe
 *     mutex for the lookup and the copy;
 *   - locking a key that has no value links a vacant node for it, so the
 *     entry can report its key; unlock unlinks it again if still vacant;
 *   - lock_batch sorts the keys by stripe index (then hash, length, bytes, to
 *     find duplicates) and locks each stripe once, in index order; entries of
 *     one stripe share it, and a per-stripe count of the entries holding it
 *     (written only by the holder) releases the mutex with the last one;
 *   - for_each/retain/clear lock one stripe at a time and visit its keys with
 *     that mutex held (it is their key lock);
 *   - value_drop runs under the stripe mutex (the key's lock here).
 *
 * Differences that follow from sharing a lock between keys: a thread holding
 * an entry must not touch any other key of the same stripe (lock, get, insert,
 * ... on it deadlock, trylock says -EBUSY), and the `shards` option is
 * ignored (the striping is fixed). See bench/peers/{global,striped}/README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/batch_order.h"
#include "base/hash.h"
#include "base/platform.h"
#include "base/pthread_clocklock.h"
#include "lockmap/lockmap.h"

#ifndef PEER_STRIPES
#error "PEER_STRIPES (number of lock stripes, a power of two) is unset"
#endif
#ifndef PEER_NAME
#error "PEER_NAME (the variant name) is unset"
#endif
_Static_assert((PEER_STRIPES & (PEER_STRIPES - 1)) == 0,
               "PEER_STRIPES must be a power of two");

/* Same limits as the core, so bad options fail the same way. */
#define PEER_MAX_SHARDS ((size_t)1 << 16)
#define PEER_MIN_BUCKETS 8

typedef struct node node;
struct node {
    node *next;
    uint64_t hash;
    size_t klen;
    bool has_value;
    /* value_size bytes of value at NODE_VALUE_OFFSET, then the key bytes. */
};

#define ALIGN_UP(x, a) (((x) + (a)-1) / (a) * (a))
#define NODE_VALUE_OFFSET ALIGN_UP(sizeof(node), alignof(max_align_t))

typedef struct stripe {
    alignas(64) pthread_mutex_t mu;
    unsigned holds; /* entries holding mu; only its holder touches it */
    node **buckets; /* mu */
    size_t mask;    /* mu; buckets - 1 */
    /* Written under mu, read without it by lockmap_len and the test hooks:
     * relaxed, they are counts only. */
    _Atomic size_t nnodes;
    _Atomic size_t nvalues;
} stripe;

struct lockmap {
    size_t value_size;
    uint64_t seed;
    uint64_t (*hash)(const void *key, size_t klen, uint64_t seed);
    void (*value_drop)(void *value, void *ctx);
    void *ctx;
    stripe *stripes; /* PEER_STRIPES of them */
};

/* What lockmap_entry's opaque bytes hold. */
typedef struct peer_entry {
    lockmap *map;
    stripe *s; /* NULL: holds nothing */
    node *n;
    bool shared; /* taken by a _shared lock: read only (the stripe is held) */
} peer_entry;

_Static_assert(sizeof(peer_entry) <= sizeof(lockmap_entry),
               "lockmap_entry too small");

static inline peer_entry *pe(lockmap_entry *e) { return (peer_entry *)e; }

static inline unsigned char *node_value(node *n) {
    return (unsigned char *)n + NODE_VALUE_OFFSET;
}

static inline unsigned char *node_key(lockmap *m, node *n) {
    return node_value(n) + m->value_size;
}

const char *lockmap_variant(void) { return PEER_NAME; }

/* The high half of the hash picks the stripe, the low bits the bucket. */
static inline size_t stripe_index(uint64_t h) {
    return (size_t)(h >> 32) & (PEER_STRIPES - 1);
}

static inline stripe *stripe_of(lockmap *m, uint64_t h) {
    return &m->stripes[stripe_index(h)];
}

static inline void count(_Atomic size_t *c, long delta) {
    /* Relaxed: a count; the stripe mutex orders the writers. */
    atomic_fetch_add_explicit(c, (size_t)delta, memory_order_relaxed);
}

/* ---- one stripe's table (its mutex held) -------------------------------- */

static node **find_link(lockmap *m, stripe *s, uint64_t h, const void *key,
                        size_t klen) {
    node **link = &s->buckets[h & s->mask];
    for (node *n; (n = *link); link = &n->next)
        if (n->hash == h && n->klen == klen &&
            (klen == 0 || memcmp(node_key(m, n), key, klen) == 0))
            break;
    return link;
}

/* Doubles the table past a load of 3/4; a failed allocation just leaves the
 * chains longer. Nodes do not move, so held entries stay valid. */
static void maybe_grow(stripe *s) {
    size_t n = s->mask + 1;
    size_t used = atomic_load_explicit(&s->nnodes, memory_order_relaxed);
    if (used * 4 <= n * 3 || n > SIZE_MAX / 2 / sizeof(node *)) return;
    node **nb = calloc(n * 2, sizeof *nb);
    if (!nb) return;
    size_t nmask = n * 2 - 1;
    for (size_t b = 0; b < n; b++)
        for (node *x = s->buckets[b], *next; x; x = next) {
            next = x->next;
            x->next = nb[x->hash & nmask];
            nb[x->hash & nmask] = x;
        }
    free(s->buckets);
    s->buckets = nb;
    s->mask = nmask;
}

/* A vacant node for the key, linked at *link; NULL on ENOMEM. */
static node *new_node(lockmap *m, stripe *s, node **link, uint64_t h,
                      const void *key, size_t klen) {
    size_t fixed = NODE_VALUE_OFFSET + m->value_size;
    if (klen > SIZE_MAX - fixed) return NULL;
    node *n = malloc(fixed + klen);
    if (!n) return NULL;
    n->next = NULL;
    n->hash = h;
    n->klen = klen;
    n->has_value = false;
    if (klen) memcpy(node_key(m, n), key, klen);
    *link = n;
    count(&s->nnodes, +1);
    maybe_grow(s);
    return n;
}

/* Unlinks and frees a vacant node. */
static void drop_node(stripe *s, node *n) {
    node **link = &s->buckets[n->hash & s->mask];
    while (*link != n) link = &(*link)->next;
    *link = n->next;
    count(&s->nnodes, -1);
    free(n);
}

static void fill(lockmap *m, node *n, const void *value) {
    if (value)
        memcpy(node_value(n), value, m->value_size);
    else
        memset(node_value(n), 0, m->value_size);
}

static void mark_present(stripe *s, node *n) {
    n->has_value = true;
    count(&s->nvalues, +1);
}

/* 1 replaced (old copied or dropped), 0 was vacant. */
static int set_value(lockmap *m, stripe *s, node *n, const void *value,
                     void *old_out) {
    if (!n->has_value) {
        fill(m, n, value);
        mark_present(s, n);
        return 0;
    }
    if (old_out)
        memcpy(old_out, node_value(n), m->value_size);
    else if (m->value_drop)
        m->value_drop(node_value(n), m->ctx);
    fill(m, n, value);
    return 1;
}

/* 1 removed (copied or dropped), 0 was vacant. The node stays. */
static int take_value(lockmap *m, stripe *s, node *n, void *old_out) {
    if (!n->has_value) return 0;
    if (old_out)
        memcpy(old_out, node_value(n), m->value_size);
    else if (m->value_drop)
        m->value_drop(node_value(n), m->ctx);
    n->has_value = false;
    count(&s->nvalues, -1);
    return 1;
}

/* ---- construction ---------------------------------------------------------
 */

static size_t round_pow2(size_t n) {
    size_t p = 1;
    while (p < n) p <<= 1;
    return p;
}

lockmap *lockmap_new(const lockmap_options *opts) {
    if (!opts || opts->value_size == 0 ||
        opts->value_size > LOCKMAP_MAX_VALUE_SIZE ||
        opts->shards > PEER_MAX_SHARDS) {
        errno = EINVAL;
        return NULL;
    }
    size_t per_stripe = opts->capacity / PEER_STRIPES;
    if (per_stripe >= SIZE_MAX / 4 / sizeof(node *)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t nbuckets = round_pow2((per_stripe + 1) * 4 / 3 + 1);
    if (nbuckets < PEER_MIN_BUCKETS) nbuckets = PEER_MIN_BUCKETS;
    lockmap *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    m->value_size = opts->value_size;
    m->seed = opts->seed ? opts->seed : lm_draw_seed();
    m->hash = opts->hash ? opts->hash : lm_default_hash;
    m->value_drop = opts->value_drop;
    m->ctx = opts->ctx;
    m->stripes = aligned_alloc(alignof(stripe), PEER_STRIPES * sizeof(stripe));
    if (!m->stripes) goto nomem;
    for (size_t i = 0; i < PEER_STRIPES; i++) {
        stripe *s = &m->stripes[i];
        pthread_mutex_init(&s->mu, NULL);
        s->holds = 0;
        s->mask = nbuckets - 1;
        atomic_init(&s->nnodes, 0);
        atomic_init(&s->nvalues, 0);
        s->buckets = calloc(nbuckets, sizeof *s->buckets);
        if (!s->buckets) {
            for (size_t j = 0; j <= i; j++) {
                free(m->stripes[j].buckets);
                pthread_mutex_destroy(&m->stripes[j].mu);
            }
            goto nomem;
        }
    }
    return m;
nomem:
    if (m) free(m->stripes);
    free(m);
    errno = ENOMEM;
    return NULL;
}

void lockmap_free(lockmap *m) {
    if (!m) return;
    for (size_t i = 0; i < PEER_STRIPES; i++) {
        stripe *s = &m->stripes[i];
        for (size_t b = 0; b <= s->mask; b++)
            for (node *n = s->buckets[b], *next; n; n = next) {
                next = n->next;
                if (n->has_value && m->value_drop)
                    m->value_drop(node_value(n), m->ctx);
                free(n);
            }
        free(s->buckets);
        pthread_mutex_destroy(&s->mu);
    }
    free(m->stripes);
    free(m);
}

size_t lockmap_len(lockmap *m) {
    if (!m) return 0;
    size_t n = 0;
    for (size_t i = 0; i < PEER_STRIPES; i++)
        n += atomic_load_explicit(&m->stripes[i].nvalues,
                                  memory_order_relaxed); /* a count */
    return n;
}

bool lockmap_is_empty(lockmap *m) { return lockmap_len(m) == 0; }

/* ---- one-shot operations --------------------------------------------------
 */

static inline bool bad_key(const void *key, size_t klen) {
    return key == NULL && klen != 0;
}

int lockmap_get(lockmap *m, const void *key, size_t klen, void *value_out) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    uint64_t h = m->hash(key, klen, m->seed);
    stripe *s = stripe_of(m, h);
    pthread_mutex_lock(&s->mu);
    node *n = *find_link(m, s, h, key, klen);
    int rc = n && n->has_value;
    if (rc && value_out) memcpy(value_out, node_value(n), m->value_size);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int lockmap_contains(lockmap *m, const void *key, size_t klen) {
    return lockmap_get(m, key, klen, NULL);
}

int lockmap_insert(lockmap *m, const void *key, size_t klen, const void *value,
                   void *old_out) {
    if (!m || !value || bad_key(key, klen)) return -EINVAL;
    uint64_t h = m->hash(key, klen, m->seed);
    stripe *s = stripe_of(m, h);
    pthread_mutex_lock(&s->mu);
    node **link = find_link(m, s, h, key, klen);
    node *n = *link ? *link : new_node(m, s, link, h, key, klen);
    int rc = n ? set_value(m, s, n, value, old_out) : -ENOMEM;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int lockmap_remove(lockmap *m, const void *key, size_t klen, void *old_out) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    uint64_t h = m->hash(key, klen, m->seed);
    stripe *s = stripe_of(m, h);
    pthread_mutex_lock(&s->mu);
    node **link = find_link(m, s, h, key, klen);
    node *n = *link;
    int rc = 0;
    if (n) {
        rc = take_value(m, s, n, old_out);
        drop_node(s, n);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- entries ---------------------------------------------------------------
 */

/* The stripe's mutex is held by this thread: find or create the key's node
 * and make the entry hold it. */
static int hold_key(lockmap *m, stripe *s, uint64_t h, const void *key,
                    size_t klen, lockmap_entry *entry) {
    node **link = find_link(m, s, h, key, klen);
    node *n = *link ? *link : new_node(m, s, link, h, key, klen);
    if (!n) return -ENOMEM;
    s->holds++;
    *pe(entry) = (peer_entry){.map = m, .s = s, .n = n};
    return 0;
}

typedef enum { WAIT_FOREVER, WAIT_NEVER, WAIT_UNTIL } wait_mode;

static int lock_common(lockmap *m, const void *key, size_t klen, wait_mode how,
                       uint64_t timeout_ns, lockmap_entry *entry) {
    if (entry) pe(entry)->s = NULL;
    if (!m || !entry || bad_key(key, klen)) return -EINVAL;
    /* Absolute CLOCK_MONOTONIC, taken before hashing like the core's. */
    struct timespec dl = {0, 0};
    if (how == WAIT_UNTIL) dl = lm_deadline_after(timeout_ns);
    uint64_t h = m->hash(key, klen, m->seed);
    stripe *s = stripe_of(m, h);
    int rc = 0;
    if (how == WAIT_FOREVER)
        rc = pthread_mutex_lock(&s->mu);
    else if (how == WAIT_NEVER)
        rc = pthread_mutex_trylock(&s->mu);
    else
        rc = pthread_clocklock_mono(&s->mu, &dl) ? 0 : ETIMEDOUT;
    if (rc == EBUSY) return -EBUSY;
    if (rc == ETIMEDOUT) return -ETIMEDOUT;
    if (rc) return -rc;
    rc = hold_key(m, s, h, key, klen, entry);
    if (rc && s->holds == 0) pthread_mutex_unlock(&s->mu);
    return rc;
}

int lockmap_lock(lockmap *m, const void *key, size_t klen,
                 lockmap_entry *entry) {
    return lock_common(m, key, klen, WAIT_FOREVER, 0, entry);
}

int lockmap_trylock(lockmap *m, const void *key, size_t klen,
                    lockmap_entry *entry) {
    return lock_common(m, key, klen, WAIT_NEVER, 0, entry);
}

int lockmap_timedlock(lockmap *m, const void *key, size_t klen,
                      uint64_t timeout_ns, lockmap_entry *entry) {
    return lock_common(m, key, klen, WAIT_UNTIL, timeout_ns, entry);
}

/* Shared locks: the stripe's mutex, held as for lockmap_lock (no reader
 * sharing here), with the entry marked read only as lockmap.h asks. */
static int lock_shared(int rc, lockmap_entry *entry) {
    if (rc == 0) pe(entry)->shared = true;
    return rc;
}

int lockmap_lock_shared(lockmap *m, const void *key, size_t klen,
                        lockmap_entry *entry) {
    return lock_shared(lock_common(m, key, klen, WAIT_FOREVER, 0, entry),
                       entry);
}

int lockmap_trylock_shared(lockmap *m, const void *key, size_t klen,
                           lockmap_entry *entry) {
    return lock_shared(lock_common(m, key, klen, WAIT_NEVER, 0, entry), entry);
}

int lockmap_timedlock_shared(lockmap *m, const void *key, size_t klen,
                             uint64_t timeout_ns, lockmap_entry *entry) {
    return lock_shared(lock_common(m, key, klen, WAIT_UNTIL, timeout_ns, entry),
                       entry);
}

void lockmap_unlock(lockmap_entry *entry) {
    if (!entry) return;
    peer_entry *e = pe(entry);
    stripe *s = e->s;
    if (!s) return;
    e->s = NULL;
    if (!e->n->has_value) drop_node(s, e->n);
    if (--s->holds == 0) pthread_mutex_unlock(&s->mu);
}

void lockmap_entry_cleanup(lockmap_entry *entry) { lockmap_unlock(entry); }

const void *lockmap_entry_key(const lockmap_entry *entry, size_t *klen) {
    if (!entry) return NULL;
    const peer_entry *e = (const peer_entry *)entry;
    if (!e->s) return NULL;
    if (klen) *klen = e->n->klen;
    return node_key(e->map, e->n);
}

void *lockmap_entry_value(lockmap_entry *entry) {
    if (!entry || !pe(entry)->s) return NULL;
    node *n = pe(entry)->n;
    return n->has_value ? node_value(n) : NULL;
}

int lockmap_entry_insert(lockmap_entry *entry, const void *value,
                         void *old_out) {
    if (!entry || !value || !pe(entry)->s) return -EINVAL;
    peer_entry *e = pe(entry);
    if (e->shared) return -EPERM;
    return set_value(e->map, e->s, e->n, value, old_out);
}

int lockmap_entry_remove(lockmap_entry *entry, void *old_out) {
    if (!entry || !pe(entry)->s) return -EINVAL;
    peer_entry *e = pe(entry);
    if (e->shared) return -EPERM;
    return take_value(e->map, e->s, e->n, old_out);
}

void *lockmap_entry_or_insert(lockmap_entry *entry, const void *dflt) {
    if (!entry || !pe(entry)->s) return NULL;
    peer_entry *e = pe(entry);
    if (e->shared) {
        errno = EPERM;
        return NULL;
    }
    if (!e->n->has_value) set_value(e->map, e->s, e->n, dflt, NULL);
    return node_value(e->n);
}

void *lockmap_entry_or_insert_with(lockmap_entry *entry,
                                   int (*init)(void *value, void *ctx),
                                   void *ctx) {
    if (!entry || !init || !pe(entry)->s) {
        errno = EINVAL;
        return NULL;
    }
    peer_entry *e = pe(entry);
    if (e->shared) {
        errno = EPERM;
        return NULL;
    }
    if (e->n->has_value) return node_value(e->n);
    int rc = init(node_value(e->n), ctx);
    if (rc != 0) {
        errno = rc < 0 ? -rc : rc;
        return NULL;
    }
    mark_present(e->s, e->n);
    return node_value(e->n);
}

/* ---- batches ---------------------------------------------------------------
 */

/* The core's batch order (base/batch_order.h) ranked by stripe index
 * first: a stripe's keys sort together, and stripes lock in index order. */

int lockmap_lock_batch(lockmap *m, const lockmap_key *keys, size_t n,
                       lockmap_entry *entries) {
    if (!m || ((!keys || !entries) && n)) return -EINVAL;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        pe(&entries[i])->s = NULL;
        if (bad_key(keys[i].data, keys[i].len)) return -EINVAL;
    }
    lm_batch_key stack[LM_BATCH_STACK];
    lm_batch_key *order = stack;
    if (n > LM_BATCH_STACK) {
        if (n > SIZE_MAX / sizeof *order) return -ENOMEM;
        order = malloc(n * sizeof *order);
        if (!order) return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t h = m->hash(keys[i].data, keys[i].len, m->seed);
        order[i] =
            (lm_batch_key){stripe_index(h), h, keys[i].data, keys[i].len, i};
    }
    int rc = lm_batch_sort(order, n);
    size_t done = 0;
    stripe *prev = NULL;
    for (; rc == 0 && done < n; done++) {
        lm_batch_key *k = &order[done];
        stripe *s = stripe_of(m, k->hash);
        /* Each stripe once, in index order: the keys are sorted by it. */
        if (s != prev) pthread_mutex_lock(&s->mu);
        prev = s;
        rc = hold_key(m, s, k->hash, k->data, k->len, &entries[k->index]);
        if (rc && s->holds == 0) pthread_mutex_unlock(&s->mu);
    }
    if (rc) /* releases every stripe locked above */
        for (size_t i = 0; i < done; i++)
            lockmap_unlock(&entries[order[i].index]);
    if (order != stack) free(order);
    return rc;
}

/* The stripes' mutexes as lock_batch takes them, the entries read only. */
int lockmap_lock_batch_shared(lockmap *m, const lockmap_key *keys, size_t n,
                              lockmap_entry *entries) {
    int rc = lockmap_lock_batch(m, keys, n, entries);
    if (rc == 0)
        for (size_t i = 0; i < n; i++) pe(&entries[i])->shared = true;
    return rc;
}

void lockmap_unlock_batch(lockmap_entry *entries, size_t n) {
    if (!entries) return;
    while (n--) lockmap_unlock(&entries[n]);
}

/* ---- walks ----------------------------------------------------------------
 */

typedef struct walk {
    lockmap_visit_fn visit;
    lockmap_keep_fn keep;
    bool removing; /* retain (keep set) or clear (keep NULL) */
    void *ctx;
    size_t removed;
} walk;

/* Visits every value stripe by stripe, with that stripe's mutex held. */
static int walk_map(lockmap *m, walk *w) {
    int stop = 0;
    for (size_t i = 0; i < PEER_STRIPES && !stop; i++) {
        stripe *s = &m->stripes[i];
        pthread_mutex_lock(&s->mu);
        for (size_t b = 0; b <= s->mask && !stop; b++) {
            node **link = &s->buckets[b];
            while (*link && !stop) {
                node *n = *link;
                if (n->has_value && !w->removing) {
                    stop = w->visit(node_key(m, n), n->klen, node_value(n),
                                    w->ctx);
                } else if (n->has_value &&
                           (!w->keep || !w->keep(node_key(m, n), n->klen,
                                                 node_value(n), w->ctx))) {
                    /* We hold the stripe, so nobody holds n: unlink it. */
                    take_value(m, s, n, NULL);
                    w->removed++;
                    *link = n->next;
                    count(&s->nnodes, -1);
                    free(n);
                    continue;
                }
                link = &n->next;
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
    return stop;
}

int lockmap_for_each(lockmap *m, lockmap_visit_fn fn, void *ctx) {
    if (!m || !fn) return -EINVAL;
    walk w = {.visit = fn, .ctx = ctx};
    return walk_map(m, &w);
}

size_t lockmap_retain(lockmap *m, lockmap_keep_fn keep, void *ctx) {
    if (!m || !keep) return 0;
    walk w = {.keep = keep, .removing = true, .ctx = ctx};
    walk_map(m, &w);
    return w.removed;
}

size_t lockmap_clear(lockmap *m) {
    if (!m) return 0;
    walk w = {.removing = true};
    walk_map(m, &w);
    return w.removed;
}

/* ---- introspection for the conformance tests ------------------------------
 * Only in the test-only build (PEER_TEST_HOOKS, see
 * lockmap/tests/suite.bzl): lockmap/testing.h's hooks. */

#ifdef PEER_TEST_HOOKS
#include "lockmap/testing.h"

size_t lm_debug_live_states(lockmap *m) {
    size_t n = 0;
    for (size_t i = 0; i < PEER_STRIPES; i++)
        n += atomic_load_explicit(&m->stripes[i].nnodes,
                                  memory_order_relaxed); /* a count */
    return n;
}

size_t lm_debug_shards(lockmap *m) {
    (void)m;
    return PEER_STRIPES;
}

uint64_t lm_debug_seed(lockmap *m) { return m->seed; }
#endif
