/* bqueue.c - a bounded blocking queue, and the producer/consumer pipeline.
 *
 * This first version has the right shape: a ring of items guarded by one
 * mutex, and condition variables to sleep on until an item, a free slot or
 * the end of the work comes. It works with one thread and when nobody has to
 * wait long, but the places marked BUG are wrong: run `make grade EX=11` to
 * see them fail, then read README.md.
 *
 *   not_empty  a get waits on it while count == 0; every put signals it
 *   not_full   a put waits on it while count == capacity; every get signals it
 *   all_done   bq_join waits on it while unfinished > 0
 *
 * Invariants, guarded by q->lock:
 *   0 <= count <= capacity      items in the ring, the oldest at items[head]
 *   unfinished = puts - task_dones, never below 0 (task_done counts puts) */
#include "bqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

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

/* Sleeps on c until another thread signals it. Caller holds q->lock, and
 * holds it again on return. */
static void wait_on(pthread_cond_t *c, bqueue_t *q)
{
    if (pthread_cond_wait(c, &q->lock) != 0)
        abort();
}

/* Initialises the mutex and the condition variables. 0 or an errno. */
static int init_sync(bqueue_t *q)
{
    int err = 0;
    pthread_cond_t *conds[] = { &q->not_empty, &q->not_full, &q->all_done };
    int made = 0;
    while (err == 0 && made < 3) {
        err = pthread_cond_init(conds[made], NULL);
        if (err == 0)
            made++;
    }
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
    lock(q);
    if (q->count == q->capacity && timeout_ms == 0) {
        unlock(q);
        return EAGAIN;      /* full, and told not to wait: queue.Full */
    }
    /* BUG 1: when pthread_cond_wait returns, the queue may be full again
     * (another putter filled the slot first, or nobody signalled at all).
     * BUG 2: a time-out > 0 is ignored: this waits as long as it takes. */
    if (q->count == q->capacity)
        wait_on(&q->not_full, q);
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    q->unfinished++;
    signal_one(&q->not_empty);  /* one more item: one getter may go */
    unlock(q);
    return 0;
}

int bq_get(bqueue_t *q, long *item, long timeout_ms)
{
    if (!q || !item)
        return EINVAL;
    lock(q);
    if (q->count == 0 && timeout_ms == 0) {
        unlock(q);
        return EAGAIN;      /* empty, and told not to wait: queue.Empty */
    }
    /* BUG 1 and 2 again: `if` instead of a loop, and no time-out. */
    if (q->count == 0)
        wait_on(&q->not_empty, q);
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    signal_one(&q->not_full);   /* one more free slot: one putter may go */
    unlock(q);
    return 0;
}

size_t bq_size(bqueue_t *q)
{
    lock(q);
    size_t count = q->count;
    unlock(q);
    return count;
}

int bq_task_done(bqueue_t *q)
{
    if (!q)
        return EINVAL;
    lock(q);
    /* BUG 3: a task_done with nothing unfinished must be refused (EINVAL)
     * and change nothing; and pthread_cond_signal wakes only one of the
     * threads waiting in bq_join. */
    if (--q->unfinished == 0)
        signal_one(&q->all_done);
    unlock(q);
    return 0;
}

int bq_join(bqueue_t *q)
{
    if (!q)
        return EINVAL;
    lock(q);
    while (q->unfinished > 0)
        wait_on(&q->all_done, q);
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
    /* BUG 4: the sentinels go in while the producers may still be putting
     * items: a consumer that takes its sentinel stops, with items to come. */
    for (int c = 0; c < consumers; c++)
        if (bq_put(p.q, BQ_SENTINEL, -1) != 0)
            abort();
    join_all(ptids, producers);
    if (bq_join(p.q) != 0)
        abort();
    join_all(threads, consumers);
out:
    free(who);
    free(threads);
    bq_destroy(p.q);
    return err;
}
