/* pool.h - a pool of worker threads and futures, like Python's
 * concurrent.futures.ThreadPoolExecutor.
 *
 * A task is a function fn(arg) that returns a pointer, as a thread started by
 * pthread_create does. pool_submit queues it and gives back a future: a
 * handle on the task's result, which the pool's threads fill in once one of
 * them has run the task.
 *
 * The types are opaque: pool.c defines struct pool and struct future, so you
 * choose how they work (mutexes and condition variables, semaphores, ...).
 * Every function here is thread-safe. Time-outs are in milliseconds:
 * timeout_ms < 0 waits as long as it takes, 0 looks once without waiting,
 * > 0 waits at most that long. Errors are returned as errno values.
 *
 * Ownership. The pool belongs to whoever created it: pool_destroy frees it.
 * A future belongs to the caller of pool_submit, who frees it with
 * future_free once the future is done (finished or cancelled): from that
 * moment the pool never touches it again. A future stays usable after its
 * pool is destroyed. */
#ifndef POOL_H
#define POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pool pool_t;
typedef struct future future_t;

/* Where a future stands. A future starts PENDING (queued), becomes RUNNING
 * when a pool thread takes it, and ends FINISHED (the task returned) or
 * CANCELLED (it never ran). FINISHED and CANCELLED are final: the future is
 * then "done". */
enum future_state {
    FUTURE_PENDING,
    FUTURE_RUNNING,
    FUTURE_FINISHED,
    FUTURE_CANCELLED,
};

/* A new pool of nthreads worker threads: ThreadPoolExecutor(max_workers=n).
 * It runs up to nthreads tasks at once, each in one of its own threads, never
 * in the thread that submitted it. Whether the threads start here or as
 * tasks arrive is your choice. NULL with errno on failure: EINVAL if
 * nthreads < 1; ENOMEM; or pthread_create's error, after stopping and
 * waiting for the threads already started. */
pool_t *pool_create(int nthreads);

/* Shuts the pool down as pool_shutdown(pool, true, false) does (unless that
 * was done already), waits for every worker thread to end, and frees the
 * pool. Futures are not freed: they belong to their callers. NULL is
 * allowed. Never call it from a task, nor twice, nor while another thread
 * still calls pool_submit, pool_map, pool_shutdown or future_cancel on this
 * pool or its futures. */
void pool_destroy(pool_t *pool);

/* Queues fn(arg) and stores a new PENDING future for it in *future: the
 * caller owns it (see future_free). Tasks start in the order they were
 * submitted (first in, first out), each exactly once unless cancelled.
 * Returns 0; EINVAL if pool, fn or future is NULL; ESHUTDOWN once
 * pool_shutdown was called (Python raises RuntimeError: "cannot schedule new
 * futures after shutdown"); ENOMEM. On error nothing is queued and *future
 * is left alone. */
int pool_submit(pool_t *pool, void *(*fn)(void *arg), void *arg, future_t **future);

/* future.result(timeout): waits until the future is done, as timeout_ms says.
 * Returns 0 with the task's return value in *value (if value is not NULL);
 * ETIMEDOUT if the future was still pending or running when the time-out
 * passed (the task goes on: ask again later); ECANCELED if the future was
 * cancelled (Python raises CancelledError); EINVAL if f is NULL. *value is
 * changed only when 0 is returned. Any number of threads may wait for the
 * same future: they all wake when it is done. */
int future_result(future_t *f, long timeout_ms, void **value);

/* future.cancel(): a PENDING future becomes CANCELLED, its task will never
 * run, and every thread waiting for its result wakes with ECANCELED.
 * Returns 0 if the future is cancelled (now, or already before); EBUSY if
 * it is RUNNING or FINISHED: like Python, a task that has started cannot be
 * cancelled, and nothing changes; EINVAL if f is NULL. */
int future_cancel(future_t *f);

/* Where f stands right now (its state may change as soon as this returns,
 * unless it is FINISHED or CANCELLED). f must not be NULL. */
enum future_state future_state(future_t *f);

/* Frees f. Call it once for every future pool_submit gave, only once the
 * future is done (future_result returned 0 or ECANCELED, or future_state
 * said FINISHED or CANCELLED; every future of a pool that pool_shutdown
 * waited for is done): a pending or running future is still used by the
 * pool. NULL is allowed. */
void future_free(future_t *f);

/* executor.map(fn, args): runs fn(args[i]) for every i < n on the pool,
 * waits for all of them, and stores fn(args[i]) in results[i]: results come
 * in the order of args, whatever order the tasks finish in. Returns 0; or
 * EINVAL (NULL pool or fn, or NULL args or results with n > 0; both may be
 * NULL when n == 0); ESHUTDOWN if the pool was shut down before every task
 * was submitted, ECANCELED if pool_shutdown cancelled one of them, or ENOMEM.
 * On error, the tasks already submitted that have not started are
 * cancelled, map waits for those that have, and results is unspecified. A
 * task must not call pool_map on its own pool (it could wait for ever for a
 * thread that is busy waiting for it). */
int pool_map(pool_t *pool, void *(*fn)(void *arg), void *const args[], size_t n,
             void *results[]);

/* executor.shutdown(wait, cancel_futures). From now on pool_submit and
 * pool_map refuse with ESHUTDOWN. With cancel_futures, every PENDING future
 * is cancelled (its waiters wake with ECANCELED); RUNNING ones are left to
 * finish. Without it, the tasks already queued still run. With wait, returns
 * only once every task has finished or been cancelled and every worker
 * thread has ended (been joined); without it, returns at once and the
 * threads end by themselves once the queue is empty. May be called more than
 * once and from several threads at once: each call with wait returns only
 * when all is over. Never call it with wait from a task: it would wait for
 * itself. Returns 0, or EINVAL if pool is NULL. */
int pool_shutdown(pool_t *pool, bool wait, bool cancel_futures);

#endif /* POOL_H */
