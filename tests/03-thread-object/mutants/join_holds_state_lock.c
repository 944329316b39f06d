/* Mutant: tobj_join holds the state mutex while in pthread_join
 * Expect: unit
 * The finishing thread needs that mutex to mark the object finished, so it
 * waits for the joiner while the joiner waits for it: joining a running
 * object deadlocks. */
#include "thread_object.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tobj_state { TOBJ_NEW, TOBJ_RUNNING, TOBJ_FINISHED };

struct tobj_private {
    pthread_mutex_t lock;       /* guards state and tid; held only briefly */
    enum tobj_state state;      /* guarded by lock; only moves forward */
    pthread_t tid;              /* guarded by lock; valid once state != NEW */
    pthread_mutex_t join_lock;  /* held by the one thread inside pthread_join */
    bool joined;                /* guarded by join_lock: the thread was reaped */
    char *name;                 /* set by tobj_init, never changed: read without lock */
};

/* The number of the next default name, "Thread-N"; guarded by names_lock.
 * Objects are created from any thread, so the counter is shared. */
static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long next_name_number = 1;

static void lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0)
        abort();    /* a valid mutex cannot fail to lock */
}

static void unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

static char *default_name(void)
{
    lock(&names_lock);
    unsigned long n = next_name_number++;
    unlock(&names_lock);
    char buf[32];
    snprintf(buf, sizeof buf, "Thread-%lu", n);
    return strdup(buf);
}

int tobj_init(struct tobj *t, void (*run)(struct tobj *self), const char *name)
{
    if (!t || !run)
        return EINVAL;
    struct tobj_private *p = calloc(1, sizeof *p);
    if (!p)
        return ENOMEM;
    int err = ENOMEM;
    p->name = name ? strdup(name) : default_name();
    if (!p->name)
        goto fail_name;
    if ((err = pthread_mutex_init(&p->lock, NULL)) != 0)
        goto fail_name;
    if ((err = pthread_mutex_init(&p->join_lock, NULL)) != 0)
        goto fail_join_lock;
    p->state = TOBJ_NEW;
    p->joined = false;
    t->run = run;
    t->priv = p;
    return 0;

fail_join_lock:
    pthread_mutex_destroy(&p->lock);
fail_name:
    free(p->name);
    free(p);
    return err;
}

void tobj_destroy(struct tobj *t)
{
    if (!t || !t->priv)
        return;
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    bool started = p->state != TOBJ_NEW;
    unlock(&p->lock);
    /* Wait for run() and for the thread's last touch of p, and reap it. */
    if (started && tobj_join(t) != 0)
        abort();    /* only a call from t's own thread can fail here */
    pthread_mutex_destroy(&p->join_lock);
    pthread_mutex_destroy(&p->lock);
    free(p->name);
    free(p);
    t->priv = NULL;
}

/* The body of every object's thread: the "method call" t->run(t). */
static void *tobj_main(void *arg)
{
    struct tobj *t = arg;
    t->run(t);
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    p->state = TOBJ_FINISHED;
    unlock(&p->lock);
    return NULL;
}

int tobj_start(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    if (p->state != TOBJ_NEW) {
        unlock(&p->lock);
        return EBUSY;   /* threads can only be started once */
    }
    int err = pthread_create(&p->tid, NULL, tobj_main, t);
    if (err == 0)
        p->state = TOBJ_RUNNING;
    unlock(&p->lock);
    return err;
}

int tobj_join(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    if (p->state == TOBJ_NEW) {
        unlock(&p->lock);
        return EINVAL;
    }
    if (p->state == TOBJ_RUNNING && pthread_equal(p->tid, pthread_self())) {
        unlock(&p->lock);
        return EDEADLK;
    }
    if (!p->joined) {
        if (pthread_join(p->tid, NULL) != 0)
            abort();
        p->joined = true;
    }
    unlock(&p->lock);
    return 0;
}

bool tobj_is_alive(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    bool alive = p->state == TOBJ_RUNNING;
    unlock(&p->lock);
    return alive;
}

const char *tobj_name(const struct tobj *t)
{
    return t->priv->name;
}
