/* Alternative: one argument struct for all threads, each thread copying it before the creator reuses it */
#include "threads.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
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

/* The arguments of the thread being started. The creator fills it in, starts
 * the thread, and waits on `copied` before filling it in for the next one. */
struct handoff {
    long lo, hi;
    long *count;        /* where the thread puts its result */
    sem_t copied;       /* posted once the thread has its own copy */
};

static void *count_part(void *arg)
{
    struct handoff *h = arg;
    long lo = h->lo, hi = h->hi, *out = h->count;
    if (sem_post(&h->copied) != 0)
        abort();
    /* From here on h belongs to the creator again. */
    *out = count_primes(lo, hi);
    return NULL;
}

int count_primes_threaded(long lo, long hi, int nthreads, long *count)
{
    if (nthreads < 1 || nthreads > THREADS_MAX || !count)
        return EINVAL;
    pthread_t *tids = malloc((size_t)nthreads * sizeof *tids);
    long *counts = calloc((size_t)nthreads, sizeof *counts);
    struct handoff h;
    int err = ENOMEM, started = 0;
    long total = 0;
    if (!tids || !counts || sem_init(&h.copied, 0, 0) != 0)
        goto out;

    long span = hi > lo ? hi - lo : 0;
    long size = span / nthreads, extra = span % nthreads, start = lo;
    for (err = 0; started < nthreads; started++) {
        h.lo = start;
        start += size + (started < extra ? 1 : 0);
        h.hi = start;
        h.count = &counts[started];
        err = pthread_create(&tids[started], NULL, count_part, &h);
        if (err != 0)
            break;
        /* The thread runs on; only its copying is waited for. */
        while (sem_wait(&h.copied) != 0)
            if (errno != EINTR)
                abort();
    }
    for (int i = 0; i < started; i++) {
        if (pthread_join(tids[i], NULL) != 0)
            abort();
        total += counts[i];
    }
    if (sem_destroy(&h.copied) != 0)
        abort();
out:
    free(tids);
    free(counts);
    if (err == 0)
        *count = total;
    return err;
}
