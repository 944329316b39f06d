/* Alternative: the tick reads atomic variables and takes the lock only to drop
 * As CPython's eval loop does with its "eval breaker": the drop request and
 * who holds the GIL are C11 atomic variables, written under the mutex and
 * read by gil_check without it, so a tick with nothing to do costs no lock.
 * The holder is stored before `locked` is set, so a thread that sees the GIL
 * locked also sees its holder. */
#include "gil.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct gil {
    pthread_mutex_t lock;       /* guards everything below */
    pthread_cond_t released;    /* signalled when the GIL is released */
    pthread_cond_t switched;    /* broadcast when another thread takes the GIL */
    long interval_ms;           /* the switch interval (ms) */
    atomic_bool locked;         /* the GIL is held...; read without the lock */
    _Atomic pthread_t holder;   /* ...by this thread (meaningful while locked) */
    bool has_last;              /* the GIL has been taken at least once... */
    pthread_t last;             /* ...and this thread took it last */
    atomic_bool drop_request;   /* a waiter asks for a drop; read without the lock */
    unsigned long switches;     /* takes by a thread other than the last holder */
    unsigned long drop_requests; /* times drop_request went from clear to set */
    int waiting;                /* threads in wait_to_take */
};

/* Locking a valid, initialised mutex cannot fail: if it does, stop loudly. */
static void lock(gil_t *g)
{
    if (pthread_mutex_lock(&g->lock) != 0)
        abort();
}

static void unlock(gil_t *g)
{
    if (pthread_mutex_unlock(&g->lock) != 0)
        abort();
}

static bool valid_interval(long interval_ms)
{
    return interval_ms >= 1 && interval_ms <= GIL_MAX_INTERVAL_MS;
}

/* True if the calling thread holds the GIL. Needs no lock: only the holder
 * changes `locked` and `holder` while it holds the GIL, and a taker stores
 * `holder` before `locked`. */
static bool held_by_me(gil_t *g)
{
    return atomic_load(&g->locked) && pthread_equal(atomic_load(&g->holder), pthread_self());
}

/* The absolute time interval_ms from now on CLOCK_MONOTONIC, the clock the
 * condition variables measure deadlines with. */
static struct timespec deadline_after(long interval_ms)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        abort();
    t.tv_sec += interval_ms / 1000;
    t.tv_nsec += (interval_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {     /* keep tv_nsec below one second */
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Waits until the GIL is free and takes it for the calling thread. Each wait
 * lasts at most one interval; a wait that runs out with no switch since it
 * began sets the drop request. Caller holds g->lock. */
static void wait_to_take(gil_t *g)
{
    g->waiting++;
    while (atomic_load(&g->locked)) {
        unsigned long seen = g->switches;       /* read again before each wait */
        struct timespec deadline = deadline_after(g->interval_ms);
        int err = pthread_cond_timedwait(&g->released, &g->lock, &deadline);
        if (err != 0 && err != ETIMEDOUT)
            abort();
        /* A whole interval went by, the GIL is still held and nobody else
         * got it meanwhile: the holder has had its turn. If a switch did
         * happen, the new holder has just begun: wait a whole interval more. */
        if (err == ETIMEDOUT && atomic_load(&g->locked) && g->switches == seen &&
            !atomic_load(&g->drop_request)) {
            atomic_store(&g->drop_request, true);
            g->drop_requests++;
        }
    }
    g->waiting--;
    pthread_t self = pthread_self();
    atomic_store(&g->holder, self);
    atomic_store(&g->locked, true);
    atomic_store(&g->drop_request, false);  /* it was meant for the previous holder */
    if (g->has_last && !pthread_equal(g->last, self)) {
        g->switches++;
        /* The previous holder may be waiting for exactly this. */
        if (pthread_cond_broadcast(&g->switched) != 0)
            abort();
    }
    g->has_last = true;
    g->last = self;
}

/* Releases the GIL and wakes one thread waiting to take it. Caller holds
 * g->lock and the GIL. */
static void release(gil_t *g)
{
    atomic_store(&g->locked, false);
    if (pthread_cond_signal(&g->released) != 0)
        abort();
}

/* Initialises the mutex and the condition variables, which measure their
 * deadlines on CLOCK_MONOTONIC (the wall clock may jump). 0 or an errno. */
static int init_sync(gil_t *g)
{
    pthread_condattr_t ca;
    int err = pthread_condattr_init(&ca);
    if (err != 0)
        return err;
    err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (err == 0)
        err = pthread_cond_init(&g->released, &ca);
    if (err == 0) {
        err = pthread_cond_init(&g->switched, &ca);
        if (err != 0)
            pthread_cond_destroy(&g->released);
    }
    pthread_condattr_destroy(&ca);
    if (err != 0)
        return err;
    err = pthread_mutex_init(&g->lock, NULL);
    if (err != 0) {
        pthread_cond_destroy(&g->switched);
        pthread_cond_destroy(&g->released);
    }
    return err;
}

gil_t *gil_create(long interval_ms)
{
    if (!valid_interval(interval_ms)) {
        errno = EINVAL;
        return NULL;
    }
    gil_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;    /* calloc set errno */
    int err = init_sync(g);
    if (err != 0) {
        free(g);
        errno = err;
        return NULL;
    }
    atomic_init(&g->locked, false);
    atomic_init(&g->drop_request, false);
    g->interval_ms = interval_ms;
    return g;
}

void gil_destroy(gil_t *g)
{
    if (!g)
        return;
    pthread_cond_destroy(&g->switched);
    pthread_cond_destroy(&g->released);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

int gil_set_interval(gil_t *g, long interval_ms)
{
    if (!valid_interval(interval_ms))
        return EINVAL;
    lock(g);
    g->interval_ms = interval_ms;
    unlock(g);
    return 0;
}

long gil_interval(gil_t *g)
{
    lock(g);
    long interval_ms = g->interval_ms;
    unlock(g);
    return interval_ms;
}

int gil_acquire(gil_t *g)
{
    lock(g);
    if (held_by_me(g)) {
        unlock(g);
        return EDEADLK;     /* it would wait for itself for ever */
    }
    wait_to_take(g);
    unlock(g);
    return 0;
}

int gil_release(gil_t *g)
{
    lock(g);
    if (!held_by_me(g)) {
        unlock(g);
        return EPERM;
    }
    release(g);
    unlock(g);
    return 0;
}

int gil_check(gil_t *g, bool *switched)
{
    if (!held_by_me(g))
        return EPERM;
    /* The fast path: nobody asks. A request set just after this load is
     * seen at the next tick. */
    if (!atomic_load_explicit(&g->drop_request, memory_order_relaxed)) {
        if (switched)
            *switched = false;
        return 0;
    }
    lock(g);
    bool drop = atomic_load(&g->drop_request);
    if (drop) {
        unsigned long seen = g->switches;
        atomic_store(&g->drop_request, false);
        release(g);
        /* Forced switching: let another thread take the GIL before this one
         * competes for it again. A drop request means a waiter exists, and
         * waiters never give up, so some thread will take it. */
        while (g->switches == seen)
            if (pthread_cond_wait(&g->switched, &g->lock) != 0)
                abort();
        wait_to_take(g);
    }
    unlock(g);
    if (switched)
        *switched = drop;
    return 0;
}

int gil_get_stats(gil_t *g, struct gil_stats *out)
{
    if (!out)
        return EINVAL;
    lock(g);
    *out = (struct gil_stats){ g->switches, g->drop_requests, g->waiting };
    unlock(g);
    return 0;
}
