/* bank.c - a bank with one lock per account.
 *
 * This version works when one thread uses it, and goes wrong as soon as
 * several do: read README.md, then fix the three places marked BUG. */
#include "bank.h"

#include <pthread.h>
#include <stdlib.h>

struct account {
    pthread_mutex_t lock;   /* guards balance */
    long balance;           /* guarded by lock; never below 0 */
};

struct bank {
    int naccounts;              /* fixed at creation: read without a lock */
    struct account *accounts;   /* the array is fixed; each entry has its lock */
};

/* Locking a valid, initialised mutex cannot fail: if it does, stop loudly. */
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
    b->accounts = calloc((size_t)naccounts, sizeof *b->accounts);
    if (!b->accounts) {
        free(b);
        return NULL;
    }
    b->naccounts = naccounts;
    for (int i = 0; i < naccounts; i++) {
        if (pthread_mutex_init(&b->accounts[i].lock, NULL) != 0)
            abort();
        b->accounts[i].balance = initial;
    }
    return b;
}

void bank_destroy(bank_t *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->naccounts; i++)
        pthread_mutex_destroy(&b->accounts[i].lock);
    free(b->accounts);
    free(b);
}

enum bank_status bank_transfer(bank_t *b, int from, int to, long amount)
{
    if (!is_account(b, from) || !is_account(b, to) || amount <= 0)
        return BANK_INVALID;
    struct account *src = &b->accounts[from];
    struct account *dst = &b->accounts[to];

    /* BUG 1: the balance is checked before the lock is taken. Another
     * thread can take the money between this check and the subtraction. */
    if (src->balance < amount)
        return BANK_INSUFFICIENT;

    /* BUG 2: the locks are taken in argument order. A transfer 0 -> 1 and
     * a transfer 1 -> 0 can each take their first lock and then wait for
     * the other's forever. (And when from == to, which lock is "second"?) */
    lock(&src->lock);
    lock(&dst->lock);
    src->balance -= amount;
    dst->balance += amount;
    unlock(&dst->lock);
    unlock(&src->lock);
    return BANK_OK;
}

long bank_balance(bank_t *b, int account)
{
    if (!is_account(b, account))
        return -1;
    struct account *a = &b->accounts[account];
    lock(&a->lock);
    long balance = a->balance;
    unlock(&a->lock);
    return balance;
}

long bank_total(bank_t *b)
{
    /* BUG 3: the balances are read without their locks, while transfers
     * change them: the sum can count money twice or miss money in flight. */
    long total = 0;
    for (int i = 0; i < b->naccounts; i++)
        total += b->accounts[i].balance;
    return total;
}
