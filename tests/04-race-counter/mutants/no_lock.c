/* Mutant: no lock at all - counter_increment does c->value++ unprotected
 * Expect: race
 * The stub's bug: two threads read the same old value and both write back
 * old+1, so increments are lost. */
#include "counter.h"

#include <pthread.h>
#include <stdlib.h>

struct counter {
    long value;     /* shared by every thread that uses this counter */
};

counter_t *counter_create(void)
{
    counter_t *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    c->value = 0;
    return c;
}

void counter_destroy(counter_t *c)
{
    free(c);
}

void counter_increment(counter_t *c)
{
    /* Looks like one step, but the processor reads c->value, adds 1 and
     * writes the sum back: three steps that other threads can interleave. */
    c->value++;
}

long counter_get(counter_t *c)
{
    return c->value;
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
    if (started == nthreads)
        result = counter_get(job.counter);
out:
    free(threads);
    if (job.counter)
        counter_destroy(job.counter);
    return result;
}
