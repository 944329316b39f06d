/* Alternative: a POSIX sem_t (sem_wait, sem_trywait, sem_timedwait), with a mutex only for bounded releases */
#include "csem.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>

struct csem {
    sem_t sem;                      /* the count: sem_t does the waiting */
    pthread_mutex_t release_lock;   /* serialises bounded releases */
    unsigned max;                   /* 0: unbounded; fixed at creation */
};

csem_t *csem_create(unsigned value, unsigned max)
{
    if ((max > 0 && value > max) || value > (unsigned)SEM_VALUE_MAX) {
        errno = EINVAL;
        return NULL;
    }
    csem_t *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    if (sem_init(&s->sem, 0, value) != 0) {
        int err = errno;
        free(s);
        errno = err;
        return NULL;
    }
    int err = pthread_mutex_init(&s->release_lock, NULL);
    if (err != 0) {
        sem_destroy(&s->sem);
        free(s);
        errno = err;
        return NULL;
    }
    s->max = max;
    return s;
}

void csem_destroy(csem_t *s)
{
    if (!s)
        return;
    sem_destroy(&s->sem);
    pthread_mutex_destroy(&s->release_lock);
    free(s);
}

int csem_acquire(csem_t *s, long timeout_ms)
{
    if (timeout_ms == 0) {
        while (sem_trywait(&s->sem) != 0) {
            if (errno == EAGAIN)
                return ETIMEDOUT;
            if (errno != EINTR)
                abort();
        }
        return 0;
    }
    if (timeout_ms < 0) {
        while (sem_wait(&s->sem) != 0)
            if (errno != EINTR)
                abort();
        return 0;
    }
    /* sem_timedwait measures its absolute deadline on CLOCK_REALTIME. */
    struct timespec deadline;
    if (clock_gettime(CLOCK_REALTIME, &deadline) != 0)
        abort();
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    while (sem_timedwait(&s->sem, &deadline) != 0) {
        if (errno == ETIMEDOUT)
            return ETIMEDOUT;
        if (errno != EINTR)
            abort();
    }
    return 0;
}

int csem_release(csem_t *s)
{
    if (s->max == 0)
        return sem_post(&s->sem) == 0 ? 0 : errno;    /* EOVERFLOW at SEM_VALUE_MAX */
    /* Bounded: check, then post, with no other release in between. Acquires
     * may still run meanwhile, but they only lower the value. */
    if (pthread_mutex_lock(&s->release_lock) != 0)
        abort();
    int value, err = 0;
    if (sem_getvalue(&s->sem, &value) != 0)
        abort();
    if (value >= (int)s->max)
        err = EOVERFLOW;
    else if (sem_post(&s->sem) != 0)
        err = errno;
    if (pthread_mutex_unlock(&s->release_lock) != 0)
        abort();
    return err;
}

unsigned csem_value(csem_t *s)
{
    int value;
    if (sem_getvalue(&s->sem, &value) != 0)
        abort();
    return value < 0 ? 0 : (unsigned)value;
}

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
    if (csem_acquire(w->shared->slots, -1) != 0)
        abort();
    w->shared->job(w->i, w->shared->arg);
    if (csem_release(w->shared->slots) != 0)
        abort();
    return NULL;
}

int run_limited(int njobs, int limit, void (*job)(int i, void *arg), void *arg)
{
    if (njobs < 1 || limit < 1 || !job)
        return EINVAL;
    struct limited shared = { csem_create((unsigned)limit, (unsigned)limit), job, arg };
    pthread_t *threads = malloc((size_t)njobs * sizeof *threads);
    struct worker *workers = malloc((size_t)njobs * sizeof *workers);
    int err = shared.slots ? ENOMEM : errno;
    if (!shared.slots || !threads || !workers)
        goto out;
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
            abort();
out:
    free(workers);
    free(threads);
    csem_destroy(shared.slots);
    return err;
}
