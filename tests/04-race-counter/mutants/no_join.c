/* Mutant: count_in_parallel starts the threads but never joins them
 * Expect: unit
 * It reads the counter while the threads still run (a too small result) and
 * then frees the counter under their feet. */
#include "counter.h"

#include <pthread.h>
#include <stdlib.h>

struct counter {
    pthread_mutex_t lock;
    long value;     /* guarded by lock */
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
    c->value = 0;
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
    c->value++;     /* read, add, write: no other thread can come in between */
    unlock_or_die(&c->lock);
}

long counter_get(counter_t *c)
{
    /* Locked too: a read must not overlap a write in another thread. */
    lock_or_die(&c->lock);
    long value = c->value;
    unlock_or_die(&c->lock);
    return value;
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
    if (started == nthreads)
        result = counter_get(job.counter);
out:
    free(threads);
    if (job.counter)
        counter_destroy(job.counter);
    return result;
}
