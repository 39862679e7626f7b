/* singleflight: when many threads miss the same key at once, exactly one of
 * them computes the value; the others wait on the key and reuse it.
 *
 * Each thread locks the key. The first to get it finds it vacant and fills it
 * with lockmap_entry_or_insert_with, calling the slow backend while it holds
 * the key; everyone queued behind it then finds the value ready. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lockmap/lockmap.h"

enum { THREADS = 8 };

static atomic_int backend_calls;
static pthread_barrier_t start;

/* The slow backend: computes a "profile" for a user in ~20 ms. */
static int load_profile(void *value, void *ctx) {
    const char *user = ctx;
    atomic_fetch_add(&backend_calls, 1);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL); /* stands for a database round trip */
    snprintf(value, 64, "profile of %s", user);
    return 0;
}

typedef struct {
    lockmap *cache;
    char profile[64];
} worker;

static void *request(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(&start); /* all miss at once */
    lockmap_entry e;
    if (lockmap_lock(w->cache, "alice", 5, &e) != 0) return NULL;
    const char *p = lockmap_entry_or_insert_with(&e, load_profile, "alice");
    if (p) memcpy(w->profile, p, sizeof w->profile);
    lockmap_unlock(&e);
    return NULL;
}

int main(void) {
    lockmap_options opts = {.value_size = 64};
    lockmap *cache = lockmap_new(&opts);
    if (!cache) return 1;
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){cache, ""};
        pthread_create(&t[i], NULL, request, &w[i]);
    }
    int same = 1;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        same &= strcmp(w[i].profile, "profile of alice") == 0;
    }
    int calls = atomic_load(&backend_calls);
    printf("%d requests, %d backend call(s), all got the same profile: %s\n",
           THREADS, calls, same ? "yes" : "no");
    lockmap_free(cache);
    pthread_barrier_destroy(&start);
    if (calls != 1 || !same) {
        printf("FAILED\n");
        return 1;
    }
    printf("verified: the backend ran once\n");
    return 0;
}
