/* procmap.h - multiprocessing.Pool(nworkers).map(fn, items) for longs.
 *
 * The C version of the notes' process pool: fn runs in worker processes
 * forked for the call, and because processes share no memory, every result
 * travels back to the caller through a pipe. The caller gets the results in
 * input order, as Pool.map gives them, and learns when a worker died instead
 * of waiting for ever. Errors are returned as errno values. */
#ifndef PROCMAP_H
#define PROCMAP_H

#include <stddef.h>

/* Pool(nworkers).map(fn, in): stores fn(in[i]) in out[i] for every i in
 * [0, n), calling fn once per item in at most nworkers worker processes that
 * it forks (never in the calling process), and returns 0 once every result is
 * in out and every worker has ended.
 *
 * Returns:
 *   0       every out[i] == fn(in[i]);
 *   EINVAL  fn is NULL, nworkers < 1, or in or out is NULL while n > 0
 *           (both may be NULL when n == 0); nothing is forked then;
 *   ECHILD  a worker died before all its results came back: fn crashed
 *           (a signal such as SIGSEGV or SIGABRT killed the worker) or ended
 *           the worker (exit, _exit) part way through;
 *   the errno of pipe() or fork() when one of them fails (EMFILE, EAGAIN...).
 *
 * However it returns:
 *   - no worker is left running or unwaited for (no zombie): pm_map waits for
 *     every process it forked; after an error it may kill them first;
 *   - every file descriptor it opened is closed, and the caller's signal
 *     dispositions and signal mask are as they were;
 *   - each out[i] holds fn(in[i]) or the value it had before the call, never
 *     anything else (after an error, which items got their result is
 *     unspecified);
 *   - a worker never returns into the caller's code: it ends with _exit().
 *
 * With n == 0 it returns 0 without calling fn (forking workers is allowed
 * but not needed). nworkers may exceed n: at most n workers have work then.
 * pm_map keeps no state between calls. */
int pm_map(long (*fn)(long), const long *in, long *out, size_t n, int nworkers);

#endif /* PROCMAP_H */
