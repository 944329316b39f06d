/* Mutant: the value is one global variable that all counters share
 * Expect: unit
 * Two counters are not independent: incrementing one changes the other, and
 * creating a counter resets every other one. */
#include "counter.h"

#include <pthread.h>
#include <stdlib.h>

/* The count, like the global variable of the Python example. */
static long value;  /* guarded by every counter's lock */

struct counter {
    pthread_mutex_t lock;
};

/* Locking a valid mutex that we do not already hold cannot fail. */
static void lock_or_die(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0)
        abort();
}

static void unlock_or_die(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

counter_t *counter_create(void)
{
    counter_t *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    if (pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    value = 0;
    return c;
}

void counter_destroy(counter_t *c)
{
    if (!c)
        return;
    if (pthread_mutex_destroy(&c->lock) != 0)
        abort();    /* still locked: someone is using a counter being freed */
    free(c);
}

void counter_increment(counter_t *c)
{
    lock_or_die(&c->lock);
    value++;
    unlock_or_die(&c->lock);
}

long counter_get(counter_t *c)
{
    /* Locked too: a read must not overlap a write in another thread. */
    lock_or_die(&c->lock);
    long v = value;
    unlock_or_die(&c->lock);
    return v;
}

/* What every worker thread of count_in_parallel does; read-only for them. */
struct job {
    counter_t *counter;
    long per_thread;
};

static void *worker_main(void *arg)
{
    const struct job *job = arg;
    for (long i = 0; i < job->per_thread; i++)
        counter_increment(job->counter);
    return NULL;
}

long count_in_parallel(int nthreads, long per_thread)
{
    if (nthreads < 1 || per_thread < 0)
        return -1;
    long result = -1;
    struct job job = { counter_create(), per_thread };
    pthread_t *threads = malloc((size_t)nthreads * sizeof *threads);
    if (!job.counter || !threads)
        goto out;

    /* Start them all first, then wait for them all: they run at the same time. */
    int started = 0;
    while (started < nthreads &&
           pthread_create(&threads[started], NULL, worker_main, &job) == 0)
        started++;
    for (int i = 0; i < started; i++)
        if (pthread_join(threads[i], NULL) != 0)
            abort();    /* only fails for a thread that is not ours */
    /* Every worker has been joined: the value is final and no thread will
     * touch the counter again, so it can be read and freed. */
    if (started == nthreads)
        result = counter_get(job.counter);
out:
    free(threads);
    if (job.counter)
        counter_destroy(job.counter);
    return result;
}
