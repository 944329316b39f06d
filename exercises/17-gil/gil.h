/* gil.h - a global interpreter lock with forced switching, as in Python 3.2
 * (David Beazley, "Understanding the Python GIL", 2010).
 *
 * One thread at a time holds the GIL and runs; it calls gil_check at every
 * "tick" (every few thousand instructions of its work). A thread that wants
 * the GIL waits for it at most one switch interval at a time: when such a wait
 * ends with the GIL still held and no switch having happened meanwhile, the
 * waiter sets a drop request. The holder sees the request at its next tick,
 * drops the GIL, and waits until another thread has taken it before it waits
 * to take it back (forced switching: it cannot take it straight back).
 *
 * The type is opaque: gil.c defines struct gil, so you choose how it works.
 * Every function here is thread-safe. Times are in milliseconds. Errors are
 * returned as errno values, and outputs go through pointers. */
#ifndef GIL_H
#define GIL_H

#include <stdbool.h>

typedef struct gil gil_t;

/* Python's default switch interval (sys.getswitchinterval() == 0.005). */
#define GIL_DEFAULT_INTERVAL_MS 5L
/* The longest switch interval accepted: one hour. */
#define GIL_MAX_INTERVAL_MS 3600000L

/* A new GIL, held by nobody, with a switch interval of interval_ms. NULL with
 * errno on failure: EINVAL if interval_ms is not in 1..GIL_MAX_INTERVAL_MS,
 * ENOMEM, or what initialising a mutex or condition variable failed with. */
gil_t *gil_create(long interval_ms);

/* Frees g. No thread may hold it, wait for it or use it any more. */
void gil_destroy(gil_t *g);

/* Sets the switch interval, like sys.setswitchinterval(): waits that start
 * from now on use it. 0, or EINVAL (changing nothing) if interval_ms is not in
 * 1..GIL_MAX_INTERVAL_MS. */
int gil_set_interval(gil_t *g, long interval_ms);

/* The switch interval now (ms). */
long gil_interval(gil_t *g);

/* Takes the GIL for the calling thread, waiting as long as it takes. While it
 * waits, it waits at most one switch interval at a time: if a wait runs out,
 * the GIL is still held and no switch happened since that wait began, it sets
 * the drop request, then waits again. Taking the GIL clears the drop request
 * (it was meant for the previous holder). 0 once the caller holds the GIL;
 * EDEADLK at once, changing nothing, if the caller holds it already. */
int gil_acquire(gil_t *g);

/* Gives the GIL up and wakes a thread waiting for it, if any. 0, or EPERM
 * (changing nothing) if the calling thread does not hold it. */
int gil_release(gil_t *g);

/* The holder's tick. Without a drop request it returns at once with
 * *switched = false: a thread alone never waits and never switches. With a
 * drop request, it drops the GIL (clearing the request and waking a
 * waiter), waits until another thread has taken the GIL, then waits to take
 * it back like gil_acquire; *switched = true. `switched` may be NULL.
 * 0, or EPERM (changing nothing) if the calling thread does not hold the GIL. */
int gil_check(gil_t *g, bool *switched);

/* What has happened so far, read at one instant. */
struct gil_stats {
    /* Times the GIL passed from one thread to another: it was taken by a
     * thread other than the one that held it last. The first time a new GIL
     * is taken is not a switch; a thread taking it back with no other holder
     * in between is not one either. */
    unsigned long switches;
    /* Times a waiter set the drop request: its wait of one interval ran out
     * with the GIL held and no switch since that wait began. */
    unsigned long drop_requests;
    /* Threads blocked right now until the GIL is free (in gil_acquire, or in
     * gil_check after dropping it). */
    int waiting;
};

/* Stores the counts in *out. 0, or EINVAL if out is NULL. */
int gil_get_stats(gil_t *g, struct gil_stats *out);

#endif /* GIL_H */
