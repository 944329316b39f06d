/* jqueue.c - a JoinableQueue, and the notes' worker pipeline.
 *
 * This first version is the bounded queue of threads (queue.Queue) with a
 * count of unfinished items added. It has the right shape and works with one
 * thread, but six things marked BUG are wrong: run `make grade EX=15` to see
 * them fail, then read README.md.
 *
 * The items sit in a ring: the oldest at items[head], `count` of them.
 * `unfinished` counts the items put and not yet marked done. Whoever reads or
 * changes any of them holds the mutex. */
#include "jqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct jqueue {
    pthread_mutex_t lock;       /* guards everything below but capacity */
    pthread_cond_t not_empty;   /* signalled when an item is put */
    pthread_cond_t not_full;    /* signalled when an item is taken */
    pthread_cond_t all_done;    /* broadcast when join may return */
    size_t capacity;            /* fixed at creation, read without the lock */
    size_t head;                /* index of the oldest item */
    size_t count;               /* items in the ring */
    size_t unfinished;          /* puts not yet marked done */
    long items[];               /* capacity slots */
};

/* The pipeline's queue: small, so that the parent also waits while full. */
enum { RUN_CAPACITY = 16 };

/* Locking a valid, initialised mutex cannot fail: if it does, stop loudly. */
static void lock(jqueue_t *q)
{
    if (pthread_mutex_lock(&q->lock) != 0)
        abort();
}

static void unlock(jqueue_t *q)
{
    if (pthread_mutex_unlock(&q->lock) != 0)
        abort();
}

static void wait_on(pthread_cond_t *c, jqueue_t *q)
{
    if (pthread_cond_wait(c, &q->lock) != 0)
        abort();
}

jqueue_t *jq_create(size_t capacity)
{
    if (capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (capacity > (SIZE_MAX - sizeof(jqueue_t)) / sizeof(long)) {
        errno = ENOMEM;
        return NULL;
    }
    /* BUG 1: fork copies the memory that malloc gives: every process forked
     * after this gets a private copy of the queue, not the same queue. */
    jqueue_t *q = malloc(sizeof(jqueue_t) + capacity * sizeof(long));
    if (!q)
        return NULL;    /* malloc set errno */
    /* BUG 2: default attributes make the mutex and the condition variables
     * private to one process: a signal in one process never wakes a waiter
     * in another. */
    if (pthread_mutex_init(&q->lock, NULL) != 0 ||
        pthread_cond_init(&q->not_empty, NULL) != 0 ||
        pthread_cond_init(&q->not_full, NULL) != 0 ||
        pthread_cond_init(&q->all_done, NULL) != 0)
        abort();        /* cannot fail with default attributes on Linux */
    q->capacity = capacity;
    q->head = q->count = q->unfinished = 0;
    return q;
}

void jq_destroy(jqueue_t *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->all_done);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

int jq_put(jqueue_t *q, long item)
{
    if (!q)
        return EINVAL;
    lock(q);
    while (q->count == q->capacity)
        wait_on(&q->not_full, q);
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    q->unfinished++;
    if (pthread_cond_signal(&q->not_empty) != 0)
        abort();
    unlock(q);
    return 0;
}

int jq_get(jqueue_t *q, long *item)
{
    if (!q || !item)
        return EINVAL;
    lock(q);
    while (q->count == 0)
        wait_on(&q->not_empty, q);
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    if (pthread_cond_signal(&q->not_full) != 0)
        abort();
    if (q->count == 0 && pthread_cond_broadcast(&q->all_done) != 0)
        abort();
    unlock(q);
    return 0;
}

int jq_task_done(jqueue_t *q)
{
    if (!q)
        return EINVAL;
    lock(q);
    /* BUG 3: a task_done with nothing unfinished must be refused (EINVAL)
     * and change nothing; here the count wraps around below 0. */
    q->unfinished--;
    unlock(q);
    return 0;
}

int jq_join(jqueue_t *q)
{
    if (!q)
        return EINVAL;
    lock(q);
    /* BUG 4: this waits until the queue is empty, that is until every item
     * was taken; join must wait until every item put was marked done. */
    while (q->count > 0)
        wait_on(&q->all_done, q);
    unlock(q);
    return 0;
}

/* A worker process: takes items until its sentinel and adds up work(item),
 * marking every item done. */
static void worker(jqueue_t *q, long (*work)(long), long *sum)
{
    long total = 0, item;
    for (;;) {
        if (jq_get(q, &item) != 0)
            _exit(1);
        if (item == JQ_SENTINEL)
            break;
        total += work(item);
        if (jq_task_done(q) != 0)
            _exit(1);
    }
    /* BUG 5: the sentinel was put, so it counts as unfinished too: without
     * its task_done, join in the parent waits for ever. */
    *sum = total;
    _exit(0);   /* never return: the caller's code belongs to the parent */
}

int jq_run_workers(int nworkers, const long *items, size_t n,
                   long (*work)(long), long *total)
{
    if (nworkers < 1 || !work || !total || (!items && n > 0))
        return EINVAL;
    int err = 0, started = 0;
    /* BUG 6 (first half): like the queue, these partial sums are copied by
     * fork: each worker writes its own copy, which the parent never sees. */
    long *sums = calloc((size_t)nworkers, sizeof *sums);
    jqueue_t *q = jq_create(RUN_CAPACITY);
    if (!sums || !q) {
        err = ENOMEM;
        goto out;
    }
    for (; started < nworkers; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0)
            worker(q, work, &sums[started]);   /* never returns */
    }

    /* After a failed fork no item is put: only the sentinels that stop the
     * workers already running. */
    for (size_t i = 0; err == 0 && i < n; i++)
        jq_put(q, items[i]);
    for (int w = 0; w < started; w++)
        jq_put(q, JQ_SENTINEL);
    jq_join(q);

    /* BUG 6 (second half): the workers are never waited for (waitpid):
     * each one that exits stays a zombie. */
    long sum = 0;
    for (int w = 0; w < started; w++)
        sum += sums[w];
    if (err == 0)
        *total = sum;
out:
    jq_destroy(q);
    free(sums);
    return err;
}
