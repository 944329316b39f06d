/* Alternative: pair in address order, the second lock only tried; when busy, release the first and sleep a random back-off */
/*
 * The back-off of exercise 05 with a deadline: take the lower-addressed lock
 * (waiting at most until the deadline), try the other; if it is busy,
 * release the first, sleep a short random time so that two threads do not
 * collide again in lock step, and start over. It never waits while holding
 * a lock, so threads taking the locks in any order cannot deadlock with it. */
#include "tlock.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct tlock {
    pthread_mutex_t mutex;  /* guards held */
    pthread_cond_t freed;   /* signalled when held becomes false; CLOCK_MONOTONIC */
    bool held;              /* guarded by mutex */
};

static void check(int err)
{
    if (err != 0)
        abort();
}

tlock_t *tlock_create(void)
{
    tlock_t *l = malloc(sizeof *l);
    pthread_condattr_t attr;
    if (!l)
        return NULL;
    check(pthread_condattr_init(&attr));
    check(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC));
    if (pthread_cond_init(&l->freed, &attr) != 0) {
        free(l);
        l = NULL;
    } else if (pthread_mutex_init(&l->mutex, NULL) != 0) {
        pthread_cond_destroy(&l->freed);
        free(l);
        l = NULL;
    } else {
        l->held = false;
    }
    check(pthread_condattr_destroy(&attr));
    return l;
}

void tlock_destroy(tlock_t *l)
{
    if (!l)
        return;
    pthread_cond_destroy(&l->freed);
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

static int64_t now_ns(void)
{
    struct timespec t;
    check(clock_gettime(CLOCK_MONOTONIC, &t));
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* deadline_ns < 0: for ever; a past deadline still tries once. */
static int acquire_until(tlock_t *l, int64_t deadline_ns)
{
    struct timespec dl = { (time_t)(deadline_ns / 1000000000), (long)(deadline_ns % 1000000000) };
    int result = 0;
    check(pthread_mutex_lock(&l->mutex));
    while (l->held) {
        if (deadline_ns < 0) {
            check(pthread_cond_wait(&l->freed, &l->mutex));
        } else if (now_ns() >= deadline_ns) {
            result = ETIMEDOUT;
            break;
        } else {
            int err = pthread_cond_timedwait(&l->freed, &l->mutex, &dl);
            if (err != ETIMEDOUT)
                check(err);
        }
    }
    if (result == 0)
        l->held = true;
    check(pthread_mutex_unlock(&l->mutex));
    return result;
}

static int64_t deadline_for(long timeout_ms)
{
    if (timeout_ms < 0)
        return -1;
    if (timeout_ms > INT64_MAX / 2000000)
        timeout_ms = INT64_MAX / 2000000;   /* centuries: as good as for ever */
    return now_ns() + (int64_t)timeout_ms * 1000000;
}

int tlock_acquire(tlock_t *l, long timeout_ms)
{
    return acquire_until(l, deadline_for(timeout_ms));
}

int tlock_release(tlock_t *l)
{
    int result = 0;
    check(pthread_mutex_lock(&l->mutex));
    if (l->held) {
        l->held = false;
        check(pthread_cond_signal(&l->freed));
    } else {
        result = EPERM;
    }
    check(pthread_mutex_unlock(&l->mutex));
    return result;
}

int tlock_acquire_pair(tlock_t *a, tlock_t *b, long timeout_ms)
{
    if (a == b)
        return EINVAL;
    int64_t deadline = deadline_for(timeout_ms);
    tlock_t *first = (uintptr_t)a < (uintptr_t)b ? a : b;
    tlock_t *second = first == a ? b : a;
    unsigned seed = (unsigned)(uintptr_t)&seed ^ (unsigned)now_ns();
    for (int attempt = 0;; attempt++) {
        int err = acquire_until(first, deadline);
        if (err != 0)
            return err;
        if (acquire_until(second, 0) == 0)   /* a past deadline: one try */
            return 0;
        (void)tlock_release(first);   /* ours: cannot fail unless another thread released it */
        int64_t now = now_ns();
        if (deadline >= 0 && now >= deadline)
            return ETIMEDOUT;
        /* Up to 2^attempt microseconds, at most ~1 ms, never past the deadline. */
        int shift = attempt < 10 ? attempt : 10;
        int64_t pause = 1000 * (1 + rand_r(&seed) % (1 << shift));
        if (deadline >= 0 && now + pause > deadline)
            pause = deadline - now;
        struct timespec ts = { 0, (long)pause };
        nanosleep(&ts, NULL);
    }
}
