/* Mutant: dt_shutdown waits for one "a thread finished" signal with if, not while
 * Expect: unit
 * The condition variable is signalled each time a non-daemon thread
 * finishes: woken by the first of them, dt_shutdown returns while the others
 * still run.
 */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;  /* running went down */
static int running;                 /* non-daemon threads not finished; guarded by registry_lock */
static int active;                  /* guarded by registry_lock */
static unsigned long unnamed;       /* guarded by registry_lock: the last N of "Thread-N" */

/* What a new thread needs; allocated by dt_start, freed by the thread. */
struct start {
    void (*fn)(void *arg);
    void *arg;
    bool daemon;
    char name[DT_NAME_MAX + 1];
};

static void lock_registry(void)
{
    if (pthread_mutex_lock(&registry_lock) != 0)
        abort();
}

static void unlock_registry(void)
{
    if (pthread_mutex_unlock(&registry_lock) != 0)
        abort();
}

static void *thread_main(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    /* Named by the thread itself, before fn runs: naming it from dt_start
     * after pthread_create would let fn run under its creator's name. */
    if (pthread_setname_np(pthread_self(), s.name) != 0)
        abort();    /* the name was checked to fit */
    s.fn(s.arg);
    lock_registry();
    active--;
    if (!s.daemon) {
        running--;
        if (pthread_cond_broadcast(&finished) != 0)
            abort();
    }
    unlock_registry();
    return NULL;
}

int dt_start(const char *name, bool daemon, void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return EINVAL;
    if (name && strlen(name) > DT_NAME_MAX)
        return ERANGE;
    struct start *s = malloc(sizeof *s);
    if (!s)
        return ENOMEM;
    s->fn = fn;
    s->arg = arg;
    s->daemon = daemon;

    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 ||
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) != 0)
        abort();

    /* Locked across pthread_create: the thread is counted before it can end. */
    lock_registry();
    if (name)
        snprintf(s->name, sizeof s->name, "%s", name);
    else
        snprintf(s->name, sizeof s->name, "Thread-%lu", unnamed + 1);
    pthread_t tid;
    int err = pthread_create(&tid, &attr, thread_main, s);
    if (err == 0) {
        active++;
        if (!name)
            unnamed++;  /* a number is used only by a thread that started */
        if (!daemon)
            running++;
    }
    unlock_registry();
    if (pthread_attr_destroy(&attr) != 0)
        abort();
    if (err != 0)
        free(s);
    return err;
}

int dt_shutdown(void)
{
    lock_registry();
    /* A thread started while we wait is counted before the thread that
     * started it can finish: running cannot reach 0 in between. */
    if (running > 0)
        if (pthread_cond_wait(&finished, &registry_lock) != 0)
            abort();
    unlock_registry();
    return 0;
}

int dt_active_count(void)
{
    lock_registry();
    int n = active;
    unlock_registry();
    return n;
}

int dt_current_name(char *buf, size_t size)
{
    if (!buf || size < DT_NAME_MAX + 1)
        return ERANGE;
    /* The system keeps the name: for our threads it is the one thread_main
     * set, for the others whatever they were called. */
    return pthread_getname_np(pthread_self(), buf, size);
}

pid_t dt_current_id(void)
{
    return gettid();
}
