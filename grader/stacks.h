/* stacks.h - where each thread was when a test had to be stopped.
 *
 * A test that runs out of time is usually a deadlock or a lost wake-up, and
 * the student needs to see where the threads were waiting. Just before the
 * test process is killed, gdb (in batch mode) prints every thread's stack;
 * each thread that was in the student's file becomes one line:
 *     thread 3: blocked in pthread_mutex_lock at bank.c:23 (lock, called from line 85)
 * gdb runs as the test's own user, never as root (the student's code made
 * what it reads). Without gdb, or where it may not attach, the kernel's wait
 * channel of each thread (/proc) still tells waiting from running. */
#ifndef KIT_STACKS_H
#define KIT_STACKS_H

#include <sys/types.h>

/* The threads of the test program `binary` running under `pid` (the process
 * started for the test: the program itself, or the sandbox around it),
 * described for the student; `file`: the student file's name, `display`: how
 * to show it. NULL if the program cannot be found. */
char *stacks_describe(pid_t pid, const char *binary, const char *file, const char *display);

/* The same from gdb's "thread apply all bt" output (for tests). */
char *stacks_from_gdb(const char *gdb_output, const char *file, const char *display);

#endif /* KIT_STACKS_H */
