/* rate_limiter: a token bucket per client. Each request locks its client's
 * key, refills the bucket by the time elapsed since its last refill, and takes
 * a token if there is one. Several threads hammer a few clients; at the end
 * no client may have been granted more than its burst plus its rate times the
 * time that passed. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "lockmap/lockmap.h"

enum { THREADS = 6, CLIENTS = 4, REQUESTS = 200000 };
#define BURST 50.0
#define RATE_PER_S 2000.0

typedef struct {
    double tokens;
    uint64_t last_ns;
    uint64_t granted, refused;
} bucket;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int new_bucket(void *value, void *ctx) {
    (void)ctx;
    *(bucket *)value = (bucket){BURST, now_ns(), 0, 0};
    return 0;
}

/* true when the client may proceed. */
static bool allow(lockmap *limits, uint32_t client) {
    lockmap_entry e;
    if (lockmap_lock(limits, &client, sizeof client, &e) != 0) return false;
    bucket *b = lockmap_entry_or_insert_with(&e, new_bucket, NULL);
    bool ok = false;
    if (b) {
        uint64_t now = now_ns();
        b->tokens += (double)(now - b->last_ns) * RATE_PER_S / 1e9;
        if (b->tokens > BURST) b->tokens = BURST;
        b->last_ns = now;
        ok = b->tokens >= 1.0;
        if (ok) {
            b->tokens -= 1.0;
            b->granted++;
        } else {
            b->refused++;
        }
    }
    lockmap_unlock(&e);
    return ok;
}

static void *hammer(void *arg) {
    lockmap *limits = arg;
    for (uint32_t i = 0; i < REQUESTS; i++) allow(limits, i % CLIENTS);
    return NULL;
}

int main(void) {
    lockmap_options opts = {.value_size = sizeof(bucket)};
    lockmap *limits = lockmap_new(&opts);
    if (!limits) return 1;
    uint64_t t0 = now_ns();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer, limits);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    double elapsed_s = (double)(now_ns() - t0) / 1e9;
    double budget = BURST + RATE_PER_S * elapsed_s;
    int bad = 0;
    uint64_t seen = 0;
    for (uint32_t c = 0; c < CLIENTS; c++) {
        bucket b;
        if (lockmap_get(limits, &c, sizeof c, &b) != 1) return 1;
        printf("client %u: %llu granted, %llu refused (budget %.0f)\n", c,
               (unsigned long long)b.granted, (unsigned long long)b.refused,
               budget);
        bad += (double)b.granted > budget;
        seen += b.granted + b.refused;
    }
    lockmap_free(limits);
    if (bad || seen != (uint64_t)THREADS * REQUESTS) {
        printf("FAILED\n");
        return 1;
    }
    printf("verified: no client exceeded its budget, every request counted\n");
    return 0;
}
