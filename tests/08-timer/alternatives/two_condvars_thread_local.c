/* Alternative: two condition variables (one the timer's thread waits on, signalled by cancel; one for joiners, broadcast at the end) and a thread-local "current timer" for EDEADLK */
#include "ptimer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

enum phase { IDLE, WAITING, FIRING, OVER };

struct ptimer {
    pthread_mutex_t lock;
    pthread_cond_t wake;        /* only the timer's thread waits here */
    pthread_cond_t done;        /* joiners wait here */
    long interval_ms;
    void (*fn)(void *arg);
    void *arg;
    enum phase phase;           /* guarded by lock */
    bool cancelled;             /* guarded by lock */
    struct timespec deadline;   /* guarded by lock; CLOCK_MONOTONIC */
    pthread_t tid;              /* guarded by lock */
};

/* The timer whose function this thread is running, if any. */
static _Thread_local ptimer_t *running_here;

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

static struct timespec mono_after(long ms)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    long long ns = ts.tv_nsec + (ms % 1000) * 1000000LL;
    ts.tv_sec += ms / 1000 + (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    return ts;
}

static int init_mono_cond(pthread_cond_t *c)
{
    pthread_condattr_t attr;
    int err = pthread_condattr_init(&attr);
    if (err != 0)
        return err;
    err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (err == 0)
        err = pthread_cond_init(c, &attr);
    pthread_condattr_destroy(&attr);
    return err;
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
    int err = init_mono_cond(&t->wake);
    if (err == 0 && (err = init_mono_cond(&t->done)) != 0)
        pthread_cond_destroy(&t->wake);
    if (err == 0 && (err = pthread_mutex_init(&t->lock, NULL)) != 0) {
        pthread_cond_destroy(&t->wake);
        pthread_cond_destroy(&t->done);
    }
    if (err != 0) {
        free(t);
        errno = err;
        return NULL;
    }
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;
    t->phase = IDLE;
    return t;
}

static void *timer_main(void *p)
{
    ptimer_t *t = p;
    lock(&t->lock);
    int err = 0;
    while (!t->cancelled && err != ETIMEDOUT)
        err = pthread_cond_timedwait(&t->wake, &t->lock, &t->deadline);
    if (!t->cancelled) {
        t->phase = FIRING;
        unlock(&t->lock);
        running_here = t;
        t->fn(t->arg);
        running_here = NULL;
        lock(&t->lock);
    }
    t->phase = OVER;
    pthread_cond_broadcast(&t->done);
    unlock(&t->lock);
    return NULL;
}

int ptimer_start(ptimer_t *t)
{
    lock(&t->lock);
    int err = EBUSY;
    if (t->phase == IDLE) {
        t->deadline = mono_after(t->interval_ms);
        err = pthread_create(&t->tid, NULL, timer_main, t);
        if (err == 0)
            t->phase = WAITING;
    }
    unlock(&t->lock);
    return err;
}

int ptimer_cancel(ptimer_t *t)
{
    lock(&t->lock);
    bool too_late = t->phase == FIRING || (t->phase == OVER && !t->cancelled);
    if (!too_late && !t->cancelled) {
        t->cancelled = true;
        pthread_cond_signal(&t->wake);   /* one waiter at most: the timer's thread */
    }
    unlock(&t->lock);
    return too_late ? EALREADY : 0;
}

int ptimer_join(ptimer_t *t, long timeout_ms)
{
    if (running_here == t)
        return EDEADLK;
    struct timespec deadline = mono_after(timeout_ms > 0 ? timeout_ms : 0);
    int err = 0;
    lock(&t->lock);
    if (t->phase == IDLE)
        err = EINVAL;
    while (err == 0 && t->phase != OVER) {
        if (timeout_ms == 0)
            err = ETIMEDOUT;
        else if (timeout_ms < 0)
            pthread_cond_wait(&t->done, &t->lock);
        else if (pthread_cond_timedwait(&t->done, &t->lock, &deadline) == ETIMEDOUT)
            err = t->phase == OVER ? 0 : ETIMEDOUT;
    }
    unlock(&t->lock);
    return err;
}

void ptimer_destroy(ptimer_t *t)
{
    if (!t)
        return;
    lock(&t->lock);
    bool started = t->phase != IDLE;
    if (t->phase != FIRING && !(t->phase == OVER && !t->cancelled)) {
        t->cancelled = true;
        pthread_cond_signal(&t->wake);
    }
    unlock(&t->lock);
    if (started && pthread_join(t->tid, NULL) != 0)
        abort();
    pthread_cond_destroy(&t->wake);
    pthread_cond_destroy(&t->done);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
