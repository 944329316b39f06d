/* Threads increment a shared count without a lock: a data race, with both
 * places named in the student's file. */
// check: (.tests[] | select(.tags[1]=="race") | .status) == "failed"
// check: (.tests[] | select(.tags[1]=="race") | .output | test("90-probe/probe.c:[0-9]+: (read|write) by thread #[0-9]+ races with (read|write) at [^ ]*90-probe/probe.c:[0-9]+ by thread #[0-9]+"))
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .status) == "passed"
#include "probe.h"

#include <pthread.h>

int probe_add(int a, int b)
{
    return a + b;
}

static long count;
static long per;

static void *work(void *arg)
{
    (void)arg;
    for (long i = 0; i < per; i++)
        count++;
    return NULL;
}

long probe_count(int nthreads, long per_thread)
{
    pthread_t t[64];
    count = 0;
    per = per_thread;
    for (int i = 0; i < nthreads; i++)
        pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    return count;
}
