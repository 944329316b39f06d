/* Mutant: run_limited's threads call the job without taking a slot
 * Expect: unit
 * The semaphore is created but nobody acquires it: all njobs jobs run at
 * once, which is exactly what Semaphore(limit) is there to prevent. */
#include "csem.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct csem {
    pthread_mutex_t lock;       /* guards count */
    pthread_cond_t available;   /* signalled when count goes up; uses CLOCK_MONOTONIC */
    unsigned count;             /* guarded by lock: free permits */
    unsigned max;               /* 0: unbounded; fixed at creation, read without lock */
};

/* Locking a valid, initialised mutex cannot fail: if it does, stop loudly. */
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

csem_t *csem_create(unsigned value, unsigned max)
{
    if (max > 0 && value > max) {
        errno = EINVAL;
        return NULL;
    }
    csem_t *s = malloc(sizeof *s);
    if (!s)
        return NULL;    /* malloc set errno */
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err == 0) {
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (err == 0)
            err = pthread_cond_init(&s->available, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (err != 0) {
        free(s);
        errno = err;
        return NULL;
    }
    err = pthread_mutex_init(&s->lock, NULL);
    if (err != 0) {
        pthread_cond_destroy(&s->available);
        free(s);
        errno = err;
        return NULL;
    }
    s->count = value;
    s->max = max;
    return s;
}

void csem_destroy(csem_t *s)
{
    if (!s)
        return;
    pthread_cond_destroy(&s->available);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* The moment timeout_ms from now on CLOCK_MONOTONIC, with tv_nsec kept
 * below one second as pthread_cond_timedwait requires. */
static struct timespec deadline_after(long timeout_ms)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        abort();
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Waits once for a release: 0 when woken (the caller checks the count
 * again), ETIMEDOUT when the time is up. Caller holds s->lock. */
static int wait_for_release(csem_t *s, long timeout_ms, const struct timespec *deadline)
{
    if (timeout_ms == 0)
        return ETIMEDOUT;   /* try once: never wait */
    int err = timeout_ms < 0
                  ? pthread_cond_wait(&s->available, &s->lock)
                  : pthread_cond_timedwait(&s->available, &s->lock, deadline);
    if (err != 0 && err != ETIMEDOUT)
        abort();    /* EINVAL would be a bug here: a bad deadline or mutex */
    return err;
}

int csem_acquire(csem_t *s, long timeout_ms)
{
    /* The deadline is fixed before waiting, so wake-ups that find no permit
     * do not restart the clock. */
    struct timespec deadline = { 0, 0 };
    if (timeout_ms > 0)
        deadline = deadline_after(timeout_ms);
    lock(&s->lock);
    int err = 0;
    while (s->count == 0 && err == 0)
        err = wait_for_release(s, timeout_ms, &deadline);
    /* A permit that arrived just as the time ran out is still taken. */
    if (s->count > 0) {
        s->count--;
        err = 0;
    }
    unlock(&s->lock);
    return err;
}

int csem_release(csem_t *s)
{
    int err = 0;
    lock(&s->lock);
    /* BoundedSemaphore: a release above max means a release too many; refuse
     * it before touching the count. A plain one only stops at UINT_MAX. */
    if ((s->max > 0 && s->count >= s->max) || s->count == UINT_MAX) {
        err = EOVERFLOW;
    } else {
        s->count++;
        /* One new permit: one waiter can use it. Signalled under the lock,
         * so no waiter can be between its check and its wait. */
        if (pthread_cond_signal(&s->available) != 0)
            abort();
    }
    unlock(&s->lock);
    return err;
}

unsigned csem_value(csem_t *s)
{
    lock(&s->lock);
    unsigned value = s->count;
    unlock(&s->lock);
    return value;
}

/* What the threads of one run_limited call share; read-only for them. */
struct limited {
    csem_t *slots;
    void (*job)(int i, void *arg);
    void *arg;
};

struct worker {
    const struct limited *shared;
    int i;
};

static void *worker_main(void *p)
{
    const struct worker *w = p;
    /* Cannot time out (< 0) and cannot overflow: each worker gives back
     * exactly the slot it took. */
    w->shared->job(w->i, w->shared->arg);
    return NULL;
}

int run_limited(int njobs, int limit, void (*job)(int i, void *arg), void *arg)
{
    if (njobs < 1 || limit < 1 || !job)
        return EINVAL;
    /* Bounded: a slot given back twice would be an error, not a new slot. */
    struct limited shared = { csem_create((unsigned)limit, (unsigned)limit), job, arg };
    pthread_t *threads = malloc((size_t)njobs * sizeof *threads);
    struct worker *workers = malloc((size_t)njobs * sizeof *workers);
    int err = ENOMEM;
    if (!shared.slots || !threads || !workers)
        goto out;

    /* Start them all, then wait for them all: the semaphore, not the
     * order of joins, decides how many jobs run at once. */
    int started = 0;
    err = 0;
    for (; started < njobs; started++) {
        workers[started] = (struct worker){ &shared, started };
        err = pthread_create(&threads[started], NULL, worker_main, &workers[started]);
        if (err != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        if (pthread_join(threads[i], NULL) != 0)
            abort();    /* only fails for a thread that is not ours */
out:
    free(workers);
    free(threads);
    csem_destroy(shared.slots);
    return err;
}
