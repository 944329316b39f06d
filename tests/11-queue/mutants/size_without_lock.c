/* Mutant: bq_size reads the count without the lock
 * Expect: race
 * "Reading one number is atomic anyway": in C an unsynchronised read of a
 * variable that other threads write is a data race (undefined behaviour), and
 * the value can be stale. */
#include "bqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct bqueue {
    pthread_mutex_t lock;       /* guards everything below but capacity */
    pthread_cond_t not_empty;   /* signalled when an item is put */
    pthread_cond_t not_full;    /* signalled when an item is taken */
    pthread_cond_t all_done;    /* broadcast when unfinished drops to 0 */
    size_t capacity;            /* maxsize; fixed at creation, read without the lock */
    size_t head;                /* index of the oldest item */
    size_t count;               /* items in the ring */
    size_t unfinished;          /* puts not yet marked done */
    long items[];               /* capacity slots */
};

/* Locking a valid, initialised mutex cannot fail: if it does, stop loudly. */
static void lock(bqueue_t *q)
{
    if (pthread_mutex_lock(&q->lock) != 0)
        abort();
}

static void unlock(bqueue_t *q)
{
    if (pthread_mutex_unlock(&q->lock) != 0)
        abort();
}

static void signal_one(pthread_cond_t *c)
{
    if (pthread_cond_signal(c) != 0)
        abort();
}

/* The absolute time timeout_ms from now on CLOCK_MONOTONIC, the clock the
 * condition variables measure deadlines with. */
static struct timespec deadline_after(long timeout_ms)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        abort();
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {     /* keep tv_nsec below one second */
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Sleeps on c until signalled, or until *deadline when it is not NULL: 0, or
 * ETIMEDOUT. Caller holds q->lock, and holds it again on return. */
static int wait_on(pthread_cond_t *c, bqueue_t *q, const struct timespec *deadline)
{
    int err = deadline ? pthread_cond_timedwait(c, &q->lock, deadline)
                       : pthread_cond_wait(c, &q->lock);
    if (err != 0 && err != ETIMEDOUT)
        abort();
    return err;
}

/* Waits on c while q->count is `stuck` (capacity for a put, 0 for a get), as
 * timeout_ms says: 0 once it is not, or EAGAIN / ETIMEDOUT. Caller holds
 * q->lock. `deadline` was computed once, before the first look, so wake-ups
 * that find nothing to do do not restart the clock. */
static int wait_while(bqueue_t *q, pthread_cond_t *c, size_t stuck, long timeout_ms,
                      const struct timespec *deadline)
{
    bool timed_out = false;
    while (q->count == stuck) {
        if (timeout_ms == 0)
            return EAGAIN;
        if (timed_out)
            return ETIMEDOUT;   /* looked once more after the deadline: still no */
        timed_out = wait_on(c, q, timeout_ms > 0 ? deadline : NULL) == ETIMEDOUT;
    }
    return 0;
}

/* Initialises the mutex and the condition variables, which measure their
 * deadlines on CLOCK_MONOTONIC (the wall clock may jump). 0 or an errno. */
static int init_sync(bqueue_t *q)
{
    pthread_condattr_t ca;
    int err = pthread_condattr_init(&ca);
    if (err != 0)
        return err;
    err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_t *conds[] = { &q->not_empty, &q->not_full, &q->all_done };
    int made = 0;
    while (err == 0 && made < 3) {
        err = pthread_cond_init(conds[made], &ca);
        if (err == 0)
            made++;
    }
    pthread_condattr_destroy(&ca);
    if (err == 0)
        err = pthread_mutex_init(&q->lock, NULL);
    if (err != 0)
        while (made-- > 0)
            pthread_cond_destroy(conds[made]);
    return err;
}

bqueue_t *bq_create(size_t maxsize)
{
    if (maxsize == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (maxsize > (SIZE_MAX - sizeof(bqueue_t)) / sizeof(long)) {
        errno = ENOMEM;
        return NULL;
    }
    bqueue_t *q = malloc(sizeof(bqueue_t) + maxsize * sizeof(long));
    if (!q)
        return NULL;    /* malloc set errno */
    int err = init_sync(q);
    if (err != 0) {
        free(q);
        errno = err;
        return NULL;
    }
    q->capacity = maxsize;
    q->head = q->count = q->unfinished = 0;
    return q;
}

void bq_destroy(bqueue_t *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->all_done);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

int bq_put(bqueue_t *q, long item, long timeout_ms)
{
    if (!q)
        return EINVAL;
    struct timespec deadline = { 0, 0 };
    if (timeout_ms > 0)
        deadline = deadline_after(timeout_ms);
    lock(q);
    int err = wait_while(q, &q->not_full, q->capacity, timeout_ms, &deadline);
    if (err == 0) {
        q->items[(q->head + q->count) % q->capacity] = item;
        q->count++;
        q->unfinished++;
        signal_one(&q->not_empty);  /* one more item: one getter may go */
    }
    unlock(q);
    return err;
}

int bq_get(bqueue_t *q, long *item, long timeout_ms)
{
    if (!q || !item)
        return EINVAL;
    struct timespec deadline = { 0, 0 };
    if (timeout_ms > 0)
        deadline = deadline_after(timeout_ms);
    lock(q);
    int err = wait_while(q, &q->not_empty, 0, timeout_ms, &deadline);
    if (err == 0) {
        *item = q->items[q->head];
        q->head = (q->head + 1) % q->capacity;
        q->count--;
        signal_one(&q->not_full);   /* one more free slot: one putter may go */
    }
    unlock(q);
    return err;
}

size_t bq_size(bqueue_t *q)
{
    return q->count;    /* just a read */
}

int bq_task_done(bqueue_t *q)
{
    if (!q)
        return EINVAL;
    lock(q);
    if (q->unfinished == 0) {
        unlock(q);
        return EINVAL;  /* more task_done calls than puts: change nothing */
    }
    /* Every joiner waits for this one moment: wake them all. */
    if (--q->unfinished == 0 && pthread_cond_broadcast(&q->all_done) != 0)
        abort();
    unlock(q);
    return 0;
}

int bq_join(bqueue_t *q)
{
    if (!q)
        return EINVAL;
    lock(q);
    while (q->unfinished > 0)
        wait_on(&q->all_done, q, NULL);
    unlock(q);
    return 0;
}

/* ---- The pipeline ---- */

/* What the pipeline's threads share; read-only for them. */
struct pipeline {
    bqueue_t *q;
    const long *items;
    size_t n;
    int nproducers;
    void (*consume)(long item, void *arg);
    void *arg;
};

struct producer {
    const struct pipeline *p;
    int index;
};

static void *producer_main(void *arg)
{
    const struct producer *me = arg;
    const struct pipeline *p = me->p;
    for (size_t i = (size_t)me->index; i < p->n; i += (size_t)p->nproducers)
        if (bq_put(p->q, p->items[i], -1) != 0)
            abort();    /* a blocking put on a valid queue cannot fail */
    return NULL;
}

static void *consumer_main(void *arg)
{
    const struct pipeline *p = arg;
    for (;;) {
        long item;
        if (bq_get(p->q, &item, -1) != 0)
            abort();
        if (item != BQ_SENTINEL)
            p->consume(item, p->arg);
        if (bq_task_done(p->q) != 0)
            abort();    /* we took it, so it was put: it cannot be one too many */
        if (item == BQ_SENTINEL)
            return NULL;
    }
}

static void join_all(pthread_t *threads, int n)
{
    for (int i = 0; i < n; i++)
        if (pthread_join(threads[i], NULL) != 0)
            abort();    /* only fails for a thread that is not ours */
}

int bq_run_pipeline(int nproducers, int nconsumers, size_t maxsize,
                    const long *items, size_t n,
                    void (*consume)(long item, void *arg), void *arg)
{
    if (nproducers < 1 || nconsumers < 1 || maxsize == 0 || !consume || (!items && n > 0))
        return EINVAL;
    int err = 0, consumers = 0, producers = 0;
    struct pipeline p = { bq_create(maxsize), items, n, nproducers, consume, arg };
    pthread_t *threads = malloc(((size_t)nconsumers + (size_t)nproducers) * sizeof *threads);
    struct producer *who = malloc((size_t)nproducers * sizeof *who);
    if (!p.q || !threads || !who) {
        err = p.q ? ENOMEM : errno;
        goto out;
    }
    /* Consumers first: a producer may fill the queue at once. */
    for (; err == 0 && consumers < nconsumers; consumers++) {
        err = pthread_create(&threads[consumers], NULL, consumer_main, &p);
        if (err != 0)
            break;
    }
    pthread_t *ptids = threads + nconsumers;
    for (; err == 0 && producers < nproducers; producers++) {
        who[producers] = (struct producer){ &p, producers };
        err = pthread_create(&ptids[producers], NULL, producer_main, &who[producers]);
        if (err != 0)
            break;
    }
    /* Every item is in the queue once the producers have ended: only then
     * may the sentinels follow them, one for each consumer that runs. */
    join_all(ptids, producers);
    for (int c = 0; c < consumers; c++)
        if (bq_put(p.q, BQ_SENTINEL, -1) != 0)
            abort();
    if (bq_join(p.q) != 0)
        abort();
    join_all(threads, consumers);
out:
    free(who);
    free(threads);
    bq_destroy(p.q);
    return err;
}
