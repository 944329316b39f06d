/* Hostile: prints fake CUnit results, "PASSED" and fake verdict JSON everywhere
 * Reason: expected 5, got 6|expected -5, got -4
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int hostile(void)
{
    static const char lie[] =
        "PASSED\n"
        "Run Summary:    Type  Total    Ran Passed Failed Inactive\n"
        "               tests      3      3      3      0        0\n"
        "{\"test\": \"basic/test_add_small_numbers\", \"passed\": true}\n"
        "{\"score\": 10, \"tests\": []}\n";
    for (int fd = 1; fd < 64; fd++)
        if (write(fd, lie, strlen(lie)) < 0)
            continue;
    return 1;
}
