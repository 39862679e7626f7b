// Peer "tbb": the lockmap API (lockmap/lockmap.h) over oneTBB's
// concurrent_hash_map, through this small C++ shim with a C interface.
//
//   entry          an accessor (the item's write lock), in the lockmap_entry
//   shared entry   a const_accessor (the item's read lock) found with find();
//                  for an absent key, a placeholder held with an accessor
//                  (as lock), marked read only
//   lockmap_get    find() with a const_accessor (read lock) and a copy
//   lockmap_remove find() with an accessor, then erase(accessor)
//   lock of an absent key
//                  insert(accessor, key): inserts a placeholder item marked
//                  vacant and holds it; unlock erases it if still vacant
//
// Differences from lockmap.h (see README.md): trylock and timedlock return
// -EOPNOTSUPP (an accessor can only be acquired by waiting); a placeholder is
// a real item while it is held (other threads that look the key up wait for
// it, as with the core, and find it gone afterwards); for_each, retain and
// clear first collect the keys by traversing the table, which oneTBB allows
// only while no other thread inserts or erases; the `shards` option is
// ignored. Values of up to 16 bytes live in the item; larger ones in a
// separate allocation made when the key first gets a value.
//
// Items are allocated with std::allocator (so malloc: jemalloc or glibc as
// lmbench's --allocator says), not oneTBB's scalable allocator.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <string_view>
#include <vector>


#include <tbb/concurrent_hash_map.h>

#include "base/hash.h"
#include "lockmap/lockmap.h"
#ifdef PEER_TEST_HOOKS  // the test-only build: see lockmap/tests/suite.bzl
#include "lockmap/testing.h"
#endif

namespace {

constexpr size_t kMaxShards = size_t{1} << 16;  // as the core, for EINVAL
constexpr size_t kInlineValue = 16;

// Hashes with the map's hash function and seed (XXH3 by default, as the core);
// transparent, so lookups take a string_view and build no std::string.
struct KeyHashCompare {
    using is_transparent = void;
    uint64_t (*fn)(const void *key, size_t klen, uint64_t seed);
    uint64_t seed;
    size_t hash(std::string_view k) const {
        return static_cast<size_t>(fn(k.size() ? k.data() : "", k.size(), seed));
    }
    bool equal(std::string_view a, std::string_view b) const { return a == b; }
};

// The mapped value: present or vacant, and value_size bytes.
struct Slot {
    bool has_value = false;
    unsigned char *heap = nullptr;  // value_size > kInlineValue
    alignas(std::max_align_t) unsigned char small[kInlineValue];
    Slot() = default;
    Slot(const Slot &) = delete;
    Slot &operator=(const Slot &) = delete;
    ~Slot() { std::free(heap); }
};

using Table = tbb::concurrent_hash_map<
    std::string, Slot, KeyHashCompare,
    std::allocator<std::pair<const std::string, Slot>>>;
using Accessor = Table::accessor;
using ConstAccessor = Table::const_accessor;

}  // namespace

struct lockmap {
    size_t value_size;
    uint64_t seed;
    void (*value_drop)(void *value, void *ctx);
    void *ctx;
    // Items that are placeholders (held, vacant). size() counts them, so
    // lockmap_len subtracts them. Relaxed: a count; it changes only while the
    // item's accessor is held.
    std::atomic<long> vacant{0};
    KeyHashCompare hc;  // a copy of the table's, for lock_batch's order
    Table table;
    lockmap(const lockmap_options *o, uint64_t s, size_t buckets)
        : value_size(o->value_size),
          seed(s),
          value_drop(o->value_drop),
          ctx(o->ctx),
          hc{o->hash ? o->hash : lm_default_hash, s},
          table(buckets, hc) {}
};

namespace {

void note_vacant(lockmap *m, long delta) {
    m->vacant.fetch_add(delta, std::memory_order_relaxed);  // a count
}

// The slot's value bytes, allocating them for large values; NULL on ENOMEM.
unsigned char *value_bytes(lockmap *m, Slot &s) {
    if (m->value_size <= kInlineValue) return s.small;
    if (!s.heap) {
        size_t a = alignof(std::max_align_t);
        size_t bytes = (m->value_size + a - 1) / a * a;
        s.heap = static_cast<unsigned char *>(std::aligned_alloc(a, bytes));
    }
    return s.heap;
}

unsigned char *value_of(lockmap *m, Slot &s) {
    return m->value_size <= kInlineValue ? s.small : s.heap;
}

void drop(lockmap *m, Slot &s) {
    if (m->value_drop) m->value_drop(value_of(m, s), m->ctx);
}

// 1 replaced, 0 was vacant (now present), -ENOMEM. The item is held.
int set_value(lockmap *m, Slot &s, const void *value, void *old_out) {
    unsigned char *v = value_bytes(m, s);
    if (!v) return -ENOMEM;
    int rc = 0;
    if (s.has_value) {
        if (old_out)
            std::memcpy(old_out, v, m->value_size);
        else
            drop(m, s);
        rc = 1;
    }
    if (value)
        std::memcpy(v, value, m->value_size);
    else
        std::memset(v, 0, m->value_size);
    s.has_value = true;
    return rc;
}

// 1 removed (copied or dropped), 0 was vacant. The item is held and stays.
int take_value(lockmap *m, Slot &s, void *old_out) {
    if (!s.has_value) return 0;
    if (old_out)
        std::memcpy(old_out, value_of(m, s), m->value_size);
    else
        drop(m, s);
    s.has_value = false;
    return 1;
}

bool bad_key(const void *key, size_t klen) { return key == nullptr && klen != 0; }

std::string_view view(const void *key, size_t klen) {
    return std::string_view(klen ? static_cast<const char *>(key) : "", klen);
}

// ---- entries: an accessor kept in lockmap_entry ---------------------------

// The accessor lives in the entry when it fits (it does with oneTBB 2021:
// 32 bytes, aligned 8); otherwise the entry keeps a pointer to one on the
// heap, allocated by every lock and freed by every unlock. A shared entry
// holds a const_accessor instead, when it found the key (`reader`), and is
// read only (`read_only`) whichever it holds.
struct InlineEntry {
    lockmap *map;  // NULL: holds nothing
    union {        // constructed and destroyed by acc_* / cacc_* below
        Accessor acc;
        ConstAccessor cacc;
    };
    bool reader;
    bool read_only;
};
constexpr bool kInlineAccessor = sizeof(InlineEntry) <= sizeof(lockmap_entry) &&
                                 alignof(InlineEntry) <= alignof(lockmap_entry);
struct HeapEntry {
    lockmap *map;
    Accessor *acc;
    ConstAccessor *cacc;
    bool reader;
    bool read_only;
};
using EntryRep = std::conditional_t<kInlineAccessor, InlineEntry, HeapEntry>;
static_assert(sizeof(EntryRep) <= sizeof(lockmap_entry), "entry too small");

EntryRep *rep(lockmap_entry *e) { return reinterpret_cast<EntryRep *>(e); }
const EntryRep *rep(const lockmap_entry *e) {
    return reinterpret_cast<const EntryRep *>(e);
}

// Overloads per representation; only EntryRep's are used.
Accessor *acc_of(InlineEntry *r) { return &r->acc; }
[[maybe_unused]] Accessor *acc_of(HeapEntry *r) { return r->acc; }

Accessor *acc_init(InlineEntry *r) { return new (&r->acc) Accessor(); }
[[maybe_unused]] Accessor *acc_init(HeapEntry *r) {
    return r->acc = new (std::nothrow) Accessor();
}

void acc_fini(InlineEntry *r) { r->acc.~Accessor(); }
[[maybe_unused]] void acc_fini(HeapEntry *r) { delete r->acc; }

ConstAccessor *cacc_of(InlineEntry *r) { return &r->cacc; }
[[maybe_unused]] ConstAccessor *cacc_of(HeapEntry *r) { return r->cacc; }

ConstAccessor *cacc_init(InlineEntry *r) {
    return new (&r->cacc) ConstAccessor();
}
[[maybe_unused]] ConstAccessor *cacc_init(HeapEntry *r) {
    return r->cacc = new (std::nothrow) ConstAccessor();
}

void cacc_fini(InlineEntry *r) { r->cacc.~ConstAccessor(); }
[[maybe_unused]] void cacc_fini(HeapEntry *r) { delete r->cacc; }

// A fresh accessor in the entry; NULL on ENOMEM. The entry holds nothing yet.
Accessor *acc_new(lockmap_entry *e) {
    EntryRep *r = rep(e);
    r->map = nullptr;
    r->reader = false;
    r->read_only = false;
    return acc_init(r);
}

// The held item's slot, through whichever accessor the entry holds.
Slot &slot_of(EntryRep *r) {
    if (r->reader) return const_cast<Slot &>((*cacc_of(r))->second);
    return (*acc_of(r))->second;
}

void acc_delete(EntryRep *r) {
    acc_fini(r);
    r->map = nullptr;
}

bool holds(const lockmap_entry *e) { return e && rep(e)->map; }

// Locks the key into the entry: 0 or -ENOMEM.
int lock_key(lockmap *m, std::string_view key, lockmap_entry *e) {
    Accessor *a = acc_new(e);
    if (!a) return -ENOMEM;
    try {
        if (m->table.insert(*a, key)) note_vacant(m, +1);  // a placeholder
    } catch (const std::bad_alloc &) {
        acc_delete(rep(e));
        return -ENOMEM;
    }
    rep(e)->map = m;
    return 0;
}

// Locks the key shared into the entry: a const_accessor (read lock) if the
// key is there, else a placeholder as lock_key does (write lock: a reader
// lock on an item that does not exist yet is not oneTBB's). 0 or -ENOMEM.
int lock_key_shared(lockmap *m, std::string_view key, lockmap_entry *e) {
    EntryRep *r = rep(e);
    r->map = nullptr;
    ConstAccessor *c = cacc_init(r);
    if (!c) return -ENOMEM;
    if (m->table.find(*c, key)) {
        r->reader = true;
        r->read_only = true;
        r->map = m;
        return 0;
    }
    cacc_fini(r);
    int rc = lock_key(m, key, e);
    if (rc == 0) r->read_only = true;
    return rc;
}

// Every key with a value, copied out by a traversal (no concurrent inserts
// or erases allowed while it runs: oneTBB's rule).
std::vector<std::string> collect_keys(lockmap *m) {
    std::vector<std::string> keys;
    keys.reserve(m->table.size());
    for (auto &kv : m->table) keys.push_back(kv.first);
    return keys;
}

}  // namespace

extern "C" {

const char *lockmap_variant(void) { return "tbb"; }

lockmap *lockmap_new(const lockmap_options *opts) {
    if (!opts || opts->value_size == 0 ||
        opts->value_size > LOCKMAP_MAX_VALUE_SIZE || opts->shards > kMaxShards) {
        errno = EINVAL;
        return nullptr;
    }
    // No table holds more items than bytes / 64 (an item is larger).
    if (opts->capacity > SIZE_MAX / 64) {
        errno = ENOMEM;
        return nullptr;
    }
    try {
        return new lockmap(opts, opts->seed ? opts->seed : lm_draw_seed(),
                           opts->capacity);
    } catch (const std::bad_alloc &) {
        errno = ENOMEM;
        return nullptr;
    }
}

void lockmap_free(lockmap *m) {
    if (!m) return;
    for (auto &kv : m->table)
        if (kv.second.has_value) drop(m, kv.second);
    delete m;
}

size_t lockmap_len(lockmap *m) {
    if (!m) return 0;
    long n = static_cast<long>(m->table.size()) -
             m->vacant.load(std::memory_order_relaxed);  // a count
    return n > 0 ? static_cast<size_t>(n) : 0;
}

bool lockmap_is_empty(lockmap *m) { return lockmap_len(m) == 0; }

int lockmap_get(lockmap *m, const void *key, size_t klen, void *value_out) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    ConstAccessor a;
    if (!m->table.find(a, view(key, klen))) return 0;
    Slot &s = const_cast<Slot &>(a->second);
    if (!s.has_value) return 0;
    if (value_out) std::memcpy(value_out, value_of(m, s), m->value_size);
    return 1;
}

int lockmap_contains(lockmap *m, const void *key, size_t klen) {
    return lockmap_get(m, key, klen, nullptr);
}

int lockmap_insert(lockmap *m, const void *key, size_t klen, const void *value,
                   void *old_out) {
    if (!m || !value || bad_key(key, klen)) return -EINVAL;
    Accessor a;
    bool created;
    try {
        created = m->table.insert(a, view(key, klen));
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    }
    int rc = set_value(m, a->second, value, old_out);
    if (rc == -ENOMEM && created) m->table.erase(a);
    return rc;
}

int lockmap_remove(lockmap *m, const void *key, size_t klen, void *old_out) {
    if (!m || bad_key(key, klen)) return -EINVAL;
    Accessor a;
    if (!m->table.find(a, view(key, klen))) return 0;
    int rc = take_value(m, a->second, old_out);
    // A vacant item found here is someone's placeholder: its holder removes
    // it. Holders erase placeholders before releasing them, so this cannot
    // happen; leave it alone if it does.
    if (rc) m->table.erase(a);
    return rc;
}

size_t lockmap_clear(lockmap *m) {
    if (!m) return 0;
    size_t removed = 0;
    for (const std::string &k : collect_keys(m)) {
        Accessor a;
        if (!m->table.find(a, std::string_view(k))) continue;
        if (take_value(m, a->second, nullptr)) {
            m->table.erase(a);
            removed++;
        }
    }
    return removed;
}

static int lock_common(lockmap *m, const void *key, size_t klen,
                       lockmap_entry *entry) {
    if (entry) rep(entry)->map = nullptr;
    if (!m || !entry || bad_key(key, klen)) return -EINVAL;
    return lock_key(m, view(key, klen), entry);
}

int lockmap_lock(lockmap *m, const void *key, size_t klen,
                 lockmap_entry *entry) {
    return lock_common(m, key, klen, entry);
}

int lockmap_trylock(lockmap *m, const void *key, size_t klen,
                    lockmap_entry *entry) {
    if (entry) rep(entry)->map = nullptr;
    if (!m || !entry || bad_key(key, klen)) return -EINVAL;
    return -EOPNOTSUPP;  // concurrent_hash_map has no non-blocking accessor
}

int lockmap_timedlock(lockmap *m, const void *key, size_t klen,
                      uint64_t timeout_ns, lockmap_entry *entry) {
    (void)timeout_ns;
    if (entry) rep(entry)->map = nullptr;
    if (!m || !entry || bad_key(key, klen)) return -EINVAL;
    return -EOPNOTSUPP;  // nor a timed one
}

int lockmap_lock_shared(lockmap *m, const void *key, size_t klen,
                        lockmap_entry *entry) {
    if (entry) rep(entry)->map = nullptr;
    if (!m || !entry || bad_key(key, klen)) return -EINVAL;
    return lock_key_shared(m, view(key, klen), entry);
}

int lockmap_trylock_shared(lockmap *m, const void *key, size_t klen,
                           lockmap_entry *entry) {
    return lockmap_trylock(m, key, klen, entry);  // -EOPNOTSUPP, as trylock
}

int lockmap_timedlock_shared(lockmap *m, const void *key, size_t klen,
                             uint64_t timeout_ns, lockmap_entry *entry) {
    return lockmap_timedlock(m, key, klen, timeout_ns, entry);  // as timedlock
}

void lockmap_unlock(lockmap_entry *entry) {
    if (!holds(entry)) return;
    EntryRep *r = rep(entry);
    if (r->reader) {  // a found item: its read lock goes with the accessor
        cacc_fini(r);
        r->map = nullptr;
        return;
    }
    lockmap *m = r->map;
    Accessor *a = acc_of(r);
    if (!(*a)->second.has_value) {  // a placeholder: take it out
        m->table.erase(*a);         // also releases the item
        note_vacant(m, -1);
    }
    acc_delete(r);  // releases the item if still held
}

void lockmap_entry_cleanup(lockmap_entry *entry) { lockmap_unlock(entry); }

const void *lockmap_entry_key(const lockmap_entry *entry, size_t *klen) {
    if (!holds(entry)) return nullptr;
    EntryRep *r = const_cast<EntryRep *>(rep(entry));
    const std::string &k =
        r->reader ? (*cacc_of(r))->first : (*acc_of(r))->first;
    if (klen) *klen = k.size();
    return k.data();
}

void *lockmap_entry_value(lockmap_entry *entry) {
    if (!holds(entry)) return nullptr;
    EntryRep *r = rep(entry);
    Slot &s = slot_of(r);
    return s.has_value ? value_of(r->map, s) : nullptr;
}

int lockmap_entry_insert(lockmap_entry *entry, const void *value,
                         void *old_out) {
    if (!holds(entry) || !value) return -EINVAL;
    EntryRep *r = rep(entry);
    if (r->read_only) return -EPERM;
    int rc = set_value(r->map, (*acc_of(r))->second, value, old_out);
    if (rc == 0) note_vacant(r->map, -1);
    return rc;
}

int lockmap_entry_remove(lockmap_entry *entry, void *old_out) {
    if (!holds(entry)) return -EINVAL;
    EntryRep *r = rep(entry);
    if (r->read_only) return -EPERM;
    int rc = take_value(r->map, (*acc_of(r))->second, old_out);
    if (rc == 1) note_vacant(r->map, +1);
    return rc;
}

void *lockmap_entry_or_insert(lockmap_entry *entry, const void *dflt) {
    if (!holds(entry)) return nullptr;
    EntryRep *r = rep(entry);
    if (r->read_only) {
        errno = EPERM;
        return nullptr;
    }
    Slot &s = (*acc_of(r))->second;
    if (!s.has_value) {
        if (set_value(r->map, s, dflt, nullptr) != 0) return nullptr;
        note_vacant(r->map, -1);
    }
    return value_of(r->map, s);
}

void *lockmap_entry_or_insert_with(lockmap_entry *entry,
                                   int (*init)(void *value, void *ctx),
                                   void *ctx) {
    if (!holds(entry) || !init) {
        errno = EINVAL;
        return nullptr;
    }
    EntryRep *r = rep(entry);
    if (r->read_only) {
        errno = EPERM;
        return nullptr;
    }
    Slot &s = (*acc_of(r))->second;
    if (s.has_value) return value_of(r->map, s);
    unsigned char *v = value_bytes(r->map, s);
    if (!v) {
        errno = ENOMEM;
        return nullptr;
    }
    int rc = init(v, ctx);
    if (rc != 0) {
        errno = rc < 0 ? -rc : rc;
        return nullptr;
    }
    s.has_value = true;
    note_vacant(r->map, -1);
    return v;
}

}  // extern "C"

namespace {

// The core's global lock order: hash, then length, then bytes; each key
// locked by `lock` (lock_key, or lock_key_shared).
int lock_batch(lockmap *m, const lockmap_key *keys, size_t n,
               lockmap_entry *entries,
               int (*lock)(lockmap *, std::string_view, lockmap_entry *)) {
    if (!m || ((!keys || !entries) && n)) return -EINVAL;
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++) {
        rep(&entries[i])->map = nullptr;
        if (bad_key(keys[i].data, keys[i].len)) return -EINVAL;
    }
    struct Item {
        size_t hash;
        std::string_view key;
        size_t index;
    };
    std::vector<Item> order;
    try {
        order.reserve(n);
    } catch (const std::bad_alloc &) {
        return -ENOMEM;
    }
    const KeyHashCompare &hc = m->hc;
    for (size_t i = 0; i < n; i++) {
        std::string_view k = view(keys[i].data, keys[i].len);
        order.push_back(Item{hc.hash(k), k, i});
    }
    auto before = [](const Item &x, const Item &y) {
        if (x.hash != y.hash) return x.hash < y.hash;
        if (x.key.size() != y.key.size()) return x.key.size() < y.key.size();
        return x.key < y.key;
    };
    std::sort(order.begin(), order.end(), before);
    for (size_t i = 1; i < n; i++)
        if (!before(order[i - 1], order[i])) return -EINVAL;  // duplicate
    for (size_t i = 0; i < n; i++) {
        int rc = lock(m, order[i].key, &entries[order[i].index]);
        if (rc) {
            while (i--) lockmap_unlock(&entries[order[i].index]);
            return rc;
        }
    }
    return 0;
}

}  // namespace

extern "C" {

int lockmap_lock_batch(lockmap *m, const lockmap_key *keys, size_t n,
                       lockmap_entry *entries) {
    return lock_batch(m, keys, n, entries, lock_key);
}

int lockmap_lock_batch_shared(lockmap *m, const lockmap_key *keys, size_t n,
                              lockmap_entry *entries) {
    return lock_batch(m, keys, n, entries, lock_key_shared);
}

void lockmap_unlock_batch(lockmap_entry *entries, size_t n) {
    if (!entries) return;
    while (n--) lockmap_unlock(&entries[n]);
}

int lockmap_for_each(lockmap *m, lockmap_visit_fn fn, void *ctx) {
    if (!m || !fn) return -EINVAL;
    for (const std::string &k : collect_keys(m)) {
        Accessor a;
        if (!m->table.find(a, std::string_view(k))) continue;
        Slot &s = a->second;
        if (!s.has_value) continue;
        int rc = fn(k.data(), k.size(), value_of(m, s), ctx);
        if (rc) return rc;
    }
    return 0;
}

size_t lockmap_retain(lockmap *m, lockmap_keep_fn keep, void *ctx) {
    if (!m || !keep) return 0;
    size_t removed = 0;
    for (const std::string &k : collect_keys(m)) {
        Accessor a;
        if (!m->table.find(a, std::string_view(k))) continue;
        Slot &s = a->second;
        if (!s.has_value || keep(k.data(), k.size(), value_of(m, s), ctx))
            continue;
        take_value(m, s, nullptr);
        m->table.erase(a);
        removed++;
    }
    return removed;
}

#ifdef PEER_TEST_HOOKS
size_t lm_debug_live_states(lockmap *m) { return m->table.size(); }

size_t lm_debug_shards(lockmap *m) {
    (void)m;
    return 1;  // not sharded (oneTBB's own buckets have their own locks)
}

uint64_t lm_debug_seed(lockmap *m) { return m->seed; }
#endif

}  // extern "C"
