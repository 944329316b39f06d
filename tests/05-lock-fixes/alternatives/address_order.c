/* Alternative: accounts allocated one by one, locks taken in order of their address */
/* Any global order prevents deadlock, as long as everyone follows the same
 * one. Here the accounts are separate allocations, so index order and
 * address order differ: transfers take the lower address first, and
 * bank_total walks a copy of the accounts sorted by address. */
#include "bank.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

struct account {
    pthread_mutex_t lock;   /* guards balance */
    long balance;           /* guarded by lock; never below 0 */
};

struct bank {
    int naccounts;                  /* fixed at creation */
    struct account **accounts;      /* by index; fixed at creation */
    struct account **by_address;    /* the same, in lock order; fixed at creation */
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

/* Pointers into different allocations are compared as integers: `<` on
 * them is undefined in C. */
static int before(const struct account *a, const struct account *b)
{
    return (uintptr_t)a < (uintptr_t)b;
}

static int by_address(const void *pa, const void *pb)
{
    const struct account *a = *(struct account *const *)pa;
    const struct account *b = *(struct account *const *)pb;
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

static int is_account(const bank_t *b, int account)
{
    return account >= 0 && account < b->naccounts;
}

void bank_destroy(bank_t *b)
{
    if (!b)
        return;
    for (int i = 0; i < b->naccounts; i++) {
        if (b->accounts[i]) {
            pthread_mutex_destroy(&b->accounts[i]->lock);
            free(b->accounts[i]);
        }
    }
    free(b->accounts);
    free(b->by_address);
    free(b);
}

bank_t *bank_create(int naccounts, long initial)
{
    if (naccounts < 1 || initial < 0)
        return NULL;
    bank_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->accounts = calloc((size_t)naccounts, sizeof *b->accounts);
    b->by_address = calloc((size_t)naccounts, sizeof *b->by_address);
    if (!b->accounts || !b->by_address) {
        bank_destroy(b);
        return NULL;
    }
    b->naccounts = naccounts;
    for (int i = 0; i < naccounts; i++) {
        struct account *a = malloc(sizeof *a);
        if (!a) {
            bank_destroy(b);
            return NULL;
        }
        if (pthread_mutex_init(&a->lock, NULL) != 0)
            abort();
        a->balance = initial;
        b->accounts[i] = b->by_address[i] = a;
    }
    qsort(b->by_address, (size_t)naccounts, sizeof *b->by_address, by_address);
    return b;
}

enum bank_status bank_transfer(bank_t *b, int from, int to, long amount)
{
    if (!is_account(b, from) || !is_account(b, to) || amount <= 0)
        return BANK_INVALID;
    struct account *src = b->accounts[from];
    struct account *dst = b->accounts[to];
    struct account *first = before(src, dst) ? src : dst;
    struct account *second = before(src, dst) ? dst : src;
    lock(&first->lock);
    if (second != first)
        lock(&second->lock);
    enum bank_status st = BANK_INSUFFICIENT;
    if (src->balance >= amount) {
        src->balance -= amount;
        dst->balance += amount;   /* from == to: back where it was */
        st = BANK_OK;
    }
    if (second != first)
        unlock(&second->lock);
    unlock(&first->lock);
    return st;
}

long bank_balance(bank_t *b, int account)
{
    if (!is_account(b, account))
        return -1;
    struct account *a = b->accounts[account];
    lock(&a->lock);
    long balance = a->balance;
    unlock(&a->lock);
    return balance;
}

long bank_total(bank_t *b)
{
    for (int i = 0; i < b->naccounts; i++)
        lock(&b->by_address[i]->lock);
    long total = 0;
    for (int i = 0; i < b->naccounts; i++)
        total += b->by_address[i]->balance;
    for (int i = b->naccounts - 1; i >= 0; i--)
        unlock(&b->by_address[i]->lock);
    return total;
}
