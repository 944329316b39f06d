/* bqueue.h - a bounded blocking queue of longs for threads, like Python's
 * queue.Queue(maxsize), and the notes' producer/consumer pipeline.
 *
 * The type is opaque: bqueue.c defines struct bqueue, so you choose how it
 * works (a mutex and condition variables, semaphores, ...). Every function
 * here is thread-safe. Time-outs are in milliseconds: timeout_ms < 0 waits as
 * long as it takes, 0 tries once without waiting, > 0 waits at most that long.
 * Errors are returned as errno values: a put that gives up on a full queue
 * (Python's queue.Full) or a get that gives up on an empty one (queue.Empty)
 * returns EAGAIN when it did not wait (timeout_ms == 0) and ETIMEDOUT when it
 * waited timeout_ms in vain, as POSIX message queues do. */
#ifndef BQUEUE_H
#define BQUEUE_H

#include <limits.h>
#include <stddef.h>

typedef struct bqueue bqueue_t;

/* A new, empty queue holding at most maxsize items. NULL with errno on
 * failure: EINVAL if maxsize == 0, ENOMEM. */
bqueue_t *bq_create(size_t maxsize);

/* Frees q. No thread may be using q any more. */
void bq_destroy(bqueue_t *q);

/* Adds item at the tail, waiting while the queue is full as timeout_ms says:
 * 0 when added; EAGAIN (timeout_ms == 0) or ETIMEDOUT (timeout_ms > 0) when
 * the queue stayed full, and then nothing was added. Every item put counts as
 * unfinished until a bq_task_done marks it done. */
int bq_put(bqueue_t *q, long item, long timeout_ms);

/* Takes the item at the head (the oldest) into *item, waiting while the queue
 * is empty as timeout_ms says: 0 when taken; EAGAIN (timeout_ms == 0) or
 * ETIMEDOUT (timeout_ms > 0) when the queue stayed empty, and then *item is
 * left alone. */
int bq_get(bqueue_t *q, long *item, long timeout_ms);

/* The number of items in the queue right now: q.qsize(). */
size_t bq_size(bqueue_t *q);

/* Marks one unfinished item done. It counts puts, not gets: it may come before
 * the get of that item. Called more times than items were put, it returns
 * EINVAL and changes nothing. */
int bq_task_done(bqueue_t *q);         /* 0, or EINVAL */

/* Waits until every item put so far has been marked done (at once if none is
 * unfinished). Every thread waiting in bq_join wakes up. */
int bq_join(bqueue_t *q);              /* 0 */

/* The "no more work" item: a consumer that takes it stops. */
#define BQ_SENTINEL LONG_MIN

/* The notes' producer/consumer program, on one new queue of maxsize items.
 * Starts nconsumers consumer threads and nproducers producer threads.
 * Producer p puts items[i] for every i with i % nproducers == p, in increasing
 * i. Each consumer takes items until it takes a BQ_SENTINEL, calls
 * consume(item, arg) for every other item, and marks every item it took done
 * (the sentinel too). The calling thread waits for every producer, puts one
 * BQ_SENTINEL per consumer, joins the queue (bq_join), and waits for every
 * consumer. consume is called from the consumer threads, several at once: it
 * must be thread-safe. items never contains BQ_SENTINEL.
 *
 * Returns 0 once every item was consumed and every thread has ended. EINVAL
 * for nproducers < 1, nconsumers < 1, maxsize == 0, a NULL consume, or NULL
 * items with n > 0 (items may be NULL when n == 0). If a queue or a thread
 * cannot be created, returns that errno, after stopping and waiting for the
 * threads already started. */
int bq_run_pipeline(int nproducers, int nconsumers, size_t maxsize,
                    const long *items, size_t n,
                    void (*consume)(long item, void *arg), void *arg);

#endif /* BQUEUE_H */
