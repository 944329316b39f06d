/* Hostile: blocks forever (waits for a signal that never comes)
 * Reason: timed out after
 */
#include <unistd.h>

static int hostile(void)
{
    for (;;)
        pause();
    return 0;
}
