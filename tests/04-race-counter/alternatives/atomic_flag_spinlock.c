/* Alternative: a spinlock made of a C11 atomic_flag, one per counter */
#include "counter.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct counter {
    atomic_flag busy;   /* set while a thread holds this counter */
    long value;         /* guarded by busy */
};

static void counter_lock(counter_t *c)
{
    /* test_and_set sets the flag and says whether it was already set: only
     * the thread that finds it clear goes on. Acquire: see the last holder's
     * writes. */
    while (atomic_flag_test_and_set_explicit(&c->busy, memory_order_acquire))
        ;
}

static void counter_unlock(counter_t *c)
{
    /* Release: our writes are visible to the next holder. */
    atomic_flag_clear_explicit(&c->busy, memory_order_release);
}

counter_t *counter_create(void)
{
    counter_t *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    atomic_flag_clear(&c->busy);
    c->value = 0;
    return c;
}

void counter_destroy(counter_t *c)
{
    free(c);
}

void counter_increment(counter_t *c)
{
    counter_lock(c);
    c->value++;
    counter_unlock(c);
}

long counter_get(counter_t *c)
{
    counter_lock(c);
    long value = c->value;
    counter_unlock(c);
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
