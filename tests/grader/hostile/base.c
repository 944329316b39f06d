/* base.c - the honest part of every hostile probe.c: a correct probe whose
 * probe_add first calls hostile(), which each case file defines. The kit's
 * tests build each case as this file followed by the case file, with @KIT@
 * and @HOME@ replaced by the kit's root and the grader's home folder.
 *
 * hostile() returns what probe_add adds to a + b: a case that tries to cheat
 * returns 0 only if the attack worked, so a blocked attack fails the tests. */
#include "probe.h"

#include <pthread.h>

static int hostile(void);

int probe_add(int a, int b)
{
    return a + b + hostile();
}

struct shared {
    pthread_mutex_t lock;
    long count;       /* guarded by lock */
    long per_thread;
};

static void *work(void *arg)
{
    struct shared *s = arg;
    for (long i = 0; i < s->per_thread; i++) {
        pthread_mutex_lock(&s->lock);
        s->count++;
        pthread_mutex_unlock(&s->lock);
    }
    return NULL;
}

long probe_count(int nthreads, long per_thread)
{
    struct shared s = { PTHREAD_MUTEX_INITIALIZER, 0, per_thread };
    pthread_t t[64];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, work, &s);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    return s.count;
}

/* ---- the case ---- */
