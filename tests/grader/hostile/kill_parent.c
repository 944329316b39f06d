/* Hostile: kills its parent process with SIGKILL, then answers wrong
 * Reason: expected 5, got 6|killed by
 */
#include <signal.h>
#include <unistd.h>

static int hostile(void)
{
    kill(getppid(), SIGKILL);
    return 1;
}
