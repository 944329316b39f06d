/* rlock.c - a re-entrant lock, and two recursive functions that use it.
 *
 * This version builds the "re-entrant" lock on a plain mutex, which is not
 * re-entrant: tree_sum of a single node already waits for itself forever.
 * Read README.md, then fix the places marked BUG. tree_sum and tree_add are
 * right as they are: they only need a lock that really is re-entrant. */
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct rlock {
    pthread_mutex_t mutex;  /* BUG: on its own, a mutex knows no owner and no count */
};

rlock_t *rlock_create(void)
{
    rlock_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    if (pthread_mutex_init(&l->mutex, NULL) != 0) {
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
    /* BUG: if the calling thread already holds the lock, this waits for the
     * lock to be released: by the calling thread itself, which is waiting
     * here. It waits forever. The holder must get in again at once. */
    if (pthread_mutex_lock(&l->mutex) != 0)
        abort();
    return 0;
}

int rlock_release(rlock_t *l)
{
    /* BUG: one release frees the lock however many times it was acquired,
     * and nothing checks that the caller holds it (EPERM): unlocking a
     * plain mutex that another thread holds, or that nobody holds, is
     * undefined behaviour. */
    return pthread_mutex_unlock(&l->mutex);
}

/* The two users of the lock: right as they are (see the file comment). */

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
