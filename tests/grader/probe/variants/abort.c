/* abort() in one test fails that test alone. */
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .output | test("killed by SIGABRT"))
// check: (.tests[] | select(.name=="90-probe: basic/test_add_negative_numbers") | .status) == "passed"
#include "probe.h"

#include <stdlib.h>

int probe_add(int a, int b)
{
    if (a == 2)
        abort();
    return a + b;
}

long probe_count(int nthreads, long per_thread)
{
    return nthreads * per_thread;
}
