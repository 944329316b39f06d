/* Alternative: transfers share a bank-wide read-write lock, bank_total takes it exclusively */
/* Transfers hold the bank's rwlock for reading (many at once) plus their
 * accounts' locks, by increasing index. bank_total holds the rwlock for
 * writing: while it holds it no transfer is under way, so it may read every
 * balance without the account locks and still see one instant. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* pthread_rwlockattr_setkind_np */
#endif
#include "bank.h"

#include <pthread.h>
#include <stdlib.h>

struct account {
    pthread_mutex_t lock;   /* guards balance, together with the bank's rwlock */
    long balance;           /* written with snapshot (read) + lock held */
};

struct bank {
    /* Read-held by every transfer, write-held by bank_total. A balance is
     * written only by a holder of snapshot (read) and of its account lock;
     * so either lock alone keeps it still, and bank_total may read it. */
    pthread_rwlock_t snapshot;
    int naccounts;              /* fixed at creation */
    struct account *accounts;
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
    b->accounts = calloc((size_t)naccounts, sizeof *b->accounts);
    if (!b->accounts) {
        free(b);
        return NULL;
    }
    /* glibc lets new readers in ahead of a waiting writer by default, so a
     * steady stream of transfers could keep bank_total waiting for ever:
     * ask for writers first. */
    pthread_rwlockattr_t attr;
    if (pthread_rwlockattr_init(&attr) != 0 ||
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP) != 0 ||
        pthread_rwlock_init(&b->snapshot, &attr) != 0)
        abort();
    pthread_rwlockattr_destroy(&attr);
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
    pthread_rwlock_destroy(&b->snapshot);
    free(b->accounts);
    free(b);
}

enum bank_status bank_transfer(bank_t *b, int from, int to, long amount)
{
    if (!is_account(b, from) || !is_account(b, to) || amount <= 0)
        return BANK_INVALID;
    struct account *src = &b->accounts[from];
    struct account *dst = &b->accounts[to];
    struct account *first = from < to ? src : dst;
    struct account *second = from < to ? dst : src;
    if (pthread_rwlock_rdlock(&b->snapshot) != 0)
        abort();
    lock(&first->lock);
    if (second != first)
        lock(&second->lock);
    enum bank_status st = BANK_INSUFFICIENT;
    if (src->balance >= amount) {
        src->balance -= amount;
        dst->balance += amount;
        st = BANK_OK;
    }
    if (second != first)
        unlock(&second->lock);
    unlock(&first->lock);
    if (pthread_rwlock_unlock(&b->snapshot) != 0)
        abort();
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
    if (pthread_rwlock_wrlock(&b->snapshot) != 0)
        abort();
    long total = 0;
    for (int i = 0; i < b->naccounts; i++)
        total += b->accounts[i].balance;
    if (pthread_rwlock_unlock(&b->snapshot) != 0)
        abort();
    return total;
}
