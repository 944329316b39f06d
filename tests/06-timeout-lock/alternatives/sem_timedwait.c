/* Alternative: a binary semaphore (sem_t) with sem_trywait / sem_timedwait on CLOCK_REALTIME deadlines */
/*
 * A POSIX semaphore has no owner: any thread may post it, exactly like any
 * thread may release a Python Lock. Its value is 1 when the lock is free and
 * 0 when it is held. sem_timedwait reads its deadline on CLOCK_REALTIME.
 * Releases are serialised by a mutex so that "is it held?" and the post are
 * one step: two releases of a held lock must not both post. */
#include "tlock.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct tlock {
    sem_t sem;                      /* 1: free, 0: held */
    pthread_mutex_t release_lock;   /* serialises tlock_release */
};

static void check(int err)
{
    if (err != 0)
        abort();
}

tlock_t *tlock_create(void)
{
    tlock_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    if (sem_init(&l->sem, 0, 1) != 0) {
        free(l);
        return NULL;
    }
    if (pthread_mutex_init(&l->release_lock, NULL) != 0) {
        sem_destroy(&l->sem);
        free(l);
        return NULL;
    }
    return l;
}

void tlock_destroy(tlock_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->release_lock);
    sem_destroy(&l->sem);
    free(l);
}

static struct timespec deadline_after(long timeout_ms)
{
    struct timespec t;
    check(clock_gettime(CLOCK_REALTIME, &t));
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int try_acquire(tlock_t *l)
{
    while (sem_trywait(&l->sem) != 0) {
        if (errno == EAGAIN)
            return ETIMEDOUT;
        if (errno != EINTR)
            abort();
    }
    return 0;
}

/* Until *deadline, or for ever when deadline is NULL. */
static int acquire_until(tlock_t *l, const struct timespec *deadline)
{
    for (;;) {
        int r = deadline ? sem_timedwait(&l->sem, deadline) : sem_wait(&l->sem);
        if (r == 0)
            return 0;
        if (errno == ETIMEDOUT)
            return ETIMEDOUT;
        if (errno != EINTR)
            abort();
    }
}

int tlock_acquire(tlock_t *l, long timeout_ms)
{
    if (timeout_ms < 0)
        return acquire_until(l, NULL);
    if (timeout_ms == 0)
        return try_acquire(l);
    struct timespec deadline = deadline_after(timeout_ms);
    return acquire_until(l, &deadline);
}

int tlock_release(tlock_t *l)
{
    int result = 0, value;
    check(pthread_mutex_lock(&l->release_lock));
    if (sem_getvalue(&l->sem, &value) != 0)
        abort();
    /* Acquirers only take a positive value down, so a 0 seen here stays 0
     * until our post. */
    if (value > 0)
        result = EPERM;
    else if (sem_post(&l->sem) != 0)
        abort();
    check(pthread_mutex_unlock(&l->release_lock));
    return result;
}

int tlock_acquire_pair(tlock_t *a, tlock_t *b, long timeout_ms)
{
    if (a == b)
        return EINVAL;
    struct timespec deadline;
    const struct timespec *until = NULL;
    if (timeout_ms >= 0) {
        deadline = deadline_after(timeout_ms);
        until = &deadline;
    }
    tlock_t *first = a, *second = b;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    for (int round = 0;; round++) {
        int err = round == 0 && timeout_ms == 0 ? try_acquire(first)
                                                : acquire_until(first, until);
        if (err != 0)
            return err;
        if (try_acquire(second) == 0)
            return 0;
        (void)tlock_release(first);
        tlock_t *busy = second;
        second = first;
        first = busy;
        /* A random pause, so that two threads doing the same in the
         * opposite order do not fall into step. */
        struct timespec pause = { 0, 1000L * (rand_r(&seed) % 512 + 1) };
        nanosleep(&pause, NULL);
    }
}
