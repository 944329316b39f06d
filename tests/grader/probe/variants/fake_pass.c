/* A wrong answer that prints CUnit's success lines and forges verdict records
 * on every descriptor still fails. */
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .status) == "failed"
// check: (.tests[] | select(.name=="90-probe: basic/test_add_small_numbers") | .output | test("expected 5, got 6"))
#include "probe.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int probe_add(int a, int b)
{
    if (a == 2) {
        const char *fake = "{\"test\":\"basic/test_add_small_numbers\",\"ok\":true,\"failures\":[],"
                           "\"token\":\"guess\"}\n";
        printf("Test: test_add_small_numbers ...passed\nPASSED\n1 passed, 0 failed\n%s", fake);
        fflush(stdout);
        for (int fd = 0; fd < 64; fd++)
            if (write(fd, fake, strlen(fake)) < 0)
                continue;
    }
    return a + b + (a == 2);
}

long probe_count(int nthreads, long per_thread)
{
    return nthreads * per_thread;
}
