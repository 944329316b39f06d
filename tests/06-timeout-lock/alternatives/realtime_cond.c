/* Alternative: condition variable on its default clock, CLOCK_REALTIME, with wall-clock deadlines and broadcast */
/*
 * Correct as long as nobody sets the system clock during a wait (then a
 * time-out would stretch or shrink): the deadline and the condition variable
 * use the same clock. Release wakes every waiter; each checks `held` again
 * in its loop, and only one gets the lock. */
#include "tlock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct tlock {
    pthread_mutex_t mutex;  /* guards held */
    pthread_cond_t freed;   /* broadcast when held becomes false */
    bool held;              /* guarded by mutex */
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
    if (pthread_mutex_init(&l->mutex, NULL) != 0) {
        free(l);
        return NULL;
    }
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

/* Wall-clock deadline: what a default condition variable expects. */
static void deadline_after(long timeout_ms, struct timespec *t)
{
    check(clock_gettime(CLOCK_REALTIME, t));
    long long nsec = t->tv_nsec + (long long)(timeout_ms % 1000) * 1000000LL;
    t->tv_sec += timeout_ms / 1000 + (time_t)(nsec / 1000000000LL);
    t->tv_nsec = (long)(nsec % 1000000000LL);
}

/* Takes l if it is free: 0, or ETIMEDOUT. */
static int try_lock(tlock_t *l)
{
    check(pthread_mutex_lock(&l->mutex));
    bool was_held = l->held;
    l->held = true;
    check(pthread_mutex_unlock(&l->mutex));
    return was_held ? ETIMEDOUT : 0;
}

/* deadline NULL: for ever. */
static int lock_until(tlock_t *l, const struct timespec *deadline)
{
    int result = 0;
    check(pthread_mutex_lock(&l->mutex));
    while (l->held) {
        if (!deadline) {
            check(pthread_cond_wait(&l->freed, &l->mutex));
        } else {
            int err = pthread_cond_timedwait(&l->freed, &l->mutex, deadline);
            if (err == ETIMEDOUT && l->held) {
                result = ETIMEDOUT;
                break;
            }
            if (err != ETIMEDOUT)
                check(err);
        }
    }
    if (result == 0)
        l->held = true;
    check(pthread_mutex_unlock(&l->mutex));
    return result;
}

int tlock_acquire(tlock_t *l, long timeout_ms)
{
    if (timeout_ms < 0)
        return lock_until(l, NULL);
    if (timeout_ms == 0)
        return try_lock(l);
    struct timespec deadline;
    deadline_after(timeout_ms, &deadline);
    return lock_until(l, &deadline);
}

int tlock_release(tlock_t *l)
{
    check(pthread_mutex_lock(&l->mutex));
    bool was_held = l->held;
    l->held = false;
    if (was_held)
        check(pthread_cond_broadcast(&l->freed));
    check(pthread_mutex_unlock(&l->mutex));
    return was_held ? 0 : EPERM;
}

int tlock_acquire_pair(tlock_t *a, tlock_t *b, long timeout_ms)
{
    if (a == b)
        return EINVAL;
    struct timespec deadline, *until = NULL;
    if (timeout_ms >= 0) {
        deadline_after(timeout_ms, &deadline);
        until = &deadline;
    }
    unsigned seed = (unsigned)(uintptr_t)&seed;
    for (int round = 0;; round++) {
        int err = round == 0 && timeout_ms == 0 ? try_lock(a) : lock_until(a, until);
        if (err != 0)
            return err;
        if (try_lock(b) == 0)
            return 0;
        (void)tlock_release(a);
        /* Swap roles: wait for the busy one next, holding nothing. */
        tlock_t *t = a;
        a = b;
        b = t;
        /* A random pause, so that two threads doing the same in the
         * opposite order do not fall into step. */
        struct timespec pause = { 0, 1000L * (rand_r(&seed) % 512 + 1) };
        nanosleep(&pause, NULL);
    }
}
