/* threads.h - sequential versus threaded: counting primes with n threads.
 *
 * Python's Thread(target=..., args=...), start() and join(), in C: the same
 * count done by the calling thread alone, and split over several threads that
 * each count one part of the range and hand their result back. */
#ifndef THREADS_H
#define THREADS_H

/* The most threads count_primes_threaded accepts. */
#define THREADS_MAX 256

/* The number of primes p with lo <= p < hi, counted by the calling thread
 * alone (0 when hi <= lo; numbers below 2 are not prime). hi - lo must fit in
 * a long. */
long count_primes(long lo, long hi);

/* The same count, done by nthreads threads: the range [lo, hi) is cut into
 * nthreads consecutive parts that cover it exactly, thread i counts the
 * primes of part i, and the caller adds up their results. Starts exactly
 * nthreads threads, all running at the same time (some parts are empty when
 * the range holds fewer than nthreads numbers), and joins every one of them
 * before returning. Stores the total in *count and returns 0.
 * Returns EINVAL, starting no thread, if nthreads < 1, nthreads > THREADS_MAX
 * or count is NULL. If a thread cannot be started, joins the threads already
 * started and returns pthread_create's error (EAGAIN). *count is changed only
 * on success. */
int count_primes_threaded(long lo, long hi, int nthreads, long *count);

#endif /* THREADS_H */
