/* Mutant: each thread is given &i, the address of the loop counter, to find its part
 * Expect: unit
 * The loop goes on changing i after pthread_create returns: a thread that
 * reads *arg late finds the index of a later thread (or nthreads, past the
 * end), so parts are counted twice or not at all. The job itself sits in
 * global variables, which two calls at once would also share.
 */
#include "threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

static bool is_prime(long n)
{
    if (n < 2)
        return false;
    if (n % 2 == 0)
        return n == 2;
    for (long d = 3; d <= n / d; d += 2)   /* d <= n / d: d * d could overflow */
        if (n % d == 0)
            return false;
    return true;
}

long count_primes(long lo, long hi)
{
    long count = 0;
    for (long n = lo; n < hi; n++)
        if (is_prime(n))
            count++;
    return count;
}

/* One thread's arguments and result. The creator writes lo and hi before
 * pthread_create; the thread writes count; the creator reads count after
 * pthread_join. */
static long job_lo[THREADS_MAX + 1], job_hi[THREADS_MAX + 1];
static long job_count[THREADS_MAX + 1];

static void *count_part(void *arg)
{
    int i = *(int *)arg;
    job_count[i] = count_primes(job_lo[i], job_hi[i]);
    return NULL;
}

int count_primes_threaded(long lo, long hi, int nthreads, long *count)
{
    if (nthreads < 1 || nthreads > THREADS_MAX || !count)
        return EINVAL;
    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    if (!tids)
        return ENOMEM;

    /* Cut [lo, hi) into nthreads parts: the first `extra` parts get one
     * number more than the others, so sizes differ by at most one. */
    long span = hi > lo ? hi - lo : 0;
    long size = span / nthreads, extra = span % nthreads, start = lo;
    for (int i = 0; i < nthreads; i++) {
        job_lo[i] = start;
        start += size + (i < extra ? 1 : 0);
        job_hi[i] = start;
        job_count[i] = 0;
    }

    int err = 0, started = 0;
    for (int i = 0; i < nthreads; i++) {
        err = pthread_create(&tids[i], NULL, count_part, &i);
        if (err != 0)
            break;
        started++;
    }
    long total = 0;
    for (int i = 0; i < started; i++) {
        if (pthread_join(tids[i], NULL) != 0)
            abort();
        total += job_count[i];
    }
    free(tids);
    if (err == 0)
        *count = total;
    return err;
}
