/* test_thread_object.c - tests of exercise 03-thread-object (thread_object.h).
 *
 * Most tests use a "probe": a derived type whose run() records what it saw
 * and can wait at a gate until the test opens it, so the test decides when
 * run() returns. Nothing here waits without a bound: a run() that waits at a
 * gate nobody opens gives up after a rescue delay, and every tobj_join the
 * test makes runs in a helper thread that the test waits for with a deadline,
 * so that a join that never returns is explained rather than left hanging.
 * Objects that a stuck thread may still use are heap-allocated and abandoned.
 * Helper threads never call CUnit (it is not thread-safe): they record, and
 * the test's thread checks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "kit_test.h"
#include "thread_object.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- Helpers ---- */

/* How long a call that must return may take before we call it stuck (ms).
 * Correct code needs a tiny fraction of it. No test asserts a duration
 * otherwise: the machine may be loaded. */
static long rescue_ms(void) { return kit_race_mode() ? 5000 : 2000 * kit_time_factor(); }

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
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case EDEADLK: return "EDEADLK";
    case ESRCH: return "ESRCH";
    case EAGAIN: return "EAGAIN";
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

/* An absolute CLOCK_MONOTONIC time ms from now. */
static struct timespec in_ms(long ms)
{
    struct timespec ts;
    must(clock_gettime(CLOCK_MONOTONIC, &ts));
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    must(pthread_condattr_init(&a));
    must(pthread_condattr_setclock(&a, CLOCK_MONOTONIC));
    must(pthread_cond_init(c, &a));
    must(pthread_condattr_destroy(&a));
}

/* A gate that run() waits at until the test opens it. */
struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool open;          /* guarded by m */
};

static void gate_init(struct gate *g)
{
    must(pthread_mutex_init(&g->m, NULL));
    cond_init_monotonic(&g->c);
    g->open = false;
}

static void gate_open(struct gate *g)
{
    must(pthread_mutex_lock(&g->m));
    g->open = true;
    must(pthread_cond_broadcast(&g->c));
    must(pthread_mutex_unlock(&g->m));
}

/* Waits until g opens, at most limit_ms; true if it opened. */
static bool gate_wait_ms(struct gate *g, long limit_ms)
{
    struct timespec deadline = in_ms(limit_ms);
    must(pthread_mutex_lock(&g->m));
    int err = 0;
    while (!g->open && err == 0)
        err = pthread_cond_timedwait(&g->c, &g->m, &deadline);
    bool opened = g->open;
    must(pthread_mutex_unlock(&g->m));
    return opened;
}

static bool gate_wait(struct gate *g)
{
    return gate_wait_ms(g, rescue_ms());
}

static void gate_destroy(struct gate *g)
{
    must(pthread_cond_destroy(&g->c));
    must(pthread_mutex_destroy(&g->m));
}

/* tobj_join(t), called in a helper thread so that the test can give up on it. */
struct join_call {
    struct tobj *t;
    pthread_t tid;
    int result;         /* written before `done` opens */
    struct gate done;
};

static void *join_call_main(void *arg)
{
    struct join_call *jc = arg;
    jc->result = tobj_join(jc->t);
    gate_open(&jc->done);
    return NULL;
}

/* Starts tobj_join(t) in a helper thread; NULL if the thread cannot start.
 * Any thread may call it. */
static struct join_call *join_call_spawn(struct tobj *t)
{
    struct join_call *jc = calloc(1, sizeof *jc);
    if (!jc)
        abort();
    jc->t = t;
    gate_init(&jc->done);
    if (pthread_create(&jc->tid, NULL, join_call_main, jc) != 0) {
        gate_destroy(&jc->done);
        free(jc);
        return NULL;
    }
    return jc;
}

/* The same in the test's own thread, where a failure ends the test. */
static struct join_call *join_call_start(struct tobj *t)
{
    struct join_call *jc = join_call_spawn(t);
    KIT_REQUIRE(jc != NULL, "test harness: could not start a thread");
    return jc;
}

/* Waits at most limit_ms for the join to return. True when it did, with its
 * result in *result (and jc is freed). False when it is still waiting: the
 * helper is then left behind, detached, with jc. */
static bool join_call_wait(struct join_call *jc, long limit_ms, int *result)
{
    if (!gate_wait_ms(&jc->done, limit_ms)) {
        must(pthread_detach(jc->tid));
        return false;
    }
    must(pthread_join(jc->tid, NULL));
    *result = jc->result;
    gate_destroy(&jc->done);
    free(jc);
    return true;
}

/* tobj_join(t) with a deadline of rescue_ms(): true if it returned. */
static bool join_within(struct tobj *t, int *result)
{
    return join_call_wait(join_call_start(t), rescue_ms(), result);
}

/* A derived type: struct tobj first, then the probe's own fields. Allocated,
 * so that a test can abandon it to a thread that is stuck. */
struct probe {
    struct tobj base;           /* first: run() casts self back to a probe */
    struct gate gate;           /* run() waits until it opens, if use_gate */
    bool use_gate;
    long sleep_ms;              /* then run() sleeps this long */
    bool ask_alive;             /* run() calls tobj_is_alive(self) */
    atomic_int calls;           /* how many times run() was called */
    atomic_bool alive_inside;   /* what tobj_is_alive(self) said inside run() */
    atomic_bool rescued;        /* run() stopped waiting for a gate nobody opened */
    atomic_bool returned;       /* the last thing run() does */
    pthread_t thread;           /* the thread run() ran on; read after a join */
    struct tobj *self;          /* the pointer run() received */
};

static void probe_run(struct tobj *self)
{
    struct probe *p = (struct probe *)self;
    p->thread = pthread_self();
    p->self = self;
    atomic_fetch_add(&p->calls, 1);
    if (p->ask_alive)
        atomic_store(&p->alive_inside, tobj_is_alive(self));
    if (p->use_gate && !gate_wait(&p->gate))
        atomic_store(&p->rescued, true);
    if (p->sleep_ms > 0)
        kit_sleep_ms(p->sleep_ms);
    atomic_store(&p->returned, true);
}

/* A new probe, or NULL with *err set to tobj_init's result. Any thread. */
static struct probe *probe_make(const char *name, bool use_gate, long sleep_ms, int *err)
{
    struct probe *p = calloc(1, sizeof *p);
    if (!p)
        abort();
    gate_init(&p->gate);
    p->use_gate = use_gate;
    p->sleep_ms = sleep_ms;
    atomic_init(&p->calls, 0);
    atomic_init(&p->alive_inside, false);
    atomic_init(&p->rescued, false);
    atomic_init(&p->returned, false);
    *err = tobj_init(&p->base, probe_run, name);
    if (*err != 0) {
        gate_destroy(&p->gate);
        free(p);
        return NULL;
    }
    return p;
}

/* The same in the test's own thread, where a failure ends the test. */
static struct probe *probe_new(const char *name, bool use_gate, long sleep_ms)
{
    int err;
    struct probe *p = probe_make(name, use_gate, sleep_ms, &err);
    KIT_REQUIRE(p != NULL, "tobj_init(&t, run, %s%s%s) returned %d (%s), expected 0",
                name ? "\"" : "", name ? name : "NULL", name ? "\"" : "", err, err_name(err));
    return p;
}

/* Destroys and frees a probe that no thread uses any more. */
static void probe_free(struct probe *p)
{
    tobj_destroy(&p->base);
    gate_destroy(&p->gate);
    free(p);
}

static void require_start(struct tobj *t)
{
    int err = tobj_start(t);
    KIT_REQUIRE(err == 0, "tobj_start on a new object returned %d (%s), expected 0",
                err, err_name(err));
}

/* Joins t, whose run() will return on its own; `returned`, if not NULL, says
 * whether it has. Ends the test if the join does not return 0 in time. */
static void require_join(struct tobj *t, const atomic_bool *returned, const char *what)
{
    int err;
    bool back = join_within(t, &err);
    bool over = !returned || atomic_load(returned);
    KIT_REQUIRE(back, "tobj_join on %s was still waiting after %ld ms, although run() "
                "%s: %s", what, rescue_ms(), over ? "had returned" : "should have "
                "returned long before", over ? "the joiner is never told that the "
                "thread has ended (a lost wake-up), or waits for a lock the thread needs "
                "in order to end" : "is run() running at all?");
    KIT_REQUIRE(err == 0, "tobj_join on %s returned %d (%s), expected 0", what, err,
                err_name(err));
}

/* ---- The object: run() in a new thread, derived types, names ---- */

static void test_start_returns_at_once_and_run_runs_once_in_a_new_thread(void)
{
    struct probe *p = probe_new("worker", true, 0);
    double t0 = now_ms();
    require_start(&p->base);
    double took = now_ms() - t0;
    bool returned_already = atomic_load(&p->returned);
    gate_open(&p->gate);
    require_join(&p->base, &p->returned, "an object whose run() was let go");
    KIT_CHECK(!returned_already,
              "tobj_start returned after %.0f ms, once run() had already returned (run() "
              "waits for the test to let it go, and gave up waiting): tobj_start must "
              "run run() in a NEW thread and return at once. Calling t->run(t) yourself "
              "is like calling Python's thread.run() instead of thread.start()", took);
    KIT_CHECK_EQ(1, atomic_load(&p->calls), "number of calls of run() after start and join");
    KIT_CHECK(!pthread_equal(p->thread, pthread_self()),
              "run() ran in the thread that called tobj_start: it must run in a new "
              "thread (pthread_create)");
    KIT_CHECK(p->self == &p->base, "run() received %p, expected the object itself (%p): "
              "the new thread must call t->run(t)", (void *)p->self, (void *)&p->base);
    probe_free(p);
}

/* Two "subclasses" of struct tobj, each with its own fields. */
struct summer {
    struct tobj base;
    long from, to;      /* run() adds from..to */
    long sum;           /* written by run(); read after join */
};

static void summer_run(struct tobj *self)
{
    struct summer *s = (struct summer *)self;
    for (long i = s->from; i <= s->to; i++)
        s->sum += i;
}

static void test_derived_types_run_with_their_own_fields(void)
{
    enum { N = 6 };
    static struct summer s[N];      /* static: a stuck thread may outlive the test */
    for (int k = 0; k < N; k++) {
        s[k] = (struct summer){ .from = k * 1000 + 1, .to = (k + 1) * 1000 + k };
        KIT_REQUIRE(tobj_init(&s[k].base, summer_run, NULL) == 0, "tobj_init failed");
    }
    for (int k = 0; k < N; k++)
        require_start(&s[k].base);
    for (int k = 0; k < N; k++) {
        require_join(&s[k].base, NULL, "a summer");
        long n = s[k].to - s[k].from + 1, expect = (s[k].from + s[k].to) * n / 2;
        KIT_CHECK(s[k].sum == expect,
                  "a summer of %ld..%ld computed %ld, expected %ld: its run() must be "
                  "called with a pointer to its own struct tobj (the first member), so "
                  "that it can cast it back and use its own fields",
                  s[k].from, s[k].to, s[k].sum, expect);
    }
    for (int k = 0; k < N; k++)
        tobj_destroy(&s[k].base);
}

/* True if name is "Thread-N" with N a positive decimal number. */
static bool is_default_name(const char *name)
{
    unsigned long n;
    int len = 0;
    return name && sscanf(name, "Thread-%lu%n", &n, &len) == 1 && n > 0 &&
           name[7] != '0' && name[7] != '+' && name[len] == '\0';
}

static void test_names_are_copied_and_default_names_differ(void)
{
    char given[] = "downloader-7";
    struct probe *named = probe_new(given, false, 0);
    strcpy(given, "overwritten!");  /* the caller's buffer changes: the name must not */
    const char *name = tobj_name(&named->base);
    KIT_CHECK(name && strcmp(name, "downloader-7") == 0,
              "tobj_name says \"%s\", expected \"downloader-7\" (the caller changed its "
              "own buffer after tobj_init: keep a copy of the name, not the pointer)",
              name ? name : "(NULL)");
    require_start(&named->base);
    require_join(&named->base, &named->returned, "an object");
    name = tobj_name(&named->base);
    KIT_CHECK(name && strcmp(name, "downloader-7") == 0,
              "after start and join, tobj_name says \"%s\", expected \"downloader-7\"",
              name ? name : "(NULL)");
    probe_free(named);

    enum { N = 3 };
    struct probe *d[N];
    for (int k = 0; k < N; k++)
        d[k] = probe_new(NULL, false, 0);
    for (int k = 0; k < N; k++) {
        const char *nk = tobj_name(&d[k]->base);
        KIT_CHECK(is_default_name(nk), "an object made with name NULL is called \"%s\", "
                  "expected \"Thread-N\" (N = 1, 2, 3, ...)", nk ? nk : "(NULL)");
        for (int j = 0; j < k && nk; j++) {
            const char *nj = tobj_name(&d[j]->base);
            KIT_CHECK(!nj || strcmp(nj, nk) != 0,
                      "two objects made with name NULL are both called \"%s\": each "
                      "default name takes the next number of one shared counter", nk);
        }
    }
    for (int k = 0; k < N; k++)
        probe_free(d[k]);
}

static void test_init_rejects_a_missing_run_with_einval(void)
{
    struct tobj t;
    int err = tobj_init(&t, NULL, "no run");
    KIT_CHECK(err == EINVAL, "tobj_init(&t, NULL, \"no run\") returned %d (%s), expected "
              "EINVAL: an object without run() has nothing to do", err, err_name(err));
    if (err == 0)
        tobj_destroy(&t);
    err = tobj_init(NULL, probe_run, "no object");
    KIT_CHECK(err == EINVAL, "tobj_init(NULL, run, \"no object\") returned %d (%s), "
              "expected EINVAL", err, err_name(err));
}

/* ---- Python's errors, as errno values ---- */

static void test_second_start_fails_with_ebusy_and_run_runs_once(void)
{
    struct probe *p = probe_new("once", true, 0);
    require_start(&p->base);
    int err = tobj_start(&p->base);
    KIT_CHECK(err == EBUSY, "a second tobj_start while run() runs returned %d (%s), "
              "expected EBUSY: like Python's RuntimeError(\"threads can only be started "
              "once\"), an object starts at most once", err, err_name(err));
    gate_open(&p->gate);
    require_join(&p->base, &p->returned, "an object");
    err = tobj_start(&p->base);
    KIT_CHECK(err == EBUSY, "tobj_start after run() returned and the object was joined "
              "returned %d (%s), expected EBUSY: a finished object cannot be started "
              "again either", err, err_name(err));
    kit_sleep_ms(20);   /* a wrongly started second run() would have been called now */
    int calls = atomic_load(&p->calls);
    KIT_CHECK_EQ(1, calls, "calls of run() after three tobj_start calls");
    if (calls == 1)
        probe_free(p);  /* else its extra threads may still use it */
}

static void test_join_before_start_fails_with_einval(void)
{
    struct probe *p = probe_new("unstarted", false, 0);
    KIT_CHECK(!tobj_is_alive(&p->base), "tobj_is_alive is true before tobj_start");
    for (int k = 0; k < 2; k++) {
        int err;
        bool returned = join_within(&p->base, &err);
        KIT_REQUIRE(returned, "tobj_join on an object never started was still waiting "
                    "after %ld ms, expected EINVAL at once: there is no thread to wait "
                    "for (Python: RuntimeError(\"cannot join thread before it is "
                    "started\"))", rescue_ms());
        KIT_REQUIRE(err == EINVAL, "tobj_join on an object never started returned %d "
                    "(%s), expected EINVAL: there is no thread to wait for (Python: "
                    "RuntimeError(\"cannot join thread before it is started\"))%s", err,
                    err_name(err), err == ESRCH ? "; pthread_join was handed a thread id "
                    "that tobj_start never set" : "");
    }
    /* The error changed nothing: the object still starts and joins. */
    require_start(&p->base);
    require_join(&p->base, &p->returned, "an object, after a refused join");
    KIT_CHECK_EQ(1, atomic_load(&p->calls), "calls of run()");
    probe_free(p);
}

/* run() joins its own object: the answer must be EDEADLK. */
struct self_joiner {
    struct tobj base;
    struct gate gate;       /* run() waits for it before joining itself */
    atomic_int result;      /* what it returned; -1 until then */
};

static void self_joiner_run(struct tobj *self)
{
    struct self_joiner *s = (struct self_joiner *)self;
    (void)gate_wait(&s->gate);
    atomic_store(&s->result, tobj_join(self));
}

/* Starts a self_joiner; with `other_joiner`, another thread is already
 * waiting in tobj_join on it when run() joins itself. */
static void check_self_join(bool other_joiner)
{
    struct self_joiner *s = calloc(1, sizeof *s);
    KIT_REQUIRE(s != NULL, "test harness: out of memory");
    gate_init(&s->gate);
    atomic_init(&s->result, -1);
    KIT_REQUIRE(tobj_init(&s->base, self_joiner_run, "self-joiner") == 0, "tobj_init failed");
    require_start(&s->base);
    struct join_call *other = NULL;
    if (other_joiner) {
        other = join_call_start(&s->base);
        kit_sleep_ms(20);   /* now the other thread waits for run() to return */
    }
    gate_open(&s->gate);
    int err;
    bool returned = other ? join_call_wait(other, rescue_ms(), &err)
                          : join_within(&s->base, &err);
    int result = atomic_load(&s->result);
    const char *with = other_joiner ? " while another thread was already waiting in "
                                      "tobj_join for it" : "";
    KIT_REQUIRE(returned, "inside run(), tobj_join(self)%s %s; %ld ms later the object "
                "still had not finished: a thread waiting for its own end waits forever. "
                "Compare the caller with the object's thread (pthread_self, "
                "pthread_equal) before waiting for anything, even a lock", with,
                result == -1 ? "never returned" : "returned", rescue_ms());
    KIT_CHECK(result == EDEADLK, "inside run(), tobj_join(self)%s returned %d (%s), "
              "expected EDEADLK: a thread cannot wait for its own end (Python: "
              "RuntimeError(\"cannot join current thread\"))", with, result,
              err_name(result));
    KIT_CHECK(err == 0, "tobj_join from the test's thread returned %d (%s), expected 0",
              err, err_name(err));
    tobj_destroy(&s->base);
    gate_destroy(&s->gate);
    free(s);
}

static void test_join_from_inside_run_fails_with_edeadlk(void)
{
    check_self_join(false);
    check_self_join(true);
}

/* ---- is_alive ---- */

static void test_is_alive_from_start_until_run_returns(void)
{
    const int rounds = (int)kit_scale(100, 5);
    int false_after_start = 0, false_inside = 0, true_after_join = 0;
    for (int k = 0; k < rounds; k++) {
        struct probe *p = probe_new(NULL, true, 0);
        p->ask_alive = true;
        if (k == 0)
            KIT_CHECK(!tobj_is_alive(&p->base), "tobj_is_alive is true before tobj_start");
        require_start(&p->base);
        false_after_start += !tobj_is_alive(&p->base);
        gate_open(&p->gate);
        require_join(&p->base, &p->returned, "an object");
        false_inside += !atomic_load(&p->alive_inside);
        true_after_join += tobj_is_alive(&p->base);
        probe_free(p);
    }
    KIT_CHECK(false_after_start == 0,
              "right after tobj_start returned, with run() still waiting, tobj_is_alive "
              "said false %d times in %d: the object is alive from the moment start "
              "returns. If the new thread marks itself running when it begins, it may "
              "not have begun yet: mark it in tobj_start", false_after_start, rounds);
    KIT_CHECK(false_inside == 0, "inside run(), tobj_is_alive(self) said false %d times "
              "in %d, expected true", false_inside, rounds);
    KIT_CHECK(true_after_join == 0, "after tobj_join returned 0, tobj_is_alive said true "
              "%d times in %d: once run() has returned the object is not alive%s",
              true_after_join, rounds, true_after_join < rounds ? " (sometimes: can "
              "tobj_start mark the object running after its thread has already marked "
              "it finished?)" : "");
}

static void test_is_alive_turns_false_when_run_returns_even_without_join(void)
{
    for (int k = 0; k < 3; k++) {
        struct probe *p = probe_new(NULL, false, k * 10);
        require_start(&p->base);
        double t0 = now_ms();
        bool alive = true;
        while (alive && now_ms() - t0 < rescue_ms()) {
            alive = tobj_is_alive(&p->base);
            if (alive)
                kit_sleep_ms(1);
        }
        KIT_REQUIRE(!alive,
                    "run() %s, yet tobj_is_alive still said true %.0f ms later, with "
                    "nobody joining: is_alive means \"run() has not returned yet\", not "
                    "\"not joined yet\"; the new thread must mark the object finished as "
                    "soon as run() returns", atomic_load(&p->returned) ? "returned" :
                    "did not even return", now_ms() - t0);
        KIT_CHECK(atomic_load(&p->returned), "tobj_is_alive said false while run() "
                  "had not returned yet");
        require_join(&p->base, &p->returned, "an object");
        probe_free(p);
    }
}

/* ---- join ---- */

static void test_join_waits_until_run_has_returned(void)
{
    for (int k = 0; k < 3; k++) {
        struct probe *p = probe_new("sleeper", false, 20 + 10 * k);
        require_start(&p->base);
        double t0 = now_ms();
        require_join(&p->base, &p->returned, "an object whose run() sleeps");
        double took = now_ms() - t0;
        KIT_CHECK(atomic_load(&p->returned),
                  "tobj_join returned 0 after %.0f ms, before run() (which sleeps %ld "
                  "ms) had returned: join waits until run() returns", took, p->sleep_ms);
        KIT_CHECK(!tobj_is_alive(&p->base), "tobj_is_alive is true after tobj_join returned");
        probe_free(p);
    }
}

static void test_joining_again_returns_0_at_once(void)
{
    struct probe *p = probe_new("joined", false, 0);
    require_start(&p->base);
    require_join(&p->base, &p->returned, "a started object, the first time");
    for (int k = 2; k <= 4; k++) {
        int err;
        bool returned = join_within(&p->base, &err);
        KIT_REQUIRE(returned && err == 0,
                    "joining an object again (join number %d) %s %d (%s), expected 0 at "
                    "once: as in Python, a finished thread may be joined any number of "
                    "times. pthread_join may be called only once per thread%s", k,
                    returned ? "returned" : "was still waiting with", err, err_name(err),
                    err == ESRCH ? " (a second one says ESRCH): remember that the thread "
                    "was joined" : ": remember that it was joined");
    }
    probe_free(p);
}

static void test_many_threads_join_one_object_and_all_return(void)
{
    const int n = kit_race_mode() ? 2 : 8;
    for (int round = 0; round < kit_scale(3, 1); round++) {
        struct probe *p = probe_new("joined-by-many", true, 0);
        require_start(&p->base);
        struct join_call *jc[8];
        for (int i = 0; i < n; i++)
            jc[i] = join_call_start(&p->base);
        kit_sleep_ms(20);   /* the joiners are now waiting */
        bool alive = tobj_is_alive(&p->base);
        /* run() returns only when the gate opens, or after rescue_ms(). */
        bool run_over = atomic_load(&p->returned);
        gate_open(&p->gate);
        /* Every joiner must be back by one deadline. */
        double deadline = now_ms() + (double)rescue_ms();
        int stuck = 0, wrong = 0, first_err = 0;
        for (int i = 0; i < n; i++) {
            int err;
            double left = deadline - now_ms();
            if (!join_call_wait(jc[i], left > 1 ? (long)left : 1, &err))
                stuck++;
            else if (err != 0 && wrong++ == 0)
                first_err = err;
        }
        KIT_CHECK(alive && !run_over,
                  "while %d threads were joining an object whose run() was still waiting "
                  "for the test, tobj_is_alive %s: is_alive must never wait for run() "
                  "(do not hold the lock it needs while waiting for the thread)", n,
                  run_over ? "returned only once run() had given up waiting, seconds "
                  "later" : "said false");
        KIT_CHECK(stuck == 0, "%d threads joined one object; after its run() returned, "
                  "%d of them were still waiting: every joiner must learn that the "
                  "thread has ended. pthread_join allows one joiner, once: let one "
                  "thread call it while the others wait for their turn on a mutex (with "
                  "a condition variable instead, pthread_cond_broadcast wakes every "
                  "waiter, pthread_cond_signal only one)", n, stuck);
        KIT_CHECK(wrong == 0, "%d threads joined one object at once; %d of them got %d "
                  "(%s) instead of 0: pthread_join may not be called by two threads for "
                  "one thread, nor twice, so only one joiner may call it (let the others "
                  "wait for it, under a lock)", n, wrong, first_err, err_name(first_err));
        if (CU_get_number_of_failures() > 0)
            return;     /* p is left: stuck joiners still use it */
        KIT_CHECK(!tobj_is_alive(&p->base), "tobj_is_alive is true after every join returned");
        probe_free(p);
    }
}

/* A chain of objects: each run() joins the object before it, which may have
 * finished and been joined long ago; its thread's id may then have been
 * handed to a new thread, even to the one now calling join. */
struct link {
    struct tobj base;
    struct tobj *previous;  /* NULL for the first */
    atomic_int result;      /* of tobj_join(previous); -1 until then */
};

static void link_run(struct tobj *self)
{
    struct link *l = (struct link *)self;
    if (l->previous)
        atomic_store(&l->result, tobj_join(l->previous));
}

static void test_run_may_join_other_objects(void)
{
    enum { N = 6 };
    static struct link chain[N];    /* static: a stuck thread may outlive the test */
    for (int k = 0; k < N; k++) {
        chain[k].previous = k > 0 ? &chain[k - 1].base : NULL;
        atomic_init(&chain[k].result, -1);
        KIT_REQUIRE(tobj_init(&chain[k].base, link_run, NULL) == 0, "tobj_init failed");
    }
    for (int k = 0; k < N; k++) {
        require_start(&chain[k].base);
        if (k % 2 == 0)     /* half of them are joined (their thread reaped) at once */
            require_join(&chain[k].base, NULL, "an object of a chain");
    }
    for (int k = N - 1; k >= 0; k--)
        require_join(&chain[k].base, NULL, "an object of a chain");
    for (int k = 1; k < N; k++) {
        int r = atomic_load(&chain[k].result);
        KIT_CHECK(r == 0, "the run() of object %d joined object %d (finished, and %s) and "
                  "got %d (%s), expected 0%s", k, k - 1, (k - 1) % 2 == 0 ? "joined "
                  "already" : "maybe not joined yet", r, err_name(r), r == EDEADLK ?
                  ": it was not joining itself. Once a thread has ended and been joined, "
                  "its id may be given to a new thread, so compare ids only while the "
                  "object is still running" : "");
    }
    for (int k = 0; k < N; k++)
        tobj_destroy(&chain[k].base);
}

/* ---- Many objects, many threads ---- */

/* A summer that waits until every object of its group has started, adds its
 * range, then waits at the group's gate. */
struct member {
    struct tobj base;
    atomic_int *entered;    /* members whose run() has begun */
    int group;              /* how many members there are */
    struct gate *gate;
    bool saw_everyone;      /* all `group` had begun while this one waited */
    long from, to, sum;
};

static void member_run(struct tobj *self)
{
    struct member *m = (struct member *)self;
    atomic_fetch_add(m->entered, 1);
    double t0 = now_ms();
    while (atomic_load(m->entered) < m->group && now_ms() - t0 < rescue_ms())
        kit_sleep_ms(1);
    m->saw_everyone = atomic_load(m->entered) >= m->group;
    for (long i = m->from; i <= m->to; i++)
        m->sum += i;
    (void)gate_wait(m->gate);
}

static void test_64_objects_run_at_once_each_with_its_own_data(void)
{
    const int n = (int)kit_scale(64, 4);
    static struct member m[64];     /* static: a stuck thread may outlive the test */
    static atomic_int entered;
    static struct gate g;
    atomic_init(&entered, 0);
    gate_init(&g);
    for (int k = 0; k < n; k++) {
        m[k] = (struct member){ .entered = &entered, .group = n, .gate = &g,
                                .from = k * 100 + 1, .to = k * 100 + 100 };
        KIT_REQUIRE(tobj_init(&m[k].base, member_run, NULL) == 0, "tobj_init failed");
    }
    for (int k = 0; k < n; k++)
        require_start(&m[k].base);
    /* Every run() has begun, or given up, and waits at the gate: all alive. */
    double t0 = now_ms();
    while (atomic_load(&entered) < n && now_ms() - t0 < rescue_ms())
        kit_sleep_ms(1);
    int alive = 0;
    for (int k = 0; k < n; k++)
        alive += tobj_is_alive(&m[k].base);
    gate_open(&g);
    int wrong = 0, lonely = 0;
    for (int k = 0; k < n; k++) {
        require_join(&m[k].base, NULL, "one of many objects");
        wrong += m[k].sum != (m[k].from + m[k].to) * 50;
        lonely += !m[k].saw_everyone;
    }
    KIT_CHECK(lonely == 0, "%d objects were started and each run() waited for all %d to "
              "begin, but %d of them gave up: the objects did not all run at once "
              "(does tobj_start wait for run(), or call it itself?)", n, n, lonely);
    KIT_CHECK(wrong == 0, "%d of %d objects computed a wrong sum from their own fields",
              wrong, n);
    KIT_CHECK(alive == n, "%d objects were started and their run() was still waiting, "
              "yet tobj_is_alive said true for only %d of them", n, alive);
    for (int k = 0; k < n; k++)
        tobj_destroy(&m[k].base);
    gate_destroy(&g);
}

/* Many threads each create, start, check, join and destroy objects whose
 * run() returns at once, so an object often finishes before tobj_start has
 * returned; default names are handed out from every thread at once. */
enum { CHURN_THREADS = 8, CHURN_MAX = 200, NAME_LEN = 24 };

struct churn {
    long per_thread;
    long budget_ms;
    /* Held around every call that creates a thread. When threads create
     * threads at the same time, glibc reuses thread stacks under a lock that
     * helgrind does not see, and it reports "races" inside pthread_create. */
    pthread_mutex_t creating;
    pthread_mutex_t lock;
    char names[CHURN_THREADS * CHURN_MAX][NAME_LEN];  /* guarded by lock */
    int nnames;                                       /* guarded by lock */
    atomic_int bad_setup, bad_join, stuck, bad_alive, bad_calls, first_err;
};

static void churn_fail(struct churn *c, atomic_int *count, int err)
{
    atomic_fetch_add(count, 1);
    int none = 0;
    atomic_compare_exchange_strong(&c->first_err, &none, err);
}

/* Runs in the test's threads: no KIT_ checks here, only counts. */
static void *churn_worker(void *arg)
{
    struct churn *c = arg;
    double until = now_ms() + (double)c->budget_ms;
    for (long k = 0; k < c->per_thread && now_ms() < until; k++) {
        int err;
        struct probe *p = probe_make(NULL, false, 0, &err);
        if (!p) {
            churn_fail(c, &c->bad_setup, err);
            return NULL;
        }
        must(pthread_mutex_lock(&c->lock));
        snprintf(c->names[c->nnames++], NAME_LEN, "%s", tobj_name(&p->base));
        must(pthread_mutex_unlock(&c->lock));
        must(pthread_mutex_lock(&c->creating));
        err = tobj_start(&p->base);
        must(pthread_mutex_unlock(&c->creating));
        if (err != 0) {
            churn_fail(c, &c->bad_setup, err);
            probe_free(p);
            return NULL;
        }
        (void)tobj_is_alive(&p->base);   /* true or false: run() may be over already */
        must(pthread_mutex_lock(&c->creating));
        struct join_call *jc = join_call_spawn(&p->base);
        must(pthread_mutex_unlock(&c->creating));
        if (!jc) {
            churn_fail(c, &c->bad_setup, EAGAIN);
            return NULL;    /* p is left: its thread may still use it */
        }
        if (!join_call_wait(jc, rescue_ms(), &err)) {
            atomic_fetch_add(&c->stuck, 1);
            return NULL;
        }
        if (err != 0) {
            churn_fail(c, &c->bad_join, err);
            return NULL;
        }
        atomic_fetch_add(&c->bad_alive, tobj_is_alive(&p->base));
        atomic_fetch_add(&c->bad_calls, atomic_load(&p->calls) != 1);
        probe_free(p);
    }
    return NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void test_objects_started_and_joined_from_many_threads(void)
{
    static struct churn c;      /* static: large, and stuck threads may outlive the test */
    const int n = kit_race_mode() ? 2 : CHURN_THREADS;
    memset(&c, 0, sizeof c);
    c.per_thread = kit_scale(CHURN_MAX, 3);
    c.budget_ms = 60;
    must(pthread_mutex_init(&c.lock, NULL));
    must(pthread_mutex_init(&c.creating, NULL));
    atomic_init(&c.bad_setup, 0);
    atomic_init(&c.bad_join, 0);
    atomic_init(&c.stuck, 0);
    atomic_init(&c.bad_alive, 0);
    atomic_init(&c.bad_calls, 0);
    atomic_init(&c.first_err, 0);
    pthread_t tids[CHURN_THREADS];
    int started = 0, err = 0;
    while (started < n) {
        must(pthread_mutex_lock(&c.creating));
        err = pthread_create(&tids[started], NULL, churn_worker, &c);
        must(pthread_mutex_unlock(&c.creating));
        if (err != 0)
            break;
        started++;
    }
    for (int i = 0; i < started; i++)
        must(pthread_join(tids[i], NULL));
    KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
    err = atomic_load(&c.first_err);
    KIT_CHECK(atomic_load(&c.bad_setup) == 0, "tobj_init or tobj_start of a new object "
              "failed %d times in %d threads (first error %d, %s)",
              atomic_load(&c.bad_setup), n, err, err_name(err));
    KIT_CHECK(atomic_load(&c.stuck) == 0, "%d threads each started and joined objects "
              "whose run() returns at once: %d joins were still waiting %ld ms later. If "
              "the thread can finish before tobj_start marks the object running, start's "
              "late \"running\" overwrites the thread's \"finished\"", n,
              atomic_load(&c.stuck), rescue_ms());
    KIT_CHECK(atomic_load(&c.bad_join) == 0, "%d threads each started and joined objects "
              "whose run() returns at once: %d joins returned %d (%s) instead of 0", n,
              atomic_load(&c.bad_join), err, err_name(err));
    int rounds = c.nnames, bad_alive = atomic_load(&c.bad_alive);
    KIT_CHECK(bad_alive == 0,
              "%d threads each started and joined objects whose run() returns at once: "
              "tobj_is_alive said true after tobj_join returned 0, %d times in %d. %s",
              n, bad_alive, rounds, bad_alive < rounds ? "When the thread finishes "
              "before tobj_start marks the object running, start's late \"running\" "
              "overwrites the thread's \"finished\": hold the mutex from before "
              "pthread_create until the object is marked running" : "The object's "
              "thread must mark it finished when run() returns");
    KIT_CHECK(atomic_load(&c.bad_calls) == 0, "run() was not called exactly once, %d times",
              atomic_load(&c.bad_calls));
    /* Every default name handed out, in any thread, is different. */
    qsort(c.names, (size_t)c.nnames, NAME_LEN, cmp_names);
    for (int k = 1; k < c.nnames; k++)
        if (strcmp(c.names[k - 1], c.names[k]) == 0) {
            KIT_CHECK(false, "two objects created by different threads at the same time "
                      "were both called \"%s\": the counter of default names is shared "
                      "by every thread, so guard it with a mutex", c.names[k]);
            break;
        }
    must(pthread_mutex_destroy(&c.lock));
    must(pthread_mutex_destroy(&c.creating));
}

static void test_destroy_waits_for_a_running_run(void)
{
    for (int k = 0; k < 3; k++) {
        struct probe *p = probe_new("destroyed", false, 20 + 10 * k);
        require_start(&p->base);
        tobj_destroy(&p->base);     /* without a join */
        KIT_REQUIRE(atomic_load(&p->returned),
                    "tobj_destroy on an object whose run() was still running returned "
                    "before run() did: destroy must first wait for the thread (the "
                    "object's memory is freed, and the thread still uses it)");
        gate_destroy(&p->gate);
        free(p);
    }
}

/* ---- The tables ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo object_tests[] = {
    TEST(test_start_returns_at_once_and_run_runs_once_in_a_new_thread),
    TEST(test_derived_types_run_with_their_own_fields),
    TEST(test_names_are_copied_and_default_names_differ),
    TEST(test_init_rejects_a_missing_run_with_einval),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo error_tests[] = {
    TEST(test_second_start_fails_with_ebusy_and_run_runs_once),
    TEST(test_join_before_start_fails_with_einval),
    TEST(test_join_from_inside_run_fails_with_edeadlk),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo alive_tests[] = {
    TEST(test_is_alive_from_start_until_run_returns),
    TEST(test_is_alive_turns_false_when_run_returns_even_without_join),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo join_tests[] = {
    TEST(test_join_waits_until_run_has_returned),
    TEST(test_joining_again_returns_0_at_once),
    TEST(test_many_threads_join_one_object_and_all_return),
    TEST(test_run_may_join_other_objects),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    TEST(test_64_objects_run_at_once_each_with_its_own_data),
    TEST(test_objects_started_and_joined_from_many_threads),
    TEST(test_destroy_waits_for_a_running_run),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "object", NULL, NULL, NULL, NULL, object_tests },
    { "errors", NULL, NULL, NULL, NULL, error_tests },
    { "alive", NULL, NULL, NULL, NULL, alive_tests },
    { "join", NULL, NULL, NULL, NULL, join_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
