/* ptimer.c - threading.Timer: one thread per timer, waiting on a condition
 * variable until its deadline or a cancel, whichever comes first.
 *
 * Everything a timer's threads share is guarded by t->lock. The decision
 * "call fn" and the decision "cancelled" are taken under that lock, and
 * each one excludes the other for good: the timer's thread sets `called`
 * before calling fn (outside the lock, so that cancel and join never wait
 * for fn), and cancel refuses with EALREADY once `called` is set. The
 * condition variable `changed` is broadcast when the timer is cancelled
 * (the waiting thread wakes up at once) and when it is over (joiners wake
 * up). Deadlines are absolute times on CLOCK_MONOTONIC, which the condition
 * variable is told to use: the wall clock may jump, the monotonic one
 * never does. */
#include "ptimer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct ptimer {
    pthread_mutex_t lock;
    pthread_cond_t changed;     /* cancelled, or over; uses CLOCK_MONOTONIC */
    long interval_ms;           /* fixed at creation */
    void (*fn)(void *arg);      /* fixed at creation */
    void *arg;                  /* fixed at creation */
    bool started;               /* guarded by lock */
    bool cancelled;             /* guarded by lock: fn must never be called */
    bool called;                /* guarded by lock: fn has been called */
    bool over;                  /* guarded by lock: fn returned, or cancelled */
    struct timespec deadline;   /* set by ptimer_start before the thread exists */
    pthread_t tid;              /* guarded by lock; valid once started */
};

static void lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0)
        abort();    /* a valid mutex cannot fail to lock */
}

static void unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

/* The absolute CLOCK_MONOTONIC time ms (>= 0) from now. */
static struct timespec after_ms(long ms)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {   /* keep tv_nsec a valid fraction */
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

ptimer_t *ptimer_create(long interval_ms, void (*fn)(void *arg), void *arg)
{
    if (interval_ms < 0 || !fn) {
        errno = EINVAL;
        return NULL;
    }
    ptimer_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;    /* calloc set errno */
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err == 0) {
        err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        if (err == 0)
            err = pthread_cond_init(&t->changed, &attr);
        pthread_condattr_destroy(&attr);
    }
    if (err == 0 && (err = pthread_mutex_init(&t->lock, NULL)) != 0)
        pthread_cond_destroy(&t->changed);
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

/* The timer's thread: wait for the deadline or a cancel, then maybe fire. */
static void *timer_main(void *p)
{
    ptimer_t *t = p;
    lock(&t->lock);
    while (!t->cancelled) {
        int err = pthread_cond_timedwait(&t->changed, &t->lock, &t->deadline);
        if (err == ETIMEDOUT)
            break;      /* the monotonic clock has passed the deadline */
        if (err != 0)
            abort();
    }
    if (!t->cancelled) {
        t->called = true;       /* from now on, cancel says EALREADY */
        unlock(&t->lock);
        t->fn(t->arg);          /* without the lock: cancel and join never wait for fn */
        lock(&t->lock);
    }
    t->over = true;
    pthread_cond_broadcast(&t->changed);    /* every joiner */
    unlock(&t->lock);
    return NULL;
}

int ptimer_start(ptimer_t *t)
{
    lock(&t->lock);
    if (t->started) {
        unlock(&t->lock);
        return EBUSY;   /* threads can only be started once */
    }
    t->deadline = after_ms(t->interval_ms);    /* measured from this call */
    int err = pthread_create(&t->tid, NULL, timer_main, t);
    t->started = err == 0;
    unlock(&t->lock);
    return err;
}

int ptimer_cancel(ptimer_t *t)
{
    lock(&t->lock);
    int err = 0;
    if (t->called) {
        err = EALREADY;     /* too late: fn has been called */
    } else if (!t->cancelled) {
        t->cancelled = true;
        pthread_cond_broadcast(&t->changed);    /* the timer's thread stops waiting */
    }
    unlock(&t->lock);
    return err;
}

int ptimer_join(ptimer_t *t, long timeout_ms)
{
    struct timespec deadline = { 0, 0 };
    if (timeout_ms > 0)
        deadline = after_ms(timeout_ms);   /* once: wake-ups do not restart it */
    int err = 0;
    lock(&t->lock);
    if (!t->started)
        err = EINVAL;
    else if (t->called && !t->over && pthread_equal(t->tid, pthread_self()))
        err = EDEADLK;      /* fn joining its own timer would wait for itself */
    while (err == 0 && !t->over) {
        if (timeout_ms == 0)
            err = ETIMEDOUT;
        else if (timeout_ms < 0)
            pthread_cond_wait(&t->changed, &t->lock);
        else
            err = pthread_cond_timedwait(&t->changed, &t->lock, &deadline);
    }
    if (err == ETIMEDOUT && t->over)
        err = 0;            /* it ended just as the time-out did */
    unlock(&t->lock);
    return err;
}

void ptimer_destroy(ptimer_t *t)
{
    if (!t)
        return;
    lock(&t->lock);
    bool started = t->started;
    if (!t->called && !t->cancelled) {
        t->cancelled = true;
        pthread_cond_broadcast(&t->changed);
    }
    unlock(&t->lock);
    /* Waits for a running fn, and for the thread's last touch of t. */
    if (started && pthread_join(t->tid, NULL) != 0)
        abort();    /* only a call from inside fn can fail here */
    pthread_cond_destroy(&t->changed);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
