/* A hang is stopped at the exercise's time limit and named as a likely
 * deadlock; the other tests still run. */
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .status) == "failed"
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .output | test("timed out after 2 s: deadlock"))
// check: (.tests[] | select(.name=="90-probe: basic/test_add_negative_numbers") | .status) == "passed"
#include "probe.h"

#include <unistd.h>

int probe_add(int a, int b)
{
    while (a == 2)
        pause();
    return a + b;
}

long probe_count(int nthreads, long per_thread)
{
    return nthreads * per_thread;
}
