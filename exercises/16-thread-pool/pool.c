/* pool.c - a pool of worker threads and futures (ThreadPoolExecutor).
 *
 * This first version is an executor without threads: pool_submit runs the
 * task at once, in the caller's thread, and hands back a future that is
 * already finished. Every value comes out right, but nothing runs in
 * parallel, nothing can be cancelled, and shutdown has nothing to wait for.
 * Run `make grade EX=16` to see what fails, then read README.md and follow
 * the TODOs:
 *
 *   pool      a FIFO queue of pending futures, a flag "shut down", the
 *             worker threads; one mutex guards the queue and the flag, and
 *             the workers sleep on a condition variable while the queue is
 *             empty
 *   future    its state (PENDING, RUNNING, FINISHED, CANCELLED) and value,
 *             guarded by a mutex of its own (a future outlives its pool);
 *             threads waiting for the result sleep on a condition variable */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct future {
    pthread_mutex_t lock;       /* guards state and value */
    pthread_cond_t done;        /* TODO: broadcast when the future becomes done */
    enum future_state state;
    void *value;                /* the task's return value, once FINISHED */
    void *(*fn)(void *arg);     /* the task; fixed at submit */
    void *arg;
    struct pool *pool;          /* fixed at submit */
    future_t *next;             /* TODO: the queue's link, guarded by pool->lock */
};

struct pool {
    pthread_mutex_t lock;       /* guards everything below but nthreads */
    pthread_cond_t work;        /* TODO: workers sleep on it while the queue is empty */
    future_t *head, *tail;      /* TODO: the pending futures, oldest first */
    bool shutdown;              /* no more submits */
    int nthreads;               /* fixed at creation */
    /* TODO: the worker threads (pthread_t), to join them at shutdown. */
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

pool_t *pool_create(int nthreads)
{
    if (nthreads < 1) {
        errno = EINVAL;
        return NULL;
    }
    pool_t *p = malloc(sizeof *p);
    if (!p)
        return NULL;    /* malloc set errno */
    int err = pthread_mutex_init(&p->lock, NULL);
    if (err == 0) {
        err = pthread_cond_init(&p->work, NULL);
        if (err != 0)
            pthread_mutex_destroy(&p->lock);
    }
    if (err != 0) {
        free(p);
        errno = err;
        return NULL;
    }
    p->head = p->tail = NULL;
    p->shutdown = false;
    p->nthreads = nthreads;
    /* TODO: start nthreads worker threads. Each one loops: under p->lock,
     * wait (in a `while` loop) while the queue is empty and the pool is not
     * shut down; if the queue is empty, the pool is shut down: return; else
     * take the head, mark it RUNNING, unlock, run it, and store its value
     * (FINISHED, broadcast the future's condition variable). If a thread
     * cannot be started, stop and join those already started. */
    return p;
}

void pool_destroy(pool_t *p)
{
    if (!p)
        return;
    pool_shutdown(p, true, false);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int pool_submit(pool_t *p, void *(*fn)(void *arg), void *arg, future_t **future)
{
    if (!p || !fn || !future)
        return EINVAL;
    lock(&p->lock);
    bool refused = p->shutdown;
    unlock(&p->lock);
    if (refused)
        return ESHUTDOWN;
    future_t *f = malloc(sizeof *f);
    if (!f)
        return ENOMEM;
    int err = pthread_mutex_init(&f->lock, NULL);
    if (err == 0) {
        err = pthread_cond_init(&f->done, NULL);
        if (err != 0)
            pthread_mutex_destroy(&f->lock);
    }
    if (err != 0) {
        free(f);
        return err;
    }
    f->fn = fn;
    f->arg = arg;
    f->pool = p;
    f->next = NULL;
    /* TODO: this runs the task here, in the caller's thread. Instead, make
     * the future PENDING, add it at the tail of the queue under p->lock
     * (checking p->shutdown there, under the same lock), and signal a worker. */
    f->state = FUTURE_RUNNING;
    f->value = fn(arg);
    f->state = FUTURE_FINISHED;
    *future = f;
    return 0;
}

int future_result(future_t *f, long timeout_ms, void **value)
{
    if (!f)
        return EINVAL;
    /* TODO: wait, in a `while` loop on f->done, until the future is
     * FINISHED or CANCELLED, as timeout_ms says (< 0: as long as it takes;
     * 0: not at all; > 0: pthread_cond_timedwait with one absolute deadline
     * computed before the loop). ETIMEDOUT if it is still not done, ECANCELED
     * if it was cancelled. Here every future is finished at once. */
    (void)timeout_ms;
    lock(&f->lock);
    int err = f->state == FUTURE_FINISHED ? 0 : ETIMEDOUT;
    if (err == 0 && value)
        *value = f->value;
    unlock(&f->lock);
    return err;
}

int future_cancel(future_t *f)
{
    if (!f)
        return EINVAL;
    /* TODO: a PENDING future can be cancelled: take it out of the queue
     * (under the pool's lock, then the future's), make it CANCELLED and
     * wake the threads waiting for its result. A RUNNING or FINISHED one
     * cannot: EBUSY. Already CANCELLED: 0. */
    return EBUSY;
}

enum future_state future_state(future_t *f)
{
    lock(&f->lock);
    enum future_state s = f->state;
    unlock(&f->lock);
    return s;
}

void future_free(future_t *f)
{
    if (!f)
        return;
    pthread_cond_destroy(&f->done);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

int pool_map(pool_t *p, void *(*fn)(void *arg), void *const args[], size_t n, void *results[])
{
    if (!p || !fn || (n > 0 && (!args || !results)))
        return EINVAL;
    /* TODO: this waits for each task before it submits the next one, so the
     * tasks run one at a time. Submit them all first (keep the futures in an
     * array), then wait for each in the order of args. On error, cancel
     * what was submitted, wait for what could not be cancelled, and free
     * every future. */
    for (size_t i = 0; i < n; i++) {
        future_t *f;
        int err = pool_submit(p, fn, args[i], &f);
        if (err != 0)
            return err;
        err = future_result(f, -1, &results[i]);
        future_free(f);
        if (err != 0)
            return err;
    }
    return 0;
}

int pool_shutdown(pool_t *p, bool wait, bool cancel_futures)
{
    if (!p)
        return EINVAL;
    lock(&p->lock);
    p->shutdown = true;
    /* TODO: with cancel_futures, cancel every future still in the queue.
     * Wake every worker (broadcast) so that each sees the flag. With wait,
     * join every worker thread, outside the lock; and if several threads
     * call this at once, only one of them may join: the others wait until
     * it has. */
    (void)wait;
    (void)cancel_futures;
    unlock(&p->lock);
    return 0;
}
