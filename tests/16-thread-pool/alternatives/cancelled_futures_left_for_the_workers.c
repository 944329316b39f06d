/* Alternative: a cancelled future stays in the queue and the worker that reaches it drops it; a future freed while still queued is freed by that worker */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
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
    struct pool *pool;          /* fixed at submit */
    future_t *prev, *next;      /* queue links, guarded by pool->lock */
    bool in_queue;              /* guarded by lock: the pool still points to it */
    bool orphaned;              /* guarded by lock: future_free came while in_queue */
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

static void release(future_t *f)
{
    pthread_cond_destroy(&f->done);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

/* f has just left the queue: runs it (RUNNING, true) if it is still
 * PENDING, else (it was cancelled) drops it, freeing it if its owner
 * already let go of it. Caller holds pool->lock. */
static bool leave_queue(future_t *f, bool cancel)
{
    lock(&f->lock);
    f->in_queue = false;
    if (cancel && f->state == FUTURE_PENDING) {
        f->state = FUTURE_CANCELLED;
        broadcast(&f->done);
    }
    bool run = f->state == FUTURE_PENDING, orphan = f->orphaned;
    if (run)
        f->state = FUTURE_RUNNING;
    unlock(&f->lock);
    if (orphan)
        release(f);     /* only a cancelled future can be an orphan */
    return run;
}

/* ---- Workers ---- */

/* The next future to run, already RUNNING; NULL once the pool is shut down
 * and nothing is left to run. */
static future_t *take_task(pool_t *p)
{
    lock(&p->lock);
    for (;;) {
        while (!p->head && !p->shutdown)
            wait_on(&p->work, &p->lock, NULL);
        future_t *f = p->head;
        if (!f)
            break;
        queue_remove(p, f);
        if (leave_queue(f, false)) {
            unlock(&p->lock);
            return f;
        }
    }
    unlock(&p->lock);
    return NULL;
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
            leave_queue(f, true);
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
    f->in_queue = false;
    f->orphaned = false;
    lock(&p->lock);
    if (p->shutdown) {
        unlock(&p->lock);
        future_free(f);
        return ESHUTDOWN;
    }
    f->in_queue = true;     /* nobody else knows f yet: no lock needed */
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
    /* It stays in the queue: the worker that reaches it will drop it. */
    lock(&f->lock);
    if (f->state == FUTURE_PENDING) {
        f->state = FUTURE_CANCELLED;
        broadcast(&f->done);
    }
    enum future_state s = f->state;
    unlock(&f->lock);
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
    lock(&f->lock);
    bool queued = f->in_queue;
    if (queued)
        f->orphaned = true;     /* the worker that takes it out frees it */
    unlock(&f->lock);
    if (!queued)
        release(f);
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
    for (size_t i = 0; i < submitted; i++) {
        void *v = NULL;
        int rc = future_result(fs[i], -1, &v);
        if (rc == 0)
            results[i] = v;
        else if (err == 0)
            err = rc;   /* ECANCELED: shut down with cancel_futures */
        future_free(fs[i]);
    }
    free(fs);
    return err;
}
