/* Alternative: children write their line with one dprintf() on out's file descriptor */
#include "forkpids.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int spawn_and_wait(int n, FILE *out, pid_t pids[], int exit_codes[])
{
    if (n < 1 || n > 64 || !out || !pids || !exit_codes) {
        errno = EINVAL;
        return -1;
    }
    fprintf(out, "parent %ld\n", (long)getpid());
    /* The children bypass out's buffer, so the parent's line must be in the
     * file before the first child writes, and not in any child's copy. */
    if (fflush(out) != 0)
        return -1;
    int fd = fileno(out);

    int started = 0, err = 0;
    while (started < n) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            /* dprintf formats the whole line and writes it with one write(). */
            dprintf(fd, "child %d pid %ld ppid %ld\n", started, (long)getpid(), (long)getppid());
            _exit(started);
        }
        pids[started++] = pid;
    }
    for (int i = 0; i < started; i++) {
        int status;
        while (waitpid(pids[i], &status, 0) < 0)
            if (errno != EINTR)
                abort();
        exit_codes[i] = WEXITSTATUS(status);
    }
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}
