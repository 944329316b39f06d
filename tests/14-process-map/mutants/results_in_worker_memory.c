/* Mutant: each worker stores its results straight into out
 * Expect: unit
 * The Python reflex (results.append in the child): after fork the worker has
 * its own copy of the caller's memory, out included. It fills its copy and
 * exits; the caller's out never changes, and pm_map returns 0. */
#include "procmap.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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
    size_t q = n / nw, r = n % nw, started = 0;
    int err = 0;
    for (; started < nw; started++) {
        size_t lo = started * q + (started < r ? started : r);
        size_t hi = lo + q + (started < r ? 1 : 0);
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            for (size_t i = lo; i < hi; i++)
                out[i] = fn(in[i]);
            _exit(0);
        }
        pids[started] = pid;
    }
    for (size_t k = 0; k < started; k++) {
        int status;
        while (waitpid(pids[k], &status, 0) < 0)
            if (errno != EINTR)
                return errno;
        if (err == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            err = ECHILD;
    }
    free(pids);
    return err;
}
