/* Alternative: a PTHREAD_MUTEX_RECURSIVE mutex, which keeps the owner and the count itself */
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

/* A recursive mutex is exactly an RLock: the owner may lock it again, it is
 * unlocked after as many unlocks as locks, and unlocking it from a thread that
 * does not hold it (or unlocking it while free) fails with EPERM, changing
 * nothing (POSIX requires that check for this type). */
struct rlock {
    pthread_mutex_t mutex;  /* PTHREAD_MUTEX_RECURSIVE */
};

rlock_t *rlock_create(void)
{
    rlock_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    pthread_mutexattr_t attr;
    if (pthread_mutexattr_init(&attr) != 0) {
        free(l);
        return NULL;
    }
    int err = pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    if (err == 0)
        err = pthread_mutex_init(&l->mutex, &attr);
    pthread_mutexattr_destroy(&attr);
    if (err != 0) {
        free(l);
        return NULL;
    }
    return l;
}

void rlock_destroy(rlock_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

int rlock_acquire(rlock_t *l)
{
    /* Fails only with EAGAIN when the count would overflow (beyond any
     * recursion depth a stack allows) or on a corrupt mutex. */
    if (pthread_mutex_lock(&l->mutex) != 0)
        abort();
    return 0;
}

int rlock_release(rlock_t *l)
{
    int err = pthread_mutex_unlock(&l->mutex);
    if (err != 0 && err != EPERM)
        abort();
    return err;
}

long tree_sum(rlock_t *l, const struct tree *t)
{
    if (rlock_acquire(l) != 0)
        abort();
    /* From here to the release the tree cannot change: the outermost call
     * holds the lock for the whole walk, the inner calls only re-enter it. */
    long sum = 0;
    if (t)
        sum = t->value + tree_sum(l, t->left) + tree_sum(l, t->right);
    if (rlock_release(l) != 0)
        abort();
    return sum;
}

void tree_add(rlock_t *l, struct tree *t, long delta)
{
    if (rlock_acquire(l) != 0)
        abort();
    if (t) {
        t->value += delta;
        tree_add(l, t->left, delta);
        tree_add(l, t->right, delta);
    }
    if (rlock_release(l) != 0)
        abort();
}
