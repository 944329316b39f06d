/* Alternative: forks one child, waits for it, then the next; children write() a formatted line */
#include "forkpids.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* Child i: writes its line with one write() and ends; never returns. */
static _Noreturn void child(int i, int fd)
{
    char line[96];
    int len = snprintf(line, sizeof line, "child %d pid %ld ppid %ld\n", i, (long)getpid(),
                       (long)getppid());
    if (len > 0 && write(fd, line, (size_t)len) != len)
        _exit(255);
    _exit(i);
}

int spawn_and_wait(int n, FILE *out, pid_t pids[], int exit_codes[])
{
    if (n < 1 || n > 64 || !out || !pids || !exit_codes) {
        errno = EINVAL;
        return -1;
    }
    fprintf(out, "parent %ld\n", (long)getpid());
    if (fflush(out) != 0)
        return -1;
    int fd = fileno(out);
    /* No two children at once: each is waited for before the next is made,
     * so a failed fork has nobody left to wait for. */
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return -1;      /* errno from fork */
        if (pid == 0)
            child(i, fd);
        pids[i] = pid;
        int status;
        pid_t r;
        while ((r = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
            ;
        if (r < 0)
            abort();
        exit_codes[i] = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    return 0;
}
