/* Alternative: wait() for whichever child ends first and find its index by pid */
#include "forkpids.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int spawn_and_wait(int n, FILE *out, pid_t pids[], int exit_codes[])
{
    if (n < 1 || n > 64 || out == NULL || pids == NULL || exit_codes == NULL) {
        errno = EINVAL;
        return -1;
    }
    fprintf(out, "parent %d\n", (int)getpid());
    if (fflush(out) == EOF)
        return -1;

    int started, fork_errno = 0;
    for (started = 0; started < n; started++) {
        pid_t pid = fork();
        if (pid == -1) {
            fork_errno = errno;
            break;
        }
        if (pid == 0) {
            fprintf(out, "child %d pid %d ppid %d\n", started, (int)getpid(), (int)getppid());
            fflush(out);
            _exit(started);
        }
        pids[started] = pid;
    }

    /* Children end in any order: match each one to its index by its pid. */
    for (int reaped = 0; reaped < started; ) {
        int status;
        pid_t pid = wait(&status);
        if (pid == -1) {
            if (errno == EINTR)
                continue;
            abort();    /* children are left, so wait cannot fail otherwise */
        }
        for (int i = 0; i < started; i++) {
            if (pids[i] == pid) {
                exit_codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                reaped++;
                break;
            }
        }
    }
    if (fork_errno != 0) {
        errno = fork_errno;
        return -1;
    }
    return 0;
}
