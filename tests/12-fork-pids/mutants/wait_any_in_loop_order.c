/* Mutant: wait() for any child, statuses stored in the order they come
 * Expect: unit
 * wait() returns whichever child ended first: its status lands in
 * exit_codes[i] for the i-th wait, not for the child that ended.
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
    fprintf(out, "child %d pid %ld ppid %ld\n", i, (long)getpid(), (long)getppid());
    /* One flush sends the whole line in one write(), so lines of children
     * running at the same time never mix. */
    fflush(out);
    /* _exit, not exit: exit() would also flush every other stdio buffer this
     * copy inherited from the caller (writing the caller's pending output a
     * second time) and run the caller's atexit handlers. */
    _exit(i);
}

int spawn_and_wait(int n, FILE *out, pid_t pids[], int exit_codes[])
{
    if (n < 1 || n > FORKPIDS_MAX || !out || !pids || !exit_codes) {
        errno = EINVAL;
        return -1;
    }
    fprintf(out, "parent %ld\n", (long)getpid());
    /* Empty out's buffer before fork copies it into every child. If that
     * fails the line is still buffered: forking now would duplicate it. */
    if (fflush(out) != 0)
        return -1;

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
    for (int i = 0; i < started; i++) {
        int status;
        if (wait(&status) < 0)
            abort();
        exit_codes[i] = WEXITSTATUS(status);
    }
    if (err != 0) {
        errno = err;
        return -1;
    }
    return 0;
}
