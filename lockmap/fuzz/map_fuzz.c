/* libFuzzer harness: the input is decoded into a sequence of API calls on one
 * map (plain, or LRU under the strict, CLOCK, S3-FIFO or buffered policy;
 * default or
 * all-colliding hash), and every result is checked against a plain reference
 * model. The first byte picks the map; each further pair of bytes is one
 * operation and its key; values and flags are drawn from the bytes that
 * follow. The model follows the strict LRU order exactly; under the others
 * it knows what may be present (values, membership, capacity, drops), and
 * learns of each eviction when the map shows a key gone.
 *
 * One thread only, so the model knows which keys this thread holds, and the
 * script never makes a call that would wait for itself (no re-entrancy). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lockmap/lockmap.h"
#include "lockmap/lockmap_lru.h"

/* A call on the map under test: the LRU map's function when there is one,
 * else the plain map's (`map` and `lru` in scope). */
#define MAP_CALL(fn, ...) \
    (lru ? lockmap_lru_##fn(lru, __VA_ARGS__) : lockmap_##fn(map, __VA_ARGS__))
#define MAP_LEN() (lru ? lockmap_lru_len(lru) : lockmap_len(map))

#define CHECK(c)           \
    do {                   \
        if (!(c)) abort(); \
    } while (0)

#define NKEYS 24
#define SEED 0x5eedu

/* The key pool: fixed lengths from 0 to 300 bytes, so that operations hit
 * the same keys often. */
static const size_t key_len[NKEYS] = {0,   1,   2,   3,   5,   7,   8,   8,
                                      9,   12,  16,  31,  32,  33,  63,  64,
                                      100, 127, 128, 200, 255, 256, 299, 300};

static unsigned char key_bytes[NKEYS][300];

static void init_keys(void) {
    for (int k = 0; k < NKEYS; k++)
        for (size_t j = 0; j < key_len[k]; j++)
            key_bytes[k][j] = (unsigned char)(k * 31 + j * 7);
}

/* ---- the model ------------------------------------------------------------
 */

typedef struct {
    bool present;
    uint64_t value;
    uint64_t stamp; /* LRU: larger is more recent */
    bool held;
} model_key;

static struct {
    model_key k[NKEYS];
    uint64_t clock;
    bool lru;
    bool approx; /* not strict: the model does not follow the order */
    size_t capacity;
    size_t drops_expected;
    size_t evictions;
} model;

static lockmap_entry entries[NKEYS]; /* this thread's held entries */
static size_t drops_seen;

static void count_drop(void *value, void *ctx) {
    (void)value;
    (void)ctx;
    drops_seen++;
}

static size_t model_len(void) {
    size_t n = 0;
    for (int k = 0; k < NKEYS; k++) n += model.k[k].present;
    return n;
}

static bool model_any_held(void) {
    for (int k = 0; k < NKEYS; k++)
        if (model.k[k].held) return true;
    return false;
}

static void touch(int k) {
    if (model.lru && model.k[k].present) model.k[k].stamp = ++model.clock;
}

static void became_present(int k, uint64_t v) {
    model.k[k].present = true;
    model.k[k].value = v;
    if (model.lru) model.k[k].stamp = ++model.clock;
}

/* The least recently used value nobody holds, or -1. */
static int model_oldest_free(void) {
    int best = -1;
    for (int k = 0; k < NKEYS; k++)
        if (model.k[k].present && !model.k[k].held &&
            (best < 0 || model.k[k].stamp < model.k[best].stamp))
            best = k;
    return best;
}

static void model_evict(void) {
    while (model.lru && !model.approx && model_len() > model.capacity) {
        int k = model_oldest_free();
        if (k < 0) return;
        model.k[k].present = false;
        model.drops_expected++;
        model.evictions++;
    }
}

/* The map says key k is absent. Under the strict order the model knows it
 * already; otherwise a present value nobody holds may have been evicted
 * meanwhile, and the model learns it here. */
static void found_absent(int k) {
    model_key *mk = &model.k[k];
    if (mk->present && model.approx && !mk->held) {
        mk->present = false;
        model.drops_expected++;
        model.evictions++;
    }
    CHECK(!mk->present);
}

/* ---- decoding ----------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t take(input *in) {
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static uint64_t take_value(input *in) { return take(in) | take(in) << 8; }

static uint64_t colliding_hash(const void *key, size_t klen, uint64_t seed) {
    (void)key;
    (void)klen;
    (void)seed;
    return 7;
}

/* XXH3 with the seed, given to the map as its hash: the model must know the
 * hash to know the batch lock order, and the map's default hash of short
 * keys is keyed by secrets drawn from the seed (lockmap/short_hash.h). */
static uint64_t xxh3_hash(const void *key, size_t klen, uint64_t seed) {
    return XXH3_64bits_withSeed(klen ? key : (const void *)"", klen, seed);
}

static uint64_t (*hash_fn)(const void *, size_t, uint64_t);

static uint64_t key_hash(int k) {
    return hash_fn(key_bytes[k], key_len[k], SEED);
}

/* The map's global batch order: hash, length, bytes. */
static int batch_cmp(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    uint64_t hx = key_hash(x), hy = key_hash(y);
    if (hx != hy) return hx < hy ? -1 : 1;
    if (key_len[x] != key_len[y]) return key_len[x] < key_len[y] ? -1 : 1;
    return memcmp(key_bytes[x], key_bytes[y], key_len[x]);
}

/* ---- visitors ---------------------------------------------------------- */

static int key_of(const void *key, size_t klen) {
    for (int k = 0; k < NKEYS; k++)
        if (key_len[k] == klen && memcmp(key_bytes[k], key, klen) == 0)
            return k;
    return -1;
}

static int visit_check(const void *key, size_t klen, void *value, void *ctx) {
    int k = key_of(key, klen);
    CHECK(k >= 0 && model.k[k].present);
    CHECK(*(uint64_t *)value == model.k[k].value);
    ++*(size_t *)ctx;
    return 0;
}

static bool keep_parity(const void *key, size_t klen, void *value, void *ctx) {
    (void)key;
    (void)klen;
    return *(uint64_t *)value % 2 == *(uint64_t *)ctx;
}

/* Under the approximate policies: ask the map about every value the model has
 * and nobody holds (peek: no use, and no wait on a key this thread holds). */
static void reconcile(lockmap_lru *lru) {
    if (!model.approx) return;
    for (int k = 0; k < NKEYS; k++) {
        if (!model.k[k].present || model.k[k].held) continue;
        uint64_t out;
        if (lockmap_lru_peek(lru, key_bytes[k], key_len[k], &out) == 0)
            found_absent(k);
        else
            CHECK(out == model.k[k].value);
    }
}

static void check_all(lockmap *map, lockmap_lru *lru) {
    reconcile(lru);
    size_t seen = 0;
    CHECK(MAP_CALL(for_each, visit_check, &seen) == 0);
    CHECK(seen == model_len());
    CHECK(MAP_LEN() == model_len());
}

/* ---- one operation ------------------------------------------------------ */

static void unlock_key(lockmap *map, int k) {
    (void)map;
    lockmap_unlock(&entries[k]);
    model.k[k].held = false;
    model_evict(); /* unlock lets eviction catch up */
}

static void lock_result(int k, int rc) {
    CHECK(rc == 0);
    uint64_t *v = lockmap_entry_value(&entries[k]);
    if (!v) found_absent(k);
    model.k[k].held = true;
    CHECK(model.k[k].present ? v && *v == model.k[k].value : v == NULL);
}

static void run_op(lockmap *map, lockmap_lru *lru, input *in) {
    uint8_t op = take(in) % 18;
    int k = take(in) % NKEYS;
    const void *key = key_bytes[k];
    size_t klen = key_len[k];
    model_key *mk = &model.k[k];
    uint64_t v, out = 0;
    bool with_old = take(in) & 1;
    int rc;
    /* One-shot calls on a key this thread holds would wait for ourselves. */
    bool blocks = mk->held;
    switch (op) {
    case 0: /* insert */
        if (blocks) return;
        v = take_value(in);
        rc = MAP_CALL(insert, key, klen, &v, with_old ? &out : NULL);
        if (rc == 0) found_absent(k);
        CHECK(rc == (mk->present ? 1 : 0));
        if (rc == 1) {
            if (with_old)
                CHECK(out == mk->value);
            else
                model.drops_expected++;
            mk->value = v;
            touch(k);
        } else {
            became_present(k, v);
        }
        model_evict();
        return;
    case 1: /* get (promotes) */
        if (blocks) return;
        rc = lru ? lockmap_lru_get(lru, key, klen, &out)
                 : lockmap_get(map, key, klen, &out);
        if (rc == 0) found_absent(k);
        CHECK(rc == mk->present);
        if (rc) CHECK(out == mk->value);
        touch(k);
        return;
    case 2: /* peek / contains (no promotion) */
        if (blocks) return;
        rc = lru ? lockmap_lru_peek(lru, key, klen, &out)
                 : lockmap_contains(map, key, klen);
        if (rc == 0) found_absent(k);
        CHECK(rc == mk->present);
        if (lru && rc) CHECK(out == mk->value);
        return;
    case 3: /* remove */
        if (blocks) return;
        rc = MAP_CALL(remove, key, klen, with_old ? &out : NULL);
        if (rc == 0) found_absent(k);
        CHECK(rc == mk->present);
        if (rc && with_old) CHECK(out == mk->value);
        if (rc && !with_old) model.drops_expected++;
        mk->present = false;
        return;
    case 4: /* lock; on a key we hold, try and timed must refuse */
        touch(k);
        if (mk->held) {
            lockmap_entry other;
            CHECK(MAP_CALL(trylock, key, klen, &other) == -EBUSY);
            CHECK(MAP_CALL(timedlock, key, klen, 0, &other) == -ETIMEDOUT);
            return;
        }
        lock_result(k, MAP_CALL(lock, key, klen, &entries[k]));
        return;
    case 5: /* trylock */
        touch(k);
        if (mk->held) {
            lockmap_entry other;
            CHECK(MAP_CALL(trylock, key, klen, &other) == -EBUSY);
            CHECK(lockmap_entry_value(&other) == NULL);
            return;
        }
        lock_result(k, MAP_CALL(trylock, key, klen, &entries[k]));
        return;
    case 6: /* timedlock */
        if (mk->held) return;
        touch(k);
        lock_result(
            k, MAP_CALL(timedlock, key, klen, take(in) * 100u, &entries[k]));
        return;
    case 7:
        if (mk->held) unlock_key(map, k);
        return;
    case 8: /* entry insert */
        if (!mk->held) {
            lockmap_entry none = LOCKMAP_ENTRY_INIT;
            CHECK(lockmap_entry_insert(&none, &v, NULL) == -EINVAL);
            return;
        }
        v = take_value(in);
        rc = lockmap_entry_insert(&entries[k], &v, with_old ? &out : NULL);
        CHECK(rc == mk->present);
        if (rc) {
            if (with_old)
                CHECK(out == mk->value);
            else
                model.drops_expected++;
            mk->value = v;
        } else {
            became_present(k, v);
        }
        return;
    case 9: /* entry remove */
        if (!mk->held) return;
        rc = lockmap_entry_remove(&entries[k], with_old ? &out : NULL);
        CHECK(rc == mk->present);
        if (rc && with_old) CHECK(out == mk->value);
        if (rc && !with_old) model.drops_expected++;
        mk->present = false;
        return;
    case 10: { /* entry or_insert */
        if (!mk->held) return;
        v = take_value(in);
        uint64_t *p = lockmap_entry_or_insert(&entries[k], &v);
        CHECK(p != NULL);
        if (!mk->present) became_present(k, v);
        CHECK(*p == mk->value);
        size_t got_len = 1;
        CHECK(lockmap_entry_key(&entries[k], &got_len) != NULL || klen == 0);
        CHECK(got_len == klen);
        return;
    }
    case 11: { /* lock_batch of up to 8 pool keys, duplicates allowed */
        size_t n = take(in) % 9;
        int ks[8];
        lockmap_key keys[8];
        lockmap_entry batch[8];
        bool dup = false, held = false;
        for (size_t i = 0; i < n; i++) {
            ks[i] = take(in) % NKEYS;
            keys[i] = (lockmap_key){key_bytes[ks[i]], key_len[ks[i]]};
            held |= model.k[ks[i]].held;
            for (size_t j = 0; j < i; j++) dup |= ks[j] == ks[i];
        }
        if (held) return;
        rc = MAP_CALL(lock_batch, keys, n, batch);
        if (dup) {
            CHECK(rc == -EINVAL);
            return;
        }
        CHECK(rc == 0);
        int sorted[8];
        memcpy(sorted, ks, n * sizeof ks[0]);
        qsort(sorted, n, sizeof sorted[0], batch_cmp);
        for (size_t i = 0; i < n; i++) touch(sorted[i]); /* in lock order */
        for (size_t i = 0; i < n; i++) {
            uint64_t *p = lockmap_entry_value(&batch[i]);
            model_key *b = &model.k[ks[i]];
            if (!p) found_absent(ks[i]);
            CHECK(b->present ? p && *p == b->value : p == NULL);
        }
        /* unlock_batch releases from last to first; each unlock lets
         * eviction catch up, as for single entries. */
        for (size_t i = 0; i < n; i++) model.k[ks[i]].held = true;
        lockmap_unlock_batch(batch, n);
        for (size_t i = n; i-- > 0;) {
            model.k[ks[i]].held = false;
            model_evict();
        }
        return;
    }
    case 12: /* for_each */
        if (model_any_held()) return;
        check_all(map, lru);
        return;
    case 13: { /* retain by parity */
        if (model_any_held()) return;
        uint64_t parity = take(in) & 1;
        size_t removed = 0;
        reconcile(lru);
        for (int i = 0; i < NKEYS; i++)
            if (model.k[i].present && model.k[i].value % 2 != parity) {
                model.k[i].present = false;
                removed++;
            }
        CHECK(MAP_CALL(retain, keep_parity, &parity) == removed);
        model.drops_expected += removed;
        return;
    }
    case 14: /* clear */
        if (model_any_held()) return;
        reconcile(lru);
        model.drops_expected += model_len();
        CHECK((lru ? lockmap_lru_clear(lru) : lockmap_clear(map)) ==
              model_len());
        for (int i = 0; i < NKEYS; i++) model.k[i].present = false;
        return;
    case 15: { /* pop */
        if (!lru) return;
        size_t cap = take(in) * 2u, got_len = 9999;
        unsigned char kbuf[512];
        reconcile(lru);
        int victim = model_oldest_free();
        rc = lockmap_lru_pop(lru, kbuf, cap, &got_len, with_old ? &out : NULL);
        if (model.approx) {
            /* Not the model's victim (the hand's order), but a value
             * nobody holds, whose key is got_len long. */
            if (rc != -ENOENT) CHECK(got_len <= 300);
            victim = rc == 0 ? key_of(kbuf, got_len) : -1;
            if (rc == -ERANGE) {
                CHECK(got_len > cap);
                return;
            }
            if (rc == -ENOENT) {
                CHECK(model_oldest_free() < 0);
                return;
            }
            CHECK(rc == 0 && victim >= 0 && model.k[victim].present &&
                  !model.k[victim].held);
        }
        if (victim < 0) {
            CHECK(rc == -ENOENT);
            return;
        }
        CHECK(got_len == key_len[victim]);
        if (key_len[victim] > cap) {
            CHECK(rc == -ERANGE);
            return;
        }
        CHECK(rc == 0);
        CHECK(memcmp(kbuf, key_bytes[victim], got_len) == 0);
        if (with_old)
            CHECK(out == model.k[victim].value);
        else
            model.drops_expected++;
        model.k[victim].present = false;
        return;
    }
    case 16: /* len */
        reconcile(lru);
        CHECK(MAP_LEN() == model_len());
        if (model.approx && !model_any_held())
            CHECK(MAP_LEN() <= model.capacity);
        return;
    default: /* bad arguments never change anything */
        CHECK(MAP_CALL(get, NULL, 3, &out) == -EINVAL);
        CHECK(MAP_CALL(insert, key, klen, NULL, NULL) == -EINVAL);
        CHECK(MAP_CALL(lock, key, klen, NULL) == -EINVAL);
        return;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool ready;
    if (!ready) {
        init_keys();
        ready = true;
    }
    input in = {data, size};
    uint8_t mode = take(&in);
    memset(&model, 0, sizeof model);
    drops_seen = 0;
    model.lru = mode & 1;
    /* The policy: strict, CLOCK, S3-FIFO or buffered. */
    unsigned policy = (mode >> 5) % 4;
    model.approx = model.lru && policy != 0;
    hash_fn = mode & 2 ? colliding_hash : xxh3_hash;
    model.capacity = 1 + (mode >> 2) % 8;
    lockmap *map;
    lockmap_lru *lru = NULL;
    if (model.lru) {
        /* One shard: the strict LRU order is then exactly the model's. */
        lockmap_lru_options o = {.value_size = 8,
                                 .capacity = model.capacity,
                                 .policy = policy == 1   ? LOCKMAP_LRU_CLOCK
                                           : policy == 2 ? LOCKMAP_LRU_S3FIFO
                                           : policy == 3 ? LOCKMAP_LRU_BUFFERED
                                                         : LOCKMAP_LRU_STRICT,
                                 .shards = 1,
                                 .seed = SEED,
                                 .hash = hash_fn,
                                 .value_drop = count_drop};
        lru = lockmap_lru_new(&o);
        map = NULL;
    } else {
        lockmap_options o = {.value_size = 8,
                             .shards = 1u + (mode >> 5),
                             .seed = SEED,
                             .hash = hash_fn,
                             .value_drop = count_drop};
        map = lockmap_new(&o);
    }
    CHECK(map != NULL || lru != NULL);
    while (in.n) run_op(map, lru, &in);
    for (int k = 0; k < NKEYS; k++)
        if (model.k[k].held) unlock_key(map, k);
    check_all(map, lru);
    if (model.approx) CHECK(lockmap_lru_len(lru) <= model.capacity);
    if (lru) CHECK(lockmap_lru_evictions(lru) == model.evictions);
    CHECK(drops_seen == model.drops_expected);
    model.drops_expected += model_len();
    if (lru)
        lockmap_lru_free(lru);
    else
        lockmap_free(map);
    CHECK(drops_seen == model.drops_expected);
    return 0;
}
