/* A test stopped at the time limit says where each thread of the student's
 * code was: here blocked in pthread_mutex_lock, taking a lock it holds. */
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .output | test("timed out after 2 s: deadlock"))
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .output | test("thread [0-9]+: blocked in pthread_mutex_lock at .*probe.c:14 [(]take, called from line 21 in probe_add[)]"))
// check: (.tests[] | select(.name=="90-probe: basic/test_add_negative_numbers") | .status) == "passed"
#include "probe.h"

#include <pthread.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;

static void take(void)
{
    pthread_mutex_lock(&m);
}

int probe_add(int a, int b)
{
    take();
    if (a == 2)
        take();   /* a plain mutex is not re-entrant: waits for itself */
    pthread_mutex_unlock(&m);
    return a + b;
}

long probe_count(int nthreads, long per_thread)
{
    return nthreads * per_thread;
}
