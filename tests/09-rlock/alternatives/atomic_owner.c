/* Alternative: CPython's design, a plain mutex held while the lock is held, an atomic owner, and a count only the owner touches */
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* The owner is read without any lock ("is it me?"), so it is atomic: a
 * plain field would be a data race. The answer is reliable: only a thread
 * itself ever stores its own id, so reading "me" means I stored it and have
 * not cleared it yet. The count is touched only by the owner, while it holds
 * `block`, so the mutex orders it between successive owners. */
struct rlock {
    pthread_mutex_t block;      /* locked from the first acquire to the last release */
    atomic_uintptr_t owner;     /* the owner's id, 0 when free */
    unsigned long count;        /* guarded by block; acquires not yet released */
};

/* A thread's id: the address of one of its thread-local variables, never 0
 * and different for every running thread. */
static uintptr_t my_id(void)
{
    static _Thread_local char me;
    return (uintptr_t)&me;
}

rlock_t *rlock_create(void)
{
    rlock_t *l = malloc(sizeof *l);
    if (!l)
        return NULL;
    if (pthread_mutex_init(&l->block, NULL) != 0) {
        free(l);
        return NULL;
    }
    atomic_init(&l->owner, 0);
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
    uintptr_t me = my_id();
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) == me) {
        l->count++;     /* we hold block */
        return 0;
    }
    if (pthread_mutex_lock(&l->block) != 0)
        abort();
    atomic_store_explicit(&l->owner, me, memory_order_relaxed);
    l->count = 1;
    return 0;
}

int rlock_release(rlock_t *l)
{
    if (atomic_load_explicit(&l->owner, memory_order_relaxed) != my_id())
        return EPERM;   /* free, or held by another thread */
    if (--l->count == 0) {
        atomic_store_explicit(&l->owner, 0, memory_order_relaxed);
        if (pthread_mutex_unlock(&l->block) != 0)
            abort();
    }
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
