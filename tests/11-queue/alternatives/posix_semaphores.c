/* Alternative: POSIX semaphores count the items and the free slots; a mutex guards the ring */
#include "bqueue.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct bqueue {
    sem_t items_sem;            /* items in the ring, as permits to get */
    sem_t slots_sem;            /* free slots, as permits to put */
    pthread_mutex_t lock;       /* guards the ring and the counts */
    pthread_cond_t all_done;    /* broadcast when unfinished drops to 0 */
    size_t capacity;
    size_t head, count, unfinished;
    long items[];
};

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

/* Takes a permit of s as timeout_ms says: 0, EAGAIN or ETIMEDOUT. */
static int take_permit(sem_t *s, long timeout_ms)
{
    if (timeout_ms == 0)
        return sem_trywait(s) == 0 ? 0 : EAGAIN;
    if (timeout_ms < 0) {
        while (sem_wait(s) != 0)
            if (errno != EINTR)
                abort();
        return 0;
    }
    struct timespec deadline;
    if (clock_gettime(CLOCK_MONOTONIC, &deadline) != 0)
        abort();
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (sem_clockwait(s, CLOCK_MONOTONIC, &deadline) != 0) {
        if (errno == ETIMEDOUT)
            return ETIMEDOUT;
        if (errno != EINTR)
            abort();
    }
    return 0;
}

bqueue_t *bq_create(size_t maxsize)
{
    if (maxsize == 0 || maxsize > SEM_VALUE_MAX) {
        errno = maxsize ? ENOMEM : EINVAL;
        return NULL;
    }
    bqueue_t *q = malloc(sizeof *q + maxsize * sizeof(long));
    if (!q)
        return NULL;
    if (sem_init(&q->items_sem, 0, 0) != 0 || sem_init(&q->slots_sem, 0, (unsigned)maxsize) != 0 ||
        pthread_mutex_init(&q->lock, NULL) != 0 || pthread_cond_init(&q->all_done, NULL) != 0)
        abort();    /* cannot fail with these arguments on Linux */
    q->capacity = maxsize;
    q->head = q->count = q->unfinished = 0;
    return q;
}

void bq_destroy(bqueue_t *q)
{
    if (!q)
        return;
    sem_destroy(&q->items_sem);
    sem_destroy(&q->slots_sem);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->all_done);
    free(q);
}

int bq_put(bqueue_t *q, long item, long timeout_ms)
{
    int err = take_permit(&q->slots_sem, timeout_ms);
    if (err != 0)
        return err;
    lock(q);
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    q->unfinished++;
    unlock(q);
    if (sem_post(&q->items_sem) != 0)
        abort();
    return 0;
}

int bq_get(bqueue_t *q, long *item, long timeout_ms)
{
    int err = take_permit(&q->items_sem, timeout_ms);
    if (err != 0)
        return err;
    lock(q);
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    unlock(q);
    if (sem_post(&q->slots_sem) != 0)
        abort();
    return 0;
}

size_t bq_size(bqueue_t *q)
{
    lock(q);
    size_t n = q->count;
    unlock(q);
    return n;
}

int bq_task_done(bqueue_t *q)
{
    lock(q);
    int err = q->unfinished == 0 ? EINVAL : 0;
    if (err == 0 && --q->unfinished == 0 && pthread_cond_broadcast(&q->all_done) != 0)
        abort();
    unlock(q);
    return err;
}

int bq_join(bqueue_t *q)
{
    lock(q);
    while (q->unfinished > 0)
        if (pthread_cond_wait(&q->all_done, &q->lock) != 0)
            abort();
    unlock(q);
    return 0;
}

struct shared {
    bqueue_t *q;
    const long *items;
    size_t n;
    size_t nproducers;
    void (*consume)(long, void *);
    void *arg;
};

struct producer_arg {
    struct shared *s;
    size_t first;
};

static void *produce(void *p)
{
    struct producer_arg *a = p;
    for (size_t i = a->first; i < a->s->n; i += a->s->nproducers)
        bq_put(a->s->q, a->s->items[i], -1);
    return NULL;
}

static void *consume_all(void *p)
{
    struct shared *s = p;
    for (;;) {
        long item;
        bq_get(s->q, &item, -1);
        if (item != BQ_SENTINEL)
            s->consume(item, s->arg);
        bq_task_done(s->q);
        if (item == BQ_SENTINEL)
            return NULL;
    }
}

int bq_run_pipeline(int nproducers, int nconsumers, size_t maxsize,
                    const long *items, size_t n,
                    void (*consume)(long item, void *arg), void *arg)
{
    if (nproducers < 1 || nconsumers < 1 || maxsize == 0 || !consume || (!items && n > 0))
        return EINVAL;
    struct shared s = { bq_create(maxsize), items, n, (size_t)nproducers, consume, arg };
    pthread_t *cons = calloc((size_t)nconsumers, sizeof *cons);
    pthread_t *prods = calloc((size_t)nproducers, sizeof *prods);
    struct producer_arg *pa = calloc((size_t)nproducers, sizeof *pa);
    int err = 0, nc = 0, np = 0;
    if (!s.q || !cons || !prods || !pa) {
        err = ENOMEM;
        goto out;
    }
    while (nc < nconsumers && (err = pthread_create(&cons[nc], NULL, consume_all, &s)) == 0)
        nc++;
    while (err == 0 && np < nproducers) {
        pa[np] = (struct producer_arg){ &s, (size_t)np };
        if ((err = pthread_create(&prods[np], NULL, produce, &pa[np])) == 0)
            np++;
    }
    for (int i = 0; i < np; i++)
        pthread_join(prods[i], NULL);
    for (int i = 0; i < nc; i++)
        bq_put(s.q, BQ_SENTINEL, -1);
    bq_join(s.q);
    for (int i = 0; i < nc; i++)
        pthread_join(cons[i], NULL);
out:
    free(pa);
    free(prods);
    free(cons);
    bq_destroy(s.q);
    return err;
}
