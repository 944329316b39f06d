/* daemon.h - daemon threads, thread names and the current thread.
 *
 * Python's threading module in small: threads started with a name and a
 * daemon flag, the current thread's name and id, and the wait that Python
 * does when the main thread ends (for the non-daemon threads only). Every
 * function is thread-safe: it may be called from any thread, including the
 * threads that dt_start starts. */
#ifndef DAEMON_H
#define DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The longest thread name, in characters: the kernel keeps 16 bytes. */
#define DT_NAME_MAX 15

/* Starts a thread running fn(arg): Python's
 *     threading.Thread(target=fn, args=(arg,), name=name, daemon=daemon).start()
 * The name (at most DT_NAME_MAX characters) is copied; NULL means "Thread-N",
 * with N = 1 for the first thread this process starts with a NULL name, 2 for
 * the next, and so on. The thread bears its name from the start: fn already
 * sees it in dt_current_name and pthread_getname_np (and ps, top -H and gdb
 * show it). A daemon thread is detached and nobody waits for it; a non-daemon
 * thread is waited for by dt_shutdown.
 * Returns 0; EINVAL if fn is NULL; ERANGE if name is longer than DT_NAME_MAX;
 * or pthread_create's error (EAGAIN). Nothing is started when it fails. */
int dt_start(const char *name, bool daemon, void (*fn)(void *arg), void *arg);

/* What Python does when the main thread ends: waits until every non-daemon
 * thread started with dt_start has returned from its function, including
 * threads started while it waits, and returns 0 without waiting for the
 * daemon threads, which go on running (until the process exits). Must not be
 * called from a non-daemon thread (it would wait for itself). */
int dt_shutdown(void);

/* The number of threads started with dt_start, daemon or not, whose function
 * has not returned yet. */
int dt_active_count(void);

/* Copies the calling thread's name into buf: the name dt_start gave it, or
 * the name the system has for a thread dt_start did not start. Returns 0, or
 * ERANGE if size < DT_NAME_MAX + 1. */
int dt_current_name(char *buf, size_t size);

/* The kernel's id of the calling thread, as Python's
 * threading.get_native_id(): unique among the threads alive in the system,
 * equal to getpid() in the main thread, what ps -L, top -H and
 * /proc/PID/task/ show. */
pid_t dt_current_id(void);

#endif /* DAEMON_H */
