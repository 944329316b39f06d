/* Alternative: one lock for the whole bank, held by every call */
/* The simplest correct bank: with a single mutex there is no lock order to
 * get wrong and bank_total is a snapshot for free. The price is that
 * transfers between unrelated accounts wait for each other. */
#include "bank.h"

#include <pthread.h>
#include <stdlib.h>

struct bank {
    pthread_mutex_t lock;   /* guards every balance */
    int naccounts;          /* fixed at creation */
    long *balances;         /* guarded by lock */
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
    b->balances = malloc((size_t)naccounts * sizeof *b->balances);
    if (!b->balances) {
        free(b);
        return NULL;
    }
    if (pthread_mutex_init(&b->lock, NULL) != 0)
        abort();
    b->naccounts = naccounts;
    for (int i = 0; i < naccounts; i++)
        b->balances[i] = initial;
    return b;
}

void bank_destroy(bank_t *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b->balances);
    free(b);
}

enum bank_status bank_transfer(bank_t *b, int from, int to, long amount)
{
    if (!is_account(b, from) || !is_account(b, to) || amount <= 0)
        return BANK_INVALID;
    lock(&b->lock);
    enum bank_status st = BANK_INSUFFICIENT;
    if (b->balances[from] >= amount) {
        /* from == to subtracts and adds back: nothing changes. */
        b->balances[from] -= amount;
        b->balances[to] += amount;
        st = BANK_OK;
    }
    unlock(&b->lock);
    return st;
}

long bank_balance(bank_t *b, int account)
{
    if (!is_account(b, account))
        return -1;
    lock(&b->lock);
    long balance = b->balances[account];
    unlock(&b->lock);
    return balance;
}

long bank_total(bank_t *b)
{
    lock(&b->lock);
    long total = 0;
    for (int i = 0; i < b->naccounts; i++)
        total += b->balances[i];
    unlock(&b->lock);
    return total;
}
