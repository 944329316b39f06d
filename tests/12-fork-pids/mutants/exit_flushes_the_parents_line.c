/* Mutant: the child writes with dprintf and ends with exit(i); the parent never flushed out
 * Expect: unit
 * exit() flushes every stdio buffer of the child, including its copy of
 * out's buffer that still holds the parent's line: n + 1 copies.
 */
#include "forkpids.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

enum { FORKPIDS_MAX = 64 };

/* Child i: runs in the copy of the process that fork made; never returns. */
static _Noreturn void child_main(int i, FILE *out)
{
    dprintf(fileno(out), "child %d pid %ld ppid %ld\n", i, (long)getpid(),
            (long)getppid());
    exit(i);
}

/* Waits for our child pid; returns its exit status, or -signal if it was
 * killed (like Python's Popen.returncode). */
static int wait_for(pid_t pid)
{
    int status;
    pid_t r;
    while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    if (r != pid)
        abort();    /* pid is our own child, not yet waited for: cannot fail */
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    return WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
}

int spawn_and_wait(int n, FILE *out, pid_t pids[], int exit_codes[])
{
    if (n < 1 || n > FORKPIDS_MAX || !out || !pids || !exit_codes) {
        errno = EINVAL;
        return -1;
    }
    fprintf(out, "parent %ld\n", (long)getpid());

    /* Invariant: children 0..started-1 exist, their pids in pids[]. */
    int started = 0, err = 0;
    for (; started < n; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;    /* the waits below must not change what we report */
            break;
        }
        if (pid == 0)
            child_main(started, out);
        pids[started] = pid;
    }
    /* Wait for every child started, even after a failed fork: none is left
     * running or as a zombie. */
    for (int i = 0; i < started; i++)
        exit_codes[i] = wait_for(pids[i]);
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}
