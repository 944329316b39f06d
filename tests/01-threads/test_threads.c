/* test_threads.c - tests of exercise 01-threads (threads.h).
 *
 * Results are compared with a sieve of Eratosthenes computed once per
 * process. What the threads do is watched through the pthread calls
 * themselves: the test binary is linked with -Wl,--wrap=pthread_create and
 * -Wl,--wrap=pthread_join, so every call of the code under test comes to
 * __wrap_pthread_create and __wrap_pthread_join below first. While a test
 * watches a call of count_primes_threaded, the wrappers
 *   - count the threads started and the joins, and the most threads started
 *     but not yet joined at any moment (all at once, or one after the other?);
 *   - refuse to join a thread that was never started or already joined,
 *     reporting it instead of crashing on it;
 *   - can make the k-th pthread_create fail with EAGAIN, as it does when a
 *     process runs out of threads;
 *   - can hold the first new threads of a call back until their creator has
 *     moved on to its next pthread_create or pthread_join (at most 20 ms
 *     each), as a busy machine may: a thread that reads arguments its creator
 *     has since changed then reads the wrong ones every time, not once in a
 *     while. Only the first HOLD_MAX threads, so that a correct creator that
 *     waits for each new thread to copy its arguments is not made slow. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kit_test.h"
#include "threads.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    MAX_TRACKED = 1024,     /* threads one watched call may start */
    HOLD_MS = 20,           /* the longest a held-back thread waits */
    HOLD_MAX = 4,           /* threads held back per watched call, at most */
    REF_MAX = 300000,       /* the sieve covers 0 <= n < REF_MAX */
    UNTOUCHED = -12345,     /* *count before a call */
};

/* ---- the pthread wrappers ------------------------------------------------ */

int __real_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __real_pthread_join(pthread_t tid, void **ret);
int __wrap_pthread_join(pthread_t tid, void **ret);

/* What the wrappers saw during one watched call. */
struct watch {
    bool on;                /* counting; off outside watched calls */
    bool hold;              /* hold new threads back (see the top) */
    int fail_at;            /* this pthread_create (0-based) fails; -1: none */
    int creates;            /* pthread_create calls */
    int started;            /* ...that started a thread */
    int joins;              /* successful joins of threads started here */
    int bad_joins;          /* joins of a thread not started here or joined twice */
    int live, most_live;    /* started and not yet joined: now, at most */
    long moves;             /* create and join calls: the clock of held threads */
    pthread_t tids[MAX_TRACKED];
    bool joined[MAX_TRACKED];
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t moved;            /* moves went up; on CLOCK_MONOTONIC */
static pthread_once_t moved_once = PTHREAD_ONCE_INIT;
static struct watch w;                  /* guarded by watch_lock */

static void init_moved(void)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0 ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&moved, &attr) != 0 || pthread_condattr_destroy(&attr) != 0)
        abort();
}

static void lock_watch(void)
{
    if (pthread_mutex_lock(&watch_lock) != 0)
        abort();
}

static void unlock_watch(void)
{
    if (pthread_mutex_unlock(&watch_lock) != 0)
        abort();
}

/* Caller holds watch_lock. */
static void note_move(void)
{
    w.moves++;
    if (pthread_cond_broadcast(&moved) != 0)
        abort();
}

/* A held-back thread: what to run, and the move it waits for. */
struct held {
    void *(*fn)(void *);
    void *arg;
    long ticket;
};

static void *held_main(void *p)
{
    struct held h = *(struct held *)p;
    free(p);
    struct timespec until;
    if (clock_gettime(CLOCK_MONOTONIC, &until) != 0)
        abort();
    until.tv_nsec += HOLD_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    lock_watch();
    int err = 0;
    while (w.moves <= h.ticket && err == 0)
        err = pthread_cond_timedwait(&moved, &watch_lock, &until);
    if (err != 0 && err != ETIMEDOUT)
        abort();
    unlock_watch();
    return h.fn(h.arg);
}

int __wrap_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
    lock_watch();
    if (!w.on) {
        unlock_watch();
        return __real_pthread_create(tid, attr, fn, arg);
    }
    int call = w.creates++;
    note_move();
    if (call == w.fail_at || w.started >= MAX_TRACKED) {
        unlock_watch();
        return EAGAIN;  /* what pthread_create says when threads run out */
    }
    struct held *h = NULL;
    if (w.hold && w.started < HOLD_MAX) {
        h = malloc(sizeof *h);
        if (!h)
            abort();
        *h = (struct held){ fn, arg, w.moves };
    }
    /* Started under the lock, so that a join cannot come before the count. */
    pthread_t t;
    int err = h ? __real_pthread_create(&t, attr, held_main, h)
                : __real_pthread_create(&t, attr, fn, arg);
    if (err == 0) {
        w.tids[w.started] = t;
        w.joined[w.started] = false;
        w.started++;
        if (++w.live > w.most_live)
            w.most_live = w.live;
        *tid = t;
    } else {
        free(h);
    }
    unlock_watch();
    return err;
}

int __wrap_pthread_join(pthread_t tid, void **ret)
{
    lock_watch();
    if (!w.on) {
        unlock_watch();
        return __real_pthread_join(tid, ret);
    }
    note_move();
    int k = 0;
    while (k < w.started && (w.joined[k] || !pthread_equal(w.tids[k], tid)))
        k++;
    if (k == w.started) {
        /* Never started, or joined already: glibc may crash or hang on it. */
        w.bad_joins++;
        unlock_watch();
        return ESRCH;
    }
    /* Counted before the wait, which cannot fail for a thread started here
     * and not joined yet, unless it was detached (undone below). */
    w.joined[k] = true;
    w.joins++;
    w.live--;
    unlock_watch();
    int err = __real_pthread_join(tid, ret);
    if (err != 0) {
        lock_watch();
        w.joined[k] = false;
        w.joins--;
        w.live++;
        unlock_watch();
    }
    return err;
}

/* Starts watching the pthread calls of one count_primes_threaded call. */
static void watch_start(bool hold, int fail_at)
{
    if (pthread_once(&moved_once, init_moved) != 0)
        abort();
    lock_watch();
    memset(&w, 0, sizeof w);
    w.on = true;
    w.hold = hold;
    w.fail_at = fail_at;
    unlock_watch();
}

/* Stops watching, releases any thread still held back, and returns what was
 * seen. Threads the call started and did not join are left running. */
static struct watch *watch_stop(void)
{
    static struct watch seen;   /* static: too big for a stack */
    lock_watch();
    w.on = false;
    w.moves = LONG_MAX;
    if (pthread_cond_broadcast(&moved) != 0)
        abort();
    seen = w;
    unlock_watch();
    return &seen;
}

/* ---- reference counts ---------------------------------------------------- */

/* primes_below[n] = the number of primes p < n, for 0 <= n <= REF_MAX. */
static int *primes_below;

static void make_reference(void)
{
    if (primes_below)
        return;
    char *composite = calloc(REF_MAX, 1);
    primes_below = calloc(REF_MAX + 1, sizeof *primes_below);
    if (!composite || !primes_below)
        abort();
    for (long i = 2; i * i < REF_MAX; i++)
        if (!composite[i])
            for (long j = i * i; j < REF_MAX; j += i)
                composite[j] = 1;
    for (long n = 0; n < REF_MAX; n++)
        primes_below[n + 1] = primes_below[n] + (n >= 2 && !composite[n]);
    free(composite);
}

/* The primes p with lo <= p < hi; lo and hi at most REF_MAX. */
static long expected_count(long lo, long hi)
{
    make_reference();
    if (hi <= lo || hi <= 0)
        return 0;
    return primes_below[hi] - primes_below[lo < 0 ? 0 : lo];
}

/* ---- calling count_primes_threaded --------------------------------------- */

struct call {
    long lo, hi;
    int nthreads;
    int err;                /* what it returned */
    long count;             /* *count afterwards (UNTOUCHED if unchanged) */
    const struct watch *seen;
};

static struct call watched_call(long lo, long hi, int nthreads, bool hold, int fail_at)
{
    struct call c = { lo, hi, nthreads, 0, UNTOUCHED, NULL };
    watch_start(hold, fail_at);
    c.err = count_primes_threaded(lo, hi, nthreads, &c.count);
    c.seen = watch_stop();
    return c;
}

static const char *err_name(int err)
{
    switch (err) {
    case 0: return "0";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case ESRCH: return "ESRCH";
    default: return "an unexpected value";
    }
}

/* Checks a call that must succeed: 0, and the right count. False if not. */
static bool check_count(const struct call *c, const char *why_wrong)
{
    KIT_CHECK(c->err == 0, "count_primes_threaded(%ld, %ld, %d, &count) returned %d "
              "(%s), expected 0: the arguments are valid", c->lo, c->hi, c->nthreads,
              c->err, err_name(c->err));
    if (c->err != 0)
        return false;
    long want = expected_count(c->lo, c->hi);
    KIT_CHECK(c->count == want, "count_primes_threaded(%ld, %ld, %d, &count) counted "
              "%ld primes, expected %ld: %s", c->lo, c->hi, c->nthreads, c->count,
              want, why_wrong);
    return c->count == want;
}

/* Checks that the call started exactly its nthreads threads and joined each
 * once (started counts only successful pthread_create calls). */
static bool check_threads(const struct call *c, int want_started)
{
    const struct watch *s = c->seen;
    KIT_CHECK(s->started == want_started,
              "count_primes_threaded(%ld, %ld, %d, &count) started %d threads, "
              "expected %d: it must start one thread per part with pthread_create, "
              "nthreads in all, even when some parts are empty (the caller only "
              "starts, joins and adds up)", c->lo, c->hi, c->nthreads, s->started,
              want_started);
    KIT_CHECK(s->bad_joins == 0,
              "count_primes_threaded(%ld, %ld, %d, &count) called pthread_join %d "
              "times on a thread it had not started or had joined already: join "
              "exactly the pthread_t values that successful pthread_create calls "
              "filled in, each once", c->lo, c->hi, c->nthreads, s->bad_joins);
    KIT_CHECK(s->joins == s->started,
              "count_primes_threaded(%ld, %ld, %d, &count) started %d threads but "
              "joined only %d before returning: every thread must be joined (like "
              "t.join() in Python), or the caller may read a result that is not "
              "there yet, and the thread's resources are never freed",
              c->lo, c->hi, c->nthreads, s->started, s->joins);
    return s->started == want_started && s->bad_joins == 0 && s->joins == s->started;
}

/* ---- basic: results ------------------------------------------------------ */

static const int thread_counts[] = { 1, 2, 3, 4, 7, 8, 64 };
#define NCOUNTS (sizeof thread_counts / sizeof thread_counts[0])

static void test_count_primes_counts_exactly(void)
{
    static const long ranges[][2] = {
        { 0, 0 }, { 0, 2 }, { 0, 3 }, { 2, 3 }, { 3, 4 }, { -10, 10 }, { 0, 100 },
        { 0, 1000 }, { 10, 5 }, { 7919, 7920 }, { 100000, 101000 }, { -5, -1 },
    };
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        long lo = ranges[k][0], hi = ranges[k][1];
        long got = count_primes(lo, hi), want = expected_count(lo, hi);
        KIT_CHECK(got == want, "count_primes(%ld, %ld) returned %ld, expected %ld: it "
                  "counts the primes p with lo <= p < hi (2 is the first prime)",
                  lo, hi, got, want);
    }
}

static void test_threaded_count_is_exact_for_many_ranges_and_thread_counts(void)
{
    static const long ranges[][2] = {
        { 0, 1000 }, { 1, 997 }, { 13, 14 }, { 7, 131 }, { 99991, 100003 },
        { 3, 12007 },
    };
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++)
        for (size_t t = 0; t < NCOUNTS; t++) {
            struct call c = watched_call(ranges[k][0], ranges[k][1], thread_counts[t],
                                         false, -1);
            if (!check_count(&c, "every number of [lo, hi) must be counted by exactly "
                             "one thread: check where one part ends and the next "
                             "begins (no number twice, none left out, the last part "
                             "ends at hi even when the size does not divide evenly), "
                             "and that every part's count is added once, after its "
                             "thread was joined"))
                return;
        }
}

static void test_ranges_smaller_than_the_thread_count(void)
{
    static const struct { long size; int nthreads; } cases[] = {
        { 0, 2 }, { 1, 2 }, { 0, 8 }, { 1, 8 }, { 3, 8 }, { 7, 8 }, { 0, 64 }, { 10, 64 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct call c = watched_call(2, 2 + cases[k].size, cases[k].nthreads, false, -1);
        if (!check_count(&c, "with fewer numbers than threads, some parts hold "
                         "one number and the others none; an empty part counts 0"))
            return;
    }
    struct call c = watched_call(5, 5, 8, false, -1);
    check_count(&c, "an empty range holds no prime");
    c = watched_call(50, 10, 4, false, -1);
    check_count(&c, "a range with hi < lo is empty, as range(50, 10) is in Python");
}

static void test_bad_arguments_return_einval_and_start_nothing(void)
{
    static const int bad[] = { 0, -1, -64, INT_MIN, THREADS_MAX + 1, 1000, INT_MAX };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        struct call c = watched_call(0, 100, bad[k], false, -1);
        KIT_CHECK(c.err == EINVAL && c.count == UNTOUCHED && c.seen->started == 0,
                  "count_primes_threaded(0, 100, %d, &count) returned %d (%s), stored "
                  "%ld and started %d threads; expected EINVAL, count untouched and no "
                  "thread: nthreads must be between 1 and THREADS_MAX (%d), checked "
                  "before anything else", bad[k], c.err, err_name(c.err),
                  c.count == UNTOUCHED ? 0 : c.count, c.seen->started, THREADS_MAX);
        if (c.err != EINVAL)
            return;
    }
    watch_start(false, -1);
    int err = count_primes_threaded(0, 100, 4, NULL);
    const struct watch *s = watch_stop();
    KIT_CHECK(err == EINVAL && s->started == 0,
              "count_primes_threaded(0, 100, 4, NULL) returned %d (%s) and started %d "
              "threads; expected EINVAL and no thread: with nowhere to store the "
              "count there is no point starting", err, err_name(err), s->started);
}

/* ---- threads: started, joined, at once, arguments, failures -------------- */

static void test_starts_exactly_nthreads_threads_and_joins_each_once(void)
{
    static const int counts[] = { 1, 2, 5, 8, 64, THREADS_MAX };
    long hi = kit_scale(120000, 3000);
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        struct call c = watched_call(0, hi, counts[k], false, -1);
        if (!check_threads(&c, counts[k]) ||
            !check_count(&c, "the result must be the sum of every thread's count, "
                         "read after that thread was joined"))
            return;
    }
}

static void test_threads_run_at_the_same_time(void)
{
    static const int counts[] = { 2, 4, 8 };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        int n = counts[k];
        struct call c = watched_call(0, kit_scale(20000, 2000), n, false, -1);
        if (!check_threads(&c, n))
            return;
        KIT_CHECK(c.seen->most_live == n,
                  "count_primes_threaded(0, %ld, %d, &count) never had more than %d "
                  "of its %d threads started and not yet joined: start them all "
                  "first, then join them all (a thread joined right after it was "
                  "started runs alone, which is sequential code with extra steps)",
                  c.hi, n, c.seen->most_live, n);
        if (c.seen->most_live != n)
            return;
    }
}

static void test_each_thread_gets_its_own_part_even_when_it_starts_late(void)
{
    static const long ranges[][2] = { { 0, 5000 }, { 1, 4099 }, { 2, 12 }, { 0, 30000 } };
    static const int counts[] = { 2, 3, 8, 64 };
    int rounds = kit_race_mode() ? 1 : 2;
    for (int r = 0; r < rounds; r++)
        for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
            if (kit_race_mode() && counts[k] > 8)
                continue;
            struct call c = watched_call(ranges[k][0], ranges[k][1], counts[k], true, -1);
            if (!check_count(&c, "here every new thread started to run only once "
                             "its creator had moved on to the next pthread_create or "
                             "pthread_join, as on a busy machine. A thread that reads "
                             "its arguments from a variable the creator's loop then "
                             "changes (one struct for all, or &i) reads another "
                             "thread's part: give each thread its own struct, which "
                             "stays valid until it is joined") ||
                !check_threads(&c, counts[k]))
                return;
        }
}

static void test_a_failed_pthread_create_joins_the_started_threads(void)
{
    static const int fail_at[] = { 0, 1, 4, 7 };
    const int n = 8;
    for (size_t k = 0; k < sizeof fail_at / sizeof fail_at[0]; k++) {
        struct call c = watched_call(0, kit_scale(20000, 2000), n, false, fail_at[k]);
        const struct watch *s = c.seen;
        KIT_CHECK(s->creates > fail_at[k],
                  "count_primes_threaded(0, %ld, %d, &count) called pthread_create "
                  "%d times, expected %d (one per thread): this test makes call %d "
                  "fail and checks what happens then", c.hi, n, s->creates, n,
                  fail_at[k] + 1);
        if (s->creates <= fail_at[k])
            return;
        KIT_CHECK(c.err == EAGAIN,
                  "pthread_create call %d of count_primes_threaded(0, %ld, %d, "
                  "&count) failed with EAGAIN, yet it returned %d (%s): a thread "
                  "that cannot be started must be reported by returning "
                  "pthread_create's error", fail_at[k] + 1, c.hi, n, c.err,
                  err_name(c.err));
        KIT_CHECK(c.count == UNTOUCHED,
                  "count_primes_threaded returned after a failed pthread_create but "
                  "stored %ld in *count: a count without every part is wrong, so "
                  "*count is changed only on success", c.count);
        KIT_CHECK(s->bad_joins == 0,
                  "after pthread_create call %d failed, count_primes_threaded called "
                  "pthread_join %d times on a thread that was never started: a "
                  "failed pthread_create leaves its pthread_t unset, so check "
                  "what it returns and join only the threads that started",
                  fail_at[k] + 1, s->bad_joins);
        KIT_CHECK(s->joins == s->started,
                  "after pthread_create call %d failed, count_primes_threaded "
                  "returned having joined %d of the %d threads it had started: "
                  "join the threads already running before returning the error, or "
                  "they run on with nobody to wait for them", fail_at[k] + 1,
                  s->joins, s->started);
        if (c.err != EAGAIN || s->bad_joins != 0 || s->joins != s->started)
            return;
    }
}

static void test_a_second_call_starts_afresh(void)
{
    /* Two calls in a row, then at once from two threads: nothing carries over. */
    for (int round = 0; round < 3; round++) {
        struct call c = watched_call(0, 10000, 4, false, -1);
        if (!check_count(&c, "every call counts its own range from 0: nothing may "
                         "be kept in global variables from one call to the next"))
            return;
    }
}

struct concurrent {
    long got[4];
    int err[4];
};

static void concurrent_caller(int i, void *arg)
{
    struct concurrent *cc = arg;
    cc->err[i] = count_primes_threaded(1000L * i, 1000L * i + kit_scale(20000, 2000),
                                       2 + i, &cc->got[i]);
}

static void test_calls_from_several_threads_at_once_are_independent(void)
{
    struct concurrent cc;
    memset(&cc, 0, sizeof cc);
    kit_run_threads(4, concurrent_caller, &cc);
    for (int i = 0; i < 4; i++) {
        long lo = 1000L * i, hi = lo + kit_scale(20000, 2000);
        long want = expected_count(lo, hi);
        KIT_CHECK(cc.err[i] == 0 && cc.got[i] == want,
                  "4 threads called count_primes_threaded at the same time; the one "
                  "counting [%ld, %ld) with %d threads got %d (%s) and a count of %ld, "
                  "expected 0 and %ld: calls must not share state (no global "
                  "variables for the parts or the total)", lo, hi, 2 + i, cc.err[i],
                  err_name(cc.err[i]), cc.got[i], want);
    }
}

static CU_TestInfo basic_tests[] = {
    { "test_count_primes_counts_exactly", test_count_primes_counts_exactly },
    { "test_threaded_count_is_exact_for_many_ranges_and_thread_counts",
      test_threaded_count_is_exact_for_many_ranges_and_thread_counts },
    { "test_ranges_smaller_than_the_thread_count", test_ranges_smaller_than_the_thread_count },
    { "test_bad_arguments_return_einval_and_start_nothing",
      test_bad_arguments_return_einval_and_start_nothing },
    { "test_a_second_call_starts_afresh", test_a_second_call_starts_afresh },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    { "test_starts_exactly_nthreads_threads_and_joins_each_once",
      test_starts_exactly_nthreads_threads_and_joins_each_once },
    { "test_threads_run_at_the_same_time", test_threads_run_at_the_same_time },
    { "test_each_thread_gets_its_own_part_even_when_it_starts_late",
      test_each_thread_gets_its_own_part_even_when_it_starts_late },
    { "test_a_failed_pthread_create_joins_the_started_threads",
      test_a_failed_pthread_create_joins_the_started_threads },
    { "test_calls_from_several_threads_at_once_are_independent",
      test_calls_from_several_threads_at_once_are_independent },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
