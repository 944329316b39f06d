/* Hostile: ignores SIGTERM and spins
 * Reason: timed out after
 */
#include <signal.h>

static int hostile(void)
{
    signal(SIGTERM, SIG_IGN);
    for (volatile int i = 0;; i++)
        ;
    return 0;
}
