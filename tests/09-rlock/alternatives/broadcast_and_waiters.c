/* Alternative: a held flag, a count of waiting threads, and a broadcast only when someone waits */
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

struct rlock {
    pthread_mutex_t mutex;  /* guards every field below */
    pthread_cond_t freed;   /* broadcast when the lock becomes free and someone waits */
    bool held;              /* true from the first acquire to the last release */
    pthread_t owner;        /* meaningful only while held */
    unsigned long depth;    /* while held: acquires not yet released (>= 1) */
    unsigned waiting;       /* threads asleep in rlock_acquire */
};

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

rlock_t *rlock_create(void)
{
    rlock_t *l = calloc(1, sizeof *l);
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
    return l;   /* calloc: not held, nobody waiting */
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
    pthread_t me = pthread_self();
    lock(&l->mutex);
    if (l->held && pthread_equal(l->owner, me)) {
        l->depth++;
    } else {
        l->waiting++;
        while (l->held)     /* every waiter wakes; one wins, the others sleep again */
            if (pthread_cond_wait(&l->freed, &l->mutex) != 0)
                abort();
        l->waiting--;
        l->held = true;
        l->owner = me;
        l->depth = 1;
    }
    unlock(&l->mutex);
    return 0;
}

int rlock_release(rlock_t *l)
{
    int err = 0;
    lock(&l->mutex);
    if (!l->held || !pthread_equal(l->owner, pthread_self())) {
        err = EPERM;
    } else if (--l->depth == 0) {
        l->held = false;
        if (l->waiting > 0 && pthread_cond_broadcast(&l->freed) != 0)
            abort();
    }
    unlock(&l->mutex);
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
