/* csem.h - a counting semaphore, like Python's threading.Semaphore and
 * threading.BoundedSemaphore, and the notes' Semaphore(3) example.
 *
 * The type is opaque: csem.c defines struct csem, so you choose how it works
 * (a mutex and a condition variable, a POSIX sem_t, ...). Every function here
 * is thread-safe. Time-outs are in milliseconds: timeout_ms < 0 waits as long
 * as it takes, 0 tries once without waiting, > 0 waits at most that long.
 * Errors are returned as errno values. */
#ifndef CSEM_H
#define CSEM_H

typedef struct csem csem_t;

/* Semaphore(value) when max == 0; BoundedSemaphore(value) with ceiling max when
 * max > 0. NULL with errno EINVAL if max > 0 and value > max. */
csem_t *csem_create(unsigned value, unsigned max);

/* Frees s. No thread may be using s any more. */
void csem_destroy(csem_t *s);

/* Takes one permit, waiting for one as timeout_ms says: 0 when a permit was
 * taken (the count went down by 1), ETIMEDOUT when none came in time (the
 * count is unchanged). */
int csem_acquire(csem_t *s, long timeout_ms);  /* 0, or ETIMEDOUT */

/* Gives one permit back: the count goes up by 1 and one waiting thread, if any,
 * can take it. A plain Semaphore may grow above its start value; a bounded one
 * refuses with EOVERFLOW when its count is already max, and keeps the count. */
int csem_release(csem_t *s);                   /* 0, or EOVERFLOW when bounded and already at max */

/* The current count: permits free right now. */
unsigned csem_value(csem_t *s);                /* the current count */

/* The notes' Semaphore(3): starts njobs threads; each takes a slot of one
 * semaphore of `limit` slots, calls job(i, arg), and gives the slot back. Waits for
 * all; returns 0, or EINVAL if njobs < 1 or limit < 1. With njobs >= limit, up
 * to `limit` jobs run at once, never more. */
int run_limited(int njobs, int limit, void (*job)(int i, void *arg), void *arg);

#endif /* CSEM_H */
