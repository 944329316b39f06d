/* tlock.h - a lock with time-outs, like Python's threading.Lock.
 *
 * Every function is thread-safe: any number of threads may call any of them
 * on the same locks at the same time (except tlock_destroy, which the caller
 * runs once no other thread uses the lock).
 *
 * Time-outs are in milliseconds: timeout_ms < 0 waits as long as it takes,
 * 0 tries once without waiting, > 0 waits at most that long. Errors are
 * returned as errno values (<errno.h>), as pthreads does. */
#ifndef TLOCK_H
#define TLOCK_H

#include <errno.h>

/* Opaque: tlock.c defines the struct, so it may choose its own mechanism. */
typedef struct tlock tlock_t;

/* A new lock, not held; NULL if memory or resources run out. */
tlock_t *tlock_create(void);

/* Frees the lock. No other thread may be using it. */
void tlock_destroy(tlock_t *l);

/* Like Python's Lock.acquire(timeout=...): 0 when acquired, ETIMEDOUT when not. */
int tlock_acquire(tlock_t *l, long timeout_ms);

/* Any thread may release a held lock, as in Python; EPERM if it is not held. */
int tlock_release(tlock_t *l);

/* Acquires both locks or neither, waiting at most timeout_ms in all: 0 holding
 * both, ETIMEDOUT holding neither, EINVAL if a == b. Must not deadlock when other
 * threads take the same two locks in the opposite order, whether with
 * tlock_acquire_pair or one at a time with tlock_acquire. */
int tlock_acquire_pair(tlock_t *a, tlock_t *b, long timeout_ms);

#endif /* TLOCK_H */
