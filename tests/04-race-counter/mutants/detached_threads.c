/* Mutant: count_in_parallel detaches its threads and sleeps 20 ms instead of joining
 * Expect: unit
 * A sleep is a guess, not a wait: when the work takes longer, it returns a
 * too small result while its threads keep changing the counter. */
#include "counter.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

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
    /* On the heap: detached threads may still read it after we return. */
    struct job *job = malloc(sizeof *job);
    if (!job)
        return -1;
    job->counter = counter_create();
    job->per_thread = per_thread;
    if (!job->counter) {
        free(job);
        return -1;
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker_main, job) != 0)
            return -1;
        if (pthread_detach(thread) != 0)
            abort();
    }
    /* Give the threads time to finish. */
    struct timespec pause = { 0, 20 * 1000000L };
    nanosleep(&pause, NULL);
    /* The counter and the job are left to the threads that may still use them. */
    return counter_get(job->counter);
}
