/* jqueue.h - a JoinableQueue of longs, like Python's
 * multiprocessing.JoinableQueue, and the notes' worker pipeline.
 *
 * The queue is shared by the processes forked after it is created, and by
 * threads. The type is opaque: jqueue.c defines struct jqueue, so you choose
 * how it works (a process-shared mutex and condition variables, process-shared
 * semaphores, ...), as long as it lives in memory that the forked processes
 * share. Every function here is thread-safe and may be called from any of
 * those processes. Errors are returned as errno values. */
#ifndef JQUEUE_H
#define JQUEUE_H

#include <limits.h>
#include <stddef.h>

/* multiprocessing.JoinableQueue for longs, shared by the processes that are
 * forked after it is created, and by threads. */
typedef struct jqueue jqueue_t;

/* A new, empty queue holding at most `capacity` items. NULL with errno on
 * failure; EINVAL if capacity == 0. */
jqueue_t *jq_create(size_t capacity);  /* NULL with errno on failure; EINVAL if capacity == 0 */

/* Frees q. Called once, by the process that created q, when no thread or
 * process uses q any more. */
void jq_destroy(jqueue_t *q);

/* Adds item at the tail, waiting while the queue is full. Every item put
 * (JQ_SENTINEL too) counts as unfinished until a jq_task_done marks it done. */
int jq_put(jqueue_t *q, long item);    /* blocks while full; 0 */

/* Takes the item at the head (the oldest) into *item, waiting while the queue
 * is empty. */
int jq_get(jqueue_t *q, long *item);   /* blocks while empty; 0 */

/* Marks one unfinished item done. It counts puts, not gets: it may come before
 * the get of that item. Called more times than items were put, it returns
 * EINVAL and changes nothing. */
int jq_task_done(jqueue_t *q);         /* 0, or EINVAL if called more times than items were put */

/* Waits until every item put so far has been marked done (at once if none is
 * unfinished). Every process and thread waiting in jq_join wakes up. */
int jq_join(jqueue_t *q);              /* blocks until every item put has been marked done; 0 */

/* The "no more work" item: a worker that takes it stops. */
#define JQ_SENTINEL LONG_MIN

/* The notes' pipeline: forks nworkers consumer processes; the parent puts
 * items[0..n) and then one JQ_SENTINEL per worker. Each worker takes items until
 * it takes a sentinel, calls task_done for every item it took (the sentinel too),
 * and exits. The parent joins the queue, waits for every worker, and stores the
 * sum of work(item) over all items in *total. Returns 0, or an errno value.
 *
 * EINVAL for nworkers < 1 or a NULL pointer (items may be NULL when n == 0).
 * work runs in the worker processes. If a fork fails, returns that errno with
 * no process left behind. When it returns, none of its workers is running or
 * left unwaited for (no zombies). */
int jq_run_workers(int nworkers, const long *items, size_t n,
                   long (*work)(long), long *total);

#endif /* JQUEUE_H */
