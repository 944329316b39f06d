/* ptimer.c - threading.Timer: a thread that waits, then calls a function.
 *
 * This first version fires on time when nobody cancels, but five things
 * marked BUG are wrong: run `make grade EX=08` to see them fail, then read
 * README.md. You may change anything in this file, struct ptimer included;
 * ptimer.h stays as it is. */
#include "ptimer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

struct ptimer {
    long interval_ms;           /* fixed at creation */
    void (*fn)(void *arg);      /* fixed at creation */
    void *arg;                  /* fixed at creation */
    pthread_t tid;              /* set by ptimer_start */
    bool started;               /* set by ptimer_start */
    bool joined;                /* the thread has been reaped */
    bool cancelled;             /* BUG 2: shared by threads, guarded by nothing */
};

ptimer_t *ptimer_create(long interval_ms, void (*fn)(void *arg), void *arg)
{
    if (interval_ms < 0 || !fn) {
        errno = EINVAL;
        return NULL;
    }
    ptimer_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;    /* calloc set errno */
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;
    return t;
}

static void *timer_main(void *p)
{
    ptimer_t *t = p;
    /* BUG 1: a sleeping thread cannot be woken: a cancelled timer still
     * sleeps out its whole interval, and so do join and destroy. */
    struct timespec ts = { t->interval_ms / 1000, (t->interval_ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    /* BUG 2: check-then-act on an unguarded flag: a cancel that comes right
     * after this check returns 0, "never called", and fn is called anyway. */
    if (!t->cancelled)
        t->fn(t->arg);
    return NULL;
}

int ptimer_start(ptimer_t *t)
{
    if (t->started)
        return EBUSY;
    int err = pthread_create(&t->tid, NULL, timer_main, t);
    t->started = err == 0;
    return err;
}

int ptimer_cancel(ptimer_t *t)
{
    /* BUG 3: once fn has been called, cancel must change nothing and
     * return EALREADY. */
    t->cancelled = true;
    return 0;
}

int ptimer_join(ptimer_t *t, long timeout_ms)
{
    /* BUG 4: the time-out is ignored, pthread_join must not be called by two
     * threads at once, and fn joining its own timer waits forever: it must
     * get EDEADLK. */
    (void)timeout_ms;
    if (!t->started)
        return EINVAL;
    if (!t->joined) {
        int err = pthread_join(t->tid, NULL);
        if (err != 0)
            return err;
        t->joined = true;
    }
    return 0;
}

void ptimer_destroy(ptimer_t *t)
{
    if (!t)
        return;
    /* BUG 5: destroying a pending timer must cancel it, not wait for it to
     * fire. */
    if (t->started)
        (void)ptimer_join(t, -1);
    free(t);
}
