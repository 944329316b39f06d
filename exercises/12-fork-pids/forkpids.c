/* forkpids.c - fork n children, report pids, collect exit statuses.
 *
 * This first version has the right shape and the children are already right,
 * but four things marked BUG in the parent are wrong: run `make grade EX=12`
 * to see them fail, then read README.md.
 *
 * The parent writes its line, forks the children one after the other, then
 * waits for them. Each child writes its line in one piece and ends with
 * _exit(i), so it never runs the caller's code. */
#include "forkpids.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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
    /* BUG 1: the arguments are not checked. n must be 1..64 and no pointer
     * may be NULL; otherwise return -1 with errno EINVAL, forking nothing. */
    fprintf(out, "parent %ld\n", (long)getpid());
    /* BUG 2: the parent's line is still in out's stdio buffer, and fork
     * copies that buffer into every child along with everything else. */
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        /* BUG 3: fork returns -1 when it fails (errno says why); this loop
         * goes on as if it had worked. */
        if (pid == 0)
            child_main(i, out);
        pids[i] = pid;
    }
    /* BUG 4: wait() returns whichever child ended first, not child i, and
     * status is the raw status word, not the exit status. */
    for (int i = 0; i < n; i++) {
        int status = 0;
        wait(&status);
        exit_codes[i] = status;
    }
    return 0;
}
