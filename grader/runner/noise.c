/* noise.c - schedule noise at synchronisation points.
 *
 * The test binary is linked with -Wl,--wrap for each function below (the list
 * is noise.wrap, beside this file), so calls from student and test code come
 * here first. With KIT_NOISE=1 each one yields the processor before taking and
 * after giving up a lock, which makes check-then-act and lost-wake-up bugs show
 * in most runs instead of almost never; correct code is unaffected. Without
 * KIT_NOISE (the plain and race-mode runs) the wrappers only forward. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Set before main, so before any thread exists; read-only afterwards. */
static bool noise;

__attribute__((constructor)) static void noise_init(void)
{
    const char *v = getenv("KIT_NOISE");
    noise = v && strcmp(v, "1") == 0;
}

static void yield(void)
{
    if (noise)
        sched_yield();
}

#define WRAP_BEFORE(ret, name, params, args) \
    ret __real_##name params;                \
    ret __wrap_##name params;                \
    ret __wrap_##name params { yield(); return __real_##name args; }

#define WRAP_AFTER(ret, name, params, args)      \
    ret __real_##name params;                    \
    ret __wrap_##name params;                    \
    ret __wrap_##name params {                   \
        ret r = __real_##name args;              \
        yield();                                 \
        return r;                                \
    }

WRAP_BEFORE(int, pthread_mutex_lock, (pthread_mutex_t *m), (m))
WRAP_BEFORE(int, pthread_mutex_trylock, (pthread_mutex_t *m), (m))
WRAP_BEFORE(int, pthread_mutex_timedlock,
            (pthread_mutex_t *m, const struct timespec *t), (m, t))
WRAP_AFTER(int, pthread_mutex_unlock, (pthread_mutex_t *m), (m))
WRAP_BEFORE(int, pthread_spin_lock, (pthread_spinlock_t *s), (s))
WRAP_AFTER(int, pthread_spin_unlock, (pthread_spinlock_t *s), (s))
WRAP_BEFORE(int, pthread_rwlock_rdlock, (pthread_rwlock_t *l), (l))
WRAP_BEFORE(int, pthread_rwlock_wrlock, (pthread_rwlock_t *l), (l))
WRAP_AFTER(int, pthread_rwlock_unlock, (pthread_rwlock_t *l), (l))
WRAP_AFTER(int, pthread_cond_wait, (pthread_cond_t *c, pthread_mutex_t *m), (c, m))
WRAP_AFTER(int, pthread_cond_timedwait,
           (pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *t), (c, m, t))
WRAP_AFTER(int, pthread_cond_signal, (pthread_cond_t *c), (c))
WRAP_AFTER(int, pthread_cond_broadcast, (pthread_cond_t *c), (c))
WRAP_BEFORE(int, sem_wait, (sem_t *s), (s))
WRAP_BEFORE(int, sem_trywait, (sem_t *s), (s))
WRAP_BEFORE(int, sem_timedwait, (sem_t *s, const struct timespec *t), (s, t))
WRAP_AFTER(int, sem_post, (sem_t *s), (s))
