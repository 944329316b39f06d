/* test_pool.c - tests of exercise 16-thread-pool (pool.h).
 *
 * Tasks here are small functions that count their runs, note the thread that
 * ran them, and may wait at a "gate" that the test opens when it chooses: so
 * the test decides which tasks are running, which are still queued, and in
 * which order they finish, without sleeping and hoping. Every wait, the
 * tasks' too, has a deadline, so a broken pool is reported with what went
 * wrong instead of hanging the grader: calls that may never return
 * (pool_shutdown with wait, pool_destroy, a result for a task that never runs)
 * run in a helper thread that the test watches. Helper threads never call
 * CUnit (it is not thread-safe): they record what they saw and the test's
 * thread checks it.
 *
 * Memory: malloc, calloc, realloc and free are wrapped (-Wl,--wrap, see
 * exercise.json) to count the blocks alive, so that a test can check that
 * pool_destroy and future_free give back everything; a freed block is filled
 * with a pattern first (except under a race detector), so that a pool that
 * uses a future after its owner freed it reads garbage rather than, by luck,
 * the old values. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* malloc_usable_size */
#endif
#include "kit_test.h"
#include "pool.h"

#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long a call that can return must take at most (ms), before scaling. */
#define PROMPT_MS 2000L
/* How long a call that must wait is watched to see that it does (ms). */
#define BLOCKED_MS 100L
/* How long a task may wait at a gate before it gives up (ms), before scaling:
 * far beyond any test, so that a stuck test still ends its threads. */
#define GATE_MS 4000L

/* ms, scaled for slow runs (schedule noise, race detectors). */
static long scaled(long ms)
{
    return ms * kit_time_factor();
}

/* ---- Counting memory ---- */

static atomic_long live_blocks;     /* blocks from malloc/calloc/realloc not yet freed */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);

void *__wrap_malloc(size_t size)
{
    void *p = __real_malloc(size);
    if (p)
        atomic_fetch_add(&live_blocks, 1);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    void *p = __real_calloc(n, size);
    if (p)
        atomic_fetch_add(&live_blocks, 1);
    return p;
}

void *__wrap_realloc(void *p, size_t size)
{
    void *q = __real_realloc(p, size);
    if (!p && q)
        atomic_fetch_add(&live_blocks, 1);
    else if (p && !q && size == 0)
        atomic_fetch_sub(&live_blocks, 1);
    return q;
}

void __wrap_free(void *p)
{
    if (!p)
        return;
    /* A freed future reads as garbage. Not under a race detector: helgrind
     * takes the fill for a write racing with the last unlock of a mutex
     * inside the block (and the mutants caught this way are unit ones). */
    if (!kit_race_mode())
        memset(p, 0xA5, malloc_usable_size(p));
    atomic_fetch_sub(&live_blocks, 1);
    __real_free(p);
}

/* ---- Small helpers ---- */

static const char *err_name(int err)
{
    switch (err) {
    case 0: return "no error";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ECANCELED: return "ECANCELED";
    case EBUSY: return "EBUSY";
    case EINVAL: return "EINVAL";
    case ESHUTDOWN: return "ESHUTDOWN";
    case ENOMEM: return "ENOMEM";
    case EAGAIN: return "EAGAIN";
    case EPERM: return "EPERM";
    default: return "an unexpected value";
    }
}

static const char *state_name(enum future_state s)
{
    switch (s) {
    case FUTURE_PENDING: return "FUTURE_PENDING";
    case FUTURE_RUNNING: return "FUTURE_RUNNING";
    case FUTURE_FINISHED: return "FUTURE_FINISHED";
    case FUTURE_CANCELLED: return "FUTURE_CANCELLED";
    }
    return "not a state";
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

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t ca;
    must(pthread_condattr_init(&ca), "pthread_condattr_init");
    must(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC), "pthread_condattr_setclock");
    must(pthread_cond_init(c, &ca), "pthread_cond_init");
    pthread_condattr_destroy(&ca);
}

/* Waits on c (holding m) until kit_now_ms() reaches until_ms at the latest. */
static void wait_until(pthread_cond_t *c, pthread_mutex_t *m, long until_ms)
{
    struct timespec t = { until_ms / 1000, (until_ms % 1000) * 1000000L };
    int err = pthread_cond_timedwait(c, m, &t);
    if (err != 0 && err != ETIMEDOUT)
        must(err, "pthread_cond_timedwait");
}

static pool_t *new_pool(int nthreads)
{
    errno = 0;
    pool_t *p = pool_create(nthreads);
    KIT_REQUIRE(p != NULL, "pool_create(%d) returned NULL (errno %d, %s): any number of "
                "threads from 1 up is valid", nthreads, errno, strerror(errno));
    return p;
}

static future_t *submit(pool_t *p, void *(*fn)(void *), void *arg)
{
    future_t *f = NULL;
    int err = pool_submit(p, fn, arg, &f);
    KIT_REQUIRE(err == 0 && f != NULL, "pool_submit on a running pool returned %d (%s) with "
                "future %p, expected 0 and a new future", err, err_name(err), (void *)f);
    return f;
}

/* ---- Gates: tasks wait at one until the test opens it ---- */

struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool open;
    int entered;            /* tasks that reached the gate */
    pthread_t owner;        /* the test's thread, which made the gate */
    bool ran_in_owner;      /* a task reached it in the test's own thread */
};

static struct gate *gate_new(void)
{
    struct gate *g = calloc(1, sizeof *g);
    KIT_REQUIRE(g != NULL, "test harness: out of memory");
    must(pthread_mutex_init(&g->m, NULL), "pthread_mutex_init");
    cond_init_monotonic(&g->c);
    g->owner = pthread_self();
    return g;
}

/* Frees g; no task may be at it any more. */
static void gate_free(struct gate *g)
{
    pthread_cond_destroy(&g->c);
    pthread_mutex_destroy(&g->m);
    free(g);
}

/* A task's side: counts itself in and waits until the gate opens (GATE_MS
 * at most, so that an abandoned test still ends). */
static void gate_pass(struct gate *g)
{
    long until = kit_now_ms() + scaled(GATE_MS);
    lock(&g->m);
    g->entered++;
    if (pthread_equal(pthread_self(), g->owner))
        g->ran_in_owner = true;     /* it would wait for itself: do not wait */
    must(pthread_cond_broadcast(&g->c), "pthread_cond_broadcast");
    while (!g->open && !g->ran_in_owner && kit_now_ms() < until)
        wait_until(&g->c, &g->m, until);
    unlock(&g->m);
}

static void gate_open(struct gate *g)
{
    lock(&g->m);
    g->open = true;
    must(pthread_cond_broadcast(&g->c), "pthread_cond_broadcast");
    unlock(&g->m);
}

/* True once n tasks have reached the gate, false if they did not within ms. */
static bool gate_reached(struct gate *g, int n, long ms)
{
    long until = kit_now_ms() + ms;
    lock(&g->m);
    while (g->entered < n && kit_now_ms() < until)
        wait_until(&g->c, &g->m, until);
    bool ok = g->entered >= n, ran_in_owner = g->ran_in_owner;
    unlock(&g->m);
    KIT_REQUIRE(!ran_in_owner, "a task ran inside pool_submit, in the thread that submitted "
                "it: pool_submit must only queue the task (and wake a worker); one of the "
                "pool's own threads runs it");
    return ok;
}

static int gate_entered(struct gate *g)
{
    lock(&g->m);
    int n = g->entered;
    unlock(&g->m);
    return n;
}

/* ---- Jobs: one task each, counting its runs ---- */

struct job {
    struct gate *gate;      /* NULL: no waiting */
    long value;             /* the task returns job_value(value) */
    atomic_int runs;
    pthread_t thread;       /* the thread that ran it; read once its result is in */
};

static void *job_value(long v)
{
    return (void *)(intptr_t)(v * 3 + 1);
}

static void *job_main(void *arg)
{
    struct job *j = arg;
    atomic_fetch_add(&j->runs, 1);
    j->thread = pthread_self();
    if (j->gate)
        gate_pass(j->gate);
    return job_value(j->value);
}

static struct job *jobs_new(int n, struct gate *g)
{
    struct job *jobs = calloc((size_t)n, sizeof *jobs);
    KIT_REQUIRE(jobs != NULL, "test harness: out of memory");
    for (int i = 0; i < n; i++) {
        jobs[i].gate = g;
        jobs[i].value = 100 + i;
        atomic_init(&jobs[i].runs, 0);
    }
    return jobs;
}

/* ---- Calls that may never return: run in a helper thread, watched ---- */

enum call_kind { CALL_RESULT, CALL_SHUTDOWN, CALL_DESTROY };

struct call {
    enum call_kind kind;
    pool_t *pool;
    future_t *f;
    bool wait, cancel;      /* shutdown's arguments */
    long timeout_ms;        /* result's */
    int rc;
    void *value;
    long start_ms, end_ms;
    atomic_bool returned;
    pthread_t tid;
};

static void *call_main(void *arg)
{
    struct call *c = arg;
    c->start_ms = kit_now_ms();
    switch (c->kind) {
    case CALL_RESULT: c->rc = future_result(c->f, c->timeout_ms, &c->value); break;
    case CALL_SHUTDOWN: c->rc = pool_shutdown(c->pool, c->wait, c->cancel); break;
    case CALL_DESTROY: pool_destroy(c->pool); c->rc = 0; break;
    }
    c->end_ms = kit_now_ms();
    atomic_store(&c->returned, true);
    return NULL;
}

/* Allocated; left allocated when abandoned, since its thread keeps it. */
static struct call *call_start(struct call init)
{
    struct call *c = calloc(1, sizeof *c);
    KIT_REQUIRE(c != NULL, "test harness: out of memory");
    *c = init;
    atomic_init(&c->returned, false);
    int err = pthread_create(&c->tid, NULL, call_main, c);
    KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
    return c;
}

static struct call *shutdown_start(pool_t *p, bool wait, bool cancel)
{
    return call_start((struct call){ .kind = CALL_SHUTDOWN, .pool = p, .wait = wait,
                                     .cancel = cancel });
}

static struct call *result_start(future_t *f, long timeout_ms)
{
    return call_start((struct call){ .kind = CALL_RESULT, .f = f, .timeout_ms = timeout_ms });
}

/* True if the call returned within ms. */
static bool call_wait(struct call *c, long ms)
{
    long until = kit_now_ms() + ms;
    while (!atomic_load(&c->returned)) {
        if (kit_now_ms() >= until)
            return false;
        kit_sleep_ms(1);
    }
    return true;
}

/* Joins a call that returned and frees it; its result code, and in *value
 * (if not NULL) what it gave. */
static int call_end(struct call *c, void **value, long *took_ms)
{
    must(pthread_join(c->tid, NULL), "pthread_join");
    int rc = c->rc;
    if (value)
        *value = c->value;
    if (took_ms)
        *took_ms = c->end_ms - c->start_ms;
    free(c);
    return rc;
}

static const char *call_name(const struct call *c)
{
    switch (c->kind) {
    case CALL_RESULT: return c->timeout_ms < 0 ? "future_result(f, -1, &value)"
                                               : "future_result(f, timeout, &value)";
    case CALL_SHUTDOWN: return c->wait ? (c->cancel ? "pool_shutdown(pool, true, true)"
                                                    : "pool_shutdown(pool, true, false)")
                                       : (c->cancel ? "pool_shutdown(pool, false, true)"
                                                    : "pool_shutdown(pool, false, false)");
    case CALL_DESTROY: return "pool_destroy(pool)";
    }
    return "?";
}

/* Waits for a call that can now return (`why` says why) and ends the test if
 * it is still waiting PROMPT_MS later: `usual` says what usually causes that.
 * Its thread is then left behind, with c, the pool and the futures. */
static int call_finish(struct call *c, void **value, const char *why, const char *usual)
{
    if (!call_wait(c, scaled(PROMPT_MS))) {
        const char *name = call_name(c);
        must(pthread_detach(c->tid), "pthread_detach");
        KIT_REQUIRE(false, "%s was still waiting %ld ms after %s: %s", name,
                    scaled(PROMPT_MS), why, usual);
    }
    return call_end(c, value, NULL);
}

/* Ends the test unless c is still waiting after BLOCKED_MS: it must, since `why`. */
static void require_waiting(struct call *c, const char *why)
{
    kit_sleep_ms(BLOCKED_MS);
    if (atomic_load(&c->returned)) {
        const char *name = call_name(c);
        int rc = call_end(c, NULL, NULL);
        KIT_REQUIRE(false, "%s returned %d (%s) within %ld ms although %s: it must wait",
                    name, rc, err_name(rc), BLOCKED_MS, why);
    }
}

static const char *const WAKE_WORKERS =
    "workers that sleep while the queue is empty must all wake when the pool shuts down "
    "(pthread_cond_broadcast, not pthread_cond_signal, which wakes one), see that it is "
    "shut down and the queue empty, and return; and pool_shutdown with wait must "
    "pthread_join every worker";

/* pool_shutdown(p, true, false) with a deadline: the pool must be idle (or
 * about to be). */
static void shutdown_now(pool_t *p, const char *why)
{
    struct call *c = shutdown_start(p, true, false);
    int rc = call_finish(c, NULL, why, WAKE_WORKERS);
    KIT_CHECK(rc == 0, "pool_shutdown(pool, true, false) returned %d (%s), expected 0", rc,
              err_name(rc));
}

/* pool_destroy(p) with a deadline. */
static void destroy_now(pool_t *p, const char *why)
{
    struct call *c = call_start((struct call){ .kind = CALL_DESTROY, .pool = p });
    call_finish(c, NULL, why, WAKE_WORKERS);
}

/* The result of a future that is done or about to be: ends the test if it
 * takes longer than PROMPT_MS. */
static int result_now(future_t *f, void **value, const char *why)
{
    return call_finish(result_start(f, -1), value, why, "a thread waiting in future_result "
                       "must be woken when the future becomes done (broadcast its condition "
                       "variable when the worker stores the value, or when it is cancelled), "
                       "and wait in a loop until the future is done");
}

/* future_result(f, ms, value), and in *took how long it took (ms). */
static int result_took(future_t *f, long ms, void **value, long *took)
{
    long start = kit_now_ms();
    int rc = future_result(f, ms, value);
    *took = kit_now_ms() - start;
    return rc;
}

#define EARLY_TIMEOUT "future_result(f, %ld, &value) returned ETIMEDOUT after %ld ms, " \
    "before its time-out: pthread_cond_timedwait takes an absolute deadline (now + the " \
    "time-out, read with clock_gettime on the clock of the condition variable), not a " \
    "relative one"

/* ---- The first problem a helper thread found ---- */

struct finding {
    atomic_bool claimed;
    char text[600];
};

__attribute__((format(printf, 2, 3)))
static void found(struct finding *fd, const char *fmt, ...)
{
    bool no = false;
    if (atomic_compare_exchange_strong(&fd->claimed, &no, true)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(fd->text, sizeof fd->text, fmt, ap);
        va_end(ap);
    }
}

/* ---- Threads of this process ---- */

static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    KIT_REQUIRE(d != NULL, "test harness: cannot read /proc/self/task: %s", strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Waits up to ms for the thread count to come down to `want`; the count. */
static int threads_down_to(int want, long ms)
{
    long until = kit_now_ms() + ms;
    int n;
    while ((n = count_threads()) > want && kit_now_ms() < until)
        kit_sleep_ms(2);
    return n;
}

/* ===================================================================== */
/* ---- basic: one task at a time ---- */

static void test_create_rejects_fewer_than_one_thread(void)
{
    static const int bad[] = { 0, -1, -100 };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        errno = 0;
        pool_t *p = pool_create(bad[k]);
        int err = errno;
        KIT_CHECK(p == NULL, "pool_create(%d) returned a pool: a pool needs at least one "
                  "thread, so it must return NULL with errno EINVAL", bad[k]);
        if (p) {
            pool_destroy(p);
            continue;
        }
        KIT_CHECK(err == EINVAL, "pool_create(%d) returned NULL with errno %d (%s), expected "
                  "EINVAL", bad[k], err, err_name(err));
    }
}

static void test_result_gives_the_value_the_task_returned(void)
{
    pool_t *p = new_pool(2);
    struct job *jobs = jobs_new(5, NULL);
    future_t *f[5];
    for (int i = 0; i < 5; i++)
        f[i] = submit(p, job_main, &jobs[i]);
    for (int i = 0; i < 5; i++) {
        void *v = NULL;
        int rc = result_now(f[i], &v, "the task returned at once");
        KIT_REQUIRE(rc == 0, "future_result(f, -1, &value) of a task that returned "
                    "returned %d (%s), expected 0", rc, err_name(rc));
        KIT_CHECK(v == job_value(jobs[i].value), "future_result gave %p, but the task "
                  "returned %p: store the task's return value in the future", v,
                  job_value(jobs[i].value));
        KIT_CHECK(future_state(f[i]) == FUTURE_FINISHED, "future_state of a future whose "
                  "result was given is %s, expected FUTURE_FINISHED",
                  state_name(future_state(f[i])));
        v = NULL;
        rc = future_result(f[i], 0, &v);
        KIT_CHECK(rc == 0 && v == job_value(jobs[i].value), "a second future_result(f, 0, "
                  "&value) on a finished future returned %d (%s) with %p, expected 0 and "
                  "%p: the result stays in the future, it can be read again", rc,
                  err_name(rc), v, job_value(jobs[i].value));
        KIT_CHECK(future_result(f[i], 0, NULL) == 0, "future_result(f, 0, NULL) on a "
                  "finished future must return 0 (value may be NULL)");
        KIT_CHECK_EQ(1, atomic_load(&jobs[i].runs), "runs of a task submitted once");
    }
    shutdown_now(p, "every task had finished");
    for (int i = 0; i < 5; i++)
        future_free(f[i]);
    pool_destroy(p);
    free(jobs);
}

static void test_submit_rejects_null_arguments(void)
{
    pool_t *p = new_pool(1);
    struct job *jobs = jobs_new(1, NULL);
    future_t *f = (future_t *)&jobs[0], *before = f;
    int rc = pool_submit(p, NULL, &jobs[0], &f);
    KIT_CHECK(rc == EINVAL, "pool_submit(pool, NULL, arg, &future) returned %d (%s), "
              "expected EINVAL: there is no task to run", rc, err_name(rc));
    KIT_CHECK(f == before, "a refused pool_submit changed *future: leave it alone");
    rc = pool_submit(p, job_main, &jobs[0], NULL);
    KIT_CHECK(rc == EINVAL, "pool_submit(pool, fn, arg, NULL) returned %d (%s), expected "
              "EINVAL: there is nowhere to store the future", rc, err_name(rc));
    rc = pool_submit(NULL, job_main, &jobs[0], &f);
    KIT_CHECK(rc == EINVAL, "pool_submit(NULL, fn, arg, &future) returned %d (%s), "
              "expected EINVAL", rc, err_name(rc));
    shutdown_now(p, "nothing was ever submitted");
    KIT_CHECK_EQ(0, atomic_load(&jobs[0].runs), "runs of a task whose submit was refused");
    pool_destroy(p);
    free(jobs);
}

static void test_tasks_run_in_pool_threads_not_the_submitter(void)
{
    enum { N = 30 };
    pool_t *p = new_pool(1);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(N + 1, NULL);
    jobs[0].gate = g;       /* holds the only thread while the others queue up */
    future_t *f[N + 1];
    for (int i = 0; i <= N; i++)
        f[i] = submit(p, job_main, &jobs[i]);
    KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the first task submitted to a pool "
                "of 1 thread did not start within %ld ms: a worker thread must take a task "
                "as soon as it is queued", scaled(PROMPT_MS));
    gate_open(g);
    for (int i = 0; i <= N; i++) {
        int rc = result_now(f[i], NULL, "the only thread was free to run every task");
        KIT_REQUIRE(rc == 0, "future_result returned %d (%s), expected 0", rc, err_name(rc));
        KIT_CHECK(!pthread_equal(jobs[i].thread, pthread_self()), "task %d ran in the "
                  "thread that submitted it: tasks run in the pool's own threads, and "
                  "pool_submit only queues them", i);
        if (i > 0)
            KIT_CHECK(pthread_equal(jobs[i].thread, jobs[0].thread), "a pool of 1 thread "
                      "ran its tasks in more than one thread");
    }
    shutdown_now(p, "every task had finished");
    for (int i = 0; i <= N; i++)
        future_free(f[i]);
    pool_destroy(p);
    gate_free(g);
    free(jobs);
}

/* A task that appends its number to a shared log: the order they started. */
struct order_log {
    pthread_mutex_t m;
    int n, seq[64];
};

struct order_job {
    struct order_log *log;
    int number;
};

static void *order_main(void *arg)
{
    struct order_job *j = arg;
    lock(&j->log->m);
    if (j->log->n < 64)
        j->log->seq[j->log->n++] = j->number;
    unlock(&j->log->m);
    return NULL;
}

static void test_one_thread_runs_tasks_first_in_first_out(void)
{
    enum { N = 40 };
    pool_t *p = new_pool(1);
    struct gate *g = gate_new();
    struct job *blocker = jobs_new(1, g);
    static struct order_log log = { .m = PTHREAD_MUTEX_INITIALIZER };
    log.n = 0;
    struct order_job oj[N];
    future_t *fb = submit(p, job_main, blocker), *f[N];
    for (int i = 0; i < N; i++) {
        oj[i] = (struct order_job){ &log, i };
        f[i] = submit(p, order_main, &oj[i]);
    }
    KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the first task did not start within "
                "%ld ms", scaled(PROMPT_MS));
    gate_open(g);
    shutdown_now(p, "the last task could go");
    lock(&log.m);
    int n = log.n, bad = -1;
    for (int i = 0; i < n && bad < 0; i++)
        if (log.seq[i] != i)
            bad = i;
    unlock(&log.m);
    KIT_CHECK_EQ(N, n, "tasks that ran before pool_shutdown(pool, true, false) returned");
    KIT_CHECK(bad < 0, "a pool of 1 thread ran the %d-th task submitted in position %d: "
              "tasks start in the order they were submitted (a FIFO queue: take from the "
              "head, add at the tail)", bad >= 0 ? log.seq[bad] + 1 : 0, bad + 1);
    future_free(fb);
    for (int i = 0; i < N; i++)
        future_free(f[i]);
    pool_destroy(p);
    gate_free(g);
    free(blocker);
}

/* ===================================================================== */
/* ---- results: many tasks, many submitters ---- */

struct crowd {
    pool_t *pool;
    int submitters;
    long per;               /* tasks per submitter */
    atomic_uchar *runs;     /* submitters * per */
    atomic_long total_runs;
    struct finding problem;
};

struct crowd_arg {
    struct crowd *c;
    long index;
};

static void *crowd_task(void *arg)
{
    struct crowd_arg *a = arg;
    atomic_fetch_add(&a->c->runs[a->index], 1);
    atomic_fetch_add(&a->c->total_runs, 1);
    return (void *)(intptr_t)(a->index * 7 + 3);
}

/* Submitter s submits its tasks in batches and collects each batch. */
static void crowd_submitter(int s, void *arg)
{
    struct crowd *c = arg;
    enum { BATCH = 25 };
    struct crowd_arg args[BATCH];
    future_t *f[BATCH];
    for (long base = 0; base < c->per; base += BATCH) {
        int n = (int)(c->per - base < BATCH ? c->per - base : BATCH);
        int made = 0;
        for (; made < n; made++) {
            args[made] = (struct crowd_arg){ c, s * c->per + base + made };
            int rc = pool_submit(c->pool, crowd_task, &args[made], &f[made]);
            if (rc != 0) {
                found(&c->problem, "pool_submit from one of %d threads at once returned %d "
                      "(%s), expected 0", c->submitters, rc, err_name(rc));
                break;
            }
        }
        for (int i = 0; i < made; i++) {
            void *v = NULL;
            long took;
            int rc = result_took(f[i], scaled(PROMPT_MS), &v, &took);
            if (rc == ETIMEDOUT && took < scaled(PROMPT_MS) - 1) {
                found(&c->problem, EARLY_TIMEOUT, scaled(PROMPT_MS), took);
                return;
            }
            if (rc == ETIMEDOUT) {
                found(&c->problem, "a task was not done %ld ms after it was submitted, while "
                      "%d threads submitted tasks at once: a task got lost (two submits "
                      "overwrote each other's place in the queue?) or a worker slept with "
                      "tasks queued (a lost wake-up: signal the workers' condition variable "
                      "on every submit, with the lock held)", scaled(PROMPT_MS),
                      c->submitters);
                return;     /* f[i] may still be in use: leave it */
            }
            if (rc != 0)
                found(&c->problem, "future_result returned %d (%s), expected 0", rc,
                      err_name(rc));
            else if (v != (void *)(intptr_t)(args[i].index * 7 + 3))
                found(&c->problem, "future_result gave %p for a task that returned %p: "
                      "futures got mixed up", v, (void *)(intptr_t)(args[i].index * 7 + 3));
            future_free(f[i]);
        }
        if (made < n || atomic_load(&c->problem.claimed))
            return;
    }
}

static void run_crowd(int threads, int submitters, long per)
{
    static struct crowd c;      /* static: a stuck worker may outlive the test */
    memset(&c, 0, sizeof c);
    c.pool = new_pool(threads);
    c.submitters = submitters;
    c.per = per;
    c.runs = calloc((size_t)(submitters * per), sizeof *c.runs);
    KIT_REQUIRE(c.runs != NULL, "test harness: out of memory");
    kit_run_threads(submitters, crowd_submitter, &c);
    KIT_REQUIRE(!atomic_load(&c.problem.claimed), "%d threads submitting %ld tasks each to "
                "a pool of %d threads: %s", submitters, per, threads, c.problem.text);
    shutdown_now(c.pool, "every task had finished");
    long never = 0, twice = 0;
    for (long i = 0; i < submitters * per; i++) {
        never += atomic_load(&c.runs[i]) == 0;
        twice += atomic_load(&c.runs[i]) > 1;
    }
    KIT_CHECK(never == 0 && twice == 0, "%d threads submitted %ld tasks each to a pool of %d "
              "threads: %ld tasks never ran and %ld ran more than once (%ld runs in all): "
              "each task must be taken from the queue by exactly one worker, under the "
              "pool's lock", submitters, per, threads, never, twice,
              atomic_load(&c.total_runs));
    pool_destroy(c.pool);
    free(c.runs);
}

static void test_many_tasks_from_many_submitters_each_run_exactly_once(void)
{
    if (kit_race_mode()) {
        run_crowd(2, 3, 8);
        return;
    }
    static const struct { int threads, submitters; long per; } cases[] = {
        { 4, 8, 250 }, { 1, 4, 200 }, { 8, 2, 400 }, { 3, 16, 60 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        run_crowd(cases[k].threads, cases[k].submitters,
                  kit_time_factor() == 1 ? cases[k].per : cases[k].per / 5);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void *nothing_task(void *arg)
{
    return arg;
}

/* Submit, wait, submit again: each task arrives just as the worker goes back
 * to look at the queue. */
static void test_a_task_submitted_to_an_idle_pool_always_runs(void)
{
    for (int threads = 1; threads <= 2; threads++) {
        pool_t *p = new_pool(threads);
        long until = kit_now_ms() + kit_scale(150, 300);
        long rounds = 0;
        for (; rounds < 200 || kit_now_ms() < until; rounds++) {
            if (kit_race_mode() && rounds >= 20)
                break;
            future_t *f = submit(p, nothing_task, (void *)(intptr_t)(rounds + 1));
            void *v = NULL;
            long took;
            int rc = result_took(f, scaled(PROMPT_MS), &v, &took);
            KIT_REQUIRE(rc != ETIMEDOUT || took >= scaled(PROMPT_MS) - 1, EARLY_TIMEOUT,
                        scaled(PROMPT_MS), took);
            KIT_REQUIRE(rc != ETIMEDOUT, "round %ld: one task submitted to an idle pool of "
                        "%d thread%s was still not done %ld ms later: the worker went to "
                        "sleep after the task was queued, a lost wake-up. A worker must "
                        "look at the queue and go to sleep without letting go of the lock "
                        "in between (pthread_cond_wait in a `while` loop, its condition "
                        "checked under the lock), and every submit must signal under the "
                        "same lock", rounds + 1, threads, threads > 1 ? "s" : "",
                        scaled(PROMPT_MS));
            KIT_REQUIRE(rc == 0 && v == (void *)(intptr_t)(rounds + 1), "future_result "
                        "returned %d (%s) with %p, expected 0 and %p", rc, err_name(rc), v,
                        (void *)(intptr_t)(rounds + 1));
            future_free(f);
        }
        shutdown_now(p, "the pool was idle");
        pool_destroy(p);
    }
}

/* ===================================================================== */
/* ---- concurrency: n threads run n tasks at once, never more ---- */

/* n tasks that each wait until all n have arrived (or until a deadline). */
struct meeting {
    pthread_mutex_t m;
    pthread_cond_t c;
    int want, arrived, running, peak;
    bool broken;            /* someone gave up waiting: nobody waits any more */
    pthread_t submitter;    /* the test's thread */
    long until_ms;          /* the deadline to meet */
};

static void *meeting_task(void *arg)
{
    struct meeting *mt = arg;
    lock(&mt->m);
    mt->arrived++;
    mt->running++;
    if (mt->running > mt->peak)
        mt->peak = mt->running;
    must(pthread_cond_broadcast(&mt->c), "pthread_cond_broadcast");
    if (pthread_equal(pthread_self(), mt->submitter))
        mt->broken = true;  /* run by pool_submit itself: it would wait for itself */
    while (mt->arrived < mt->want && !mt->broken && kit_now_ms() < mt->until_ms)
        wait_until(&mt->c, &mt->m, mt->until_ms);
    bool met = mt->arrived >= mt->want;
    if (!met)
        mt->broken = true;
    must(pthread_cond_broadcast(&mt->c), "pthread_cond_broadcast");
    mt->running--;
    unlock(&mt->m);
    return (void *)(intptr_t)met;
}

static void test_n_threads_run_n_tasks_at_once(void)
{
    static const int sizes[] = { 1, 2, 4, 8, 16 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k];
        if (kit_race_mode() && n > 4)
            break;
        static struct meeting mt;
        must(pthread_mutex_init(&mt.m, NULL), "pthread_mutex_init");
        cond_init_monotonic(&mt.c);
        mt.want = n;
        mt.arrived = mt.running = mt.peak = 0;
        mt.broken = false;
        mt.submitter = pthread_self();
        mt.until_ms = kit_now_ms() + scaled(PROMPT_MS);
        pool_t *p = new_pool(n);
        future_t *f[16];
        for (int i = 0; i < n; i++)
            f[i] = submit(p, meeting_task, &mt);
        int met = 0;
        for (int i = 0; i < n; i++) {
            void *v = NULL;
            long took;
            int rc = result_took(f[i], 2 * scaled(PROMPT_MS), &v, &took);
            KIT_REQUIRE(rc != ETIMEDOUT || took >= 2 * scaled(PROMPT_MS) - 1, EARLY_TIMEOUT,
                        2 * scaled(PROMPT_MS), took);
            KIT_REQUIRE(rc == 0, "future_result of a task that waits at most %ld ms returned "
                        "%d (%s) %ld ms later, expected 0: a task that waits for the other "
                        "tasks was never run", scaled(PROMPT_MS), rc, err_name(rc),
                        2 * scaled(PROMPT_MS));
            met += v != NULL;
        }
        lock(&mt.m);
        int peak = mt.peak;
        unlock(&mt.m);
        KIT_CHECK(met == n, "a pool of %d threads was given %d tasks that each wait until all "
                  "%d are running; at most %d ran at once, and they gave up after %ld ms: "
                  "the pool must run up to %d tasks at the same time (a worker must not "
                  "hold the pool's lock while it runs a task, and pool_create(%d) must "
                  "provide %d threads; pool_submit must not run the task itself)", n, n, n,
                  peak, scaled(PROMPT_MS), n, n, n);
        shutdown_now(p, "every task had finished");
        for (int i = 0; i < n; i++)
            future_free(f[i]);
        pool_destroy(p);
        pthread_cond_destroy(&mt.c);
        pthread_mutex_destroy(&mt.m);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

/* Tasks that note how many of them run at once. */
struct peak {
    pthread_mutex_t m;
    int running, peak;
};

static void *peak_task(void *arg)
{
    struct peak *pk = arg;
    lock(&pk->m);
    if (++pk->running > pk->peak)
        pk->peak = pk->running;
    unlock(&pk->m);
    for (int i = 0; i < 20; i++)
        sched_yield();      /* stay a little while, so that others overlap */
    lock(&pk->m);
    pk->running--;
    unlock(&pk->m);
    return NULL;
}

static void test_never_more_tasks_at_once_than_threads(void)
{
    static const int sizes[] = { 1, 2, 3 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k], tasks = kit_scale(200, 10);
        static struct peak pk = { .m = PTHREAD_MUTEX_INITIALIZER };
        pk.running = pk.peak = 0;
        int before = count_threads();
        pool_t *p = new_pool(n);
        future_t **f = calloc((size_t)tasks, sizeof *f);
        KIT_REQUIRE(f != NULL, "test harness: out of memory");
        for (int i = 0; i < tasks; i++)
            f[i] = submit(p, peak_task, &pk);
        int during = count_threads();
        for (int i = 0; i < tasks; i++)
            KIT_REQUIRE(result_now(f[i], NULL, "the tasks take no time") == 0,
                        "future_result of a finished task did not return 0");
        shutdown_now(p, "every task had finished");
        for (int i = 0; i < tasks; i++)
            future_free(f[i]);
        free(f);
        pool_destroy(p);
        KIT_CHECK(pk.peak <= n, "a pool of %d threads ran %d tasks at the same time: it "
                  "must run at most %d at once (one per pool thread; queue the others)", n,
                  pk.peak, n);
        KIT_CHECK(during - before <= n, "with %d tasks submitted to a pool of %d threads, "
                  "the process had %d threads more than before pool_create: a pool of %d "
                  "threads starts %d threads at most, not one per task", tasks, n,
                  during - before, n, n);
    }
}

/* ===================================================================== */
/* ---- time-outs ---- */

static void test_result_times_out_on_a_slow_task_then_gives_the_value(void)
{
    static int untouched;
    pool_t *p = new_pool(2);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(1, g);
    future_t *f = submit(p, job_main, &jobs[0]);
    KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the task did not start within %ld "
                "ms on an idle pool", scaled(PROMPT_MS));
    static const long timeouts[] = { 0, 1, 40 };
    for (size_t k = 0; k < 3; k++) {
        long t = timeouts[k];
        struct call *c = call_start((struct call){ .kind = CALL_RESULT, .f = f,
                                                   .timeout_ms = t, .value = &untouched });
        if (!call_wait(c, t + scaled(PROMPT_MS))) {
            gate_open(g);   /* rescue it */
            call_finish(c, NULL, "the task finished", "");
            KIT_REQUIRE(false, "future_result(f, %ld, &value) on a task that runs for ever "
                        "was still waiting %ld ms later: %s", t, t + scaled(PROMPT_MS),
                        t == 0 ? "a time-out of 0 looks once and returns ETIMEDOUT at once"
                               : "a time-out > 0 waits at most that long, then returns "
                                 "ETIMEDOUT (pthread_cond_timedwait takes an absolute "
                                 "deadline, on the clock of the condition variable)");
        }
        long took;
        void *v = NULL;
        int rc = call_end(c, &v, &took);
        KIT_CHECK(rc == ETIMEDOUT, "future_result(f, %ld, &value) on a task still running "
                  "returned %d (%s), expected ETIMEDOUT", t, rc, err_name(rc));
        KIT_CHECK(v == &untouched, "a future_result that timed out changed *value: leave "
                  "it alone");
        KIT_CHECK(took >= t - 1, "future_result(f, %ld, &value) gave up after %ld ms, before "
                  "its time-out (a relative deadline where an absolute one is needed, or a "
                  "deadline on another clock?)", t, took);
        KIT_CHECK(future_state(f) == FUTURE_RUNNING, "future_state of a task still running "
                  "after a future_result that timed out is %s, expected FUTURE_RUNNING (a "
                  "time-out gives up waiting, it does not stop the task)",
                  state_name(future_state(f)));
    }
    /* Now a long time-out that the task beats. */
    struct call *c = result_start(f, scaled(60000));
    require_waiting(c, "the task is still running");
    gate_open(g);
    void *v = NULL;
    int rc = call_finish(c, &v, "the task returned", "a timed wait must also wake when the "
                         "future becomes done (broadcast its condition variable)");
    KIT_CHECK(rc == 0 && v == job_value(jobs[0].value), "future_result(f, 60000, &value) "
              "returned %d (%s) with %p once the task returned %p, expected 0 and that value",
              rc, err_name(rc), v, job_value(jobs[0].value));
    shutdown_now(p, "the task had finished");
    future_free(f);
    pool_destroy(p);
    gate_free(g);
    free(jobs);
}

static void test_every_thread_waiting_for_a_result_wakes(void)
{
    enum { WAITERS = 4 };
    pool_t *p = new_pool(1);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(1, g);
    future_t *f = submit(p, job_main, &jobs[0]);
    KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the task did not start within %ld "
                "ms on an idle pool", scaled(PROMPT_MS));
    struct call *c[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        c[i] = result_start(f, i % 2 ? -1 : scaled(60000));
    require_waiting(c[0], "the task is still running");
    gate_open(g);
    int woken = 0;
    for (int i = 0; i < WAITERS; i++) {
        if (call_wait(c[i], scaled(PROMPT_MS))) {
            void *v = NULL;
            int rc = call_end(c[i], &v, NULL);
            KIT_CHECK(rc == 0 && v == job_value(jobs[0].value), "a waiting future_result "
                      "returned %d (%s) with %p, expected 0 and %p", rc, err_name(rc), v,
                      job_value(jobs[0].value));
            woken++;
        } else {
            must(pthread_detach(c[i]->tid), "pthread_detach");
        }
    }
    KIT_REQUIRE(woken == WAITERS, "%d threads waited for the result of one future; when the "
                "task returned, only %d of them woke: the worker must wake every waiter "
                "(pthread_cond_broadcast, not pthread_cond_signal)", WAITERS, woken);
    shutdown_now(p, "the task had finished");
    future_free(f);
    pool_destroy(p);
    gate_free(g);
    free(jobs);
}

/* ===================================================================== */
/* ---- cancel ---- */

static void test_cancel_a_pending_future_and_it_never_runs(void)
{
    enum { QUEUED = 6 };
    pool_t *p = new_pool(1);
    struct gate *g = gate_new();
    struct job *blocker = jobs_new(1, g), *jobs = jobs_new(QUEUED, NULL);
    future_t *fb = submit(p, job_main, blocker), *f[QUEUED];
    KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the first task did not start within "
                "%ld ms on an idle pool", scaled(PROMPT_MS));
    for (int i = 0; i < QUEUED; i++)
        f[i] = submit(p, job_main, &jobs[i]);
    /* The pool's only thread is busy: every other future is pending. Cancel
     * the odd ones, and free some of them at once: the owner may. */
    for (int i = 0; i < QUEUED; i++) {
        KIT_CHECK(future_state(f[i]) == FUTURE_PENDING, "future_state of a task queued "
                  "behind a running one on a pool of 1 thread is %s, expected FUTURE_PENDING",
                  state_name(future_state(f[i])));
        if (i % 2 == 0)
            continue;
        int rc = future_cancel(f[i]);
        KIT_REQUIRE(rc == 0, "future_cancel of a pending future returned %d (%s), expected 0: "
                    "a future that has not started can be cancelled", rc, err_name(rc));
        KIT_CHECK(future_state(f[i]) == FUTURE_CANCELLED, "future_state after a "
                  "successful future_cancel is %s, expected FUTURE_CANCELLED",
                  state_name(future_state(f[i])));
        rc = future_cancel(f[i]);
        KIT_CHECK(rc == 0, "future_cancel of a future already cancelled returned %d (%s), "
                  "expected 0 (Python's cancel() returns True again)", rc, err_name(rc));
        void *v = (void *)&rc;
        rc = future_result(f[i], 0, &v);
        KIT_CHECK(rc == ECANCELED, "future_result(f, 0, &value) of a cancelled future "
                  "returned %d (%s), expected ECANCELED (Python raises CancelledError)", rc,
                  err_name(rc));
        rc = future_result(f[i], -1, &v);
        KIT_CHECK(rc == ECANCELED, "future_result(f, -1, &value) of a cancelled future "
                  "returned %d (%s), expected ECANCELED at once", rc, err_name(rc));
        KIT_CHECK(v == (void *)&rc, "future_result of a cancelled future changed *value");
        if (i % 4 == 1) {
            future_free(f[i]);  /* done, so the pool must not touch it any more */
            f[i] = NULL;
        }
    }
    gate_open(g);
    for (int i = 0; i < QUEUED; i += 2) {
        void *v = NULL;
        int rc = result_now(f[i], &v, "the task ahead of it finished");
        KIT_CHECK(rc == 0 && v == job_value(jobs[i].value), "future_result of a pending "
                  "future that was not cancelled returned %d (%s) with %p, expected 0 and "
                  "%p", rc, err_name(rc), v, job_value(jobs[i].value));
    }
    shutdown_now(p, "every task left had finished");
    for (int i = 0; i < QUEUED; i++) {
        KIT_CHECK(atomic_load(&jobs[i].runs) == (i % 2 ? 0 : 1), "task %d %s ran %d times, "
                  "expected %d%s", i, i % 2 ? "(cancelled while pending)" : "(not cancelled)",
                  atomic_load(&jobs[i].runs), i % 2 ? 0 : 1, i % 2 ? ": a cancelled task "
                  "must never run (take it out of the queue, or have the worker skip it)" : "");
        future_free(f[i]);
    }
    future_free(fb);
    pool_destroy(p);
    gate_free(g);
    free(blocker);
    free(jobs);
}

static void test_cancel_a_running_future_is_refused(void)
{
    pool_t *p = new_pool(2);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(1, g);
    future_t *f = submit(p, job_main, &jobs[0]);
    KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the task did not start within %ld "
                "ms on an idle pool", scaled(PROMPT_MS));
    KIT_CHECK(future_state(f) == FUTURE_RUNNING, "future_state of a task that is running is "
              "%s, expected FUTURE_RUNNING (a worker marks the future RUNNING when it takes "
              "it from the queue)", state_name(future_state(f)));
    int rc = future_cancel(f);
    KIT_CHECK(rc == EBUSY, "future_cancel of a running future returned %d (%s), expected "
              "EBUSY: a task that has started cannot be cancelled (Python's cancel() "
              "returns False), and nothing changes", rc, err_name(rc));
    KIT_CHECK(future_state(f) == FUTURE_RUNNING, "after a refused future_cancel, "
              "future_state of the running task is %s, expected FUTURE_RUNNING",
              state_name(future_state(f)));
    gate_open(g);
    void *v = NULL;
    rc = result_now(f, &v, "the task returned");
    KIT_CHECK(rc == 0 && v == job_value(jobs[0].value), "future_result of a running task "
              "that someone tried to cancel returned %d (%s) with %p, expected 0 and %p: "
              "the task finishes and its value is kept", rc, err_name(rc), v,
              job_value(jobs[0].value));
    shutdown_now(p, "the task had finished");
    KIT_CHECK_EQ(1, atomic_load(&jobs[0].runs), "runs of the task");
    future_free(f);
    pool_destroy(p);
    gate_free(g);
    free(jobs);
}

static void test_cancel_a_finished_future_is_refused(void)
{
    pool_t *p = new_pool(1);
    struct job *jobs = jobs_new(1, NULL);
    future_t *f = submit(p, job_main, &jobs[0]);
    KIT_REQUIRE(result_now(f, NULL, "the task returned at once") == 0,
                "future_result of a finished task did not return 0");
    int rc = future_cancel(f);
    KIT_CHECK(rc == EBUSY, "future_cancel of a finished future returned %d (%s), expected "
              "EBUSY: it ran, it cannot be undone", rc, err_name(rc));
    KIT_CHECK(future_state(f) == FUTURE_FINISHED, "after a refused future_cancel, "
              "future_state of a finished future is %s, expected FUTURE_FINISHED",
              state_name(future_state(f)));
    void *v = NULL;
    rc = future_result(f, 0, &v);
    KIT_CHECK(rc == 0 && v == job_value(jobs[0].value), "future_result after a refused "
              "cancel returned %d (%s) with %p, expected 0 and %p", rc, err_name(rc), v,
              job_value(jobs[0].value));
    shutdown_now(p, "the task had finished");
    future_free(f);
    pool_destroy(p);
    free(jobs);
}

static void test_cancel_wakes_threads_waiting_for_the_result(void)
{
    pool_t *p = new_pool(1);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(2, NULL);
    jobs[0].gate = g;
    future_t *fb = submit(p, job_main, &jobs[0]);
    future_t *f = submit(p, job_main, &jobs[1]);
    KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the first task did not start within "
                "%ld ms on an idle pool", scaled(PROMPT_MS));
    struct call *c1 = result_start(f, -1), *c2 = result_start(f, scaled(60000));
    require_waiting(c1, "the task is queued behind a running one");
    KIT_REQUIRE(future_cancel(f) == 0, "future_cancel of a pending future did not return 0");
    int rc1 = call_finish(c1, NULL, "the future was cancelled", "cancelling a future must "
                          "wake every thread waiting for its result (broadcast), which then "
                          "returns ECANCELED");
    int rc2 = call_finish(c2, NULL, "the future was cancelled", "cancelling a future must "
                          "wake every thread waiting for its result, timed waits too");
    KIT_CHECK(rc1 == ECANCELED && rc2 == ECANCELED, "threads waiting in future_result when "
              "the future was cancelled returned %d (%s) and %d (%s), expected ECANCELED",
              rc1, err_name(rc1), rc2, err_name(rc2));
    gate_open(g);
    shutdown_now(p, "the running task could finish");
    KIT_CHECK_EQ(0, atomic_load(&jobs[1].runs), "runs of the cancelled task");
    future_free(f);
    future_free(fb);
    pool_destroy(p);
    gate_free(g);
    free(jobs);
}

/* ===================================================================== */
/* ---- map ---- */

/* Item i of a map: finishes only once every later item has finished, so the
 * items finish in reverse order. */
struct relay {
    pthread_mutex_t m;
    pthread_cond_t c;
    int n, finished_from;   /* items finished_from..n-1 have finished */
    long until_ms;
    bool broken;
    int order[16], norder;  /* the order they finished in */
};

struct relay_item {
    struct relay *r;
    int index;
};

static void *relay_task(void *arg)
{
    struct relay_item *it = arg;
    struct relay *r = it->r;
    lock(&r->m);
    while (r->finished_from != it->index + 1 && !r->broken && kit_now_ms() < r->until_ms)
        wait_until(&r->c, &r->m, r->until_ms);
    if (r->finished_from != it->index + 1)
        r->broken = true;   /* the later items never came: stop waiting */
    else
        r->finished_from = it->index;
    r->order[r->norder++] = it->index;
    must(pthread_cond_broadcast(&r->c), "pthread_cond_broadcast");
    unlock(&r->m);
    return (void *)(intptr_t)(1000 + it->index);
}

struct map_call {
    pool_t *pool;
    void *(*fn)(void *);
    void **args;
    size_t n;
    void **results;
    int rc;
    atomic_bool returned;
};

static void *map_main(void *arg)
{
    struct map_call *mc = arg;
    mc->rc = pool_map(mc->pool, mc->fn, mc->args, mc->n, mc->results);
    atomic_store(&mc->returned, true);
    return NULL;
}

/* pool_map in a helper thread, with a deadline; false (the test ended) if it
 * did not return. */
static int map_with_deadline(struct map_call *mc, long ms)
{
    atomic_init(&mc->returned, false);
    pthread_t tid;
    must(pthread_create(&tid, NULL, map_main, mc), "pthread_create");
    long until = kit_now_ms() + ms;
    while (!atomic_load(&mc->returned) && kit_now_ms() < until)
        kit_sleep_ms(1);
    if (!atomic_load(&mc->returned)) {
        must(pthread_detach(tid), "pthread_detach");
        KIT_REQUIRE(false, "pool_map of %zu items was still running after %ld ms: it must "
                    "wait for each of its futures, and a waiting thread must be woken when "
                    "the future is done", mc->n, ms);
    }
    must(pthread_join(tid, NULL), "pthread_join");
    return mc->rc;
}

static void test_map_keeps_input_order_when_later_items_finish_first(void)
{
    static const int sizes[] = { 2, 5, 8 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k];
        static struct relay r;      /* static: stuck tasks may outlive the test */
        must(pthread_mutex_init(&r.m, NULL), "pthread_mutex_init");
        cond_init_monotonic(&r.c);
        r.n = r.finished_from = n;
        r.norder = 0;
        r.broken = false;
        r.until_ms = kit_now_ms() + scaled(PROMPT_MS);
        static struct relay_item items[16];
        void *args[16], *results[16];
        for (int i = 0; i < n; i++) {
            items[i] = (struct relay_item){ &r, i };
            args[i] = &items[i];
            results[i] = NULL;
        }
        pool_t *p = new_pool(n);
        struct map_call mc = { p, relay_task, args, (size_t)n, results, 0, false };
        int rc = map_with_deadline(&mc, 3 * scaled(PROMPT_MS));
        KIT_REQUIRE(rc == 0, "pool_map of %d items on a pool of %d threads returned %d (%s), "
                    "expected 0", n, n, rc, err_name(rc));
        lock(&r.m);
        bool broken = r.broken;
        unlock(&r.m);
        KIT_REQUIRE(!broken, "pool_map of %d items on a pool of %d threads: item 0 waits for "
                    "item 1 to finish, item 1 for item 2, ..., and they gave up after %ld "
                    "ms: the %d items did not all run at once (pool_map must submit every "
                    "item before it waits for the first result)", n, n, scaled(PROMPT_MS), n);
        for (int i = 0; i < n; i++)
            if (results[i] != (void *)(intptr_t)(1000 + i)) {
                KIT_CHECK(false, "pool_map of %d items that finished in reverse order (the "
                          "last first): results[%d] is %p, expected %p, fn(args[%d]): results "
                          "come in the order of args, not in the order the tasks finish "
                          "(wait for future i and store its value in results[i])", n, i,
                          results[i], (void *)(intptr_t)(1000 + i), i);
                break;
            }
        shutdown_now(p, "every task had finished");
        pool_destroy(p);
        pthread_cond_destroy(&r.c);
        pthread_mutex_destroy(&r.m);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void *square_task(void *arg)
{
    intptr_t x = (intptr_t)arg;
    if (x % 7 == 0)
        sched_yield();      /* some take longer */
    return (void *)(x * x);
}

static void test_map_of_many_items_on_few_threads(void)
{
    static const struct { int threads; size_t n; } cases[] = {
        { 1, 50 }, { 3, 500 }, { 4, 1 }, { 2, 1000 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t n = kit_race_mode() ? cases[k].n / 50 + 1 : cases[k].n;
        void **args = calloc(n, sizeof *args), **results = calloc(n, sizeof *results);
        KIT_REQUIRE(args && results, "test harness: out of memory");
        for (size_t i = 0; i < n; i++)
            args[i] = (void *)(intptr_t)(i + 2);
        pool_t *p = new_pool(cases[k].threads);
        struct map_call mc = { p, square_task, args, n, results, 0, false };
        int rc = map_with_deadline(&mc, 3 * scaled(PROMPT_MS));
        KIT_REQUIRE(rc == 0, "pool_map of %zu items on a pool of %d threads returned %d (%s), "
                    "expected 0", n, cases[k].threads, rc, err_name(rc));
        for (size_t i = 0; i < n; i++)
            if (results[i] != (void *)(intptr_t)((i + 2) * (i + 2))) {
                KIT_CHECK(false, "pool_map of %zu items on a pool of %d threads: results[%zu] "
                          "is %p, expected %p (fn(args[%zu])): every result goes in its own "
                          "place, in the order of args", n, cases[k].threads, i, results[i],
                          (void *)(intptr_t)((i + 2) * (i + 2)), i);
                break;
            }
        shutdown_now(p, "pool_map had returned");
        pool_destroy(p);
        free(args);
        free(results);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void test_map_of_nothing_and_bad_arguments(void)
{
    pool_t *p = new_pool(2);
    void *args[1] = { NULL }, *results[1] = { NULL };
    int rc = pool_map(p, square_task, NULL, 0, NULL);
    KIT_CHECK(rc == 0, "pool_map(pool, fn, NULL, 0, NULL) returned %d (%s), expected 0: "
              "mapping no items is done at once", rc, err_name(rc));
    rc = pool_map(p, NULL, args, 1, results);
    KIT_CHECK(rc == EINVAL, "pool_map(pool, NULL, args, 1, results) returned %d (%s), "
              "expected EINVAL", rc, err_name(rc));
    rc = pool_map(p, square_task, NULL, 1, results);
    KIT_CHECK(rc == EINVAL, "pool_map(pool, fn, NULL, 1, results) returned %d (%s), "
              "expected EINVAL", rc, err_name(rc));
    rc = pool_map(p, square_task, args, 1, NULL);
    KIT_CHECK(rc == EINVAL, "pool_map(pool, fn, args, 1, NULL) returned %d (%s), expected "
              "EINVAL", rc, err_name(rc));
    rc = pool_map(NULL, square_task, args, 1, results);
    KIT_CHECK(rc == EINVAL, "pool_map(NULL, fn, args, 1, results) returned %d (%s), "
              "expected EINVAL", rc, err_name(rc));
    shutdown_now(p, "nothing ran");
    args[0] = (void *)(intptr_t)3;
    rc = pool_map(p, square_task, args, 1, results);
    KIT_CHECK(rc == ESHUTDOWN, "pool_map on a pool that was shut down returned %d (%s), "
              "expected ESHUTDOWN: no new task may start", rc, err_name(rc));
    pool_destroy(p);
}

/* ===================================================================== */
/* ---- shutdown ---- */

static void test_shutdown_with_wait_waits_for_running_and_queued_tasks(void)
{
    enum { THREADS = 2, TASKS = 8 };
    pool_t *p = new_pool(THREADS);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(TASKS, g);
    future_t *f[TASKS];
    for (int i = 0; i < TASKS; i++)
        f[i] = submit(p, job_main, &jobs[i]);
    KIT_REQUIRE(gate_reached(g, THREADS, scaled(PROMPT_MS)), "only %d of %d tasks started "
                "within %ld ms on an idle pool of %d threads", gate_entered(g), THREADS,
                scaled(PROMPT_MS), THREADS);
    struct call *c = shutdown_start(p, true, false);
    require_waiting(c, "2 tasks are running and 6 are queued (wait=true waits for every "
                    "task, the queued ones too)");
    gate_open(g);
    int rc = call_finish(c, NULL, "the tasks could all finish", WAKE_WORKERS);
    KIT_CHECK(rc == 0, "pool_shutdown(pool, true, false) returned %d (%s), expected 0", rc,
              err_name(rc));
    int ran = 0, finished = 0;
    for (int i = 0; i < TASKS; i++) {
        ran += atomic_load(&jobs[i].runs);
        finished += future_state(f[i]) == FUTURE_FINISHED;
    }
    KIT_CHECK(ran == TASKS && finished == TASKS, "when pool_shutdown(pool, true, false) "
              "returned, %d of %d tasks had run and %d futures were FINISHED: without "
              "cancel_futures the queued tasks still run, and wait=true returns only once "
              "they have all finished", ran, TASKS, finished);
    for (int i = 0; i < TASKS; i++) {
        void *v = NULL;
        rc = future_result(f[i], 0, &v);
        KIT_CHECK(rc == 0 && v == job_value(jobs[i].value), "future_result(f, 0, &value) "
                  "after pool_shutdown(pool, true, false) returned %d (%s) with %p, expected "
                  "0 and %p", rc, err_name(rc), v, job_value(jobs[i].value));
        future_free(f[i]);
    }
    pool_destroy(p);
    gate_free(g);
    free(jobs);
}

static void test_shutdown_with_cancel_cancels_only_the_queued_tasks(void)
{
    enum { THREADS = 2, TASKS = 7 };
    pool_t *p = new_pool(THREADS);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(TASKS, g);
    future_t *f[TASKS];
    for (int i = 0; i < TASKS; i++)
        f[i] = submit(p, job_main, &jobs[i]);
    KIT_REQUIRE(gate_reached(g, THREADS, scaled(PROMPT_MS)), "only %d of %d tasks started "
                "within %ld ms on an idle pool of %d threads", gate_entered(g), THREADS,
                scaled(PROMPT_MS), THREADS);
    struct call *waiter = result_start(f[TASKS - 1], -1);
    require_waiting(waiter, "its task is queued behind running ones");
    struct call *c = shutdown_start(p, false, true);
    int rc = call_finish(c, NULL, "it was called with wait=false", "without wait, "
                         "pool_shutdown returns at once");
    KIT_CHECK(rc == 0, "pool_shutdown(pool, false, true) returned %d (%s), expected 0", rc,
              err_name(rc));
    rc = call_finish(waiter, NULL, "its future was cancelled by pool_shutdown(pool, false, "
                     "true)", "cancelling a pending future must wake the threads waiting "
                     "for its result (broadcast)");
    KIT_CHECK(rc == ECANCELED, "a thread waiting for the result of a queued task returned "
              "%d (%s) when pool_shutdown cancelled the queued futures, expected ECANCELED",
              rc, err_name(rc));
    int running = 0, cancelled = 0;
    for (int i = 0; i < TASKS; i++) {
        enum future_state s = future_state(f[i]);
        running += s == FUTURE_RUNNING;
        cancelled += s == FUTURE_CANCELLED;
    }
    KIT_CHECK(running == THREADS && cancelled == TASKS - THREADS, "after pool_shutdown(pool, "
              "false, true) with %d tasks running and %d queued, %d futures are RUNNING and "
              "%d CANCELLED, expected %d and %d: cancel_futures cancels the pending futures "
              "only; the running ones finish", THREADS, TASKS - THREADS, running, cancelled,
              THREADS, TASKS - THREADS);
    struct job *extra = jobs_new(1, NULL);
    future_t *none = NULL;
    rc = pool_submit(p, job_main, extra, &none);
    KIT_CHECK(rc == ESHUTDOWN, "pool_submit after pool_shutdown returned %d (%s), expected "
              "ESHUTDOWN", rc, err_name(rc));
    gate_open(g);
    shutdown_now(p, "the running tasks could finish");
    for (int i = 0; i < TASKS; i++) {
        void *v = NULL;
        rc = future_result(f[i], 0, &v);
        bool was_running = atomic_load(&jobs[i].runs) > 0;
        if (was_running)
            KIT_CHECK(rc == 0 && v == job_value(jobs[i].value), "a task that was running "
                      "when pool_shutdown(pool, false, true) was called gave %d (%s) with "
                      "%p, expected 0 and %p: running tasks are not cancelled", rc,
                      err_name(rc), v, job_value(jobs[i].value));
        else
            KIT_CHECK(rc == ECANCELED, "future_result of a task that was queued when "
                      "pool_shutdown(pool, false, true) was called returned %d (%s), "
                      "expected ECANCELED", rc, err_name(rc));
        future_free(f[i]);
    }
    int ran = 0;
    for (int i = 0; i < TASKS; i++)
        ran += atomic_load(&jobs[i].runs);
    KIT_CHECK(ran == THREADS, "%d tasks ran, expected %d: the %d tasks cancelled by "
              "pool_shutdown must never run", ran, THREADS, TASKS - THREADS);
    KIT_CHECK_EQ(0, atomic_load(&extra->runs), "runs of a task submitted after shutdown");
    pool_destroy(p);
    gate_free(g);
    free(jobs);
    free(extra);
}

static void test_shutdown_without_wait_returns_at_once_and_tasks_still_run(void)
{
    enum { TASKS = 5 };
    pool_t *p = new_pool(1);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(TASKS, g);
    future_t *f[TASKS];
    for (int i = 0; i < TASKS; i++)
        f[i] = submit(p, job_main, &jobs[i]);
    KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the first task did not start within "
                "%ld ms on an idle pool", scaled(PROMPT_MS));
    struct call *c = shutdown_start(p, false, false);
    int rc = call_finish(c, NULL, "it was called with wait=false", "without wait, "
                         "pool_shutdown only says that the pool stops: it returns at once, "
                         "even with tasks running");
    KIT_CHECK(rc == 0, "pool_shutdown(pool, false, false) returned %d (%s), expected 0", rc,
              err_name(rc));
    gate_open(g);
    for (int i = 0; i < TASKS; i++) {
        void *v = NULL;
        rc = result_now(f[i], &v, "pool_shutdown(pool, false, false) let the queued tasks "
                        "run");
        KIT_CHECK(rc == 0 && v == job_value(jobs[i].value), "after pool_shutdown(pool, "
                  "false, false), future_result of a task that was queued returned %d (%s), "
                  "expected 0: without cancel_futures, the queue is still run", rc,
                  err_name(rc));
    }
    destroy_now(p, "every task had finished");
    for (int i = 0; i < TASKS; i++)
        future_free(f[i]);
    gate_free(g);
    free(jobs);
}

static void test_submit_after_shutdown_is_refused(void)
{
    for (int how = 0; how < 3; how++) {
        pool_t *p = new_pool(2);
        struct job *jobs = jobs_new(1, NULL);
        if (how == 0)
            shutdown_now(p, "the pool was idle");
        else
            KIT_REQUIRE(pool_shutdown(p, false, how == 2) == 0, "pool_shutdown without wait "
                        "did not return 0");
        future_t *f = (future_t *)jobs, *before = f;
        int rc = pool_submit(p, job_main, &jobs[0], &f);
        KIT_CHECK(rc == ESHUTDOWN, "pool_submit after pool_shutdown(pool, %s, %s) returned "
                  "%d (%s), expected ESHUTDOWN: a pool that was shut down takes no new task "
                  "(Python: RuntimeError, cannot schedule new futures after shutdown)",
                  how == 0 ? "true" : "false", how == 2 ? "true" : "false", rc, err_name(rc));
        KIT_CHECK(f == before, "a refused pool_submit changed *future");
        if (rc == 0 && f != before)
            result_now(f, NULL, "a task was accepted");
        destroy_now(p, "the pool was shut down");
        if (rc == 0 && f != before) {
            KIT_CHECK(atomic_load(&jobs[0].runs) <= 1, "a task ran more than once");
            future_free(f);
        }
        free(jobs);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void test_shutdown_wakes_every_idle_worker(void)
{
    static const int sizes[] = { 1, 3, 8, 32 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k];
        if (kit_race_mode() && n > 8)
            break;
        pool_t *p = new_pool(n);
        /* Make every thread exist and fall asleep: n tasks at once, then idle. */
        future_t *f[32];
        for (int i = 0; i < n; i++)
            f[i] = submit(p, nothing_task, NULL);
        for (int i = 0; i < n; i++) {
            KIT_REQUIRE(result_now(f[i], NULL, "the task takes no time") == 0,
                        "future_result of a finished task did not return 0");
            future_free(f[i]);
        }
        kit_sleep_ms(20);   /* let them all go to sleep on an empty queue */
        struct call *c = shutdown_start(p, true, false);
        char why[120];
        snprintf(why, sizeof why, "it was called on an idle pool of %d threads", n);
        call_finish(c, NULL, why, WAKE_WORKERS);
        pool_destroy(p);
    }
}

static void test_several_threads_may_shut_down_at_once(void)
{
    enum { CALLERS = 3 };
    pool_t *p = new_pool(3);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(5, g);
    future_t *f[5];
    for (int i = 0; i < 5; i++)
        f[i] = submit(p, job_main, &jobs[i]);
    KIT_REQUIRE(gate_reached(g, 3, scaled(PROMPT_MS)), "only %d of 3 tasks started within "
                "%ld ms on an idle pool of 3 threads", gate_entered(g), scaled(PROMPT_MS));
    struct call *c[CALLERS];
    for (int i = 0; i < CALLERS; i++)
        c[i] = shutdown_start(p, true, false);
    require_waiting(c[0], "tasks are still running");
    gate_open(g);
    for (int i = 0; i < CALLERS; i++) {
        int rc = call_finish(c[i], NULL, "every task could finish", "several threads may "
                             "call pool_shutdown with wait at once: each returns once every "
                             "worker has ended (only one of them may pthread_join each "
                             "worker: the others wait until it has)");
        KIT_CHECK(rc == 0, "pool_shutdown returned %d (%s), expected 0", rc, err_name(rc));
        int ran = 0;
        for (int j = 0; j < 5; j++)
            ran += atomic_load(&jobs[j].runs);
        KIT_CHECK(ran == 5, "a pool_shutdown(pool, true, false) returned when %d of 5 tasks "
                  "had run: every call with wait waits until all is over", ran);
    }
    for (int i = 0; i < 5; i++)
        future_free(f[i]);
    pool_destroy(p);
    gate_free(g);
    free(jobs);
}

/* ===================================================================== */
/* ---- resources: threads and memory ---- */

static void test_no_thread_left_after_shutdown(void)
{
    static const int sizes[] = { 1, 4, 16 };
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k];
        int before = count_threads();
        pool_t *p = new_pool(n);
        struct job *jobs = jobs_new(2 * n, NULL);
        future_t *f[32];
        for (int i = 0; i < 2 * n; i++)
            f[i] = submit(p, job_main, &jobs[i]);
        for (int i = 0; i < 2 * n; i++)
            KIT_REQUIRE(result_now(f[i], NULL, "the tasks take no time") == 0,
                        "future_result of a finished task did not return 0");
        shutdown_now(p, "every task had finished");
        /* A joined thread may take a moment to leave /proc. */
        int after = threads_down_to(before, scaled(PROMPT_MS));
        KIT_CHECK(after <= before, "after pool_create(%d), tasks and pool_shutdown(pool, "
                  "true, false), the process has %d threads, %d more than before "
                  "pool_create: when pool_shutdown with wait returns, every worker thread "
                  "must have ended (wake them all, let them return, pthread_join each)", n,
                  after, after - before);
        pool_destroy(p);
        for (int i = 0; i < 2 * n; i++)
            future_free(f[i]);
        free(jobs);
        if (CU_get_number_of_failures() > 0)
            return;
    }
    int before = count_threads();
    pool_t *p = new_pool(6);
    destroy_now(p, "the pool never had a task");
    int after = threads_down_to(before, scaled(PROMPT_MS));
    KIT_CHECK(after <= before, "pool_create(6) then pool_destroy left %d threads behind: "
              "pool_destroy must stop and join every worker", after - before);
}

static void test_destroy_and_future_free_give_back_all_memory(void)
{
    enum { TASKS = 40 };
    /* Everything the test itself needs is allocated before counting. */
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(TASKS, NULL);
    future_t *f[TASKS];
    void *args[TASKS], *results[TASKS];
    for (int i = 0; i < TASKS; i++)
        args[i] = (void *)(intptr_t)i;
    jobs[0].gate = g;
    for (int round = 0; round < 3; round++) {
        int before_threads = count_threads();
        lock(&g->m);
        g->open = false;
        g->entered = 0;
        unlock(&g->m);
        long before = atomic_load(&live_blocks);
        pool_t *p = new_pool(round + 1);
        for (int i = 0; i < TASKS; i++)
            f[i] = submit(p, job_main, &jobs[i]);
        KIT_REQUIRE(gate_reached(g, 1, scaled(PROMPT_MS)), "the first task did not start "
                    "within %ld ms", scaled(PROMPT_MS));
        for (int i = TASKS - 10; i < TASKS; i++)    /* some cancelled, some not */
            future_cancel(f[i]);
        gate_open(g);
        if (round == 2) {
            KIT_REQUIRE(pool_map(p, square_task, args, TASKS, results) == 0,
                        "pool_map returned an error");
        }
        if (round == 1) {
            KIT_REQUIRE(pool_shutdown(p, false, true) == 0, "pool_shutdown failed");
        }
        destroy_now(p, "every task could finish");
        for (int i = 0; i < TASKS; i++) {
            enum future_state s = future_state(f[i]);
            KIT_CHECK(s == FUTURE_FINISHED || s == FUTURE_CANCELLED, "after pool_destroy a "
                      "future is %s: pool_destroy waits until every task has finished or "
                      "been cancelled", state_name(s));
            future_free(f[i]);
        }
        threads_down_to(before_threads, scaled(PROMPT_MS));
        long after = atomic_load(&live_blocks);
        KIT_CHECK(after <= before, "pool_create(%d), %d submits, %d future_free and "
                  "pool_destroy%s left %ld blocks of memory allocated: pool_destroy must "
                  "free what the pool allocated (its queue, its thread array, ...) and "
                  "future_free what pool_submit allocated", round + 1, TASKS, TASKS,
                  round == 2 ? " (and a pool_map)" : "", after - before);
        if (CU_get_number_of_failures() > 0)
            break;
    }
    gate_free(g);
    free(jobs);
}

static void test_destroy_without_shutdown_runs_the_queue_first(void)
{
    enum { TASKS = 6 };
    pool_t *p = new_pool(2);
    struct gate *g = gate_new();
    struct job *jobs = jobs_new(TASKS, g);
    future_t *f[TASKS];
    for (int i = 0; i < TASKS; i++)
        f[i] = submit(p, job_main, &jobs[i]);
    KIT_REQUIRE(gate_reached(g, 2, scaled(PROMPT_MS)), "only %d of 2 tasks started within "
                "%ld ms on an idle pool of 2 threads", gate_entered(g), scaled(PROMPT_MS));
    struct call *c = call_start((struct call){ .kind = CALL_DESTROY, .pool = p });
    require_waiting(c, "tasks are still running (pool_destroy shuts the pool down with "
                    "wait=true first)");
    gate_open(g);
    call_finish(c, NULL, "every task could finish", WAKE_WORKERS);
    for (int i = 0; i < TASKS; i++) {
        void *v = NULL;
        int rc = future_result(f[i], 0, &v);
        KIT_CHECK(rc == 0 && v == job_value(jobs[i].value), "after pool_destroy, "
                  "future_result(f, 0, &value) of a task submitted before returned %d (%s) "
                  "with %p, expected 0 and %p: pool_destroy runs what is queued, and a "
                  "future stays usable after its pool is gone", rc, err_name(rc), v,
                  job_value(jobs[i].value));
        future_free(f[i]);
    }
    gate_free(g);
    free(jobs);
}

/* ---- The tables ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo basic_tests[] = {
    TEST(test_create_rejects_fewer_than_one_thread),
    TEST(test_result_gives_the_value_the_task_returned),
    TEST(test_submit_rejects_null_arguments),
    TEST(test_tasks_run_in_pool_threads_not_the_submitter),
    TEST(test_one_thread_runs_tasks_first_in_first_out),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    TEST(test_many_tasks_from_many_submitters_each_run_exactly_once),
    TEST(test_a_task_submitted_to_an_idle_pool_always_runs),
    TEST(test_n_threads_run_n_tasks_at_once),
    TEST(test_never_more_tasks_at_once_than_threads),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo result_tests[] = {
    TEST(test_result_times_out_on_a_slow_task_then_gives_the_value),
    TEST(test_every_thread_waiting_for_a_result_wakes),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo cancel_tests[] = {
    TEST(test_cancel_a_pending_future_and_it_never_runs),
    TEST(test_cancel_a_running_future_is_refused),
    TEST(test_cancel_a_finished_future_is_refused),
    TEST(test_cancel_wakes_threads_waiting_for_the_result),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo map_tests[] = {
    TEST(test_map_keeps_input_order_when_later_items_finish_first),
    TEST(test_map_of_many_items_on_few_threads),
    TEST(test_map_of_nothing_and_bad_arguments),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo shutdown_tests[] = {
    TEST(test_shutdown_with_wait_waits_for_running_and_queued_tasks),
    TEST(test_shutdown_with_cancel_cancels_only_the_queued_tasks),
    TEST(test_shutdown_without_wait_returns_at_once_and_tasks_still_run),
    TEST(test_submit_after_shutdown_is_refused),
    TEST(test_shutdown_wakes_every_idle_worker),
    TEST(test_several_threads_may_shut_down_at_once),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo resource_tests[] = {
    TEST(test_no_thread_left_after_shutdown),
    TEST(test_destroy_and_future_free_give_back_all_memory),
    TEST(test_destroy_without_shutdown_runs_the_queue_first),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    { "result", NULL, NULL, NULL, NULL, result_tests },
    { "cancel", NULL, NULL, NULL, NULL, cancel_tests },
    { "map", NULL, NULL, NULL, NULL, map_tests },
    { "shutdown", NULL, NULL, NULL, NULL, shutdown_tests },
    { "resources", NULL, NULL, NULL, NULL, resource_tests },
    CU_SUITE_INFO_NULL,
};
