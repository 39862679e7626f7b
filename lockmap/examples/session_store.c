/* session_store: a bounded session cache on the LRU map. Logging in stores a
 * session; each request touches it (get promotes it). An admin view uses peek,
 * which reads without changing who gets evicted; expiry pops the least
 * recently used sessions. The store never holds more than its capacity. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lockmap/lockmap_lru.h"

enum { CAPACITY = 4 };

typedef struct {
    char user[16];
    uint32_t requests;
} session;

static int login(lockmap_lru *store, const char *sid, const char *user) {
    session s = {"", 0};
    snprintf(s.user, sizeof s.user, "%s", user);
    return lockmap_lru_insert(store, sid, strlen(sid), &s, NULL);
}

static int request(lockmap_lru *store, const char *sid) {
    lockmap_entry e;
    if (lockmap_lru_lock(store, sid, strlen(sid), &e) != 0) return -1;
    session *s = lockmap_entry_value(&e);
    int ok = s != NULL;
    if (s) s->requests++;
    lockmap_unlock(&e);
    return ok;
}

int main(void) {
    lockmap_lru_options opts = {
        .value_size = sizeof(session), .capacity = CAPACITY, .shards = 1};
    lockmap_lru *store = lockmap_lru_new(&opts);
    if (!store) return 1;
    int failures = 0;
    login(store, "s1", "ann");
    login(store, "s2", "bob");
    login(store, "s3", "cid");
    login(store, "s4", "dee");
    request(store, "s1"); /* s1 is now the most recently used */
    session peeked;
    /* The admin looks at s2 without keeping it alive. */
    failures += lockmap_lru_peek(store, "s2", 2, &peeked) != 1;
    printf("admin peeked at s2 (%s)\n", peeked.user);
    login(store, "s5", "eve"); /* over capacity: s2, the oldest, goes */
    failures += lockmap_lru_contains(store, "s2", 2) != 0;
    failures += lockmap_lru_contains(store, "s1", 2) != 1;
    printf("after s5 logs in: s2 evicted: %s, %zu sessions\n",
           lockmap_lru_contains(store, "s2", 2) ? "no" : "yes",
           lockmap_lru_len(store));
    failures += lockmap_lru_len(store) != CAPACITY;
    /* Expire the two least recently used sessions: s3, then s4. */
    const char *expect[2] = {"s3", "s4"};
    for (int i = 0; i < 2; i++) {
        char sid[8];
        size_t len;
        session s;
        if (lockmap_lru_pop(store, sid, sizeof sid, &len, &s) != 0) return 1;
        printf("expired %.*s (%s)\n", (int)len, sid, s.user);
        failures += len != 2 || memcmp(sid, expect[i], 2) != 0;
    }
    failures += request(store, "s1") != 1;
    failures += request(store, "s3") != 0; /* expired: no session */
    session s1;
    lockmap_lru_get(store, "s1", 2, &s1);
    printf("s1 (%s) made %u requests; %zu sessions left; %zu evicted\n",
           s1.user, s1.requests, lockmap_lru_len(store),
           lockmap_lru_evictions(store));
    failures += s1.requests != 2 || lockmap_lru_evictions(store) != 1;
    lockmap_lru_free(store);
    if (failures) {
        printf("FAILED (%d checks)\n", failures);
        return 1;
    }
    printf("verified: eviction and expiry in least-recently-used order\n");
    return 0;
}
