/* tlock.c - a lock with time-outs, like Python's threading.Lock.
 *
 * The design is in place: the lock is the flag `held`, and a pthread mutex
 * guards that flag for the few instructions it takes to test and set it (a
 * mutex cannot be the lock itself: only the thread that locked a mutex may
 * unlock it, while any thread may release a Python Lock). A thread that
 * finds the lock held should sleep on the condition variable `freed` until a
 * release wakes it or its time-out runs out.
 *
 * What works: taking a free lock, releasing a held one, from any thread.
 * What does not: every place marked TODO (see README.md, "What to do"). */
#include "tlock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct tlock {
    pthread_mutex_t mutex;  /* guards held */
    pthread_cond_t freed;   /* TODO: nobody waits on it or signals it yet */
    bool held;              /* guarded by mutex: the Python lock's state */
};

/* Calls on a valid, initialised mutex or condition variable cannot fail:
 * if one does, stop loudly rather than go on with a broken lock. */
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
    if (pthread_mutex_init(&l->mutex, NULL) != 0) {
        free(l);
        return NULL;
    }
    /* TODO: which clock will this condition variable read deadlines on? */
    if (pthread_cond_init(&l->freed, NULL) != 0) {
        pthread_mutex_destroy(&l->mutex);
        free(l);
        return NULL;
    }
    l->held = false;
    return l;
}

void tlock_destroy(tlock_t *l)
{
    if (!l)
        return;
    pthread_cond_destroy(&l->freed);
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

int tlock_acquire(tlock_t *l, long timeout_ms)
{
    int result = 0;
    check(pthread_mutex_lock(&l->mutex));
    if (l->held) {
        /* TODO: this gives up at once, as if timeout_ms were always 0. Wait
         * on `freed` instead: as long as it takes when timeout_ms < 0, until
         * a deadline (now + timeout_ms) when timeout_ms > 0. */
        (void)timeout_ms;
        result = ETIMEDOUT;
    } else {
        l->held = true;
    }
    check(pthread_mutex_unlock(&l->mutex));
    return result;
}

int tlock_release(tlock_t *l)
{
    check(pthread_mutex_lock(&l->mutex));
    /* TODO: releasing a lock that is not held must fail with EPERM. */
    l->held = false;
    /* TODO: a thread may be waiting for this lock: wake it. */
    check(pthread_mutex_unlock(&l->mutex));
    return 0;
}

int tlock_acquire_pair(tlock_t *a, tlock_t *b, long timeout_ms)
{
    /* TODO: a == b is EINVAL.
     * TODO: timeout_ms is for the whole call, not for each lock.
     * TODO: once tlock_acquire really waits, this waits for b while holding
     * a: with another thread holding b and waiting for a, both wait for ever. */
    if (tlock_acquire(a, timeout_ms) != 0)
        return ETIMEDOUT;
    if (tlock_acquire(b, timeout_ms) != 0) {
        tlock_release(a);
        return ETIMEDOUT;
    }
    return 0;
}
