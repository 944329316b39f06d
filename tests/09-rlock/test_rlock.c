/* test_rlock.c - tests of 09-rlock (rlock.h).
 *
 * Three suites: "rlock" checks the lock's rules with a few named threads
 * (A, B, C) that the test drives step by step; "tree" checks tree_sum and
 * tree_add on trees of every shape; "threads" runs many threads at once and
 * checks the invariants while they run: one holder at a time, no lost update,
 * every tree_sum sees whole tree_adds only.
 *
 * Ownership belongs to a thread, so every call runs in a helper thread (an
 * "agent") that the test's thread commands and watches with a deadline: a call
 * that waits for itself forever is reported with an explanation, and a thread
 * that must stay blocked is watched for a while to see that it does. Helper
 * threads never call CUnit (it is not thread-safe): they record what happened
 * and the test's thread checks it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* pthread_setaffinity_np, rand_r */
#endif
#include "kit_test.h"
#include "rlock.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a call that must return may go without returning before we call
 * it stuck (ms); correct code needs a tiny fraction of this. Waits on a series
 * of calls reset it whenever one returns (see agent_wait, run_crew). */
static long deadline_ms(void)
{
    /* Under a race detector: long enough, and short enough for a stuck
     * program to be reported before the detector's own time limit. */
    return kit_race_mode() ? 10000 : 2000 * kit_time_factor();
}

/* A workload size: `plain` normally, `noisy` with schedule noise or under a
 * race detector. Noise makes every lock operation yield the processor, which
 * costs up to a scheduler tick (about 1 ms) when a busy program shares the
 * CPU: a test makes at most a few hundred lock operations in a row under
 * noise. Depth (a 2000-deep recursion) is the plain run's job; the noisy runs
 * hunt for scheduling bugs, and a test where one thread works at a time has
 * none to find. */
static long size_for(long plain, long noisy)
{
    return kit_time_factor() == 1 ? plain : noisy;
}

/* How long we watch a thread that must stay blocked (ms). Correct code keeps
 * it blocked forever; a wrong lock usually lets it through within a few ms. */
static long watch_ms(void)
{
    return kit_scale(30, 150);
}

static void must(int err, const char *what)
{
    if (err != 0) {
        fprintf(stderr, "test harness: %s failed: %s\n", what, strerror(err));
        abort();
    }
}

static void lock(pthread_mutex_t *m)
{
    must(pthread_mutex_lock(m), "pthread_mutex_lock");
}

static void unlock(pthread_mutex_t *m)
{
    must(pthread_mutex_unlock(m), "pthread_mutex_unlock");
}

static const char *result_name(int r)
{
    switch (r) {
    case 0: return "0";
    case EPERM: return "EPERM";
    default: return strerror(r);
    }
}

/* "once", "twice", "3 times": from a few rotating buffers (test's thread only). */
static const char *times_str(long n)
{
    static char bufs[4][24];
    static int next;
    char *b = bufs[next++ % 4];
    if (n == 1)
        return "once";
    if (n == 2)
        return "twice";
    snprintf(b, sizeof bufs[0], "%ld times", n);
    return b;
}

/* A context sentence for a message; one at a time (the test's thread only). */
static char ctx_buf[400];

static const char *ctx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *ctx(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx_buf, sizeof ctx_buf, fmt, ap);
    va_end(ap);
    return ctx_buf;
}

#define PLAIN_MUTEX_HELP                                                        \
    "A plain mutex is not re-entrant: the second acquire by the same thread "   \
    "waits for itself forever. Remember which thread holds the lock and how "   \
    "many times, and let that thread in at once (one acquire deeper)"

#define WAKE_HELP                                                               \
    "When the owner's last release brings the count to 0 the lock is free: "    \
    "wake a waiting thread then (signal the condition variable), and make "     \
    "sure the count really reaches 0 and every path out of rlock_acquire and "  \
    "rlock_release unlocks the internal mutex"

/* ---- agents: named helper threads that the test drives ------------------ */

enum agent_op { OP_ACQUIRE, OP_RELEASE, OP_SUM, OP_ADD, OP_QUIT };

struct agent {
    char name;              /* 'A', 'B', ...: fixed */
    pthread_t tid;          /* fixed */
    pthread_mutex_t m;
    pthread_cond_t cv;      /* CLOCK_MONOTONIC; a command posted or finished */
    /* The command, guarded by m. */
    bool busy;              /* posted and not finished */
    enum agent_op op;
    rlock_t *l;
    long times;             /* how many calls the command makes */
    struct tree *t;
    long delta;
    /* Its results: written by the agent while the command runs, read by the
     * test's thread once it finished (m orders the two); `done` may be read
     * at any time. */
    atomic_long done;       /* calls that returned */
    long n_zero, n_eperm, n_other;
    int other;              /* the last result other than 0 and EPERM */
    long sum;               /* OP_SUM: what the last tree_sum returned */
};

/* `done` is atomic so that the test can watch progress without making the
 * agent take a mutex per call (two more yields under schedule noise). */
static void agent_note(struct agent *a, int r)
{
    if (r == 0) {
        a->n_zero++;
    } else if (r == EPERM) {
        a->n_eperm++;
    } else {
        a->n_other++;
        a->other = r;
    }
    atomic_fetch_add(&a->done, 1);
}

static void *agent_main(void *p)
{
    struct agent *a = p;
    lock(&a->m);
    for (;;) {
        while (!a->busy)
            must(pthread_cond_wait(&a->cv, &a->m), "pthread_cond_wait");
        enum agent_op op = a->op;
        rlock_t *l = a->l;
        long times = a->times, delta = a->delta, sum = 0;
        struct tree *t = a->t;
        unlock(&a->m);
        if (op == OP_QUIT)
            times = 0;
        for (long k = 0; k < times; k++) {
            switch (op) {
            case OP_ACQUIRE: agent_note(a, rlock_acquire(l)); break;
            case OP_RELEASE: agent_note(a, rlock_release(l)); break;
            case OP_SUM: sum = tree_sum(l, t); agent_note(a, 0); break;
            case OP_ADD: tree_add(l, t, delta); agent_note(a, 0); break;
            case OP_QUIT: break;
            }
        }
        lock(&a->m);
        a->sum = sum;
        a->busy = false;
        must(pthread_cond_broadcast(&a->cv), "pthread_cond_broadcast");
        if (op == OP_QUIT) {
            unlock(&a->m);
            return NULL;
        }
    }
}

/* Heap-allocated, so that a stuck agent can be left behind with its memory. */
static struct agent *agent_new(char name)
{
    struct agent *a = calloc(1, sizeof *a);
    if (!a)
        abort();
    a->name = name;
    pthread_condattr_t attr;
    must(pthread_condattr_init(&attr), "pthread_condattr_init");
    must(pthread_condattr_setclock(&attr, CLOCK_MONOTONIC), "pthread_condattr_setclock");
    must(pthread_cond_init(&a->cv, &attr), "pthread_cond_init");
    must(pthread_condattr_destroy(&attr), "pthread_condattr_destroy");
    must(pthread_mutex_init(&a->m, NULL), "pthread_mutex_init");
    atomic_init(&a->done, 0);
    must(pthread_create(&a->tid, NULL, agent_main, a), "pthread_create");
    return a;
}

static void agent_post(struct agent *a, enum agent_op op, rlock_t *l, long times,
                       struct tree *t, long delta)
{
    lock(&a->m);
    if (a->busy)
        abort();    /* a test bug: one command at a time */
    a->op = op;
    a->l = l;
    a->times = times;
    a->t = t;
    a->delta = delta;
    atomic_store(&a->done, 0);
    a->n_zero = a->n_eperm = a->n_other = 0;
    a->busy = true;
    must(pthread_cond_broadcast(&a->cv), "pthread_cond_broadcast");
    unlock(&a->m);
}

struct outcome {
    bool finished;
    long done, n_zero, n_eperm, n_other;
    int other;
    long sum;
};

static struct timespec in_ms(long ms)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* How long the test's thread sleeps between two looks at a stuck candidate
 * (ms). "Stuck" needs both: the time has passed, and the test's thread looked
 * at least (time / LOOK_MS) times, so that a run where the whole machine
 * stalled (nobody ran, the test's thread neither) is not taken for a deadlock. */
enum { LOOK_MS = 10 };

enum wait_kind {
    WATCH,      /* a thread that must stay blocked: look for ms, no more */
    DEADLINE,   /* a call that must return: give up when stuck for ms */
    PROGRESS,   /* a series of calls: stuck means none returned for ms */
};

/* Waits for the agent's command to finish, and says how it went. When it
 * gives up, only `finished` (false) and `done` are meaningful. */
static struct outcome agent_wait(struct agent *a, long ms, enum wait_kind kind)
{
    struct outcome o = { 0 };
    long seen = 0, idle_since = kit_now_ms(), looks = 0;
    struct timespec until = in_ms(ms);
    lock(&a->m);
    while (a->busy) {
        if (kind == WATCH) {
            int err = pthread_cond_timedwait(&a->cv, &a->m, &until);
            if (err == ETIMEDOUT)
                break;
            must(err, "pthread_cond_timedwait");
            continue;
        }
        struct timespec look = in_ms(LOOK_MS);
        int err = pthread_cond_timedwait(&a->cv, &a->m, &look);
        if (err != 0 && err != ETIMEDOUT)
            must(err, "pthread_cond_timedwait");
        long done = atomic_load(&a->done);
        if (kind == PROGRESS && done != seen) {
            seen = done;
            idle_since = kit_now_ms();
            looks = 0;
        } else if (++looks >= ms / LOOK_MS && kit_now_ms() - idle_since >= ms) {
            break;
        }
    }
    o.finished = !a->busy;
    o.done = atomic_load(&a->done);
    if (o.finished) {
        o.n_zero = a->n_zero;
        o.n_eperm = a->n_eperm;
        o.n_other = a->n_other;
        o.other = a->other;
        o.sum = a->sum;
    }
    unlock(&a->m);
    return o;
}

/* Ends an idle agent. A stuck agent is left running with its memory (and the
 * lock it uses): only ever called when the test passed its checks. */
static void agent_end(struct agent *a)
{
    agent_post(a, OP_QUIT, NULL, 0, NULL, 0);
    must(pthread_join(a->tid, NULL), "pthread_join");
    must(pthread_cond_destroy(&a->cv), "pthread_cond_destroy");
    must(pthread_mutex_destroy(&a->m), "pthread_mutex_destroy");
    free(a);
}

/* ---- the steps of a test, each checked ---------------------------------- */

/* Thread a, which holds l `held` times already, acquires it `times` more
 * times; every call must return 0 promptly. `why` says why l is available to
 * a (used when held == 0). */
static void acquire_at(unsigned line, struct agent *a, rlock_t *l, long times, long held,
                       const char *why)
{
    agent_post(a, OP_ACQUIRE, l, times, NULL, 0);
    struct outcome o = agent_wait(a, deadline_ms(), PROGRESS);
    long before = held + o.done;    /* holds when the stuck call was made */
    if (!o.finished && before > 0)
        kit_fail_at(__FILE__, line, true,
                    "thread %c held the lock (acquired %s) and called rlock_acquire "
                    "again: the call did not return within %ld ms. The holder may acquire "
                    "again without waiting. " PLAIN_MUTEX_HELP ".",
                    a->name, times_str(before), deadline_ms());
    if (!o.finished)
        kit_fail_at(__FILE__, line, true,
                    "thread %c called rlock_acquire on a free lock (%s), and it did not "
                    "return within %ld ms. " WAKE_HELP ".", a->name, why, deadline_ms());
    if (o.n_zero != times)
        kit_fail_at(__FILE__, line, true,
                    "thread %c called rlock_acquire %s (%s): every call must return 0, "
                    "but %ld returned EPERM and %ld returned %s",
                    a->name, times_str(times), why, o.n_eperm, o.n_other,
                    result_name(o.other));
}

/* Thread a calls rlock_release `times` times; each call must return
 * `expected` (0 or EPERM) promptly. `why` describes the situation. */
static void release_at(unsigned line, struct agent *a, rlock_t *l, long times, int expected,
                       const char *why)
{
    agent_post(a, OP_RELEASE, l, times, NULL, 0);
    struct outcome o = agent_wait(a, deadline_ms(), PROGRESS);
    if (!o.finished)
        kit_fail_at(__FILE__, line, true,
                    "thread %c called rlock_release (%s), and call %ld of %ld did not "
                    "return within %ld ms: rlock_release never has to wait. Usual cause: "
                    "a path out of rlock_release or rlock_acquire (the EPERM one?) that "
                    "leaves the internal mutex locked, so the next call waits for it "
                    "forever.", a->name, why, o.done + 1, times, deadline_ms());
    if (o.n_other > 0)
        kit_fail_at(__FILE__, line, true,
                    "thread %c called rlock_release (%s): it returned %s (%d); the only "
                    "results are 0 and EPERM", a->name, why, result_name(o.other), o.other);
    if (expected == 0 && o.n_eperm > 0)
        kit_fail_at(__FILE__, line, true,
                    "thread %c called rlock_release %s (%s): every call must return 0, but "
                    "%ld returned EPERM. The owner may release as many times as it "
                    "acquired: count the acquires and remember the owner.",
                    a->name, times_str(times), why, o.n_eperm);
    if (expected == EPERM && o.n_zero > 0)
        kit_fail_at(__FILE__, line, true,
                    "thread %c called rlock_release %s (%s): every call must return EPERM, "
                    "but %ld returned 0. Only the owner may release, and only as many "
                    "times as it acquired; any other release is refused with EPERM and "
                    "changes nothing (Python raises RuntimeError).",
                    a->name, times_str(times), why, o.n_zero);
}

/* Thread a asks for the lock, which another thread holds: a must still be
 * waiting after watch_ms(). The acquire stays posted; finish it with
 * gets_lock_at. */
static void start_waiting_at(unsigned line, struct agent *a, rlock_t *l, const char *holder)
{
    agent_post(a, OP_ACQUIRE, l, 1, NULL, 0);
    struct outcome o = agent_wait(a, watch_ms(), WATCH);
    if (o.finished)
        kit_fail_at(__FILE__, line, true,
                    "thread %c called rlock_acquire while %s, and it returned (with %s) "
                    "instead of waiting: only one thread may hold the lock, and it stays "
                    "held until its owner has released it as many times as it acquired it",
                    a->name, holder, o.n_zero ? "0" : "an error");
}

/* Thread a, whose acquire was posted by start_waiting_at, must still be
 * waiting after watch_ms(). */
static void still_waiting_at(unsigned line, struct agent *a, const char *holder)
{
    struct outcome o = agent_wait(a, watch_ms(), WATCH);
    if (o.finished)
        kit_fail_at(__FILE__, line, true,
                    "thread %c was waiting in rlock_acquire, and it got the lock although "
                    "%s. The lock is free only when the owner has released it as many "
                    "times as it acquired it: keep a count, +1 per acquire, -1 per "
                    "release, free at 0.", a->name, holder);
}

/* Thread a, waiting since start_waiting_at, must now get the lock promptly. */
static void gets_lock_at(unsigned line, struct agent *a, const char *freed)
{
    struct outcome o = agent_wait(a, deadline_ms(), DEADLINE);
    if (!o.finished)
        kit_fail_at(__FILE__, line, true,
                    "thread %c was waiting in rlock_acquire, and %ld ms after %s it was "
                    "still waiting: a lost wake-up? " WAKE_HELP ".",
                    a->name, deadline_ms(), freed);
    if (o.n_zero != 1)
        kit_fail_at(__FILE__, line, true, "thread %c's rlock_acquire returned %s: expected 0",
                    a->name, result_name(o.n_eperm ? EPERM : o.other));
}

#define TREE_HELP                                                               \
    "It takes the lock on entry to every call, so the call for a child asks "   \
    "again for the lock that its parent call holds, in the same thread. "       \
    PLAIN_MUTEX_HELP

static long sum_at(unsigned line, struct agent *a, rlock_t *l, struct tree *t,
                   const char *tree)
{
    agent_post(a, OP_SUM, l, 1, t, 0);
    struct outcome o = agent_wait(a, deadline_ms(), DEADLINE);
    if (!o.finished)
        kit_fail_at(__FILE__, line, true,
                    "tree_sum did not return within %ld ms (on %s, with no other thread "
                    "using the lock). " TREE_HELP ".", deadline_ms(), tree);
    return o.sum;
}

static void add_at(unsigned line, struct agent *a, rlock_t *l, struct tree *t, long delta,
                   const char *tree)
{
    agent_post(a, OP_ADD, l, 1, t, delta);
    struct outcome o = agent_wait(a, deadline_ms(), DEADLINE);
    if (!o.finished)
        kit_fail_at(__FILE__, line, true,
                    "tree_add did not return within %ld ms (on %s, with no other thread "
                    "using the lock). " TREE_HELP ".", deadline_ms(), tree);
}

#define ACQUIRE(a, l, times, held, why) acquire_at(__LINE__, (a), (l), (times), (held), (why))
#define RELEASE(a, l, times, expected, why) \
    release_at(__LINE__, (a), (l), (times), (expected), (why))
#define START_WAITING(a, l, holder) start_waiting_at(__LINE__, (a), (l), (holder))
#define STILL_WAITING(a, holder) still_waiting_at(__LINE__, (a), (holder))
#define GETS_LOCK(a, freed) gets_lock_at(__LINE__, (a), (freed))
#define SUM(a, l, t, tree) sum_at(__LINE__, (a), (l), (t), (tree))
#define ADD(a, l, t, delta, tree) add_at(__LINE__, (a), (l), (t), (delta), (tree))

static rlock_t *new_lock(void)
{
    rlock_t *l = rlock_create();
    KIT_REQUIRE(l != NULL, "rlock_create returned NULL");
    return l;
}

/* ---- rlock suite ---------------------------------------------------------- */

static void test_new_lock_is_free_and_locks_are_independent(void)
{
    rlock_t *l1 = new_lock(), *l2 = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B');
    ACQUIRE(a, l1, 1, 0, "a new lock, from rlock_create");
    ACQUIRE(b, l2, 1, 0, "a second new lock, while thread A holds the first: two "
            "locks are independent, so keep the owner and count inside each lock, "
            "not in globals");
    RELEASE(b, l2, 1, 0, "thread B acquired the second lock once");
    RELEASE(a, l1, 1, 0, "thread A acquired the first lock once");
    ACQUIRE(b, l1, 1, 0, "thread A acquired the first lock once and released it once");
    ACQUIRE(a, l2, 2, 0, "the second lock was acquired once and released once");
    RELEASE(b, l1, 1, 0, "thread B acquired the first lock once");
    RELEASE(a, l2, 2, 0, "thread A acquired the second lock twice");
    agent_end(a);
    agent_end(b);
    rlock_destroy(l1);
    rlock_destroy(l2);
}

static void test_holder_can_acquire_many_times(void)
{
    rlock_t *l = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B');
    const long n = size_for(1000, 50);
    ACQUIRE(a, l, n, 0, "a new lock");
    RELEASE(a, l, n, 0, ctx("thread A acquired the lock %ld times", n));
    RELEASE(a, l, 1, EPERM, ctx("thread A acquired %ld times and released %ld times: it "
                                "no longer holds the lock", n, n));
    ACQUIRE(b, l, 1, 0, ctx("thread A acquired it %ld times and released it %ld times",
                            n, n));
    RELEASE(b, l, 1, 0, "thread B acquired the lock once");
    /* Deeper and shallower in turn, as recursion does: 2, 1, 4, 3, 0. */
    ACQUIRE(a, l, 2, 0, "thread B acquired once and released once");
    RELEASE(a, l, 1, 0, "thread A acquired twice");
    ACQUIRE(a, l, 3, 1, "thread A holds it once");
    RELEASE(a, l, 1, 0, "thread A acquired 5 times and released once");
    RELEASE(a, l, 3, 0, "thread A acquired 5 times and released twice");
    RELEASE(a, l, 1, EPERM, "thread A acquired 5 times and released 5 times");
    ACQUIRE(b, l, 1, 0, "thread A acquired it 5 times and released it 5 times");
    RELEASE(b, l, 1, 0, "thread B acquired the lock once");
    agent_end(a);
    agent_end(b);
    rlock_destroy(l);
}

static void test_other_thread_waits_until_every_acquire_is_released(void)
{
    const long depths[] = { 1, 3, size_for(100, 20) };
    rlock_t *l = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B');
    char holder[200];
    for (size_t k = 0; k < sizeof depths / sizeof depths[0]; k++) {
        long n = depths[k];
        ACQUIRE(a, l, n, 0, "nobody else uses it");
        snprintf(holder, sizeof holder, "thread A held the lock (acquired %s, released "
                 "0 times)", times_str(n));
        START_WAITING(b, l, holder);
        /* The holder gets in again at once, even with B waiting. */
        ACQUIRE(a, l, 1, n, "thread A holds it, thread B waits for it");
        RELEASE(a, l, n, 0, ctx("thread A acquired %s, thread B waits", times_str(n + 1)));
        snprintf(holder, sizeof holder, "thread A acquired it %s and had released it "
                 "only %s", times_str(n + 1), times_str(n));
        STILL_WAITING(b, holder);
        RELEASE(a, l, 1, 0, ctx("thread A acquired %s and released %s", times_str(n + 1),
                                times_str(n)));
        GETS_LOCK(b, ctx("thread A released the lock as many times as it acquired it "
                         "(%ld)", n + 1));
        RELEASE(a, l, 1, EPERM, "thread A released as many times as it acquired, and "
                "thread B holds the lock now");
        RELEASE(b, l, 1, 0, "thread B acquired the lock once");
    }
    agent_end(a);
    agent_end(b);
    rlock_destroy(l);
}

static void test_release_by_non_owner_is_eperm_and_changes_nothing(void)
{
    rlock_t *l = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B'), *c = agent_new('C');
    ACQUIRE(a, l, 3, 0, "a new lock");
    RELEASE(b, l, 5, EPERM, "thread B never acquired the lock, thread A holds it 3 times");
    START_WAITING(c, l, "thread A held it 3 times and thread B's refused releases "
                  "must have changed nothing");
    RELEASE(a, l, 2, 0, "thread A acquired 3 times; thread B's releases were refused, "
            "so they changed nothing");
    STILL_WAITING(c, "thread A had released only 2 of its 3 acquires (thread B's 5 "
                  "refused releases must not count)");
    RELEASE(a, l, 1, 0, "thread A acquired 3 times and released twice");
    GETS_LOCK(c, "thread A's third and last release");
    RELEASE(a, l, 1, EPERM, "thread A released all its acquires; thread C holds the lock");
    RELEASE(b, l, 2, EPERM, "thread B never acquired the lock; thread C holds it");
    ACQUIRE(c, l, 1, 1, "thread C holds it once");
    RELEASE(c, l, 2, 0, "thread C acquired twice");
    RELEASE(c, l, 1, EPERM, "thread C acquired twice and released twice: the lock is free");
    ACQUIRE(b, l, 1, 0, "every acquire was released");
    RELEASE(b, l, 1, 0, "thread B acquired once");
    agent_end(a);
    agent_end(b);
    agent_end(c);
    rlock_destroy(l);
}

static void test_release_of_a_free_lock_is_eperm(void)
{
    rlock_t *l = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B');
    RELEASE(a, l, 3, EPERM, "a new lock, which nobody holds");
    ACQUIRE(a, l, 1, 0, "a new lock after 3 refused releases, which changed nothing");
    RELEASE(a, l, 1, 0, "thread A acquired once");
    RELEASE(a, l, 1, EPERM, "thread A acquired once and released once: the lock is free. "
            "Its last owner is no owner now: when the count reaches 0 the lock has none");
    ACQUIRE(b, l, 1, 0, "thread A acquired once and released once, and its extra release "
            "was refused, changing nothing");
    RELEASE(b, l, 1, 0, "thread B acquired once");
    RELEASE(b, l, 1, EPERM, "thread B acquired once and released once: the lock is free");
    RELEASE(a, l, 1, EPERM, "the lock is free");
    ACQUIRE(a, l, 2, 0, "the lock is free");
    RELEASE(a, l, 2, 0, "thread A acquired twice");
    RELEASE(a, l, 2, EPERM, "thread A acquired twice and released twice: the lock is free");
    ACQUIRE(b, l, 1, 0, "the lock is free");
    RELEASE(b, l, 1, 0, "thread B acquired once");
    agent_end(a);
    agent_end(b);
    rlock_destroy(l);
}

static void test_freed_lock_passes_from_thread_to_thread(void)
{
    rlock_t *l = new_lock();
    struct agent *ag[3] = { agent_new('A'), agent_new('B'), agent_new('C') };
    ACQUIRE(ag[0], l, 1, 0, "a new lock");
    /* The lock goes round: the holder goes deeper, a next thread waits, the
     * holder releases everything, the next one gets it. */
    const int rounds = (int)size_for(12, 6);
    for (int r = 0; r < rounds; r++) {
        struct agent *holder = ag[r % 3], *next = ag[(r + 1) % 3];
        long depth = 1 + r % 4;
        ACQUIRE(holder, l, depth - 1, 1, ctx("thread %c holds it once", holder->name));
        char who[120];
        snprintf(who, sizeof who, "thread %c held the lock (acquired %s)", holder->name,
                 times_str(depth));
        if (r % 3 == 0 && !kit_race_mode())   /* watching is slow under a detector */
            START_WAITING(next, l, who);
        else
            agent_post(next, OP_ACQUIRE, l, 1, NULL, 0);
        RELEASE(holder, l, depth, 0, ctx("thread %c acquired %s", holder->name, times_str(depth)));
        GETS_LOCK(next, ctx("thread %c, which held the lock, released it as many times as "
                            "it acquired it (%ld)", holder->name, depth));
        /* Not under a race detector: a correct lock built on a recursive
         * pthread mutex would be reported for the refused unlock. */
        if (!kit_race_mode())
            RELEASE(holder, l, 1, EPERM, ctx("thread %c passed the lock on: thread %c "
                                             "holds it", holder->name, next->name));
    }
    struct agent *last = ag[rounds % 3];
    RELEASE(last, l, 1, 0, ctx("thread %c got the lock last and holds it once", last->name));
    for (int i = 0; i < 3; i++)
        agent_end(ag[i]);
    rlock_destroy(l);
}

/* ---- trees ------------------------------------------------------------- */

/* n nodes in one array (free it to free the tree), shaped as asked; node
 * values are set by set_values. */
enum shape { PERFECT, LEFT_CHAIN, RIGHT_CHAIN, ZIGZAG, RANDOM };

static const char *shape_name(enum shape s)
{
    switch (s) {
    case PERFECT: return "a balanced tree";
    case LEFT_CHAIN: return "a tree where every node has only a left child";
    case RIGHT_CHAIN: return "a tree where every node has only a right child";
    case ZIGZAG: return "a zigzag chain (left, right, left, ...)";
    case RANDOM: return "a randomly shaped tree";
    }
    return "?";
}

/* Inserts node i under root as in a binary search tree keyed by key[]. */
static void bst_insert(struct tree *nodes, const unsigned *key, size_t i)
{
    struct tree *at = &nodes[0];
    for (;;) {
        struct tree **next = key[i] < key[at - nodes] ? &at->left : &at->right;
        if (!*next) {
            *next = &nodes[i];
            return;
        }
        at = *next;
    }
}

static struct tree *tree_new(enum shape s, size_t n, unsigned seed)
{
    struct tree *nodes = calloc(n, sizeof *nodes);
    unsigned *key = s == RANDOM ? calloc(n, sizeof *key) : NULL;
    if (!nodes || (s == RANDOM && !key))
        abort();
    for (size_t i = 1; i < n; i++) {
        switch (s) {
        case PERFECT:   /* heap layout: the children of i are 2i+1 and 2i+2 */
            if (i % 2)
                nodes[(i - 1) / 2].left = &nodes[i];
            else
                nodes[(i - 1) / 2].right = &nodes[i];
            break;
        case LEFT_CHAIN: nodes[i - 1].left = &nodes[i]; break;
        case RIGHT_CHAIN: nodes[i - 1].right = &nodes[i]; break;
        case ZIGZAG:
            if (i % 2)
                nodes[i - 1].left = &nodes[i];
            else
                nodes[i - 1].right = &nodes[i];
            break;
        case RANDOM: break;
        }
    }
    if (s == RANDOM) {
        for (size_t i = 0; i < n; i++)
            key[i] = (unsigned)rand_r(&seed);
        for (size_t i = 1; i < n; i++)
            bst_insert(nodes, key, i);
        free(key);
    }
    return nodes;
}

/* The children of every node, to check that tree_add changed values only. */
struct links { struct tree *left, *right; };

static struct links *links_of(const struct tree *nodes, size_t n)
{
    struct links *k = calloc(n, sizeof *k);
    if (!k)
        abort();
    for (size_t i = 0; i < n; i++)
        k[i] = (struct links){ nodes[i].left, nodes[i].right };
    return k;
}

/* Runs tree_sum, then nadds (1 or 2) times tree_add and tree_sum, on one
 * tree in thread a and checks every value; then checks that they left the lock
 * free (b takes it). */
static void check_sum_and_add(struct agent *a, struct agent *b, rlock_t *l,
                              struct tree *nodes, size_t n, int nadds, const char *what)
{
    long expected = 0;
    for (size_t i = 0; i < n; i++) {
        nodes[i].value = (long)(i % 97) * 3 - 100;   /* some negative, not all equal */
        expected += nodes[i].value;
    }
    struct links *links = links_of(nodes, n);
    long got = SUM(a, l, &nodes[0], what);
    KIT_CHECK(got == expected, "tree_sum on %s of %zu nodes: expected %ld, got %ld",
              what, n, expected, got);
    const long deltas[] = { 7, -20 };
    for (int d = 0; d < nadds && d < 2; d++) {
        ADD(a, l, &nodes[0], deltas[d], what);
        expected += deltas[d] * (long)n;
        size_t wrong = 0, first = 0, moved = 0;
        for (size_t i = 0; i < n; i++) {
            long want = (long)(i % 97) * 3 - 100 + (d == 0 ? 7 : -13);
            if (nodes[i].value != want && wrong++ == 0)
                first = i;
            if (nodes[i].left != links[i].left || nodes[i].right != links[i].right)
                moved++;
        }
        KIT_CHECK(wrong == 0, "tree_add(l, t, %ld) on %s of %zu nodes: %zu node(s) hold a "
                  "wrong value (node %zu holds %ld, expected %ld): every node gets delta "
                  "exactly once", deltas[d], what, n, wrong, first, nodes[first].value,
                  (long)(first % 97) * 3 - 100 + (d == 0 ? 7 : -13));
        KIT_CHECK(moved == 0, "tree_add on %s changed the children of %zu node(s): it "
                  "must change values only", what, moved);
        got = SUM(a, l, &nodes[0], what);
        KIT_CHECK(got == expected, "tree_sum on %s of %zu nodes after tree_add(l, t, %ld): "
                  "expected %ld, got %ld", what, n, deltas[d], expected, got);
    }
    free(links);
    RELEASE(a, l, 1, EPERM, ctx("thread A called tree_sum and tree_add on %s, which must "
                                "release the lock as many times as they acquire it, so "
                                "thread A must hold nothing now", what));
    ACQUIRE(b, l, 1, 0, ctx("thread A's tree_sum and tree_add on %s returned: they must "
                            "leave the lock free", what));
    RELEASE(b, l, 1, 0, "thread B acquired once");
}

/* ---- tree suite ---------------------------------------------------------- */

static void test_sum_of_empty_tree_is_zero_and_add_changes_nothing(void)
{
    rlock_t *l = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B');
    long got = SUM(a, l, NULL, "the empty tree (NULL)");
    KIT_CHECK(got == 0, "tree_sum(l, NULL): expected 0 (the empty tree), got %ld", got);
    ADD(a, l, NULL, 5, "the empty tree (NULL)");
    RELEASE(a, l, 1, EPERM, "thread A only called tree_sum and tree_add on the empty tree, "
            "which must release what they acquire");
    ACQUIRE(b, l, 1, 0, "tree_sum(l, NULL) and tree_add(l, NULL, 5) returned: they must "
            "leave the lock free");
    RELEASE(b, l, 1, 0, "thread B acquired once");
    agent_end(a);
    agent_end(b);
    rlock_destroy(l);
}

static void test_sum_and_add_on_a_single_node(void)
{
    rlock_t *l = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B');
    struct tree node = { 42, NULL, NULL };
    long got = SUM(a, l, &node, "a single node");
    KIT_CHECK(got == 42, "tree_sum on a single node holding 42: expected 42, got %ld", got);
    ADD(a, l, &node, -50, "a single node");
    KIT_CHECK(node.value == -8, "tree_add(l, t, -50) on a single node holding 42: it must "
              "hold -8, holds %ld", node.value);
    KIT_CHECK(node.left == NULL && node.right == NULL,
              "tree_add on a single node gave it children: it must change values only");
    got = SUM(a, l, &node, "a single node");
    KIT_CHECK(got == -8, "tree_sum on a single node holding -8: expected -8, got %ld", got);
    RELEASE(a, l, 1, EPERM, "thread A only called tree_sum and tree_add, which must "
            "release the lock as many times as they acquire it");
    ACQUIRE(b, l, 1, 0, "thread A's tree_sum and tree_add returned: they must leave the "
            "lock free");
    RELEASE(b, l, 1, 0, "thread B acquired once");
    agent_end(a);
    agent_end(b);
    rlock_destroy(l);
}

static void test_sum_and_add_on_balanced_and_random_trees(void)
{
    rlock_t *l = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B');
    const size_t largest = (size_t)size_for(1023, 7);
    const int nadds = (int)size_for(2, 1);
    for (size_t n = 3; n <= largest; n = 2 * n + 1) {   /* perfect: 3, 7, ..., 1023 nodes */
        struct tree *t = tree_new(PERFECT, n, 0);
        char what[80];
        snprintf(what, sizeof what, "%s %d levels deep", shape_name(PERFECT),
                 (int)__builtin_popcountl(n));
        check_sum_and_add(a, b, l, t, n, nadds, what);
        free(t);
    }
    unsigned seed = (unsigned)kit_now_ms();
    const int nrandom = (int)size_for(5, 1);
    for (int k = 0; k < nrandom; k++) {
        size_t n = 2 + (size_t)k * (size_t)size_for(150, 10);
        struct tree *t = tree_new(RANDOM, n, seed + (unsigned)k);
        check_sum_and_add(a, b, l, t, n, nadds, shape_name(RANDOM));
        free(t);
    }
    agent_end(a);
    agent_end(b);
    rlock_destroy(l);
}

static void test_sum_and_add_go_thousands_of_levels_deep(void)
{
    static const enum shape shapes[] = { LEFT_CHAIN, RIGHT_CHAIN, ZIGZAG };
    const size_t depth = (size_t)size_for(2000, 5);
    rlock_t *l = new_lock();
    struct agent *a = agent_new('A'), *b = agent_new('B');
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        struct tree *t = tree_new(shapes[k], depth, 0);
        char what[120];
        snprintf(what, sizeof what, "%s, %zu levels deep (the lock is held %zu times at "
                 "the deepest point)", shape_name(shapes[k]), depth, depth);
        check_sum_and_add(a, b, l, t, depth, 1, what);
        free(t);
    }
    agent_end(a);
    agent_end(b);
    rlock_destroy(l);
}

/* ---- problems seen by worker threads ------------------------------------ */

struct problems {
    pthread_mutex_t lock;
    long count;         /* guarded by lock */
    char first[700];    /* guarded by lock: the first problem, as the student reads it */
};

static void problems_init(struct problems *p)
{
    must(pthread_mutex_init(&p->lock, NULL), "pthread_mutex_init");
    p->count = 0;
    p->first[0] = '\0';
}

static void note_problem(struct problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_problem(struct problems *p, const char *fmt, ...)
{
    lock(&p->lock);
    if (p->count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->first, sizeof p->first, fmt, ap);
        va_end(ap);
    }
    unlock(&p->lock);
}

static long problem_count(struct problems *p)
{
    lock(&p->lock);
    long n = p->count;
    unlock(&p->lock);
    return n;
}

/* Called by the test's thread once the workers are joined. */
static void report_problems(struct problems *p)
{
    KIT_CHECK(p->count == 0, "%s (%ld such problem%s in this run)", p->first,
              p->count, p->count == 1 ? "" : "s");
}

/* ---- running a crew of threads under a deadline ------------------------- */

/* Bumped by crew workers after each operation, so that run_crew can tell a
 * slow crew from a stuck one. One crew runs at a time. */
static atomic_long crew_progress;

static void crew_tick(void)
{
    atomic_fetch_add_explicit(&crew_progress, 1, memory_order_relaxed);
}

struct crew {
    void (*fn)(int i, void *arg);
    void *arg;
    pthread_mutex_t lock;
    int finished;       /* guarded by lock: threads that returned from fn */
};

struct crew_member {
    struct crew *crew;
    int i;
    int cpu;            /* the CPU to run on, or -1 to leave it to the scheduler */
};

static void *crew_thread(void *p)
{
    struct crew_member *m = p;
    if (m->cpu >= 0) {
        /* Best effort: if it fails the threads only overlap less often. */
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(m->cpu, &one);
        (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
    m->crew->fn(m->i, m->crew->arg);
    lock(&m->crew->lock);
    m->crew->finished++;
    unlock(&m->crew->lock);
    return NULL;
}

static int crew_finished(struct crew *c)
{
    lock(&c->lock);
    int n = c->finished;
    unlock(&c->lock);
    return n;
}

static int usable_cpus(int *cpus, int max)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

/* Runs fn(i, arg) for i = 0 .. n-1, each in its own thread, and waits for all
 * of them, giving up after wait_ms in which none of them called crew_tick()
 * (and the test's thread looked often enough to know: see LOOK_MS).
 * Returns 0 when all returned (they are joined).
 * Otherwise returns how many are still running: they are detached and left
 * running with `arg` (the caller must not free it, nor the lock).
 *
 * In plain runs thread i is pinned to CPU i mod (the number of CPUs): left to
 * itself the scheduler often keeps threads that yield a lot on one CPU, where
 * they only take turns, and some bugs show only when threads truly overlap.
 * Not with schedule noise, which interleaves threads by itself: there a thread
 * pinned to a CPU that busy programs share would pay for every yield. */
static int run_crew(int n, void (*fn)(int i, void *arg), void *arg, long wait_ms)
{
    int cpus[64];
    int ncpus = n > 1 && kit_time_factor() == 1 ? usable_cpus(cpus, 64) : 0;
    struct crew *c = calloc(1, sizeof *c);
    struct crew_member *members = calloc((size_t)n, sizeof *members);
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    if (!c || !members || !tids)
        abort();
    c->fn = fn;
    c->arg = arg;
    must(pthread_mutex_init(&c->lock, NULL), "pthread_mutex_init");
    for (int i = 0; i < n; i++) {
        int cpu = ncpus > 1 ? cpus[i % ncpus] : -1;
        members[i] = (struct crew_member){ c, i, cpu };
        must(pthread_create(&tids[i], NULL, crew_thread, &members[i]), "pthread_create");
    }
    long idle_since = kit_now_ms(), looks = 0;
    long seen = atomic_load(&crew_progress);
    while (crew_finished(c) < n) {
        kit_sleep_ms(2);
        long now = atomic_load(&crew_progress);
        if (now != seen) {
            seen = now;
            idle_since = kit_now_ms();
            looks = 0;
        } else if (++looks >= wait_ms / LOOK_MS && kit_now_ms() - idle_since >= wait_ms) {
            break;
        }
    }
    int stuck = n - crew_finished(c);
    if (stuck > 0) {
        for (int i = 0; i < n; i++)
            must(pthread_detach(tids[i]), "pthread_detach");
        free(tids);
        return stuck;   /* c and members stay: the stuck threads use them */
    }
    for (int i = 0; i < n; i++)
        must(pthread_join(tids[i], NULL), "pthread_join");
    must(pthread_mutex_destroy(&c->lock), "pthread_mutex_destroy");
    free(tids);
    free(members);
    free(c);
    return 0;
}

/* How long a worker goes on: natively for a time, under a race detector for
 * a number of steps (the detector needs coverage, not volume). */
struct pace {
    long until_ms;
    long steps;
};

static struct pace pace_for(long native_ms, long race_steps)
{
    if (kit_race_mode())
        return (struct pace){ 0, race_steps };
    return (struct pace){ kit_now_ms() + native_ms, 0 };
}

static bool keep_going(const struct pace *p, long done)
{
    return p->steps > 0 ? done < p->steps : kit_now_ms() < p->until_ms;
}

/* ---- threads suite: one holder at a time --------------------------------- */

struct stress {
    rlock_t *l;
    struct pace pace;
    unsigned seed;
    atomic_int inside;      /* threads between their first acquire and last release */
    long counter;           /* guarded by l: +1 per critical section */
    long bumps[64];         /* bumps[i]: thread i's counter updates; read after the join */
    struct problems problems;
};

/* Thread i: acquire once, check it is alone, go deeper, bump the counter,
 * come back up, check it is still alone, release the last hold. */
static void stress_worker(int i, void *arg)
{
    struct stress *s = arg;
    unsigned seed = s->seed + 7919u * (unsigned)i;
    for (long k = 0; keep_going(&s->pace, k); k++) {
        int depth = 1 + rand_r(&seed) % 4;
        int r = rlock_acquire(s->l);
        if (r != 0) {
            note_problem(&s->problems, "rlock_acquire returned %s: expected 0", result_name(r));
            break;
        }
        int others = atomic_fetch_add(&s->inside, 1);
        if (others != 0)
            note_problem(&s->problems, "a thread returned from rlock_acquire while %d "
                         "other thread(s) held the lock: only one thread may hold it "
                         "at a time. A woken waiter must check again that the lock is "
                         "free (a while loop around the wait, not an if), and take it "
                         "in the same critical section as that check", others);
        for (int d = 1; d < depth; d++)
            if ((r = rlock_acquire(s->l)) != 0)
                note_problem(&s->problems, "the holder's re-entrant rlock_acquire "
                             "returned %s: expected 0", result_name(r));
        long v = s->counter;            /* a read-modify-write that loses updates */
        if (k % 8 == 0)                 /* if two threads are ever inside at once */
            sched_yield();
        s->counter = v + 1;
        s->bumps[i]++;
        for (int d = 1; d < depth; d++)
            if ((r = rlock_release(s->l)) != 0)
                note_problem(&s->problems, "the holder released one of its %d acquires: "
                             "expected 0, got %s", depth, result_name(r));
        others = atomic_load(&s->inside) - 1;
        if (others != 0)
            note_problem(&s->problems, "a thread that acquired the lock %d times and had "
                         "released it %d times found %d other thread(s) inside: the lock "
                         "was freed too early. It is free only after as many releases as "
                         "acquires", depth, depth - 1, others);
        atomic_fetch_sub(&s->inside, 1);
        if ((r = rlock_release(s->l)) != 0)
            note_problem(&s->problems, "the holder's last release returned %s: expected 0",
                         result_name(r));
        /* Now this thread holds nothing: a release must be refused, whoever
         * holds the lock. (Not under a race detector: a lock built on a
         * recursive pthread mutex would be told it unlocks a lock it does
         * not hold, which is the point, but is reported as misuse.) */
        if (k % 16 == 15 && !kit_race_mode() && (r = rlock_release(s->l)) != EPERM)
            note_problem(&s->problems, "a thread that had released all its acquires "
                         "called rlock_release again, while other threads used the lock: "
                         "expected EPERM, got %s. Only the owner may release; check "
                         "the owner under the lock's internal mutex", result_name(r));
        crew_tick();
        if (problem_count(&s->problems) > 0)
            break;
    }
}

static void test_only_one_thread_holds_the_lock_at_a_time(void)
{
    static const struct { int n; long ms; } native[] = { { 2, 80 }, { 8, 60 }, { 64, 60 } };
    static const struct { int n; long steps; } race[] = { { 2, 40 }, { 4, 12 } };
    bool racing = kit_race_mode();
    size_t nphases = racing ? 2 : 3;
    for (size_t p = 0; p < nphases; p++) {
        int n = racing ? race[p].n : native[p].n;
        struct stress *s = calloc(1, sizeof *s);
        if (!s)
            abort();
        s->l = new_lock();
        s->pace = pace_for(racing ? 0 : native[p].ms, racing ? race[p].steps : 0);
        s->seed = (unsigned)kit_now_ms() * 2654435761u;
        atomic_init(&s->inside, 0);
        problems_init(&s->problems);
        long wait = deadline_ms();
        int stuck = run_crew(n, stress_worker, s, wait);
        KIT_REQUIRE(stuck == 0, "%d threads took the lock (1 to 4 times deep) and released "
                    "it, over and over, until %d of them were stuck: for %ld ms none "
                    "made any progress, stuck in rlock_acquire. Either a thread that holds the lock waits "
                    "for itself when it acquires again (a plain mutex is not "
                    "re-entrant), or a waiting thread is never woken. " WAKE_HELP ".",
                    n, stuck, wait);
        report_problems(&s->problems);
        long total = 0;
        for (int i = 0; i < n; i++)
            total += s->bumps[i];
        KIT_CHECK(s->counter == total, "%d threads each added 1 to a counter while holding "
                  "the lock, %ld times in all, and the counter ended at %ld: %ld update(s) "
                  "lost, so two threads held the lock at once", n, total, s->counter,
                  total - s->counter);
        bool failed = problem_count(&s->problems) > 0 || s->counter != total;
        rlock_destroy(s->l);
        free(s);
        if (failed)
            return;
    }
}

/* ---- threads suite: tree_sum sees whole tree_adds ------------------------ */

struct snapshot {
    rlock_t *l;
    struct tree *root;
    long n;                 /* nodes in the tree */
    long delta;             /* what each tree_add adds to every node */
    int nadders;            /* threads 0..nadders-1 add; the others sum */
    struct pace pace;
    long adds[64];          /* adds[i] written by adder i only, read after the join */
    long sums[64];          /* sums[i] written by summer i only */
    struct problems problems;
};

static void snapshot_worker(int i, void *arg)
{
    struct snapshot *s = arg;
    long k = 0;
    if (i < s->nadders) {
        for (; keep_going(&s->pace, k); k++) {
            tree_add(s->l, s->root, s->delta);
            crew_tick();
        }
        s->adds[i] = k;
        return;
    }
    const long whole = s->n * s->delta;     /* what one whole tree_add adds */
    for (; keep_going(&s->pace, k); k++) {
        long sum = tree_sum(s->l, s->root);
        crew_tick();
        if (sum % whole != 0 || sum < 0) {
            note_problem(&s->problems, "tree_sum returned %ld while tree_add added %ld to "
                         "each of the %ld nodes (all 0 at the start): every sum must be a "
                         "multiple of %ld. tree_sum saw %ld node(s) with one more tree_add "
                         "than the others: it ran in the middle of a tree_add. The "
                         "outermost call of each must hold the lock for the whole walk "
                         "(every call acquires on entry and releases on return, never in "
                         "between), and tree_sum must take the lock too",
                         sum, s->delta, s->n, whole, (sum % whole + whole) % whole / s->delta);
            break;
        }
        if (k % 4 == 3) {
            /* Holding the lock ourselves, two sums must agree: nothing can
             * change the tree in between, and tree_sum just re-enters. */
            if (rlock_acquire(s->l) != 0)
                abort();
            long a = tree_sum(s->l, s->root), b = tree_sum(s->l, s->root);
            if (rlock_release(s->l) != 0)
                abort();
            if (a != b) {
                note_problem(&s->problems, "a thread that held the lock called tree_sum "
                             "twice and got %ld, then %ld: while it holds the lock no "
                             "tree_add may run", a, b);
                break;
            }
        }
    }
    s->sums[i] = k;
}

static void test_tree_sum_sees_all_or_none_of_each_tree_add(void)
{
    /* Small trees under noise: a tree_add or tree_sum that has begun when
     * the time is up must still finish, lock by lock. */
    static const struct { enum shape shape; long n, noisy_n; int adders, summers; long ms; }
    native[] = {
        { PERFECT, 127, 7, 1, 1, 70 },
        { LEFT_CHAIN, 300, 20, 1, 2, 70 },
        { RANDOM, 200, 12, 2, 2, 60 },
    };
    static const struct { enum shape shape; long n; int adders, summers; long steps; } race[] = {
        { PERFECT, 15, 1, 1, 8 }, { RANDOM, 12, 2, 1, 4 },
    };
    bool racing = kit_race_mode();
    size_t nphases = racing ? 2 : 3;
    for (size_t p = 0; p < nphases; p++) {
        enum shape shape = racing ? race[p].shape : native[p].shape;
        long n = racing ? race[p].n : size_for(native[p].n, native[p].noisy_n);
        int na = racing ? race[p].adders : native[p].adders;
        int ns = racing ? race[p].summers : native[p].summers;
        struct snapshot *s = calloc(1, sizeof *s);
        if (!s)
            abort();
        s->l = new_lock();
        s->root = tree_new(shape, (size_t)n, (unsigned)kit_now_ms());
        s->n = n;
        s->delta = 3;
        s->nadders = na;
        s->pace = pace_for(racing ? 0 : native[p].ms, racing ? race[p].steps : 0);
        problems_init(&s->problems);
        long wait = deadline_ms();
        int stuck = run_crew(na + ns, snapshot_worker, s, wait);
        KIT_REQUIRE(stuck == 0, "%d thread(s) called tree_add and %d called tree_sum on %s "
                    "of %ld nodes, until %d of them were stuck: for %ld ms no call "
                    "returned. If "
                    "tree_sum never returns even alone, the lock is not re-entrant: "
                    "tree_sum takes it on entry to every call, and a plain mutex makes "
                    "the second acquire by the same thread wait for itself forever. "
                    "Otherwise a waiting thread is never woken. " WAKE_HELP ".",
                    na, ns, shape_name(shape), n, stuck, wait);
        report_problems(&s->problems);
        long adds = 0;
        for (int i = 0; i < na; i++)
            adds += s->adds[i];
        long wrong = 0, first = 0;
        for (long i = 0; i < n; i++)
            if (s->root[i].value != adds * s->delta && wrong++ == 0)
                first = i;
        KIT_CHECK(wrong == 0, "after %ld tree_add(l, t, %ld) calls in %d thread(s), while "
                  "%d thread(s) called tree_sum, every node must hold %ld, but %ld "
                  "node(s) do not (node %ld holds %ld): updates were lost or doubled",
                  adds, s->delta, na, ns, adds * s->delta, wrong, first,
                  s->root[first].value);
        bool failed = problem_count(&s->problems) > 0 || wrong > 0;
        rlock_destroy(s->l);
        free(s->root);
        free(s);
        if (failed)
            return;
    }
}

/* ---- the suites ---------------------------------------------------------- */

static CU_TestInfo rlock_tests[] = {
    { "test_new_lock_is_free_and_locks_are_independent",
      test_new_lock_is_free_and_locks_are_independent },
    { "test_holder_can_acquire_many_times", test_holder_can_acquire_many_times },
    { "test_other_thread_waits_until_every_acquire_is_released",
      test_other_thread_waits_until_every_acquire_is_released },
    { "test_release_by_non_owner_is_eperm_and_changes_nothing",
      test_release_by_non_owner_is_eperm_and_changes_nothing },
    { "test_release_of_a_free_lock_is_eperm", test_release_of_a_free_lock_is_eperm },
    { "test_freed_lock_passes_from_thread_to_thread",
      test_freed_lock_passes_from_thread_to_thread },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo tree_tests[] = {
    { "test_sum_of_empty_tree_is_zero_and_add_changes_nothing",
      test_sum_of_empty_tree_is_zero_and_add_changes_nothing },
    { "test_sum_and_add_on_a_single_node", test_sum_and_add_on_a_single_node },
    { "test_sum_and_add_on_balanced_and_random_trees",
      test_sum_and_add_on_balanced_and_random_trees },
    { "test_sum_and_add_go_thousands_of_levels_deep",
      test_sum_and_add_go_thousands_of_levels_deep },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    { "test_only_one_thread_holds_the_lock_at_a_time",
      test_only_one_thread_holds_the_lock_at_a_time },
    { "test_tree_sum_sees_all_or_none_of_each_tree_add",
      test_tree_sum_sees_all_or_none_of_each_tree_add },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "rlock", NULL, NULL, NULL, NULL, rlock_tests },
    { "tree", NULL, NULL, NULL, NULL, tree_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
