/* test_csem.c - tests of exercise 07-semaphore (csem.h).
 *
 * One thread first: the count, Semaphore versus BoundedSemaphore, create's
 * checks. Then time-outs, measured with the monotonic clock and a helper
 * thread that releases a permit at a chosen moment (so a broken acquire is
 * reported, not left waiting forever). Then run_limited, whose jobs record
 * how many of them run at once. Then stress: many threads acquiring with
 * every kind of time-out while others release, checking invariants inside
 * the workload (never more acquires than releases, never more holders than
 * permits) and watching for progress, so that a lost wake-up is reported
 * rather than hanging the test. */
#include "kit_test.h"
#include "csem.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 64
#define MAX_JOBS 64

/* ---- Helpers ---- */

static csem_t *new_csem(unsigned value, unsigned max)
{
    errno = 0;
    csem_t *s = csem_create(value, max);
    KIT_REQUIRE(s != NULL, "csem_create(%u, %u) returned NULL (errno %d, %s): "
                "a start value of at most max (or any value with max 0) is valid",
                value, max, errno, strerror(errno));
    return s;
}

/* Monotonic time in milliseconds, with the fraction. */
static double now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *err_name(int err)
{
    switch (err) {
    case 0: return "0";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EOVERFLOW: return "EOVERFLOW";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case EBUSY: return "EBUSY";
    case EINTR: return "EINTR";
    default: return "an unexpected value";
    }
}

static void start_thread(pthread_t *tid, void *(*fn)(void *), void *arg)
{
    int err = pthread_create(tid, NULL, fn, arg);
    KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
}

static void join_thread(pthread_t tid)
{
    if (pthread_join(tid, NULL) != 0)
        abort();
}

/* A helper thread that releases one permit of s after delay_ms, unless it is
 * cancelled first: it rescues a test whose acquire waits when it must not. */
struct releaser {
    csem_t *s;
    long delay_ms;
    atomic_bool cancel;
    atomic_bool released;   /* set just before its csem_release */
    pthread_t tid;
};

static void *releaser_main(void *p)
{
    struct releaser *r = p;
    long until = kit_now_ms() + r->delay_ms;
    while (kit_now_ms() < until) {
        if (atomic_load(&r->cancel))
            return NULL;
        kit_sleep_ms(1);
    }
    if (atomic_load(&r->cancel))
        return NULL;
    atomic_store(&r->released, true);
    (void)csem_release(r->s);   /* a plain Semaphore: cannot be refused */
    return NULL;
}

static void releaser_start(struct releaser *r, csem_t *s, long delay_ms)
{
    r->s = s;
    r->delay_ms = delay_ms;
    atomic_init(&r->cancel, false);
    atomic_init(&r->released, false);
    start_thread(&r->tid, releaser_main, r);
}

/* Stops the releaser (if it has not released yet) and joins it. */
static void releaser_stop(struct releaser *r)
{
    atomic_store(&r->cancel, true);
    join_thread(r->tid);
}

/* What run_watched's threads need; allocated, and left allocated when
 * stuck threads are abandoned, since they may still read it. */
struct watched_thread {
    void (*fn)(int i, void *arg);
    void *arg;
    int i;
    atomic_int *finished;
};

struct crew {
    atomic_int finished;
    pthread_t tids[MAX_THREADS];
    struct watched_thread w[MAX_THREADS];
};

static void *watched_main(void *p)
{
    struct watched_thread *w = p;
    w->fn(w->i, w->arg);
    atomic_fetch_add(w->finished, 1);
    return NULL;
}

/* Starts n threads running fn(i, arg) and waits for them all while watching
 * *progress. True when they all finished. False if *progress stood still for
 * stall_ms first: the threads still running are then detached and left
 * behind (arg must outlive the test: make it static), and *stop is set so
 * that threads that can stop, do. The stall is counted in the watcher's own
 * looks (one every 2 ms or more), so a whole process that a loaded machine
 * does not run for a while is not taken for a stall. */
static bool run_watched(int n, void (*fn)(int i, void *arg), void *arg,
                        atomic_long *progress, atomic_bool *stop, long stall_ms)
{
    struct crew *c = calloc(1, sizeof *c);
    KIT_REQUIRE(c != NULL && n <= MAX_THREADS, "test harness: out of memory");
    atomic_init(&c->finished, 0);
    int started = 0, err = 0;
    for (; started < n; started++) {
        c->w[started] = (struct watched_thread){ fn, arg, started, &c->finished };
        err = pthread_create(&c->tids[started], NULL, watched_main, &c->w[started]);
        if (err != 0)
            break;
    }
    bool all_done = err == 0;
    long last = atomic_load(progress), still = 0;
    while (all_done && atomic_load(&c->finished) < n) {
        kit_sleep_ms(2);
        long p = atomic_load(progress);
        if (p != last) {
            last = p;
            still = 0;
        } else if (++still * 2 > stall_ms) {
            all_done = false;
        }
    }
    if (!all_done) {
        atomic_store(stop, true);
        kit_sleep_ms(50);   /* let the threads that can stop, stop */
        for (int i = 0; i < started; i++)
            if (pthread_detach(c->tids[i]) != 0)
                abort();
        /* c is left allocated: stuck threads still point into it. */
        KIT_REQUIRE(err == 0, "test harness: could not start thread %d of %d: %s",
                    started, n, strerror(err));
        return false;
    }
    for (int i = 0; i < n; i++)
        join_thread(c->tids[i]);
    free(c);
    return true;
}

/* ---- One thread: create, value, acquire, release ---- */

static void test_create_sets_the_start_value(void)
{
    static const struct { unsigned value, max; } cases[] = {
        { 0, 0 }, { 1, 0 }, { 3, 0 }, { 1000, 0 }, { 0, 1 }, { 1, 1 }, { 2, 5 }, { 5, 5 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        csem_t *s = new_csem(cases[k].value, cases[k].max);
        unsigned got = csem_value(s);
        KIT_CHECK(got == cases[k].value,
                  "csem_create(%u, %u) then csem_value says %u, expected %u: the "
                  "count starts at `value`", cases[k].value, cases[k].max, got,
                  cases[k].value);
        csem_destroy(s);
    }
}

static void test_create_with_value_above_max_fails_with_einval(void)
{
    static const struct { unsigned value, max; } cases[] = {
        { 2, 1 }, { 4, 3 }, { 100, 99 }, { 1000, 1 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        errno = 0;
        csem_t *s = csem_create(cases[k].value, cases[k].max);
        int err = errno;
        KIT_CHECK(s == NULL,
                  "csem_create(%u, %u) returned a semaphore: a BoundedSemaphore "
                  "cannot start with more permits than its ceiling, so it must "
                  "return NULL with errno EINVAL", cases[k].value, cases[k].max);
        if (s) {
            csem_destroy(s);
            continue;
        }
        KIT_CHECK(err == EINVAL,
                  "csem_create(%u, %u) returned NULL but errno is %d (%s), expected "
                  "EINVAL (%d): set errno = EINVAL before returning NULL",
                  cases[k].value, cases[k].max, err, strerror(err), EINVAL);
    }
}

static void test_acquire_and_release_move_the_count_by_one(void)
{
    csem_t *s = new_csem(3, 0);
    for (unsigned expect = 2;; expect--) {
        int err = csem_acquire(s, -1);
        KIT_CHECK(err == 0, "csem_acquire(s, -1) with %u permits free returned %d "
                  "(%s), expected 0", expect + 1, err, err_name(err));
        KIT_CHECK_EQ(expect, csem_value(s), "csem_value after an acquire");
        if (expect == 0)
            break;
    }
    for (unsigned expect = 1; expect <= 3; expect++) {
        int err = csem_release(s);
        KIT_CHECK(err == 0, "csem_release on Semaphore(3) holding %u returned %d (%s), "
                  "expected 0", expect - 1, err, err_name(err));
        KIT_CHECK_EQ(expect, csem_value(s), "csem_value after a release");
    }
    /* A timed acquire and a try-once take a permit just the same. */
    KIT_CHECK_EQ(0, csem_acquire(s, 0), "csem_acquire(s, 0) with 3 permits free");
    KIT_CHECK_EQ(0, csem_acquire(s, 1000), "csem_acquire(s, 1000) with 2 permits free");
    KIT_CHECK_EQ(1, csem_value(s), "csem_value after acquire(0) and acquire(1000) from 3");
    csem_destroy(s);
}

static void test_semaphore_grows_above_its_start_value(void)
{
    csem_t *s = new_csem(1, 0);
    for (unsigned expect = 2; expect <= 6; expect++) {
        int err = csem_release(s);
        KIT_CHECK(err == 0,
                  "csem_release on Semaphore(1) (max 0: not bounded) holding %u "
                  "returned %d (%s), expected 0: like Python's Semaphore, a plain "
                  "semaphore may be released above its start value",
                  expect - 1, err, err_name(err));
        KIT_CHECK_EQ(expect, csem_value(s), "csem_value of Semaphore(1) after releases");
    }
    for (int k = 0; k < 6; k++) {
        int err = csem_acquire(s, 0);
        KIT_CHECK(err == 0, "acquire %d of 6 on a Semaphore grown to 6 returned %d (%s), "
                  "expected 0: every release adds a permit", k + 1, err, err_name(err));
    }
    int err = csem_acquire(s, 0);
    KIT_CHECK(err == ETIMEDOUT, "a 7th csem_acquire(s, 0) after 6 permits were taken "
              "returned %d (%s), expected ETIMEDOUT", err, err_name(err));
    KIT_CHECK_EQ(0, csem_value(s), "csem_value after taking every permit");
    csem_destroy(s);
}

static void test_bounded_release_above_max_is_eoverflow_and_keeps_the_count(void)
{
    static const unsigned maxes[] = { 1, 2, 3, 7 };
    for (size_t k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
        unsigned max = maxes[k];
        /* Start empty: max releases succeed, the next one is one too many. */
        csem_t *s = new_csem(0, max);
        for (unsigned v = 1; v <= max; v++) {
            int err = csem_release(s);
            KIT_CHECK(err == 0, "BoundedSemaphore(max %u) at %u: csem_release returned "
                      "%d (%s), expected 0: below max a release is fine",
                      max, v - 1, err, err_name(err));
        }
        for (int again = 0; again < 3; again++) {
            int err = csem_release(s);
            unsigned got = csem_value(s);
            KIT_CHECK(err == EOVERFLOW,
                      "BoundedSemaphore(max %u) already at %u: csem_release returned %d "
                      "(%s), expected EOVERFLOW: a release above max means a release "
                      "too many (check count >= max, not count > max)",
                      max, max, err, err_name(err));
            KIT_CHECK(got == max,
                      "BoundedSemaphore(max %u): after a refused release the count is "
                      "%u, expected it to stay %u: refuse BEFORE changing the count",
                      max, got, max);
            if (err != EOVERFLOW || got != max)
                break;
        }
        /* Take one, give it back: fine; give one more: refused again. */
        int err = csem_acquire(s, 0);
        KIT_CHECK(err == 0, "csem_acquire(s, 0) on a full BoundedSemaphore(max %u) "
                  "returned %d (%s), expected 0", max, err, err_name(err));
        err = csem_release(s);
        KIT_CHECK(err == 0, "BoundedSemaphore(max %u): giving back the permit just "
                  "taken returned %d (%s), expected 0", max, err, err_name(err));
        err = csem_release(s);
        KIT_CHECK(err == EOVERFLOW, "BoundedSemaphore(max %u) full again: one more "
                  "csem_release returned %d (%s), expected EOVERFLOW", max, err,
                  err_name(err));
        KIT_CHECK_EQ(max, csem_value(s), "csem_value of a full BoundedSemaphore");
        csem_destroy(s);
    }
    /* Created full. */
    csem_t *s = new_csem(2, 2);
    int err = csem_release(s);
    KIT_CHECK(err == EOVERFLOW, "csem_create(2, 2) then csem_release returned %d (%s), "
              "expected EOVERFLOW: it starts full", err, err_name(err));
    KIT_CHECK_EQ(2, csem_value(s), "csem_value of BoundedSemaphore(2) after a refused release");
    csem_destroy(s);
}

/* ---- Time-outs ---- */

static void test_try_once_never_waits(void)
{
    csem_t *s = new_csem(0, 0);
    /* Nothing will be released for 500 ms: acquire(s, 0) must come back
     * before, empty-handed. */
    struct releaser r;
    releaser_start(&r, s, 500);
    double start = now_ms();
    int err = csem_acquire(s, 0);
    double took = now_ms() - start;
    bool released = atomic_load(&r.released);
    releaser_stop(&r);
    KIT_REQUIRE(err == ETIMEDOUT,
                "csem_acquire(s, 0) on an empty semaphore returned %d (%s) after %.0f ms%s: "
                "a time-out of 0 means try once and return ETIMEDOUT at once, never wait",
                err, err_name(err), took,
                released ? ", once another thread had released a permit 500 ms later" : "");
    if (released)
        (void)csem_acquire(s, 0);   /* this slow machine let the releaser in */

    for (int k = 0; k < 20; k++) {
        err = csem_acquire(s, 0);
        if (err != ETIMEDOUT) {
            KIT_CHECK(err == ETIMEDOUT, "csem_acquire(s, 0) on an empty semaphore "
                      "returned %d (%s), expected ETIMEDOUT", err, err_name(err));
            break;
        }
    }
    KIT_CHECK(csem_value(s) == 0, "after 20 failed csem_acquire(s, 0) on an empty "
              "semaphore, csem_value says %u, expected 0: a failed try must not touch "
              "the count", csem_value(s));
    csem_destroy(s);
}

static void test_timed_acquire_times_out_no_earlier_than_asked(void)
{
    static const long timeouts[] = { 1, 20, 60 };
    /* Generous: on a loaded machine a thread may wait long for a processor
     * after its deadline. What this catches is a wait that goes on and on. */
    const long late = kit_scale(2000, 5000);
    csem_t *s = new_csem(0, 0);
    for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
        long t = timeouts[k];
        /* Nobody releases before the time-out; if acquire is still waiting
         * well after it, a permit comes to end the wait. */
        struct releaser r;
        releaser_start(&r, s, t + late + 100);
        double start = now_ms();
        int err = csem_acquire(s, t);
        double took = now_ms() - start;
        bool released = atomic_load(&r.released);
        releaser_stop(&r);
        if (released && err == 0) {
            KIT_CHECK(false, "csem_acquire(s, %ld) on an empty semaphore was still "
                      "waiting after %.0f ms, until another thread released a permit "
                      "(which it took): a time-out > 0 must end the wait with "
                      "ETIMEDOUT once that many milliseconds have passed "
                      "(pthread_cond_timedwait, with a deadline on the clock the "
                      "condition variable uses)", t, took);
            break;
        }
        KIT_CHECK(err == ETIMEDOUT,
                  "csem_acquire(s, %ld) on an empty semaphore that nobody releases "
                  "returned %d (%s) after %.1f ms, expected ETIMEDOUT", t, err,
                  err_name(err), took);
        KIT_CHECK(took >= (double)t - 0.5,
                  "csem_acquire(s, %ld) gave up after %.2f ms, before its %ld ms were "
                  "up. pthread_cond_timedwait takes an ABSOLUTE deadline: now (from "
                  "clock_gettime on the clock the condition variable uses, "
                  "CLOCK_REALTIME unless you set another) plus the time-out, not the "
                  "time-out alone", t, took, t);
        KIT_CHECK(took <= (double)(t + late),
                  "csem_acquire(s, %ld) returned after %.0f ms: a time-out must end "
                  "close to its deadline, not %.0f ms later", t, took, took - (double)t);
        KIT_CHECK_EQ(0, csem_value(s), "csem_value after a timed-out acquire");
        if (CU_get_number_of_failures() > 0)
            break;
    }
    csem_destroy(s);
}

static void test_timed_acquire_takes_a_permit_released_before_the_deadline(void)
{
    /* Long time-outs, released after 10 ms: these deadlines have a
     * nanosecond part that overflows a second unless it is carried. */
    static const long timeouts[] = { 990, 999, 750, 500 };
    csem_t *s = new_csem(0, 0);
    for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
        long t = timeouts[k];
        struct releaser r;
        releaser_start(&r, s, 10);
        double start = now_ms();
        int err = csem_acquire(s, t);
        double took = now_ms() - start;
        bool released = atomic_load(&r.released);
        join_thread(r.tid);     /* it releases after 10 ms whatever happened */
        KIT_CHECK(err == 0,
                  "csem_acquire(s, %ld) on an empty semaphore, with another thread "
                  "releasing a permit 10 ms later, returned %d (%s) after %.1f ms, "
                  "expected 0 after about 10 ms. %s", t, err, err_name(err), took,
                  err == EINVAL
                      ? "EINVAL from pthread_cond_timedwait means a bad deadline: "
                        "tv_nsec must stay below 1000000000 (carry into tv_sec)."
                      : err == ETIMEDOUT && took < 5.0
                      ? "It gave up at once: is the deadline absolute (now + "
                        "time-out), measured on the condition variable's clock?"
                      : "A release must wake a thread waiting with a time-out.");
        KIT_CHECK(err != 0 || released,
                  "csem_acquire(s, %ld) returned 0 after %.1f ms, before any permit "
                  "was released: it must wait while the count is 0", t, took);
        if (err != 0 && !released)
            kit_sleep_ms(20);   /* let the releaser's permit arrive */
        else if (err != 0)
            (void)csem_acquire(s, 0);   /* take the late permit */
        KIT_CHECK_EQ(0, csem_value(s), "csem_value after the released permit was taken");
        if (err != 0)
            break;
    }
    csem_destroy(s);
}

static void test_negative_timeout_waits_for_a_release_from_another_thread(void)
{
    csem_t *s = new_csem(0, 0);
    struct releaser r;
    releaser_start(&r, s, 30);
    double start = now_ms();
    int err = csem_acquire(s, -1);
    double took = now_ms() - start;
    bool released = atomic_load(&r.released);
    join_thread(r.tid);
    KIT_CHECK(err == 0 && released,
              "csem_acquire(s, -1) on an empty semaphore, with another thread "
              "releasing a permit 30 ms later, returned %d (%s) after %.1f ms%s: a "
              "negative time-out means wait as long as it takes, then take the "
              "permit and return 0", err, err_name(err), took,
              released ? "" : ", before the release");
    KIT_CHECK_EQ(err == 0 ? 0 : 1, csem_value(s), "csem_value after the wait");
    csem_destroy(s);
}

/* Several threads blocked in csem_acquire(s, -1) on an empty semaphore. */
struct sleepers {
    csem_t *s;
    atomic_long returned;   /* progress, for run_watched */
    atomic_bool stop;
    atomic_int early;       /* returned before main released anything */
    atomic_bool releasing;
};

static void sleeper(int i, void *arg)
{
    (void)i;
    struct sleepers *z = arg;
    int err = csem_acquire(z->s, -1);
    if (err != 0 || !atomic_load(&z->releasing))
        atomic_fetch_add(&z->early, 1);
    atomic_fetch_add(&z->returned, 1);
}

struct sleepers_run {
    struct sleepers *z;
    int n;
};

/* Thread 0 of the run: lets the others fall asleep, then releases. */
static void sleepers_main(int i, void *arg)
{
    struct sleepers_run *run = arg;
    if (i > 0) {
        sleeper(i, run->z);
        return;
    }
    kit_sleep_ms(kit_scale(30, 200));
    atomic_store(&run->z->releasing, true);
    for (int k = 1; k < run->n; k++)
        if (csem_release(run->z->s) != 0)
            atomic_fetch_add(&run->z->early, 1000);
}

static void test_every_blocked_waiter_wakes_when_permits_arrive(void)
{
    static const int counts[] = { 1, 2, 8, 32 };
    static struct sleepers z;       /* static: stuck threads may outlive the test */
    static struct sleepers_run run;
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        int n = counts[k];
        z.s = new_csem(0, 0);
        atomic_init(&z.returned, 0);
        atomic_init(&z.stop, false);
        atomic_init(&z.early, 0);
        atomic_init(&z.releasing, false);
        run = (struct sleepers_run){ &z, n + 1 };
        bool done = run_watched(n + 1, sleepers_main, &run, &z.returned, &z.stop,
                                kit_scale(2000, 10000));
        int early = atomic_load(&z.early);
        KIT_CHECK(done,
                  "%d thread%s waited in csem_acquire(s, -1) on an empty semaphore, "
                  "then %d permit%s released one after the other; %ld returned, and "
                  "2 s later the others still slept while csem_value said %u permits "
                  "were free. Lost wake-ups: every release must signal the condition "
                  "variable (not only when the count was 0: two releases can come "
                  "before a woken thread runs), while holding the mutex, after raising "
                  "the count", n, n == 1 ? "" : "s", n, n == 1 ? " was" : "s were",
                  atomic_load(&z.returned), csem_value(z.s));
        KIT_CHECK(early == 0,
                  "with %d thread%s waiting in csem_acquire(s, -1) on an empty semaphore, "
                  "%d returned before any permit was released, or with an error: "
                  "csem_acquire(s, -1) must wait while the count is 0, then return 0",
                  n, n == 1 ? "" : "s", early % 1000);
        if (!done)
            return;     /* the semaphore stays: stuck threads still use it */
        KIT_CHECK_EQ(0, csem_value(z.s), "csem_value after every waiter took its permit");
        csem_destroy(z.s);
        if (early != 0)
            return;
    }
}

/* ---- run_limited ---- */

/* What the jobs of one run_limited call record. */
struct overlap {
    pthread_mutex_t lock;
    int njobs, limit;
    long linger_ms;     /* how long each job stays: long enough to overlap */
    int expect;         /* jobs that should run at once: min(njobs, limit) */
    long wait_cap_ms;   /* the longest a job waits for `expect` to be reached */
    bool gave_up;       /* guarded by lock: a job stopped waiting for `expect` */
    int active;         /* guarded by lock: jobs running right now */
    int most;           /* guarded by lock: most jobs seen running at once */
    int most_job;       /* guarded by lock: a job that saw `most` */
    int finished;       /* guarded by lock */
    int bad_index;      /* guarded by lock: an index outside 0..njobs-1, or 0 */
    bool bad_seen;      /* guarded by lock */
    int calls[MAX_JOBS];    /* guarded by lock: how often job(i) ran */
};

static void overlap_job(int i, void *arg)
{
    struct overlap *o = arg;
    if (pthread_mutex_lock(&o->lock) != 0)
        abort();
    if (i < 0 || i >= o->njobs) {
        if (!o->bad_seen)
            o->bad_index = i;
        o->bad_seen = true;
    } else {
        o->calls[i]++;
    }
    o->active++;
    if (o->active > o->most) {
        o->most = o->active;
        o->most_job = i;
    }
    if (pthread_mutex_unlock(&o->lock) != 0)
        abort();
    if (o->linger_ms > 0) {
        /* Stay until `expect` jobs have been seen at once (a correct
         * run_limited gets there as soon as its first threads run, however
         * slow the machine), or until it is clear that it never will. */
        long give_up_at = kit_now_ms() + o->wait_cap_ms;
        for (bool enough = false; !enough;) {
            if (pthread_mutex_lock(&o->lock) != 0)
                abort();
            if (!o->gave_up && o->most < o->expect && kit_now_ms() >= give_up_at)
                o->gave_up = true;
            enough = o->gave_up || o->most >= o->expect;
            if (pthread_mutex_unlock(&o->lock) != 0)
                abort();
            if (!enough)
                kit_sleep_ms(2);
        }
        /* Then linger, so that a job that should not start yet would be
         * seen running beside the others. */
        kit_sleep_ms(o->linger_ms);
    }
    if (pthread_mutex_lock(&o->lock) != 0)
        abort();
    o->active--;
    o->finished++;
    if (pthread_mutex_unlock(&o->lock) != 0)
        abort();
}

/* run_limited(njobs, limit, overlap_job, o); its return value. */
static int run_overlap(struct overlap *o, int njobs, int limit, long linger_ms)
{
    memset(o, 0, sizeof *o);
    if (pthread_mutex_init(&o->lock, NULL) != 0)
        abort();
    o->njobs = njobs;
    o->limit = limit;
    o->linger_ms = linger_ms;
    o->expect = limit < njobs ? limit : njobs;
    o->wait_cap_ms = kit_scale(3000, 10000);
    return run_limited(njobs, limit, overlap_job, o);
}

/* What every successful run must show: each job once, all done on return. */
static void check_every_job_ran_once(const struct overlap *o)
{
    KIT_CHECK(!o->bad_seen, "run_limited(%d, %d, job, arg) called job(%d, arg): the "
              "indexes go from 0 to njobs-1", o->njobs, o->limit, o->bad_index);
    for (int i = 0; i < o->njobs; i++) {
        if (o->calls[i] != 1) {
            KIT_CHECK(o->calls[i] == 1,
                      "run_limited(%d, %d, job, arg) called job(%d, arg) %d times by "
                      "the time it returned, expected exactly once: each thread i "
                      "calls job(i, arg) once (give every thread its own index, not a "
                      "pointer to a loop variable that changes), and run_limited joins "
                      "every thread before returning", o->njobs, o->limit, i, o->calls[i]);
            break;
        }
    }
    KIT_CHECK(o->finished == o->njobs && o->active == 0,
              "run_limited(%d, %d, job, arg) returned while %d jobs were still "
              "running (%d of %d had finished): it must wait for every thread (join "
              "them all) before returning", o->njobs, o->limit, o->active,
              o->finished, o->njobs);
}

static void check_limit_reached_exactly(const struct overlap *o, int rc)
{
    int expect = o->limit < o->njobs ? o->limit : o->njobs;
    KIT_REQUIRE(rc == 0, "run_limited(%d, %d, job, arg) returned %d (%s), expected 0",
                o->njobs, o->limit, rc, err_name(rc));
    KIT_CHECK(o->most <= o->limit,
              "run_limited(%d, %d, job, arg) had %d jobs running at once (job %d "
              "started while %d others ran), but it has only %d slot%s: every thread "
              "must take a slot of "
              "ONE shared semaphore of %d permits (csem_acquire) before calling job, "
              "and give it back (csem_release) after",
              o->njobs, o->limit, o->most, o->most_job, o->most - 1, o->limit,
              o->limit == 1 ? "" : "s", o->limit);
    KIT_CHECK(o->most >= expect,
              "run_limited(%d, %d, job, arg) never had more than %d job%s running at "
              "once, expected %d: the first jobs here wait up to %ld ms for %d of "
              "them to run together, which they do as soon as %d threads hold a slot "
              "each. Start all the threads first, then join them all (joining each "
              "thread right after starting it runs the jobs one by one), and give "
              "the semaphore `limit` permits",
              o->njobs, o->limit, o->most, o->most == 1 ? "" : "s", expect,
              o->wait_cap_ms, expect, expect);
    check_every_job_ran_once(o);
}

static void test_run_limited_runs_3_of_12_jobs_at_once_never_4(void)
{
    static struct overlap o;
    int rc = run_overlap(&o, 12, 3, kit_scale(30, 60));
    check_limit_reached_exactly(&o, rc);
}

static void test_run_limited_reaches_but_never_passes_other_limits(void)
{
    static const struct { int njobs, limit; long linger_ms; } native[] = {
        { 5, 1, 5 }, { 2, 1, 10 }, { 4, 4, 20 }, { 3, 8, 20 }, { 1, 1, 1 },
        { 8, 2, 15 }, { 64, 16, 20 },
    }, race[] = {
        { 3, 1, 20 }, { 3, 5, 60 }, { 6, 2, 60 },
    };
    size_t n = kit_race_mode() ? sizeof race / sizeof race[0]
                               : sizeof native / sizeof native[0];
    static struct overlap o;
    for (size_t k = 0; k < n; k++) {
        int njobs = kit_race_mode() ? race[k].njobs : native[k].njobs;
        int limit = kit_race_mode() ? race[k].limit : native[k].limit;
        long linger = kit_race_mode() ? race[k].linger_ms : native[k].linger_ms;
        int rc = run_overlap(&o, njobs, limit, linger);
        check_limit_reached_exactly(&o, rc);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void test_run_limited_calls_every_job_index_exactly_once(void)
{
    static const struct { int njobs, limit; } cases[] = {
        { 1, 1 }, { 1, 5 }, { 7, 3 }, { 64, 4 }, { 64, 64 }, { 33, 1 },
    };
    static struct overlap o;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int rc = run_overlap(&o, cases[k].njobs, cases[k].limit, 0);
        KIT_CHECK(rc == 0, "run_limited(%d, %d, job, arg) returned %d (%s), expected 0",
                  cases[k].njobs, cases[k].limit, rc, err_name(rc));
        check_every_job_ran_once(&o);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void test_run_limited_waits_for_every_job(void)
{
    static struct overlap o;
    int rc = run_overlap(&o, 8, 2, 10);
    KIT_CHECK(rc == 0, "run_limited(8, 2, job, arg) returned %d (%s), expected 0",
              rc, err_name(rc));
    /* Read at once, before the lock: a detached job may still be sleeping. */
    if (pthread_mutex_lock(&o.lock) != 0)
        abort();
    int finished = o.finished, active = o.active;
    if (pthread_mutex_unlock(&o.lock) != 0)
        abort();
    KIT_CHECK(finished == 8,
              "run_limited(8, 2, job, arg) returned when %d of its 8 jobs had "
              "finished (%d still running): it must join every thread it started "
              "before returning", finished, active);
    if (finished != 8)
        kit_sleep_ms(200);  /* let stray jobs end before o goes away */
}

static int bad_calls;   /* only touched by the job below, which must never run */

static void never_job(int i, void *arg)
{
    (void)i;
    (void)arg;
    bad_calls++;
}

static void test_run_limited_rejects_bad_arguments(void)
{
    static const struct { int njobs, limit; } cases[] = {
        { 0, 3 }, { -1, 3 }, { 3, 0 }, { 3, -1 }, { 0, 0 }, { -5, -5 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        bad_calls = 0;
        int rc = run_limited(cases[k].njobs, cases[k].limit, never_job, NULL);
        KIT_CHECK(rc == EINVAL && bad_calls == 0,
                  "run_limited(%d, %d, job, arg) returned %d (%s) and ran the job %d "
                  "times, expected EINVAL (%d) without running anything: njobs < 1 "
                  "and limit < 1 are refused first",
                  cases[k].njobs, cases[k].limit, rc, err_name(rc), bad_calls, EINVAL);
    }
}

/* ---- Stress: waiters and posters ---- */

/* A time-out of 1 to `most` ms for a stress worker, which tries again when
 * it expires. Under a race detector the waits are made long enough never to
 * expire: a time-out racing a signal inside glibc's pthread_cond_timedwait
 * makes helgrind report glibc's own internal broadcast, in anyone's code. */
static long short_timeout(unsigned *seed, int most)
{
    return kit_race_mode() ? 60000 : 1 + (long)(rand_r(seed) % (unsigned)most);
}

/* One kind of traffic: posters release; waiters acquire with time-out -1
 * (or, when `timed`, every other one with a short time-out, trying again);
 * triers spin on acquire(0). */
struct traffic_kind {
    int posters, waiters, triers;
    bool timed;
    int burst;          /* releases in a row before a poster pauses */
    long per_poster;    /* at most this many releases per poster and round */
    long round_ms;      /* native: posters stop after this long */
    long budget_ms;     /* native: rounds are repeated for this long */
};

/* One round. Posters release until their count or time is up; the last one
 * to stop closes the round: it releases one more permit per taker, and every
 * taker leaves after the first permit it gets once the round is closed. So
 * nobody is left waiting, and at the end the count is exactly the releases
 * minus the acquires. */
struct traffic {
    csem_t *s;
    const struct traffic_kind *kind;
    long stop_ms;           /* posters stop at this time */
    atomic_int posters_left;
    atomic_bool closed;
    atomic_long posted;     /* raised BEFORE each release */
    atomic_long acquired;   /* raised AFTER each acquire returned 0 */
    atomic_long progress;   /* posted + acquired, for run_watched */
    atomic_bool stop;       /* set by run_watched when it gives up */
    atomic_int anomaly;     /* 0 until a worker saw an invariant broken */
    long a, b;              /* the anomaly's numbers; written by its finder */
};

enum { ANOMALY_NONE, ANOMALY_TOO_MANY_ACQUIRES, ANOMALY_COUNT_TOO_BIG,
       ANOMALY_RELEASE_FAILED, ANOMALY_ACQUIRE_FAILED };

static void report_anomaly(struct traffic *t, int kind, long a, long b)
{
    int none = ANOMALY_NONE;
    if (atomic_compare_exchange_strong(&t->anomaly, &none, kind)) {
        t->a = a;
        t->b = b;
    }
}

static void traffic_release(struct traffic *t)
{
    atomic_fetch_add(&t->posted, 1);
    int err = csem_release(t->s);
    atomic_fetch_add(&t->progress, 1);
    if (err != 0)
        report_anomaly(t, ANOMALY_RELEASE_FAILED, err, 0);
}

static void traffic_poster(struct traffic *t)
{
    const struct traffic_kind *kind = t->kind;
    for (long k = 0; k < kind->per_poster && !atomic_load(&t->stop); k++) {
        if (kit_now_ms() >= t->stop_ms)
            break;
        traffic_release(t);
        if (k % 4 == 3) {
            /* The count never exceeds what was released: read the count
             * first, so every release it includes is already counted. */
            unsigned v = csem_value(t->s);
            long posted = atomic_load(&t->posted);
            if ((long)v > posted)
                report_anomaly(t, ANOMALY_COUNT_TOO_BIG, (long)v, posted);
        }
        /* Pause now and then: the waiters run out of permits and fall
         * asleep, and the next releases must wake them. */
        if (k % kind->burst == kind->burst - 1) {
            if (kind->burst == 1)
                sched_yield();
            else
                nanosleep(&(struct timespec){ 0, 50000 }, NULL);
        }
    }
    if (atomic_fetch_sub(&t->posters_left, 1) == 1) {
        /* The last poster closes the round: one permit per taker. */
        atomic_store(&t->closed, true);
        for (int k = 0; k < kind->waiters + kind->triers; k++)
            traffic_release(t);
    }
}

static void traffic_taker(struct traffic *t, int how, unsigned seed)
{
    while (!atomic_load(&t->stop)) {
        long timeout = how == 0 ? -1 : how == 1 ? short_timeout(&seed, 5) : 0;
        int err = csem_acquire(t->s, timeout);
        if (err == ETIMEDOUT && timeout >= 0) {
            if (timeout == 0)
                sched_yield();
            continue;
        }
        if (err != 0) {
            report_anomaly(t, ANOMALY_ACQUIRE_FAILED, err, timeout);
            return;
        }
        long acquired = atomic_fetch_add(&t->acquired, 1) + 1;
        atomic_fetch_add(&t->progress, 1);
        long posted = atomic_load(&t->posted);
        if (acquired > posted)
            report_anomaly(t, ANOMALY_TOO_MANY_ACQUIRES, acquired, posted);
        if (atomic_load(&t->closed))
            return;     /* the round is over: this permit was our last */
    }
}

static void traffic_worker(int i, void *arg)
{
    struct traffic *t = arg;
    const struct traffic_kind *kind = t->kind;
    if (i < kind->posters)
        traffic_poster(t);
    else if (i < kind->posters + kind->waiters)
        traffic_taker(t, kind->timed ? i % 2 : 0, (unsigned)i * 2654435761u);
    else
        traffic_taker(t, 2, (unsigned)i);   /* try once, again and again */
}

static void check_traffic(struct traffic *t, bool done)
{
    const struct traffic_kind *kind = t->kind;
    long posted = atomic_load(&t->posted), acquired = atomic_load(&t->acquired);
    switch (atomic_load(&t->anomaly)) {
    case ANOMALY_TOO_MANY_ACQUIRES:
        KIT_CHECK(false, "more acquires than releases: %ld acquires had returned 0 while "
                  "only %ld permits had been released (the count starts at 0). Two "
                  "threads took the same permit: after pthread_cond_wait returns, the "
                  "count must be checked again (`while`, not `if`): another thread may "
                  "have taken the permit first, and wake-ups can be spurious", t->a, t->b);
        break;
    case ANOMALY_COUNT_TOO_BIG:
        KIT_CHECK(false, "csem_value said %ld when only %ld permits had ever been "
                  "released (the count starts at 0): the count went below 0 and "
                  "wrapped around (an unsigned 0 - 1), so some thread decremented it "
                  "without a permit to take: check `while (count == 0) wait` under the "
                  "mutex", t->a, t->b);
        break;
    case ANOMALY_RELEASE_FAILED:
        KIT_CHECK(false, "csem_release on a plain Semaphore (max 0) returned %ld (%s), "
                  "expected 0", t->a, err_name((int)t->a));
        break;
    case ANOMALY_ACQUIRE_FAILED:
        KIT_CHECK(false, "csem_acquire(s, %ld) returned %ld (%s): only 0 or (with a "
                  "time-out >= 0) ETIMEDOUT are possible", t->b, t->a, err_name((int)t->a));
        break;
    default:
        break;
    }
    KIT_CHECK(done,
              "lost wake-up: %d threads released %ld permits in all while %d threads "
              "acquired, but after 2 s without progress only %ld acquires had "
              "returned while csem_value says %u permits are free: threads sleep in "
              "csem_acquire although permits are there. Every release must signal the "
              "condition variable (each new permit can wake one waiter; signalling only "
              "when the count was 0 loses wake-ups when two releases come before a "
              "waiter runs), while holding the mutex, after raising the count",
              kind->posters, posted, kind->waiters + kind->triers, acquired,
              csem_value(t->s));
    if (done && atomic_load(&t->anomaly) == ANOMALY_NONE) {
        unsigned v = csem_value(t->s);
        KIT_CHECK((long)v == posted - acquired,
                  "after %ld releases and %ld acquires on a semaphore starting at 0, "
                  "csem_value says %u, expected %ld: updates of the count were lost (is "
                  "every change of the count made while holding the mutex?)",
                  posted, acquired, v, posted - acquired);
    }
}

/* One round of `kind` for at most round_ms; false when it failed. */
static bool run_traffic(struct traffic *t, const struct traffic_kind *kind, long round_ms)
{
    memset(t, 0, sizeof *t);
    t->s = new_csem(0, 0);
    t->kind = kind;
    t->stop_ms = kit_race_mode() ? LONG_MAX : kit_now_ms() + round_ms;
    atomic_init(&t->posters_left, kind->posters);
    int n = kind->posters + kind->waiters + kind->triers;
    bool done = run_watched(n, traffic_worker, t, &t->progress, &t->stop,
                            kit_scale(2000, 10000));
    check_traffic(t, done);
    if (!done)
        return false;   /* the semaphore stays: stuck threads still use it */
    csem_destroy(t->s);
    return CU_get_number_of_failures() == 0;
}

static void test_no_lost_wakeups_with_many_waiters_and_posters(void)
{
    static struct traffic t;    /* static: stuck threads may outlive the test */
    /* Short rounds, repeated for a time budget: each round ends with every
     * thread woken and the count checked. */
    static const struct traffic_kind native[] = {
        { 8, 8, 2, true, 1, 1000, 40, 40 },    /* every kind of acquire at once */
        { 4, 8, 0, false, 4, 200, 20, 20 },    /* sleepers, woken by bursts of releases */
        { 1, 2, 0, true, 1, 200, 10, 10 },
        { 2, 1, 1, true, 2, 200, 10, 10 },
    }, race[] = {
        { 2, 2, 1, true, 2, 40, 0, 0 },
    };
    const struct traffic_kind *kinds = kit_race_mode() ? race : native;
    size_t nkinds = kit_race_mode() ? sizeof race / sizeof race[0]
                                    : sizeof native / sizeof native[0];
    for (size_t k = 0; k < nkinds; k++) {
        long until = kit_now_ms() + kinds[k].budget_ms;
        do {
            if (!run_traffic(&t, &kinds[k], kinds[k].round_ms))
                return;
        } while (kit_now_ms() < until);
    }
}

/* ---- Stress: a BoundedSemaphore guarding a pool ---- */

struct pool {
    csem_t *s;
    unsigned max;
    long stop_ms;           /* native: stop at this time */
    long rounds;            /* race mode: this many rounds each */
    pthread_mutex_t lock;
    int holding;            /* guarded by lock: threads holding a permit */
    int most;               /* guarded by lock */
    atomic_long progress;
    atomic_bool stop;
    atomic_int release_err; /* first error of a release of a held permit */
    atomic_uint value_seen; /* a csem_value above max, or 0 */
};

static void pool_worker(int i, void *arg)
{
    struct pool *p = arg;
    unsigned seed = (unsigned)i + 1;
    for (long round = 0; !atomic_load(&p->stop); round++) {
        if (p->rounds > 0 ? round >= p->rounds : kit_now_ms() >= p->stop_ms)
            break;
        long timeout = i % 3 == 0 ? -1 : i % 3 == 1 ? 0 : short_timeout(&seed, 3);
        int err = csem_acquire(p->s, timeout);
        if (err == ETIMEDOUT && timeout >= 0) {
            sched_yield();
            continue;
        }
        if (err != 0) {
            int none = 0;
            atomic_compare_exchange_strong(&p->release_err, &none, -err);
            return;
        }
        if (pthread_mutex_lock(&p->lock) != 0)
            abort();
        if (++p->holding > p->most)
            p->most = p->holding;
        if (pthread_mutex_unlock(&p->lock) != 0)
            abort();
        unsigned v = csem_value(p->s);
        if (v > p->max)
            atomic_store(&p->value_seen, v);
        sched_yield();      /* hold the permit a moment */
        if (pthread_mutex_lock(&p->lock) != 0)
            abort();
        p->holding--;
        if (pthread_mutex_unlock(&p->lock) != 0)
            abort();
        err = csem_release(p->s);
        atomic_fetch_add(&p->progress, 1);
        if (err != 0) {
            int none = 0;
            atomic_compare_exchange_strong(&p->release_err, &none, err);
        }
    }
}

static void test_bounded_semaphore_never_lets_more_than_max_hold_a_permit(void)
{
    static struct pool p;   /* static: stuck threads may outlive the test */
    static const struct { int threads; unsigned max; } native[] = {
        { 8, 3 }, { 2, 1 }, { 64, 5 },
    }, race[] = {
        { 4, 2 },
    };
    size_t n = kit_race_mode() ? 1 : sizeof native / sizeof native[0];
    for (size_t k = 0; k < n; k++) {
        int threads = kit_race_mode() ? race[k].threads : native[k].threads;
        unsigned max = kit_race_mode() ? race[k].max : native[k].max;
        memset(&p, 0, sizeof p);
        if (pthread_mutex_init(&p.lock, NULL) != 0)
            abort();
        p.s = new_csem(max, max);
        p.max = max;
        p.stop_ms = kit_now_ms() + (threads > 8 ? 30 : 60);
        p.rounds = kit_scale(0, 10);
        bool done = run_watched(threads, pool_worker, &p, &p.progress, &p.stop,
                                kit_scale(2000, 10000));
        int err = atomic_load(&p.release_err);
        KIT_CHECK(done,
                  "%d threads sharing BoundedSemaphore(%u) made no progress for 2 s "
                  "with csem_value at %u: threads sleep in csem_acquire although "
                  "permits are free (a lost wake-up: every release must signal the "
                  "condition variable, under the mutex, after raising the count)",
                  threads, max, csem_value(p.s));
        KIT_CHECK(p.most <= (int)max,
                  "%d threads held a permit of BoundedSemaphore(%u) at once (%d "
                  "threads sharing it): a thread woken in csem_acquire must check the "
                  "count again before taking a permit (`while`, not `if`)",
                  p.most, max, threads);
        KIT_CHECK(atomic_load(&p.value_seen) == 0,
                  "csem_value of BoundedSemaphore(%u) said %u: the count went below 0 "
                  "and wrapped around, or above max", max, atomic_load(&p.value_seen));
        KIT_CHECK(err == 0,
                  "with %d threads sharing BoundedSemaphore(%u): %s %d (%s)", threads,
                  max, err > 0 ? "giving back a permit the thread held returned"
                               : "csem_acquire returned", err < 0 ? -err : err,
                  err_name(err < 0 ? -err : err));
        if (!done)
            return;
        KIT_CHECK_EQ(max, csem_value(p.s), "csem_value once every permit came back");
        err = csem_release(p.s);
        KIT_CHECK(err == EOVERFLOW, "BoundedSemaphore(%u) with every permit back: one "
                  "more csem_release returned %d (%s), expected EOVERFLOW", max, err,
                  err_name(err));
        KIT_CHECK_EQ(max, csem_value(p.s), "csem_value after the refused release");
        csem_destroy(p.s);
        if (pthread_mutex_destroy(&p.lock) != 0)
            abort();
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

/* ---- The tables ---- */

static CU_TestInfo counting_tests[] = {
    { "test_create_sets_the_start_value", test_create_sets_the_start_value },
    { "test_create_with_value_above_max_fails_with_einval",
      test_create_with_value_above_max_fails_with_einval },
    { "test_acquire_and_release_move_the_count_by_one",
      test_acquire_and_release_move_the_count_by_one },
    { "test_semaphore_grows_above_its_start_value",
      test_semaphore_grows_above_its_start_value },
    { "test_bounded_release_above_max_is_eoverflow_and_keeps_the_count",
      test_bounded_release_above_max_is_eoverflow_and_keeps_the_count },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo timeout_tests[] = {
    { "test_try_once_never_waits", test_try_once_never_waits },
    { "test_timed_acquire_times_out_no_earlier_than_asked",
      test_timed_acquire_times_out_no_earlier_than_asked },
    { "test_timed_acquire_takes_a_permit_released_before_the_deadline",
      test_timed_acquire_takes_a_permit_released_before_the_deadline },
    { "test_negative_timeout_waits_for_a_release_from_another_thread",
      test_negative_timeout_waits_for_a_release_from_another_thread },
    { "test_every_blocked_waiter_wakes_when_permits_arrive",
      test_every_blocked_waiter_wakes_when_permits_arrive },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo limited_tests[] = {
    { "test_run_limited_runs_3_of_12_jobs_at_once_never_4",
      test_run_limited_runs_3_of_12_jobs_at_once_never_4 },
    { "test_run_limited_reaches_but_never_passes_other_limits",
      test_run_limited_reaches_but_never_passes_other_limits },
    { "test_run_limited_calls_every_job_index_exactly_once",
      test_run_limited_calls_every_job_index_exactly_once },
    { "test_run_limited_waits_for_every_job", test_run_limited_waits_for_every_job },
    { "test_run_limited_rejects_bad_arguments", test_run_limited_rejects_bad_arguments },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    { "test_no_lost_wakeups_with_many_waiters_and_posters",
      test_no_lost_wakeups_with_many_waiters_and_posters },
    { "test_bounded_semaphore_never_lets_more_than_max_hold_a_permit",
      test_bounded_semaphore_never_lets_more_than_max_hold_a_permit },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "counting", NULL, NULL, NULL, NULL, counting_tests },
    { "timeouts", NULL, NULL, NULL, NULL, timeout_tests },
    { "limited", NULL, NULL, NULL, NULL, limited_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
