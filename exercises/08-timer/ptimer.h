/* ptimer.h - a one-shot timer, like Python's threading.Timer(interval, fn).
 *
 *     static void ring(void *arg) { puts(arg); }
 *
 *     ptimer_t *t = ptimer_create(500, ring, "ding");  // Timer(0.5, ring, ["ding"])
 *     ptimer_start(t);           // in 500 ms the timer's thread calls ring("ding")
 *     ...
 *     if (ptimer_cancel(t) == 0) // t.cancel()
 *         puts("cancelled in time: ring will never be called");
 *     ptimer_join(t, -1);
 *     ptimer_destroy(t);
 *
 * The type is opaque: ptimer.c defines struct ptimer, so you choose how it
 * works. Every function is thread-safe. Intervals and time-outs are in
 * milliseconds: timeout_ms < 0 waits as long as it takes, 0 checks once
 * without waiting, > 0 waits at most that long. Errors are returned as errno
 * values. */
#ifndef PTIMER_H
#define PTIMER_H

typedef struct ptimer ptimer_t;

/* Timer(interval, fn, [arg]): a timer that, once started, calls fn(arg)
 * once, in a thread of its own, interval_ms after ptimer_start, unless it is
 * cancelled first. NULL with errno EINVAL if interval_ms < 0 or fn is NULL,
 * or ENOMEM. */
ptimer_t *ptimer_create(long interval_ms, void (*fn)(void *arg), void *arg);

/* Timer.start(): starts the timer's thread and returns without waiting. fn
 * is called no earlier than interval_ms after this call (on CLOCK_MONOTONIC),
 * and as soon as possible after that. 0; EBUSY if the timer was started
 * before; pthread_create's error if the thread cannot be created (the timer
 * stays unstarted). A timer cancelled before its start may still be started:
 * fn is never called. */
int ptimer_start(ptimer_t *t);

/* Timer.cancel(): if fn has not been called yet, makes sure it never will be
 * and returns 0 (also when the timer was cancelled already, or is not
 * started); the timer's thread then ends at once, without waiting out the
 * interval. If fn has been called already (it is running, or has returned),
 * changes nothing and returns EALREADY. Never waits for fn to return. */
int ptimer_cancel(ptimer_t *t);

/* Timer.join(timeout): waits until the timer is over: fn has returned, or
 * the timer was cancelled before fn was called. 0 when it is over (at once if
 * it already was; any number of threads may join); ETIMEDOUT if it is not
 * over when the time-out ends; EINVAL if the timer was never started;
 * EDEADLK if called from inside fn, whatever the time-out. */
int ptimer_join(ptimer_t *t, long timeout_ms);

/* Cancels the timer if fn has not been called yet, waits for fn to return if
 * it is running, and frees the timer: once ptimer_destroy returns, fn is not
 * running and will never be called. Never call it from inside fn, nor while
 * other threads still use t. */
void ptimer_destroy(ptimer_t *t);

#endif /* PTIMER_H */
