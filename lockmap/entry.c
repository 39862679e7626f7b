/* Held entries, shared by both maps' public APIs (see DESIGN in
 * lockmap/map.h): unlocking, the key, and the value operations of
 * lockmap.h's entry functions. Each call reads once which map locked the
 * entry and runs that map's path; below that branch nothing tests the kind
 * again (`lru` is a literal). */
#include <errno.h>

#include "lockmap/lru_list.h"
#include "lockmap/map.h"
#include "lockmap/pin.h"
#include "lockmap/shared.h"
#include "lockmap/state.h"
#include "lockmap/value.h"

void lockmap_unlock(lockmap_entry *entry) {
    if (!entry) return;
    lm_entry *e = entry_impl(entry);
    if (!e->st) return;
    if (e->shared) {
        unlock_shared(e);
        return;
    }
    if (!e->lru) {
        release_entry(e, false);
        return;
    }
    lockmap *map = e->map;
    lm_shard *sh = release_entry(e, true);
    /* Values inserted through the entry, or kept while held, may have put
     * the shard over its share: evict now that the key is free. */
    lm_lru_evict(map, sh);
}

void lockmap_entry_cleanup(lockmap_entry *entry) { lockmap_unlock(entry); }

void lockmap_unlock_batch(lockmap_entry *entries, size_t n) {
    if (!entries) return;
    while (n--) lockmap_unlock(&entries[n]);
}

const void *lockmap_entry_key(const lockmap_entry *entry, size_t *klen) {
    if (!entry) return NULL;
    const lm_entry *e = (const lm_entry *)entry;
    if (!e->st) return NULL;
    if (klen) *klen = st_klen(e->st);
    return st_key(e->map, e->st);
}

void *lockmap_entry_value(lockmap_entry *entry) {
    if (!entry) return NULL;
    lm_entry *e = entry_impl(entry);
    if (!e->st) return NULL;
    return e->shared ? shared_value(e) : entry_value_ptr(e);
}

int lockmap_entry_insert(lockmap_entry *entry, const void *value,
                         void *old_out) {
    if (!entry || !value || !entry_impl(entry)->st) return -EINVAL;
    lm_entry *e = entry_impl(entry);
    if (e->shared) return -EPERM;
    entry_write_back(e);
    int rc = e->lru ? entry_set(e, value, old_out, true)
                    : entry_set(e, value, old_out, false);
    entry_refresh(e);
    return rc;
}

int lockmap_entry_remove(lockmap_entry *entry, void *old_out) {
    if (!entry || !entry_impl(entry)->st) return -EINVAL;
    lm_entry *e = entry_impl(entry);
    if (e->shared) return -EPERM;
    entry_write_back(e);
    int rc =
        e->lru ? entry_take(e, old_out, true) : entry_take(e, old_out, false);
    entry_refresh(e);
    return rc;
}

void *lockmap_entry_or_insert(lockmap_entry *entry, const void *dflt) {
    if (!entry || !entry_impl(entry)->st) return NULL;
    lm_entry *e = entry_impl(entry);
    if (e->shared) {
        errno = EPERM;
        return NULL;
    }
    if (!has_value(e->st)) {
        if (e->lru)
            entry_set(e, dflt, NULL, true);
        else
            entry_set(e, dflt, NULL, false);
    }
    return entry_value_ptr(e);
}

void *lockmap_entry_or_insert_with(lockmap_entry *entry,
                                   int (*init)(void *value, void *ctx),
                                   void *ctx) {
    if (!entry || !init || !entry_impl(entry)->st) {
        errno = EINVAL;
        return NULL;
    }
    lm_entry *e = entry_impl(entry);
    if (e->shared) {
        errno = EPERM;
        return NULL;
    }
    if (has_value(e->st)) return entry_value_ptr(e);
    /* init writes straight into the vacant slot: we hold the key, and the
     * slot only counts as a value once marked present. In shared_values
     * maps the slot is the entry's private copy (lock-free readers may be
     * reading the state's), published like any in-place write. */
    unsigned char *slot = e->map->shared_values ? e->copy : st_value(e->st);
    int rc = init(slot, ctx);
    if (rc != 0) {
        errno = rc < 0 ? -rc : rc;
        return NULL;
    }
    if (e->map->shared_values) {
        shared_store(st_value(e->st), slot, e->map->value_size);
        e->copied = true;
    }
    if (e->lru)
        value_appeared(e->map, e->st, true);
    else
        value_appeared(e->map, e->st, false);
    return slot;
}
