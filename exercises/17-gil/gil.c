/* gil.c - Python 3.2's GIL: a lock with a switch interval and forced switching.
 *
 * This first version is a plain lock: a mutex guarding a `locked` flag and
 * the holder, a condition variable that threads wait on while the GIL is
 * held. It works, but a CPU-bound holder keeps the GIL for ever: nothing asks
 * it to give the GIL up, and gil_check does nothing. The places marked TODO
 * say what is missing: run `make grade EX=17` to see it fail, then read
 * README.md.
 *
 * Whoever reads or changes the state holds the mutex. */
#include "gil.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct gil {
    pthread_mutex_t lock;       /* guards everything below */
    pthread_cond_t released;    /* signalled when the GIL is released */
    long interval_ms;           /* the switch interval (ms) */
    bool locked;                /* the GIL is held... */
    pthread_t holder;           /* ...by this thread (meaningful while locked) */
    /* TODO: what the switch interval and forced switching need: the thread
     * that took the GIL last, a switch counter, the drop request, the counts
     * of gil_get_stats, and a second condition variable for a holder that
     * dropped the GIL and waits until another thread has taken it. */
};

/* Locking a valid, initialised mutex cannot fail: if it does, stop loudly. */
static void lock(gil_t *g)
{
    if (pthread_mutex_lock(&g->lock) != 0)
        abort();
}

static void unlock(gil_t *g)
{
    if (pthread_mutex_unlock(&g->lock) != 0)
        abort();
}

static bool valid_interval(long interval_ms)
{
    return interval_ms >= 1 && interval_ms <= GIL_MAX_INTERVAL_MS;
}

/* True if the calling thread holds the GIL. Caller holds g->lock. */
static bool held_by_me(const gil_t *g)
{
    return g->locked && pthread_equal(g->holder, pthread_self());
}

/* Waits until the GIL is free and takes it. Caller holds g->lock. */
static void wait_to_take(gil_t *g)
{
    /* TODO: wait at most one interval at a time (pthread_cond_timedwait
     * with an absolute deadline one interval from now, computed before each
     * wait). When a wait runs out, the GIL is still held and the switch
     * counter is what it was before that wait, set the drop request. Count
     * the waiting threads. Once the GIL is taken: clear the drop request,
     * count a switch if the last holder was another thread, and wake a
     * holder that dropped the GIL and waits for that switch. */
    while (g->locked)
        if (pthread_cond_wait(&g->released, &g->lock) != 0)
            abort();
    g->locked = true;
    g->holder = pthread_self();
}

gil_t *gil_create(long interval_ms)
{
    if (!valid_interval(interval_ms)) {
        errno = EINVAL;
        return NULL;
    }
    gil_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;    /* calloc set errno */
    /* TODO: condition variables that measure deadlines on CLOCK_MONOTONIC
     * (pthread_condattr_setclock) make the deadlines immune to clock jumps. */
    int err = pthread_mutex_init(&g->lock, NULL);
    if (err == 0) {
        err = pthread_cond_init(&g->released, NULL);
        if (err != 0)
            pthread_mutex_destroy(&g->lock);
    }
    if (err != 0) {
        free(g);
        errno = err;
        return NULL;
    }
    g->interval_ms = interval_ms;
    return g;
}

void gil_destroy(gil_t *g)
{
    if (!g)
        return;
    pthread_cond_destroy(&g->released);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

int gil_set_interval(gil_t *g, long interval_ms)
{
    /* TODO: refuse intervals outside 1..GIL_MAX_INTERVAL_MS with EINVAL. */
    lock(g);
    g->interval_ms = interval_ms;
    unlock(g);
    return 0;
}

long gil_interval(gil_t *g)
{
    lock(g);
    long interval_ms = g->interval_ms;
    unlock(g);
    return interval_ms;
}

int gil_acquire(gil_t *g)
{
    lock(g);
    /* TODO: a holder asking again would wait for itself: EDEADLK. */
    wait_to_take(g);
    unlock(g);
    return 0;
}

int gil_release(gil_t *g)
{
    lock(g);
    if (!held_by_me(g)) {
        unlock(g);
        return EPERM;
    }
    g->locked = false;
    if (pthread_cond_signal(&g->released) != 0)
        abort();
    unlock(g);
    return 0;
}

int gil_check(gil_t *g, bool *switched)
{
    lock(g);
    if (!held_by_me(g)) {
        unlock(g);
        return EPERM;
    }
    /* TODO: with a drop request, drop the GIL (clear the request, release,
     * wake a waiter), wait until the switch counter changes (another thread
     * has taken the GIL: forced switching), then wait to take it back, and
     * say so in *switched. */
    unlock(g);
    if (switched)
        *switched = false;
    return 0;
}

int gil_get_stats(gil_t *g, struct gil_stats *out)
{
    if (!out)
        return EINVAL;
    /* TODO: the real counts. */
    (void)g;
    *out = (struct gil_stats){ 0, 0, 0 };
    return 0;
}
