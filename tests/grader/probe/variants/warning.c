/* A warning is shown but costs nothing. */
// check: .score == 10
// check: (.tests[] | select(.tags[1]=="build") | .status) == "passed"
// check: (.tests[] | select(.tags[1]=="build") | .output | test("90-probe/probe.c:[0-9]+:[0-9]+: warning: unused variable"))
#include "probe.h"

int probe_add(int a, int b)
{
    int unused;
    return a + b;
}

long probe_count(int nthreads, long per_thread)
{
    return nthreads * per_thread;
}
