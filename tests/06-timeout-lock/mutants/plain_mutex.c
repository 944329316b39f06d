/* Mutant: the lock is a plain pthread mutex (error-checking, with pthread_mutex_timedlock)
 * Expect: unit
 * A mutex belongs to the thread that locked it: unlocking it from another
 * thread fails with EPERM (and is undefined for a default mutex), while any
 * thread may release a Python Lock. */
#include "tlock.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct tlock {
    pthread_mutex_t mutex;  /* the lock itself; EPERM when not held */
};

tlock_t *tlock_create(void)
{
    tlock_t *l = malloc(sizeof *l);
    pthread_mutexattr_t attr;
    if (!l)
        return NULL;
    if (pthread_mutexattr_init(&attr) != 0) {
        free(l);
        return NULL;
    }
    /* An error-checking mutex reports unlocking a mutex not held: EPERM. */
    if (pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK) != 0 ||
        pthread_mutex_init(&l->mutex, &attr) != 0) {
        pthread_mutexattr_destroy(&attr);
        free(l);
        return NULL;
    }
    pthread_mutexattr_destroy(&attr);
    return l;
}

void tlock_destroy(tlock_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

/* pthread_mutex_timedlock reads its deadline on CLOCK_REALTIME. */
static struct timespec deadline_after(long timeout_ms)
{
    struct timespec t;
    if (clock_gettime(CLOCK_REALTIME, &t) != 0)
        abort();
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

static int acquire_until(tlock_t *l, const struct timespec *deadline)
{
    int err;
    if (!deadline)
        err = pthread_mutex_lock(&l->mutex);
    else
        err = pthread_mutex_timedlock(&l->mutex, deadline);
    /* EDEADLK: this thread holds it already; for a Lock that is "busy". */
    return err == 0 ? 0 : ETIMEDOUT;
}

int tlock_acquire(tlock_t *l, long timeout_ms)
{
    if (timeout_ms < 0)
        return acquire_until(l, NULL);
    if (timeout_ms == 0)
        return pthread_mutex_trylock(&l->mutex) == 0 ? 0 : ETIMEDOUT;
    struct timespec deadline = deadline_after(timeout_ms);
    return acquire_until(l, &deadline);
}

int tlock_release(tlock_t *l)
{
    return pthread_mutex_unlock(&l->mutex);   /* 0, or EPERM if not held */
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
    for (;;) {
        int err = acquire_until(first, until);
        if (err != 0)
            return err;
        if (pthread_mutex_trylock(&second->mutex) == 0)
            return 0;
        (void)tlock_release(first);
        tlock_t *busy = second;
        second = first;
        first = busy;
    }
}
