/* Alternative: the timer's thread polls (sleeps at most 1 ms at a time, checking the cancel and the monotonic clock); joiners wait on a condition variable */
#include "ptimer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct ptimer {
    pthread_mutex_t lock;
    pthread_cond_t over_cv;     /* broadcast when over; CLOCK_MONOTONIC */
    long interval_ms;
    void (*fn)(void *arg);
    void *arg;
    bool started, cancelled, called, over;  /* guarded by lock */
    long long deadline_ns;      /* guarded by lock; CLOCK_MONOTONIC */
    pthread_t tid;              /* guarded by lock */
};

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

static long long mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

ptimer_t *ptimer_create(long interval_ms, void (*fn)(void *arg), void *arg)
{
    if (interval_ms < 0 || !fn) {
        errno = EINVAL;
        return NULL;
    }
    ptimer_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err == 0) {
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (err == 0)
            err = pthread_cond_init(&t->over_cv, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (err == 0 && (err = pthread_mutex_init(&t->lock, NULL)) != 0)
        pthread_cond_destroy(&t->over_cv);
    if (err != 0) {
        free(t);
        errno = err;
        return NULL;
    }
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;
    return t;
}

static void *timer_main(void *p)
{
    ptimer_t *t = p;
    lock(&t->lock);
    for (;;) {
        long long left = t->deadline_ns - mono_ns();
        if (t->cancelled || left <= 0)
            break;
        unlock(&t->lock);
        /* At most 1 ms at a time: a cancel is noticed within a millisecond. */
        struct timespec nap = { 0, left < 1000000 ? (long)left : 1000000L };
        nanosleep(&nap, NULL);
        lock(&t->lock);
    }
    if (!t->cancelled) {
        t->called = true;
        unlock(&t->lock);
        t->fn(t->arg);
        lock(&t->lock);
    }
    t->over = true;
    pthread_cond_broadcast(&t->over_cv);
    unlock(&t->lock);
    return NULL;
}

int ptimer_start(ptimer_t *t)
{
    lock(&t->lock);
    int err = EBUSY;
    if (!t->started) {
        t->deadline_ns = mono_ns() + t->interval_ms * 1000000LL;
        err = pthread_create(&t->tid, NULL, timer_main, t);
        t->started = err == 0;
    }
    unlock(&t->lock);
    return err;
}

int ptimer_cancel(ptimer_t *t)
{
    lock(&t->lock);
    int err = t->called ? EALREADY : 0;
    if (!t->called)
        t->cancelled = true;    /* the polling thread sees it within 1 ms */
    unlock(&t->lock);
    return err;
}

int ptimer_join(ptimer_t *t, long timeout_ms)
{
    long long end = mono_ns() + (timeout_ms > 0 ? timeout_ms : 0) * 1000000LL;
    struct timespec deadline = { (time_t)(end / 1000000000LL), (long)(end % 1000000000LL) };
    int err = 0;
    lock(&t->lock);
    if (!t->started)
        err = EINVAL;
    else if (t->called && !t->over && pthread_equal(t->tid, pthread_self()))
        err = EDEADLK;
    while (err == 0 && !t->over) {
        if (timeout_ms == 0)
            err = ETIMEDOUT;
        else if (timeout_ms < 0)
            pthread_cond_wait(&t->over_cv, &t->lock);
        else if (pthread_cond_timedwait(&t->over_cv, &t->lock, &deadline) == ETIMEDOUT)
            err = t->over ? 0 : ETIMEDOUT;
    }
    unlock(&t->lock);
    return err;
}

void ptimer_destroy(ptimer_t *t)
{
    if (!t)
        return;
    lock(&t->lock);
    bool started = t->started;
    if (!t->called)
        t->cancelled = true;
    unlock(&t->lock);
    if (started && pthread_join(t->tid, NULL) != 0)
        abort();
    pthread_cond_destroy(&t->over_cv);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
