/* Alternative: lock `from`, try-lock `to`; when busy, let go of both and retry after a back-off */
/* No global order: a transfer never waits for a lock while holding one.
 * It blocks only on its first lock (holding nothing) and merely tries the
 * second; if that is busy it releases the first, backs off and starts
 * again, so no cycle of waiting threads can form. bank_total takes all the
 * account locks the same way. */
#include "bank.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct account {
    pthread_mutex_t lock;   /* guards balance */
    long balance;           /* guarded by lock; never below 0 */
};

struct bank {
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

/* True when m was free and is now ours; false when another thread holds it. */
static int try_lock(pthread_mutex_t *m)
{
    int err = pthread_mutex_trylock(m);
    if (err != 0 && err != EBUSY)
        abort();
    return err == 0;
}

/* Waits a little longer after each failed attempt, with some randomness so
 * that two threads that collided do not collide again in lock step. */
static void back_off(int attempt, unsigned *seed)
{
    if (attempt < 4) {
        sched_yield();
        return;
    }
    int shift = attempt < 10 ? attempt : 10;
    long us = 1 + rand_r(seed) % (1L << shift);   /* up to ~1 ms */
    struct timespec ts = { 0, us * 1000 };
    nanosleep(&ts, NULL);
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
    lock(&src->lock);
    if (from != to) {
        /* Differs between threads: their stacks lie at different addresses. */
        unsigned seed = (unsigned)(uintptr_t)&seed ^ ((unsigned)from * 31u + (unsigned)to);
        for (int attempt = 0; !try_lock(&dst->lock); attempt++) {
            unlock(&src->lock);
            back_off(attempt, &seed);
            lock(&src->lock);
        }
    }
    /* Both locks held (one when from == to). */
    enum bank_status st = BANK_INSUFFICIENT;
    if (src->balance >= amount) {
        src->balance -= amount;
        dst->balance += amount;
        st = BANK_OK;
    }
    if (from != to)
        unlock(&dst->lock);
    unlock(&src->lock);
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

/* Takes every account's lock the same way: wait only for the first one,
 * try the others, and start again from scratch when one is busy. */
static void lock_all(bank_t *b)
{
    unsigned seed = (unsigned)(uintptr_t)&seed;
    for (int attempt = 0;; attempt++) {
        lock(&b->accounts[0].lock);
        int held = 1;
        while (held < b->naccounts && try_lock(&b->accounts[held].lock))
            held++;
        if (held == b->naccounts)
            return;
        while (held > 0)
            unlock(&b->accounts[--held].lock);
        back_off(attempt, &seed);
    }
}

long bank_total(bank_t *b)
{
    lock_all(b);
    long total = 0;
    for (int i = 0; i < b->naccounts; i++)
        total += b->accounts[i].balance;
    for (int i = b->naccounts - 1; i >= 0; i--)
        unlock(&b->accounts[i].lock);
    return total;
}
