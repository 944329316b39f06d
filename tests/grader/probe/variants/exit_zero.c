/* exit(0) inside the code under test is not a pass. */
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .status) == "failed"
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .output | test("exited with status 0 before the test finished"))
// check: (.tests[] | select(.name=="90-probe: basic/test_add_negative_numbers") | .status) == "passed"
#include "probe.h"

#include <stdlib.h>

int probe_add(int a, int b)
{
    if (a == 2)
        exit(0);
    return a + b;
}

long probe_count(int nthreads, long per_thread)
{
    return nthreads * per_thread;
}
