/* bank: money moves between accounts through lockmap_lock_batch, which takes
 * all the accounts of a transfer at once without deadlock. Auditors lock every
 * account together while transfers run and check the total each time. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "lockmap/lockmap.h"

enum { ACCOUNTS = 100, TELLERS = 6, AUDITORS = 2, TRANSFERS = 20000 };
#define OPENING_BALANCE 1000

static atomic_int tellers_left = TELLERS;
static atomic_int bad_audits, audits;
/* lock_batch calls that failed (-ENOMEM, -EINVAL): each is a transfer or an
 * audit that did not happen, so the run fails. */
static atomic_int failed_batches;

static uint64_t next_rand(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *teller(void *arg) {
    lockmap *bank = arg;
    uint64_t seed = (uintptr_t)&seed | 1;
    for (int i = 0; i < TRANSFERS; i++) {
        uint32_t from = next_rand(&seed) % ACCOUNTS, to;
        do to = next_rand(&seed) % ACCOUNTS;
        while (to == from);
        lockmap_key keys[2] = {{&from, sizeof from}, {&to, sizeof to}};
        lockmap_entry e[2];
        int rc = lockmap_lock_batch(bank, keys, 2, e);
        if (rc != 0) {
            fprintf(stderr, "bank: transfer %u -> %u: lock_batch: %d\n", from,
                    to, rc);
            atomic_fetch_add(&failed_batches, 1);
            continue;
        }
        int64_t *a = lockmap_entry_value(&e[0]),
                *b = lockmap_entry_value(&e[1]);
        int64_t amount = (int64_t)(next_rand(&seed) % 100);
        if (*a >= amount) {
            *a -= amount;
            *b += amount;
        }
        lockmap_unlock_batch(e, 2);
    }
    atomic_fetch_sub(&tellers_left, 1);
    return NULL;
}

static void *auditor(void *arg) {
    lockmap *bank = arg;
    uint32_t ids[ACCOUNTS];
    lockmap_key keys[ACCOUNTS];
    lockmap_entry e[ACCOUNTS];
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        ids[i] = i;
        keys[i] = (lockmap_key){&ids[i], sizeof ids[i]};
    }
    do {
        int rc = lockmap_lock_batch(bank, keys, ACCOUNTS, e);
        if (rc != 0) {
            fprintf(stderr, "bank: audit: lock_batch: %d\n", rc);
            atomic_fetch_add(&failed_batches, 1);
            continue;
        }
        int64_t total = 0;
        for (int i = 0; i < ACCOUNTS; i++)
            total += *(int64_t *)lockmap_entry_value(&e[i]);
        lockmap_unlock_batch(e, ACCOUNTS);
        if (total != (int64_t)ACCOUNTS * OPENING_BALANCE)
            atomic_fetch_add(&bad_audits, 1);
        atomic_fetch_add(&audits, 1);
    } while (atomic_load(&tellers_left) > 0);
    return NULL;
}

int main(void) {
    lockmap_options opts = {.value_size = sizeof(int64_t)};
    lockmap *bank = lockmap_new(&opts);
    if (!bank) return 1;
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        int64_t balance = OPENING_BALANCE;
        if (lockmap_insert(bank, &i, sizeof i, &balance, NULL) != 0) {
            fprintf(stderr, "bank: cannot open account %u\n", i);
            lockmap_free(bank);
            return 1;
        }
    }
    pthread_t t[TELLERS + AUDITORS];
    for (int i = 0; i < TELLERS + AUDITORS; i++)
        pthread_create(&t[i], NULL, i < TELLERS ? teller : auditor, bank);
    for (int i = 0; i < TELLERS + AUDITORS; i++) pthread_join(t[i], NULL);
    int64_t total = 0;
    for (uint32_t i = 0; i < ACCOUNTS; i++) {
        int64_t balance = 0;
        if (lockmap_get(bank, &i, sizeof i, &balance) != 1)
            fprintf(stderr, "bank: account %u is gone\n", i);
        total += balance;
    }
    printf("%d transfers, %d audits during them, %d inconsistent, %d failed "
           "lock_batch calls; total %lld\n",
           TELLERS * TRANSFERS, atomic_load(&audits), atomic_load(&bad_audits),
           atomic_load(&failed_batches), (long long)total);
    lockmap_free(bank);
    if (total != (int64_t)ACCOUNTS * OPENING_BALANCE ||
        atomic_load(&bad_audits) || atomic_load(&audits) == 0 ||
        atomic_load(&failed_batches)) {
        printf("FAILED\n");
        return 1;
    }
    printf("verified: money was neither created nor lost\n");
    return 0;
}
