/* test_jqueue.c - tests of exercise 15-joinable-queue (jqueue.h).
 *
 * One thread first: create, FIFO order, task_done counting puts. Then two
 * threads and timed observations: a get on an empty queue, a put on a full
 * one and a join with work not done must still be waiting after 100 ms, and
 * must return promptly once another thread acts. Then stress with many
 * threads, checking inside the workload that every item is taken exactly
 * once, in put order, and that join never returns while work is not done.
 *
 * Then processes. Each cross-process test runs in a child process of the
 * test, the "scene", with a deadline: when the queue is not really shared,
 * the student code waits for ever, and the test kills the scene and every
 * process forked under it (fork() is wrapped to record them, and to make a
 * chosen fork fail) and says what usually causes that. What a scene sees
 * travels back to the test through shared memory. */
#include "kit_test.h"
#include "jqueue.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* How long a blocked call is watched before the other side acts (ms). */
#define BLOCKED_MS 100L
/* How long correct code may take to react once it can (ms): generous, the
 * machine may be busy. */
#define PROMPT_MS 2000L
/* How long a scene may go without progress (ms); correct code needs well
 * under 0.2 s for a whole scene. */
#define SCENE_MS 3000L

#define MAX_THREADS 160
#define MAX_FORKS 512

/* ms, scaled for slow runs (schedule noise, race detectors). */
static long scaled(long ms)
{
    return ms * kit_time_factor();
}

static jqueue_t *new_queue(size_t capacity)
{
    errno = 0;
    jqueue_t *q = jq_create(capacity);
    KIT_REQUIRE(q != NULL, "jq_create(%zu) returned NULL (errno %d, %s): any capacity "
                "of at least 1 is valid", capacity, errno, strerror(errno));
    return q;
}

/* Zeroed memory that the processes forked after this call share. */
static void *shared_alloc(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    KIT_REQUIRE(p != MAP_FAILED, "test harness: mmap of %zu bytes failed: %s", size,
                strerror(errno));
    return p;
}

static void shared_free(void *p, size_t size)
{
    if (munmap(p, size) != 0)
        abort();
}

/* ---- One queue call in a thread of its own, so the test can watch it wait ---- */

enum op { OP_PUT, OP_GET, OP_JOIN, OP_TASK_DONE };

static const char *op_name(enum op op)
{
    switch (op) {
    case OP_PUT: return "jq_put";
    case OP_GET: return "jq_get";
    case OP_JOIN: return "jq_join";
    case OP_TASK_DONE: return "jq_task_done";
    }
    return "?";
}

/* Allocated; left allocated when abandoned, since its thread keeps it. */
struct call {
    jqueue_t *q;
    enum op op;
    long item;              /* put: the item; get: what it got (read once returned) */
    int rc;                 /* read once returned */
    atomic_bool returned;
    pthread_t tid;
};

static void *call_main(void *p)
{
    struct call *c = p;
    switch (c->op) {
    case OP_PUT: c->rc = jq_put(c->q, c->item); break;
    case OP_GET: c->rc = jq_get(c->q, &c->item); break;
    case OP_JOIN: c->rc = jq_join(c->q); break;
    case OP_TASK_DONE: c->rc = jq_task_done(c->q); break;
    }
    atomic_store(&c->returned, true);
    return NULL;
}

static struct call *call_start(jqueue_t *q, enum op op, long item)
{
    struct call *c = calloc(1, sizeof *c);
    KIT_REQUIRE(c != NULL, "test harness: out of memory");
    c->q = q;
    c->op = op;
    c->item = item;
    atomic_init(&c->returned, false);
    int err = pthread_create(&c->tid, NULL, call_main, c);
    KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
    return c;
}

static bool call_returned(struct call *c)
{
    return atomic_load(&c->returned);
}

/* True if the call returned within ms. */
static bool call_wait(struct call *c, long ms)
{
    long until = kit_now_ms() + ms;
    while (!call_returned(c)) {
        if (kit_now_ms() >= until)
            return false;
        kit_sleep_ms(1);
    }
    return true;
}

/* Joins a call that has returned, frees it, and gives its result (and in
 * *item, if not NULL, the item it got). */
static int call_end(struct call *c, long *item)
{
    if (pthread_join(c->tid, NULL) != 0)
        abort();
    int rc = c->rc;
    if (item)
        *item = c->item;
    free(c);
    return rc;
}

/* Gives up on a call stuck in jqueue.c: its thread keeps c (and the queue). */
static void call_abandon(struct call *c)
{
    if (pthread_detach(c->tid) != 0)
        abort();
}

/* Makes a call that must not wait (`why` says why) and returns its result;
 * ends the test if it is still waiting after PROMPT_MS. */
static int call_now(jqueue_t *q, enum op op, long *item, const char *why)
{
    struct call *c = call_start(q, op, item ? *item : 0);
    if (!call_wait(c, scaled(PROMPT_MS))) {
        call_abandon(c);
        KIT_REQUIRE(false, "%s was still waiting after %ld ms although %s: it must not "
                    "wait then", op_name(op), scaled(PROMPT_MS), why);
    }
    return call_end(c, item);
}

/* ---- Threads watched for progress (a lost wake-up is reported, not hung) ---- */

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
 * *progress. True when they all finished; false if *progress stood still for
 * stall_ms first: the threads still running are then detached and left
 * behind with arg (which must stay allocated). */
static bool run_watched(int n, void (*fn)(int i, void *arg), void *arg,
                        atomic_long *progress, long stall_ms)
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
    long last = atomic_load(progress), last_change = kit_now_ms();
    while (all_done && atomic_load(&c->finished) < n) {
        kit_sleep_ms(2);
        long p = atomic_load(progress);
        if (p != last) {
            last = p;
            last_change = kit_now_ms();
        } else if (kit_now_ms() - last_change > stall_ms) {
            all_done = false;
        }
    }
    if (!all_done) {
        for (int i = 0; i < started; i++)
            if (pthread_detach(c->tids[i]) != 0)
                abort();
        /* c stays allocated: stuck threads still point into it. */
        KIT_REQUIRE(err == 0, "test harness: could not start thread %d of %d: %s",
                    started, n, strerror(err));
        return false;
    }
    for (int i = 0; i < n; i++)
        if (pthread_join(c->tids[i], NULL) != 0)
            abort();
    free(c);
    return true;
}

/* ---- Scenes: processes with a deadline ---- */

/* Every fork made under a scene, in memory that the test and all its
 * descendants share. */
struct fork_log {
    pid_t test_pid;         /* the test's own forks are not recorded */
    atomic_int fail_at;     /* the n-th fork under the scene fails (EAGAIN); 0: none */
    atomic_int asked;       /* forks asked for under the scene */
    atomic_int npids;
    atomic_int pids[MAX_FORKS];
    atomic_int strays;      /* processes that came back into the scene's code */
};

static struct fork_log *fork_log;
static pid_t scene_pid;     /* in a scene: the scene's own process */

pid_t __real_fork(void);
pid_t __wrap_fork(void);

/* Every fork() of the test binary comes here (it is linked with
 * -Wl,--wrap=fork): forks under a scene are recorded, so that the test can
 * kill them if the scene hangs, and the chosen one fails. */
pid_t __wrap_fork(void)
{
    struct fork_log *log = fork_log;
    if (!log || getpid() == log->test_pid)
        return __real_fork();
    int nth = atomic_fetch_add(&log->asked, 1) + 1;
    if (nth == atomic_load(&log->fail_at)) {
        errno = EAGAIN;
        return -1;
    }
    pid_t pid = __real_fork();
    if (pid > 0) {
        int i = atomic_fetch_add(&log->npids, 1);
        if (i < MAX_FORKS)
            atomic_store(&log->pids[i], pid);
    }
    return pid;
}

/* In a scene, after student code that forks: a process other than the
 * scene's own that comes back here (a worker that returned instead of
 * exiting) is counted and ended. */
static void end_if_stray(void)
{
    if (getpid() != scene_pid) {
        atomic_fetch_add(&fork_log->strays, 1);
        _exit(0);
    }
}

/* The parent of pid, from /proc; -1 if unknown. */
static pid_t parent_of(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *end_of_name = strrchr(buf, ')');
    int ppid;
    if (!end_of_name || sscanf(end_of_name + 1, " %*c %d", &ppid) != 1)
        return -1;
    return ppid;
}

static bool descends_from(pid_t pid, pid_t ancestor)
{
    for (int depth = 0; depth < 16 && pid > 1; depth++) {
        pid = parent_of(pid);
        if (pid == ancestor)
            return true;
    }
    return false;
}

/* Kills a scene that overran its deadline, and every recorded process under
 * it, then reaps the scene. Stopped first, the scene reaps nothing more, so
 * the pids of its children stay theirs while they are killed. */
static void kill_scene(pid_t scene)
{
    kill(scene, SIGSTOP);
    int n = atomic_load(&fork_log->npids), nv = 0;
    pid_t victims[MAX_FORKS];
    for (int i = 0; i < n && i < MAX_FORKS; i++) {
        pid_t pid = atomic_load(&fork_log->pids[i]);
        if (pid > 0 && descends_from(pid, scene))
            victims[nv++] = pid;
    }
    for (int i = 0; i < nv; i++)
        kill(victims[i], SIGKILL);
    kill(scene, SIGKILL);
    while (waitpid(scene, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* In a scene that is ending: kills and reaps its children still running. */
static void reap_leftovers(void)
{
    int n = atomic_load(&fork_log->npids);
    for (int i = 0; i < n && i < MAX_FORKS; i++) {
        pid_t pid = atomic_load(&fork_log->pids[i]);
        if (pid > 0 && waitpid(pid, NULL, WNOHANG) == 0) {   /* ours, running */
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

enum scene_end { SCENE_OK, SCENE_HUNG, SCENE_DIED };

struct scene_outcome {
    enum scene_end end;
    int status;     /* the scene's wait status when it died */
    long ms;        /* how long it ran */
};

/* Runs fn(arg) in a new process, the scene, and waits for it while it
 * makes progress: it is given up on when *progress (shared memory the scene
 * raises as it goes; NULL: none) has not changed for stall_ms. arg must be
 * shared memory for fn's findings to reach the test. The fail_at-th fork under
 * the scene fails (0: none). A scene given up on is killed, with every process
 * forked under it. */
static struct scene_outcome run_scene(void (*fn)(void *), void *arg, int fail_at,
                                      atomic_long *progress, long stall_ms)
{
    if (!fork_log) {
        fork_log = shared_alloc(sizeof *fork_log);
        fork_log->test_pid = getpid();
    }
    atomic_store(&fork_log->fail_at, fail_at);
    atomic_store(&fork_log->asked, 0);
    atomic_store(&fork_log->npids, 0);
    atomic_store(&fork_log->strays, 0);
    fflush(NULL);
    long start = kit_now_ms();
    pid_t pid = __real_fork();
    KIT_REQUIRE(pid >= 0, "test harness: fork failed: %s", strerror(errno));
    if (pid == 0) {
        scene_pid = getpid();
        fn(arg);
        end_if_stray();
        reap_leftovers();
        _exit(0);
    }
    struct scene_outcome out = { SCENE_HUNG, 0, 0 };
    long last = progress ? atomic_load(progress) : 0, last_change = start;
    for (;;) {
        pid_t r = waitpid(pid, &out.status, WNOHANG);
        if (r == pid) {
            out.end = WIFEXITED(out.status) && WEXITSTATUS(out.status) == 0 ? SCENE_OK
                                                                          : SCENE_DIED;
            break;
        }
        if (r < 0 && errno != EINTR)
            abort();
        long now = kit_now_ms(), p = progress ? atomic_load(progress) : 0;
        if (p != last) {
            last = p;
            last_change = now;
        } else if (now - last_change > stall_ms) {
            kill_scene(pid);
            break;
        }
        kit_sleep_ms(1);
    }
    out.ms = kit_now_ms() - start;
    return out;
}

/* "exited with status 3", "was killed by signal 6 (Aborted)" */
static const char *how_it_ended(int status)
{
    static char buf[128];
    if (WIFEXITED(status))
        snprintf(buf, sizeof buf, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, sizeof buf, "was killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    else
        snprintf(buf, sizeof buf, "ended with wait status %d", status);
    return buf;
}

#define NOT_SHARED_HINT                                                             \
    "each process may have its own copy of the queue (memory from malloc, a global " \
    "or the stack is copied by fork, not shared: create the queue with mmap(NULL, "  \
    "size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)), or a mutex " \
    "or condition variable lacks PTHREAD_PROCESS_SHARED (a signal or an unlock in "  \
    "one process then never wakes a waiter in another)"

/* ---- One thread: create, order, counting ---- */

static void test_create_with_capacity_0_fails_with_einval(void)
{
    errno = 0;
    jqueue_t *q = jq_create(0);
    int err = errno;
    KIT_CHECK(q == NULL, "jq_create(0) returned a queue: a queue that can hold nothing "
              "would block every put for ever, so it must return NULL with errno EINVAL");
    if (q) {
        jq_destroy(q);
        return;
    }
    KIT_CHECK(err == EINVAL, "jq_create(0) returned NULL but errno is %d (%s), expected "
              "EINVAL (%d): set errno = EINVAL before returning NULL", err, strerror(err),
              EINVAL);
    size_t caps[] = { 1, 2, 1000, 100000 };
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++)
        jq_destroy(new_queue(caps[k]));
}

/* Puts and gets in a pseudo-random interleaving that never has to wait,
 * comparing with a model ring: the ring must wrap around many times. */
static void test_items_come_out_in_put_order(void)
{
    static const size_t caps[] = { 1, 2, 3, 7, 64 };
    static const long special[] = { LONG_MAX, -1, 0, LONG_MIN + 1, 42 };
    for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
        size_t cap = caps[k];
        jqueue_t *q = new_queue(cap);
        long model[64];
        size_t head = 0, count = 0;
        long next = 0;
        unsigned seed = 12345u + (unsigned)cap;
        for (int step = 0; step < 3000; step++) {
            seed = seed * 1103515245u + 12345u;
            bool put = count == 0 || (count < cap && ((seed >> 16) & 3) != 0);
            if (step >= 2800)
                put = false;                    /* drain at the end */
            if (put) {
                long item = next % 50 == 7 ? special[(next / 50) % 5] : next;
                next++;
                KIT_CHECK_EQ(0, jq_put(q, item), "jq_put on a queue that is not full");
                model[(head + count++) % cap] = item;
            } else if (count > 0) {
                long got = -12345;
                KIT_CHECK_EQ(0, jq_get(q, &got), "jq_get on a queue that is not empty");
                long want = model[head];
                head = (head + 1) % cap;
                count--;
                KIT_REQUIRE(got == want, "capacity %zu, step %d: jq_get gave %ld, expected "
                            "%ld: items must come out in the order they were put (FIFO): "
                            "take from the head, put at the tail, and wrap both around the "
                            "ring", cap, step, got, want);
            }
        }
        jq_destroy(q);
    }
}

static void test_task_done_once_too_often_is_einval_and_changes_nothing(void)
{
    jqueue_t *q = new_queue(4);
    int rc = jq_task_done(q);
    KIT_REQUIRE(rc == EINVAL, "jq_task_done on a new queue returned %d, expected EINVAL "
                "(%d): nothing was put, so nothing can be done", rc, EINVAL);
    KIT_CHECK_EQ(0, jq_put(q, 1), "jq_put");
    KIT_CHECK_EQ(0, jq_put(q, 2), "jq_put");
    rc = jq_task_done(q);
    KIT_REQUIRE(rc == 0, "jq_task_done after 2 puts returned %d, expected 0%s", rc,
                rc == EINVAL ? ": the EINVAL before must not have changed the count "
                "(check first, then change)" : "");
    KIT_CHECK_EQ(0, jq_task_done(q), "second jq_task_done after 2 puts");
    rc = jq_task_done(q);
    KIT_REQUIRE(rc == EINVAL, "a third jq_task_done after 2 puts returned %d, expected "
                "EINVAL (%d): task_done may not be called more times than items were put",
                rc, EINVAL);
    KIT_CHECK_EQ(EINVAL, jq_task_done(q), "a fourth jq_task_done after 2 puts");
    /* Nothing changed: one more put is one more unfinished item. */
    KIT_CHECK_EQ(0, jq_put(q, 3), "jq_put after refused task_done calls");
    rc = jq_task_done(q);
    KIT_CHECK(rc == 0, "jq_task_done after a third put returned %d, expected 0: the "
              "refused calls before must change nothing (a count that went below 0 "
              "swallows the next put)", rc);
    KIT_CHECK_EQ(EINVAL, jq_task_done(q), "jq_task_done once more than 3 puts");
    /* The items themselves are untouched by task_done. */
    long got[3] = { 0, 0, 0 };
    for (int i = 0; i < 3; i++)
        KIT_CHECK_EQ(0, jq_get(q, &got[i]), "jq_get");
    KIT_CHECK(got[0] == 1 && got[1] == 2 && got[2] == 3, "after the task_done calls, "
              "jq_get gave %ld %ld %ld, expected 1 2 3: task_done marks work done, it "
              "does not take items out", got[0], got[1], got[2]);
    KIT_CHECK_EQ(0, call_now(q, OP_JOIN, NULL, "every item put was marked done"),
                 "jq_join");
    jq_destroy(q);
}

static void test_task_done_may_come_before_the_matching_get(void)
{
    jqueue_t *q = new_queue(8);
    for (long i = 1; i <= 3; i++)
        KIT_CHECK_EQ(0, jq_put(q, i * 10), "jq_put");
    for (int i = 0; i < 3; i++) {
        int rc = jq_task_done(q);
        KIT_REQUIRE(rc == 0, "jq_task_done number %d after 3 puts and no get returned %d, "
                    "expected 0: as in Python, task_done counts puts, not gets, so it may "
                    "come before the get of its item", i + 1, rc);
    }
    KIT_CHECK_EQ(EINVAL, jq_task_done(q), "a fourth jq_task_done after 3 puts");
    KIT_CHECK_EQ(0, call_now(q, OP_JOIN, NULL, "all 3 items put were marked done (though "
                             "none was taken yet)"), "jq_join");
    for (long i = 1; i <= 3; i++) {
        long got = 0;
        KIT_CHECK_EQ(0, jq_get(q, &got), "jq_get");
        KIT_CHECK_EQ(i * 10, got, "jq_get after early task_done calls");
    }
    KIT_CHECK_EQ(EINVAL, jq_task_done(q), "jq_task_done once more than 3 puts");
    jq_destroy(q);
}

static void test_join_returns_at_once_when_nothing_is_unfinished(void)
{
    jqueue_t *q = new_queue(2);
    KIT_CHECK_EQ(0, call_now(q, OP_JOIN, NULL, "nothing was ever put"), "jq_join on a new queue");
    for (int round = 0; round < 5; round++) {
        long item = round;
        KIT_CHECK_EQ(0, jq_put(q, item), "jq_put");
        KIT_CHECK_EQ(0, jq_get(q, &item), "jq_get");
        KIT_CHECK_EQ(0, jq_task_done(q), "jq_task_done");
        KIT_CHECK_EQ(0, call_now(q, OP_JOIN, NULL, "every item put was marked done"),
                     "jq_join");
    }
    jq_destroy(q);
}

/* ---- Two threads: waiting and waking ---- */

static void test_get_blocks_while_empty_until_a_put(void)
{
    jqueue_t *q = new_queue(4);
    struct call *a = call_start(q, OP_GET, 0), *b = call_start(q, OP_GET, 0);
    kit_sleep_ms(scaled(BLOCKED_MS));
    bool early = call_returned(a) || call_returned(b);
    KIT_CHECK(!early, "jq_get on an empty queue returned after less than %ld ms: it must "
              "wait until an item is put", scaled(BLOCKED_MS));
    KIT_CHECK_EQ(0, jq_put(q, 11), "jq_put");
    KIT_CHECK_EQ(0, jq_put(q, 22), "jq_put");
    bool woke = call_wait(a, scaled(PROMPT_MS)) && call_wait(b, scaled(PROMPT_MS));
    if (!woke) {
        call_abandon(a);
        call_abandon(b);
        KIT_REQUIRE(false, "two threads waited in jq_get on an empty queue; jq_put put 2 "
                    "items, and %d of them still waited %ld ms later: each put must wake "
                    "a waiting get (signal the condition it waits on)",
                    !call_returned(a) + !call_returned(b), scaled(PROMPT_MS));
    }
    long x, y;
    int ra = call_end(a, &x), rb = call_end(b, &y);
    if (!early) {
        KIT_CHECK((x == 11 && y == 22) || (x == 22 && y == 11), "the two waiting gets "
                  "returned %ld and %ld, expected 11 and 22 (in either order)", x, y);
        KIT_CHECK(ra == 0 && rb == 0, "the waiting gets returned %d and %d, expected 0",
                  ra, rb);
    }
    jq_destroy(q);
}

static void test_put_blocks_while_full_until_a_get(void)
{
    static const size_t caps[] = { 1, 3 };
    for (size_t k = 0; k < 2; k++) {
        size_t cap = caps[k];
        jqueue_t *q = new_queue(cap);
        for (size_t i = 0; i < cap; i++) {
            long item = (long)i;
            KIT_CHECK_EQ(0, call_now(q, OP_PUT, &item, "the queue had room"), "jq_put");
        }
        struct call *c = call_start(q, OP_PUT, 100);
        kit_sleep_ms(scaled(BLOCKED_MS));
        if (call_returned(c)) {
            call_end(c, NULL);
            KIT_REQUIRE(false, "jq_put on a full queue (capacity %zu, holding %zu items) "
                        "returned after less than %ld ms: it must wait until a get makes "
                        "room", cap, cap, scaled(BLOCKED_MS));
        }
        long got = -1;
        KIT_CHECK_EQ(0, call_now(q, OP_GET, &got, "the queue was full"), "jq_get");
        KIT_CHECK_EQ(0, got, "jq_get on a full queue: the oldest item");
        if (!call_wait(c, scaled(PROMPT_MS))) {
            call_abandon(c);
            KIT_REQUIRE(false, "jq_put still waited %ld ms after a jq_get made room in "
                        "the full queue (capacity %zu): a get must wake a put waiting "
                        "for room (signal the condition it waits on)", scaled(PROMPT_MS),
                        cap);
        }
        KIT_CHECK_EQ(0, call_end(c, NULL), "the waiting jq_put");
        for (size_t i = 1; i <= cap; i++) {
            long want = i < cap ? (long)i : 100;
            KIT_CHECK_EQ(0, call_now(q, OP_GET, &got, "the queue held items"), "jq_get");
            KIT_CHECK_EQ(want, got, "jq_get after the waiting put went in");
        }
        jq_destroy(q);
    }
}

static void test_join_waits_for_every_task_done_not_for_an_empty_queue(void)
{
    jqueue_t *q = new_queue(4);
    KIT_CHECK_EQ(EINVAL, jq_task_done(q), "jq_task_done on a new queue");
    long got;
    for (long i = 0; i < 3; i++)
        KIT_CHECK_EQ(0, jq_put(q, i), "jq_put");
    for (long i = 0; i < 3; i++)
        KIT_CHECK_EQ(0, jq_get(q, &got), "jq_get");
    KIT_CHECK_EQ(0, jq_task_done(q), "jq_task_done");
    KIT_CHECK_EQ(0, jq_task_done(q), "jq_task_done");
    /* Empty, but one item taken is not done yet. */
    struct call *j = call_start(q, OP_JOIN, 0);
    kit_sleep_ms(scaled(BLOCKED_MS));
    if (call_returned(j)) {
        call_end(j, NULL);
        KIT_REQUIRE(false, "jq_join returned while 1 of the 3 items put had been taken but "
                    "not marked done (the queue was empty): join waits until every item "
                    "put has been marked done with jq_task_done, not until the queue is "
                    "empty; and a refused task_done must not count");
    }
    KIT_CHECK_EQ(0, jq_task_done(q), "the last jq_task_done");
    if (!call_wait(j, scaled(PROMPT_MS))) {
        call_abandon(j);
        KIT_REQUIRE(false, "jq_join still waited %ld ms after the last item was marked "
                    "done: the task_done that brings the count to 0 must wake the joiners",
                    scaled(PROMPT_MS));
    }
    KIT_CHECK_EQ(0, call_end(j, NULL), "jq_join");
    jq_destroy(q);
}

static void test_last_task_done_wakes_every_joiner(void)
{
    enum { JOINERS = 4 };
    jqueue_t *q = new_queue(2);
    long got;
    KIT_CHECK_EQ(0, jq_put(q, 5), "jq_put");
    KIT_CHECK_EQ(0, jq_get(q, &got), "jq_get");
    struct call *j[JOINERS];
    for (int i = 0; i < JOINERS; i++)
        j[i] = call_start(q, OP_JOIN, 0);
    kit_sleep_ms(scaled(BLOCKED_MS));
    int early = 0;
    for (int i = 0; i < JOINERS; i++)
        early += call_returned(j[i]);
    KIT_CHECK(early == 0, "%d of %d threads in jq_join returned while an item taken was "
              "not yet marked done", early, JOINERS);
    KIT_CHECK_EQ(0, jq_task_done(q), "jq_task_done");
    int stuck = 0;
    for (int i = 0; i < JOINERS; i++)
        stuck += !call_wait(j[i], scaled(PROMPT_MS));
    if (stuck) {
        for (int i = 0; i < JOINERS; i++)
            call_abandon(j[i]);
        KIT_REQUIRE(false, "%d threads waited in jq_join; after the last jq_task_done, %d "
                    "of them still waited %ld ms later: when the count of unfinished "
                    "items reaches 0, every joiner must wake (broadcast, not signal)",
                    JOINERS, stuck, scaled(PROMPT_MS));
    }
    for (int i = 0; i < JOINERS; i++)
        call_end(j[i], NULL);
    jq_destroy(q);
}

static void test_sentinel_is_an_item_that_needs_its_task_done(void)
{
    jqueue_t *q = new_queue(2);
    KIT_CHECK_EQ(0, jq_put(q, JQ_SENTINEL), "jq_put(q, JQ_SENTINEL)");
    long got = 0;
    KIT_CHECK_EQ(0, call_now(q, OP_GET, &got, "a sentinel had been put"), "jq_get");
    KIT_CHECK(got == JQ_SENTINEL, "jq_get gave %ld after jq_put(q, JQ_SENTINEL), expected "
              "JQ_SENTINEL (%ld)", got, JQ_SENTINEL);
    struct call *j = call_start(q, OP_JOIN, 0);
    kit_sleep_ms(scaled(BLOCKED_MS));
    if (call_returned(j)) {
        call_end(j, NULL);
        KIT_REQUIRE(false, "jq_join returned although the sentinel that was put was never "
                    "marked done: a sentinel is an item like any other: put counts it as "
                    "unfinished, and the worker that takes it calls jq_task_done");
    }
    int rc = jq_task_done(q);
    KIT_CHECK(rc == 0, "jq_task_done for a sentinel returned %d, expected 0: every put, the "
              "sentinel's too, counts as one unfinished item", rc);
    if (!call_wait(j, scaled(PROMPT_MS))) {
        call_abandon(j);
        KIT_REQUIRE(false, "jq_join still waited %ld ms after the sentinel was marked done",
                    scaled(PROMPT_MS));
    }
    call_end(j, NULL);
    KIT_CHECK_EQ(EINVAL, jq_task_done(q), "a second jq_task_done after one sentinel put");
    jq_destroy(q);
}

/* ---- Many threads ---- */

#define STRIDE 1000000L     /* item = producer * STRIDE + sequence number */
#define HOLD (-1L)          /* an item put first and marked done last */

/* A problem seen inside the workload: how often, and the first example. */
struct finding {
    atomic_long count;
    atomic_long example;
};

static void found(struct finding *f, long example)
{
    if (atomic_fetch_add(&f->count, 1) == 0)
        atomic_store(&f->example, example);
}

struct stress {
    jqueue_t *q;
    int producers, consumers, joiners;
    long per_producer;
    long expected_done;         /* items + sentinels + HOLD */
    atomic_int *seen;           /* [producers * per_producer]: times each item was taken */
    atomic_long progress;       /* calls returned, for the watchdog */
    atomic_long taken;          /* work items taken */
    atomic_long done;           /* raised just before each task_done */
    atomic_int producers_finished, consumers_finished;
    struct finding bad_item, duplicate, out_of_order, early_join, bad_rc;
};

static void stress_produce(struct stress *s, int p)
{
    for (long k = 0; k < s->per_producer; k++) {
        int rc = jq_put(s->q, p * STRIDE + k);
        if (rc != 0)
            found(&s->bad_rc, rc);
        atomic_fetch_add(&s->progress, 1);
    }
    /* The last producer to finish stops the consumers: one sentinel each. */
    if (atomic_fetch_add(&s->producers_finished, 1) + 1 == s->producers)
        for (int c = 0; c < s->consumers; c++) {
            if (jq_put(s->q, JQ_SENTINEL) != 0)
                found(&s->bad_rc, -1);
            atomic_fetch_add(&s->progress, 1);
        }
}

static void stress_mark_done(struct stress *s)
{
    atomic_fetch_add(&s->done, 1);
    int rc = jq_task_done(s->q);
    if (rc != 0)
        found(&s->bad_rc, rc);
}

static void stress_consume(struct stress *s)
{
    long *last = malloc((size_t)s->producers * sizeof *last);
    if (!last)
        abort();
    for (int p = 0; p < s->producers; p++)
        last[p] = -1;
    for (;;) {
        long item;
        int rc = jq_get(s->q, &item);
        atomic_fetch_add(&s->progress, 1);
        if (rc != 0)
            found(&s->bad_rc, rc);
        if (item == JQ_SENTINEL) {
            stress_mark_done(s);
            break;
        }
        if (item == HOLD)
            continue;   /* marked done by the last consumer */
        long p = item / STRIDE, k = item % STRIDE;
        if (item < 0 || p >= s->producers || k >= s->per_producer) {
            found(&s->bad_item, item);
            stress_mark_done(s);
            continue;
        }
        if (atomic_fetch_add(&s->seen[p * s->per_producer + k], 1) != 0)
            found(&s->duplicate, item);
        if (k <= last[p])
            found(&s->out_of_order, item);
        last[p] = k;
        atomic_fetch_add(&s->taken, 1);
        stress_mark_done(s);
    }
    free(last);
    /* Every other item is done now: HOLD goes last, so a joiner that returns
     * must see every task_done counted. */
    if (atomic_fetch_add(&s->consumers_finished, 1) + 1 == s->consumers)
        stress_mark_done(s);
}

static void stress_join(struct stress *s)
{
    int rc = jq_join(s->q);
    long done = atomic_load(&s->done);
    if (rc != 0)
        found(&s->bad_rc, rc);
    if (done != s->expected_done)
        found(&s->early_join, done);
    atomic_fetch_add(&s->progress, 1);
}

static void stress_thread(int i, void *arg)
{
    struct stress *s = arg;
    if (i < s->producers)
        stress_produce(s, i);
    else if (i < s->producers + s->consumers)
        stress_consume(s);
    else
        stress_join(s);
}

/* Producers put per_producer items each, consumers take them until their
 * sentinel, joiners join; checks every invariant. False if one failed. */
static bool run_stress(int producers, int consumers, int joiners, size_t capacity,
                       long per_producer)
{
    struct stress *s = calloc(1, sizeof *s);
    long items = producers * per_producer;
    KIT_REQUIRE(s != NULL, "test harness: out of memory");
    s->seen = calloc((size_t)items, sizeof *s->seen);
    KIT_REQUIRE(s->seen != NULL, "test harness: out of memory");
    s->q = new_queue(capacity);
    s->producers = producers;
    s->consumers = consumers;
    s->joiners = joiners;
    s->per_producer = per_producer;
    s->expected_done = items + consumers + 1;
    KIT_CHECK_EQ(0, jq_put(s->q, HOLD), "jq_put on an empty queue");

    bool finished = run_watched(producers + consumers + joiners, stress_thread, s,
                                &s->progress, scaled(PROMPT_MS));
    /* s stays allocated if threads were left behind: they use it. */
    KIT_REQUIRE(finished, "%d producer(s), %d consumer(s), %d joiner(s), capacity %zu: "
                "nothing moved for %ld ms, with %ld of %ld items taken: threads are waiting for "
                "ever. Usually a lost wake-up (a put that does not wake a waiting get, a "
                "get that does not wake a waiting put, a task_done that does not wake "
                "every joiner), or a wait in `if` instead of `while` that let the count "
                "of items go wrong", producers, consumers,
                joiners, capacity, scaled(PROMPT_MS), atomic_load(&s->taken), items);
    char conf[128];
    snprintf(conf, sizeof conf, "%d producer%s, %d consumer%s, capacity %zu", producers,
             producers == 1 ? "" : "s", consumers, consumers == 1 ? "" : "s", capacity);
    unsigned failures = CU_get_number_of_failures();
    KIT_CHECK(atomic_load(&s->bad_rc.count) == 0, "%s: %ld calls returned an error (e.g. "
              "%ld), expected 0 from every put, get and task_done", conf,
              atomic_load(&s->bad_rc.count), atomic_load(&s->bad_rc.example));
    KIT_CHECK(atomic_load(&s->bad_item.count) == 0, "%s: jq_get gave %ld items that were "
              "never put (e.g. %ld): a get read a slot that held no item (did a get "
              "go on without rechecking that the queue is not empty?)", conf,
              atomic_load(&s->bad_item.count), atomic_load(&s->bad_item.example));
    KIT_CHECK(atomic_load(&s->duplicate.count) == 0, "%s: %ld items were taken twice (e.g. "
              "%ld): two gets took the same slot", conf, atomic_load(&s->duplicate.count),
              atomic_load(&s->duplicate.example));
    KIT_CHECK(atomic_load(&s->out_of_order.count) == 0, "%s: a consumer got %ld items of "
              "one producer out of order (e.g. %ld): the queue must be FIFO", conf,
              atomic_load(&s->out_of_order.count), atomic_load(&s->out_of_order.example));
    KIT_CHECK(atomic_load(&s->taken) == items, "%s: %ld items taken, expected %ld: items "
              "were lost (overwritten: did a put go on without rechecking that the queue "
              "is not full?)", conf, atomic_load(&s->taken), items);
    KIT_CHECK(atomic_load(&s->early_join.count) == 0, "%s: jq_join returned while work "
              "was not done: only %ld of %ld task_done calls had been made. join must wait "
              "until every item put has been marked done, not until the queue is empty",
              conf, atomic_load(&s->early_join.example), s->expected_done);
    KIT_CHECK_EQ(0, call_now(s->q, OP_JOIN, NULL, "every item put was marked done"),
                 "jq_join after the workload");
    jq_destroy(s->q);
    free(s->seen);
    free(s);
    return CU_get_number_of_failures() == failures;
}

static void test_every_item_is_taken_exactly_once_in_put_order(void)
{
    static const struct { int p, c; size_t cap; long per; } native[] = {
        { 1, 1, 1, 400 }, { 2, 2, 2, 300 }, { 8, 8, 4, 60 },
        { 1, 8, 3, 400 }, { 8, 1, 3, 50 }, { 64, 64, 8, 8 },
    }, race[] = {
        { 2, 2, 2, 15 }, { 1, 3, 1, 15 },
    };
    bool in_race = kit_race_mode();
    size_t n = in_race ? 2 : sizeof native / sizeof native[0];
    for (size_t k = 0; k < n; k++) {
        int p = in_race ? race[k].p : native[k].p, c = in_race ? race[k].c : native[k].c;
        if (!run_stress(p, c, 1, in_race ? race[k].cap : native[k].cap,
                        in_race ? race[k].per : native[k].per))
            return;     /* one configuration's report is enough */
    }
}

static void test_join_returns_only_when_every_item_is_done(void)
{
    static const struct { int p, c, j; size_t cap; long per; } native[] = {
        { 4, 4, 4, 2, 100 }, { 2, 8, 8, 4, 200 }, { 1, 1, 2, 1, 400 },
    }, race[] = {
        { 1, 2, 2, 2, 15 },
    };
    bool in_race = kit_race_mode();
    size_t n = in_race ? 1 : sizeof native / sizeof native[0];
    for (size_t k = 0; k < n; k++) {
        bool ok = in_race
            ? run_stress(race[k].p, race[k].c, race[k].j, race[k].cap, race[k].per)
            : run_stress(native[k].p, native[k].c, native[k].j, native[k].cap, native[k].per);
        if (!ok)
            return;
    }
}

/* ---- Processes sharing one queue ---- */

/* A child puts and exits; then the scene (its parent) takes the items. */
struct handoff {
    int create_errno;
    atomic_bool child_done;
    atomic_int ngot;
    long got[5];
    int put_rc[5];
    bool joined;
};

static void scene_child_puts_parent_gets(void *arg)
{
    struct handoff *h = arg;
    jqueue_t *q = jq_create(8);
    if (!q) {
        h->create_errno = errno;
        return;
    }
    pid_t pid = fork();
    if (pid < 0)
        _exit(3);
    if (pid == 0) {
        for (int i = 0; i < 5; i++)
            h->put_rc[i] = jq_put(q, 100 + i);
        atomic_store(&h->child_done, true);
        _exit(0);
    }
    while (waitpid(pid, NULL, 0) < 0)
        if (errno != EINTR)
            _exit(4);
    /* The child is gone: its items are in the queue, or nowhere. */
    for (int i = 0; i < 5; i++) {
        jq_get(q, &h->got[i]);
        atomic_store(&h->ngot, i + 1);
    }
    for (int i = 0; i < 5; i++)
        jq_task_done(q);
    jq_join(q);
    h->joined = true;
    jq_destroy(q);
}

static void test_items_put_by_a_child_reach_the_parent(void)
{
    struct handoff *h = shared_alloc(sizeof *h);
    struct scene_outcome o = run_scene(scene_child_puts_parent_gets, h, 0, NULL,
                                       scaled(SCENE_MS));
    KIT_REQUIRE(o.end != SCENE_DIED, "a process that forked a child to put 5 items %s",
                how_it_ended(o.status));
    KIT_REQUIRE(h->create_errno == 0, "jq_create(8) failed: %s", strerror(h->create_errno));
    if (o.end == SCENE_HUNG) {
        if (atomic_load(&h->child_done) && atomic_load(&h->ngot) == 0)
            KIT_REQUIRE(false, "a child put 5 items into the queue and exited; then its "
                        "parent's jq_get found the queue empty and waited for ever: the "
                        "parent and the child each have their own copy of the queue. "
                        "Memory from malloc (or a global, or the stack) is copied by fork, "
                        "not shared: create the queue with mmap(NULL, size, PROT_READ | "
                        "PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0)");
        KIT_REQUIRE(false, "a child putting 5 items into an empty queue of capacity 8, "
                    "then its parent taking them, did not finish within %ld ms (child "
                    "done: %s, items the parent got: %d): %s", o.ms,
                    atomic_load(&h->child_done) ? "yes" : "no", atomic_load(&h->ngot),
                    NOT_SHARED_HINT);
    }
    for (int i = 0; i < 5; i++) {
        KIT_CHECK_EQ(0, h->put_rc[i], "the child's jq_put");
        KIT_CHECK(h->got[i] == 100 + i, "item %d the parent got is %ld, expected %d: the "
                  "child put 100..104, in that order", i, h->got[i], 100 + i);
    }
    KIT_CHECK(h->joined, "the parent's jq_join did not return");
    shared_free(h, sizeof *h);
}

/* The child waits in get; the scene puts one item, then joins while the child
 * holds the item, not yet done, for a while. */
struct join_scene {
    int create_errno;
    atomic_bool child_got, child_done, joined;
    long got;
    int done_rc;
    long got_at, done_at, join_at;     /* ms, monotonic clock */
    long hold_ms;
};

static void scene_join_waits_for_child(void *arg)
{
    struct join_scene *s = arg;
    jqueue_t *q = jq_create(4);
    if (!q) {
        s->create_errno = errno;
        return;
    }
    pid_t pid = fork();
    if (pid < 0)
        _exit(3);
    if (pid == 0) {
        jq_get(q, &s->got);
        s->got_at = kit_now_ms();
        atomic_store(&s->child_got, true);
        kit_sleep_ms(s->hold_ms);      /* taken, not done */
        s->done_at = kit_now_ms();
        atomic_store(&s->child_done, true);
        s->done_rc = jq_task_done(q);
        _exit(0);
    }
    kit_sleep_ms(20);                   /* most likely the child waits in jq_get now */
    jq_put(q, 42);
    jq_join(q);
    s->join_at = kit_now_ms();
    atomic_store(&s->joined, true);
    while (waitpid(pid, NULL, 0) < 0)
        if (errno != EINTR)
            _exit(4);
    jq_destroy(q);
}

static void test_child_gets_what_the_parent_put_and_join_waits_for_its_task_done(void)
{
    struct join_scene *s = shared_alloc(sizeof *s);
    s->hold_ms = scaled(BLOCKED_MS);
    struct scene_outcome o = run_scene(scene_join_waits_for_child, s, 0, NULL,
                                       scaled(SCENE_MS));
    KIT_REQUIRE(o.end != SCENE_DIED, "a process sharing the queue with a child %s",
                how_it_ended(o.status));
    KIT_REQUIRE(s->create_errno == 0, "jq_create(4) failed: %s",
                strerror(s->create_errno));
    if (o.end == SCENE_HUNG && !atomic_load(&s->child_got))
        KIT_REQUIRE(false, "a child waiting in jq_get never received the item its "
                    "parent put (waited %ld ms): %s", o.ms, NOT_SHARED_HINT);
    if (o.end == SCENE_HUNG && atomic_load(&s->child_done) && !atomic_load(&s->joined))
        KIT_REQUIRE(false, "a child took the item its parent put and called "
                    "jq_task_done, but the parent's jq_join never returned (waited "
                    "%ld ms): the joiner in one process must be woken by a task_done "
                    "in another: %s", o.ms, NOT_SHARED_HINT);
    KIT_REQUIRE(o.end == SCENE_OK, "a parent putting one item for a child and joining "
                "did not finish within %ld ms: %s", o.ms, NOT_SHARED_HINT);
    KIT_CHECK(s->got == 42, "the child's jq_get gave %ld, expected the 42 its parent "
              "put", s->got);
    KIT_CHECK_EQ(0, s->done_rc, "the child's jq_task_done");
    KIT_REQUIRE(s->join_at >= s->done_at, "the parent's jq_join returned %ld ms before "
                "the child called jq_task_done (the child had taken the item, but not "
                "finished it): join waits until every item put is marked done, not "
                "until the queue is empty", s->done_at - s->join_at);
    KIT_CHECK(s->join_at - s->done_at <= scaled(PROMPT_MS), "the parent's jq_join "
              "returned %ld ms after the child's jq_task_done: it must wake promptly",
              s->join_at - s->done_at);
    shared_free(s, sizeof *s);
}

/* Capacity 2, full: the child's put waits until the scene takes an item. */
struct full_scene {
    int create_errno;
    atomic_bool child_returned, early;
    int put_rc;
    long returned_at, got_at;
    long got[3];
    long blocked_ms;
};

static void scene_put_blocks_across_processes(void *arg)
{
    struct full_scene *s = arg;
    jqueue_t *q = jq_create(2);
    if (!q) {
        s->create_errno = errno;
        return;
    }
    jq_put(q, 1);
    jq_put(q, 2);
    pid_t pid = fork();
    if (pid < 0)
        _exit(3);
    if (pid == 0) {
        s->put_rc = jq_put(q, 3);
        s->returned_at = kit_now_ms();
        atomic_store(&s->child_returned, true);
        _exit(0);
    }
    kit_sleep_ms(s->blocked_ms);
    atomic_store(&s->early, atomic_load(&s->child_returned));
    s->got_at = kit_now_ms();
    jq_get(q, &s->got[0]);
    while (waitpid(pid, NULL, 0) < 0)
        if (errno != EINTR)
            _exit(4);
    jq_get(q, &s->got[1]);
    jq_get(q, &s->got[2]);
    jq_destroy(q);
}

static void test_put_blocks_while_full_until_another_process_gets(void)
{
    struct full_scene *s = shared_alloc(sizeof *s);
    s->blocked_ms = scaled(BLOCKED_MS);
    struct scene_outcome o = run_scene(scene_put_blocks_across_processes, s, 0, NULL,
                                       scaled(SCENE_MS));
    KIT_REQUIRE(o.end != SCENE_DIED, "a process sharing a full queue with a child %s",
                how_it_ended(o.status));
    KIT_REQUIRE(s->create_errno == 0, "jq_create(2) failed: %s", strerror(s->create_errno));
    KIT_REQUIRE(!atomic_load(&s->early), "a child's jq_put on a full queue (capacity 2, "
                "holding 2 items) returned before its parent took anything: put must wait "
                "while the queue is full");
    KIT_REQUIRE(o.end == SCENE_OK, "a child waited in jq_put on a full queue; its parent "
                "took an item, and the child still waited (%ld ms in all): the get's "
                "wake-up must reach a waiter in another process: %s", o.ms,
                NOT_SHARED_HINT);
    KIT_CHECK_EQ(0, s->put_rc, "the child's jq_put");
    KIT_CHECK(s->returned_at - s->got_at <= scaled(PROMPT_MS), "the child's jq_put returned "
              "%ld ms after its parent made room: it must wake promptly",
              s->returned_at - s->got_at);
    KIT_CHECK(s->got[0] == 1 && s->got[1] == 2 && s->got[2] == 3, "the parent got %ld %ld "
              "%ld, expected 1 2 3 (the child's 3 last)", s->got[0], s->got[1], s->got[2]);
    shared_free(s, sizeof *s);
}

/* Producer and consumer processes hammer one small queue. */
enum { CROWD_PRODUCERS = 3, CROWD_CONSUMERS = 3, CROWD_PER = 400 };

struct crowd {
    int create_errno;
    atomic_long put, taken, bad_item, duplicate;
    atomic_long progress;       /* puts and gets so far, for the deadline */
    atomic_int seen[CROWD_PRODUCERS * CROWD_PER];
    bool joined;
};

static void crowd_consumer(jqueue_t *q, struct crowd *c)
{
    for (;;) {
        long item;
        jq_get(q, &item);
        atomic_fetch_add(&c->progress, 1);
        if (item == JQ_SENTINEL) {
            jq_task_done(q);
            _exit(0);
        }
        if (item < 0 || item >= CROWD_PRODUCERS * CROWD_PER)
            atomic_fetch_add(&c->bad_item, 1);
        else if (atomic_fetch_add(&c->seen[item], 1) != 0)
            atomic_fetch_add(&c->duplicate, 1);
        atomic_fetch_add(&c->taken, 1);
        jq_task_done(q);
    }
}

static void scene_crowd(void *arg)
{
    struct crowd *c = arg;
    pid_t pids[CROWD_PRODUCERS + CROWD_CONSUMERS];
    jqueue_t *q = jq_create(4);
    if (!q) {
        c->create_errno = errno;
        return;
    }
    for (int i = 0; i < CROWD_CONSUMERS + CROWD_PRODUCERS; i++) {
        pids[i] = fork();
        if (pids[i] < 0)
            _exit(3);
        if (pids[i] > 0)
            continue;
        if (i < CROWD_CONSUMERS)
            crowd_consumer(q, c);
        int p = i - CROWD_CONSUMERS;
        for (long k = 0; k < CROWD_PER; k++) {
            jq_put(q, p * CROWD_PER + k);
            atomic_fetch_add(&c->put, 1);
            atomic_fetch_add(&c->progress, 1);
        }
        _exit(0);
    }
    for (int i = CROWD_CONSUMERS; i < CROWD_CONSUMERS + CROWD_PRODUCERS; i++)
        while (waitpid(pids[i], NULL, 0) < 0)
            if (errno != EINTR)
                _exit(4);
    for (int i = 0; i < CROWD_CONSUMERS; i++)
        jq_put(q, JQ_SENTINEL);
    jq_join(q);
    c->joined = true;
    for (int i = 0; i < CROWD_CONSUMERS; i++)
        while (waitpid(pids[i], NULL, 0) < 0)
            if (errno != EINTR)
                _exit(4);
    jq_destroy(q);
}

static void test_producer_and_consumer_processes_share_one_queue(void)
{
    long items = CROWD_PRODUCERS * CROWD_PER;
    for (int round = 0; round < 2; round++) {
        struct crowd *c = shared_alloc(sizeof *c);
        struct scene_outcome o = run_scene(scene_crowd, c, 0, &c->progress,
                                           scaled(SCENE_MS));
        KIT_REQUIRE(o.end != SCENE_DIED, "a process sharing the queue with %d producer and "
                    "%d consumer processes %s", CROWD_PRODUCERS, CROWD_CONSUMERS,
                    how_it_ended(o.status));
        KIT_REQUIRE(c->create_errno == 0, "jq_create(4) failed: %s",
                    strerror(c->create_errno));
        KIT_REQUIRE(o.end == SCENE_OK, "%d producer and %d consumer processes sharing one "
                    "queue of capacity 4 stopped making progress (nothing moved for %ld ms): "
                    "%ld of %ld items had been put and %ld taken: %s", CROWD_PRODUCERS,
                    CROWD_CONSUMERS, scaled(SCENE_MS), atomic_load(&c->put), items,
                    atomic_load(&c->taken), NOT_SHARED_HINT);
        KIT_CHECK(atomic_load(&c->bad_item) == 0 && atomic_load(&c->duplicate) == 0,
                  "consumer processes got %ld items that were never put and %ld taken "
                  "twice: the queue's lock must exclude other processes too",
                  atomic_load(&c->bad_item), atomic_load(&c->duplicate));
        KIT_CHECK(atomic_load(&c->taken) == items, "consumer processes took %ld items, "
                  "expected %ld", atomic_load(&c->taken), items);
        KIT_CHECK(c->joined, "the parent's jq_join did not return");
        shared_free(c, sizeof *c);
    }
}

/* ---- jq_run_workers ---- */

struct run_args {
    int nworkers;
    size_t n;
    bool null_items, null_work, null_total;
    int rc;
    long total;
    pid_t left;                 /* waitpid(-1, NULL, WNOHANG) afterwards */
    int left_errno;
    atomic_long calls, calls_in_caller;
};

static struct run_args *run_now;   /* the running scene's arguments, for work_fn */
static long *run_items;            /* the items, copied into the scene by fork */

static long work_fn(long x)
{
    atomic_fetch_add(&run_now->calls, 1);
    if (getpid() == scene_pid)
        atomic_fetch_add(&run_now->calls_in_caller, 1);
    return 3 * x + 1;
}

static void scene_run_workers(void *arg)
{
    struct run_args *a = arg;
    run_now = a;
    long total = -77;
    int rc = jq_run_workers(a->nworkers, a->null_items ? NULL : run_items, a->n,
                            a->null_work ? NULL : work_fn, a->null_total ? NULL : &total);
    end_if_stray();
    a->rc = rc;
    a->total = total;
    errno = 0;
    a->left = waitpid(-1, NULL, WNOHANG);
    a->left_errno = errno;
}

static long item_value(size_t i)
{
    return (long)i * 7 - 500;
}

/* Runs jq_run_workers in a scene (fork number fail_at failing); ends the test
 * if it hangs, crashes or lets a worker return. The caller checks the rest
 * and frees the result with shared_free. */
static struct run_args *run_workers(int nworkers, size_t n, int fail_at,
                                    struct run_args how)
{
    struct run_args *a = shared_alloc(sizeof *a);
    a->nworkers = nworkers;
    a->n = n;
    a->null_items = how.null_items;
    a->null_work = how.null_work;
    a->null_total = how.null_total;
    free(run_items);
    run_items = malloc((n ? n : 1) * sizeof *run_items);
    KIT_REQUIRE(run_items != NULL, "test harness: out of memory");
    for (size_t i = 0; i < n; i++)
        run_items[i] = item_value(i);
    struct scene_outcome o = run_scene(scene_run_workers, a, fail_at, &a->calls,
                                       scaled(SCENE_MS));
    KIT_REQUIRE(atomic_load(&fork_log->strays) == 0, "jq_run_workers(%d, items, %zu, ...): "
                "%d worker process(es) returned from jq_run_workers into the caller's "
                "code: a worker must end with _exit() once it has taken its sentinel, "
                "never return", nworkers, n, atomic_load(&fork_log->strays));
    KIT_REQUIRE(o.end != SCENE_DIED, "the process that called jq_run_workers(%d, items, "
                "%zu, ...) %s", nworkers, n, how_it_ended(o.status));
    KIT_REQUIRE(o.end == SCENE_OK, "jq_run_workers(%d, items, %zu, ...)%s made no "
                "progress for %ld ms (work was called %ld times): do the worker processes "
                "see the same queue? Memory from "
                "malloc is copied by fork, not shared: create the queue with mmap "
                "(MAP_SHARED | MAP_ANONYMOUS), and give its mutex and condition variables "
                "PTHREAD_PROCESS_SHARED. Also: every item put counts as unfinished, the "
                "sentinels too, so each worker must call jq_task_done for its sentinel%s",
                nworkers, n, fail_at ? " with a fork failing" : "", scaled(SCENE_MS),
                atomic_load(&a->calls),
                fail_at ? "; and after a failed fork, only the workers already started "
                "are there to take sentinels" : "");
    return a;
}

/* The checks every successful run must pass. */
static void check_run(const struct run_args *a)
{
    long want = 0;
    for (size_t i = 0; i < a->n; i++)
        want += 3 * item_value(i) + 1;
    KIT_REQUIRE(a->rc == 0, "jq_run_workers(%d, items, %zu, work, &total) returned %d (%s), "
                "expected 0", a->nworkers, a->n, a->rc, strerror(a->rc));
    KIT_CHECK(a->total == want, "jq_run_workers(%d, items, %zu, work, &total) stored total "
              "%ld, expected %ld (the sum of work(item) over all items)%s", a->nworkers,
              a->n, a->total, want, a->total == -77 ? ": it did not store a total" : "");
    KIT_CHECK(atomic_load(&a->calls) == (long)a->n, "jq_run_workers(%d, items, %zu, ...) "
              "called work %ld times, expected once per item", a->nworkers, a->n,
              atomic_load(&a->calls));
    KIT_CHECK(atomic_load(&a->calls_in_caller) == 0, "jq_run_workers(%d, items, %zu, ...) "
              "called work %ld times in the calling process: the worker processes take "
              "the items and call work; the parent only puts items and sentinels, joins "
              "and waits", a->nworkers, a->n, atomic_load(&a->calls_in_caller));
    KIT_CHECK(a->left == -1 && a->left_errno == ECHILD, "after jq_run_workers(%d, items, "
              "%zu, ...) returned, waitpid(-1, NULL, WNOHANG) gave %d (errno %d) instead of "
              "-1 with ECHILD: %s", a->nworkers, a->n, (int)a->left, a->left_errno,
              a->left > 0 ? "a worker was never waited for and stayed a zombie: the parent "
              "must waitpid every worker it forked"
              : "a worker process was still running: wait for every worker before "
              "returning");
}

static void test_run_workers_sums_work_over_all_items_with_1_to_8_workers(void)
{
    static const size_t sizes[] = { 1, 7, 60 };
    for (int w = 1; w <= 8; w++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            struct run_args *a = run_workers(w, sizes[k], 0, (struct run_args){ 0 });
            check_run(a);
            shared_free(a, sizeof *a);
        }
    /* Many items through the small queue. */
    static const int many[] = { 2, 8 };
    for (size_t k = 0; k < 2; k++) {
        struct run_args *a = run_workers(many[k], 1000, 0, (struct run_args){ 0 });
        check_run(a);
        shared_free(a, sizeof *a);
    }
}

static void test_run_workers_with_no_items_gives_0(void)
{
    static const int workers[] = { 1, 3, 8 };
    for (size_t k = 0; k < 3; k++)
        for (int null_items = 0; null_items <= 1; null_items++) {
            struct run_args *a = run_workers(workers[k], 0, 0,
                                             (struct run_args){ .null_items = null_items });
            KIT_REQUIRE(a->rc == 0, "jq_run_workers(%d, %s, 0, work, &total) returned %d "
                        "(%s), expected 0: no items is valid (items may be NULL then); "
                        "the workers just take their sentinels", workers[k],
                        null_items ? "NULL" : "items", a->rc, strerror(a->rc));
            check_run(a);
            shared_free(a, sizeof *a);
        }
}

static void test_run_workers_leaves_no_zombie_and_no_worker_running(void)
{
    for (int round = 0; round < 5; round++) {
        struct run_args *a = run_workers(8, 50, 0, (struct run_args){ 0 });
        check_run(a);
        shared_free(a, sizeof *a);
    }
}

static void test_run_workers_rejects_bad_arguments(void)
{
    static const struct { int nworkers; size_t n; struct run_args how; const char *call; }
    cases[] = {
        { 0, 5, { 0 }, "jq_run_workers(0, items, 5, work, &total)" },
        { -1, 5, { 0 }, "jq_run_workers(-1, items, 5, work, &total)" },
        { INT_MIN, 5, { 0 }, "jq_run_workers(INT_MIN, items, 5, work, &total)" },
        { 2, 5, { .null_items = true }, "jq_run_workers(2, NULL, 5, work, &total)" },
        { 2, 5, { .null_work = true }, "jq_run_workers(2, items, 5, NULL, &total)" },
        { 2, 5, { .null_total = true }, "jq_run_workers(2, items, 5, work, NULL)" },
        { 0, 0, { .null_items = true }, "jq_run_workers(0, NULL, 0, work, &total)" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct run_args *a = run_workers(cases[k].nworkers, cases[k].n, 0, cases[k].how);
        KIT_CHECK(a->rc == EINVAL, "%s returned %d (%s), expected EINVAL (%d)",
                  cases[k].call, a->rc, strerror(a->rc), EINVAL);
        KIT_CHECK(atomic_load(&fork_log->asked) == 0, "%s forked %d processes: check the "
                  "arguments before forking anything", cases[k].call,
                  atomic_load(&fork_log->asked));
        shared_free(a, sizeof *a);
    }
}

static void test_run_workers_reports_a_failed_fork_and_leaves_nothing_behind(void)
{
    static const int fail_at[] = { 1, 2, 4 };
    for (size_t k = 0; k < 3; k++) {
        struct run_args *a = run_workers(4, 200, fail_at[k], (struct run_args){ 0 });
        KIT_CHECK(a->rc == EAGAIN, "jq_run_workers(4, items, 200, ...) when fork number %d "
                  "fails with EAGAIN returned %d (%s), expected EAGAIN (%d): return the "
                  "errno of the failed fork", fail_at[k], a->rc, strerror(a->rc), EAGAIN);
        KIT_CHECK(a->left == -1 && a->left_errno == ECHILD, "jq_run_workers(4, ...) when "
                  "fork number %d fails: afterwards waitpid(-1, NULL, WNOHANG) gave %d "
                  "(errno %d) instead of -1 with ECHILD: %s", fail_at[k], (int)a->left,
                  a->left_errno, a->left > 0 ? "a worker was left a zombie: wait for it"
                  : "a worker started before the failed fork is still running: give "
                  "each worker already started its sentinel, then wait for them");
        shared_free(a, sizeof *a);
    }
}

/* ---- Suites ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo basic_tests[] = {
    TEST(test_create_with_capacity_0_fails_with_einval),
    TEST(test_items_come_out_in_put_order),
    TEST(test_task_done_once_too_often_is_einval_and_changes_nothing),
    TEST(test_task_done_may_come_before_the_matching_get),
    TEST(test_join_returns_at_once_when_nothing_is_unfinished),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo blocking_tests[] = {
    TEST(test_get_blocks_while_empty_until_a_put),
    TEST(test_put_blocks_while_full_until_a_get),
    TEST(test_join_waits_for_every_task_done_not_for_an_empty_queue),
    TEST(test_last_task_done_wakes_every_joiner),
    TEST(test_sentinel_is_an_item_that_needs_its_task_done),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    TEST(test_every_item_is_taken_exactly_once_in_put_order),
    TEST(test_join_returns_only_when_every_item_is_done),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo process_tests[] = {
    TEST(test_items_put_by_a_child_reach_the_parent),
    TEST(test_child_gets_what_the_parent_put_and_join_waits_for_its_task_done),
    TEST(test_put_blocks_while_full_until_another_process_gets),
    TEST(test_producer_and_consumer_processes_share_one_queue),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo worker_tests[] = {
    TEST(test_run_workers_sums_work_over_all_items_with_1_to_8_workers),
    TEST(test_run_workers_with_no_items_gives_0),
    TEST(test_run_workers_leaves_no_zombie_and_no_worker_running),
    TEST(test_run_workers_rejects_bad_arguments),
    TEST(test_run_workers_reports_a_failed_fork_and_leaves_nothing_behind),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic_tests },
    { "blocking", NULL, NULL, NULL, NULL, blocking_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    { "processes", NULL, NULL, NULL, NULL, process_tests },
    { "workers", NULL, NULL, NULL, NULL, worker_tests },
    CU_SUITE_INFO_NULL,
};
