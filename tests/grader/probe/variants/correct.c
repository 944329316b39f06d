/* A correct probe: full marks. */
// check: .score == 10
// check: (.tests[] | select(.tags[1]=="race") | .status) == "passed"
// check: (.tests[] | select(.tags[1]=="build") | .output) == "compiled without warnings"
#include "probe.h"

#include <pthread.h>
#include <stdlib.h>

int probe_add(int a, int b)
{
    return a + b;
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
