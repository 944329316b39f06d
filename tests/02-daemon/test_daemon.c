/* test_daemon.c - tests of exercise 02-daemon (daemon.h).
 *
 * The threads the tests start record what they see (their name, as
 * dt_current_name and the system tell it, their id, their pthread_t) or
 * sleep, or block on a gate that the test opens when it is done. A test
 * never leaves a thread blocked: it opens its gates and waits (bounded) for
 * the threads to finish before it ends. dt_shutdown is called from a helper
 * thread with a deadline wherever a wrong one could wait forever, so that
 * waiting for a daemon thread is reported, not left hanging.
 *
 * The test binary is linked with -Wl,--wrap=pthread_create, so the
 * pthread_create calls of dt_start come to __wrap_pthread_create below
 * first. While a test watches, it counts them and can
 *   - make the next one fail with EAGAIN;
 *   - hold the new thread back until the test lets it go (at most 250 ms),
 *     as a busy machine may: a thread that reads its name from the caller's
 *     buffer only then finds what the caller has written there since;
 *   - keep the creator waiting after pthread_create until the new thread
 *     has recorded its name (at most 300 ms): a name given from outside
 *     after pthread_create then comes too late, every time. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kit_test.h"
#include "daemon.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum {
    HOLD_MS = 250,          /* the longest a held-back thread waits */
    SLOW_MS = 300,          /* the longest a slow creator waits */
    MAX_RECORDS = 64,
};

/* ---- the pthread_create wrapper ------------------------------------------ */

int __real_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg);

enum watch_mode { WATCH_OFF, WATCH_COUNT, WATCH_HOLD, WATCH_SLOW_CREATOR };

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_changed;    /* on CLOCK_MONOTONIC */
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
/* Guarded by watch_lock: */
static enum watch_mode mode;
static int creates;         /* pthread_create calls while watching */
static int fail_next;       /* so many of the next calls fail with EAGAIN */
static long released;       /* held threads with a ticket below this may go */
static long tickets;        /* held threads so far */
static long recorded;       /* records made by the tests' thread functions */

static void init_watch(void)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0 ||
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&watch_changed, &attr) != 0 ||
        pthread_condattr_destroy(&attr) != 0)
        abort();
}

static void lock_watch(void)
{
    /* watch_changed must be set up before anyone waits on it. */
    if (pthread_once(&watch_once, init_watch) != 0 ||
        pthread_mutex_lock(&watch_lock) != 0)
        abort();
}

static void unlock_watch(void)
{
    if (pthread_mutex_unlock(&watch_lock) != 0)
        abort();
}

static void broadcast_watch(void)
{
    if (pthread_cond_broadcast(&watch_changed) != 0)
        abort();
}

static struct timespec deadline_in(long ms)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        abort();
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    t.tv_sec += t.tv_nsec / 1000000000L;
    t.tv_nsec %= 1000000000L;
    return t;
}

/* Caller holds watch_lock. Waits until *value > than, or ms pass. */
static void wait_watch_above(const long *value, long than, long ms)
{
    struct timespec until = deadline_in(ms);
    int err = 0;
    while (*value <= than && err == 0)
        err = pthread_cond_timedwait(&watch_changed, &watch_lock, &until);
    if (err != 0 && err != ETIMEDOUT)
        abort();
}

struct held {
    void *(*fn)(void *);
    void *arg;
    long ticket;
};

static void *held_main(void *p)
{
    struct held h = *(struct held *)p;
    free(p);
    lock_watch();
    wait_watch_above(&released, h.ticket, HOLD_MS);
    unlock_watch();
    return h.fn(h.arg);
}

int __wrap_pthread_create(pthread_t *tid, const pthread_attr_t *attr,
                          void *(*fn)(void *), void *arg)
{
    lock_watch();
    enum watch_mode m = mode;
    if (m == WATCH_OFF) {
        unlock_watch();
        return __real_pthread_create(tid, attr, fn, arg);
    }
    creates++;
    if (fail_next > 0) {
        fail_next--;
        unlock_watch();
        return EAGAIN;  /* what pthread_create says when threads run out */
    }
    struct held *h = NULL;
    if (m == WATCH_HOLD) {
        h = malloc(sizeof *h);
        if (!h)
            abort();
        *h = (struct held){ fn, arg, tickets++ };
    }
    long before = recorded;
    unlock_watch();
    int err = h ? __real_pthread_create(tid, attr, held_main, h)
                : __real_pthread_create(tid, attr, fn, arg);
    if (err != 0) {
        free(h);
        return err;
    }
    if (m == WATCH_SLOW_CREATOR) {
        lock_watch();
        wait_watch_above(&recorded, before, SLOW_MS);
        unlock_watch();
    }
    return 0;
}

static void watch(enum watch_mode m, int failures)
{
    lock_watch();
    mode = m;
    creates = 0;
    fail_next = failures;
    released = tickets = 0;
    unlock_watch();
}

/* Stops watching and lets every held thread go; the pthread_create calls seen. */
static int unwatch(void)
{
    lock_watch();
    mode = WATCH_OFF;
    released = tickets;
    broadcast_watch();
    int n = creates;
    unlock_watch();
    return n;
}

/* ---- flags and counters shared with the tests' threads -------------------
 * All guarded by watch_lock (not atomics): the lock also orders what a
 * thread wrote before raising a flag before what the test reads after
 * seeing it, in a way race detectors understand. */

static void bump(int *v)
{
    lock_watch();
    (*v)++;
    broadcast_watch();
    unlock_watch();
}

static int peek(const int *v)
{
    lock_watch();
    int n = *v;
    unlock_watch();
    return n;
}

/* Waits until *v >= n, at most ms; true if it got there. */
static bool wait_at_least(const int *v, int n, long ms)
{
    struct timespec until = deadline_in(ms);
    lock_watch();
    int err = 0;
    while (*v < n && err == 0)
        err = pthread_cond_timedwait(&watch_changed, &watch_lock, &until);
    if (err != 0 && err != ETIMEDOUT)
        abort();
    bool reached = *v >= n;
    unlock_watch();
    return reached;
}

/* ---- what the tests' threads do ------------------------------------------ */

/* What one thread saw, written by it before it sets `done`. */
struct record {
    char name[64];          /* dt_current_name */
    char os_name[64];       /* pthread_getname_np */
    int name_err;
    pid_t id;               /* dt_current_id */
    pid_t kernel_id;        /* gettid, asked by the test */
    pthread_t self;
    void *arg;
    int done;               /* see bump() */
};

static void record_fn(void *arg)
{
    struct record *r = arg;
    memset(r->name, 0, sizeof r->name);
    r->name_err = dt_current_name(r->name, sizeof r->name);
    if (pthread_getname_np(pthread_self(), r->os_name, sizeof r->os_name) != 0)
        strcpy(r->os_name, "?");
    r->id = dt_current_id();
    r->kernel_id = (pid_t)syscall(SYS_gettid);
    r->self = pthread_self();
    r->arg = arg;
    lock_watch();
    r->done = 1;
    recorded++;
    broadcast_watch();
    unlock_watch();
}

/* Waits until every record of rs[0..n) is done, at most 2 s (scaled). */
static bool all_recorded(struct record *rs, int n)
{
    long until = kit_now_ms() + 2000 * kit_time_factor();
    for (int i = 0; i < n; i++) {
        long left = until - kit_now_ms();
        if (!wait_at_least(&rs[i].done, 1, left > 0 ? left : 0))
            return false;
    }
    return true;
}

/* A gate threads block on until the test opens it. Never freed: a thread
 * of a failed test may still be using it. */
struct gate {
    bool open;              /* all guarded by watch_lock */
    int waiting;            /* threads that reached the gate */
};

static struct gate *new_gate(void)
{
    struct gate *g = calloc(1, sizeof *g);
    if (!g)
        abort();
    return g;
}

static void gate_fn(void *arg)
{
    struct gate *g = arg;
    lock_watch();
    g->waiting++;
    broadcast_watch();
    while (!g->open)
        if (pthread_cond_wait(&watch_changed, &watch_lock) != 0)
            abort();
    unlock_watch();
}

static void gate_open(struct gate *g)
{
    lock_watch();
    g->open = true;
    broadcast_watch();
    unlock_watch();
}

/* Waits until n threads have reached the gate, at most 2 s (scaled). */
static bool gate_reached(struct gate *g, int n)
{
    return wait_at_least(&g->waiting, n, 2000 * kit_time_factor());
}

struct sleeper {
    long ms;
    int done;               /* see bump() */
};

static void sleep_fn(void *arg)
{
    struct sleeper *s = arg;
    kit_sleep_ms(s->ms);
    bump(&s->done);
}

static void start_ok(const char *name, bool daemon, void (*fn)(void *), void *arg)
{
    int err = dt_start(name, daemon, fn, arg);
    KIT_REQUIRE(err == 0, "dt_start(\"%s\", %s, fn, arg) returned %d (%s), expected 0",
                name ? name : "(NULL)", daemon ? "true" : "false", err, strerror(err));
}

/* dt_shutdown in a helper thread, so that one waiting forever can be told. */
struct shutdown_call {
    pthread_t tid;
    int returned;           /* see bump() */
    int err;
};

static void *shutdown_main(void *p)
{
    struct shutdown_call *c = p;
    int err = dt_shutdown();
    c->err = err;
    bump(&c->returned);
    return NULL;
}

/* Calls dt_shutdown and gives it ms (scaled) to return; true if it did. If
 * not, opens `rescue` (if any) and waits for it once more, so that nothing
 * is left blocked. */
static bool shutdown_within(long ms, struct gate *rescue, int *err)
{
    static struct shutdown_call c;
    memset(&c, 0, sizeof c);
    if (pthread_create(&c.tid, NULL, shutdown_main, &c) != 0)
        abort();
    bool in_time = wait_at_least(&c.returned, 1, ms * kit_time_factor());
    bool returned = in_time;
    if (!in_time && rescue) {
        gate_open(rescue);
        returned = wait_at_least(&c.returned, 1, 2000 * kit_time_factor());
    }
    if (returned) {
        if (pthread_join(c.tid, NULL) != 0)
            abort();
    } else if (pthread_detach(c.tid) != 0) {
        abort();    /* stuck for good: the process ends after the test */
    }
    *err = returned ? c.err : -1;
    return in_time;
}

/* Waits until dt_active_count() is at most n, up to 2 s (scaled); its value. */
static int active_settles_to(int n)
{
    long until = kit_now_ms() + 2000 * kit_time_factor();
    int now = dt_active_count();
    while (now > n && kit_now_ms() < until) {
        kit_sleep_ms(1);
        now = dt_active_count();
    }
    return now;
}

/* dt_shutdown, when no thread is blocked: it must return, and soon. */
static void shutdown_returns(void)
{
    int err;
    KIT_REQUIRE(shutdown_within(2000, NULL, &err), "dt_shutdown did not return within "
                "2 s, though every thread started would return on its own by then");
    KIT_CHECK_EQ(0, err, "dt_shutdown's return value");
}

/* dt_shutdown, then the records of rs[0..n) once every thread has made its. */
static void shutdown_and_collect(struct record *rs, int n)
{
    shutdown_returns();
    KIT_REQUIRE(all_recorded(rs, n), "not every thread started by dt_start ran its "
                "function: dt_start must start a thread that calls fn(arg)");
}

/* ---- basic --------------------------------------------------------------- */

static void test_start_runs_the_function_with_its_argument(void)
{
    static struct record rs[5];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < 5; i++)
        start_ok("runner", false, record_fn, &rs[i]);
    shutdown_and_collect(rs, 5);
    for (int i = 0; i < 5; i++)
        KIT_CHECK(rs[i].arg == &rs[i], "thread %d was started with arg %p but its "
                  "function got %p: pass arg through unchanged", i, (void *)&rs[i],
                  rs[i].arg);
}

static void test_start_refuses_bad_arguments_and_starts_nothing(void)
{
    static struct record r;
    int before = dt_active_count();
    static const char *long_names[] = {
        "sixteen-chars-16", "a name much longer than the kernel allows",
    };
    watch(WATCH_COUNT, 0);
    int err = dt_start("worker", false, NULL, &r);
    int started = unwatch();
    KIT_CHECK(err == EINVAL && started == 0,
              "dt_start(\"worker\", false, NULL, arg) returned %d (%s) and called "
              "pthread_create %d times; expected EINVAL and no thread: there is no "
              "function to run", err, strerror(err), started);
    for (size_t k = 0; k < sizeof long_names / sizeof long_names[0]; k++) {
        watch(WATCH_COUNT, 0);
        err = dt_start(long_names[k], true, record_fn, &r);
        started = unwatch();
        KIT_CHECK(err == ERANGE && started == 0,
                  "dt_start(\"%s\", ...) returned %d (%s) and called pthread_create %d "
                  "times; expected ERANGE and no thread: the name has %zu characters, "
                  "more than DT_NAME_MAX (%d), and the kernel keeps only %d bytes "
                  "(pthread_setname_np refuses it)", long_names[k], err, strerror(err),
                  started, strlen(long_names[k]), DT_NAME_MAX, DT_NAME_MAX + 1);
    }
    KIT_CHECK_EQ(before, dt_active_count(), "dt_active_count() after refused dt_start calls");
}

static void test_current_name_needs_room_for_16_bytes(void)
{
    char buf[64], os[64];
    memset(buf, 0, sizeof buf);
    int err = dt_current_name(buf, DT_NAME_MAX);
    KIT_CHECK(err == ERANGE, "dt_current_name(buf, %d) returned %d (%s), expected "
              "ERANGE: a name takes up to %d bytes with its final NUL", DT_NAME_MAX,
              err, strerror(err), DT_NAME_MAX + 1);
    err = dt_current_name(buf, sizeof buf);
    if (pthread_getname_np(pthread_self(), os, sizeof os) != 0)
        abort();
    KIT_CHECK(err == 0 && strcmp(buf, os) == 0,
              "in a thread dt_start did not start, dt_current_name(buf, 64) returned "
              "%d (%s) and \"%s\"; expected 0 and the name the system has for it, "
              "\"%s\" (pthread_getname_np)", err, strerror(err), buf, os);
}

static void test_current_id_of_the_main_thread_is_the_process_id(void)
{
    pid_t id = dt_current_id();
    KIT_CHECK(id == getpid() && id == (pid_t)syscall(SYS_gettid),
              "dt_current_id() in the main thread returned %d, expected %d: the "
              "kernel's id of the main thread is the process id (gettid() == "
              "getpid() there)", (int)id, (int)getpid());
}

/* ---- names and ids ------------------------------------------------------- */

/* True if the thread recorded the name it was given, in both places. */
static bool check_named(const struct record *r, const char *want, bool daemon)
{
    KIT_CHECK(r->name_err == 0 && strcmp(r->name, want) == 0,
              "a %s thread started as \"%s\" called dt_current_name first thing and "
              "got %d (%s) and \"%s\": the thread must bear its name before its "
              "function runs. Naming it from dt_start after pthread_create comes too "
              "late when the new thread runs first; let the new thread name itself "
              "(pthread_setname_np(pthread_self(), ...)) before it calls fn",
              daemon ? "daemon" : "non-daemon", want, r->name_err, strerror(r->name_err),
              r->name);
    KIT_CHECK(strcmp(r->os_name, want) == 0,
              "a %s thread started as \"%s\" asked the system its name "
              "(pthread_getname_np) first thing and got \"%s\": give the name to the "
              "system with pthread_setname_np, so that ps, top -H and gdb show it too",
              daemon ? "daemon" : "non-daemon", want, r->os_name);
    return r->name_err == 0 && strcmp(r->name, want) == 0 && strcmp(r->os_name, want) == 0;
}

static void test_a_thread_bears_its_name_from_its_first_instruction(void)
{
    static const char *names[] = { "alpha", "beta-2", "fifteen-chars-x", "x" };
    static struct record rs[4];
    memset(rs, 0, sizeof rs);
    watch(WATCH_SLOW_CREATOR, 0);
    for (int i = 0; i < 4; i++)
        start_ok(names[i], i % 2 == 1, record_fn, &rs[i]);
    unwatch();
    shutdown_and_collect(rs, 4);
    for (int i = 0; i < 4; i++)
        if (!check_named(&rs[i], names[i], i % 2 == 1))
            break;
}

static void test_the_name_is_copied_when_the_thread_starts_late(void)
{
    static struct record rs[2];
    memset(rs, 0, sizeof rs);
    char buf[DT_NAME_MAX + 1];
    watch(WATCH_HOLD, 0);
    for (int i = 0; i < 2; i++) {
        snprintf(buf, sizeof buf, "copy-me-%d", i);
        start_ok(buf, i == 1, record_fn, &rs[i]);
        /* The caller may reuse its buffer as soon as dt_start returns. */
        snprintf(buf, sizeof buf, "overwritten");
    }
    unwatch();     /* lets the held threads go */
    shutdown_and_collect(rs, 2);
    for (int i = 0; i < 2; i++) {
        char want[DT_NAME_MAX + 1];
        snprintf(want, sizeof want, "copy-me-%d", i);
        KIT_CHECK(strcmp(rs[i].name, want) == 0 && strcmp(rs[i].os_name, want) == 0,
                  "a thread started as \"%s\" began to run only after dt_start had "
                  "returned and the caller had reused its buffer for \"overwritten\"; "
                  "it was then called \"%s\" (dt_current_name) and \"%s\" (the "
                  "system): dt_start must copy the name before it returns, not keep "
                  "the caller's pointer", want, rs[i].name, rs[i].os_name);
    }
}

/* The N of "Thread-N", or -1. */
static long thread_number(const char *name)
{
    long n;
    char extra;
    if (sscanf(name, "Thread-%ld%c", &n, &extra) != 1 || n < 1)
        return -1;
    return n;
}

static void test_unnamed_threads_are_called_thread_n(void)
{
    static struct record rs[4];
    memset(rs, 0, sizeof rs);
    start_ok(NULL, false, record_fn, &rs[0]);
    start_ok("named", false, record_fn, &rs[1]);
    start_ok(NULL, true, record_fn, &rs[2]);
    start_ok(NULL, false, record_fn, &rs[3]);
    shutdown_and_collect(rs, 4);
    long first = thread_number(rs[0].name);
    KIT_REQUIRE(first > 0, "a thread started with a NULL name is called \"%s\", expected "
                "\"Thread-N\" as in Python (Thread-1 for the first unnamed thread, "
                "Thread-2 for the next...)", rs[0].name);
    KIT_CHECK(strcmp(rs[1].name, "named") == 0, "a thread started as \"named\" is "
              "called \"%s\"", rs[1].name);
    for (int i = 2; i < 4; i++) {
        long want = first + i - 1;
        KIT_CHECK(thread_number(rs[i].name) == want,
                  "unnamed threads started one after the other were called \"%s\", then "
                  "(after a thread named \"named\") \"%s\" and \"%s\"; expected "
                  "Thread-%ld, Thread-%ld, Thread-%ld: N counts the threads started "
                  "without a name, daemon or not, and only those", rs[0].name,
                  rs[2].name, rs[3].name, first, first + 1, first + 2);
        if (thread_number(rs[i].name) != want)
            break;
    }
}

enum { STARTERS = 4, PER_STARTER = 8 };

static struct record unnamed_records[STARTERS * PER_STARTER];

static void unnamed_starter(int i, void *arg)
{
    int *errs = arg;
    for (int k = 0; k < PER_STARTER && errs[i] == 0; k++)
        errs[i] = dt_start(NULL, k % 2 == 0, record_fn, &unnamed_records[i * PER_STARTER + k]);
}

static void test_unnamed_threads_started_at_once_get_distinct_numbers(void)
{
    memset(unnamed_records, 0, sizeof unnamed_records);
    int errs[STARTERS] = { 0 };
    kit_run_threads(STARTERS, unnamed_starter, errs);
    shutdown_returns();
    for (int i = 0; i < STARTERS; i++)
        KIT_REQUIRE(errs[i] == 0, "dt_start(NULL, ...) returned %d (%s), expected 0",
                    errs[i], strerror(errs[i]));
    const int n = STARTERS * PER_STARTER;
    KIT_REQUIRE(all_recorded(unnamed_records, n), "not every thread started by "
                "dt_start ran its function");
    long lo = -1, hi = -1;
    for (int i = 0; i < n; i++) {
        long num = thread_number(unnamed_records[i].name);
        KIT_REQUIRE(num > 0, "a thread started with a NULL name is called \"%s\", "
                    "expected \"Thread-N\"", unnamed_records[i].name);
        for (int j = 0; j < i; j++)
            KIT_REQUIRE(strcmp(unnamed_records[j].name, unnamed_records[i].name) != 0,
                        "%d threads called dt_start(NULL, ...) %d times each at the "
                        "same time, and two of the new threads are both called "
                        "\"%s\": the counter behind Thread-N is shared by all threads, "
                        "so reading and increasing it must be one step (under a "
                        "lock)", STARTERS, PER_STARTER, unnamed_records[i].name);
        lo = lo < 0 || num < lo ? num : lo;
        hi = num > hi ? num : hi;
    }
    KIT_CHECK(hi - lo == n - 1, "%d unnamed threads were called Thread-%ld to "
              "Thread-%ld: expected %d consecutive numbers", n, lo, hi, n);
}

static void test_each_thread_has_its_own_kernel_id(void)
{
    enum { N = 8 };
    static struct record rs[N];
    memset(rs, 0, sizeof rs);
    for (int i = 0; i < N; i++)
        start_ok("id", i % 2 == 0, record_fn, &rs[i]);
    shutdown_and_collect(rs, N);
    for (int i = 0; i < N; i++) {
        KIT_CHECK(rs[i].id == rs[i].kernel_id,
                  "dt_current_id() in a new thread returned %d, but the kernel's id of "
                  "that thread (gettid()) is %d%s", (int)rs[i].id, (int)rs[i].kernel_id,
                  rs[i].id == getpid() ? ": getpid() is the id of the whole process, "
                  "the same in every thread" : "");
        if (rs[i].id != rs[i].kernel_id)
            return;
    }
}

/* ---- daemon or not: dt_shutdown ------------------------------------------ */

static void test_shutdown_waits_for_slow_non_daemon_threads(void)
{
    static struct sleeper s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = (struct sleeper){ 20L * (i + 1), 0 };
        start_ok("sleeper", false, sleep_fn, &s[i]);
    }
    long start = kit_now_ms();
    int err = dt_shutdown();
    long took = kit_now_ms() - start;
    KIT_CHECK_EQ(0, err, "dt_shutdown's return value");
    for (int i = 0; i < 4; i++) {
        KIT_CHECK(peek(&s[i].done),
                  "dt_shutdown returned after %ld ms while a non-daemon thread that "
                  "sleeps %ld ms was still running: it must wait until every "
                  "non-daemon thread has finished, as Python does before exiting "
                  "(wait in a loop until none is left, not just once)", took, s[i].ms);
        if (!peek(&s[i].done))
            break;
    }
}

static void test_shutdown_does_not_wait_for_a_blocked_daemon_thread(void)
{
    struct gate *g = new_gate();
    static struct sleeper s;
    s.ms = 30;
    s.done = 0;
    int base = dt_active_count();
    start_ok("daemon", true, gate_fn, g);
    start_ok("worker", false, sleep_fn, &s);
    KIT_REQUIRE(gate_reached(g, 1), "the daemon thread never ran its function");
    int err;
    bool in_time = shutdown_within(2000, g, &err);
    KIT_CHECK(in_time, "dt_shutdown did not return within 2 s while a daemon thread "
              "was blocked in its function: it must wait for the non-daemon threads "
              "only; a daemon thread is never waited for (nor joined)");
    if (!in_time)
        return;
    KIT_CHECK(peek(&s.done), "dt_shutdown returned before the non-daemon "
              "thread had finished");
    int active = dt_active_count();
    KIT_CHECK(active == base + 1, "after dt_shutdown, with the daemon thread still "
              "blocked and the non-daemon one finished, dt_active_count() returned %d, "
              "expected %d: it counts the threads whose function has not returned, "
              "daemons too", active, base + 1);
    gate_open(g);
    active = active_settles_to(base);
    KIT_CHECK(active == base, "once the blocked daemon thread was let go and its "
              "function returned, dt_active_count() still said %d, expected %d",
              active, base);
}

/* A thread that records what it sees, then blocks on a gate. */
struct blocker {
    struct record r;
    struct gate *g;
};

static void blocker_fn(void *arg)
{
    struct blocker *b = arg;
    record_fn(&b->r);
    gate_fn(b->g);
}

static void test_daemon_threads_are_detached(void)
{
    enum { N = 3 };
    static struct blocker bs[N];
    struct gate *g = new_gate();
    int base = dt_active_count();
    for (int i = 0; i < N; i++) {
        memset(&bs[i].r, 0, sizeof bs[i].r);
        bs[i].g = g;
        start_ok("daemon", true, blocker_fn, &bs[i]);
    }
    bool reached = gate_reached(g, N);
    for (int i = 0; i < N && reached; i++) {
        /* Alive (blocked at the gate) and dt_start has returned: its detach
         * state is settled and safe to ask. */
        pthread_attr_t attr;
        int state = -1;
        if (pthread_getattr_np(bs[i].r.self, &attr) != 0 ||
            pthread_attr_getdetachstate(&attr, &state) != 0 ||
            pthread_attr_destroy(&attr) != 0)
            abort();
        KIT_CHECK(state == PTHREAD_CREATE_DETACHED,
                  "a daemon thread started with dt_start is joinable: nobody will ever "
                  "join it, so when it ends its stack and its slot stay allocated "
                  "until the process exits. Create daemon threads detached "
                  "(pthread_attr_setdetachstate) or detach them (pthread_detach)");
        if (state != PTHREAD_CREATE_DETACHED)
            break;
    }
    gate_open(g);
    KIT_REQUIRE(reached, "the daemon threads never ran their function");
    active_settles_to(base);
}

static void starter_fn(void *arg)
{
    struct sleeper *late = arg;
    kit_sleep_ms(30);
    if (dt_start("late", false, sleep_fn, late) != 0)
        abort();
}

static void test_shutdown_waits_for_threads_started_while_it_waits(void)
{
    static struct sleeper late;
    late.ms = 50;
    late.done = 0;
    start_ok("starter", false, starter_fn, &late);
    shutdown_returns();
    KIT_CHECK(peek(&late.done),
              "a non-daemon thread started another non-daemon thread 30 ms after "
              "dt_shutdown had begun to wait, and dt_shutdown returned before that "
              "second thread had finished: it must wait until no non-daemon thread "
              "is left, including those started while it waits (look again after "
              "each one, do not only wait for a list taken at the start)");
}

static void test_active_count_counts_running_threads_of_both_kinds(void)
{
    struct gate *workers = new_gate(), *daemons = new_gate();
    int base = dt_active_count();
    for (int i = 0; i < 3; i++)
        start_ok("worker", false, gate_fn, workers);
    for (int i = 0; i < 2; i++)
        start_ok("daemon", true, gate_fn, daemons);
    bool reached = gate_reached(workers, 3) && gate_reached(daemons, 2);
    int during = dt_active_count();
    gate_open(workers);
    int err;
    bool in_time = shutdown_within(2000, daemons, &err);
    int after = dt_active_count();
    gate_open(daemons);
    int settled = active_settles_to(base);
    KIT_REQUIRE(reached, "not every thread started by dt_start ran its function");
    KIT_CHECK(during == base + 5, "with 3 non-daemon and 2 daemon threads blocked in "
              "their functions, dt_active_count() returned %d, expected %d",
              during, base + 5);
    KIT_REQUIRE(in_time, "dt_shutdown did not return within 2 s while 2 daemon threads "
                "were blocked: it must not wait for daemon threads");
    KIT_CHECK(after == base + 2, "after dt_shutdown, with the 3 non-daemon threads "
              "finished and 2 daemon threads still blocked, dt_active_count() returned "
              "%d, expected %d", after, base + 2);
    KIT_CHECK(settled == base, "once every thread had returned from its function, "
              "dt_active_count() still said %d, expected %d: a thread stops counting "
              "as soon as its function returns, daemon or not", settled, base);
}

struct crowd {
    int done[2];            /* non-daemon, daemon threads finished; see bump() */
    int errs[8];
};

/* arg: the counter to bump when done. */
static void crowd_worker(void *arg)
{
    kit_sleep_ms(2);
    bump(arg);
}

static void crowd_starter(int i, void *arg)
{
    struct crowd *c = arg;
    int per = (int)kit_scale(8, 4);
    for (int k = 0; k < per && c->errs[i] == 0; k++) {
        bool daemon = k % 4 == 3;
        c->errs[i] = dt_start(daemon ? "crowd-daemon" : NULL, daemon, crowd_worker,
                              &c->done[daemon]);
    }
}

static void test_many_threads_start_threads_and_shutdown_waits_for_the_non_daemons(void)
{
    static struct crowd c;
    memset(&c, 0, sizeof c);
    int base = dt_active_count();
    int starters = (int)kit_scale(8, 4), per = (int)kit_scale(8, 4);
    kit_run_threads(starters, crowd_starter, &c);
    for (int i = 0; i < starters; i++)
        KIT_REQUIRE(c.errs[i] == 0, "dt_start returned %d (%s) while %d threads "
                    "started threads at the same time, expected 0", c.errs[i],
                    strerror(c.errs[i]), starters);
    int daemons = starters * (per / 4), non_daemons = starters * per - daemons;
    shutdown_returns();
    int done = peek(&c.done[0]);
    KIT_CHECK(done == non_daemons,
              "%d threads started %d non-daemon and %d daemon threads at the same "
              "time; when dt_shutdown returned only %d of the non-daemon ones had "
              "finished: every non-daemon thread started must be waited for, "
              "whichever thread started it (the list or count of them is shared: "
              "change it under a lock)", starters, non_daemons, daemons, done);
    int settled = active_settles_to(base);
    KIT_CHECK(settled == base, "once all %d threads had returned, dt_active_count() "
              "said %d, expected %d: threads that start and end at the same time must "
              "each be counted in and out exactly once", starters * per, settled, base);
}

static void test_a_failed_start_leaves_nothing_to_wait_for(void)
{
    static struct record r;
    memset(&r, 0, sizeof r);
    int base = dt_active_count();
    for (int daemon = 0; daemon < 2; daemon++) {
        watch(WATCH_COUNT, 1);
        int err = dt_start(daemon ? "daemon" : "worker", daemon, record_fn, &r);
        int calls = unwatch();
        KIT_CHECK(err == EAGAIN, "pthread_create failed with EAGAIN inside dt_start "
                  "(%s), which then returned %d (%s): return pthread_create's error",
                  daemon ? "daemon" : "non-daemon", err, strerror(err));
        KIT_CHECK(calls == 1, "dt_start called pthread_create %d times, expected once",
                  calls);
        KIT_CHECK_EQ(base, dt_active_count(), "dt_active_count() after a dt_start whose "
                     "pthread_create failed (it started nothing)");
    }
    int err;
    KIT_CHECK(shutdown_within(1000, NULL, &err),
              "after dt_start failed to start a non-daemon thread, dt_shutdown waited "
              "for more than 1 s with nothing to wait for: a thread that never started "
              "must not be counted or listed (undo what dt_start recorded when "
              "pthread_create fails, or record it only once it succeeded)");
}

static CU_TestInfo basic_tests[] = {
    { "test_start_runs_the_function_with_its_argument",
      test_start_runs_the_function_with_its_argument },
    { "test_start_refuses_bad_arguments_and_starts_nothing",
      test_start_refuses_bad_arguments_and_starts_nothing },
    { "test_current_name_needs_room_for_16_bytes", test_current_name_needs_room_for_16_bytes },
    { "test_current_id_of_the_main_thread_is_the_process_id",
      test_current_id_of_the_main_thread_is_the_process_id },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo name_tests[] = {
    { "test_a_thread_bears_its_name_from_its_first_instruction",
      test_a_thread_bears_its_name_from_its_first_instruction },
    { "test_the_name_is_copied_when_the_thread_starts_late",
      test_the_name_is_copied_when_the_thread_starts_late },
    { "test_unnamed_threads_are_called_thread_n", test_unnamed_threads_are_called_thread_n },
    { "test_unnamed_threads_started_at_once_get_distinct_numbers",
      test_unnamed_threads_started_at_once_get_distinct_numbers },
    { "test_each_thread_has_its_own_kernel_id", test_each_thread_has_its_own_kernel_id },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo daemon_tests[] = {
    { "test_shutdown_waits_for_slow_non_daemon_threads",
      test_shutdown_waits_for_slow_non_daemon_threads },
    { "test_shutdown_does_not_wait_for_a_blocked_daemon_thread",
      test_shutdown_does_not_wait_for_a_blocked_daemon_thread },
    { "test_daemon_threads_are_detached", test_daemon_threads_are_detached },
    { "test_shutdown_waits_for_threads_started_while_it_waits",
      test_shutdown_waits_for_threads_started_while_it_waits },
    { "test_active_count_counts_running_threads_of_both_kinds",
      test_active_count_counts_running_threads_of_both_kinds },
    { "test_many_threads_start_threads_and_shutdown_waits_for_the_non_daemons",
      test_many_threads_start_threads_and_shutdown_waits_for_the_non_daemons },
    { "test_a_failed_start_leaves_nothing_to_wait_for",
      test_a_failed_start_leaves_nothing_to_wait_for },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic_tests },
    { "names", NULL, NULL, NULL, NULL, name_tests },
    { "daemon", NULL, NULL, NULL, NULL, daemon_tests },
    CU_SUITE_INFO_NULL,
};
