/* The SwissTable's inserts, growth and erases (see swiss_table.h). */
#include "bench/peers/rust-design/swiss_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Group masks are 16 bits in an unsigned int; swt_erase counts their
 * leading zeros as a 32-bit word's. */
_Static_assert(sizeof(unsigned) == 4, "unsigned must be 32 bits");

/* Elements a table of `buckets` slots holds before it must grow: 7/8 of
 * them, hashbrown's maximum load. */
static size_t capacity_of(size_t buckets) { return buckets - buckets / 8; }

/* The smallest power-of-two bucket count holding `capacity` elements;
 * 0 when that overflows. */
static size_t buckets_for(size_t capacity) {
    if (capacity > SIZE_MAX / 16) return 0;
    size_t b = SWT_MIN_BUCKETS;
    while (capacity_of(b) < capacity) b <<= 1;
    return b;
}

static int alloc_table(swt *t, size_t buckets) {
    if (buckets == 0 || buckets > (SIZE_MAX - SWT_GROUP) / 16) return -ENOMEM;
    size_t slot_bytes = buckets * sizeof(void *);
    unsigned char *mem = malloc(slot_bytes + buckets + SWT_GROUP);
    if (!mem) return -ENOMEM;
    t->ctrl = mem + slot_bytes;
    memset(t->ctrl, SWT_EMPTY, buckets + SWT_GROUP);
    t->mask = buckets - 1;
    t->items = 0;
    t->growth_left = capacity_of(buckets);
    return 0;
}

int swt_init(swt *t, size_t capacity) {
    return alloc_table(t, buckets_for(capacity));
}

void swt_destroy(swt *t) {
    if (t->ctrl) free(swt_slots(t));
    t->ctrl = NULL;
}

/* Writes a control byte and its mirror: the first SWT_GROUP bytes are
 * repeated after the last slot, so group loads near the end wrap around. For
 * slots past the first group the mirror index is the slot itself. */
static void set_ctrl(swt *t, size_t slot, uint8_t byte) {
    t->ctrl[slot] = byte;
    t->ctrl[((slot - SWT_GROUP) & t->mask) + SWT_GROUP] = byte;
}

/* The first EMPTY or DELETED slot of the hash's probe sequence. One exists:
 * growth keeps at least 1/8 of the slots EMPTY. */
static size_t find_free_slot(const swt *t, uint64_t hash) {
    for (swt_probe p = swt_probe_start(t, hash);; swt_probe_next(t, &p)) {
        unsigned m = swt_match_free(t->ctrl + p.pos);
        if (m) return (p.pos + (size_t)__builtin_ctz(m)) & t->mask;
    }
}

/* Moves every element into a fresh table of `buckets` slots (dropping the
 * tombstones). The old table stays as it was on ENOMEM. */
static int rebuild(swt *t, size_t buckets, swt_hash_fn hash_of) {
    swt n;
    if (alloc_table(&n, buckets) != 0) return -ENOMEM;
    for (size_t i = 0; i <= t->mask; i++) {
        if (!swt_is_full(t, i)) continue;
        uint64_t h = hash_of(swt_slots(t)[i]);
        size_t s = find_free_slot(&n, h);
        set_ctrl(&n, s, swt_tag(h));
        swt_slots(&n)[s] = swt_slots(t)[i];
    }
    n.items = t->items;
    n.growth_left -= t->items;
    free(swt_slots(t));
    *t = n;
    return 0;
}

/* Room for one more element: rebuild at the same size when tombstones
 * rather than elements use up the room (at most half the capacity live, as
 * hashbrown decides), else double. */
static int reserve_one(swt *t, swt_hash_fn hash_of) {
    size_t buckets = t->mask + 1;
    if (t->items + 1 <= capacity_of(buckets) / 2)
        return rebuild(t, buckets, hash_of);
    if (buckets > SIZE_MAX / 2) return -ENOMEM;
    return rebuild(t, buckets * 2, hash_of);
}

size_t swt_insert(swt *t, uint64_t hash, void *elem, swt_hash_fn hash_of) {
    size_t slot = find_free_slot(t, hash);
    /* A tombstone may be reused at any load; an EMPTY slot only while it
     * leaves 1/8 of the table EMPTY (which ends every probe). */
    if (t->growth_left == 0 && t->ctrl[slot] == SWT_EMPTY) {
        if (reserve_one(t, hash_of) != 0) return SWT_NONE;
        slot = find_free_slot(t, hash);
    }
    if (t->ctrl[slot] == SWT_EMPTY) t->growth_left--;
    set_ctrl(t, slot, swt_tag(hash));
    swt_slots(t)[slot] = elem;
    t->items++;
    return slot;
}

void swt_erase(swt *t, size_t slot) {
    /* Non-EMPTY bytes right before the slot (top bits of the group that ends
     * there) and from the slot on (bottom bits of the group starting there).
     * If they make a run of a whole group, some probe may have loaded a group
     * with no EMPTY byte here and gone on: the slot must stay a tombstone.
     * Otherwise every probe through it stopped in this group: EMPTY. */
    unsigned before =
        swt_match(t->ctrl + ((slot - SWT_GROUP) & t->mask), SWT_EMPTY);
    unsigned after = swt_match(t->ctrl + slot, SWT_EMPTY);
    unsigned run_before =
        before ? (unsigned)__builtin_clz(before) - (32 - SWT_GROUP) : SWT_GROUP;
    unsigned run_after = after ? (unsigned)__builtin_ctz(after) : SWT_GROUP;
    if (run_before + run_after >= SWT_GROUP) {
        set_ctrl(t, slot, SWT_DELETED);
    } else {
        set_ctrl(t, slot, SWT_EMPTY);
        t->growth_left++;
    }
    t->items--;
}
