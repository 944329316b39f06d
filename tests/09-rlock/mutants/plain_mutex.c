/* Mutant: the re-entrant lock is a plain mutex (the stub as handed out)
 * Expect: unit
 * A plain mutex is not re-entrant: the holder's second acquire, which tree_sum
 * makes for every child, waits for the holder itself, forever. It also knows no
 * owner, so a release by another thread, or of a free lock, is not refused.
 */
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct rlock {
    pthread_mutex_t mutex;  /* held while the lock is held */
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
    if (pthread_mutex_lock(&l->mutex) != 0)
        abort();
    return 0;
}

int rlock_release(rlock_t *l)
{
    return pthread_mutex_unlock(&l->mutex);
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
