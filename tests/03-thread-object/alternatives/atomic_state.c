/* Alternative: the state is a C11 atomic (compare-and-swap in start, plain loads in is_alive), joiners take turns on a mutex */
#include "thread_object.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tobj_state { TOBJ_NEW, TOBJ_RUNNING, TOBJ_FINISHED };

struct tobj_private {
    atomic_int state;           /* enum tobj_state; only moves forward */
    pthread_mutex_t join_lock;  /* guards tid and joined */
    pthread_t tid;
    bool joined;
    char *name;                 /* never changed after tobj_init */
};

/* The object whose run() this thread is running; NULL in other threads. */
static _Thread_local struct tobj *current;

/* Default names: "Thread-1", "Thread-2", ... */
static atomic_ulong next_name_number = 1;

int tobj_init(struct tobj *t, void (*run)(struct tobj *self), const char *name)
{
    if (!t || !run)
        return EINVAL;
    struct tobj_private *p = calloc(1, sizeof *p);
    if (!p)
        return ENOMEM;
    char buf[32];
    if (!name) {
        snprintf(buf, sizeof buf, "Thread-%lu", atomic_fetch_add(&next_name_number, 1));
        name = buf;
    }
    int err = ENOMEM;
    if (!(p->name = strdup(name)) || (err = pthread_mutex_init(&p->join_lock, NULL)) != 0) {
        free(p->name);
        free(p);
        return err;
    }
    atomic_init(&p->state, TOBJ_NEW);
    p->joined = false;
    t->run = run;
    t->priv = p;
    return 0;
}

void tobj_destroy(struct tobj *t)
{
    if (!t || !t->priv)
        return;
    struct tobj_private *p = t->priv;
    if (atomic_load(&p->state) != TOBJ_NEW && tobj_join(t) != 0)
        abort();
    pthread_mutex_destroy(&p->join_lock);
    free(p->name);
    free(p);
    t->priv = NULL;
}

static void *tobj_main(void *arg)
{
    struct tobj *t = arg;
    current = t;
    t->run(t);
    atomic_store(&t->priv->state, TOBJ_FINISHED);
    return NULL;
}

int tobj_start(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    int expected = TOBJ_NEW;
    /* A joiner that sees RUNNING waits for join_lock, so for tid. */
    if (pthread_mutex_lock(&p->join_lock) != 0)
        abort();
    /* RUNNING before the thread exists, so the thread's FINISHED comes after. */
    if (!atomic_compare_exchange_strong(&p->state, &expected, TOBJ_RUNNING)) {
        if (pthread_mutex_unlock(&p->join_lock) != 0)
            abort();
        return EBUSY;
    }
    int err = pthread_create(&p->tid, NULL, tobj_main, t);
    if (err != 0)
        atomic_store(&p->state, TOBJ_NEW);
    if (pthread_mutex_unlock(&p->join_lock) != 0)
        abort();
    return err;
}

int tobj_join(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    if (current == t)
        return EDEADLK;
    if (atomic_load(&p->state) == TOBJ_NEW)
        return EINVAL;
    if (pthread_mutex_lock(&p->join_lock) != 0)
        abort();
    if (!p->joined) {
        if (pthread_join(p->tid, NULL) != 0)
            abort();
        p->joined = true;
    }
    if (pthread_mutex_unlock(&p->join_lock) != 0)
        abort();
    return 0;
}

bool tobj_is_alive(struct tobj *t)
{
    return atomic_load(&t->priv->state) == TOBJ_RUNNING;
}

const char *tobj_name(const struct tobj *t)
{
    return t->priv->name;
}
