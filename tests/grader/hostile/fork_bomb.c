/* Hostile: forks without end
 * Reason: timed out after|killed by|before the test finished
 */
#include <unistd.h>

static int hostile(void)
{
    for (;;)
        fork();
    return 0;
}
