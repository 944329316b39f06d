/* A crash in one test fails that test alone, with the signal named. */
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .status) == "failed"
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .output | test("killed by SIGSEGV"))
// check: (.tests[] | select(.name=="90-probe: basic/test_add_negative_numbers") | .status) == "passed"
#include "probe.h"

#include <stddef.h>

int probe_add(int a, int b)
{
    if (a == 2) {
        volatile int *p = NULL;
        return *p;
    }
    return a + b;
}

long probe_count(int nthreads, long per_thread)
{
    return nthreads * per_thread;
}
