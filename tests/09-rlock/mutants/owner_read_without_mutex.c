/* Mutant: acquire and release read the owner and the count without holding any lock
 * Expect: race
 * The lock is a plain mutex plus an owner and a count, as in Python's own
 * pure-Python RLock: "am I the owner?" is asked before taking anything. Under
 * Python's GIL that is safe; in C it reads fields that other threads write at
 * the same time, a data race (it seems to work on x86, and the compiler may
 * still break it).
 */
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

struct rlock {
    pthread_mutex_t block;  /* held by the owner while count > 0 */
    pthread_t owner;        /* written by the owner while it holds block */
    unsigned long count;    /* written by the owner while it holds block */
};

rlock_t *rlock_create(void)
{
    rlock_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    if (pthread_mutex_init(&l->block, NULL) != 0) {
        free(l);
        return NULL;
    }
    l->count = 0;
    return l;
}

void rlock_destroy(rlock_t *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->block);
    free(l);
}

int rlock_acquire(rlock_t *l)
{
    pthread_t me = pthread_self();
    if (l->count > 0 && pthread_equal(l->owner, me)) {
        l->count++;     /* only the owner gets here */
        return 0;
    }
    if (pthread_mutex_lock(&l->block) != 0)
        abort();
    l->owner = me;
    l->count = 1;
    return 0;
}

int rlock_release(rlock_t *l)
{
    if (l->count == 0 || !pthread_equal(l->owner, pthread_self()))
        return EPERM;
    if (--l->count == 0)
        if (pthread_mutex_unlock(&l->block) != 0)
            abort();
    return 0;
}

long tree_sum(rlock_t *l, const struct tree *t)
{
    if (rlock_acquire(l) != 0)
        abort();
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
