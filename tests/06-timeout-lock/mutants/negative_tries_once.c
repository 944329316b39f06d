/* Mutant: a negative time-out only tries once, like 0
 * Expect: unit
 * A negative time-out waits as long as it takes; here it returns ETIMEDOUT
 * at once when the lock is held. */
#include "tlock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct tlock {
    pthread_mutex_t mutex;  /* guards held; never held while sleeping */
    pthread_cond_t freed;   /* signalled when held becomes false; CLOCK_MONOTONIC */
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
    pthread_condattr_t attr;
    if (pthread_mutex_init(&l->mutex, NULL) != 0)
        goto fail_mutex;
    if (pthread_condattr_init(&attr) != 0)
        goto fail_attr;
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&l->freed, &attr) != 0) {
        pthread_condattr_destroy(&attr);
        goto fail_attr;
    }
    pthread_condattr_destroy(&attr);
    l->held = false;
    return l;

fail_attr:
    pthread_mutex_destroy(&l->mutex);
fail_mutex:
    free(l);
    return NULL;
}

void tlock_destroy(tlock_t *l)
{
    if (!l)
        return;
    pthread_cond_destroy(&l->freed);
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

/* The absolute CLOCK_MONOTONIC time timeout_ms (>= 0) from now. tv_nsec must
 * stay below one second: 700 ms + 500 ms is 1 s + 200 ms, not 0 s + 1200 ms,
 * which pthread_cond_timedwait would refuse with EINVAL. */
static struct timespec deadline_after(long timeout_ms)
{
    struct timespec t;
    check(clock_gettime(CLOCK_MONOTONIC, &t));
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Takes l, waiting until *deadline at most, or as long as it takes when
 * deadline is NULL. 0 when taken, ETIMEDOUT when not. A deadline already
 * past still tries once. */
static int acquire_until(tlock_t *l, const struct timespec *deadline)
{
    check(pthread_mutex_lock(&l->mutex));
    /* A loop, not an `if`: between the signal and this thread getting the
     * mutex back, another thread may have taken the lock; and a wait may
     * wake up for no reason at all. */
    while (l->held) {
        if (!deadline) {
            check(pthread_cond_wait(&l->freed, &l->mutex));
            continue;
        }
        int err = pthread_cond_timedwait(&l->freed, &l->mutex, deadline);
        if (err == ETIMEDOUT)
            break;
        check(err);
    }
    /* Even after a time-out the lock may have just been freed: take it
     * then, rather than leave it free while we report failure. */
    int result = ETIMEDOUT;
    if (!l->held) {
        l->held = true;
        result = 0;
    }
    check(pthread_mutex_unlock(&l->mutex));
    return result;
}

/* Takes l if it is free, without waiting: 0 or ETIMEDOUT. */
static int try_acquire(tlock_t *l)
{
    check(pthread_mutex_lock(&l->mutex));
    int result = ETIMEDOUT;
    if (!l->held) {
        l->held = true;
        result = 0;
    }
    check(pthread_mutex_unlock(&l->mutex));
    return result;
}

int tlock_acquire(tlock_t *l, long timeout_ms)
{
    if (timeout_ms <= 0)
        return try_acquire(l);
    struct timespec deadline = deadline_after(timeout_ms);
    return acquire_until(l, &deadline);
}

int tlock_release(tlock_t *l)
{
    int result = 0;
    check(pthread_mutex_lock(&l->mutex));
    if (!l->held) {
        result = EPERM;
    } else {
        l->held = false;
        /* One waiter can take the lock: wake one. Signalling while holding
         * the mutex keeps the flag change and the wake-up together. */
        check(pthread_cond_signal(&l->freed));
    }
    check(pthread_mutex_unlock(&l->mutex));
    return result;
}

/* Sleeps a random time of up to 2^(attempt + 4) microseconds, at most
 * ~1 ms: longer as failures repeat, random so that two threads drift apart. */
static void back_off(int attempt, unsigned *seed)
{
    int shift = attempt < 6 ? attempt + 4 : 10;
    struct timespec pause = { 0, 1000L * (rand_r(seed) % (1L << shift) + 1) };
    nanosleep(&pause, NULL);
}

int tlock_acquire_pair(tlock_t *a, tlock_t *b, long timeout_ms)
{
    if (a == b)
        return EINVAL;   /* a Lock is not re-entrant: this could never succeed */
    struct timespec deadline;
    const struct timespec *until = NULL;
    if (timeout_ms >= 0) {
        /* One deadline for the whole call: every wait below shares it. */
        deadline = deadline_after(timeout_ms);
        until = &deadline;
    }
    tlock_t *first = a, *second = b;
    unsigned seed = (unsigned)(uintptr_t)&seed;   /* differs between threads */
    for (int attempt = 0;; attempt++) {
        /* Holding nothing, wait for `first`. */
        int err = acquire_until(first, until);
        if (err != 0)
            return err;
        /* Holding `first`, only try `second`: never wait while holding. */
        if (try_acquire(second) == 0)
            return 0;
        /* We hold `first`; ignore the status all the same: any thread may
         * release any lock, and if one did, `first` is already free. */
        (void)tlock_release(first);
        /* Next wait for the lock that was busy, after a pause. */
        tlock_t *busy = second;
        second = first;
        first = busy;
        back_off(attempt, &seed);
    }
}
