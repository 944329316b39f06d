/* csem.c - a counting semaphore from a mutex and a condition variable.
 *
 * This first version has the right shape and works in the simplest cases
 * (one thread, permits always free), but four things marked BUG are wrong:
 * run `make grade EX=07` to see them fail, then read README.md.
 *
 * The count is the number of free permits; whoever reads or changes it holds
 * the mutex. A thread that finds no permit sleeps on the condition variable
 * `available`, which a release signals. */
#include "csem.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct csem {
    pthread_mutex_t lock;       /* guards count */
    pthread_cond_t available;   /* signalled when count goes up */
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
    /* BUG 1: a BoundedSemaphore cannot start above its ceiling: with
     * max > 0 and value > max, return NULL with errno EINVAL. */
    csem_t *s = malloc(sizeof *s);
    if (!s)
        return NULL;    /* malloc set errno */
    int err = pthread_cond_init(&s->available, NULL);
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

int csem_acquire(csem_t *s, long timeout_ms)
{
    lock(&s->lock);
    if (timeout_ms == 0 && s->count == 0) {
        unlock(&s->lock);
        return ETIMEDOUT;   /* try once: never wait */
    }
    /* BUG 2: after pthread_cond_wait returns, the count may be 0 again
     * (another thread took the permit first, or the wake-up was spurious),
     * and a time-out > 0 is ignored: it waits as long as it takes. */
    if (s->count == 0)
        pthread_cond_wait(&s->available, &s->lock);
    s->count--;
    unlock(&s->lock);
    return 0;
}

int csem_release(csem_t *s)
{
    lock(&s->lock);
    /* BUG 3: a BoundedSemaphore must refuse a release above max
     * (EOVERFLOW, count unchanged); and waking a thread only when the count
     * was 0 loses wake-ups when two releases come before a waiter runs. */
    if (s->count++ == 0)
        pthread_cond_signal(&s->available);
    unlock(&s->lock);
    return 0;
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
    /* BUG 4: the job runs without taking a slot, so all njobs run at once. */
    w->shared->job(w->i, w->shared->arg);
    return NULL;
}

int run_limited(int njobs, int limit, void (*job)(int i, void *arg), void *arg)
{
    if (njobs < 1 || limit < 1 || !job)
        return EINVAL;
    struct limited shared = { csem_create((unsigned)limit, (unsigned)limit), job, arg };
    pthread_t *threads = malloc((size_t)njobs * sizeof *threads);
    struct worker *workers = malloc((size_t)njobs * sizeof *workers);
    int err = ENOMEM;
    if (!shared.slots || !threads || !workers)
        goto out;

    /* Start them all, then wait for them all. */
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
