/* A condition variable signalled after unlocking, which POSIX allows:
 * helgrind's "dubious" report is dismissed and the probe gets full marks. */
// check: .score == 10
#include "probe.h"

#include <pthread.h>

int probe_add(int a, int b)
{
    return a + b;
}

struct shared {
    pthread_mutex_t lock;
    pthread_cond_t done;
    long count;        /* guarded by lock */
    int running;       /* guarded by lock */
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
    pthread_mutex_lock(&s->lock);
    s->running--;
    pthread_mutex_unlock(&s->lock);
    pthread_cond_signal(&s->done);
    return NULL;
}

long probe_count(int nthreads, long per_thread)
{
    struct shared s = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, nthreads, per_thread };
    pthread_t t[64];
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, work, &s);
    pthread_mutex_lock(&s.lock);
    while (s.running > 0)
        pthread_cond_wait(&s.done, &s.lock);
    long count = s.count;
    pthread_mutex_unlock(&s.lock);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    return count;
}
