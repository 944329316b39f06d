/* C11 atomics: a counter with atomic_fetch_add and results published with
 * release/acquire. Helgrind reports false races here; ThreadSanitizer does
 * not confirm them, so the race check passes. */
// check: .score == 10
// check: (.tests[] | select(.tags[1]=="race") | .output | test("not confirmed by ThreadSanitizer"))
#include "probe.h"

#include <pthread.h>
#include <stdatomic.h>

int probe_add(int a, int b)
{
    return a + b;
}

struct shared {
    atomic_long count;
    long per_thread;
    long partial[64];      /* partial[i] written by thread i before it finishes */
    atomic_int finished;   /* release by each thread, acquire by the caller */
};

struct slot {
    struct shared *s;
    int i;
};

static void *work(void *arg)
{
    struct slot *slot = arg;
    struct shared *s = slot->s;
    for (long i = 0; i < s->per_thread; i++)
        atomic_fetch_add(&s->count, 1);
    s->partial[slot->i] = s->per_thread;
    atomic_fetch_add_explicit(&s->finished, 1, memory_order_release);
    return NULL;
}

long probe_count(int nthreads, long per_thread)
{
    struct shared s = { .per_thread = per_thread };
    struct slot slots[64];
    pthread_t t[64];
    for (int i = 0; i < nthreads; i++) {
        slots[i] = (struct slot){ &s, i };
        pthread_create(&t[i], NULL, work, &slots[i]);
    }
    while (atomic_load_explicit(&s.finished, memory_order_acquire) < nthreads)
        sched_yield();
    long sum = 0;
    for (int i = 0; i < nthreads; i++)
        sum += s.partial[i];
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    return sum == atomic_load(&s.count) ? sum : -1;
}
