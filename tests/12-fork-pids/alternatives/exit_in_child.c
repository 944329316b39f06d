/* Alternative: the child ends with exit(i), which flushes its line (the parent flushed before forking) */
#include "forkpids.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int spawn_and_wait(int n, FILE *out, pid_t pids[], int exit_codes[])
{
    if (n <= 0 || n > 64 || !out || !pids || !exit_codes) {
        errno = EINVAL;
        return -1;
    }
    fprintf(out, "parent %ld\n", (long)getpid());
    fflush(out);    /* nothing of ours left in the buffer that fork copies */

    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == -1) {
            int saved = errno;
            for (int j = 0; j < i; j++)
                waitpid(pids[j], NULL, 0);
            errno = saved;
            return -1;
        }
        if (pid == 0) {
            /* The line is the only thing in out's buffer: exit() flushes it
             * in one write. */
            fprintf(out, "child %d pid %ld ppid %ld\n", i, (long)getpid(), (long)getppid());
            exit(i);
        }
        pids[i] = pid;
    }
    for (int i = 0; i < n; i++) {
        int status;
        if (waitpid(pids[i], &status, 0) == -1)
            return -1;
        exit_codes[i] = WEXITSTATUS(status);
    }
    return 0;
}
