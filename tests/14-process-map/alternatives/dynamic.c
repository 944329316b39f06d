/* procmap.c - Pool.map with work handed out as it is asked for.
 *
 * Dynamic hand-out: one task pipe shared by every worker, one result pipe
 * shared by every worker. The parent writes item indexes into the task
 * pipe; an idle worker reads the next index, computes fn and writes back
 * the pair (index, value). A worker that finishes early just takes more.
 * Records are far smaller than PIPE_BUF, so each write is atomic: records
 * of different workers never mix. A worker reads one whole index per
 * read(): the pipe only ever holds whole indexes, and Linux hands a read of
 * 8 bytes the 8 bytes of one index. The parent, the only reader of the
 * result pipe, puts each value at out[index]: input order whatever the
 * order of arrival.
 *
 * The parent keeps at most WINDOW tasks outstanding (written, result not
 * yet read), so neither pipe can fill: it never blocks writing a task, and
 * a worker never blocks writing a result. When every task is written the
 * parent closes the task pipe: the workers read end of file and exit, and
 * once all have, the result pipe ends. Ending before every result came
 * means a worker died with its task (ECHILD).
 *
 * SIGPIPE: if every worker has died, writing a task would kill the caller.
 * It is blocked during the call (write then fails with EPIPE), a SIGPIPE
 * left pending by that is taken back, and the mask is restored. */
#include "procmap.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { WINDOW = 1024 };    /* tasks outstanding at most: 8 KiB of tasks, 16 KiB of results */

struct result {
    size_t index;
    long value;
};

static int write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* 0 with all len bytes, EOF (-1) at a clean end of the pipe, ECHILD at an
 * end in the middle, or the errno of read. */
static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0)
            return got == 0 ? -1 : ECHILD;
        got += (size_t)r;
    }
    return 0;
}

static _Noreturn void worker_main(long (*fn)(long), const long *in, int tasks, int results,
                                  const sigset_t *caller_mask)
{
    /* fn runs with the caller's mask, not the one pm_map set for itself. */
    sigprocmask(SIG_SETMASK, caller_mask, NULL);
    for (;;) {
        size_t i;
        ssize_t r = read(tasks, &i, sizeof i);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            _exit(0);               /* no more tasks */
        if (r != (ssize_t)sizeof i)
            _exit(2);
        struct result res = { i, fn(in[i]) };
        if (write_full(results, &res, sizeof res) != 0)
            _exit(1);
    }
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Hands out tasks and collects results until all n have come. */
static int run_tasks(int *tasks_w, int results_r, long *out, size_t n)
{
    size_t sent = 0, received = 0;
    while (received < n) {
        while (sent < n && sent - received < WINDOW) {
            int err = write_full(*tasks_w, &sent, sizeof sent);
            if (err != 0)
                return err == EPIPE ? ECHILD : err;    /* no worker left to read */
            sent++;
        }
        if (sent == n)
            close_fd(tasks_w);      /* the workers stop once the tasks run out */
        struct result res;
        int err = read_full(results_r, &res, sizeof res);
        if (err != 0)
            return err == -1 ? ECHILD : err;
        if (res.index >= n)
            return EPROTO;
        out[res.index] = res.value;
        received++;
    }
    return 0;
}

int pm_map(long (*fn)(long), const long *in, long *out, size_t n, int nworkers)
{
    if (!fn || nworkers < 1 || (n > 0 && (!in || !out)))
        return EINVAL;
    if (n == 0)
        return 0;
    size_t nw = (size_t)nworkers < n ? (size_t)nworkers : n;
    pid_t *pids = calloc(nw, sizeof *pids);
    if (!pids)
        return ENOMEM;

    sigset_t pipe_only, old_mask, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_only, &old_mask);

    int tp[2] = { -1, -1 }, rp[2] = { -1, -1 };
    size_t started = 0;
    int err = 0;
    if (pipe(tp) != 0 || pipe(rp) != 0) {
        err = errno;
        goto out;
    }
    for (; started < nw; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            close(tp[1]);
            close(rp[0]);
            worker_main(fn, in, tp[0], rp[1], &old_mask);
        }
        pids[started] = pid;
    }
    close_fd(&tp[0]);
    close_fd(&rp[1]);
    if (err == 0)
        err = run_tasks(&tp[1], rp[0], out, n);

out:
    close_fd(&tp[0]);
    close_fd(&tp[1]);
    close_fd(&rp[0]);
    close_fd(&rp[1]);
    for (size_t k = 0; k < started; k++) {
        if (err != 0)
            kill(pids[k], SIGKILL);
        int status = 0;
        while (waitpid(pids[k], &status, 0) < 0)
            if (errno != EINTR)
                break;
        if (err == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            err = ECHILD;
    }
    free(pids);
    if (!was_pending) {
        struct timespec now = { 0, 0 };
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE))
            sigtimedwait(&pipe_only, NULL, &now);
    }
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    return err;
}
