/* Mutant: pool_map stores the results in the order the tasks finish
 * Expect: unit
 * It collects whichever future is done first into the next free slot of
 * results: the values are all there, but results[i] must be fn(args[i]),
 * whatever order the tasks finished in. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct future {
    pthread_mutex_t lock;       /* guards state and value */
    pthread_cond_t done;        /* broadcast when the future becomes done */
    enum future_state state;
    void *value;                /* the task's return value, once FINISHED */
    void *(*fn)(void *arg);     /* the task; fixed at submit */
    void *arg;
    struct pool *pool;          /* fixed at submit; used only while PENDING */
    future_t *prev, *next;      /* queue links, guarded by pool->lock */
};

struct pool {
    pthread_mutex_t lock;       /* guards everything below but nthreads and threads */
    pthread_cond_t work;        /* signalled on submit, broadcast on shutdown */
    pthread_cond_t ended;       /* broadcast once the workers have been joined */
    future_t *head, *tail;      /* the pending futures, oldest first */
    bool shutdown;              /* no more submits; workers end once the queue is empty */
    bool joining;               /* one pool_shutdown(wait) call is joining the workers */
    bool joined;                /* ... and it has joined them all */
    int nthreads;               /* fixed at creation */
    pthread_t threads[];        /* nthreads workers */
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

static void broadcast(pthread_cond_t *c)
{
    if (pthread_cond_broadcast(c) != 0)
        abort();
}

/* Sleeps on c until woken, or until *deadline when it is not NULL: 0 or
 * ETIMEDOUT. Caller holds m, and holds it again on return. */
static int wait_on(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *deadline)
{
    int err = deadline ? pthread_cond_timedwait(c, m, deadline) : pthread_cond_wait(c, m);
    if (err != 0 && err != ETIMEDOUT)
        abort();
    return err;
}

/* The absolute time timeout_ms from now on CLOCK_MONOTONIC, the clock the
 * futures' condition variables measure deadlines with. */
static struct timespec deadline_after(long timeout_ms)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        abort();
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* ---- The queue. Caller holds pool->lock. ---- */

static void queue_push(pool_t *p, future_t *f)
{
    f->next = NULL;
    f->prev = p->tail;
    if (p->tail)
        p->tail->next = f;
    else
        p->head = f;
    p->tail = f;
}

static void queue_remove(pool_t *p, future_t *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        p->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        p->tail = f->prev;
    f->prev = f->next = NULL;
}

/* Makes a PENDING future CANCELLED and wakes its waiters. Caller holds
 * pool->lock and has taken f out of the queue. */
static void cancel_pending(future_t *f)
{
    lock(&f->lock);
    f->state = FUTURE_CANCELLED;
    broadcast(&f->done);
    unlock(&f->lock);
}

/* ---- Workers ---- */

/* The next future to run, already RUNNING; NULL once the pool is shut down
 * and nothing is left to run. */
static future_t *take_task(pool_t *p)
{
    lock(&p->lock);
    while (!p->head && !p->shutdown)
        wait_on(&p->work, &p->lock, NULL);
    future_t *f = p->head;
    if (f) {
        queue_remove(p, f);
        lock(&f->lock);
        f->state = FUTURE_RUNNING;  /* from now on, cancel says EBUSY */
        unlock(&f->lock);
    }
    unlock(&p->lock);
    return f;
}

static void *worker_main(void *arg)
{
    pool_t *p = arg;
    future_t *f;
    while ((f = take_task(p)) != NULL) {
        void *value = f->fn(f->arg);    /* no lock held: other tasks run meanwhile */
        lock(&f->lock);
        f->value = value;
        f->state = FUTURE_FINISHED;
        broadcast(&f->done);            /* every waiter may go */
        unlock(&f->lock);               /* the last touch: the caller may free f now */
    }
    return NULL;
}

/* ---- The pool ---- */

/* Initialises a mutex and n condition variables on CLOCK_MONOTONIC (the wall
 * clock may jump). 0 or an errno; nothing to undo on failure. */
static int init_sync(pthread_mutex_t *m, pthread_cond_t *conds[], int n)
{
    pthread_condattr_t ca;
    int err = pthread_condattr_init(&ca);
    if (err != 0)
        return err;
    err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int made = 0;
    while (err == 0 && made < n) {
        err = pthread_cond_init(conds[made], &ca);
        if (err == 0)
            made++;
    }
    pthread_condattr_destroy(&ca);
    if (err == 0)
        err = pthread_mutex_init(m, NULL);
    if (err != 0)
        while (made-- > 0)
            pthread_cond_destroy(conds[made]);
    return err;
}

/* Tells the workers to stop and joins the first `started` of them. */
static void stop_and_join(pool_t *p, int started)
{
    lock(&p->lock);
    p->shutdown = true;
    broadcast(&p->work);
    unlock(&p->lock);
    for (int i = 0; i < started; i++)
        if (pthread_join(p->threads[i], NULL) != 0)
            abort();
}

pool_t *pool_create(int nthreads)
{
    if (nthreads < 1) {
        errno = EINVAL;
        return NULL;
    }
    if ((size_t)nthreads > (SIZE_MAX - sizeof(pool_t)) / sizeof(pthread_t)) {
        errno = ENOMEM;
        return NULL;
    }
    pool_t *p = malloc(sizeof *p + (size_t)nthreads * sizeof(pthread_t));
    if (!p)
        return NULL;    /* malloc set errno */
    pthread_cond_t *conds[] = { &p->work, &p->ended };
    int err = init_sync(&p->lock, conds, 2);
    if (err != 0) {
        free(p);
        errno = err;
        return NULL;
    }
    p->head = p->tail = NULL;
    p->shutdown = p->joining = p->joined = false;
    p->nthreads = nthreads;
    for (int i = 0; i < nthreads; i++) {
        err = pthread_create(&p->threads[i], NULL, worker_main, p);
        if (err != 0) {
            stop_and_join(p, i);    /* nobody else knows p yet */
            pthread_cond_destroy(&p->ended);
            pthread_cond_destroy(&p->work);
            pthread_mutex_destroy(&p->lock);
            free(p);
            errno = err;
            return NULL;
        }
    }
    return p;
}

int pool_shutdown(pool_t *p, bool wait, bool cancel_futures)
{
    if (!p)
        return EINVAL;
    lock(&p->lock);
    p->shutdown = true;
    if (cancel_futures)
        while (p->head) {
            future_t *f = p->head;
            queue_remove(p, f);
            cancel_pending(f);
        }
    broadcast(&p->work);        /* every sleeping worker must see it */
    if (!wait) {
        unlock(&p->lock);
        return 0;
    }
    if (p->joining) {
        /* Another call joins the workers: wait until it has. */
        while (!p->joined)
            wait_on(&p->ended, &p->lock, NULL);
        unlock(&p->lock);
        return 0;
    }
    p->joining = true;
    unlock(&p->lock);
    /* Joining with the lock held would stop the workers from taking it. */
    for (int i = 0; i < p->nthreads; i++)
        if (pthread_join(p->threads[i], NULL) != 0)
            abort();
    lock(&p->lock);
    p->joined = true;
    broadcast(&p->ended);
    unlock(&p->lock);
    return 0;
}

void pool_destroy(pool_t *p)
{
    if (!p)
        return;
    pool_shutdown(p, true, false);
    pthread_cond_destroy(&p->ended);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

int pool_submit(pool_t *p, void *(*fn)(void *arg), void *arg, future_t **future)
{
    if (!p || !fn || !future)
        return EINVAL;
    future_t *f = malloc(sizeof *f);
    if (!f)
        return ENOMEM;
    pthread_cond_t *conds[] = { &f->done };
    int err = init_sync(&f->lock, conds, 1);
    if (err != 0) {
        free(f);
        return err;
    }
    f->state = FUTURE_PENDING;
    f->value = NULL;
    f->fn = fn;
    f->arg = arg;
    f->pool = p;
    lock(&p->lock);
    if (p->shutdown) {
        unlock(&p->lock);
        future_free(f);
        return ESHUTDOWN;
    }
    queue_push(p, f);
    if (pthread_cond_signal(&p->work) != 0)     /* one more task: one worker may go */
        abort();
    unlock(&p->lock);
    *future = f;
    return 0;
}

/* ---- Futures ---- */

int future_result(future_t *f, long timeout_ms, void **value)
{
    if (!f)
        return EINVAL;
    struct timespec deadline = { 0, 0 };
    if (timeout_ms > 0)
        deadline = deadline_after(timeout_ms);
    lock(&f->lock);
    bool timed_out = false;
    /* Look again after every wake-up, and once more after the deadline. */
    while (f->state != FUTURE_FINISHED && f->state != FUTURE_CANCELLED && !timed_out &&
           timeout_ms != 0)
        timed_out = wait_on(&f->done, &f->lock, timeout_ms > 0 ? &deadline : NULL) == ETIMEDOUT;
    int err = 0;
    if (f->state == FUTURE_CANCELLED)
        err = ECANCELED;
    else if (f->state != FUTURE_FINISHED)
        err = ETIMEDOUT;
    else if (value)
        *value = f->value;
    unlock(&f->lock);
    return err;
}

int future_cancel(future_t *f)
{
    if (!f)
        return EINVAL;
    lock(&f->lock);
    enum future_state s = f->state;
    unlock(&f->lock);
    if (s != FUTURE_PENDING)
        return s == FUTURE_CANCELLED ? 0 : EBUSY;
    /* Leaving PENDING needs the pool's lock first (the queue), then f's. It
     * was PENDING a moment ago, so the pool still exists. */
    pool_t *p = f->pool;
    lock(&p->lock);
    lock(&f->lock);
    s = f->state;               /* a worker may have taken it meanwhile */
    unlock(&f->lock);
    if (s == FUTURE_PENDING) {
        queue_remove(p, f);
        cancel_pending(f);
        s = FUTURE_CANCELLED;
    }
    unlock(&p->lock);
    return s == FUTURE_CANCELLED ? 0 : EBUSY;
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

/* ---- map ---- */

int pool_map(pool_t *p, void *(*fn)(void *arg), void *const args[], size_t n, void *results[])
{
    if (!p || !fn || (n > 0 && (!args || !results)))
        return EINVAL;
    if (n > SIZE_MAX / sizeof(future_t *))
        return ENOMEM;
    future_t **fs = malloc((n ? n : 1) * sizeof *fs);
    if (!fs)
        return ENOMEM;
    int err = 0;
    size_t submitted = 0;
    for (; submitted < n; submitted++) {
        err = pool_submit(p, fn, args[submitted], &fs[submitted]);
        if (err != 0)
            break;
    }
    if (err != 0)       /* give up: what has not started never will */
        for (size_t i = 0; i < submitted; i++)
            future_cancel(fs[i]);
    /* Wait for each in input order: the order of the results, not of the
     * finishing. Every one must be done before it is freed. */
    size_t next = 0, left = submitted;
    while (left > 0) {
        for (size_t i = 0; i < submitted; i++) {
            if (!fs[i])
                continue;
            void *v = NULL;
            int rc = future_result(fs[i], 0, &v);
            if (rc == ETIMEDOUT)
                continue;
            if (rc == 0)
                results[next++] = v;
            else if (err == 0)
                err = rc;
            future_free(fs[i]);
            fs[i] = NULL;
            left--;
        }
        sched_yield();
    }
    free(fs);
    return err;
}
