/* test_gil.c - tests of exercise 17-gil (gil.h).
 *
 * One thread first: interval checks, EPERM and EDEADLK, and a thread alone
 * that never switches and never waits. Then timed scenes of two or three
 * threads, each with a clock: a release wakes a waiter at once; a waiter gets
 * the GIL from a ticking holder within a few intervals; a holder that drops
 * on request lets the waiter in before it takes the GIL back; a wait that saw
 * a switch sets no drop request; a taken GIL carries no stale drop request.
 * Last, CPU-bound threads that tick: every thread records, at every tick, in
 * an atomic counter, that it holds the GIL (so two holders show at once), who
 * held it last (so handoffs and re-takes are counted by the test itself), and
 * its own progress. The number of handoffs over a run must follow the
 * interval: a forced switch needs a whole interval of waiting with no switch,
 * so there can be at most about one per interval, and there must be many.
 * Threads that do not finish are reported, not left hanging. */
#include "kit_test.h"
#include "gil.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long correct code may take to react once it can (ms), before scaling. */
#define PROMPT_MS 2000L
/* How long a thread that must wait for the GIL is watched (ms). */
#define SETTLE_MS 2000L
#define MAX_THREADS 8
/* Loop iterations of one tick's work: a few microseconds natively. */
#define TICK_WORK 2000

/* ms, scaled for slow runs (schedule noise, race detectors). */
static long scaled(long ms)
{
    return ms * kit_time_factor();
}

static const char *err_name(int err)
{
    switch (err) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EDEADLK: return "EDEADLK";
    case EBUSY: return "EBUSY";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENOMEM: return "ENOMEM";
    default: return "an unexpected value";
    }
}

static gil_t *new_gil(long interval_ms)
{
    errno = 0;
    gil_t *g = gil_create(interval_ms);
    KIT_REQUIRE(g != NULL, "gil_create(%ld) returned NULL (errno %d, %s): any interval "
                "from 1 to GIL_MAX_INTERVAL_MS is valid", interval_ms, errno, strerror(errno));
    return g;
}

static struct gil_stats stats_of(gil_t *g)
{
    struct gil_stats s;
    memset(&s, 0xff, sizeof s);
    int rc = gil_get_stats(g, &s);
    KIT_REQUIRE(rc == 0, "gil_get_stats(g, &stats) returned %d (%s), expected 0", rc,
                err_name(rc));
    return s;
}

/* Work the compiler cannot remove: a holder "runs Python code". */
static void spin(long iterations)
{
    volatile long n = iterations;
    while (n > 0)
        n = n - 1;
}

/* ---- Threads that may get stuck in gil.c: watched, never joined blindly ---- */

struct crew {
    void (*fn)(int i, void *arg);
    void *arg;
    int n;
    atomic_int finished;
    pthread_t tids[MAX_THREADS];
    struct member { struct crew *c; int i; } m[MAX_THREADS];
};

static void *member_main(void *p)
{
    struct member *m = p;
    m->c->fn(m->i, m->c->arg);
    atomic_fetch_add(&m->c->finished, 1);
    return NULL;
}

/* Starts n threads running fn(i, arg). */
static struct crew *crew_start(int n, void (*fn)(int i, void *arg), void *arg)
{
    struct crew *c = calloc(1, sizeof *c);
    KIT_REQUIRE(c != NULL && n <= MAX_THREADS, "test harness: out of memory");
    c->fn = fn;
    c->arg = arg;
    atomic_init(&c->finished, 0);
    for (; c->n < n; c->n++) {
        c->m[c->n] = (struct member){ c, c->n };
        int err = pthread_create(&c->tids[c->n], NULL, member_main, &c->m[c->n]);
        KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
    }
    return c;
}

/* Waits up to ms for every thread to finish; true and joined if they did.
 * Otherwise they are detached and left behind with c and arg, which must
 * stay allocated (and the GIL alive): they may still use them. */
static bool crew_finish(struct crew *c, long ms)
{
    long until = kit_now_ms() + ms;
    while (atomic_load(&c->finished) < c->n) {
        if (kit_now_ms() >= until) {
            for (int i = 0; i < c->n; i++)
                if (pthread_detach(c->tids[i]) != 0)
                    abort();
            return false;
        }
        kit_sleep_ms(1);
    }
    for (int i = 0; i < c->n; i++)
        if (pthread_join(c->tids[i], NULL) != 0)
            abort();
    free(c);
    return true;
}

/* The first bad return value a thread saw, reported by the test's thread. */
struct bad_call {
    atomic_bool claimed;
    char text[300];
};

static void bad_call_note(struct bad_call *b, const char *call, int rc, const char *why)
{
    bool no = false;
    if (atomic_compare_exchange_strong(&b->claimed, &no, true))
        snprintf(b->text, sizeof b->text, "%s returned %d (%s), expected 0: %s", call, rc,
                 err_name(rc), why);
}

/* Polls until what(g) holds, for up to ms; true if it did. */
static bool wait_until(gil_t *g, bool (*what)(const struct gil_stats *s, void *arg),
                       void *arg, long ms)
{
    long until = kit_now_ms() + ms;
    for (;;) {
        struct gil_stats s = stats_of(g);
        if (what(&s, arg))
            return true;
        if (kit_now_ms() >= until)
            return false;
        kit_sleep_ms(1);
    }
}

static bool waiting_at_least(const struct gil_stats *s, void *arg)
{
    return s->waiting >= *(int *)arg;
}

static bool drop_requested(const struct gil_stats *s, void *arg)
{
    (void)arg;
    return s->drop_requests > 0;
}

/* Ends the test unless `n` threads show as waiting in gil_get_stats soon. */
static void require_waiting(gil_t *g, int n)
{
    KIT_REQUIRE(wait_until(g, waiting_at_least, &n, scaled(SETTLE_MS)), "%d thread(s) were "
                "blocked in gil_acquire for %ld ms while the GIL was held, but "
                "gil_get_stats still says waiting = %d: count the threads that wait for the "
                "GIL (add 1 before the wait loop, take 1 off once the GIL is taken)", n,
                scaled(SETTLE_MS), stats_of(g).waiting);
}

/* ---- One thread ---- */

static void test_create_accepts_1_to_max_and_rejects_other_intervals(void)
{
    static const long good[] = { 1, GIL_DEFAULT_INTERVAL_MS, 1000, GIL_MAX_INTERVAL_MS };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        gil_t *g = new_gil(good[k]);
        KIT_CHECK(gil_interval(g) == good[k], "gil_create(%ld) then gil_interval gave %ld",
                  good[k], gil_interval(g));
        struct gil_stats s = stats_of(g);
        KIT_CHECK(s.switches == 0 && s.drop_requests == 0 && s.waiting == 0, "a new GIL "
                  "has stats switches %lu, drop_requests %lu, waiting %d: all must start "
                  "at 0", s.switches, s.drop_requests, s.waiting);
        gil_destroy(g);
    }
    static const long bad[] = { 0, -1, -5, GIL_MAX_INTERVAL_MS + 1, LONG_MAX, LONG_MIN };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        errno = 0;
        gil_t *g = gil_create(bad[k]);
        int err = errno;
        KIT_CHECK(g == NULL && err == EINVAL, "gil_create(%ld) returned %s with errno %d "
                  "(%s), expected NULL with errno EINVAL: the interval must be from 1 to "
                  "GIL_MAX_INTERVAL_MS (%ld) ms", bad[k], g ? "a GIL" : "NULL", err,
                  err_name(err), GIL_MAX_INTERVAL_MS);
        if (g)
            gil_destroy(g);
    }
}

static void test_set_interval_validates_and_keeps_the_old_value(void)
{
    gil_t *g = new_gil(GIL_DEFAULT_INTERVAL_MS);
    static const long bad[] = { 0, -1, GIL_MAX_INTERVAL_MS + 1, LONG_MIN, LONG_MAX };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = gil_set_interval(g, bad[k]);
        KIT_CHECK(rc == EINVAL, "gil_set_interval(g, %ld) returned %d (%s), expected EINVAL",
                  bad[k], rc, err_name(rc));
        KIT_CHECK(gil_interval(g) == GIL_DEFAULT_INTERVAL_MS, "after the refused "
                  "gil_set_interval(g, %ld), gil_interval gives %ld, expected %ld: a refused "
                  "call changes nothing", bad[k], gil_interval(g), GIL_DEFAULT_INTERVAL_MS);
    }
    static const long good[] = { 1, 20, GIL_MAX_INTERVAL_MS, 7 };
    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++) {
        int rc = gil_set_interval(g, good[k]);
        KIT_CHECK(rc == 0, "gil_set_interval(g, %ld) returned %d (%s), expected 0", good[k],
                  rc, err_name(rc));
        KIT_CHECK(gil_interval(g) == good[k], "after gil_set_interval(g, %ld), gil_interval "
                  "gives %ld", good[k], gil_interval(g));
    }
    KIT_CHECK(gil_get_stats(g, NULL) == EINVAL, "gil_get_stats(g, NULL) must return EINVAL");
    gil_destroy(g);
}

/* A call in a thread of its own, so that a call that waits when it must not
 * is reported instead of hanging the test. */
struct call {
    gil_t *g;
    int (*fn)(gil_t *g);
    int rc;
    atomic_bool returned;
};

static int do_release(gil_t *g) { return gil_release(g); }
static int do_check(gil_t *g) { return gil_check(g, NULL); }

static void call_main(int i, void *arg)
{
    (void)i;
    struct call *c = arg;
    c->rc = c->fn(c->g);
    atomic_store(&c->returned, true);
}

/* Runs fn(g) in a new thread; its result, or ends the test if it waits. */
static int call_in_thread(gil_t *g, int (*fn)(gil_t *g), const char *what)
{
    struct call *c = calloc(1, sizeof *c);
    KIT_REQUIRE(c != NULL, "test harness: out of memory");
    c->g = g;
    c->fn = fn;
    struct crew *crew = crew_start(1, call_main, c);
    KIT_REQUIRE(crew_finish(crew, scaled(PROMPT_MS)), "%s was still waiting after %ld ms: "
                "it must return at once", what, scaled(PROMPT_MS));
    int rc = c->rc;
    free(c);
    return rc;
}

static void test_release_or_check_without_holding_is_eperm(void)
{
    gil_t *g = new_gil(GIL_DEFAULT_INTERVAL_MS);
    int rc = gil_release(g);
    KIT_CHECK(rc == EPERM, "gil_release on a new GIL that nobody holds returned %d (%s), "
              "expected EPERM: check that the caller holds the GIL", rc, err_name(rc));
    rc = gil_check(g, NULL);
    KIT_CHECK(rc == EPERM, "gil_check on a GIL that nobody holds returned %d (%s), expected "
              "EPERM", rc, err_name(rc));
    KIT_REQUIRE(gil_acquire(g) == 0, "gil_acquire on a free GIL must return 0");
    KIT_REQUIRE(gil_release(g) == 0, "gil_release by the holder must return 0");
    rc = gil_release(g);
    KIT_CHECK(rc == EPERM, "a second gil_release after one gil_acquire returned %d (%s), "
              "expected EPERM: the GIL is no longer held", rc, err_name(rc));
    /* Held by this thread: another thread may neither release it nor tick. */
    KIT_REQUIRE(gil_acquire(g) == 0, "gil_acquire on a free GIL must return 0");
    rc = call_in_thread(g, do_release, "gil_release by a thread that does not hold the GIL");
    KIT_CHECK(rc == EPERM, "gil_release by a thread while another thread holds the GIL "
              "returned %d (%s), expected EPERM: only the holder may release it (compare "
              "the holder with pthread_self() using pthread_equal)", rc, err_name(rc));
    rc = call_in_thread(g, do_check, "gil_check by a thread that does not hold the GIL");
    KIT_CHECK(rc == EPERM, "gil_check by a thread while another thread holds the GIL "
              "returned %d (%s), expected EPERM", rc, err_name(rc));
    bool switched = true;
    rc = gil_check(g, &switched);
    KIT_CHECK(rc == 0 && !switched, "after refused calls by another thread, the holder's "
              "gil_check returned %d (%s) with switched = %d, expected 0 and false: a refused "
              "call changes nothing", rc, err_name(rc), switched);
    rc = gil_release(g);
    KIT_CHECK(rc == 0, "after refused calls by another thread, the holder's gil_release "
              "returned %d (%s), expected 0: the GIL must still be held by it", rc,
              err_name(rc));
    struct gil_stats s = stats_of(g);
    KIT_CHECK(s.switches == 0, "one thread took the GIL twice and another never got it, "
              "but stats.switches is %lu, expected 0", s.switches);
    gil_destroy(g);
}

/* One thread: acquire, acquire again, release, release. */
struct twice {
    gil_t *g;
    int first, second, third, fourth;
    long second_ms;
};

static void twice_main(int i, void *arg)
{
    (void)i;
    struct twice *t = arg;
    t->first = gil_acquire(t->g);
    long t0 = kit_now_ms();
    t->second = gil_acquire(t->g);
    t->second_ms = kit_now_ms() - t0;
    t->third = gil_release(t->g);
    t->fourth = gil_release(t->g);
}

static void test_acquire_by_the_holder_is_edeadlk(void)
{
    gil_t *g = new_gil(GIL_DEFAULT_INTERVAL_MS);
    struct twice *t = calloc(1, sizeof *t);
    KIT_REQUIRE(t != NULL, "test harness: out of memory");
    t->g = g;
    struct crew *c = crew_start(1, twice_main, t);
    KIT_REQUIRE(crew_finish(c, scaled(PROMPT_MS)), "a thread that holds the GIL called "
                "gil_acquire again and was still waiting after %ld ms: it waits for itself "
                "and would wait for ever; return EDEADLK at once when the caller is the "
                "holder", scaled(PROMPT_MS));
    KIT_REQUIRE(t->first == 0, "gil_acquire on a free GIL returned %d (%s), expected 0",
                t->first, err_name(t->first));
    KIT_CHECK(t->second == EDEADLK, "gil_acquire by the thread that holds the GIL returned "
              "%d (%s) after %ld ms, expected EDEADLK at once: a thread waiting for itself "
              "would wait for ever", t->second, err_name(t->second), t->second_ms);
    KIT_CHECK(t->third == 0, "gil_release after a refused second gil_acquire returned %d "
              "(%s), expected 0: the thread still holds the GIL", t->third, err_name(t->third));
    KIT_CHECK(t->fourth == EPERM, "a second gil_release returned %d (%s), expected EPERM: the "
              "refused gil_acquire must not count as a second hold", t->fourth,
              err_name(t->fourth));
    free(t);
    gil_destroy(g);
}

/* One thread alone, watched: it must never wait and never switch. */
struct alone {
    gil_t *g;
    struct bad_call bad;
    long checks, switched;
};

static void alone_main(int i, void *arg)
{
    (void)i;
    struct alone *a = arg;
    for (int round = 0; round < 50; round++) {
        int rc = gil_acquire(a->g);
        if (rc != 0) {
            bad_call_note(&a->bad, "gil_acquire on a free GIL", rc, "nobody holds it");
            return;
        }
        /* Tick for a few intervals, as a CPU-bound thread would. */
        long until = kit_now_ms() + (round % 10 == 0 ? 5 : 0);
        do {
            spin(TICK_WORK);
            bool sw = false;
            rc = gil_check(a->g, &sw);
            if (rc != 0) {
                bad_call_note(&a->bad, "gil_check by the holder", rc, "it holds the GIL");
                return;
            }
            a->checks++;
            a->switched += sw;
        } while (kit_now_ms() < until);
        rc = gil_release(a->g);
        if (rc != 0) {
            bad_call_note(&a->bad, "gil_release by the holder", rc, "it holds the GIL");
            return;
        }
    }
}

static void test_a_thread_alone_never_switches_or_waits(void)
{
    gil_t *g = new_gil(1);
    struct alone *a = calloc(1, sizeof *a);
    KIT_REQUIRE(a != NULL, "test harness: out of memory");
    a->g = g;
    struct crew *c = crew_start(1, alone_main, a);
    KIT_REQUIRE(crew_finish(c, scaled(PROMPT_MS)), "a thread alone, taking the GIL 50 times "
                "and ticking for 5 intervals of 1 ms now and then, had not finished after "
                "%ld ms: with no other thread, gil_acquire must not wait and gil_check must "
                "not drop the GIL (no waiter, no drop request; a dropped GIL waits for "
                "another thread that does not exist)", scaled(PROMPT_MS));
    KIT_REQUIRE(!atomic_load(&a->bad.claimed), "%s", a->bad.text);
    KIT_CHECK(a->switched == 0, "gil_check said switched = true %ld times out of %ld for a "
              "thread alone: only a waiter sets the drop request, and there is none",
              a->switched, a->checks);
    struct gil_stats s = stats_of(g);
    KIT_CHECK(s.switches == 0 && s.drop_requests == 0 && s.waiting == 0, "after a thread "
              "alone took the GIL 50 times, stats say switches %lu, drop_requests %lu, "
              "waiting %d; expected 0, 0, 0: taking the GIL back after your own release "
              "is not a switch, and with nobody waiting nobody asks for a drop",
              s.switches, s.drop_requests, s.waiting);
    free(a);
    gil_destroy(g);
}

/* ---- Timed scenes of two or three threads ---- */

/* A thread that takes the GIL, notes when, and gives it back. */
struct taker {
    gil_t *g;
    struct bad_call bad;
    atomic_long asked_ms;   /* when it called gil_acquire */
    atomic_long got_ms;     /* 0 until it has the GIL; -1 if gil_acquire failed */
    atomic_bool may_release;
};

static void taker_main(int i, void *arg)
{
    (void)i;
    struct taker *t = arg;
    atomic_store(&t->asked_ms, kit_now_ms());
    int rc = gil_acquire(t->g);
    if (rc != 0) {
        bad_call_note(&t->bad, "gil_acquire", rc, "it waits until it has the GIL");
        atomic_store(&t->got_ms, -1);
        return;
    }
    atomic_store(&t->got_ms, kit_now_ms());
    while (!atomic_load(&t->may_release))
        kit_sleep_ms(1);
    rc = gil_release(t->g);
    if (rc != 0)
        bad_call_note(&t->bad, "gil_release by the holder", rc, "it holds the GIL");
}

static void test_release_wakes_a_waiting_thread_at_once(void)
{
    /* An interval far longer than the test: the waiter may only get the GIL
     * because the release woke it, not because its wait ran out. */
    gil_t *g = new_gil(5000);
    KIT_REQUIRE(gil_acquire(g) == 0, "gil_acquire on a free GIL must return 0");
    struct taker *t = calloc(1, sizeof *t);
    KIT_REQUIRE(t != NULL, "test harness: out of memory");
    t->g = g;
    atomic_store(&t->may_release, true);
    struct crew *c = crew_start(1, taker_main, t);
    require_waiting(g, 1);
    kit_sleep_ms(20);
    KIT_REQUIRE(atomic_load(&t->got_ms) == 0, "a thread returned from gil_acquire while "
                "another thread held the GIL (it never released it): gil_acquire must wait "
                "while the GIL is held");
    long released = kit_now_ms();
    KIT_REQUIRE(gil_release(g) == 0, "gil_release by the holder must return 0");
    bool done = crew_finish(c, 4000);
    long got = atomic_load(&t->got_ms);
    KIT_REQUIRE(got != 0, "a thread waiting in gil_acquire still had not the GIL 4000 ms "
                "after the holder released it: gil_release must wake a waiter (signal the "
                "condition variable it sleeps on)");
    KIT_REQUIRE(!atomic_load(&t->bad.claimed), "%s", t->bad.text);
    KIT_CHECK(got - released <= scaled(1000), "a thread waiting in gil_acquire got the GIL "
              "%ld ms after the holder released it, expected at once (the switch interval "
              "is 5000 ms): gil_release must wake a waiting thread (signal or broadcast "
              "the condition variable it sleeps on), not leave it to wake when its wait "
              "runs out", got - released);
    if (done) {
        struct gil_stats s = stats_of(g);
        KIT_CHECK(s.switches == 1 && s.drop_requests == 0, "one handoff after a voluntary "
                  "release, and no wait that ran out: expected stats switches 1 and "
                  "drop_requests 0, got %lu and %lu", s.switches, s.drop_requests);
        free(t);
        gil_destroy(g);
    }
}

/* A holder that ticks until told to stop, counting its forced switches. */
struct ticker {
    gil_t *g;
    struct bad_call bad;
    atomic_bool holding, stop;
    atomic_int last;        /* 0: the ticker recorded last, 1: the other thread */
    atomic_long switched;   /* gil_check said switched = true */
    atomic_long retakes;    /* ...with nobody else recording in between */
};

static void ticker_main(int i, void *arg)
{
    (void)i;
    struct ticker *t = arg;
    int rc = gil_acquire(t->g);
    if (rc != 0) {
        bad_call_note(&t->bad, "gil_acquire", rc, "it waits until it has the GIL");
        return;
    }
    atomic_store(&t->holding, true);
    bool sw = false;
    while (!atomic_load(&t->stop)) {
        if (atomic_exchange(&t->last, 0) == 0 && sw)
            atomic_fetch_add(&t->retakes, 1);
        spin(TICK_WORK);
        rc = gil_check(t->g, &sw);
        if (rc != 0) {
            bad_call_note(&t->bad, "gil_check by the holder", rc, "it holds the GIL");
            return;
        }
        if (sw)
            atomic_fetch_add(&t->switched, 1);
    }
    rc = gil_release(t->g);
    if (rc != 0)
        bad_call_note(&t->bad, "gil_release by the holder", rc, "it holds the GIL");
}

static struct ticker *start_ticker(gil_t *g, struct crew **c)
{
    struct ticker *t = calloc(1, sizeof *t);
    KIT_REQUIRE(t != NULL, "test harness: out of memory");
    t->g = g;
    atomic_init(&t->last, 0);
    *c = crew_start(1, ticker_main, t);
    long until = kit_now_ms() + scaled(PROMPT_MS);
    while (!atomic_load(&t->holding) && kit_now_ms() < until && !atomic_load(&t->bad.claimed))
        kit_sleep_ms(1);
    KIT_REQUIRE(atomic_load(&t->holding), "gil_acquire on a free GIL did not return 0 "
                "within %ld ms%s%s", scaled(PROMPT_MS), atomic_load(&t->bad.claimed) ? ": " : "",
                atomic_load(&t->bad.claimed) ? t->bad.text : "");
    return t;
}

/* Stops the ticker; false (and the test failed) if it does not finish. */
static bool stop_ticker(struct ticker *t, struct crew *c)
{
    atomic_store(&t->stop, true);
    bool done = crew_finish(c, scaled(PROMPT_MS));
    KIT_CHECK(done, "a thread ticking with gil_check had not finished %ld ms after it was "
              "told to stop: it is stuck in gil_check (a holder that dropped the GIL waits "
              "until another thread has taken it, then takes it back when it is released; "
              "was it woken?)", scaled(PROMPT_MS));
    KIT_CHECK(!atomic_load(&t->bad.claimed), "%s", t->bad.text);
    return done;
}

static void test_waiter_gets_the_gil_within_a_few_intervals(void)
{
    const long interval = 20;
    for (int round = 0; round < 3; round++) {
        gil_t *g = new_gil(interval);
        struct crew *tc;
        struct ticker *t = start_ticker(g, &tc);
        struct taker *w = calloc(1, sizeof *w);
        KIT_REQUIRE(w != NULL, "test harness: out of memory");
        w->g = g;
        struct crew *wc = crew_start(1, taker_main, w);
        long limit = scaled(PROMPT_MS);
        long until = kit_now_ms() + limit;
        while (atomic_load(&w->got_ms) == 0 && kit_now_ms() < until)
            kit_sleep_ms(1);
        long got = atomic_load(&w->got_ms);
        if (got == 0) {
            atomic_store(&t->stop, true);
            KIT_REQUIRE(false, "with a switch interval of %ld ms, a thread asking for the "
                        "GIL held by a thread calling gil_check at every tick still did not "
                        "have it after %ld ms: a waiter waits one interval, then sets the "
                        "drop request; the holder's next gil_check must drop the GIL and "
                        "let the waiter take it before taking it back", interval, limit);
        }
        KIT_REQUIRE(got > 0, "%s", w->bad.text);
        long waited = got - atomic_load(&w->asked_ms);
        long bound = scaled(5 * interval + 100);
        KIT_CHECK(waited <= bound, "with a switch interval of %ld ms, a thread asking for "
                  "the GIL held by a thread calling gil_check at every tick got it after "
                  "%ld ms, expected within %ld ms: a waiter waits one interval, then sets "
                  "the drop request; the holder's next gil_check must drop the GIL",
                  interval, waited, bound);
        atomic_store(&w->may_release, true);
        KIT_CHECK(crew_finish(wc, scaled(PROMPT_MS)), "a thread that had the GIL did not "
                  "return from gil_release within %ld ms", scaled(PROMPT_MS));
        if (!stop_ticker(t, tc))
            return;
        KIT_CHECK(atomic_load(&t->switched) == 1, "a waiter got the GIL once from a ticking "
                  "holder, but the holder's gil_check said switched = true %ld times, "
                  "expected once", atomic_load(&t->switched));
        free(t);
        free(w);
        gil_destroy(g);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

/* The other thread of the "I/O" scene: takes the GIL, records, holds it for
 * one tick, releases it and sleeps a little, until told to stop. */
static void io_main(int i, void *arg)
{
    (void)i;
    struct ticker *t = arg;
    while (!atomic_load(&t->stop)) {
        int rc = gil_acquire(t->g);
        if (rc != 0) {
            bad_call_note(&t->bad, "gil_acquire", rc, "it waits until it has the GIL");
            return;
        }
        atomic_store(&t->last, 1);
        spin(TICK_WORK);
        rc = gil_release(t->g);
        if (rc != 0) {
            bad_call_note(&t->bad, "gil_release by the holder", rc, "it holds the GIL");
            return;
        }
        kit_sleep_ms(1);
    }
}

static void test_dropped_holder_does_not_take_it_straight_back(void)
{
    const long interval = 2;
    gil_t *g = new_gil(interval);
    struct crew *tc;
    struct ticker *t = start_ticker(g, &tc);
    struct crew *io = crew_start(1, io_main, t);
    kit_sleep_ms(kit_scale(400, 600));
    bool done = stop_ticker(t, tc);
    bool io_done = crew_finish(io, scaled(PROMPT_MS));
    KIT_CHECK(io_done, "a thread taking and releasing the GIL had not finished %ld ms after "
              "it was told to stop: it waits in gil_acquire for a GIL nobody holds (was it "
              "woken?)", scaled(PROMPT_MS));
    if (!done || !io_done)
        return;
    long switched = atomic_load(&t->switched), retakes = atomic_load(&t->retakes);
    KIT_CHECK(retakes == 0, "%ld times out of %ld, a holder's gil_check dropped the GIL on "
              "request and took it back before the waiting thread had it (the old GIL's "
              "bug: the dropping thread is already running and wins the race for the lock "
              "against the waiter it woke). After dropping it, wait until the switch "
              "counter changes (another thread has taken it) before waiting to take it back",
              retakes, switched);
    KIT_CHECK(switched >= 2, "in %ld ms with a switch interval of %ld ms, a thread that "
              "asks for the GIL again and again made the ticking holder drop it only %ld "
              "times: a waiter whose wait of one interval runs out must set the drop "
              "request, and gil_check must then drop the GIL", kit_scale(400, 600), interval,
              switched);
    free(t);
    gil_destroy(g);
}

/* Two waiters; the first to get the GIL ticks until its gil_check switches. */
struct pair {
    gil_t *g;
    struct bad_call bad;
    atomic_long took_ms[2];     /* when each thread first had the GIL */
    atomic_long dropped_ms[2];  /* when its gil_check returned switched = true */
    long give_up_ms;
};

static void pair_main(int i, void *arg)
{
    struct pair *p = arg;
    int rc = gil_acquire(p->g);
    if (rc != 0) {
        bad_call_note(&p->bad, "gil_acquire", rc, "it waits until it has the GIL");
        return;
    }
    atomic_store(&p->took_ms[i], kit_now_ms());
    for (;;) {
        spin(TICK_WORK);
        bool sw = false;
        rc = gil_check(p->g, &sw);
        if (rc != 0) {
            bad_call_note(&p->bad, "gil_check by the holder", rc, "it holds the GIL");
            return;
        }
        if (sw) {
            atomic_store(&p->dropped_ms[i], kit_now_ms());
            break;
        }
        if (kit_now_ms() > p->give_up_ms)
            break;
    }
    rc = gil_release(p->g);
    if (rc != 0)
        bad_call_note(&p->bad, "gil_release by the holder", rc, "it holds the GIL");
}

static void test_no_drop_request_when_a_switch_happened_during_the_wait(void)
{
    /* This thread holds the GIL while two threads wait for it, then releases
     * it 70% into their wait: one of them takes it and ticks. The other's
     * wait, begun before that switch, runs out 30% of an interval later; it
     * must not ask for a drop then, but only after a whole interval of its
     * own with no switch: the new holder gets at least one interval. */
    const long interval = 200;
    for (int round = 0; round < 2; round++) {
        gil_t *g = new_gil(interval);
        struct pair *p = calloc(1, sizeof *p);
        KIT_REQUIRE(p != NULL, "test harness: out of memory");
        p->g = g;
        p->give_up_ms = kit_now_ms() + scaled(5000);
        KIT_REQUIRE(gil_acquire(g) == 0, "gil_acquire on a free GIL must return 0");
        struct crew *c = crew_start(2, pair_main, p);
        require_waiting(g, 2);
        kit_sleep_ms(interval * 7 / 10);
        KIT_REQUIRE(gil_release(g) == 0, "gil_release by the holder must return 0");
        bool done = crew_finish(c, scaled(5000) + 2000);
        KIT_REQUIRE(done, "two threads (one waiting, one ticking with gil_check) had not "
                    "finished %ld ms after the GIL was released: one is stuck in gil.c",
                    scaled(5000) + 2000);
        KIT_REQUIRE(!atomic_load(&p->bad.claimed), "%s", p->bad.text);
        int first = atomic_load(&p->took_ms[0]) <= atomic_load(&p->took_ms[1]) ? 0 : 1;
        long took = atomic_load(&p->took_ms[first]);
        long next = atomic_load(&p->took_ms[1 - first]);
        KIT_REQUIRE(atomic_load(&p->dropped_ms[first]) != 0, "the thread that took the GIL "
                    "ticked for %ld ms while another thread waited, and gil_check never "
                    "switched: a waiter sets the drop request after a whole interval (%ld ms) "
                    "of waiting with no switch", scaled(5000), interval);
        /* The second thread takes the GIL when the first drops it. */
        long held = next - took;
        KIT_CHECK(held >= interval * 3 / 4, "with a switch interval of %ld ms, a thread "
                  "that had just taken the GIL was made to drop it after %ld ms: the other "
                  "waiter set the drop request when a wait that had begun before the switch "
                  "ran out. Remember the switch counter before each wait, and set the drop "
                  "request only if it is unchanged when the wait runs out (a switch means "
                  "the new holder has just begun)", interval, held);
        free(p);
        gil_destroy(g);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

/* Takes the GIL, then ticks a while: no other thread wants it. */
struct late {
    gil_t *g;
    struct bad_call bad;
    long checks, switched;
};

static void late_main(int i, void *arg)
{
    (void)i;
    struct late *l = arg;
    int rc = gil_acquire(l->g);
    if (rc != 0) {
        bad_call_note(&l->bad, "gil_acquire", rc, "it waits until it has the GIL");
        return;
    }
    long until = kit_now_ms() + 40;
    do {
        spin(TICK_WORK);
        bool sw = false;
        rc = gil_check(l->g, &sw);
        if (rc != 0) {
            bad_call_note(&l->bad, "gil_check by the holder", rc, "it holds the GIL");
            return;
        }
        l->checks++;
        l->switched += sw;
    } while (kit_now_ms() < until);
    rc = gil_release(l->g);
    if (rc != 0)
        bad_call_note(&l->bad, "gil_release by the holder", rc, "it holds the GIL");
}

static void test_drop_request_is_cleared_when_the_gil_is_taken(void)
{
    const long interval = 10;
    gil_t *g = new_gil(interval);
    KIT_REQUIRE(gil_acquire(g) == 0, "gil_acquire on a free GIL must return 0");
    struct late *l = calloc(1, sizeof *l);
    KIT_REQUIRE(l != NULL, "test harness: out of memory");
    l->g = g;
    struct crew *c = crew_start(1, late_main, l);
    /* This thread holds the GIL without ticking: the waiter asks for a drop,
     * then gets the GIL by a plain release. */
    KIT_REQUIRE(wait_until(g, drop_requested, NULL, scaled(SETTLE_MS)), "a thread waited "
                "%ld ms for a GIL held by a thread that never released it, with a switch "
                "interval of %ld ms, and stats.drop_requests stayed 0: a waiter whose wait "
                "of one interval runs out sets the drop request (and counts it)",
                scaled(SETTLE_MS), interval);
    KIT_REQUIRE(gil_release(g) == 0, "gil_release by the holder must return 0");
    bool done = crew_finish(c, scaled(PROMPT_MS));
    KIT_REQUIRE(done, "a thread that took the GIL and then ticked for 40 ms alone had not "
                "finished after %ld ms: its gil_check dropped the GIL and waits for another "
                "thread that does not exist. The drop request was for the previous holder; "
                "clear it when the GIL is taken", scaled(PROMPT_MS));
    KIT_REQUIRE(!atomic_load(&l->bad.claimed), "%s", l->bad.text);
    KIT_CHECK(l->switched == 0, "a thread that took the GIL, with nobody else waiting, "
              "had gil_check say switched = true %ld times out of %ld: the drop request "
              "was for the previous holder; clear it when the GIL is taken", l->switched,
              l->checks);
    free(l);
    gil_destroy(g);
}

/* ---- CPU-bound threads ---- */

struct cpu_run {
    gil_t *g;
    int n;
    struct bad_call bad;
    atomic_bool stop;
    atomic_int inside;          /* threads between "I hold it" and gil_check */
    atomic_int last;            /* the thread that recorded last; -1 before any */
    atomic_long overlaps;       /* times a thread found another one inside */
    atomic_long handoffs;       /* records by a thread other than the last one */
    atomic_long retakes;        /* switched = true, and nobody else recorded since */
    atomic_long forced;         /* gil_check said switched = true */
    atomic_long first_ms;       /* when the first thread recorded */
    long ticks[MAX_THREADS];    /* each written by its own thread only */
};

static void cpu_main(int i, void *arg)
{
    struct cpu_run *r = arg;
    int rc = gil_acquire(r->g);
    if (rc != 0) {
        bad_call_note(&r->bad, "gil_acquire", rc, "it waits until it has the GIL");
        return;
    }
    bool sw = false;
    for (;;) {
        if (atomic_fetch_add(&r->inside, 1) != 0)
            atomic_fetch_add(&r->overlaps, 1);
        int prev = atomic_exchange(&r->last, i);
        if (prev == -1) {
            long none = 0;
            atomic_compare_exchange_strong(&r->first_ms, &none, kit_now_ms());
        } else if (prev != i) {
            atomic_fetch_add(&r->handoffs, 1);
        } else if (sw) {
            atomic_fetch_add(&r->retakes, 1);
        }
        spin(TICK_WORK);
        r->ticks[i]++;
        atomic_fetch_sub(&r->inside, 1);
        if (atomic_load(&r->stop))
            break;
        rc = gil_check(r->g, &sw);
        if (rc != 0) {
            bad_call_note(&r->bad, "gil_check by the holder", rc, "it holds the GIL");
            return;     /* who holds the GIL now is unknown: leave it */
        }
        atomic_fetch_add(&r->forced, sw);
    }
    rc = gil_release(r->g);
    if (rc != 0)
        bad_call_note(&r->bad, "gil_release by the holder", rc, "it holds the GIL");
}

struct cpu_result {
    bool finished;
    long elapsed_ms;            /* from the first record to the stop */
    long handoffs, retakes, overlaps, forced;
    long ticks[MAX_THREADS], total;
    struct gil_stats stats;
};

/* Runs n CPU-bound threads on g for run_ms; the result, after checking what
 * every run must show (one holder at a time, no re-take after a drop, no
 * error, every thread done). The test ends if the threads do not finish. */
static struct cpu_result run_cpu(gil_t *g, int n, long run_ms)
{
    struct cpu_run *r = calloc(1, sizeof *r);
    KIT_REQUIRE(r != NULL, "test harness: out of memory");
    r->g = g;
    r->n = n;
    atomic_init(&r->last, -1);
    struct crew *c = crew_start(n, cpu_main, r);
    kit_sleep_ms(run_ms);
    atomic_store(&r->stop, true);
    long stopped = kit_now_ms();
    struct cpu_result res = { .finished = crew_finish(c, scaled(PROMPT_MS) + 2 * gil_interval(g) * n) };
    KIT_REQUIRE(res.finished, "%d CPU-bound threads calling gil_check at every tick had "
                "not all finished %ld ms after they were told to stop (each then releases "
                "the GIL): some are stuck in gil.c. gil_release must wake a waiter; a "
                "holder that dropped the GIL must be woken when another thread takes it",
                n, scaled(PROMPT_MS) + 2 * gil_interval(g) * n);
    res.elapsed_ms = stopped - atomic_load(&r->first_ms);
    res.handoffs = atomic_load(&r->handoffs);
    res.retakes = atomic_load(&r->retakes);
    res.overlaps = atomic_load(&r->overlaps);
    res.forced = atomic_load(&r->forced);
    for (int i = 0; i < n; i++) {
        res.ticks[i] = r->ticks[i];
        res.total += r->ticks[i];
    }
    res.stats = stats_of(g);
    bool bad = atomic_load(&r->bad.claimed);
    KIT_CHECK(!bad, "%s", r->bad.text);
    free(r);
    KIT_CHECK(res.overlaps == 0, "%d threads: %ld times, a thread that had the GIL found "
              "another thread holding it too: gil_acquire (and the take after a drop) must "
              "wait while the GIL is held, checking again after every wake-up (`while`, "
              "not `if`), and only the holder may release it", n, res.overlaps);
    KIT_CHECK(res.retakes == 0, "%d threads: %ld times out of %ld, a holder's gil_check "
              "dropped the GIL on request and took it back before any other thread had it: "
              "after dropping it, wait until another thread has taken it (forced switching)",
              n, res.retakes, res.forced);
    if (!bad && res.overlaps == 0)
        KIT_CHECK(res.stats.switches == (unsigned long)res.handoffs, "%d threads: the GIL "
                  "passed from one thread to another %ld times, but stats.switches says "
                  "%lu: count a switch each time a thread other than the last holder takes "
                  "it", n, res.handoffs, res.stats.switches);
    return res;
}

static void test_cpu_bound_threads_never_hold_it_together_and_all_progress(void)
{
    static const int counts[] = { 2, 3, 8 };
    size_t runs = kit_race_mode() ? 2 : 3;
    for (size_t k = 0; k < runs; k++) {
        int n = counts[k];
        gil_t *g = new_gil(GIL_DEFAULT_INTERVAL_MS);
        struct cpu_result r = run_cpu(g, n, kit_scale(250, 300));
        gil_destroy(g);
        if (kit_race_mode())
            continue;
        /* Two threads take turns: each gets about half of the ticks. (With
         * more, which waiter is woken is up to the condition variable.) */
        for (int i = 0; n == 2 && i < n; i++)
            KIT_CHECK(r.ticks[i] > r.total / 5, "2 CPU-bound threads for %ld ms: thread %d "
                      "ticked %ld times out of %ld, expected more than a fifth: two threads "
                      "must share the GIL about equally (a waiter asks for a drop after one "
                      "interval; the holder must drop it and not take it straight back)",
                      r.elapsed_ms, i, r.ticks[i], r.total);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void test_switches_follow_the_interval(void)
{
    static const struct { int n; long interval; bool set; } runs[] = {
        { 2, GIL_DEFAULT_INTERVAL_MS, false }, { 2, 20, true }, { 3, GIL_DEFAULT_INTERVAL_MS, false },
    };
    const long run_ms = 400;
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        int n = runs[k].n;
        long interval = runs[k].interval;
        gil_t *g = new_gil(runs[k].set ? GIL_DEFAULT_INTERVAL_MS : interval);
        if (runs[k].set)
            KIT_REQUIRE(gil_set_interval(g, interval) == 0, "gil_set_interval(g, %ld) must "
                        "return 0", interval);
        struct cpu_result r = run_cpu(g, n, run_ms);
        gil_destroy(g);
        /* A drop request needs a whole interval of waiting with no switch:
         * at most one forced switch per interval, plus one release per
         * thread at the end. */
        long expected = r.elapsed_ms / interval;
        long most = expected * 11 / 10 + n + 2;
        /* Every switch takes two wake-ups besides the interval; on a busy
         * machine each may wait for a processor: measured on a 2-core machine
         * under load, as few as a fifth of elapsed / interval. Without the
         * drop request or forced switching, the only handoffs are the final
         * releases: fewer than n. */
        long least = expected / 20 > n + 1 ? expected / 20 : n + 1;
        KIT_CHECK(r.handoffs <= most, "%d CPU-bound threads for %ld ms with a switch "
                  "interval of %ld ms%s: the GIL changed hands %ld times, expected at most "
                  "%ld (about one switch per interval). Too many switches: a waiter must "
                  "wait a whole interval (pthread_cond_timedwait, with a deadline one "
                  "interval from the start of that wait) before it sets the drop request, "
                  "and the request must be cleared when the GIL is dropped or taken", n,
                  r.elapsed_ms, interval, runs[k].set ? " (set by gil_set_interval)" : "",
                  r.handoffs, most);
        KIT_CHECK(r.handoffs >= least, "%d CPU-bound threads for %ld ms with a switch "
                  "interval of %ld ms%s: the GIL changed hands %ld times, expected at least "
                  "%ld (about one switch per interval). Too few switches: a waiter whose "
                  "wait of one interval runs out must set the drop request, the holder's "
                  "gil_check must then drop the GIL and wake a waiter, and not take it "
                  "straight back", n, r.elapsed_ms, interval,
                  runs[k].set ? " (set by gil_set_interval)" : "", r.handoffs, least);
        KIT_CHECK(r.stats.drop_requests >= (unsigned long)r.forced &&
                  r.stats.drop_requests <= (unsigned long)(r.forced + r.handoffs + n + 1),
                  "%d CPU-bound threads: gil_check dropped the GIL on request %ld times and "
                  "it changed hands %ld times, but stats.drop_requests says %lu: count each "
                  "time a waiter sets the request (from clear to set)", n, r.forced,
                  r.handoffs, r.stats.drop_requests);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

/* ---- The tables ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo basic_tests[] = {
    TEST(test_create_accepts_1_to_max_and_rejects_other_intervals),
    TEST(test_set_interval_validates_and_keeps_the_old_value),
    TEST(test_release_or_check_without_holding_is_eperm),
    TEST(test_acquire_by_the_holder_is_edeadlk),
    TEST(test_a_thread_alone_never_switches_or_waits),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo waiting_tests[] = {
    TEST(test_release_wakes_a_waiting_thread_at_once),
    TEST(test_waiter_gets_the_gil_within_a_few_intervals),
    TEST(test_dropped_holder_does_not_take_it_straight_back),
    TEST(test_no_drop_request_when_a_switch_happened_during_the_wait),
    TEST(test_drop_request_is_cleared_when_the_gil_is_taken),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo cpu_tests[] = {
    TEST(test_cpu_bound_threads_never_hold_it_together_and_all_progress),
    TEST(test_switches_follow_the_interval),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic_tests },
    { "waiting", NULL, NULL, NULL, NULL, waiting_tests },
    { "cpu", NULL, NULL, NULL, NULL, cpu_tests },
    CU_SUITE_INFO_NULL,
};
