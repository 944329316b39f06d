/* Alternative: joiners wait on a condition variable that the finishing thread broadcasts; destroy reaps the thread */
#include "thread_object.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tobj_state { TOBJ_NEW, TOBJ_RUNNING, TOBJ_FINISHED };

struct tobj_private {
    pthread_mutex_t lock;
    pthread_cond_t finished;    /* broadcast when state becomes FINISHED */
    enum tobj_state state;      /* guarded by lock; only moves forward */
    pthread_t tid;              /* guarded by lock; valid once state != NEW */
    char *name;                 /* never changed after tobj_init */
};

static pthread_mutex_t names_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned long next_name_number = 1;     /* guarded by names_lock */

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

int tobj_init(struct tobj *t, void (*run)(struct tobj *self), const char *name)
{
    if (!t || !run)
        return EINVAL;
    struct tobj_private *p = calloc(1, sizeof *p);
    if (!p)
        return ENOMEM;
    if (name) {
        p->name = strdup(name);
    } else {
        lock(&names_lock);
        unsigned long n = next_name_number++;
        unlock(&names_lock);
        char buf[32];
        snprintf(buf, sizeof buf, "Thread-%lu", n);
        p->name = strdup(buf);
    }
    int err = ENOMEM;
    if (!p->name)
        goto fail;
    if ((err = pthread_cond_init(&p->finished, NULL)) != 0)
        goto fail;
    if ((err = pthread_mutex_init(&p->lock, NULL)) != 0) {
        pthread_cond_destroy(&p->finished);
        goto fail;
    }
    p->state = TOBJ_NEW;
    t->run = run;
    t->priv = p;
    return 0;
fail:
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
    /* The only pthread_join: waits for the thread's last touch of p. */
    if (started && pthread_join(p->tid, NULL) != 0)
        abort();
    pthread_cond_destroy(&p->finished);
    pthread_mutex_destroy(&p->lock);
    free(p->name);
    free(p);
    t->priv = NULL;
}

static void *tobj_main(void *arg)
{
    struct tobj *t = arg;
    t->run(t);
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    p->state = TOBJ_FINISHED;
    pthread_cond_broadcast(&p->finished);   /* every joiner */
    unlock(&p->lock);
    return NULL;
}

int tobj_start(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    if (p->state != TOBJ_NEW) {
        unlock(&p->lock);
        return EBUSY;
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
    int err = 0;
    lock(&p->lock);
    if (p->state == TOBJ_NEW)
        err = EINVAL;
    else if (p->state == TOBJ_RUNNING && pthread_equal(p->tid, pthread_self()))
        err = EDEADLK;
    else
        while (p->state != TOBJ_FINISHED)
            pthread_cond_wait(&p->finished, &p->lock);
    unlock(&p->lock);
    return err;
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
