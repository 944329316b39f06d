/* Mutant: jq_task_done does not check that there is an unfinished item
 * Expect: unit
 * One task_done too many wraps the unsigned count around instead of returning
 * EINVAL, and join then waits for ever for the count to reach 0. */
#include "jqueue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct jqueue {
    pthread_mutex_t lock;       /* process-shared; guards everything below but capacity */
    pthread_cond_t not_empty;   /* signalled when an item is put */
    pthread_cond_t not_full;    /* signalled when an item is taken */
    pthread_cond_t all_done;    /* broadcast when unfinished drops to 0 */
    size_t capacity;            /* fixed at creation, read without the lock */
    size_t map_size;            /* bytes mapped, for munmap; fixed */
    size_t head;                /* index of the oldest item */
    size_t count;               /* items in the ring */
    size_t unfinished;          /* puts not yet marked done */
    long items[];               /* capacity slots */
};

/* The pipeline's queue: small, so that the parent also waits while full. */
enum { RUN_CAPACITY = 16 };

/* Locking a valid, initialised mutex cannot fail: if it does, stop loudly. */
static void lock(jqueue_t *q)
{
    if (pthread_mutex_lock(&q->lock) != 0)
        abort();
}

static void unlock(jqueue_t *q)
{
    if (pthread_mutex_unlock(&q->lock) != 0)
        abort();
}

static void wait_on(pthread_cond_t *c, jqueue_t *q)
{
    if (pthread_cond_wait(c, &q->lock) != 0)
        abort();
}

static void signal_one(pthread_cond_t *c)
{
    if (pthread_cond_signal(c) != 0)
        abort();
}

/* Initialises the lock and the condition variables, all process-shared. */
static int init_sync(jqueue_t *q)
{
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    int err = pthread_mutexattr_init(&ma);
    if (err != 0)
        return err;
    err = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    if (err == 0)
        err = pthread_mutex_init(&q->lock, &ma);
    pthread_mutexattr_destroy(&ma);
    if (err != 0)
        return err;

    err = pthread_condattr_init(&ca);
    if (err != 0)
        goto no_conds;
    err = pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    if (err != 0)
        goto no_conds_attr;
    pthread_cond_t *conds[] = { &q->not_empty, &q->not_full, &q->all_done };
    int made = 0;
    for (; made < 3; made++) {
        err = pthread_cond_init(conds[made], &ca);
        if (err != 0)
            break;
    }
    pthread_condattr_destroy(&ca);
    if (err == 0)
        return 0;
    while (made-- > 0)
        pthread_cond_destroy(conds[made]);
    goto no_conds;
no_conds_attr:
    pthread_condattr_destroy(&ca);
no_conds:
    pthread_mutex_destroy(&q->lock);
    return err;
}

jqueue_t *jq_create(size_t capacity)
{
    if (capacity == 0) {
        errno = EINVAL;
        return NULL;
    }
    if (capacity > (SIZE_MAX - sizeof(jqueue_t)) / sizeof(long)) {
        errno = ENOMEM;
        return NULL;
    }
    size_t size = sizeof(jqueue_t) + capacity * sizeof(long);
    /* Not malloc: fork would give each process its own copy of the queue. */
    jqueue_t *q = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED)
        return NULL;    /* mmap set errno */
    int err = init_sync(q);
    if (err != 0) {
        munmap(q, size);
        errno = err;
        return NULL;
    }
    q->capacity = capacity;
    q->map_size = size;
    q->head = q->count = q->unfinished = 0;
    return q;
}

void jq_destroy(jqueue_t *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->all_done);
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    if (munmap(q, q->map_size) != 0)
        abort();
}

int jq_put(jqueue_t *q, long item)
{
    if (!q)
        return EINVAL;
    lock(q);
    while (q->count == q->capacity)
        wait_on(&q->not_full, q);
    q->items[(q->head + q->count) % q->capacity] = item;
    q->count++;
    q->unfinished++;    /* a sentinel is an item too: it needs its task_done */
    signal_one(&q->not_empty);
    unlock(q);
    return 0;
}

int jq_get(jqueue_t *q, long *item)
{
    if (!q || !item)
        return EINVAL;
    lock(q);
    while (q->count == 0)
        wait_on(&q->not_empty, q);
    *item = q->items[q->head];
    q->head = (q->head + 1) % q->capacity;
    q->count--;
    signal_one(&q->not_full);
    unlock(q);
    return 0;
}

int jq_task_done(jqueue_t *q)
{
    if (!q)
        return EINVAL;
    lock(q);
    /* Every joiner, in every process, waits for this one moment. */
    if (--q->unfinished == 0 && pthread_cond_broadcast(&q->all_done) != 0)
        abort();
    unlock(q);
    return 0;
}

int jq_join(jqueue_t *q)
{
    if (!q)
        return EINVAL;
    lock(q);
    while (q->unfinished > 0)
        wait_on(&q->all_done, q);
    unlock(q);
    return 0;
}

/* A worker process: takes items until its sentinel, adds up work(item) into
 * *sum (its own slot of shared memory), marks every item done. Never returns. */
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
    *sum = total;       /* before the sentinel's task_done: the parent may read it after join */
    if (jq_task_done(q) != 0)
        _exit(1);
    /* _exit, not exit or return: the parent's atexit handlers and stdio
     * buffers belong to the parent. */
    _exit(0);
}

/* Waits for the child pid; EINTR is not an end. */
static int reap(pid_t pid, int *status)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return errno;
    return 0;
}

int jq_run_workers(int nworkers, const long *items, size_t n,
                   long (*work)(long), long *total)
{
    if (nworkers < 1 || !work || !total || (!items && n > 0))
        return EINVAL;
    int err = 0, started = 0;
    size_t sums_size = (size_t)nworkers * sizeof(long);
    jqueue_t *q = NULL;
    /* Each worker's partial sum: shared, since the workers share nothing else. */
    long *sums = MAP_FAILED;
    pid_t *pids = malloc((size_t)nworkers * sizeof *pids);
    if (!pids) {
        err = ENOMEM;
        goto out;
    }
    sums = mmap(NULL, sums_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sums == MAP_FAILED) {
        err = errno;
        goto out;
    }
    q = jq_create(RUN_CAPACITY);
    if (!q) {
        err = errno;
        goto out;
    }
    for (; started < nworkers; started++) {
        sums[started] = 0;
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0)
            worker(q, work, &sums[started]);   /* never returns */
        pids[started] = pid;
    }

    /* After a failed fork no item is put: only the sentinels that stop the
     * workers already running. */
    for (size_t i = 0; err == 0 && i < n; i++)
        if (jq_put(q, items[i]) != 0)
            abort();
    for (int w = 0; w < started; w++)
        if (jq_put(q, JQ_SENTINEL) != 0)
            abort();
    if (jq_join(q) != 0)
        abort();

    long sum = 0;
    for (int w = 0; w < started; w++) {
        int status, e = reap(pids[w], &status);
        if (err == 0 && e == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            e = ECHILD;     /* a worker died: its sum is not known */
        if (err == 0)
            err = e;
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
