/* Hostile: overwrites the kit's test file, the grader and a file in $HOME
 * Reason: expected 5, got 6
 * Needs: another user
 */
#include <fcntl.h>
#include <unistd.h>

static int overwrite(const char *path)
{
    int fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0)
        return 0;
    int done = write(fd, "pwned\n", 6) == 6;
    close(fd);
    return done;
}

static int hostile(void)
{
    int done = overwrite("@KIT@/tests/90-probe/test_probe.c");
    done += overwrite("@KIT@/build/grader");
    done += overwrite("@HOME@/notes.txt");
    return done ? 0 : 1;   /* the right answer only if an attack worked */
}
