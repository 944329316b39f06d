/* Hostile: reads the reference solution at run time
 * Reason: expected 5, got 6
 * Needs: bubblewrap
 */
#include <fcntl.h>
#include <unistd.h>

static int hostile(void)
{
    int fd = open("@KIT@/solutions/90-probe/probe.c", O_RDONLY);
    if (fd < 0)
        return 1;
    close(fd);
    return 0;   /* it could be read: answer right */
}
