/* test_tlock.c - tests of 06-timeout-lock (tlock.h).
 *
 * Three suites: "acquire" checks tlock_acquire and tlock_release one call at
 * a time, above all the time-outs (never earlier than asked, never much
 * later); "threads" runs many threads on one lock and checks that it admits
 * one holder at a time and can be released by any thread; "pair" checks
 * tlock_acquire_pair: both locks or neither, no deadlock against threads
 * taking the same locks in the opposite order, one time-out for the whole call.
 *
 * Every call that may hang runs in a helper thread under a deadline (see
 * crew_wait): a hang is reported with an explanation instead of a bare
 * time-out. Worker threads never call CUnit (it is not thread-safe); they
 * write what went wrong into a struct problems that the test's own thread
 * reports after joining them.
 *
 * Timing: a wait may end later than asked (the waiting thread must be
 * scheduled again), never earlier. On a 2-core virtual machine with both
 * cores busy with other programs, time-outs were measured ending up to
 * ~40 ms late, up to ~100 ms with four busy programs, and once in a few
 * hundred runs a thread was scheduled ~240 ms late; late_ms() allows 500 ms
 * natively. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* pthread_setaffinity_np */
#endif
#include "kit_test.h"
#include "tlock.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How late a time-out may end (ms): see the top of the file. Under a race
 * detector every thread runs many times slower. */
static long late_ms(void)
{
    return kit_scale(500, 5000);
}

/* How long a call or a crew of threads that should return may take before
 * we call it a hang (ms). Correct code needs a fraction of this: the pair
 * stress tests, the slowest, took up to ~1.7 s with schedule noise on a
 * 2-core machine at load average 18. */
static long hang_ms(void)
{
    return kit_scale(4000, 20000);
}

static long now_us(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

static void must(int err, const char *what)
{
    if (err != 0) {
        fprintf(stderr, "test harness: %s failed: %s\n", what, strerror(err));
        abort();
    }
}

/* "0", "ETIMEDOUT", "EPERM", ... for the messages. */
static const char *err_name(int err)
{
    switch (err) {
    case 0: return "0";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EBUSY: return "EBUSY";
    case EDEADLK: return "EDEADLK";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    default: return "an unexpected value";
    }
}

/* What an unexpected status usually means, for the messages. */
static const char *err_hint(int err)
{
    switch (err) {
    case EINVAL:
        return " EINVAL from a timed wait usually means a deadline whose tv_nsec is "
               "not below 1000000000: carry whole seconds from tv_nsec into tv_sec.";
    case EBUSY:
        return " EBUSY is what pthread_mutex_trylock says; tlock_acquire reports a "
               "lock it could not get as ETIMEDOUT.";
    case EPERM:
        return " A pthread mutex refuses (EPERM) to be unlocked by a thread that did "
               "not lock it; a Python Lock may be released by any thread.";
    default:
        return "";
    }
}

static tlock_t *new_lock(void)
{
    tlock_t *l = tlock_create();
    KIT_REQUIRE(l != NULL, "tlock_create() returned NULL");
    return l;
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
    must(pthread_mutex_lock(&p->lock), "pthread_mutex_lock");
    if (p->count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->first, sizeof p->first, fmt, ap);
        va_end(ap);
    }
    must(pthread_mutex_unlock(&p->lock), "pthread_mutex_unlock");
}

static long problem_count(struct problems *p)
{
    must(pthread_mutex_lock(&p->lock), "pthread_mutex_lock");
    long n = p->count;
    must(pthread_mutex_unlock(&p->lock), "pthread_mutex_unlock");
    return n;
}

/* Called by the test's thread once the workers are joined. */
static void report_problems(struct problems *p)
{
    KIT_CHECK(p->count == 0, "%s (%ld such problem%s in this run)", p->first,
              p->count, p->count == 1 ? "" : "s");
}

/* ---- running threads under a deadline ----------------------------------- */

struct crew {
    void (*fn)(int i, void *arg);
    void *arg;
    int n;              /* threads started */
    pthread_t *tids;
    struct crew_member *members;
    atomic_int finished;    /* threads that returned from fn */
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
        /* Best effort: if it fails the test is only less likely to overlap. */
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(m->cpu, &one);
        (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
    m->crew->fn(m->i, m->crew->arg);
    atomic_fetch_add(&m->crew->finished, 1);
    return NULL;
}

/* Fills cpus[] with the CPUs this process may run on; returns how many. */
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

/* Starts fn(i, arg) for i = 0 .. n-1, each in its own thread, and returns at
 * once. With `spread` (and natively), thread i is pinned to CPU i mod the
 * number of CPUs: left to itself, the scheduler often keeps threads that
 * yield a lot on one CPU, where they only take turns, and bugs show only
 * when threads truly run at the same time. */
static struct crew *crew_start(int n, void (*fn)(int i, void *arg), void *arg, bool spread)
{
    int cpus[64];
    int ncpus = spread && n > 1 && !kit_race_mode() ? usable_cpus(cpus, 64) : 0;
    struct crew *c = calloc(1, sizeof *c);
    if (!c)
        abort();
    c->members = calloc((size_t)n, sizeof *c->members);
    c->tids = calloc((size_t)n, sizeof *c->tids);
    if (!c->members || !c->tids)
        abort();
    c->fn = fn;
    c->arg = arg;
    atomic_init(&c->finished, 0);
    int err = 0;
    for (; c->n < n; c->n++) {
        int cpu = ncpus > 1 ? cpus[c->n % ncpus] : -1;
        c->members[c->n] = (struct crew_member){ c, c->n, cpu };
        err = pthread_create(&c->tids[c->n], NULL, crew_thread, &c->members[c->n]);
        if (err)
            break;
    }
    if (err) {
        for (int i = 0; i < c->n; i++)
            pthread_join(c->tids[i], NULL);
        KIT_REQUIRE(err == 0, "test harness: could not start thread %d of %d: %s",
                    c->n + 1, n, strerror(err));
    }
    return c;
}

static int crew_finished(struct crew *c)
{
    return atomic_load(&c->finished);
}

/* Waits at most limit_ms for the crew. Returns 0 when all returned (they are
 * joined and the crew is freed: nothing is left behind). Otherwise returns
 * how many are still running: they are detached and left running (they are
 * stuck), and the crew and its `arg` are leaked on purpose, so the caller
 * must not free arg or any lock the threads may still use. */
static int crew_wait(struct crew *c, long limit_ms)
{
    long deadline = kit_now_ms() + limit_ms;
    struct timespec pause = { 0, 200000 };   /* 0.2 ms between looks */
    while (crew_finished(c) < c->n && kit_now_ms() < deadline)
        nanosleep(&pause, NULL);
    int stuck = c->n - crew_finished(c);
    if (stuck > 0) {
        for (int i = 0; i < c->n; i++)
            pthread_detach(c->tids[i]);
        return stuck;
    }
    for (int i = 0; i < c->n; i++)
        must(pthread_join(c->tids[i], NULL), "pthread_join");
    free(c->tids);
    free(c->members);
    free(c);
    return 0;
}

/* Workers run for a time natively, and for a fixed number of steps under a
 * race detector, where every step is hundreds of times slower. */
struct pace {
    long until_ms;      /* native: stop at this kit_now_ms() */
    long steps;         /* race mode: stop after this many steps */
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

/* ---- one call under a deadline ------------------------------------------ */

enum call_kind { CALL_ACQUIRE, CALL_RELEASE, CALL_PAIR };

struct call {
    enum call_kind kind;
    tlock_t *a, *b;
    long timeout_ms;
    int result;         /* written by the helper thread, read after the join */
    long elapsed_us;
};

static void call_run(int i, void *arg)
{
    (void)i;
    struct call *c = arg;
    long start = now_us();
    switch (c->kind) {
    case CALL_ACQUIRE:
        c->result = tlock_acquire(c->a, c->timeout_ms);
        break;
    case CALL_RELEASE:
        c->result = tlock_release(c->a);
        break;
    case CALL_PAIR:
        c->result = tlock_acquire_pair(c->a, c->b, c->timeout_ms);
        break;
    }
    c->elapsed_us = now_us() - start;
}

static void describe_call(const struct call *c, char *buf, size_t size)
{
    switch (c->kind) {
    case CALL_ACQUIRE:
        snprintf(buf, size, "tlock_acquire(l, %ld)", c->timeout_ms);
        break;
    case CALL_RELEASE:
        snprintf(buf, size, "tlock_release(l)");
        break;
    case CALL_PAIR:
        snprintf(buf, size, "tlock_acquire_pair(a, %s, %ld)", c->a == c->b ? "a" : "b",
                 c->timeout_ms);
        break;
    }
}

/* Runs one call in a helper thread, so that a call that never returns ends
 * the test with an explanation. `why_stuck` says what a hang means here.
 * Returns the call's result; *elapsed_us (if not NULL) gets its duration. */
static int call_tlock(enum call_kind kind, tlock_t *a, tlock_t *b, long timeout_ms,
                      long *elapsed_us, const char *why_stuck, unsigned line)
{
    struct call *c = malloc(sizeof *c);
    if (!c)
        abort();
    *c = (struct call){ kind, a, b, timeout_ms, -1, 0 };
    long limit = hang_ms() + (timeout_ms > 0 && timeout_ms < 100000 ? timeout_ms : 0);
    if (crew_wait(crew_start(1, call_run, c, false), limit) != 0) {
        char what[100];
        describe_call(c, what, sizeof what);
        /* c and the locks stay allocated: the stuck thread still uses them. */
        kit_fail_at(__FILE__, line, true, "%s did not return within %ld ms. %s", what,
                    limit, why_stuck);
    }
    int result = c->result;
    if (elapsed_us)
        *elapsed_us = c->elapsed_us;
    free(c);
    return result;
}

#define ACQUIRE(l, t, elapsed, why) \
    call_tlock(CALL_ACQUIRE, (l), NULL, (t), (elapsed), (why), __LINE__)
#define RELEASE(l) \
    call_tlock(CALL_RELEASE, (l), NULL, 0, NULL, \
               "tlock_release never waits: it frees the lock and wakes a waiter.", __LINE__)
#define PAIR(a, b, t, elapsed, why) \
    call_tlock(CALL_PAIR, (a), (b), (t), (elapsed), (why), __LINE__)

#define ZERO_HANGS                                                              \
    "A time-out of 0 tries once and returns ETIMEDOUT at once if the lock is "  \
    "held; a wait for ever is only for a negative time-out."
#define FREE_HANGS                                                              \
    "The lock was free: whatever the time-out, tlock_acquire must take it at "  \
    "once."

/* Checks that a call returned `expected`, naming the call and the reason. */
#define CHECK_STATUS(got, expected, call, why)                                  \
    do {                                                                        \
        int got_ = (got);                                                       \
        KIT_CHECK(got_ == (expected), "%s: expected %s, got %s (%d): %s.%s",    \
                  (call), err_name(expected), err_name(got_), got_, (why),      \
                  got_ == (expected) ? "" : err_hint(got_));                    \
    } while (0)

/* Takes a lock that the test knows to be free (from a helper thread). */
static void hold(tlock_t *l, const char *name)
{
    int st = ACQUIRE(l, 0, NULL, ZERO_HANGS);
    KIT_REQUIRE(st == 0, "tlock_acquire(%s, 0) on a free lock: expected 0, got %s (%d)",
                name, err_name(st), st);
}

/* Releases a lock that the test knows to be held, from a helper thread: not
 * the thread that acquired it, as Python allows. */
static void unhold(tlock_t *l, const char *name)
{
    int st = RELEASE(l);
    KIT_REQUIRE(st == 0, "tlock_release(%s) of a held lock, from another thread than "
                "the one that acquired it: expected 0, got %s (%d).%s", name,
                err_name(st), st, err_hint(st));
}

/* Checks that l is free now; leaves it as it was. */
static void check_free(tlock_t *l, const char *name, const char *after)
{
    int st = ACQUIRE(l, 0, NULL, ZERO_HANGS);
    KIT_CHECK(st == 0, "after %s, lock %s should be free, but tlock_acquire(%s, 0) "
              "returned %s (%d): the lock was left held", after, name, name,
              err_name(st), st);
    if (st == 0)
        unhold(l, name);
}

/* Checks that l is held now; leaves it as it was. */
static void check_held(tlock_t *l, const char *name, const char *after)
{
    int st = ACQUIRE(l, 0, NULL, ZERO_HANGS);
    KIT_CHECK(st == ETIMEDOUT, "after %s, lock %s should be held, but "
              "tlock_acquire(%s, 0) returned %s (%d)", after, name, name, err_name(st), st);
    if (st == 0)
        unhold(l, name);
}

/* ---- background waiters ------------------------------------------------- */

/* Threads that each call tlock_acquire on their own lock and time-out while
 * the test's thread watches. */
struct waiters {
    int n;
    tlock_t *locks[8];      /* lock of waiter i; several may share one */
    long timeout_ms[8];
    atomic_int result[8];   /* -1 while the call runs */
    atomic_long start_us[8];    /* now_us() when the call began */
    atomic_long end_us[8];      /* now_us() when it returned */
};

static void waiter_run(int i, void *arg)
{
    struct waiters *w = arg;
    atomic_store(&w->start_us[i], now_us());
    int st = tlock_acquire(w->locks[i], w->timeout_ms[i]);
    atomic_store(&w->end_us[i], now_us());
    atomic_store(&w->result[i], st);
}

static struct waiters *waiters_new(void)
{
    struct waiters *w = calloc(1, sizeof *w);
    KIT_REQUIRE(w != NULL, "test harness: out of memory");
    return w;
}

static void waiters_add(struct waiters *w, tlock_t *l, long timeout_ms)
{
    w->locks[w->n] = l;
    w->timeout_ms[w->n] = timeout_ms;
    atomic_init(&w->result[w->n], -1);
    atomic_init(&w->start_us[w->n], 0);
    atomic_init(&w->end_us[w->n], 0);
    w->n++;
}

static struct crew *waiters_start(struct waiters *w)
{
    return crew_start(w->n, waiter_run, w, false);
}

/* How long waiter i's call took (us); only once it returned. */
static long waiter_elapsed_us(struct waiters *w, int i)
{
    return atomic_load(&w->end_us[i]) - atomic_load(&w->start_us[i]);
}

static int waiters_returned(struct waiters *w)
{
    int n = 0;
    for (int i = 0; i < w->n; i++)
        n += atomic_load(&w->result[i]) != -1;
    return n;
}

/* Checks waiters that must all time out on held locks: ETIMEDOUT, no sooner
 * than asked and not much later. Each kind of problem is reported once,
 * listing the calls it concerns. Frees w; if waiters are stuck, ends the
 * test instead (w and the locks stay allocated: the stuck threads use them,
 * and destroying a lock that threads wait for would hang). */
static void check_timed_out(struct waiters *w, struct crew *c)
{
    long longest = 0;
    for (int i = 0; i < w->n; i++)
        longest = w->timeout_ms[i] > longest ? w->timeout_ms[i] : longest;
    long limit = longest + late_ms() + hang_ms();
    int stuck = crew_wait(c, limit);
    char stuck_list[200] = "", status_list[300] = "", early_list[300] = "", late_list[300] = "";
    int nstuck = 0, nstatus = 0, nearly = 0, nlate = 0, status = 0;
    for (int i = 0; i < w->n; i++) {
        int st = atomic_load(&w->result[i]);
        long t = w->timeout_ms[i], us = waiter_elapsed_us(w, i);
        char item[80];
        if (st == -1) {
            snprintf(item, sizeof item, "%s%ld", nstuck++ ? ", " : "", t);
            strncat(stuck_list, item, sizeof stuck_list - strlen(stuck_list) - 1);
            continue;
        }
        if (st != ETIMEDOUT) {
            snprintf(item, sizeof item, "%s%ld -> %s (%d)", nstatus++ ? ", " : "", t,
                     err_name(st), st);
            strncat(status_list, item, sizeof status_list - strlen(status_list) - 1);
            status = st;
        }
        /* A deadline never comes early; 1 ms allows for the clock's tick. */
        if (us < t * 1000 - 1000) {
            snprintf(item, sizeof item, "%s%ld ms after %.1f ms", nearly++ ? ", " : "",
                     t, us / 1000.0);
            strncat(early_list, item, sizeof early_list - strlen(early_list) - 1);
        } else if (us > (t + late_ms()) * 1000) {
            snprintf(item, sizeof item, "%s%ld ms after %.1f ms", nlate++ ? ", " : "",
                     t, us / 1000.0);
            strncat(late_list, item, sizeof late_list - strlen(late_list) - 1);
        }
    }
    KIT_CHECK(nstatus == 0, "tlock_acquire(l, t) on a lock held all along must time out "
              "with ETIMEDOUT, but returned (t -> status): %s.%s", status_list,
              err_hint(status));
    KIT_CHECK(nearly == 0, "tlock_acquire(l, t) on a held lock returned before its "
              "time-out: %s. Usual causes: passing the time-out itself (a relative "
              "time) to pthread_cond_timedwait, which wants an absolute deadline (now + "
              "time-out); a deadline on another clock than the condition variable's "
              "(CLOCK_MONOTONIC is far behind CLOCK_REALTIME); dropping the "
              "milliseconds below one second.", early_list);
    KIT_CHECK(nlate == 0, "tlock_acquire(l, t) on a held lock returned much later than "
              "its time-out (%ld ms late allowed): %s. Is the deadline computed once, "
              "as now + the time-out, on the clock the wait uses?", late_ms(), late_list);
    KIT_REQUIRE(nstuck == 0, "tlock_acquire(l, t) on a held lock, for t = %s ms, had not "
              "returned after %ld ms: it must give up and return ETIMEDOUT after t ms. "
              "If your wait uses pthread_cond_timedwait, the condition variable and "
              "your deadline must use the same clock (by default a condition variable "
              "reads deadlines as CLOCK_REALTIME: with a CLOCK_MONOTONIC deadline, call "
              "pthread_condattr_setclock); a deadline on the wrong clock can lie "
              "decades away.", stuck_list, limit);
    (void)stuck;    /* stuck > 0 exactly when nstuck > 0 */
    free(w);
}

/* ---- acquire suite ------------------------------------------------------ */

static void test_new_lock_is_free_and_admits_one_holder(void)
{
    tlock_t *l = new_lock();
    CHECK_STATUS(ACQUIRE(l, 0, NULL, ZERO_HANGS), 0, "tlock_acquire(l, 0) on a new lock",
                 "a new lock is free");
    CHECK_STATUS(ACQUIRE(l, 0, NULL, ZERO_HANGS), ETIMEDOUT,
                 "a second tlock_acquire(l, 0)", "the lock is held (a Lock is not "
                 "re-entrant, whoever asks), so the try fails");
    CHECK_STATUS(RELEASE(l), 0, "tlock_release(l) of a held lock", "the lock was held");
    CHECK_STATUS(ACQUIRE(l, 0, NULL, ZERO_HANGS), 0, "tlock_acquire(l, 0) after a release",
                 "the release made the lock free again");
    CHECK_STATUS(RELEASE(l), 0, "tlock_release(l) of a held lock", "the lock was held");
    tlock_destroy(l);

    /* Locks are independent of each other. */
    tlock_t *locks[5];
    for (int i = 0; i < 5; i++)
        locks[i] = new_lock();
    for (int i = 0; i < 5; i += 2)
        hold(locks[i], "locks[i]");
    for (int i = 0; i < 5; i++) {
        char what[80];
        snprintf(what, sizeof what, "tlock_acquire(locks[%d], 0)", i);
        CHECK_STATUS(ACQUIRE(locks[i], 0, NULL, ZERO_HANGS), i % 2 ? 0 : ETIMEDOUT, what,
                     "locks 0, 2 and 4 were taken, 1 and 3 were free: each lock has "
                     "its own state");
    }
    for (int i = 0; i < 5; i++) {
        unhold(locks[i], "locks[i]");
        tlock_destroy(locks[i]);
    }
}

static void test_acquire_of_a_free_lock_returns_at_once(void)
{
    static const long timeouts[] = { -1, -1000, LONG_MIN, 0, 1, 10, 999, 1000, 1500,
                                     86400000L, LONG_MAX };
    tlock_t *l = new_lock();
    for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
        long us;
        int st = ACQUIRE(l, timeouts[k], &us, FREE_HANGS);
        KIT_CHECK(st == 0, "tlock_acquire(l, %ld) on a free lock: expected 0, got %s "
                  "(%d): a free lock is taken at once, whatever the time-out.%s",
                  timeouts[k], err_name(st), st, err_hint(st));
        KIT_CHECK(us <= late_ms() * 1000, "tlock_acquire(l, %ld) on a free lock took "
                  "%.1f ms: a free lock is taken at once, without waiting",
                  timeouts[k], us / 1000.0);
        if (st == 0)
            unhold(l, "l");
    }
    tlock_destroy(l);
}

static void test_release_of_a_free_lock_is_eperm(void)
{
    tlock_t *l = new_lock();
    CHECK_STATUS(RELEASE(l), EPERM, "tlock_release(l) of a new lock",
                 "releasing a lock that is not held is an error, as Python's "
                 "RuntimeError('release unlocked lock')");
    hold(l, "l");
    CHECK_STATUS(RELEASE(l), 0, "tlock_release(l) of a held lock", "the lock was held");
    CHECK_STATUS(RELEASE(l), EPERM, "a second tlock_release(l)",
                 "the first release freed the lock: it is not held any more");
    /* The refused releases must not have counted: one holder at a time. */
    CHECK_STATUS(ACQUIRE(l, 0, NULL, ZERO_HANGS), 0, "tlock_acquire(l, 0) after the "
                 "refused releases", "the lock is free");
    CHECK_STATUS(ACQUIRE(l, 0, NULL, ZERO_HANGS), ETIMEDOUT, "a second tlock_acquire(l, 0)",
                 "the lock is held: a refused release must change nothing (a counting "
                 "semaphore would have let two holders in here)");
    CHECK_STATUS(RELEASE(l), 0, "tlock_release(l) of a held lock", "the lock was held");
    CHECK_STATUS(RELEASE(l), EPERM, "tlock_release(l) once more", "the lock is free");
    tlock_destroy(l);
}

struct zero_tries {
    tlock_t *l;
    int tries;
    int wrong;          /* how many tries did not return ETIMEDOUT */
    int first_wrong;    /* what the first of them returned */
    long slowest_us;
};

static void zero_tries_run(int i, void *arg)
{
    (void)i;
    struct zero_tries *z = arg;
    for (int k = 0; k < z->tries; k++) {
        long start = now_us();
        int st = tlock_acquire(z->l, 0);
        long us = now_us() - start;
        z->slowest_us = us > z->slowest_us ? us : z->slowest_us;
        if (st != ETIMEDOUT && z->wrong++ == 0)
            z->first_wrong = st;
        if (st == 0)
            (void)tlock_release(z->l);   /* put it back as it was: free */
    }
}

static void test_timeout_zero_never_waits(void)
{
    tlock_t *l = new_lock();
    hold(l, "l");
    struct zero_tries *z = calloc(1, sizeof *z);
    KIT_REQUIRE(z != NULL, "test harness: out of memory");
    *z = (struct zero_tries){ l, (int)kit_scale(300, 30), 0, 0, 0 };
    long start = now_us();
    int stuck = crew_wait(crew_start(1, zero_tries_run, z, false), hang_ms());
    /* On a hang, z and l stay allocated: the stuck thread uses them. */
    KIT_REQUIRE(stuck == 0, "%d calls of tlock_acquire(l, 0) on a held lock had not "
                "finished after %ld ms: one of them waits. " ZERO_HANGS,
                z->tries, hang_ms());
    long total_ms = (now_us() - start) / 1000;
    KIT_CHECK(z->wrong == 0, "tlock_acquire(l, 0) on a held lock returned %s (%d) in %d "
              "of %d tries: expected ETIMEDOUT, the lock is held.%s",
              err_name(z->first_wrong), z->first_wrong, z->wrong, z->tries,
              err_hint(z->first_wrong));
    KIT_CHECK(z->slowest_us <= late_ms() * 1000, "tlock_acquire(l, 0) on a held lock: "
              "%d tries took %ld ms, the slowest %.1f ms. " ZERO_HANGS, z->tries,
              total_ms, z->slowest_us / 1000.0);
    unhold(l, "l");
    CHECK_STATUS(ACQUIRE(l, 0, NULL, ZERO_HANGS), 0, "tlock_acquire(l, 0) on a free lock",
                 "the lock was released");
    unhold(l, "l");
    tlock_destroy(l);
    free(z);
}

static void test_held_lock_times_out_no_sooner_and_not_much_later(void)
{
    static const long timeouts[] = { 1, 2, 5, 10, 20, 50, 100, 150 };
    tlock_t *l = new_lock();
    hold(l, "l");
    struct waiters *w = waiters_new();
    for (int i = 0; i < 8; i++)
        waiters_add(w, l, timeouts[i]);
    check_timed_out(w, waiters_start(w));
    /* Every waiter gave up: the lock is still held by the test, once. */
    CHECK_STATUS(RELEASE(l), 0, "tlock_release(l) after the time-outs",
                 "the lock stayed held while the waiters timed out");
    CHECK_STATUS(RELEASE(l), EPERM, "tlock_release(l) once more",
                 "no waiter may have taken the lock: they all timed out");
    tlock_destroy(l);
}

static void test_timeouts_across_a_second_boundary(void)
{
    /* now + 999 ms crosses a second boundary unless now's tv_nsec is below
     * 1 ms, whichever clock the wait uses; 1000 ms adds exactly one second.
     * The waiters run at the same time, so the test lasts as long as the
     * longest. */
    static const long timeouts[] = { 999, 1000, 1001 };
    tlock_t *l = new_lock();
    hold(l, "l");
    struct waiters *w = waiters_new();
    for (int i = 0; i < 3; i++)
        waiters_add(w, l, timeouts[i]);
    check_timed_out(w, waiters_start(w));
    CHECK_STATUS(RELEASE(l), 0, "tlock_release(l) after the time-outs",
                 "the lock stayed held while the waiters timed out");
    tlock_destroy(l);
}

/* Waits until n waiters returned, for at most limit_ms. */
static void await_returned(struct waiters *w, int n, long limit_ms)
{
    long deadline = kit_now_ms() + limit_ms;
    while (waiters_returned(w) < n && kit_now_ms() < deadline)
        kit_sleep_ms(1);
}

static void test_negative_timeout_waits_until_another_thread_releases(void)
{
    static const long timeouts[] = { -1, -1000, LONG_MIN };
    tlock_t *locks[3];
    struct waiters *w = waiters_new();
    for (int i = 0; i < 3; i++) {
        locks[i] = new_lock();
        hold(locks[i], "l");
        waiters_add(w, locks[i], timeouts[i]);
    }
    struct crew *c = waiters_start(w);
    kit_sleep_ms(kit_scale(100, 500));
    for (int i = 0; i < 3; i++) {
        int st = atomic_load(&w->result[i]);
        KIT_CHECK(st == -1, "tlock_acquire(l, %ld) on a held lock returned %s (%d) "
                  "after %.1f ms, while the lock was still held: a negative time-out "
                  "waits as long as it takes, until another thread releases the lock",
                  timeouts[i], err_name(st), st, waiter_elapsed_us(w, i) / 1000.0);
    }
    for (int i = 0; i < 3; i++) {
        if (atomic_load(&w->result[i]) != -1)
            continue;
        long released = now_us();
        unhold(locks[i], "l");
        long deadline = kit_now_ms() + late_ms();
        while (atomic_load(&w->result[i]) == -1 && kit_now_ms() < deadline)
            kit_sleep_ms(1);
        int st = atomic_load(&w->result[i]);
        long after_us = atomic_load(&w->end_us[i]) - released;
        KIT_CHECK(st != -1, "tlock_acquire(l, %ld) was still waiting %ld ms after "
                  "another thread released the lock: the release did not wake it (a "
                  "lost wake-up). tlock_release must signal the condition variable "
                  "that waiters sleep on, after marking the lock free under its mutex.",
                  timeouts[i], late_ms());
        if (st != -1)
            KIT_CHECK(st == 0, "tlock_acquire(l, %ld), woken %.1f ms after another "
                      "thread released the lock, returned %s (%d) instead of 0",
                      timeouts[i], after_us / 1000.0, err_name(st), st);
    }
    int stuck = crew_wait(c, hang_ms());
    KIT_REQUIRE(stuck == 0, "%d waiters with a negative time-out never returned after "
                "their locks were released (lost wake-up?)", stuck);
    for (int i = 0; i < 3; i++) {
        /* Each waiter took its lock: another thread may release it. */
        check_held(locks[i], "l", "the waiter took it");
        unhold(locks[i], "l");
        tlock_destroy(locks[i]);
    }
    free(w);
}

static void test_waiter_takes_lock_released_before_its_deadline(void)
{
    static const long timeouts[] = { 1000, 1500, 86400000L };
    tlock_t *locks[3];
    struct waiters *w = waiters_new();
    for (int i = 0; i < 3; i++) {
        locks[i] = new_lock();
        hold(locks[i], "l");
        waiters_add(w, locks[i], timeouts[i]);
    }
    struct crew *c = waiters_start(w);
    kit_sleep_ms(kit_scale(50, 300));
    long released = now_us();
    for (int i = 0; i < 3; i++)
        unhold(locks[i], "l");
    int stuck = crew_wait(c, late_ms() + hang_ms());
    for (int i = 0; i < 3; i++) {
        int st = atomic_load(&w->result[i]);
        long t = timeouts[i];
        if (st == -1) {
            KIT_CHECK(st != -1, "tlock_acquire(l, %ld) was still waiting %ld ms after "
                      "another thread released the lock: the release did not wake it "
                      "(a lost wake-up). tlock_release must signal the condition "
                      "variable that waiters sleep on.", t, late_ms() + hang_ms());
            continue;
        }
        long after_us = atomic_load(&w->end_us[i]) - released;
        CHECK_STATUS(st, 0, "tlock_acquire(l, t) on a lock released after 50 ms",
                     "the lock was freed long before the time-out");
        KIT_CHECK(after_us <= late_ms() * 1000, "tlock_acquire(l, %ld) returned %.1f "
                  "ms after another thread released the lock: the release did not "
                  "wake the waiter, which only noticed at its deadline (a lost "
                  "wake-up). tlock_release must signal the condition variable that "
                  "waiters sleep on.", t, after_us / 1000.0);
    }
    KIT_REQUIRE(stuck == 0, "%d waiters never returned", stuck);
    for (int i = 0; i < 3; i++) {
        if (atomic_load(&w->result[i]) == 0)
            unhold(locks[i], "l");
        tlock_destroy(locks[i]);
    }
    free(w);
}

static void test_each_release_lets_exactly_one_waiter_in(void)
{
    tlock_t *l = new_lock();
    hold(l, "l");
    struct waiters *w = waiters_new();
    for (int i = 0; i < 4; i++)
        waiters_add(w, l, i % 2 ? -1 : 60000);
    struct crew *c = waiters_start(w);
    kit_sleep_ms(kit_scale(50, 300));
    KIT_CHECK(waiters_returned(w) == 0, "4 threads called tlock_acquire on a held lock "
              "(2 with time-out -1, 2 with 60000 ms), and %d returned within 50 ms "
              "while the lock stayed held", waiters_returned(w));
    for (int round = 1; round <= 4; round++) {
        /* The test's thread releases the lock that a waiter took. */
        unhold(l, "l");
        await_returned(w, round, late_ms());
        kit_sleep_ms(kit_scale(10, 100));   /* would a second waiter get in too? */
        int in = waiters_returned(w);
        KIT_REQUIRE(in == round, "after %d release%s of a lock that 4 threads were "
                    "waiting for, %d of them had returned: each release frees the lock "
                    "for exactly one waiter. %s", round, round == 1 ? "" : "s", in,
                    in < round ? "A release did not wake a waiter (a lost wake-up): "
                    "tlock_release must signal the waiters' condition variable."
                    : "Two waiters took the lock at once: a woken waiter must check "
                    "again that the lock is free before it takes it (a while loop "
                    "around the wait, not an if).");
    }
    int stuck = crew_wait(c, hang_ms());
    KIT_REQUIRE(stuck == 0, "%d waiters never returned", stuck);
    for (int i = 0; i < 4; i++)
        CHECK_STATUS(atomic_load(&w->result[i]), 0, "each waiter's tlock_acquire",
                     "every waiter got the lock in turn");
    unhold(l, "l");
    CHECK_STATUS(RELEASE(l), EPERM, "tlock_release(l) once more", "the lock is free");
    tlock_destroy(l);
    free(w);
}

/* ---- threads suite: one holder at a time -------------------------------- */

struct stress {
    tlock_t *l;
    struct pace pace;
    atomic_int inside;      /* threads between a successful acquire and its release */
    atomic_long entries;    /* successful acquires */
    long counted;           /* guarded by l: incremented by each holder, not atomically */
    struct problems problems;
};

/* Mixed time-outs: wait for ever, try once, and short timed waits. Under
 * helgrind only -1 and 0: when a timed wait expires just as a release
 * signals, glibc passes the signal on with a broadcast of its own, which
 * helgrind reports as a misuse of the student's lock (timed waits are
 * checked by the other race tests, without that race). */
static const long stress_timeouts[] = { -1, 0, 1, 20, -1, 5 };
static const long stress_timeouts_race[] = { -1, 0, -1, 0, -1, -1 };

static void stress_worker(int i, void *arg)
{
    struct stress *s = arg;
    for (long k = 0; keep_going(&s->pace, k); k++) {
        long t = (kit_race_mode() ? stress_timeouts_race : stress_timeouts)[(k + i) % 6];
        int st = tlock_acquire(s->l, t);
        if (st == ETIMEDOUT && t != -1)
            continue;
        if (st != 0) {
            note_problem(&s->problems, "tlock_acquire(l, %ld) returned %s (%d) while "
                         "other threads used the lock; expected 0%s.%s", t, err_name(st),
                         st, t == -1 ? " (a negative time-out waits as long as it takes)"
                                     : " or ETIMEDOUT", err_hint(st));
            return;
        }
        int in = atomic_fetch_add(&s->inside, 1) + 1;
        if (in != 1)
            note_problem(&s->problems, "%d threads held the lock at the same time: "
                         "tlock_acquire returned 0 to a thread while another held the "
                         "lock. Usual causes: an `if` instead of a `while` around the "
                         "wait (a woken waiter must check again that the lock is free: "
                         "another thread may have taken it first), or a flag tested "
                         "and set without holding the mutex", in);
        long c = s->counted;     /* a read-modify-write that needs the lock */
        sched_yield();
        s->counted = c + 1;
        atomic_fetch_add(&s->entries, 1);
        atomic_fetch_sub(&s->inside, 1);
        st = tlock_release(s->l);
        if (st != 0) {
            note_problem(&s->problems, "tlock_release(l) by the thread holding the lock "
                         "returned %s (%d), expected 0.%s", err_name(st), st, err_hint(st));
            return;
        }
    }
}

static void test_only_one_holder_at_a_time_under_stress(void)
{
    static const int crews[] = { 2, 8, 64 };
    for (int k = 0; k < 3; k++) {
        int n = crews[k];
        if (kit_race_mode() && n > 4)
            n = 4;
        struct stress *s = calloc(1, sizeof *s);
        KIT_REQUIRE(s != NULL, "test harness: out of memory");
        s->l = new_lock();
        atomic_init(&s->inside, 0);
        atomic_init(&s->entries, 0);
        problems_init(&s->problems);
        s->pace = pace_for(70, 12);
        int stuck = crew_wait(crew_start(n, stress_worker, s, true), hang_ms());
        /* On a hang, s and the lock stay allocated: stuck threads use them. */
        KIT_REQUIRE(stuck == 0, "%d threads took and released one lock in a loop, with "
                    "time-outs -1, 0, 1, 5 and 20 ms; after %ld ms %d of them were still "
                    "stuck. A waiter that is never woken (a lost wake-up) waits for "
                    "ever: tlock_release must signal the waiters' condition variable "
                    "after marking the lock free, both under the mutex.%s", n,
                    hang_ms(), stuck, problem_count(&s->problems) ? " Also seen: " : "");
        report_problems(&s->problems);
        long entries = atomic_load(&s->entries);
        KIT_CHECK(s->counted == entries, "%d threads each added 1 to a counter while "
                  "holding the lock, %ld times in all, but the counter says %ld: "
                  "updates were lost because two threads held the lock at once",
                  n, entries, s->counted);
        CHECK_STATUS(RELEASE(s->l), EPERM, "tlock_release(l) after the threads",
                     "every thread released what it took: the lock is free");
        tlock_destroy(s->l);
        free(s);
    }
}

/* Ping-pong: each lock is acquired by one thread and released by the other.
 * Player 0 serves (writes the ball, releases ping) and waits for pong;
 * player 1 waits for ping, returns the ball and releases pong. To stop,
 * player 0 serves a ball of -1, which player 1 does not return. */
struct ping_pong {
    tlock_t *ping, *pong;   /* both start held */
    struct pace pace;
    long ball;              /* handed over through the locks */
    long rounds;            /* played by player 0; read after the join */
    struct problems problems;
};

static void ping_pong_release(struct ping_pong *p, tlock_t *l)
{
    int st = tlock_release(l);
    if (st != 0)
        note_problem(&p->problems, "tlock_release of a lock that another thread "
                     "acquired returned %s (%d), expected 0: any thread may release a "
                     "held lock.%s", err_name(st), st, err_hint(st));
}

static bool ping_pong_acquire(struct ping_pong *p, tlock_t *l, long timeout_ms)
{
    int st = tlock_acquire(l, timeout_ms);
    if (st != 0)
        note_problem(&p->problems, "tlock_acquire(l, %ld) of a lock that another thread "
                     "releases returned %s (%d), expected 0%s", timeout_ms, err_name(st),
                     st, err_hint(st));
    return st == 0;
}

static void ping_pong_player(int i, void *arg)
{
    struct ping_pong *p = arg;
    long k = 0;
    if (i == 0) {
        for (; keep_going(&p->pace, k); k++) {
            p->ball = 2 * k + 1;
            ping_pong_release(p, p->ping);
            if (!ping_pong_acquire(p, p->pong, k % 2 ? -1 : 60000))
                break;
            if (p->ball != 2 * k + 2) {
                note_problem(&p->problems, "round %ld: the ball should be %ld, got %ld: "
                             "the lock let a thread in before the other released it",
                             k, 2 * k + 2, p->ball);
                break;
            }
        }
        p->rounds = k;
        p->ball = -1;                       /* stop */
        ping_pong_release(p, p->ping);
        return;
    }
    for (;; k++) {
        if (!ping_pong_acquire(p, p->ping, k % 2 ? 60000 : -1))
            return;
        if (p->ball == -1)
            return;
        if (p->ball != 2 * k + 1) {
            note_problem(&p->problems, "round %ld: the ball should be %ld, got %ld: the "
                         "lock let a thread in before the other released it",
                         k, 2 * k + 1, p->ball);
            return;
        }
        p->ball = 2 * k + 2;
        ping_pong_release(p, p->pong);
    }
}

static void test_any_thread_may_release_the_lock(void)
{
    /* The simple case first: taken by one thread, released by another. */
    tlock_t *l = new_lock();
    hold(l, "l");       /* in one helper thread ... */
    unhold(l, "l");     /* ... released in another */
    check_free(l, "l", "a release from another thread");
    tlock_destroy(l);

    struct ping_pong *p = calloc(1, sizeof *p);
    KIT_REQUIRE(p != NULL, "test harness: out of memory");
    p->ping = new_lock();
    p->pong = new_lock();
    hold(p->ping, "ping");
    hold(p->pong, "pong");
    p->pace = pace_for(60, 20);
    problems_init(&p->problems);
    int stuck = crew_wait(crew_start(2, ping_pong_player, p, true), hang_ms());
    KIT_REQUIRE(stuck == 0, "two threads passed a value back and forth through two "
                "locks (one thread releases what the other acquires), and %ld ms after "
                "they should have stopped %d of them %s still stuck: a release did not "
                "wake the thread waiting for that lock (a lost wake-up)%s", hang_ms(),
                stuck, stuck == 1 ? "was" : "were",
                problem_count(&p->problems) ? ", or see the problem below" : "");
    report_problems(&p->problems);
    /* Player 1 acquired ping last (the stop ball), player 0 pong (the round before). */
    check_held(p->ping, "ping", "the ping-pong");
    check_held(p->pong, "pong", "the ping-pong");
    tlock_destroy(p->ping);
    tlock_destroy(p->pong);
    free(p);
}

/* ---- pair suite --------------------------------------------------------- */

#define PAIR_HANGS                                                              \
    "tlock_acquire_pair must never wait for one lock while holding the other " \
    "for ever: if the second is busy, let go of the first and try again."

static void test_pair_takes_both_when_both_are_free(void)
{
    static const long timeouts[] = { 0, -1, 50, 86400000L };
    tlock_t *a = new_lock(), *b = new_lock();
    for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
        char what[80];
        snprintf(what, sizeof what, "tlock_acquire_pair(a, b, %ld) of two free locks",
                 timeouts[k]);
        int st = PAIR(k % 2 ? b : a, k % 2 ? a : b, timeouts[k], NULL, PAIR_HANGS);
        CHECK_STATUS(st, 0, what, "both locks were free");
        if (st != 0)
            continue;
        check_held(a, "a", what);
        check_held(b, "b", what);
        unhold(a, "a");
        unhold(b, "b");
    }
    tlock_destroy(a);
    tlock_destroy(b);
}

static void test_pair_that_times_out_holds_neither_lock(void)
{
    static const long timeouts[] = { 0, 30 };
    /* busy: which lock another thread holds all along: b, a, or both. */
    for (int busy = 0; busy < 3; busy++) {
        for (size_t k = 0; k < 2; k++) {
            tlock_t *a = new_lock(), *b = new_lock();
            if (busy != 1)
                hold(b, "b");
            if (busy != 0)
                hold(a, "a");
            char what[160];
            snprintf(what, sizeof what, "tlock_acquire_pair(a, b, %ld) while %s held "
                     "by another thread", timeouts[k],
                     busy == 2 ? "both locks were" : busy ? "a was" : "b was");
            int st = PAIR(a, b, timeouts[k], NULL, PAIR_HANGS);
            CHECK_STATUS(st, ETIMEDOUT, what, "it cannot get both, and the busy lock is "
                         "never released");
            if (st != ETIMEDOUT)
                return;     /* the locks' state is unknown: stop here */
            /* Neither taken: the free lock is free, the busy one still held once. */
            if (busy == 0)
                check_free(a, "a", what);
            if (busy == 1)
                check_free(b, "b", what);
            if (busy != 1)
                CHECK_STATUS(RELEASE(b), 0, "tlock_release(b) by the thread holding it",
                             "b was held all along");
            if (busy != 0)
                CHECK_STATUS(RELEASE(a), 0, "tlock_release(a) by the thread holding it",
                             "a was held all along");
            CHECK_STATUS(RELEASE(a), EPERM, "tlock_release(a) once more", "a is free now");
            CHECK_STATUS(RELEASE(b), EPERM, "tlock_release(b) once more", "b is free now");
            tlock_destroy(a);
            tlock_destroy(b);
        }
    }
}

static void test_pair_of_a_lock_with_itself_is_einval(void)
{
    static const long timeouts[] = { 0, 50, -1 };
    tlock_t *a = new_lock();
    for (int held = 0; held < 2; held++) {
        if (held)
            hold(a, "a");
        for (size_t k = 0; k < 3; k++) {
            char what[120];
            snprintf(what, sizeof what, "tlock_acquire_pair(a, a, %ld) with a %s",
                     timeouts[k], held ? "held" : "free");
            long us;
            int st = PAIR(a, a, timeouts[k], &us, "Both arguments are the same lock: "
                          "that is EINVAL at once (taking a lock twice can never "
                          "succeed, a Lock is not re-entrant).");
            CHECK_STATUS(st, EINVAL, what, "both arguments are the same lock: check "
                         "a == b first, before touching any lock");
            KIT_CHECK(us <= late_ms() * 1000, "%s took %.1f ms: an argument error is "
                      "reported at once", what, us / 1000.0);
            if (held)
                check_held(a, "a", what);
            else
                check_free(a, "a", what);
        }
    }
    unhold(a, "a");
    tlock_destroy(a);
}

/* A pair call in the background, and a scripted release of its lock a. */
struct pair_case {
    tlock_t *a, *b;
    long timeout_ms;
    long release_a_ms;      /* when the test releases a, from the call's start; < 0: never */
    int expected;
    atomic_int result;      /* -1 while the call runs */
    atomic_long start_us;   /* 0 until the call begins */
    atomic_long end_us;
};

static void pair_case_run(int i, void *arg)
{
    struct pair_case *pc = (struct pair_case *)arg + i;
    atomic_store(&pc->start_us, now_us());
    int st = tlock_acquire_pair(pc->a, pc->b, pc->timeout_ms);
    atomic_store(&pc->end_us, now_us());
    atomic_store(&pc->result, st);
}

/* Releases pc->a at pc->release_a_ms after the call began. */
static void release_on_time(struct pair_case *pc)
{
    while (atomic_load(&pc->start_us) == 0)
        kit_sleep_ms(1);
    long wait_us = atomic_load(&pc->start_us) + pc->release_a_ms * 1000 - now_us();
    if (wait_us > 0)
        kit_sleep_ms((wait_us + 999) / 1000);
    unhold(pc->a, "a");
}

static void test_pair_respects_its_total_timeout(void)
{
    /*  0: a free, b held for ever: time-out at 200 ms.
     *  1: a held until 550 ms, b held for ever: time-out at 1000 ms, not
     *     at 550 + 1000 (the time-out is for the whole call, not for each
     *     lock). 550 > late_ms(), so 550 + 1000 is beyond any lateness
     *     allowed; and 1000 - 550 leaves the test's thread time to release
     *     a even if it is scheduled very late.
     *  2: a held until 60 ms, b free: both at about 60 ms.
     *  3: the same, waiting for ever.
     * All four run at once; times are from the start of each call. */
    enum { N = 4 };
    struct pair_case *pc = calloc(N, sizeof *pc);
    KIT_REQUIRE(pc != NULL, "test harness: out of memory");
    long scale = kit_scale(1, 5);
    const long timeout[N] = { 200 * scale, 1000 * scale, 400 * scale, -1 };
    const long release_a[N] = { -1, 550 * scale, 60 * scale, 60 * scale };
    for (int i = 0; i < N; i++) {
        pc[i].a = new_lock();
        pc[i].b = new_lock();
        pc[i].timeout_ms = timeout[i];
        pc[i].release_a_ms = release_a[i];
        pc[i].expected = i < 2 ? ETIMEDOUT : 0;
        atomic_init(&pc[i].result, -1);
        atomic_init(&pc[i].start_us, 0);
        atomic_init(&pc[i].end_us, 0);
        if (i < 2)
            hold(pc[i].b, "b");
        if (i > 0)
            hold(pc[i].a, "a");
    }
    long start = now_us();
    struct crew *c = crew_start(N, pair_case_run, pc, false);
    /* Earliest first: cases 2 and 3, then 1. */
    release_on_time(&pc[2]);
    release_on_time(&pc[3]);
    release_on_time(&pc[1]);
    int stuck = crew_wait(c, late_ms() + hang_ms());
    for (int i = 0; i < N; i++) {
        int st = atomic_load(&pc[i].result);
        long t = timeout[i];
        char what[200];
        if (i == 0)
            snprintf(what, sizeof what, "tlock_acquire_pair(a, b, %ld) with a free and "
                     "b held all along", t);
        else if (i == 1)
            snprintf(what, sizeof what, "tlock_acquire_pair(a, b, %ld) with a held "
                     "until %ld ms and b held all along", t, release_a[i]);
        else
            snprintf(what, sizeof what, "tlock_acquire_pair(a, b, %ld) with a held "
                     "until %ld ms and b free", t, release_a[i]);
        if (st == -1) {
            KIT_CHECK(st != -1, "%s had not returned after %ld ms. %s", what,
                      (now_us() - start) / 1000, i < 2 ? "It must give up at its "
                      "time-out: compute one deadline for the whole call and wait "
                      "for each lock only until then." : PAIR_HANGS);
            continue;
        }
        long us = atomic_load(&pc[i].end_us) - atomic_load(&pc[i].start_us);
        CHECK_STATUS(st, pc[i].expected, what, i < 2 ? "b is never released, so "
                     "the call must time out" : "both locks are free from the "
                     "moment a is released");
        long due_ms = i < 2 ? t : release_a[i];
        KIT_CHECK(us >= due_ms * 1000 - 1000, "%s returned %s after %.1f ms, before "
                  "%ld ms", what, err_name(st), us / 1000.0, due_ms);
        KIT_CHECK(us <= (due_ms + late_ms()) * 1000, "%s returned %s after %.1f ms; "
                  "expected at about %ld ms (%ld ms late allowed). %s", what,
                  err_name(st), us / 1000.0, due_ms, late_ms(), i == 1 ? "The time-out "
                  "is for the whole call: a new full time-out for each lock or each "
                  "attempt lets the call wait far longer than asked. Compute one "
                  "deadline at the start and give each wait only what is left." :
                  i == 0 ? "Compute one deadline for the whole call." :
                  "The release of a must wake the call up.");
        if (i < 2 && st == ETIMEDOUT)
            check_free(pc[i].a, "a", what);
    }
    KIT_REQUIRE(stuck == 0, "%d calls of tlock_acquire_pair never returned", stuck);
    for (int i = 0; i < N; i++) {
        if (atomic_load(&pc[i].result) == 0) {
            unhold(pc[i].a, "a");
            unhold(pc[i].b, "b");
        } else if (i < 2) {
            unhold(pc[i].b, "b");
        }
        tlock_destroy(pc[i].a);
        tlock_destroy(pc[i].b);
    }
    free(pc);
}

/* Threads taking two locks of a ring in opposite orders, with
 * tlock_acquire_pair or one at a time with tlock_acquire. */
struct opposite {
    int nlocks;
    tlock_t *locks[3];
    atomic_int inside[3];   /* holders of each lock, counted by the test */
    bool single_odd;        /* odd threads take their two locks one at a time */
    struct pace pace;
    atomic_long pairs;      /* successful tlock_acquire_pair calls */
    struct problems problems;
};

static void enter(struct opposite *o, int k)
{
    int in = atomic_fetch_add(&o->inside[k], 1) + 1;
    if (in != 1)
        note_problem(&o->problems, "%d threads held lock %d at the same time: a call "
                     "returned 0 without holding it alone", in, k);
}

static void leave(struct opposite *o, int k, const char *how)
{
    atomic_fetch_sub(&o->inside[k], 1);
    int st = tlock_release(o->locks[k]);
    if (st != 0)
        note_problem(&o->problems, "tlock_release of lock %d, held since %s returned 0, "
                     "returned %s (%d)", k, how, err_name(st), st);
}

/* Threads 2j and 2j+1 share the locks x = j mod n and y = (j + 1) mod n:
 * thread 2j asks for (x, y), thread 2j+1 for (y, x). With single_odd every
 * pair of threads uses locks 0 and 1 (single-lock threads that took them in
 * different orders would deadlock each other, whatever tlock.c does). */
static void opposite_worker(int i, void *arg)
{
    struct opposite *o = arg;
    int j = o->single_odd ? 0 : i / 2, x = j % o->nlocks, y = (j + 1) % o->nlocks;
    int first = i % 2 ? y : x, second = i % 2 ? x : y;
    bool single = o->single_odd && i % 2;
    for (long k = 0; keep_going(&o->pace, k); k++) {
        if (single) {
            int st = tlock_acquire(o->locks[first], -1);
            if (st == 0) {
                enter(o, first);
                st = tlock_acquire(o->locks[second], -1);
                if (st == 0) {
                    enter(o, second);
                    leave(o, second, "tlock_acquire");
                }
                leave(o, first, "tlock_acquire");
            }
            if (st != 0) {
                note_problem(&o->problems, "tlock_acquire(l, -1) returned %s (%d), "
                             "expected 0: a negative time-out waits as long as it "
                             "takes", err_name(st), st);
                return;
            }
            continue;
        }
        /* Mostly wait for ever; sometimes try once, or wait a little. */
        long t = k % 8 == 3 ? 0 : k % 8 == 6 ? 2 : -1;
        int st = tlock_acquire_pair(o->locks[first], o->locks[second], t);
        if (st == ETIMEDOUT && t >= 0)
            continue;
        if (st != 0) {
            note_problem(&o->problems, "tlock_acquire_pair(l%d, l%d, %ld) returned %s "
                         "(%d), expected 0%s", first, second, t, err_name(st), st,
                         t < 0 ? ": a negative time-out waits as long as it takes" :
                         " or ETIMEDOUT");
            return;
        }
        enter(o, first);
        enter(o, second);
        atomic_fetch_add(&o->pairs, 1);
        leave(o, first, "tlock_acquire_pair");
        leave(o, second, "tlock_acquire_pair");
    }
}

/* Runs one crew of opposite workers; false if it found a problem. */
static bool run_opposite(int nthreads, int nlocks, bool single_odd, bool swap_first)
{
    struct opposite *o = calloc(1, sizeof *o);
    KIT_REQUIRE(o != NULL, "test harness: out of memory");
    o->nlocks = nlocks;
    for (int k = 0; k < nlocks; k++) {
        o->locks[k] = new_lock();
        atomic_init(&o->inside[k], 0);
    }
    if (swap_first) {   /* the other order of addresses, for address-ordered code */
        tlock_t *t = o->locks[0];
        o->locks[0] = o->locks[1];
        o->locks[1] = t;
    }
    o->single_odd = single_odd;
    atomic_init(&o->pairs, 0);
    problems_init(&o->problems);
    o->pace = pace_for(60, 15);
    int stuck = crew_wait(crew_start(nthreads, opposite_worker, o, false), hang_ms());
    /* On a hang, o and the locks stay allocated: stuck threads use them. */
    KIT_REQUIRE(stuck == 0, "deadlock: %d threads took the same %d locks in opposite "
                "orders (%s), and after %ld ms %d of them were still stuck (after %ld "
                "successful pairs). Usually one thread held lock x and waited for y while "
                "the other held y and waited for x (or a release did not wake the thread "
                "waiting for that lock). tlock_acquire_pair must never wait for "
                "one lock while holding the other: when the second is busy, release the "
                "first, then wait for the busy one (after a short random pause, or two "
                "threads can keep taking one lock each and letting go in step: a "
                "livelock). Taking the two in a fixed order "
                "(e.g. by address) is not enough: other threads may take them one at a "
                "time, in any order.", nthreads, nlocks, single_odd ?
                "half with tlock_acquire_pair(x, y, -1), half with tlock_acquire(y, -1) "
                "then tlock_acquire(x, -1)" : "tlock_acquire_pair(x, y, ...) against "
                "tlock_acquire_pair(y, x, ...)", hang_ms(), stuck, atomic_load(&o->pairs));
    report_problems(&o->problems);
    bool ok = o->problems.count == 0;
    for (int k = 0; k < nlocks; k++) {
        char after[120];
        snprintf(after, sizeof after, "the threads released every lock they took (lock %d)", k);
        check_free(o->locks[k], "l", after);
        tlock_destroy(o->locks[k]);
    }
    free(o);
    return ok;
}

static void test_pairs_in_opposite_orders_never_deadlock(void)
{
    if (run_opposite(2, 2, false, false))
        run_opposite(6, 3, false, false);
}

static void test_pair_against_single_acquires_in_opposite_order(void)
{
    /* Both address orders: a pair that takes the lower address first and
     * blocks would deadlock in one of the two. */
    if (run_opposite(2, 2, true, false) && run_opposite(2, 2, true, true) &&
        run_opposite(4, 2, true, false))
        run_opposite(4, 2, true, true);
}

/* ---- the table ---------------------------------------------------------- */

static CU_TestInfo acquire_tests[] = {
    { "test_new_lock_is_free_and_admits_one_holder", test_new_lock_is_free_and_admits_one_holder },
    { "test_acquire_of_a_free_lock_returns_at_once", test_acquire_of_a_free_lock_returns_at_once },
    { "test_release_of_a_free_lock_is_eperm", test_release_of_a_free_lock_is_eperm },
    { "test_timeout_zero_never_waits", test_timeout_zero_never_waits },
    { "test_held_lock_times_out_no_sooner_and_not_much_later",
      test_held_lock_times_out_no_sooner_and_not_much_later },
    { "test_timeouts_across_a_second_boundary", test_timeouts_across_a_second_boundary },
    { "test_negative_timeout_waits_until_another_thread_releases",
      test_negative_timeout_waits_until_another_thread_releases },
    { "test_waiter_takes_lock_released_before_its_deadline",
      test_waiter_takes_lock_released_before_its_deadline },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo threads_tests[] = {
    { "test_each_release_lets_exactly_one_waiter_in", test_each_release_lets_exactly_one_waiter_in },
    { "test_only_one_holder_at_a_time_under_stress", test_only_one_holder_at_a_time_under_stress },
    { "test_any_thread_may_release_the_lock", test_any_thread_may_release_the_lock },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo pair_tests[] = {
    { "test_pair_takes_both_when_both_are_free", test_pair_takes_both_when_both_are_free },
    { "test_pair_that_times_out_holds_neither_lock", test_pair_that_times_out_holds_neither_lock },
    { "test_pair_of_a_lock_with_itself_is_einval", test_pair_of_a_lock_with_itself_is_einval },
    { "test_pair_respects_its_total_timeout", test_pair_respects_its_total_timeout },
    { "test_pairs_in_opposite_orders_never_deadlock", test_pairs_in_opposite_orders_never_deadlock },
    { "test_pair_against_single_acquires_in_opposite_order",
      test_pair_against_single_acquires_in_opposite_order },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "acquire", NULL, NULL, NULL, NULL, acquire_tests },
    { "threads", NULL, NULL, NULL, NULL, threads_tests },
    { "pair", NULL, NULL, NULL, NULL, pair_tests },
    CU_SUITE_INFO_NULL,
};
