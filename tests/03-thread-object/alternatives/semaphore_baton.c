/* Alternative: the finishing thread posts a semaphore once; each joiner waits for it and posts it again for the next one */
#include "thread_object.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tobj_private {
    pthread_mutex_t lock;       /* guards started, finished, tid, reaped */
    bool started, finished, reaped;
    pthread_t tid;
    sem_t done;                 /* 0 until run() returns, then 1: a baton */
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
    char buf[32];
    if (!name) {
        lock(&names_lock);
        snprintf(buf, sizeof buf, "Thread-%lu", next_name_number++);
        unlock(&names_lock);
        name = buf;
    }
    int err = ENOMEM;
    if (!(p->name = strdup(name)))
        goto fail;
    if (sem_init(&p->done, 0, 0) != 0) {
        err = errno;
        goto fail;
    }
    if ((err = pthread_mutex_init(&p->lock, NULL)) != 0) {
        sem_destroy(&p->done);
        goto fail;
    }
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
    bool started = p->started;
    unlock(&p->lock);
    if (started && tobj_join(t) != 0)
        abort();
    sem_destroy(&p->done);
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
    p->finished = true;
    unlock(&p->lock);
    if (sem_post(&p->done) != 0)
        abort();
    return NULL;
}

int tobj_start(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    int err = EBUSY;
    if (!p->started) {
        err = pthread_create(&p->tid, NULL, tobj_main, t);
        p->started = err == 0;
    }
    unlock(&p->lock);
    return err;
}

int tobj_join(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    bool started = p->started, finished = p->finished;
    pthread_t tid = p->tid;
    unlock(&p->lock);
    if (!started)
        return EINVAL;
    if (!finished && pthread_equal(tid, pthread_self()))
        return EDEADLK;
    /* Take the baton (it exists once run() has returned), pass it on. */
    while (sem_wait(&p->done) != 0)
        if (errno != EINTR)
            abort();
    if (sem_post(&p->done) != 0)
        abort();
    lock(&p->lock);
    bool reap = !p->reaped;
    p->reaped = true;
    unlock(&p->lock);
    /* Only the first joiner through reaps; later ones need not wait for it:
     * run() has returned already. */
    if (reap && pthread_join(tid, NULL) != 0)
        abort();
    return 0;
}

bool tobj_is_alive(struct tobj *t)
{
    struct tobj_private *p = t->priv;
    lock(&p->lock);
    bool alive = p->started && !p->finished;
    unlock(&p->lock);
    return alive;
}

const char *tobj_name(const struct tobj *t)
{
    return t->priv->name;
}
