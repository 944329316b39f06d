/* Alternative: the name kept in a thread-local buffer; C11 atomics for the counters */
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A non-daemon thread not joined yet. */
struct joinable {
    pthread_t tid;
    struct joinable *next;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct joinable *joinables;  /* guarded by registry_lock */
static atomic_int active;
static atomic_ulong unnamed;        /* the last N of "Thread-N" handed out */

/* The name of the calling thread if dt_start started it; "" otherwise. */
static _Thread_local char my_name[DT_NAME_MAX + 1];

/* What a new thread needs; allocated by dt_start, freed by the thread. */
struct start {
    void (*fn)(void *arg);
    void *arg;
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
    memcpy(my_name, s.name, sizeof my_name);
    if (pthread_setname_np(pthread_self(), s.name) != 0)
        abort();    /* the name was checked to fit */
    s.fn(s.arg);
    atomic_fetch_sub(&active, 1);
    return NULL;
}

int dt_start(const char *name, bool daemon, void (*fn)(void *arg), void *arg)
{
    if (!fn)
        return EINVAL;
    if (name && strlen(name) > DT_NAME_MAX)
        return ERANGE;
    struct start *s = malloc(sizeof *s);
    struct joinable *j = daemon ? NULL : malloc(sizeof *j);
    if (!s || (!daemon && !j)) {
        free(s);
        free(j);
        return ENOMEM;
    }
    s->fn = fn;
    s->arg = arg;

    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0 ||
        pthread_attr_setdetachstate(&attr, daemon ? PTHREAD_CREATE_DETACHED
                                                  : PTHREAD_CREATE_JOINABLE) != 0)
        abort();

    /* Locked across pthread_create: the thread is counted, and listed for
     * dt_shutdown, before it can end. */
    /* A number taken by a start that then fails is simply not used. */
    if (name)
        snprintf(s->name, sizeof s->name, "%s", name);
    else
        snprintf(s->name, sizeof s->name, "Thread-%lu", atomic_fetch_add(&unnamed, 1) + 1);
    /* Counted before the thread can end; uncounted if it never starts. */
    atomic_fetch_add(&active, 1);
    lock_registry();
    pthread_t tid;
    int err = pthread_create(&tid, &attr, thread_main, s);
    if (err != 0) {
        atomic_fetch_sub(&active, 1);
    } else {
        if (j) {
            j->tid = tid;
            j->next = joinables;
            joinables = j;
        }
    }
    unlock_registry();
    if (pthread_attr_destroy(&attr) != 0)
        abort();
    if (err != 0) {
        free(s);
        free(j);
    }
    return err;
}

int dt_shutdown(void)
{
    lock_registry();
    while (joinables) {
        struct joinable *j = joinables;
        joinables = j->next;
        /* Not while holding the lock: the thread may still need it to start
         * threads of its own, or to count itself finished. */
        unlock_registry();
        if (pthread_join(j->tid, NULL) != 0)
            abort();    /* a listed thread is ours and joined only here */
        free(j);
        lock_registry();
    }
    unlock_registry();
    return 0;
}

int dt_active_count(void)
{
    return atomic_load(&active);
}

int dt_current_name(char *buf, size_t size)
{
    if (!buf || size < DT_NAME_MAX + 1)
        return ERANGE;
    if (my_name[0] == '\0')    /* not one of ours: ask the system */
        return pthread_getname_np(pthread_self(), buf, size);
    memcpy(buf, my_name, sizeof my_name);
    return 0;
}

pid_t dt_current_id(void)
{
    return gettid();
}
