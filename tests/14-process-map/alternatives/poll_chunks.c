/* procmap.c - Pool.map with chunks, results read with poll() as they come.
 *
 * Static hand-out, one result pipe per worker, as in the reference; but the
 * parent does not read the pipes one after the other: it poll()s them all
 * and reads whichever has data, so no worker ever waits on a full pipe.
 * Each worker has a cursor into its own chunk of out, so a value lands at
 * its item's index whatever the order of arrival. Values are staged per
 * worker and copied into out only once whole. A pipe that ends before its
 * chunk is complete means its worker died: the others are killed. */
#include "procmap.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct worker {
    pid_t pid;
    size_t lo, hi;          /* its chunk */
    size_t next;            /* the next out index it will fill */
    size_t staged;          /* bytes of the value being read */
    long value;             /* ...that value, in pieces */
};

static _Noreturn void worker_main(long (*fn)(long), const long *in, size_t lo, size_t hi,
                                  int fd)
{
    enum { B = 512 };
    long buf[B];
    while (lo < hi) {
        size_t k = 0;
        while (k < B && lo < hi)
            buf[k++] = fn(in[lo++]);
        const char *p = (const char *)buf;
        size_t len = k * sizeof *buf;
        while (len > 0) {
            ssize_t w = write(fd, p, len);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                _exit(1);
            p += w;
            len -= (size_t)w;
        }
    }
    _exit(0);
}

/* One read from w's pipe; 0, ECHILD when it ended too early, or an errno.
 * *done is set when the chunk is complete. */
static int take(struct worker *w, int fd, long *out, int *done)
{
    char buf[4096];
    size_t room = (w->hi - w->next) * sizeof(long) - w->staged;
    ssize_t r = read(fd, buf, room < sizeof buf ? room : sizeof buf);
    if (r < 0)
        return errno == EINTR ? 0 : errno;
    if (r == 0)
        return ECHILD;
    for (ssize_t i = 0; i < r; i++) {
        ((char *)&w->value)[w->staged++] = buf[i];
        if (w->staged == sizeof(long)) {
            out[w->next++] = w->value;
            w->staged = 0;
        }
    }
    *done = w->next == w->hi;
    return 0;
}

int pm_map(long (*fn)(long), const long *in, long *out, size_t n, int nworkers)
{
    if (!fn || nworkers < 1 || (n > 0 && (!in || !out)))
        return EINVAL;
    if (n == 0)
        return 0;
    size_t nw = (size_t)nworkers < n ? (size_t)nworkers : n;
    struct worker *ws = calloc(nw, sizeof *ws);
    struct pollfd *pf = calloc(nw, sizeof *pf);
    int err = 0;
    size_t started = 0;
    if (!ws || !pf) {
        err = ENOMEM;
        goto out;
    }
    for (size_t k = 0; k < nw; k++)
        pf[k].fd = -1;
    for (; started < nw; started++) {
        struct worker *w = &ws[started];
        w->lo = n * started / nw;
        w->hi = n * (started + 1) / nw;
        w->next = w->lo;
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
            close(fds[0]);
            for (size_t j = 0; j < started; j++)
                close(pf[j].fd);
            worker_main(fn, in, w->lo, w->hi, fds[1]);
        }
        close(fds[1]);
        w->pid = pid;
        pf[started].fd = fds[0];
        pf[started].events = POLLIN;
    }

    size_t open = 0;
    for (size_t k = 0; k < started; k++) {
        if (ws[k].lo == ws[k].hi) {
            close(pf[k].fd);
            pf[k].fd = -1;      /* poll skips negative descriptors */
        } else {
            open++;
        }
    }
    while (err == 0 && open > 0) {
        if (poll(pf, started, -1) < 0) {
            if (errno != EINTR)
                err = errno;
            continue;
        }
        for (size_t k = 0; k < started && err == 0; k++) {
            if (pf[k].fd < 0 || pf[k].revents == 0)
                continue;
            int done = 0;
            err = take(&ws[k], pf[k].fd, out, &done);
            if (done) {
                close(pf[k].fd);
                pf[k].fd = -1;
                open--;
            }
        }
    }

out:
    for (size_t k = 0; k < started; k++) {
        if (pf[k].fd >= 0)
            close(pf[k].fd);
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
    free(ws);
    free(pf);
    return err;
}
