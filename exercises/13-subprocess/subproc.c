/* subproc.c - subprocess.run(args, capture_output=True, timeout=...).
 *
 * This first version is the one most people write first: pipes, fork, exec
 * in the child, then in the parent wait for the program and read what it
 * wrote. It works for a program that writes a few lines and exits, but six
 * things marked BUG are wrong: run `make grade EX=13` to see them fail, then
 * read README.md. */
#include "subproc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* A growing byte buffer: len bytes used, cap allocated (room for a '\0'). */
struct buf {
    char *data;
    size_t len, cap;
};

/* Appends n bytes; 0 or ENOMEM. */
static int buf_add(struct buf *b, const char *bytes, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (!data)
            return ENOMEM;
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Reads fd until end-of-file into b; 0 or an errno. */
static int read_all(int fd, struct buf *b)
{
    char chunk[4096];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n == 0)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        if (buf_add(b, chunk, (size_t)n) != 0)
            return ENOMEM;
    }
}

int subproc_run(char *const argv[], long timeout_ms, struct subproc_result *res)
{
    if (res)
        *res = (struct subproc_result){ 0 };
    if (!argv || !argv[0] || !res)
        return EINVAL;
    /* BUG 6: timeout_ms is ignored. TODO: a deadline for the whole run
     * (timeout_ms < 0: none; 0: no time at all); the program in a process
     * group of its own (setpgid), so that when the time is up the group can
     * be killed (kill(-pid, SIGKILL)), then waited for, and ETIMEDOUT
     * returned with what was captured. */
    (void)timeout_ms;

    /* BUG 1: these pipes are not close-on-exec, and the child closes only
     * its own: a descriptor the caller (or another thread at the same
     * moment) has open reaches the program. It must start with 0, 1 and 2
     * only. Also: when the second pipe fails, the first is left open. */
    int out[2], err[2];
    if (pipe(out) != 0)
        return errno;
    if (pipe(err) != 0)
        return errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        return e;
    }
    if (pid == 0) {
        /* BUG 2: stdin is still the caller's: a program that reads its input
         * takes the caller's. It must read /dev/null. */
        dup2(out[1], 1);
        dup2(err[1], 2);
        close(out[0]);
        close(out[1]);
        close(err[0]);
        close(err[1]);
        execvp(argv[0], argv);
        /* BUG 3: a program that cannot be started looks like one that exited
         * with status 127. The parent must learn exec's errno and return it
         * (TODO: a close-on-exec pipe: end-of-file there means exec worked). */
        _exit(127);
    }
    close(out[1]);
    close(err[1]);

    /* BUG 4: the parent waits for the end before reading anything: a program
     * that writes more than a pipe holds (64 KiB) blocks, and never ends.
     * Then stdout is read to its end before stderr: the same deadlock when
     * both fill. TODO: read both as data comes (poll), then wait. */
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    struct buf bufs[2] = { { 0 }, { 0 } };
    int rc = read_all(out[0], &bufs[0]);
    if (rc == 0)
        rc = read_all(err[0], &bufs[1]);
    close(out[0]);
    close(err[0]);
    for (int i = 0; i < 2 && rc == 0; i++)
        if (!bufs[i].data)
            rc = buf_add(&bufs[i], "", 0);
    if (rc != 0) {
        free(bufs[0].data);
        free(bufs[1].data);
        return rc;
    }
    /* BUG 5: a program killed by signal N must give returncode -N;
     * WEXITSTATUS means nothing when the program did not exit. */
    *res = (struct subproc_result){ WEXITSTATUS(status), bufs[0].data, bufs[0].len,
                                    bufs[1].data, bufs[1].len };
    return 0;
}

void subproc_result_free(struct subproc_result *res)
{
    if (!res)
        return;
    free(res->out);
    free(res->err);
    *res = (struct subproc_result){ 0 };
}
