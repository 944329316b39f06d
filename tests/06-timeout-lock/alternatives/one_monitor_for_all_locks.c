/* Alternative: one mutex and one condition variable shared by every lock; a pair waits until both are free and takes them in one step */
/*
 * All lock states are guarded by one global mutex, so tlock_acquire_pair can
 * look at both flags and set both at once: it never holds one lock while
 * waiting for the other, so it cannot deadlock. Waiters wait for different
 * locks on the same condition variable, so a release must broadcast. Simple,
 * but every lock operation of the program goes through one mutex. */
#include "tlock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct tlock {
    bool held;  /* guarded by monitor */
};

static pthread_mutex_t monitor = PTHREAD_MUTEX_INITIALIZER;   /* guards every held */
static pthread_cond_t changed;       /* broadcast on every release; CLOCK_MONOTONIC */
static pthread_once_t changed_once = PTHREAD_ONCE_INIT;

static void check(int err)
{
    if (err != 0)
        abort();
}

static void init_changed(void)
{
    pthread_condattr_t attr;
    check(pthread_condattr_init(&attr));
    check(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
    check(pthread_cond_init(&changed, &attr));
    check(pthread_condattr_destroy(&attr));
}

tlock_t *tlock_create(void)
{
    check(pthread_once(&changed_once, init_changed));
    tlock_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    l->held = false;
    return l;
}

void tlock_destroy(tlock_t *l)
{
    free(l);
}

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

/* Takes a, and b too unless b is NULL, when all are free; waits for that
 * until the deadline (NULL: for ever). Caller holds the monitor. */
static int take_all(tlock_t *a, tlock_t *b, long timeout_ms)
{
    struct timespec deadline;
    if (timeout_ms > 0)
        deadline = deadline_after(timeout_ms);
    while (a->held || (b && b->held)) {
        if (timeout_ms == 0)
            return ETIMEDOUT;
        if (timeout_ms < 0) {
            check(pthread_cond_wait(&changed, &monitor));
            continue;
        }
        int err = pthread_cond_timedwait(&changed, &monitor, &deadline);
        if (err == ETIMEDOUT) {
            if (a->held || (b && b->held))
                return ETIMEDOUT;
            break;
        }
        check(err);
    }
    a->held = true;
    if (b)
        b->held = true;
    return 0;
}

int tlock_acquire(tlock_t *l, long timeout_ms)
{
    check(pthread_mutex_lock(&monitor));
    int result = take_all(l, NULL, timeout_ms);
    check(pthread_mutex_unlock(&monitor));
    return result;
}

int tlock_release(tlock_t *l)
{
    int result = 0;
    check(pthread_mutex_lock(&monitor));
    if (!l->held) {
        result = EPERM;
    } else {
        l->held = false;
        /* Waiters for other locks sleep here too: wake them all. */
        check(pthread_cond_broadcast(&changed));
    }
    check(pthread_mutex_unlock(&monitor));
    return result;
}

int tlock_acquire_pair(tlock_t *a, tlock_t *b, long timeout_ms)
{
    if (a == b)
        return EINVAL;
    check(pthread_mutex_lock(&monitor));
    int result = take_all(a, b, timeout_ms);
    check(pthread_mutex_unlock(&monitor));
    return result;
}
