/* Mutant: accounts are checked with <= naccounts instead of < naccounts
 * Expect: unit
 * Account number naccounts is one past the end of the array: bank_balance
 * reads memory that is no account instead of returning -1, and transfers
 * to it lose money into that memory. */
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
    return account >= 0 && account <= b->naccounts;
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
    /* Argument errors first: they need no lock, and they win over
     * BANK_INSUFFICIENT. */
    if (!is_account(b, from) || !is_account(b, to) || amount <= 0)
        return BANK_INVALID;
    struct account *src = &b->accounts[from];

    if (from == to) {
        /* One account, one lock: a mutex is not re-entrant, so locking it
         * "again" as the second account would wait for ourselves forever. */
        lock(&src->lock);
        enum bank_status st = src->balance < amount ? BANK_INSUFFICIENT : BANK_OK;
        unlock(&src->lock);
        return st;
    }

    struct account *dst = &b->accounts[to];
    /* The global order: lower index first. */
    struct account *first = from < to ? src : dst;
    struct account *second = from < to ? dst : src;
    lock(&first->lock);
    lock(&second->lock);
    enum bank_status st = BANK_INSUFFICIENT;
    if (src->balance >= amount) {   /* checked under the lock: still true below */
        src->balance -= amount;
        dst->balance += amount;
        st = BANK_OK;
    }
    unlock(&second->lock);
    unlock(&first->lock);
    return st;
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
    /* A snapshot: hold every account's lock at once, so no transfer is half
     * done while we add. Taking them by increasing index keeps the global
     * order that bank_transfer follows. */
    for (int i = 0; i < b->naccounts; i++)
        lock(&b->accounts[i].lock);
    long total = 0;
    for (int i = 0; i < b->naccounts; i++)
        total += b->accounts[i].balance;
    for (int i = b->naccounts - 1; i >= 0; i--)
        unlock(&b->accounts[i].lock);
    return total;
}
