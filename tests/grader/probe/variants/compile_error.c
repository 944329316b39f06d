/* A syntax error: the build fails with file:line in the student's file, the
 * exercise scores 0 and every entry fails. */
// check: .score == 0
// check: all(.tests[]; .status == "failed")
// check: (.tests[] | select(.tags[1]=="build") | .output | test("90-probe/probe.c:[0-9]+:[0-9]+: error"))
#include "probe.h"

int probe_add(int a, int b)
{
    return a + b
}

long probe_count(int nthreads, long per_thread)
{
    return nthreads * per_thread;
}
