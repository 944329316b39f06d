/* Alternative: process-shared POSIX semaphores (sem_init pshared = 1) instead of a mutex and condition variables */
#include "jqueue.h"

#include <errno.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The whole queue is one shared mapping; every semaphore is process-shared. */
struct jqueue {
    sem_t lock;         /* binary: guards head, count, unfinished, joiners */
    sem_t slots;        /* free slots: a put takes one */
    sem_t filled;       /* items in the ring: a get takes one */
    sem_t done;         /* one post per waiting joiner when unfinished drops to 0 */
    size_t capacity;    /* fixed */
    size_t map_size;    /* fixed */
    size_t head, count; /* the ring, oldest at items[head] */
    size_t unfinished;  /* puts not yet marked done */
    size_t joiners;     /* threads and processes waiting on `done` */
    long items[];
};

enum { RUN_CAPACITY = 16 };

static void sem_down(sem_t *s)
{
    while (sem_wait(s) != 0)
        if (errno != EINTR)
            abort();
}

static void sem_up(sem_t *s)
{
    if (sem_post(s) != 0)
        abort();
}

jqueue_t *jq_create(size_t capacity)
{
    if (capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (capacity > SEM_VALUE_MAX) {
        errno = ENOMEM;
        return NULL;
    }
    size_t size = sizeof(jqueue_t) + capacity * sizeof(long);
    jqueue_t *q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
        return NULL;
    if (sem_init(&q->lock, 1, 1) != 0 || sem_init(&q->slots, 1, (unsigned)capacity) != 0 ||
        sem_init(&q->filled, 1, 0) != 0 || sem_init(&q->done, 1, 0) != 0) {
        int err = errno;
        munmap(q, size);
        errno = err;
        return NULL;
    }
    q->capacity = capacity;
    q->map_size = size;
    q->head = q->count = q->unfinished = q->joiners = 0;
    return q;
}

void jq_destroy(jqueue_t *q)
{
    if (!q)
        return;
    sem_destroy(&q->done);
    sem_destroy(&q->filled);
    sem_destroy(&q->slots);
    sem_destroy(&q->lock);
    if (munmap(q, q->map_size) != 0)
        abort();
}

int jq_put(jqueue_t *q, long item)
{
    if (!q)
        return EINVAL;
    sem_down(&q->slots);
    sem_down(&q->lock);
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    q->unfinished++;
    sem_up(&q->lock);
    sem_up(&q->filled);
    return 0;
}

int jq_get(jqueue_t *q, long *item)
{
    if (!q || !item)
        return EINVAL;
    sem_down(&q->filled);
    sem_down(&q->lock);
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    sem_up(&q->lock);
    sem_up(&q->slots);
    return 0;
}

int jq_task_done(jqueue_t *q)
{
    if (!q)
        return EINVAL;
    sem_down(&q->lock);
    if (q->unfinished == 0) {
        sem_up(&q->lock);
        return EINVAL;
    }
    if (--q->unfinished == 0) {
        /* Each joiner registered while work was unfinished gets its post. */
        for (; q->joiners > 0; q->joiners--)
            sem_up(&q->done);
    }
    sem_up(&q->lock);
    return 0;
}

int jq_join(jqueue_t *q)
{
    if (!q)
        return EINVAL;
    sem_down(&q->lock);
    if (q->unfinished == 0) {
        sem_up(&q->lock);
        return 0;
    }
    q->joiners++;
    sem_up(&q->lock);
    sem_down(&q->done);     /* a post made before this wait is kept by the semaphore */
    return 0;
}

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
    *sum = total;
    if (jq_task_done(q) != 0)
        _exit(1);
    _exit(0);
}

int jq_run_workers(int nworkers, const long *items, size_t n,
                   long (*work)(long), long *total)
{
    if (nworkers < 1 || !work || !total || (!items && n > 0))
        return EINVAL;
    size_t sums_size = (size_t)nworkers * sizeof(long);
    int err = 0, started = 0;
    pid_t *pids = malloc((size_t)nworkers * sizeof *pids);
    long *sums = mmap(NULL, sums_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    jqueue_t *q = jq_create(RUN_CAPACITY);
    if (!pids || sums == MAP_FAILED || !q) {
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
            worker(q, work, &sums[started]);
        pids[started] = pid;
    }
    for (size_t i = 0; err == 0 && i < n; i++)
        jq_put(q, items[i]);
    for (int w = 0; w < started; w++)
        jq_put(q, JQ_SENTINEL);
    jq_join(q);
    long sum = 0;
    for (int w = 0; w < started; w++) {
        int status;
        while (waitpid(pids[w], &status, 0) < 0)
            if (errno != EINTR)
                abort();
        sum += sums[w];
    }
    if (err == 0)
        *total = sum;
out:
    if (sums != MAP_FAILED)
        munmap(sums, sums_size);
    jq_destroy(q);
    free(pids);
    return err;
}
