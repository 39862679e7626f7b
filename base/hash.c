/* The out-of-line default hash (one address for every map to store) and the
 * seed drawing declared in base/hash.h. */
#include "base/hash.h"

#include <stdatomic.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/platform.h"

uint64_t lm_default_hash(const void *key, size_t klen, uint64_t seed) {
    return lm_default_hash_inline(key, klen, seed);
}

uint64_t lm_draw_seed(void) {
    static _Atomic uint64_t counter;
    /* Relaxed: only uniqueness of the returned numbers matters. */
    uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = lm_now_ns() ^ ((uint64_t)getpid() << 32);
    uint64_t seed = lm_splitmix64(r ^ lm_splitmix64(n));
    return seed ? seed : 1;
}
