/* Hostile: points every file descriptor at /dev/null, then returns the right answer
 * Reason: before the test finished|during the test
 */
#include <fcntl.h>
#include <unistd.h>

static int hostile(void)
{
    int null = open("/dev/null", O_WRONLY);
    for (int fd = 0; fd < 1024; fd++)
        if (fd != null)
            dup2(null, fd);
    return 0;
}
