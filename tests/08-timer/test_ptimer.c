/* test_ptimer.c - tests of exercise 08-timer (ptimer.h).
 *
 * Every callback is a "shot": it records when it was called (CLOCK_MONOTONIC,
 * in nanoseconds), on which thread and how often, and can wait at a gate the
 * test opens, so the test decides how long the callback runs.
 *
 * Time: "never earlier than the interval" is checked exactly, from just
 * before ptimer_start to the callback's first instruction. "Not much later"
 * is checked with a generous bound, multiplied by kit_time_factor(): a loaded
 * machine may run a thread late, never early. Whether cancel waited for the
 * callback, or is_alive-like questions, are decided by order (did the
 * callback return before cancel did?), not by durations.
 *
 * Helper threads never call CUnit (it is not thread-safe): they record, and
 * the test's thread checks. Shots that a broken timer might still call after
 * a test ends are static, so that a late call cannot scribble on freed
 * memory. */
#include "kit_test.h"
#include "ptimer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Helpers ---- */

/* How long a call that must return may take before we call it stuck (ms),
 * and how much later than asked a timer may fire or a join may give up. */
static long rescue_ms(void) { return kit_race_mode() ? 5000 : 3000 * kit_time_factor(); }
static long late_ms(void) { return 2000 * kit_time_factor(); }
/* An interval that a cancelled timer must never wait out. */
static long long_ms(void) { return rescue_ms() + 1000; }

static long long now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        abort();
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double ms_since(long long t0_ns)
{
    return (double)(now_ns() - t0_ns) / 1e6;
}

static const char *err_name(int err)
{
    switch (err) {
    case 0: return "0";
    case EALREADY: return "EALREADY";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EDEADLK: return "EDEADLK";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENOMEM: return "ENOMEM";
    default: return "an unexpected value";
    }
}

/* The test's own mutexes and condition variables cannot fail. */
static void must(int err)
{
    if (err != 0)
        abort();
}

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A gate that a callback waits at until the test opens it. */
struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;   /* CLOCK_MONOTONIC */
    bool open;          /* guarded by m */
};

static void gate_init(struct gate *g)
{
    pthread_condattr_t a;
    must(pthread_condattr_init(&a));
    must(pthread_condattr_setclock(&a, CLOCK_MONOTONIC));
    must(pthread_cond_init(&g->c, &a));
    must(pthread_condattr_destroy(&a));
    must(pthread_mutex_init(&g->m, NULL));
    g->open = false;
}

static void gate_open(struct gate *g)
{
    must(pthread_mutex_lock(&g->m));
    g->open = true;
    must(pthread_cond_broadcast(&g->c));
    must(pthread_mutex_unlock(&g->m));
}

/* Waits until g opens, at most rescue_ms(); true if it opened. */
static bool gate_wait(struct gate *g)
{
    long long end = now_ns() + rescue_ms() * 1000000LL;
    struct timespec deadline = { (time_t)(end / 1000000000), (long)(end % 1000000000) };
    must(pthread_mutex_lock(&g->m));
    int err = 0;
    while (!g->open && err == 0)
        err = pthread_cond_timedwait(&g->c, &g->m, &deadline);
    bool opened = g->open;
    must(pthread_mutex_unlock(&g->m));
    return opened;
}

static void gate_destroy(struct gate *g)
{
    must(pthread_cond_destroy(&g->c));
    must(pthread_mutex_destroy(&g->m));
}

/* What a callback records. */
struct shot {
    struct gate *gate;          /* if set, the callback waits for it */
    long busy_ms;               /* then sleeps this long */
    ptimer_t *timer;            /* its own timer, for self_calls */
    bool self_calls;            /* the callback cancels and joins its own timer */
    atomic_int calls;
    atomic_llong called_ns;     /* now_ns() at the first call */
    atomic_bool returned;       /* the callback's last act */
    atomic_bool destroyed;      /* set by the test once ptimer_destroy returned */
    atomic_bool called_late;    /* called although `destroyed` was set */
    pthread_t thread;           /* read after a join */
    int self_cancel;            /* what ptimer_cancel(own timer) returned */
    int self_join[3];           /* ptimer_join(own timer, 0 / 50 / -1); -1 if not tried */
};

static void shot_reset(struct shot *s)
{
    memset(s, 0, sizeof *s);
    atomic_init(&s->calls, 0);
    atomic_init(&s->called_ns, 0);
    atomic_init(&s->returned, false);
    atomic_init(&s->destroyed, false);
    atomic_init(&s->called_late, false);
    s->self_join[0] = s->self_join[1] = s->self_join[2] = -1;
}

static void shot_fn(void *arg)
{
    long long now = now_ns();
    struct shot *s = arg;
    if (atomic_load(&s->destroyed))
        atomic_store(&s->called_late, true);
    long long none = 0;
    atomic_compare_exchange_strong(&s->called_ns, &none, now);
    s->thread = pthread_self();
    atomic_fetch_add(&s->calls, 1);
    if (s->self_calls) {
        static const long timeouts[3] = { 0, 50, -1 };
        s->self_cancel = ptimer_cancel(s->timer);
        for (int k = 0; k < 3; k++)
            if ((s->self_join[k] = ptimer_join(s->timer, timeouts[k])) != EDEADLK)
                break;  /* the next, longer join might wait for itself forever */
    }
    if (s->gate)
        (void)gate_wait(s->gate);
    if (s->busy_ms > 0)
        kit_sleep_ms(s->busy_ms);
    atomic_store(&s->returned, true);
}

static ptimer_t *new_timer(long interval_ms, struct shot *s)
{
    errno = 0;
    ptimer_t *t = ptimer_create(interval_ms, shot_fn, s);
    KIT_REQUIRE(t != NULL, "ptimer_create(%ld, fn, arg) returned NULL (errno %d, %s): an "
                "interval >= 0 with a function is valid", interval_ms, errno,
                strerror(errno));
    s->timer = t;
    return t;
}

static void require_start(ptimer_t *t)
{
    int err = ptimer_start(t);
    KIT_REQUIRE(err == 0, "ptimer_start on a new timer returned %d (%s), expected 0", err,
                err_name(err));
}

/* Joins t with a deadline; ends the test (abandoning t) if it is not over. */
static void require_over(ptimer_t *t, const char *what)
{
    int err = ptimer_join(t, rescue_ms());
    KIT_REQUIRE(err == 0, "ptimer_join(t, %ld) on %s returned %d (%s), expected 0%s",
                rescue_ms(), what, err, err_name(err), err == ETIMEDOUT ? ": the timer "
                "never ended (a cancel must wake the waiting thread at once, and the "
                "end of the timer must wake every joiner)" : "");
}

/* Waits until the shot has been called, at most rescue_ms(); true if it was. */
static bool wait_called(struct shot *s)
{
    long long t0 = now_ns();
    while (atomic_load(&s->calls) == 0 && ms_since(t0) < (double)rescue_ms())
        kit_sleep_ms(1);
    return atomic_load(&s->calls) > 0;
}

/* Checks when s was called, for a timer of interval_ms started at start_ns. */
static void check_fired_in_time(struct shot *s, long interval_ms, long long start_ns)
{
    double after = (double)(atomic_load(&s->called_ns) - start_ns) / 1e6;
    KIT_CHECK(after >= (double)interval_ms,
              "a timer of %ld ms called its function %.3f ms after ptimer_start: %.3f ms "
              "too early. The deadline is now + interval on the clock the condition "
              "variable uses (pthread_condattr_setclock), with milliseconds turned into "
              "nanoseconds (* 1000000) and tv_nsec kept below 1000000000; a wake-up "
              "before the deadline (cancel, spurious) must wait again", interval_ms,
              after, (double)interval_ms - after);
    KIT_CHECK(after <= (double)(interval_ms + late_ms()),
              "a timer of %ld ms called its function only %.0f ms after ptimer_start",
              interval_ms, after);
}

/* ---- Firing ---- */

static void test_create_rejects_bad_arguments(void)
{
    static struct shot s;
    errno = 0;
    ptimer_t *t = ptimer_create(-1, shot_fn, &s);
    int err = errno;
    KIT_CHECK(t == NULL && err == EINVAL, "ptimer_create(-1, fn, arg) returned %s with "
              "errno %d (%s), expected NULL with EINVAL: an interval cannot be negative",
              t ? "a timer" : "NULL", err, err_name(err));
    if (t)
        ptimer_destroy(t);
    errno = 0;
    t = ptimer_create(10, NULL, &s);
    err = errno;
    KIT_CHECK(t == NULL && err == EINVAL, "ptimer_create(10, NULL, arg) returned %s with "
              "errno %d (%s), expected NULL with EINVAL: a timer needs a function",
              t ? "a timer" : "NULL", err, err_name(err));
    if (t)
        ptimer_destroy(t);
    t = new_timer(0, &s);   /* 0 is fine: as soon as possible */
    ptimer_destroy(t);
}

static void test_timer_fires_once_no_earlier_than_its_interval(void)
{
    static const long intervals[] = { 0, 1, 15, 40, 90 };
    static struct shot s;
    for (size_t k = 0; k < sizeof intervals / sizeof intervals[0]; k++) {
        long iv = intervals[k];
        shot_reset(&s);
        ptimer_t *t = new_timer(iv, &s);
        long long start = now_ns();
        require_start(t);
        require_over(t, "a running timer");
        KIT_REQUIRE(atomic_load(&s.calls) == 1, "a timer of %ld ms called its function "
                    "%d times, expected once", iv, atomic_load(&s.calls));
        check_fired_in_time(&s, iv, start);
        KIT_CHECK(!pthread_equal(s.thread, pthread_self()), "the function of a timer ran "
                  "in the thread that called ptimer_start: it must run in the timer's "
                  "own thread");
        ptimer_destroy(t);
        if (CU_get_number_of_failures() > 0)
            return;
    }
    kit_sleep_ms(20);
    KIT_CHECK_EQ(1, atomic_load(&s.calls), "calls of the last timer's function, 20 ms "
                 "after it was destroyed");
}

static void test_start_returns_before_the_interval_is_over(void)
{
    static struct shot s;
    shot_reset(&s);
    ptimer_t *t = new_timer(long_ms(), &s);
    require_start(t);
    int calls = atomic_load(&s.calls);
    KIT_REQUIRE(calls == 0, "ptimer_start of a %ld ms timer returned after the function "
                "had been called: start must start the timer's thread and return at "
                "once, not wait out the interval itself", long_ms());
    KIT_CHECK_EQ(0, ptimer_cancel(t), "ptimer_cancel of a waiting timer");
    require_over(t, "a cancelled timer");
    ptimer_destroy(t);
}

static void test_second_start_fails_with_ebusy(void)
{
    static struct shot s;
    shot_reset(&s);
    ptimer_t *t = new_timer(20, &s);
    require_start(t);
    int err = ptimer_start(t);
    KIT_CHECK(err == EBUSY, "a second ptimer_start while the timer waits returned %d (%s), "
              "expected EBUSY: like a Thread, a Timer starts at most once", err,
              err_name(err));
    require_over(t, "a running timer");
    err = ptimer_start(t);
    KIT_CHECK(err == EBUSY, "ptimer_start on a timer that has fired returned %d (%s), "
              "expected EBUSY", err, err_name(err));
    kit_sleep_ms(40);
    int calls = atomic_load(&s.calls);
    KIT_CHECK_EQ(1, calls, "calls of the function after three ptimer_start on one timer");
    if (calls == 1)
        ptimer_destroy(t);
}

/* ---- Cancel ---- */

static void test_cancel_before_firing_prevents_the_call_and_ends_the_wait(void)
{
    static struct shot s;
    shot_reset(&s);
    ptimer_t *t = new_timer(long_ms(), &s);
    require_start(t);
    KIT_CHECK_EQ(0, ptimer_cancel(t), "ptimer_cancel of a waiting timer");
    KIT_CHECK_EQ(0, ptimer_cancel(t), "a second ptimer_cancel of the same timer");
    long long t0 = now_ns();
    int err = ptimer_join(t, rescue_ms());
    double took = ms_since(t0);
    KIT_REQUIRE(err == 0 && took < (double)rescue_ms(), "ptimer_join(t, %ld) after a "
                "successful cancel of a %ld ms timer returned %d (%s) after %.0f ms, "
                "expected 0 at once: a cancelled timer is over at once, its thread must "
                "not sleep out the interval (wait on a condition variable with a deadline, "
                "and let cancel wake it)", rescue_ms(), long_ms(), err, err_name(err), took);
    KIT_CHECK(atomic_load(&s.calls) == 0, "ptimer_cancel returned 0, yet the function was "
              "called: a thread woken by cancel must check the cancel before firing");
    ptimer_destroy(t);

    /* A short timer, cancelled well before it fires, stays silent. */
    shot_reset(&s);
    t = new_timer(100, &s);
    require_start(t);
    err = ptimer_cancel(t);     /* EALREADY only on a machine that stalled us 100 ms */
    kit_sleep_ms(150);
    KIT_CHECK(err != 0 || atomic_load(&s.calls) == 0, "a 100 ms timer was cancelled at "
              "once (ptimer_cancel returned 0), yet its function was called");
    require_over(t, "a cancelled timer");
    ptimer_destroy(t);
}

static void test_cancel_before_start_prevents_the_call(void)
{
    static struct shot s;
    shot_reset(&s);
    ptimer_t *t = new_timer(10, &s);
    KIT_CHECK_EQ(0, ptimer_cancel(t), "ptimer_cancel of a timer not started yet");
    int err = ptimer_start(t);
    KIT_CHECK(err == 0, "ptimer_start of a timer cancelled before it started returned %d "
              "(%s), expected 0 (as in Python, it starts and ends at once)", err,
              err_name(err));
    if (err == 0)
        require_over(t, "a timer cancelled before it started");
    kit_sleep_ms(40);
    KIT_CHECK(atomic_load(&s.calls) == 0, "a timer cancelled before ptimer_start called "
              "its function anyway");
    ptimer_destroy(t);
}

static void test_cancel_after_firing_changes_nothing_and_says_ealready(void)
{
    static struct shot s;
    shot_reset(&s);
    ptimer_t *t = new_timer(5, &s);
    require_start(t);
    require_over(t, "a running timer");
    for (int k = 0; k < 2; k++) {
        int err = ptimer_cancel(t);
        KIT_CHECK(err == EALREADY, "ptimer_cancel after the function was called and "
                  "returned gave %d (%s), expected EALREADY: too late to cancel, and "
                  "the caller must be told", err, err_name(err));
    }
    KIT_CHECK_EQ(1, atomic_load(&s.calls), "calls of the function");
    ptimer_destroy(t);
}

static void test_cancel_while_the_callback_runs_says_ealready_without_waiting(void)
{
    static struct shot s;
    static struct gate g;
    shot_reset(&s);
    gate_init(&g);
    s.gate = &g;
    ptimer_t *t = new_timer(0, &s);
    require_start(t);
    KIT_REQUIRE(wait_called(&s), "a timer of 0 ms did not call its function within %ld ms",
                rescue_ms());
    int err = ptimer_cancel(t);
    bool fn_over = atomic_load(&s.returned);    /* it waits at the gate: must be false */
    KIT_CHECK(err == EALREADY, "ptimer_cancel while the function was running returned %d "
              "(%s), expected EALREADY: the function was called, so the cancel came too "
              "late (mark the timer as fired, under the lock, before calling the function)",
              err, err_name(err));
    KIT_CHECK(!fn_over, "ptimer_cancel returned only once the running function had "
              "returned (it waited for the test, which was waiting for the cancel): cancel "
              "must never wait for the function. Call the function without holding the "
              "timer's lock");
    /* join gives up on a function that is still running, never earlier than asked. */
    static const long timeouts[] = { 0, 30 };
    for (int k = 0; k < 2 && !fn_over; k++) {
        long long t0 = now_ns();
        err = ptimer_join(t, timeouts[k]);
        double took = ms_since(t0);
        KIT_CHECK(err == ETIMEDOUT && took >= (double)timeouts[k],
                  "ptimer_join(t, %ld) while the function was still running returned %d "
                  "(%s) after %.2f ms, expected ETIMEDOUT after %ld ms or more", timeouts[k],
                  err, err_name(err), took, timeouts[k]);
    }
    gate_open(&g);
    /* Once the function has returned, ptimer_join(t, 0) soon says 0. */
    long long t0 = now_ns();
    while (!atomic_load(&s.returned) && ms_since(t0) < (double)rescue_ms())
        kit_sleep_ms(1);
    while ((err = ptimer_join(t, 0)) == ETIMEDOUT && ms_since(t0) < (double)rescue_ms())
        kit_sleep_ms(1);
    KIT_CHECK(err == 0, "ptimer_join(t, 0), called again and again after the function "
              "returned, said %d (%s) for %ld ms, expected 0: the timer is over once the "
              "function returns", err, err_name(err), rescue_ms());
    require_over(t, "a timer whose function was let go");
    KIT_CHECK_EQ(1, atomic_load(&s.calls), "calls of the function");
    ptimer_destroy(t);
    gate_destroy(&g);
}

/* Cancel at about the moment the timer fires, many times: either the cancel
 * wins (0, and the function is never called) or the timer does (EALREADY,
 * and the function is called exactly once). */
static void test_cancel_racing_the_deadline_is_all_or_nothing(void)
{
    static struct shot s;
    const long rounds = kit_scale(400, 8);
    long long until = now_ns() + 200 * 1000000LL;
    unsigned seed = 7;
    for (long r = 0; r < rounds && (kit_race_mode() || now_ns() < until); r++) {
        shot_reset(&s);
        s.busy_ms = 1;      /* a function that takes a while: cancel may hit it */
        ptimer_t *t = new_timer(r % 3, &s);
        require_start(t);
        sleep_us(rand_r(&seed) % 3000);
        int err = ptimer_cancel(t);
        require_over(t, "a timer just cancelled or fired");
        int calls = atomic_load(&s.calls);
        if (err == 0 && calls != 0) {
            KIT_CHECK(false, "ptimer_cancel returned 0 (\"the function will never be "
                      "called\"), but the function was called: the timer's thread decided "
                      "to fire, then cancel still saw the timer as waiting. Mark the timer "
                      "as fired under the lock, in the same critical section as the last "
                      "check for a cancel, before calling the function");
            return;     /* t is left: its function may still run */
        }
        KIT_CHECK(err == 0 || (err == EALREADY && calls == 1), "ptimer_cancel at about the "
                  "moment a %ld ms timer fired returned %d (%s) and the function was called "
                  "%d times: expected 0 and no call, or EALREADY and one call", r % 3, err,
                  err_name(err), calls);
        ptimer_destroy(t);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void test_callback_may_cancel_and_join_its_own_timer(void)
{
    static struct shot s;
    static const long timeouts[3] = { 0, 50, -1 };
    shot_reset(&s);
    s.self_calls = true;
    ptimer_t *t = new_timer(1, &s);
    require_start(t);
    require_over(t, "a timer whose function cancels and joins it");
    KIT_CHECK(s.self_cancel == EALREADY, "inside the function, ptimer_cancel of its own "
              "timer returned %d (%s), expected EALREADY: the function has been called",
              s.self_cancel, err_name(s.self_cancel));
    for (int k = 0; k < 3 && s.self_join[k] != -1; k++)
        KIT_CHECK(s.self_join[k] == EDEADLK, "inside the function, ptimer_join(own timer, "
                  "%ld) returned %d (%s), expected EDEADLK: the timer is over only when "
                  "the function returns, so it would wait for itself", timeouts[k],
                  s.self_join[k], err_name(s.self_join[k]));
    ptimer_destroy(t);
}

/* ---- Join ---- */

static void test_join_errors_and_time_outs(void)
{
    static struct shot s;
    shot_reset(&s);
    ptimer_t *t = new_timer(long_ms(), &s);
    static const long before[] = { 0, 50, -1 };
    for (int k = 0; k < 3; k++) {
        int err = ptimer_join(t, before[k]);
        KIT_CHECK(err == EINVAL, "ptimer_join(t, %ld) on a timer never started returned %d "
                  "(%s), expected EINVAL: there is nothing to wait for", before[k], err,
                  err_name(err));
        if (err != EINVAL)
            break;  /* the next, longer join might wait forever */
    }
    require_start(t);
    static const long timeouts[] = { 0, 25, 80 };
    for (int k = 0; k < 3; k++) {
        long long t0 = now_ns();
        int err = ptimer_join(t, timeouts[k]);
        double took = ms_since(t0);
        KIT_CHECK(err == ETIMEDOUT, "ptimer_join(t, %ld) on a timer waiting for %ld ms "
                  "returned %d (%s), expected ETIMEDOUT%s", timeouts[k], long_ms(), err,
                  err_name(err),
                  timeouts[k] == 0 ? ": a time-out of 0 checks once, without waiting" : "");
        KIT_CHECK(took >= (double)timeouts[k], "ptimer_join(t, %ld) gave up after only "
                  "%.2f ms: never earlier than the time-out (an absolute deadline, "
                  "computed once, on the condition variable's clock)", timeouts[k], took);
        KIT_CHECK(took <= (double)(timeouts[k] + late_ms()), "ptimer_join(t, %ld) gave up "
                  "only after %.0f ms", timeouts[k], took);
        if (err != ETIMEDOUT)
            break;
    }
    KIT_CHECK_EQ(0, ptimer_cancel(t), "ptimer_cancel of a waiting timer");
    require_over(t, "a cancelled timer");
    ptimer_destroy(t);
}

static void test_join_waits_until_the_callback_returns(void)
{
    static struct shot s;
    for (int k = 0; k < 3; k++) {
        shot_reset(&s);
        s.busy_ms = 20 + 10 * k;
        ptimer_t *t = new_timer(k, &s);
        require_start(t);
        int err = ptimer_join(t, -1);
        KIT_CHECK(err == 0 && atomic_load(&s.returned), "ptimer_join(t, -1) returned %d "
                  "(%s) %s: it waits until the function has returned", err, err_name(err),
                  atomic_load(&s.returned) ? "" : "while the function was still running");
        KIT_CHECK_EQ(0, ptimer_join(t, 0), "joining a timer that is over, again");
        ptimer_destroy(t);
    }
}

struct joiner {
    ptimer_t *t;
    long timeout_ms;
    pthread_t tid;
    int result;             /* read once the joiner has ended */
    atomic_bool *back;      /* set when ptimer_join has returned */
};

static void *joiner_main(void *arg)
{
    struct joiner *j = arg;
    j->result = ptimer_join(j->t, j->timeout_ms);
    atomic_store(j->back, true);
    return NULL;
}

static void test_many_threads_join_one_timer(void)
{
    static struct shot s;
    static struct gate g;
    static struct joiner j[8];      /* static: a stuck joiner may outlive the test */
    static atomic_bool back[8];
    const int n = kit_race_mode() ? 2 : 8;
    shot_reset(&s);
    gate_init(&g);
    s.gate = &g;
    ptimer_t *t = new_timer(0, &s);
    require_start(t);
    for (int i = 0; i < n; i++) {
        atomic_init(&back[i], false);
        /* Half wait as long as it takes, half with a long time-out. */
        j[i] = (struct joiner){ .t = t, .timeout_ms = i % 2 ? 10 * rescue_ms() : -1,
                                .result = -1, .back = &back[i] };
        int err = pthread_create(&j[i].tid, NULL, joiner_main, &j[i]);
        KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
    }
    kit_sleep_ms(20);   /* the joiners now wait */
    gate_open(&g);
    /* A joiner that is not back rescue_ms() after the function returned was
     * never woken: it is left behind. */
    long long t0 = now_ns();
    int stuck = 0, wrong = 0, first = 0;
    for (int i = 0; i < n; i++) {
        while (!atomic_load(&back[i]) && ms_since(t0) < (double)rescue_ms())
            kit_sleep_ms(1);
        if (!atomic_load(&back[i])) {
            stuck++;
            must(pthread_detach(j[i].tid));
            continue;
        }
        must(pthread_join(j[i].tid, NULL));
        if (j[i].result != 0 && wrong++ == 0)
            first = j[i].result;
    }
    KIT_CHECK(stuck == 0, "%d threads joined one timer (half with ptimer_join(t, -1), half "
              "with a %ld ms time-out); %ld ms after its function returned, %d of them were "
              "still waiting: every joiner must be woken when the timer is over "
              "(pthread_cond_broadcast: pthread_cond_signal wakes only one; and "
              "pthread_join allows only one joiner)", n, 10 * rescue_ms(), rescue_ms(),
              stuck);
    KIT_CHECK(wrong == 0, "%d threads joined one timer; when its function returned, %d of "
              "them got %d (%s) instead of 0", n, wrong, first, err_name(first));
    if (stuck == 0 && wrong == 0) {
        ptimer_destroy(t);
        gate_destroy(&g);
    }
}

/* ---- Many timers, many threads ---- */

static void test_64_timers_at_once_each_fire_once_in_time(void)
{
    enum { N = 64 };
    const int n = (int)kit_scale(N, 4);
    static struct shot s[N];
    static ptimer_t *t[N];
    long long start[N];
    int cancel[N];
    for (int k = 0; k < n; k++) {
        shot_reset(&s[k]);
        t[k] = new_timer(10 + (k * 37) % 150, &s[k]);
    }
    for (int k = 0; k < n; k++) {
        start[k] = now_ns();
        require_start(t[k]);
    }
    for (int k = 0; k < n; k++)     /* every fourth, long before it fires (mostly) */
        cancel[k] = k % 4 == 3 ? ptimer_cancel(t[k]) : -1;
    for (int k = 0; k < n; k++)
        require_over(t[k], "one of many timers");
    kit_sleep_ms(20);
    for (int k = 0; k < n; k++) {
        long iv = 10 + (k * 37) % 150;
        int calls = atomic_load(&s[k].calls);
        if (cancel[k] == 0) {
            KIT_CHECK(calls == 0, "timer %d (%ld ms) was cancelled in time, yet called its "
                      "function %d times", k, iv, calls);
            continue;
        }
        KIT_CHECK(calls == 1, "timer %d of %d (%ld ms, %s) called its function %d times, "
                  "expected once", k, n, iv, cancel[k] == -1 ? "not cancelled" :
                  "cancelled too late", calls);
        if (calls == 1)
            check_fired_in_time(&s[k], iv, start[k]);
        if (CU_get_number_of_failures() > 0)
            return;
    }
    for (int k = 0; k < n; k++)
        ptimer_destroy(t[k]);
}

/* Threads that each create, start, cancel at a random moment, join and
 * destroy timers of 0 to 2 ms, checking that cancel and call agree. */
enum { CREW = 8, PER_WORKER = 64 };

struct crew {
    long rounds;
    long long until_ns;
    /* Held around every call that creates a thread. When threads create
     * threads at the same time, glibc reuses thread stacks under a lock that
     * helgrind does not see, and it reports "races" inside pthread_create. */
    pthread_mutex_t creating;
    struct shot shots[CREW][PER_WORKER];
    atomic_int bad_create, stuck, disagree, done;
};

struct worker {
    struct crew *c;
    int i;
    pthread_t tid;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct crew *c = w->c;
    unsigned seed = (unsigned)w->i * 7919u + 1;
    for (long r = 0; r < c->rounds && r < PER_WORKER; r++) {
        if (!kit_race_mode() && now_ns() > c->until_ns)
            break;
        struct shot *s = &c->shots[w->i][r];
        shot_reset(s);
        /* Under a race detector, cancels never race a deadline: glibc's
         * condition variables then make helgrind report a "lock not held"
         * on correct code. The race itself is the plain runs' job. */
        bool calm = kit_race_mode(), fire = r % 2 == 0;
        long interval = !calm ? r % 3 : fire ? 0 : long_ms();
        ptimer_t *t = ptimer_create(interval, shot_fn, s);
        must(pthread_mutex_lock(&c->creating));
        int err = t ? ptimer_start(t) : ENOMEM;
        must(pthread_mutex_unlock(&c->creating));
        if (err != 0) {
            atomic_fetch_add(&c->bad_create, 1);
            return NULL;
        }
        sleep_us(rand_r(&seed) % 2500);
        int cancelled = calm && fire ? -1 : ptimer_cancel(t);
        if (ptimer_join(t, rescue_ms()) != 0) {
            atomic_fetch_add(&c->stuck, 1);
            return NULL;    /* t is left: its thread may still use it */
        }
        if (cancelled == -1)
            cancelled = ptimer_cancel(t);   /* over, having fired: EALREADY */
        int calls = atomic_load(&s->calls);
        if (!((cancelled == 0 && calls == 0) || (cancelled == EALREADY && calls == 1))) {
            atomic_fetch_add(&c->disagree, 1);
            return NULL;
        }
        ptimer_destroy(t);
        atomic_fetch_add(&c->done, 1);
    }
    return NULL;
}

static void test_timers_started_and_cancelled_from_many_threads(void)
{
    static struct crew c;   /* static: large, and timers may outlive a failed test */
    static struct worker w[CREW];
    const int n = kit_race_mode() ? 2 : CREW;
    memset(&c, 0, sizeof c);
    c.rounds = kit_scale(PER_WORKER, 4);
    c.until_ns = now_ns() + 100 * 1000000LL;
    must(pthread_mutex_init(&c.creating, NULL));
    atomic_init(&c.bad_create, 0);
    atomic_init(&c.stuck, 0);
    atomic_init(&c.disagree, 0);
    atomic_init(&c.done, 0);
    int started = 0, err = 0;
    for (; started < n; started++) {
        w[started] = (struct worker){ .c = &c, .i = started };
        must(pthread_mutex_lock(&c.creating));
        err = pthread_create(&w[started].tid, NULL, worker_main, &w[started]);
        must(pthread_mutex_unlock(&c.creating));
        if (err != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        must(pthread_join(w[i].tid, NULL));
    KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
    KIT_CHECK(atomic_load(&c.bad_create) == 0, "ptimer_create or ptimer_start failed %d "
              "times in %d threads", atomic_load(&c.bad_create), n);
    KIT_CHECK(atomic_load(&c.stuck) == 0, "%d threads each started and cancelled short "
              "timers: %d timers were still not over %ld ms after the cancel", n,
              atomic_load(&c.stuck), rescue_ms());
    KIT_CHECK(atomic_load(&c.disagree) == 0, "%d threads each started and cancelled short "
              "timers: %d times, what cancel said disagreed with what happened (0 means "
              "\"never called\", EALREADY means \"called\"): decide between firing and "
              "cancelling under the lock, once", n, atomic_load(&c.disagree));
    must(pthread_mutex_destroy(&c.creating));
}

static void test_destroy_never_lets_the_callback_run_afterwards(void)
{
    enum { ROUNDS = 25 };
    static struct shot s[ROUNDS + 1];
    /* Never started, and cancelled before start: nothing to wait for. */
    ptimer_destroy(new_timer(5, &s[0]));
    ptimer_t *t = new_timer(5, &s[0]);
    KIT_CHECK_EQ(0, ptimer_cancel(t), "ptimer_cancel of a timer not started yet");
    ptimer_destroy(t);
    /* Pending: destroy cancels it. */
    shot_reset(&s[0]);
    t = new_timer(500, &s[0]);
    require_start(t);
    ptimer_destroy(t);
    atomic_store(&s[0].destroyed, true);
    KIT_REQUIRE(atomic_load(&s[0].calls) == 0, "ptimer_destroy of a timer waiting for 500 "
                "ms called its function: destroy cancels a pending timer first");
    /* Around the moment it fires: after destroy, the function is not running. */
    const int rounds = (int)kit_scale(ROUNDS, 4);
    unsigned seed = 11;
    for (int r = 1; r <= rounds; r++) {
        shot_reset(&s[r]);
        s[r].busy_ms = 3;
        t = new_timer(5, &s[r]);
        require_start(t);
        sleep_us(rand_r(&seed) % 10000);
        ptimer_destroy(t);
        bool running = atomic_load(&s[r].calls) > 0 && !atomic_load(&s[r].returned);
        atomic_store(&s[r].destroyed, true);
        KIT_REQUIRE(!running, "ptimer_destroy returned while the timer's function was still "
                    "running: destroy must wait for it (the timer's memory is freed, and "
                    "the caller may free what the function uses)");
    }
    kit_sleep_ms(30);
    for (int r = 0; r <= rounds; r++)
        KIT_REQUIRE(!atomic_load(&s[r].called_late), "a timer's function was called after "
                    "ptimer_destroy had returned: destroy must cancel the timer, or wait "
                    "for its thread, before it returns");
}

/* ---- The tables ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo fire_tests[] = {
    TEST(test_create_rejects_bad_arguments),
    TEST(test_timer_fires_once_no_earlier_than_its_interval),
    TEST(test_start_returns_before_the_interval_is_over),
    TEST(test_second_start_fails_with_ebusy),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo cancel_tests[] = {
    TEST(test_cancel_before_firing_prevents_the_call_and_ends_the_wait),
    TEST(test_cancel_before_start_prevents_the_call),
    TEST(test_cancel_after_firing_changes_nothing_and_says_ealready),
    TEST(test_cancel_while_the_callback_runs_says_ealready_without_waiting),
    TEST(test_cancel_racing_the_deadline_is_all_or_nothing),
    TEST(test_callback_may_cancel_and_join_its_own_timer),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo join_tests[] = {
    TEST(test_join_errors_and_time_outs),
    TEST(test_join_waits_until_the_callback_returns),
    TEST(test_many_threads_join_one_timer),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    TEST(test_64_timers_at_once_each_fire_once_in_time),
    TEST(test_timers_started_and_cancelled_from_many_threads),
    TEST(test_destroy_never_lets_the_callback_run_afterwards),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "fire", NULL, NULL, NULL, NULL, fire_tests },
    { "cancel", NULL, NULL, NULL, NULL, cancel_tests },
    { "join", NULL, NULL, NULL, NULL, join_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
