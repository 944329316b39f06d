/* Alternative: the lock keeps only "held"; each thread counts its own holds in a thread-local list */
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* Ownership seen from the other side: instead of the lock remembering its
 * owner, every thread remembers which rlocks it holds and how deep. Only the
 * thread itself reads or writes its list, so that needs no lock at all; the
 * lock's own mutex guards just `held`. */
struct rlock {
    pthread_mutex_t mutex;  /* guards held */
    pthread_cond_t freed;   /* signalled when held becomes false */
    bool held;              /* guarded by mutex */
};

struct hold {
    const rlock_t *lock;
    unsigned long depth;    /* >= 1 */
    struct hold *next;
};

/* The rlocks this thread holds: thread-local, touched by this thread only. */
static _Thread_local struct hold *my_holds;

static struct hold **find_hold(const rlock_t *l)
{
    struct hold **h = &my_holds;
    while (*h && (*h)->lock != l)
        h = &(*h)->next;
    return h;
}

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
    l->held = false;
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
    struct hold **h = find_hold(l);
    if (*h) {
        (*h)->depth++;      /* we hold it: nobody else can */
        return 0;
    }
    struct hold *mine = malloc(sizeof *mine);
    if (!mine)
        abort();            /* the API has no error for this */
    lock(&l->mutex);
    while (l->held)
        if (pthread_cond_wait(&l->freed, &l->mutex) != 0)
            abort();
    l->held = true;
    unlock(&l->mutex);
    *mine = (struct hold){ l, 1, my_holds };
    my_holds = mine;
    return 0;
}

int rlock_release(rlock_t *l)
{
    struct hold **h = find_hold(l);
    if (!*h)
        return EPERM;       /* this thread does not hold l */
    if (--(*h)->depth > 0)
        return 0;
    struct hold *done = *h;
    *h = done->next;
    free(done);
    lock(&l->mutex);
    l->held = false;
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
