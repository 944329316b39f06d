/* counter.h - a counter that any number of threads may increment at once.
 *
 * The type is opaque: counter.c defines struct counter, so you choose how it
 * stays correct under threads (a mutex, a spinlock, C11 atomics...). Every
 * function here is thread-safe: it may be called from any number of threads
 * at the same time on the same counter. */
#ifndef COUNTER_H
#define COUNTER_H

typedef struct counter counter_t;

/* A new counter at 0; NULL on failure. */
counter_t *counter_create(void);

/* Frees c. No thread may be using c any more. */
void counter_destroy(counter_t *c);

/* Adds 1 to c; safe from any number of threads: no increment is ever lost. */
void counter_increment(counter_t *c);

/* The current value of c. */
long counter_get(counter_t *c);

/* Starts nthreads threads that each call counter_increment on one fresh
 * counter per_thread times, waits for all of them, and returns the counter's
 * final value (so nthreads * per_thread when nothing is lost); -1 if
 * nthreads < 1 or per_thread < 0, or if a thread cannot be started. */
long count_in_parallel(int nthreads, long per_thread);

#endif /* COUNTER_H */
