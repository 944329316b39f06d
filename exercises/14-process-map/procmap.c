/* procmap.c - Pool.map over worker processes, results through pipes.
 *
 * This first version has the shape of a pool: it cuts the items into one
 * chunk per worker (the chunks differ in size by at most one item), forks
 * one worker per chunk, and waits for them all. But it is the Python reflex
 * translated word for word, and the results never reach the caller: each
 * worker stores them in its own copy of out. Do the six TODOs: run
 * `make grade EX=14` to see what fails, then read README.md. */
#include "procmap.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int pm_map(long (*fn)(long), const long *in, long *out, size_t n, int nworkers)
{
    /* TODO 1: check the arguments first (see procmap.h): EINVAL, with
     * nothing forked. With no item there is nothing to do. */
    if (n == 0)
        return 0;
    size_t nw = (size_t)nworkers < n ? (size_t)nworkers : n;
    pid_t *pids = calloc(nw, sizeof *pids);
    if (!pids)
        return ENOMEM;

    /* Chunk k is [k*q + min(k, r), (k+1)*q + min(k+1, r)): the first r
     * chunks get one item more. */
    size_t q = n / nw, r = n % nw, started = 0;
    int err = 0;
    for (; started < nw; started++) {
        size_t lo = started * q + (started < r ? started : r);
        size_t hi = lo + q + (started < r ? 1 : 0);
        /* TODO 2: a pipe per worker, made before the fork so that both
         * processes have it. Afterwards the worker closes the read end (and
         * the read ends of the earlier workers, which it inherited too), and
         * the parent closes the write end: the worker must hold the only
         * one, or its death never shows as an end of file. */
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            /* TODO 3: this stores into the worker's copy of out, which the
             * caller never sees. Send the results through the pipe instead,
             * in order (a batch per write() is faster than one value per
             * write()); write() may write fewer bytes than asked: loop. */
            for (size_t i = lo; i < hi; i++)
                out[i] = fn(in[i]);
            _exit(0);   /* never return: the caller's code is the caller's */
        }
        pids[started] = pid;
    }

    /* TODO 4: before waiting for anyone, read every worker's results into
     * out[lo, hi) of its chunk. read() may return fewer bytes than asked
     * (loop), -1 with EINTR (read again), and 0 at the end of the pipe: if
     * that comes before all the values, the worker died (ECHILD). */

    /* TODO 5: after an error (a failed pipe or fork, a dead worker), the
     * workers still running are of no use: kill them, then wait for them
     * all; close every pipe end still open either way. */
    for (size_t k = 0; k < started; k++) {
        int status;
        /* TODO 6: waitpid fails with EINTR when a signal interrupts it: wait
         * again, do not give up on that worker. A worker that did not end
         * with exit status 0 died: ECHILD. */
        if (waitpid(pids[k], &status, 0) < 0 && err == 0)
            err = errno;
    }
    free(pids);
    return err;
}
