/* Hostile: writes a huge file wherever it can, then answers wrong
 * Reason: expected 5, got 6|killed by SIGXFSZ
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static void fill(const char *path)
{
    static char block[1 << 20];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return;
    memset(block, 'x', sizeof block);
    for (int i = 0; i < 100 * 1024; i++)   /* up to 100 GiB */
        if (write(fd, block, sizeof block) < 0)
            break;
    close(fd);
}

static int hostile(void)
{
    fill("huge.dat");
    fill("/tmp/huge.dat");
    fill("@HOME@/huge.dat");
    return 1;
}
