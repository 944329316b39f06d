/* procmap.c - Pool.map with the work itself sent through pipes.
 *
 * Static hand-out, but the worker does not take its items from its copy of
 * the caller's memory: like a Python worker receiving pickled tasks, it gets
 * them through a task pipe of its own. The parent forks worker k, writes its
 * chunk of inputs into its task pipe and closes it; the worker reads every
 * input (until end of file) before computing anything, so the parent never
 * waits on a worker that is itself waiting to write results. Then the parent
 * reads each worker's result pipe in turn, into out, and waits for them all.
 *
 * SIGPIPE is ignored during the call (a worker that died before reading its
 * tasks makes the parent's write fail with EPIPE instead of killing it) and
 * restored afterwards; each worker restores it for fn at once. */
#include "procmap.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct worker {
    pid_t pid;
    int results;            /* read end of its result pipe, or -1 */
    size_t lo, hi;
};

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Reads up to len bytes, stopping early only at end of file; the count. */
static ssize_t read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static _Noreturn void worker_main(long (*fn)(long), size_t count, int tasks, int results,
                                  const struct sigaction *caller_pipe)
{
    sigaction(SIGPIPE, caller_pipe, NULL);
    long *items = malloc((count ? count : 1) * sizeof *items);
    if (!items)
        _exit(3);
    ssize_t got = read_all(tasks, items, count * sizeof *items);
    if (got != (ssize_t)(count * sizeof *items))
        _exit(2);
    close(tasks);
    for (size_t i = 0; i < count; i++)
        items[i] = fn(items[i]);
    if (write_all(results, items, count * sizeof *items) != 0)
        _exit(1);
    _exit(0);
}

int pm_map(long (*fn)(long), const long *in, long *out, size_t n, int nworkers)
{
    if (!fn || nworkers < 1 || (n > 0 && (!in || !out)))
        return EINVAL;
    if (n == 0)
        return 0;
    size_t nw = (size_t)nworkers < n ? (size_t)nworkers : n;
    struct worker *ws = calloc(nw, sizeof *ws);
    long *stage = malloc(((n + nw - 1) / nw) * sizeof *stage);
    if (!ws || !stage) {
        free(ws);
        free(stage);
        return ENOMEM;
    }
    struct sigaction ignore = { .sa_handler = SIG_IGN }, caller_pipe;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &caller_pipe);

    size_t started = 0, base = n / nw, extra = n % nw, lo = 0;
    int err = 0;
    for (; started < nw; started++) {
        struct worker *w = &ws[started];
        w->lo = lo;
        w->hi = lo + base + (started < extra);
        lo = w->hi;
        w->results = -1;
        int tp[2], rp[2];
        if (pipe(tp) != 0) {
            err = errno;
            break;
        }
        if (pipe(rp) != 0) {
            err = errno;
            close(tp[0]);
            close(tp[1]);
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            close(tp[0]);
            close(tp[1]);
            close(rp[0]);
            close(rp[1]);
            break;
        }
        if (pid == 0) {
            close(tp[1]);
            close(rp[0]);
            for (size_t j = 0; j < started; j++)
                close(ws[j].results);
            worker_main(fn, w->hi - w->lo, tp[0], rp[1], &caller_pipe);
        }
        close(tp[0]);
        close(rp[1]);
        w->pid = pid;
        w->results = rp[0];
        err = write_all(tp[1], in + w->lo, (w->hi - w->lo) * sizeof *in);
        close(tp[1]);
        if (err != 0) {
            err = err == EPIPE ? ECHILD : err;
            started++;
            break;
        }
    }

    for (size_t k = 0; err == 0 && k < started; k++) {
        size_t len = (ws[k].hi - ws[k].lo) * sizeof *stage;
        ssize_t got = read_all(ws[k].results, stage, len);
        if (got < 0)
            err = errno;
        else if ((size_t)got < len)
            err = ECHILD;
        else
            for (size_t i = ws[k].lo; i < ws[k].hi; i++)
                out[i] = stage[i - ws[k].lo];
    }

    for (size_t k = 0; k < started; k++) {
        close(ws[k].results);
        if (err != 0)
            kill(ws[k].pid, SIGKILL);
    }
    for (size_t k = 0; k < started; k++) {
        int status = 0;
        while (waitpid(ws[k].pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (err == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            err = ECHILD;
    }
    sigaction(SIGPIPE, &caller_pipe, NULL);
    free(stage);
    free(ws);
    return err;
}
