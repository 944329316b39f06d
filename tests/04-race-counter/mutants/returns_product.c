/* Mutant: count_in_parallel returns nthreads * per_thread without starting any thread
 * Expect: unit
 * The result is computed, not counted: no thread runs and no counter is
 * used, so the function shows nothing about threads sharing a counter. */
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

long count_in_parallel(int nthreads, long per_thread)
{
    if (nthreads < 1 || per_thread < 0)
        return -1;
    /* Every thread adds per_thread, so the answer is known in advance. */
    return (long)nthreads * per_thread;
}
