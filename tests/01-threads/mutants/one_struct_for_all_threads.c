/* Mutant: one argument struct is reused for every thread of the loop
 * Expect: unit
 * Each turn of the loop overwrites the bounds the previous thread was given;
 * a thread that starts running late counts another thread's part (or the
 * last one) and its own part is never counted.
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
struct part {
    long lo, hi;    /* in: the numbers lo <= n < hi */
    long *count;    /* out: where to put the primes among them */
};

static void *count_part(void *arg)
{
    struct part *p = arg;
    long *out = p->count;
    *out = count_primes(p->lo, p->hi);
    return NULL;
}

int count_primes_threaded(long lo, long hi, int nthreads, long *count)
{
    if (nthreads < 1 || nthreads > THREADS_MAX || !count)
        return EINVAL;
    pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
    long *counts = calloc((size_t)nthreads, sizeof *counts);
    if (!tids || !counts) {
        free(tids);
        free(counts);
        return ENOMEM;
    }
    struct part part;

    /* Cut [lo, hi) into nthreads parts: the first `extra` parts get one
     * number more than the others, so sizes differ by at most one. */
    long span = hi > lo ? hi - lo : 0;
    long size = span / nthreads, extra = span % nthreads, start = lo;
    int err = 0, started = 0;
    while (started < nthreads) {
        part.lo = start;
        start += size + (started < extra ? 1 : 0);
        part.hi = start;
        part.count = &counts[started];
        err = pthread_create(&tids[started], NULL, count_part, &part);
        if (err != 0)
            break;
        started++;
    }
    long total = 0;
    for (int i = 0; i < started; i++) {
        if (pthread_join(tids[i], NULL) != 0)
            abort();
        total += counts[i];
    }
    free(tids);
    free(counts);
    if (err == 0)
        *count = total;
    return err;
}
