/* Mutant: a worker ends with exit(0) instead of _exit(0)
 * Expect: unit
 * exit() runs the atexit handlers and flushes the stdio buffers that the
 * worker inherited from the caller: output the caller had not yet flushed
 * is written once by the caller and once more by every worker. */
#include "procmap.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Results moved per write in a worker and per read in the parent. */
enum { BATCH = 1024 };

struct worker {
    pid_t pid;          /* 0 until forked */
    int fd;             /* read end of its result pipe; -1 once closed */
    size_t lo, hi;      /* its chunk: in[lo, hi) */
};

/* Writes all len bytes; 0, or the errno of the failed write. */
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

/* Reads exactly len bytes; 0, ECHILD if the pipe ends first (its writer
 * died), or the errno of the failed read. */
static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len > 0) {
        ssize_t r = read(fd, p, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0)
            return ECHILD;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* The worker process: computes its chunk and sends the results, in order,
 * through fd. Never returns. */
static _Noreturn void worker_main(long (*fn)(long), const long *in, size_t lo, size_t hi,
                                  int fd)
{
    long buf[BATCH];
    while (lo < hi) {
        size_t k = 0;
        while (k < BATCH && lo < hi)
            buf[k++] = fn(in[lo++]);
        if (write_full(fd, buf, k * sizeof *buf) != 0)
            _exit(1);
    }
    exit(0);
}

/* Reads worker w's results into out[w->lo, w->hi). A batch is copied into
 * out only once whole, so a pipe that ends half way through a value leaves
 * that value as it was. */
static int collect(const struct worker *w, long *out)
{
    long buf[BATCH];
    for (size_t i = w->lo; i < w->hi;) {
        size_t k = w->hi - i < BATCH ? w->hi - i : BATCH;
        int err = read_full(w->fd, buf, k * sizeof *buf);
        if (err != 0)
            return err;
        memcpy(out + i, buf, k * sizeof *buf);
        i += k;
    }
    return 0;
}

/* Waits for pid; EINTR is not an end. 0, or ECHILD if it did not exit with
 * status 0. */
static int reap(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return errno;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : ECHILD;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

int pm_map(long (*fn)(long), const long *in, long *out, size_t n, int nworkers)
{
    if (!fn || nworkers < 1 || (n > 0 && (!in || !out)))
        return EINVAL;
    if (n == 0)
        return 0;
    size_t nw = (size_t)nworkers < n ? (size_t)nworkers : n;
    struct worker *ws = calloc(nw, sizeof *ws);
    if (!ws)
        return ENOMEM;
    for (size_t k = 0; k < nw; k++)
        ws[k].fd = -1;

    /* Chunk k is [k*q + min(k, r), (k+1)*q + min(k+1, r)): the first r
     * chunks get one item more. */
    size_t q = n / nw, r = n % nw, started = 0;
    int err = 0;
    for (; started < nw; started++) {
        struct worker *w = &ws[started];
        w->lo = started * q + (started < r ? started : r);
        w->hi = w->lo + q + (started < r ? 1 : 0);
        int fds[2];
        if (pipe(fds) != 0) {
            err = errno;
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            close(fds[0]);
            close(fds[1]);
            break;
        }
        if (pid == 0) {
            /* The read ends of the earlier workers' pipes came with the
             * copy: they are the parent's business, not this worker's. */
            close(fds[0]);
            for (size_t j = 0; j < started; j++)
                close(ws[j].fd);
            worker_main(fn, in, w->lo, w->hi, fds[1]);
        }
        /* The worker holds the only write end now: when it ends, for
         * whatever reason, reads of this pipe see end of file. */
        close(fds[1]);
        w->pid = pid;
        w->fd = fds[0];
    }

    /* Every result before any wait: a worker blocked on a full pipe ends
     * only once the parent has read it. */
    for (size_t k = 0; err == 0 && k < started; k++)
        err = collect(&ws[k], out);

    for (size_t k = 0; k < started; k++) {
        close_fd(&ws[k].fd);
        if (err != 0)
            kill(ws[k].pid, SIGKILL);   /* not yet waited for: still ours */
    }
    for (size_t k = 0; k < started; k++) {
        int e = reap(ws[k].pid);
        if (err == 0)
            err = e;
    }
    free(ws);
    return err;
}
