/* Hostile: closes every file descriptor, then returns the right answer
 * Reason: before the test finished|during the test
 */
#include <unistd.h>

static int hostile(void)
{
    for (int fd = 0; fd < 1024; fd++)
        close(fd);
    return 0;
}
