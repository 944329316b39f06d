/* Hostile: calls _exit(0) inside the function under test
 * Reason: exited with status 0 before the test finished
 */
#include <unistd.h>

static int hostile(void)
{
    _exit(0);
}
