/* subproc.h - run a program and capture what it writes, like Python's
 * subprocess.run(args, capture_output=True, timeout=...).
 *
 * subproc_run starts the program in a process of its own, reads its standard
 * output and its standard error separately while it runs, waits for it to
 * end, and hands back both outputs and its return code. It can stop a program
 * that runs too long. Errors are returned as errno values; every function is
 * thread-safe: several threads may run programs at the same time. */
#ifndef SUBPROC_H
#define SUBPROC_H

#include <stddef.h>

/* What a run gives back. The caller owns out and err: free them with
 * subproc_result_free. */
struct subproc_result {
    /* Python's returncode: the exit status (0..255) when the program
     * exited, -N when signal N killed it (-9 for SIGKILL). */
    int returncode;
    /* Every byte the program wrote to its standard output, in order, NUL
     * bytes included: out_len bytes, then one '\0' that out_len does not
     * count (so text output can be used as a C string). Never NULL after a
     * run, even when the program wrote nothing. */
    char *out;
    size_t out_len;
    /* The same for its standard error, captured apart from the output. */
    char *err;
    size_t err_len;
};

/* Runs the program argv[0] with the arguments argv (NULL-terminated, argv[0]
 * included, as for execvp), and waits for it to end. A name without a '/' is
 * looked for in the folders of PATH, as execvp does.
 *
 * The program starts with exactly three open descriptors: 0 (standard input)
 * reads /dev/null, 1 and 2 are two pipes read by the caller. It gets none of
 * the caller's other descriptors. It runs in a new process group of its own
 * (its pid is the group's id), with the caller's environment.
 *
 * timeout_ms < 0 waits as long as it takes; 0 gives the program no time at
 * all; > 0 lets it run at most timeout_ms milliseconds. When the time is up,
 * the whole process group (the program and every process it started that
 * stayed in its group) is killed with SIGKILL and the program is waited for.
 *
 * Returns:
 *   0          the program ran and ended: *res holds its return code and
 *              everything it wrote;
 *   ETIMEDOUT  the time ran out first: the group was killed, and *res holds
 *              what the program wrote until then, with returncode -9
 *              (SIGKILL); free it as after a success;
 *   EINVAL     argv, argv[0] or res is NULL: nothing was started;
 *   an errno   the program could not be started: the errno of the failed
 *              exec (ENOENT: no such program; EACCES: not executable; ...),
 *              or of a failed pipe, fork or allocation (EMFILE, EAGAIN,
 *              ENOMEM). This is not a return code: a program that exists
 *              and exits with status 127 gives 0 and returncode 127.
 *
 * On every error but ETIMEDOUT, *res (when res is not NULL) is all zero and
 * holds nothing to free. In every case, when subproc_run returns no process
 * it started is left unwaited for (no zombie), and no descriptor it opened is
 * left open. */
int subproc_run(char *const argv[], long timeout_ms, struct subproc_result *res);

/* Frees res->out and res->err and zeroes *res. Harmless on a zeroed result
 * and on NULL. */
void subproc_result_free(struct subproc_result *res);

#endif /* SUBPROC_H */
