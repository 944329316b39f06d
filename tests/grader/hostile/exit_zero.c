/* Hostile: calls exit(0) inside the function under test
 * Reason: exited with status 0 before the test finished
 */
#include <stdlib.h>

static int hostile(void)
{
    exit(0);
}
