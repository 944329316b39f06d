/* Mutant: a new mutex is created in every call, so nobody ever waits
 * Expect: race
 * Each call locks its own local mutex: no other thread ever holds it, so it
 * excludes nothing. The lock must belong to the counter, shared by all. */
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
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    lock_or_die(&lock);
    c->value++;
    unlock_or_die(&lock);
}

long counter_get(counter_t *c)
{
    pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    lock_or_die(&lock);
    long value = c->value;
    unlock_or_die(&lock);
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
