/* forkpids.h - processes: fork, pid and ppid, exit status, waiting.
 *
 * The C version of the notes' os.fork() example: one parent process starts n
 * children; each child reports who it is and who its parent is, and ends with
 * its own exit status; the parent waits for all of them, so that no zombie
 * is left, and collects their pids and exit statuses. */
#ifndef FORKPIDS_H
#define FORKPIDS_H

#include <stdio.h>
#include <sys/types.h>

/* Forks n children (1 <= n <= 64). Before forking, the parent writes
 * "parent <pid>\n" to out. Child i (0-based) writes
 * "child <i> pid <pid> ppid <ppid>\n" to out and ends with exit status i; it
 * never returns to the caller. The parent waits for every child, fills pids[i]
 * and exit_codes[i], and returns 0. Returns -1 with errno EINVAL for bad
 * arguments, or with fork's errno if a fork fails, after waiting for the
 * children already started. Every line appears in out exactly once and whole.
 *
 * Bad arguments: n outside 1..64, or a NULL pointer; nothing is forked then.
 * When a fork fails, the children already started run normally (their lines
 * appear) and are waited for; what pids[] and exit_codes[] then hold is
 * unspecified. <pid> is the writing process's own pid and <ppid> its parent's,
 * in decimal; exit_codes[i] is child i's exit status (0..255), not the raw
 * status word that wait() stores. */
int spawn_and_wait(int n, FILE *out, pid_t pids[], int exit_codes[]);

#endif /* FORKPIDS_H */
