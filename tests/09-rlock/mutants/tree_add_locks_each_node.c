/* Mutant: tree_add holds the lock only while it changes one node, not across its children
 * Expect: unit
 * Every write is locked, but the lock is free between one node and the next:
 * a tree_sum that runs then sees some nodes with the new value and the others
 * with the old one, a state the tree is never in before or after a tree_add.
 */
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct rlock {
    pthread_mutex_t mutex;  /* guards owner and count; held only briefly */
    pthread_cond_t freed;   /* signalled when count drops to 0 */
    pthread_t owner;        /* guarded by mutex; valid only while count > 0 */
    unsigned long count;    /* guarded by mutex; acquires not yet released */
};

/* Locking a valid mutex cannot fail: if it does, stop loudly. */
static void lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0)
        abort();
}

static void unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

/* Caller holds l->mutex. True when the calling thread holds the rlock. */
static int held_by_me(const rlock_t *l)
{
    return l->count > 0 && pthread_equal(l->owner, pthread_self());
}

rlock_t *rlock_create(void)
{
    rlock_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    if (pthread_mutex_init(&l->mutex, NULL) != 0) {
        free(l);
        return NULL;
    }
    if (pthread_cond_init(&l->freed, NULL) != 0) {
        pthread_mutex_destroy(&l->mutex);
        free(l);
        return NULL;
    }
    l->count = 0;   /* free; owner is not read until count > 0 */
    return l;
}

void rlock_destroy(rlock_t *l)
{
    if (!l)
        return;
    pthread_cond_destroy(&l->freed);
    pthread_mutex_destroy(&l->mutex);
    free(l);
}

int rlock_acquire(rlock_t *l)
{
    lock(&l->mutex);
    if (held_by_me(l)) {
        /* Re-entry: we hold it already, so nobody else can; one deeper. */
        l->count++;
    } else {
        /* A while, not an if: a wake-up only says "it was free a moment
         * ago"; another thread may have taken it before we got the mutex
         * back (or the wake-up was spurious). */
        while (l->count > 0)
            if (pthread_cond_wait(&l->freed, &l->mutex) != 0)
                abort();
        l->owner = pthread_self();
        l->count = 1;
    }
    unlock(&l->mutex);
    return 0;
}

int rlock_release(rlock_t *l)
{
    lock(&l->mutex);
    if (!held_by_me(l)) {
        /* Free, or held by another thread: refuse, changing nothing. */
        unlock(&l->mutex);
        return EPERM;
    }
    /* Free only when every acquire is matched; then wake one waiter (each
     * waiter wants the whole lock, so one is enough). Signalling while
     * holding the mutex keeps race detectors quiet; it is not required. */
    if (--l->count == 0)
        if (pthread_cond_signal(&l->freed) != 0)
            abort();
    unlock(&l->mutex);
    return 0;
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
    if (!t)
        return;
    if (rlock_acquire(l) != 0)
        abort();
    t->value += delta;
    if (rlock_release(l) != 0)
        abort();
    tree_add(l, t->left, delta);
    tree_add(l, t->right, delta);
}
