/* Alternative: locks kept apart from the balances they guard, taken by increasing index */
/* The reference's lock order, with the data laid out differently: a lock is
 * only a token that the threads agree on ("whoever holds locks[i] may touch
 * balances[i]"); it need not sit next to what it guards. lock_pair takes the
 * one or two locks a transfer needs. */
#include "bank.h"

#include <pthread.h>
#include <stdlib.h>

struct bank {
    int naccounts;              /* fixed at creation */
    pthread_mutex_t *locks;     /* locks[i] guards balances[i] */
    long *balances;
};

static void lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0)
        abort();
}

static void unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

/* Takes the locks of accounts i and j (once if i == j), lower index first. */
static void lock_pair(bank_t *b, int i, int j)
{
    int lo = i < j ? i : j, hi = i < j ? j : i;
    lock(&b->locks[lo]);
    if (hi != lo)
        lock(&b->locks[hi]);
}

static void unlock_pair(bank_t *b, int i, int j)
{
    if (i != j)
        unlock(&b->locks[j]);
    unlock(&b->locks[i]);
}

static int is_account(const bank_t *b, int account)
{
    return account >= 0 && account < b->naccounts;
}

bank_t *bank_create(int naccounts, long initial)
{
    if (naccounts < 1 || initial < 0)
        return NULL;
    bank_t *b = malloc(sizeof *b);
    if (!b)
        return NULL;
    b->locks = malloc((size_t)naccounts * sizeof *b->locks);
    b->balances = malloc((size_t)naccounts * sizeof *b->balances);
    if (!b->locks || !b->balances) {
        free(b->locks);
        free(b->balances);
        free(b);
        return NULL;
    }
    b->naccounts = naccounts;
    for (int i = 0; i < naccounts; i++) {
        if (pthread_mutex_init(&b->locks[i], NULL) != 0)
            abort();
        b->balances[i] = initial;
    }
    return b;
}

void bank_destroy(bank_t *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->naccounts; i++)
        pthread_mutex_destroy(&b->locks[i]);
    free(b->locks);
    free(b->balances);
    free(b);
}

enum bank_status bank_transfer(bank_t *b, int from, int to, long amount)
{
    if (!is_account(b, from) || !is_account(b, to) || amount <= 0)
        return BANK_INVALID;
    lock_pair(b, from, to);
    enum bank_status st = BANK_INSUFFICIENT;
    if (b->balances[from] >= amount) {
        b->balances[from] -= amount;
        b->balances[to] += amount;
        st = BANK_OK;
    }
    unlock_pair(b, from, to);
    return st;
}

long bank_balance(bank_t *b, int account)
{
    if (!is_account(b, account))
        return -1;
    lock(&b->locks[account]);
    long balance = b->balances[account];
    unlock(&b->locks[account]);
    return balance;
}

long bank_total(bank_t *b)
{
    for (int i = 0; i < b->naccounts; i++)
        lock(&b->locks[i]);
    long total = 0;
    for (int i = 0; i < b->naccounts; i++)
        total += b->balances[i];
    for (int i = 0; i < b->naccounts; i++)
        unlock(&b->locks[i]);
    return total;
}
