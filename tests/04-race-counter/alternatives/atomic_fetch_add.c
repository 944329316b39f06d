/* Alternative: C11 atomics - atomic_long and atomic_fetch_add, no lock */
#include "counter.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct counter {
    atomic_long value;  /* only touched through atomic operations */
};

counter_t *counter_create(void)
{
    counter_t *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    atomic_init(&c->value, 0);
    return c;
}

void counter_destroy(counter_t *c)
{
    free(c);
}

void counter_increment(counter_t *c)
{
    /* Read, add and write in one indivisible instruction. */
    atomic_fetch_add(&c->value, 1);
}

long counter_get(counter_t *c)
{
    return atomic_load(&c->value);
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
