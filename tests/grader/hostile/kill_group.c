/* Hostile: kills its whole process group with SIGKILL
 * Reason: killed by SIGKILL
 */
#include <signal.h>

static int hostile(void)
{
    kill(0, SIGKILL);
    return 1;
}
