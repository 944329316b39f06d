/* Alternative: each thread returns its count, collected by pthread_join */
#include "threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
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
    pthread_t tid;
    long lo, hi;    /* in: the numbers lo <= n < hi */
};

/* The count comes back as the thread's return value, which pthread_join
 * hands to the caller: a count always fits in a pointer-sized integer. */
static void *count_part(void *arg)
{
    const struct part *p = arg;
    return (void *)(intptr_t)count_primes(p->lo, p->hi);
}

int count_primes_threaded(long lo, long hi, int nthreads, long *count)
{
    if (nthreads < 1 || nthreads > THREADS_MAX || !count)
        return EINVAL;
    struct part *parts = calloc((size_t)nthreads, sizeof *parts);
    if (!parts)
        return ENOMEM;

    /* Cut [lo, hi) into nthreads parts: the first `extra` parts get one
     * number more than the others, so sizes differ by at most one. */
    long span = hi > lo ? hi - lo : 0;
    long size = span / nthreads, extra = span % nthreads, start = lo;
    for (int i = 0; i < nthreads; i++) {
        parts[i].lo = start;
        start += size + (i < extra ? 1 : 0);
        parts[i].hi = start;
    }

    int err = 0, started = 0;
    while (started < nthreads) {
        err = pthread_create(&parts[started].tid, NULL, count_part, &parts[started]);
        if (err != 0)
            break;
        started++;
    }
    long total = 0;
    for (int i = 0; i < started; i++) {
        void *ret;
        if (pthread_join(parts[i].tid, &ret) != 0)
            abort();
        total += (long)(intptr_t)ret;
    }
    free(parts);
    if (err == 0)
        *count = total;
    return err;
}
