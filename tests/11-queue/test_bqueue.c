/* test_bqueue.c - tests of exercise 11-queue (bqueue.h).
 *
 * One thread first: order, size, try-once, task_done counting puts. Then
 * timed observations with a second thread: a call that must wait is started
 * in a thread of its own, must still be waiting after BLOCKED_MS, and must
 * return promptly once another thread acts (a helper rescues a call that
 * waits when it must not, so the test reports instead of hanging). Then
 * stress: producers and consumers with every kind of time-out, checking
 * inside the workload that no item is lost, duplicated or reordered and that
 * the queue never holds more than maxsize; and "thieves" that take an item
 * (or a slot) between the wake-up of a sleeping thread and its return, which
 * catches a wait in an `if` instead of a `while` in every run. Threads that
 * stop making progress are detected and reported as a lost wake-up. Last,
 * the pipeline. */
#include "kit_test.h"
#include "bqueue.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a blocked call is watched before another thread acts (ms). */
#define BLOCKED_MS 100L
/* How long correct code may take to react once it can (ms), before scaling. */
#define PROMPT_MS 2000L
/* How long a crew of threads may make no progress at all (ms), before scaling. */
#define STALL_MS 2000L

#define MAX_THREADS 64
/* Producer p's k-th item is (p + 1) * STRIDE + k. */
#define STRIDE 1000000L

/* ms, scaled for slow runs (schedule noise, race detectors). */
static long scaled(long ms)
{
    return ms * kit_time_factor();
}

static bqueue_t *new_queue(size_t maxsize)
{
    errno = 0;
    bqueue_t *q = bq_create(maxsize);
    KIT_REQUIRE(q != NULL, "bq_create(%zu) returned NULL (errno %d, %s): any maxsize of "
                "at least 1 is valid", maxsize, errno, strerror(errno));
    return q;
}

static const char *err_name(int err)
{
    switch (err) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case EINVAL: return "EINVAL";
    case EINTR: return "EINTR";
    case ENOMEM: return "ENOMEM";
    default: return "an unexpected value";
    }
}

/* ---- One queue call in a thread of its own, so the test can watch it wait ---- */

enum op { OP_PUT, OP_GET, OP_JOIN, OP_TASK_DONE };

static const char *op_name(enum op op)
{
    switch (op) {
    case OP_PUT: return "bq_put";
    case OP_GET: return "bq_get";
    case OP_JOIN: return "bq_join";
    case OP_TASK_DONE: return "bq_task_done";
    }
    return "?";
}

/* Allocated; left allocated when abandoned, since its thread keeps it. */
struct call {
    bqueue_t *q;
    enum op op;
    long item;              /* put: the item; get: what it got (read once returned) */
    long timeout_ms;
    int rc;                 /* read once returned */
    long start_ms, end_ms;
    atomic_bool returned;
    pthread_t tid;
};

static void *call_main(void *p)
{
    struct call *c = p;
    c->start_ms = kit_now_ms();
    switch (c->op) {
    case OP_PUT: c->rc = bq_put(c->q, c->item, c->timeout_ms); break;
    case OP_GET: c->rc = bq_get(c->q, &c->item, c->timeout_ms); break;
    case OP_JOIN: c->rc = bq_join(c->q); break;
    case OP_TASK_DONE: c->rc = bq_task_done(c->q); break;
    }
    c->end_ms = kit_now_ms();
    atomic_store(&c->returned, true);
    return NULL;
}

static struct call *call_start(bqueue_t *q, enum op op, long item, long timeout_ms)
{
    struct call *c = calloc(1, sizeof *c);
    KIT_REQUIRE(c != NULL, "test harness: out of memory");
    *c = (struct call){ .q = q, .op = op, .item = item, .timeout_ms = timeout_ms };
    atomic_init(&c->returned, false);
    int err = pthread_create(&c->tid, NULL, call_main, c);
    KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
    return c;
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

/* Joins a call that has returned and frees it; its result, and in *item (if
 * not NULL) what it got, in *took_ms (if not NULL) how long it ran. */
static int call_end(struct call *c, long *item, long *took_ms)
{
    if (pthread_join(c->tid, NULL) != 0)
        abort();
    int rc = c->rc;
    if (item)
        *item = c->item;
    if (took_ms)
        *took_ms = c->end_ms - c->start_ms;
    free(c);
    return rc;
}

/* Gives up on a call stuck in bqueue.c: its thread keeps c (and the queue). */
static void call_abandon(struct call *c)
{
    if (pthread_detach(c->tid) != 0)
        abort();
}

/* Waits for a call that may now return (`why` says why it may); ends the
 * test if it is still waiting after PROMPT_MS. */
static int call_finish(struct call *c, long *item, long *took_ms, const char *why)
{
    if (!call_wait(c, scaled(PROMPT_MS))) {
        enum op op = c->op;
        call_abandon(c);
        KIT_REQUIRE(false, "%s was still waiting %ld ms after %s: a waiting thread must be "
                    "woken when what it waits for happens (signal or broadcast the "
                    "condition variable it sleeps on, and wait in a loop)", op_name(op),
                    scaled(PROMPT_MS), why);
    }
    return call_end(c, item, took_ms);
}

/* Makes a call that must not wait (`why` says why) and returns its result. */
static int call_now(bqueue_t *q, enum op op, long *item, long timeout_ms, const char *why)
{
    struct call *c = call_start(q, op, item ? *item : 0, timeout_ms);
    return call_finish(c, item, NULL, why);
}

/* Makes a call that must give up soon (timeout_ms is 0 or short, and
 * nothing will change) and returns its result. */
static int timed_call(bqueue_t *q, enum op op, long *item, long timeout_ms)
{
    struct call *c = call_start(q, op, item ? *item : 0, timeout_ms);
    if (!call_wait(c, timeout_ms + scaled(PROMPT_MS))) {
        call_abandon(c);
        KIT_REQUIRE(false, "%s(..., %ld) on a queue that stays %s was still waiting %ld ms "
                    "later: %s", op_name(op), timeout_ms, op == OP_PUT ? "full" : "empty",
                    timeout_ms + scaled(PROMPT_MS), timeout_ms == 0
                    ? "a time-out of 0 tries once and gives up at once with EAGAIN"
                    : "a time-out > 0 waits at most that long, then gives up with ETIMEDOUT "
                      "(pthread_cond_timedwait needs an absolute deadline, read from the "
                      "clock the condition variable uses)");
    }
    return call_end(c, item, NULL);
}

/* Ends the test unless c is still waiting: it must, since `why`. */
static void require_waiting(struct call *c, const char *why)
{
    kit_sleep_ms(BLOCKED_MS);
    if (atomic_load(&c->returned)) {
        enum op op = c->op;
        int rc = call_end(c, NULL, NULL);
        KIT_REQUIRE(false, "%s returned %d (%s) within %ld ms although %s: it must wait "
                    "until another thread acts", op_name(op), rc, err_name(rc),
                    BLOCKED_MS, why);
    }
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
 * stall_ms first: *stop is then set, and the threads still running are
 * detached and left behind with arg (which must stay allocated). */
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
    long last = atomic_load(progress), last_change = kit_now_ms();
    while (all_done && atomic_load(&c->finished) < n) {
        kit_sleep_ms(2);
        long p = atomic_load(progress);
        if (p != last) {
            last = p;
            last_change = kit_now_ms();
        } else if (kit_now_ms() - last_change > (atomic_load(stop) ? 200 : stall_ms)) {
            all_done = false;   /* stuck, or asked to stop and still not finished */
        }
    }
    if (!all_done) {
        atomic_store(stop, true);
        kit_sleep_ms(20);   /* let the threads that can stop, stop */
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

/* The first problem a worker thread found, reported by the test's thread;
 * finding one also tells the other workers to stop. */
struct finding {
    atomic_bool claimed;
    atomic_bool stop;
    char text[600];
};

__attribute__((format(printf, 2, 3)))
static void found(struct finding *f, const char *fmt, ...)
{
    bool no = false;
    if (atomic_compare_exchange_strong(&f->claimed, &no, true)) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(f->text, sizeof f->text, fmt, ap);
        va_end(ap);
    }
    atomic_store(&f->stop, true);
}

static bool has_finding(struct finding *f)
{
    return atomic_load(&f->claimed);
}

/* Checked by the thread that just used q: the queue never holds more than
 * maxsize (a size_t count that went below 0 shows as a huge size too). */
static void check_size(bqueue_t *q, size_t maxsize, struct finding *f, const char *after)
{
    size_t size = bq_size(q);
    if (size > maxsize)
        found(f, "bq_size said %zu right after %s on a queue of maxsize %zu: %s", size,
              after, maxsize, size > maxsize + 1000 ? "the count went below 0 and wrapped "
              "around (a get took from an empty queue: a woken thread must check the "
              "queue again, `while` not `if`)" : "a put added to a full queue (a woken "
              "putter must check again that there is room, `while` not `if`)");
}

/* ---- One thread ---- */

static void test_create_with_maxsize_0_fails_with_einval(void)
{
    errno = 0;
    bqueue_t *q = bq_create(0);
    int err = errno;
    KIT_CHECK(q == NULL, "bq_create(0) returned a queue: a queue that can hold nothing "
              "would block every put for ever, so it must return NULL with errno EINVAL");
    if (q) {
        bq_destroy(q);
        return;
    }
    KIT_CHECK(err == EINVAL, "bq_create(0) returned NULL but errno is %d (%s), expected "
              "EINVAL (%d): set errno = EINVAL before returning NULL", err, strerror(err),
              EINVAL);
}

static void test_items_come_out_in_put_order_and_size_follows(void)
{
    static const size_t sizes[] = { 1, 3, 64 };
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t maxsize = sizes[s];
        bqueue_t *q = new_queue(maxsize);
        long next_put = 0, next_get = 0;
        /* Fill, half-empty, refill... so that the ring wraps around many times. */
        for (int round = 0; round < 20; round++) {
            while (next_put - next_get < (long)maxsize) {
                int err = bq_put(q, next_put * 7 - 3, round % 2 ? -1 : 1000);
                KIT_REQUIRE(err == 0, "bq_put on a queue of maxsize %zu holding %ld items "
                            "returned %d (%s), expected 0", maxsize, next_put - next_get,
                            err, err_name(err));
                next_put++;
                KIT_REQUIRE(bq_size(q) == (size_t)(next_put - next_get), "after a put, "
                            "bq_size says %zu, expected %ld", bq_size(q), next_put - next_get);
            }
            long keep = round % 3 == 0 ? 0 : (long)maxsize / 2;
            while (next_put - next_get > keep) {
                long item = 12345;
                int err = bq_get(q, &item, round % 2 ? 1000 : -1);
                KIT_REQUIRE(err == 0, "bq_get on a queue holding %ld items returned %d (%s), "
                            "expected 0", next_put - next_get, err, err_name(err));
                KIT_REQUIRE(item == next_get * 7 - 3, "bq_get gave %ld, expected %ld (put "
                            "number %ld): items come out in the order they were put, the "
                            "oldest first (maxsize %zu)", item, next_get * 7 - 3, next_get,
                            maxsize);
                next_get++;
                KIT_REQUIRE(bq_size(q) == (size_t)(next_put - next_get), "after a get, "
                            "bq_size says %zu, expected %ld", bq_size(q), next_put - next_get);
            }
        }
        bq_destroy(q);
    }
}

static void test_try_once_on_full_or_empty_is_eagain_and_changes_nothing(void)
{
    bqueue_t *q = new_queue(3);
    long item = 77;
    int err = timed_call(q, OP_GET, &item, 0);
    KIT_CHECK(err == EAGAIN, "bq_get(q, &item, 0) on an empty queue returned %d (%s), "
              "expected EAGAIN: a time-out of 0 tries once (queue.Empty)", err, err_name(err));
    KIT_CHECK(item == 77, "a bq_get that found the queue empty changed *item to %ld: leave "
              "it alone", item);
    for (long i = 1; i <= 3; i++) {
        err = bq_put(q, i, 0);
        KIT_REQUIRE(err == 0, "bq_put(q, %ld, 0) with room in the queue returned %d (%s), "
                    "expected 0", i, err, err_name(err));
    }
    for (int again = 0; again < 3; again++) {
        err = timed_call(q, OP_PUT, NULL, 0);
        KIT_REQUIRE(err == EAGAIN, "bq_put(q, item, 0) on a full queue (maxsize 3) returned "
                    "%d (%s), expected EAGAIN: a time-out of 0 tries once (queue.Full)",
                    err, err_name(err));
    }
    KIT_CHECK_EQ(3, bq_size(q), "bq_size after refused puts on a full queue of 3");
    err = timed_call(q, OP_PUT, NULL, 1);
    KIT_CHECK(err == ETIMEDOUT, "bq_put(q, item, 1) on a full queue that stays full returned "
              "%d (%s), expected ETIMEDOUT (it waited 1 ms in vain)", err, err_name(err));
    for (long i = 1; i <= 3; i++) {
        err = bq_get(q, &item, 0);
        KIT_REQUIRE(err == 0 && item == i, "bq_get(q, &item, 0) returned %d (%s) with item "
                    "%ld, expected 0 with %ld: a refused put must not change the queue",
                    err, err_name(err), item, i);
    }
    err = timed_call(q, OP_GET, NULL, 1);
    KIT_CHECK(err == ETIMEDOUT, "bq_get(q, &item, 1) on a queue that stays empty returned "
              "%d (%s), expected ETIMEDOUT", err, err_name(err));
    KIT_CHECK_EQ(0, bq_size(q), "bq_size of an emptied queue");
    bq_destroy(q);
}

static void test_task_done_once_too_often_is_einval_and_changes_nothing(void)
{
    bqueue_t *q = new_queue(4);
    int err = bq_task_done(q);
    KIT_CHECK(err == EINVAL, "bq_task_done on a new queue returned %d (%s), expected "
              "EINVAL: nothing was put, so nothing can be done (Python raises ValueError)",
              err, err_name(err));
    for (long i = 0; i < 3; i++)
        KIT_REQUIRE(bq_put(q, i, -1) == 0, "bq_put failed");
    for (int i = 0; i < 3; i++) {
        err = bq_task_done(q);
        KIT_REQUIRE(err == 0, "bq_task_done number %d after 3 puts returned %d (%s), "
                    "expected 0", i + 1, err, err_name(err));
    }
    err = bq_task_done(q);
    KIT_CHECK(err == EINVAL, "a 4th bq_task_done after 3 puts returned %d (%s), expected "
              "EINVAL", err, err_name(err));
    /* The refused call changed nothing: one more put needs exactly one more task_done. */
    KIT_REQUIRE(bq_put(q, 9, -1) == 0, "bq_put failed");
    struct call *j = call_start(q, OP_JOIN, 0, -1);
    require_waiting(j, "one item put is not done (a refused bq_task_done must not lower "
                    "the count of unfinished items below 0)");
    KIT_REQUIRE(bq_task_done(q) == 0, "bq_task_done for the last put failed");
    call_finish(j, NULL, NULL, "the last unfinished item was marked done");
    bq_destroy(q);
}

static void test_task_done_may_come_before_the_matching_get(void)
{
    bqueue_t *q = new_queue(4);
    KIT_REQUIRE(bq_put(q, 1, -1) == 0 && bq_put(q, 2, -1) == 0, "bq_put failed");
    int err = bq_task_done(q);
    KIT_CHECK(err == 0, "bq_task_done after 2 puts and no get returned %d (%s), expected 0: "
              "task_done counts puts, not gets", err, err_name(err));
    err = bq_task_done(q);
    KIT_CHECK(err == 0, "a 2nd bq_task_done after 2 puts and no get returned %d (%s), "
              "expected 0", err, err_name(err));
    err = call_now(q, OP_JOIN, NULL, -1, "both items put were marked done (the queue still "
                   "holds them, but join waits for task_done calls, not for gets)");
    KIT_CHECK_EQ(0, err, "bq_join");
    KIT_CHECK_EQ(2, bq_size(q), "bq_size: task_done takes nothing out of the queue");
    bq_destroy(q);
}

static void test_join_returns_at_once_when_nothing_is_unfinished(void)
{
    bqueue_t *q = new_queue(2);
    KIT_CHECK_EQ(0, call_now(q, OP_JOIN, NULL, -1, "nothing was ever put"), "bq_join");
    KIT_REQUIRE(bq_put(q, 5, -1) == 0 && bq_task_done(q) == 0, "bq_put or bq_task_done failed");
    KIT_CHECK_EQ(0, call_now(q, OP_JOIN, NULL, -1, "the one item put was marked done"),
                 "bq_join");
    bq_destroy(q);
}

/* ---- Two threads: waiting, time-outs, joins ---- */

static void test_get_blocks_while_empty_until_a_put(void)
{
    static const long timeouts[] = { -1, 60000 };
    for (size_t k = 0; k < 2; k++) {
        bqueue_t *q = new_queue(2);
        struct call *c = call_start(q, OP_GET, 0, timeouts[k]);
        require_waiting(c, "the queue is empty");
        KIT_REQUIRE(bq_put(q, 42, -1) == 0, "bq_put on an empty queue failed");
        long item = 0;
        int err = call_finish(c, &item, NULL, "an item was put");
        KIT_CHECK(err == 0 && item == 42, "bq_get(q, &item, %ld) waiting on an empty queue "
                  "returned %d (%s) with item %ld once 42 was put, expected 0 and 42",
                  timeouts[k], err, err_name(err), item);
        KIT_CHECK_EQ(0, bq_size(q), "bq_size once the waiting get took the item");
        bq_destroy(q);
    }
}

static void test_put_blocks_while_full_until_a_get(void)
{
    static const long timeouts[] = { -1, 60000 };
    for (size_t k = 0; k < 2; k++) {
        bqueue_t *q = new_queue(2);
        KIT_REQUIRE(bq_put(q, 1, -1) == 0 && bq_put(q, 2, -1) == 0, "bq_put failed");
        struct call *c = call_start(q, OP_PUT, 3, timeouts[k]);
        require_waiting(c, "the queue is full (maxsize 2, 2 items)");
        KIT_CHECK_EQ(2, bq_size(q), "bq_size while a put waits on a full queue of 2");
        long item = 0;
        KIT_REQUIRE(bq_get(q, &item, -1) == 0 && item == 1, "bq_get on a full queue gave "
                    "%ld, expected 1", item);
        int err = call_finish(c, NULL, NULL, "a get made room");
        KIT_CHECK(err == 0, "bq_put(q, 3, %ld) waiting on a full queue returned %d (%s) once "
                  "a get made room, expected 0", timeouts[k], err, err_name(err));
        for (long want = 2; want <= 3; want++) {
            KIT_REQUIRE(bq_get(q, &item, 0) == 0 && item == want, "after the waiting put "
                        "went in, bq_get gave %ld, expected %ld", item, want);
        }
        bq_destroy(q);
    }
}

/* Both sides of a time-out: the queue stays empty (or full) for longer than
 * asked, so the call must give up with ETIMEDOUT no earlier than asked; a
 * helper ends the wait much later if it never gives up. */
static void test_timed_put_and_get_give_up_with_etimedout_no_earlier_than_asked(void)
{
    static const long timeouts[] = { 1, 30, 120 };
    const long late = scaled(PROMPT_MS);
    for (int put = 0; put <= 1; put++)
        for (size_t k = 0; k < sizeof timeouts / sizeof timeouts[0]; k++) {
            long t = timeouts[k];
            bqueue_t *q = new_queue(1);
            if (put)
                KIT_REQUIRE(bq_put(q, 1, -1) == 0, "bq_put failed");
            struct call *c = call_start(q, put ? OP_PUT : OP_GET, 5, t);
            if (!call_wait(c, t + late)) {
                long item;  /* rescue it: make room, or put an item */
                KIT_REQUIRE(put ? bq_get(q, &item, -1) == 0 : bq_put(q, 9, -1) == 0,
                            "rescuing a stuck call failed");
                call_finish(c, NULL, NULL, "the rescue");
                KIT_REQUIRE(false, "%s(..., %ld) on a queue that stayed %s was still "
                            "waiting %ld ms later: a time-out > 0 waits at most that long, "
                            "then returns ETIMEDOUT (pthread_cond_timedwait with an absolute "
                            "deadline on the clock of the condition variable)",
                            put ? "bq_put" : "bq_get", t, put ? "full" : "empty", t + late);
            }
            long took;
            int err = call_end(c, NULL, &took);
            KIT_CHECK(err == ETIMEDOUT, "%s(..., %ld) on a queue that stayed %s returned %d "
                      "(%s), expected ETIMEDOUT", put ? "bq_put" : "bq_get", t,
                      put ? "full" : "empty", err, err_name(err));
            KIT_CHECK(took >= t - 1, "%s(..., %ld) gave up after %ld ms, before its time-out "
                      "(was the deadline relative instead of absolute, or on another clock?)",
                      put ? "bq_put" : "bq_get", t, took);
            KIT_CHECK_EQ(put, bq_size(q), "bq_size after a call that timed out");
            bq_destroy(q);
            if (CU_get_number_of_failures() > 0)
                return;
        }
}

/* The other side: what it waits for comes well before the deadline. */
static void test_timed_put_and_get_succeed_when_another_thread_acts_in_time(void)
{
    for (int put = 0; put <= 1; put++) {
        bqueue_t *q = new_queue(1);
        if (put)
            KIT_REQUIRE(bq_put(q, 1, -1) == 0, "bq_put failed");
        struct call *c = call_start(q, put ? OP_PUT : OP_GET, 5, scaled(5000));
        require_waiting(c, put ? "the queue is full and its time-out is 5 s"
                               : "the queue is empty and its time-out is 5 s");
        long item = 0;
        KIT_REQUIRE(put ? bq_get(q, &item, -1) == 0 : bq_put(q, 8, -1) == 0,
                    "the other thread's call failed");
        long took;
        int err = call_finish(c, &item, &took, put ? "a get made room" : "an item was put");
        KIT_CHECK(err == 0, "%s(..., 5000) returned %d (%s) after %ld ms although another "
                  "thread %s after %ld ms, expected 0: a timed wait must also wake up "
                  "when signalled", put ? "bq_put" : "bq_get", err, err_name(err), took,
                  put ? "made room" : "put an item", BLOCKED_MS);
        if (!put)
            KIT_CHECK(item == 8, "the timed bq_get gave %ld, expected 8", item);
        bq_destroy(q);
    }
}

/* A try-once must not wait: a helper makes room (or puts) after a long time,
 * to end a call that waits anyway. */
static void test_try_once_never_waits(void)
{
    for (int put = 0; put <= 1; put++) {
        bqueue_t *q = new_queue(1);
        if (put)
            KIT_REQUIRE(bq_put(q, 1, -1) == 0, "bq_put failed");
        struct call *c = call_start(q, put ? OP_PUT : OP_GET, 5, 0);
        if (!call_wait(c, scaled(1000))) {
            long item;
            KIT_REQUIRE(put ? bq_get(q, &item, -1) == 0 : bq_put(q, 9, -1) == 0,
                        "rescuing a stuck call failed");
            call_finish(c, NULL, NULL, "the rescue");
            KIT_REQUIRE(false, "%s(..., 0) on a %s queue was still waiting after %ld ms: a "
                        "time-out of 0 tries once and returns EAGAIN at once",
                        put ? "bq_put" : "bq_get", put ? "full" : "empty", scaled(1000));
        }
        int err = call_end(c, NULL, NULL);
        KIT_CHECK(err == EAGAIN, "%s(..., 0) on a %s queue returned %d (%s), expected EAGAIN",
                  put ? "bq_put" : "bq_get", put ? "full" : "empty", err, err_name(err));
        bq_destroy(q);
    }
}

static void test_join_waits_for_every_task_done_not_for_an_empty_queue(void)
{
    bqueue_t *q = new_queue(4);
    for (long i = 0; i < 3; i++)
        KIT_REQUIRE(bq_put(q, i, -1) == 0, "bq_put failed");
    long item;
    for (int i = 0; i < 3; i++)
        KIT_REQUIRE(bq_get(q, &item, -1) == 0, "bq_get failed");
    struct call *j = call_start(q, OP_JOIN, 0, -1);
    require_waiting(j, "3 items were put and taken but none was marked done (join waits "
                    "for task_done, not for an empty queue)");
    for (int i = 0; i < 2; i++) {
        KIT_REQUIRE(bq_task_done(q) == 0, "bq_task_done failed");
        require_waiting(j, "one of the 3 items put is still not marked done");
    }
    KIT_REQUIRE(bq_task_done(q) == 0, "bq_task_done failed");
    KIT_CHECK_EQ(0, call_finish(j, NULL, NULL, "the last item was marked done"), "bq_join");
    bq_destroy(q);
}

static void test_last_task_done_wakes_every_joiner(void)
{
    enum { JOINERS = 4 };
    for (int round = 0; round < 2; round++) {
        bqueue_t *q = new_queue(2);
        KIT_REQUIRE(bq_put(q, 1, -1) == 0 && bq_put(q, 2, -1) == 0, "bq_put failed");
        struct call *j[JOINERS];
        for (int i = 0; i < JOINERS; i++)
            j[i] = call_start(q, OP_JOIN, 0, -1);
        require_waiting(j[0], "2 items put are not done");
        for (int i = 1; i < JOINERS; i++)
            KIT_REQUIRE(!atomic_load(&j[i]->returned), "bq_join returned although 2 items "
                        "put are not done");
        KIT_REQUIRE(bq_task_done(q) == 0 && bq_task_done(q) == 0, "bq_task_done failed");
        int woken = 0;
        for (int i = 0; i < JOINERS; i++) {
            if (call_wait(j[i], scaled(PROMPT_MS))) {
                call_end(j[i], NULL, NULL);
                woken++;
            } else {
                call_abandon(j[i]);     /* keeps q: not destroyed below */
            }
        }
        KIT_REQUIRE(woken == JOINERS, "%d threads waited in bq_join; when the last item was "
                    "marked done only %d of them returned: the task_done that brings the "
                    "count to 0 must wake every joiner (pthread_cond_broadcast, not "
                    "pthread_cond_signal, which wakes one)", JOINERS, woken);
        bq_destroy(q);
    }
}

/* Several threads sleep in bq_get (or bq_put); then items (or room) arrive in
 * a burst: every one of them must wake. */
static void test_every_sleeping_thread_wakes_when_a_burst_arrives(void)
{
    enum { SLEEPERS = 6, MAXSIZE = 3 };
    for (int put = 0; put <= 1; put++) {
        bqueue_t *q = new_queue(MAXSIZE);
        for (long i = 0; put && i < MAXSIZE; i++)
            KIT_REQUIRE(bq_put(q, -1 - i, -1) == 0, "bq_put failed");
        struct call *c[SLEEPERS];
        for (int i = 0; i < SLEEPERS; i++)
            c[i] = call_start(q, put ? OP_PUT : OP_GET, 100 + i, -1);
        kit_sleep_ms(BLOCKED_MS);   /* let them all fall asleep */
        /* The burst: as fast as possible, MAXSIZE at a time. */
        long item, got = 0;
        for (int i = 0; i < SLEEPERS + (put ? MAXSIZE : 0); i++) {
            int err = put ? bq_get(q, &item, scaled(PROMPT_MS))
                          : bq_put(q, 100 + i, scaled(PROMPT_MS));
            if (err != 0)
                break;
            got++;
        }
        int woken = 0;
        for (int i = 0; i < SLEEPERS; i++) {
            if (call_wait(c[i], scaled(PROMPT_MS))) {
                call_end(c[i], NULL, NULL);
                woken++;
            } else {
                call_abandon(c[i]);
            }
        }
        KIT_REQUIRE(woken == SLEEPERS, "%d threads slept in %s on a%s queue of maxsize %d; "
                    "then %s in a burst, and only %d of them returned: a lost wake-up. "
                    "Every %s must signal (not only when the queue was %s: two of them can "
                    "come before the first woken thread runs)", SLEEPERS,
                    put ? "bq_put" : "bq_get", put ? " full" : "n empty", MAXSIZE,
                    put ? "another thread took every item" : "another thread put one item "
                    "for each", woken, put ? "get" : "put", put ? "full" : "empty");
        KIT_CHECK(got == SLEEPERS + (put ? MAXSIZE : 0), "the burst's own calls timed out "
                  "after %ld calls", got);
        bq_destroy(q);
    }
}

/* ---- Producers and consumers ---- */

static long encode(int p, long k)
{
    return (p + 1) * STRIDE + k;
}

/* True if v is producer *p's item *k, for one of nproducers producers. */
static bool decode(long v, int nproducers, long per, int *p, long *k)
{
    if (v < STRIDE || v / STRIDE > nproducers || v % STRIDE >= per)
        return false;
    *p = (int)(v / STRIDE) - 1;
    *k = v % STRIDE;
    return true;
}

/* A time-out for the i-th call of thread t: every kind, mixed. Under a race
 * detector, no timed waits: glibc's pthread_cond_timedwait, when it times out
 * just as another thread signals, passes the signal on itself without the
 * mutex, which helgrind reports against the caller's code. */
static long some_timeout(int t, long i)
{
    switch ((t + i) % (kit_race_mode() ? 2 : 4)) {
    case 0: return -1;
    case 1: return 0;
    case 2: return 1 + (t + i) % 3;
    default: return -1;
    }
}

struct traffic {
    bqueue_t *q;
    size_t maxsize;
    int producers, consumers;
    long per;                   /* items per producer */
    atomic_int producing;       /* producers not finished */
    atomic_long progress;       /* puts and gets so far */
    atomic_long taken;
    atomic_uchar *seen;         /* producers * per flags */
    struct finding problem;
};

/* Puts with retries: a put that gives up (EAGAIN, ETIMEDOUT) tries again. */
static bool put_retrying(struct traffic *t, int who, long i, long item)
{
    for (long attempt = 0;; attempt++) {
        long timeout = some_timeout(who, i + attempt);
        int err = bq_put(t->q, item, timeout);
        if (err == 0)
            return true;
        if ((err == EAGAIN && timeout == 0) || (err == ETIMEDOUT && timeout > 0)) {
            if (atomic_load(&t->problem.stop))
                return false;
            sched_yield();
            continue;
        }
        found(&t->problem, "bq_put(q, item, %ld) returned %d (%s)%s", timeout, err,
              err_name(err), err == EAGAIN || err == ETIMEDOUT ? ": EAGAIN is for a time-out "
              "of 0, ETIMEDOUT for a time-out > 0, and a time-out < 0 never gives up" : "");
        return false;
    }
}

static void traffic_producer(int p, struct traffic *t)
{
    for (long k = 0; k < t->per; k++) {
        if (!put_retrying(t, p, k, encode(p, k)))
            return;
        atomic_fetch_add(&t->progress, 1);
        check_size(t->q, t->maxsize, &t->problem, "a bq_put");
    }
    /* The last producer to finish sends every consumer its sentinel. */
    if (atomic_fetch_sub(&t->producing, 1) == 1)
        for (int c = 0; c < t->consumers; c++)
            if (!put_retrying(t, p, c, BQ_SENTINEL))
                return;
}

static void traffic_consumer(int c, struct traffic *t)
{
    long last[MAX_THREADS];
    for (int p = 0; p < t->producers; p++)
        last[p] = -1;
    for (long i = 0; !atomic_load(&t->problem.stop); i++) {
        long timeout = some_timeout(c + 1, i), item = 0;
        int err = bq_get(t->q, &item, timeout);
        if ((err == EAGAIN && timeout == 0) || (err == ETIMEDOUT && timeout > 0)) {
            sched_yield();
            continue;
        }
        if (err != 0) {
            found(&t->problem, "bq_get(q, &item, %ld) returned %d (%s)", timeout, err,
                  err_name(err));
            return;
        }
        atomic_fetch_add(&t->progress, 1);
        check_size(t->q, t->maxsize, &t->problem, "a bq_get");
        if (item == BQ_SENTINEL)
            return;
        int p;
        long k;
        if (!decode(item, t->producers, t->per, &p, &k)) {
            found(&t->problem, "a consumer got %ld, an item nobody put: a get read a slot of "
                  "the ring that holds no item (count and head out of step)", item);
            return;
        }
        if (atomic_fetch_add(&t->seen[p * t->per + k], 1) != 0) {
            found(&t->problem, "producer %d's item #%ld was taken twice: a get took from an "
                  "empty queue, or two gets took the same slot", p, k);
            return;
        }
        if (k <= last[p]) {
            found(&t->problem, "a consumer got producer %d's item #%ld after its item #%ld: "
                  "items must come out in the order they were put (FIFO)", p, k, last[p]);
            return;
        }
        last[p] = k;
        atomic_fetch_add(&t->taken, 1);
    }
}

static void traffic_worker(int i, void *arg)
{
    struct traffic *t = arg;
    if (i < t->consumers)
        traffic_consumer(i, t);
    else
        traffic_producer(i - t->consumers, t);
}

/* One round; false when it failed. */
static bool run_traffic(struct traffic *t, int producers, int consumers, size_t maxsize,
                        long per)
{
    memset(t, 0, sizeof *t);
    t->q = new_queue(maxsize);
    t->maxsize = maxsize;
    t->producers = producers;
    t->consumers = consumers;
    t->per = per;
    t->seen = calloc((size_t)(producers * per), sizeof *t->seen);
    KIT_REQUIRE(t->seen != NULL, "test harness: out of memory");
    atomic_init(&t->producing, producers);
    bool done = run_watched(producers + consumers, traffic_worker, t, &t->progress,
                            &t->problem.stop, scaled(STALL_MS));
    long total = producers * per;
    KIT_CHECK(!has_finding(&t->problem), "%d producers, %d consumers, maxsize %zu: %s",
              producers, consumers, maxsize, t->problem.text);
    if (!done && has_finding(&t->problem))
        return false;   /* stuck threads keep t->seen and the queue */
    if (!done) {
        KIT_CHECK(false, "%d producers and %d consumers sharing a queue of maxsize %zu made "
                  "no progress for %ld ms, with %ld of %ld items taken and bq_size %zu: "
                  "threads sleep although they could go on (a lost wake-up: each put must "
                  "wake a waiting getter and each get a waiting putter; with a single "
                  "condition variable for both, signal may wake the wrong kind of thread: "
                  "broadcast)", producers, consumers, maxsize, scaled(STALL_MS),
                  atomic_load(&t->taken), total, bq_size(t->q));
        return false;   /* stuck threads keep t->seen and the queue */
    }
    KIT_CHECK(atomic_load(&t->taken) == total, "%d producers put %ld items each, but the "
              "consumers took %ld items: items were lost (overwritten in the ring?)",
              producers, per, atomic_load(&t->taken));
    KIT_CHECK_EQ(0, bq_size(t->q), "bq_size once every item and sentinel was taken");
    bq_destroy(t->q);
    free(t->seen);
    return CU_get_number_of_failures() == 0;
}

static void test_producers_and_consumers_lose_nothing_and_keep_fifo_per_producer(void)
{
    static struct traffic t;    /* static: stuck threads may outlive the test */
    static const struct { int producers, consumers; size_t maxsize; long per; } native[] = {
        { 4, 4, 2, 100 }, { 1, 1, 1, 300 }, { 8, 2, 1, 40 }, { 2, 8, 3, 150 },
        { 12, 12, 4, 20 }, { 1, 6, 64, 300 },
    }, race[] = {
        { 2, 2, 1, 15 }, { 3, 2, 2, 10 },
    };
    size_t n = kit_race_mode() ? sizeof race / sizeof race[0] : sizeof native / sizeof native[0];
    long until = kit_now_ms() + 100;
    for (size_t round = 0; round < n || (!kit_race_mode() && kit_now_ms() < until); round++) {
        size_t k = round % n;
        bool ok = kit_race_mode()
                      ? run_traffic(&t, race[k].producers, race[k].consumers, race[k].maxsize,
                                    race[k].per)
                      : run_traffic(&t, native[k].producers, native[k].consumers,
                                    native[k].maxsize, native[k].per);
        if (!ok)
            return;
    }
}

/* ---- Thieves: another thread takes first what a woken thread was woken for ---- */

struct thieves {
    bqueue_t *q;
    size_t maxsize;
    int sleepers, thieves;
    long per;                   /* items per putter (put side) */
    long items;                 /* items in all */
    atomic_long taken;
    atomic_int thieving;        /* thieves still running */
    atomic_bool fed;            /* get side: every item was put and taken */
    atomic_long progress;
    atomic_uchar *seen;         /* items flags */
    struct finding problem;
};

/* Records item v (1..items) as taken by `who`. */
static void take(struct thieves *t, long v, const char *who)
{
    check_size(t->q, t->maxsize, &t->problem, "a bq_get");
    if (v < 1 || v > t->items) {
        found(&t->problem, "%s got %ld, an item nobody put: a get took from an empty "
              "queue (a thread woken in bq_get must check the queue again before taking: "
              "`while`, not `if`)", who, v);
    } else if (atomic_fetch_add(&t->seen[v - 1], 1) != 0) {
        found(&t->problem, "item %ld was taken twice (the second time by %s): a thread "
              "woken in bq_get took from an empty queue after another thread had taken "
              "the item it was woken for: check the queue again after the wait, in a "
              "`while` loop, not an `if`", v, who);
    } else {
        atomic_fetch_add(&t->taken, 1);
        atomic_fetch_add(&t->progress, 1);
    }
}

/* Get side. Thread 0 puts items 1, 2, ... one at a time, each once the last
 * was taken; sleepers wait in bq_get(-1); thieves try bq_get(0) all the
 * time, so they often take an item between its put's signal and the moment
 * the woken sleeper runs. */
static void get_side_worker(int i, void *arg)
{
    struct thieves *t = arg;
    long v;
    if (i == 0) {
        for (long item = 1; item <= t->items; item++) {
            if (bq_put(t->q, item, -1) != 0)
                found(&t->problem, "bq_put(q, item, -1) failed");
            atomic_fetch_add(&t->progress, 1);
            while (atomic_load(&t->taken) < item && !atomic_load(&t->problem.stop))
                sched_yield();
            if (atomic_load(&t->problem.stop))
                return;
        }
        atomic_store(&t->fed, true);
        while (atomic_load(&t->thieving) > 0)
            sched_yield();
        for (int s = 0; s < t->sleepers; s++)   /* now wake the sleepers for good */
            if (bq_put(t->q, BQ_SENTINEL, -1) != 0)
                found(&t->problem, "bq_put(q, BQ_SENTINEL, -1) failed");
    } else if (i <= t->sleepers) {
        while (!atomic_load(&t->problem.stop)) {
            int err = bq_get(t->q, &v, -1);
            if (err != 0) {
                found(&t->problem, "bq_get(q, &item, -1) returned %d (%s): a get that "
                      "waits as long as it takes only returns 0", err, err_name(err));
            } else if (v == BQ_SENTINEL) {
                return;
            } else {
                take(t, v, "a thread sleeping in bq_get(q, &item, -1)");
            }
        }
    } else {
        for (long n = 0; !atomic_load(&t->fed) && !atomic_load(&t->problem.stop); n++) {
            if (bq_get(t->q, &v, 0) == 0)
                take(t, v, "a thread trying bq_get(q, &item, 0)");
            else if (n % 64 == 63)
                sched_yield();
        }
        atomic_fetch_sub(&t->thieving, 1);
    }
}

/* Put side. Putters sleep in bq_put(-1) on a full queue; thieves try
 * bq_put(0) all the time; thread 0 takes the items one by one, so each get's
 * signal wakes a sleeping putter whose slot a thief often fills first. */
static void put_side_worker(int i, void *arg)
{
    struct thieves *t = arg;
    if (i == 0) {
        while (atomic_load(&t->taken) < t->items && !atomic_load(&t->problem.stop)) {
            long v = 0;
            int err = bq_get(t->q, &v, -1);
            if (err != 0) {
                found(&t->problem, "bq_get(q, &item, -1) returned %d (%s): a get that waits "
                      "as long as it takes only returns 0", err, err_name(err));
                return;
            }
            take(t, v, "the thread taking every item");
        }
        return;
    }
    bool thief = i > t->sleepers;
    for (long k = 0; k < t->per && !atomic_load(&t->problem.stop); k++) {
        long item = (i - 1) * t->per + k + 1;
        int err;
        for (long n = 0; (err = bq_put(t->q, item, thief ? 0 : -1)) == EAGAIN && thief; n++) {
            if (atomic_load(&t->problem.stop))
                return;
            if (n % 64 == 63)
                sched_yield();
        }
        if (err != 0) {
            found(&t->problem, "bq_put(q, item, %d) returned %d (%s)", thief ? 0 : -1, err,
                  err_name(err));
            return;
        }
        atomic_fetch_add(&t->progress, 1);
        check_size(t->q, t->maxsize, &t->problem, "a bq_put");
    }
}

static bool run_thieves(struct thieves *t, bool put_side, int sleepers, int thieves, long n)
{
    memset(t, 0, sizeof *t);
    t->maxsize = 1;
    t->q = new_queue(t->maxsize);
    t->sleepers = sleepers;
    t->thieves = thieves;
    t->per = n;
    t->items = put_side ? (sleepers + thieves) * n : n;
    t->seen = calloc((size_t)t->items, sizeof *t->seen);
    KIT_REQUIRE(t->seen != NULL, "test harness: out of memory");
    atomic_init(&t->thieving, thieves);
    bool done = run_watched(1 + sleepers + thieves, put_side ? put_side_worker : get_side_worker,
                            t, &t->progress, &t->problem.stop, scaled(STALL_MS));
    KIT_CHECK(!has_finding(&t->problem), "%d threads sleeping in %s and %d others trying "
              "it with a time-out of 0: %s", sleepers, put_side ? "bq_put" : "bq_get",
              thieves, t->problem.text);
    if (!done) {
        KIT_CHECK(has_finding(&t->problem), "%d threads sleeping in %s and %d others trying "
                  "it with a time-out of 0 made no progress for %ld ms, with %ld of %ld "
                  "items taken: a lost wake-up, or items lost (a woken putter that puts "
                  "into a full queue writes over an item)", sleepers,
                  put_side ? "bq_put" : "bq_get", thieves, scaled(STALL_MS),
                  atomic_load(&t->taken), t->items);
        return false;   /* stuck threads keep t->seen and the queue */
    }
    KIT_CHECK_EQ(t->items, atomic_load(&t->taken), "items taken");
    bq_destroy(t->q);
    free(t->seen);
    return CU_get_number_of_failures() == 0;
}

static void test_woken_getters_wait_again_when_a_thief_took_the_item(void)
{
    static struct thieves t;    /* static: stuck threads may outlive the test */
    long until = kit_now_ms() + 60;
    for (int round = 0; round < 2 || kit_now_ms() < until; round++) {
        if (!run_thieves(&t, false, round % 2 ? 4 : 2, 1, kit_scale(200, 20)))
            return;
        if (kit_race_mode())
            return;
    }
}

static void test_woken_putters_wait_again_when_a_thief_filled_the_slot(void)
{
    static struct thieves t;
    long until = kit_now_ms() + 60;
    for (int round = 0; round < 2 || kit_now_ms() < until; round++) {
        if (!run_thieves(&t, true, round % 2 ? 4 : 2, 1, kit_scale(60, 8)))
            return;
        if (kit_race_mode())
            return;
    }
}

/* ---- The pipeline ---- */

/* One bq_run_pipeline call and what its consume calls saw. Static and never
 * freed while a stuck pipeline may still use it. */
struct pipe_run {
    int nproducers, nconsumers;
    size_t maxsize, n;
    bool null_items, null_consume;
    long *items;
    atomic_uchar *count;        /* n: consume calls per item */
    unsigned id;                /* this run, for the consumers' thread-local state */
    pthread_t caller;           /* the thread that called bq_run_pipeline */
    atomic_long calls, in_consume, sentinels, bad, from_caller, disorder;
    atomic_long calls_at_return, in_consume_at_return;
    pthread_mutex_t tids_lock;
    pthread_t tids[MAX_THREADS + 1];    /* distinct threads that called consume */
    int ntids;                          /* guarded by tids_lock */
    int rc;
    atomic_bool returned;
};

static long pipe_item(size_t i)
{
    return 10 * (long)i + 7;
}

/* A consumer thread's last item from each producer, for this run. */
static _Thread_local unsigned tl_run;
static _Thread_local long tl_last[MAX_THREADS];

static void consume(long item, void *arg)
{
    struct pipe_run *r = arg;
    atomic_fetch_add(&r->in_consume, 1);
    if (pthread_equal(pthread_self(), r->caller))
        atomic_fetch_add(&r->from_caller, 1);
    if (tl_run != r->id) {
        tl_run = r->id;
        for (int p = 0; p < MAX_THREADS; p++)
            tl_last[p] = -1;
        if (pthread_mutex_lock(&r->tids_lock) != 0)
            abort();
        if (r->ntids <= MAX_THREADS)
            r->tids[r->ntids++] = pthread_self();
        if (pthread_mutex_unlock(&r->tids_lock) != 0)
            abort();
    }
    if (item == BQ_SENTINEL) {
        atomic_fetch_add(&r->sentinels, 1);
    } else if (item < 7 || (item - 7) % 10 != 0 || (size_t)((item - 7) / 10) >= r->n) {
        atomic_fetch_add(&r->bad, 1);
    } else {
        size_t i = (size_t)((item - 7) / 10);
        atomic_fetch_add(&r->count[i], 1);
        /* Producer i % nproducers puts its items in increasing i. */
        long p = (long)(i % (size_t)r->nproducers);
        if (p < MAX_THREADS) {
            if ((long)i <= tl_last[p])
                atomic_fetch_add(&r->disorder, 1);
            tl_last[p] = (long)i;
        }
    }
    if (item == pipe_item(r->n - 1))
        kit_sleep_ms(5);    /* the last item takes a while: the pipeline must wait for it */
    if (atomic_fetch_add(&r->calls, 1) % 16 == 15)
        sched_yield();  /* some work takes a while */
    atomic_fetch_sub(&r->in_consume, 1);
}

static void *pipe_main(void *arg)
{
    struct pipe_run *r = arg;
    r->caller = pthread_self();
    r->rc = bq_run_pipeline(r->nproducers, r->nconsumers, r->maxsize,
                            r->null_items ? NULL : r->items, r->n,
                            r->null_consume ? NULL : consume, r);
    atomic_store(&r->calls_at_return, atomic_load(&r->calls));
    atomic_store(&r->in_consume_at_return, atomic_load(&r->in_consume));
    atomic_store(&r->returned, true);
    return NULL;
}

/* Runs bq_run_pipeline in a thread of its own and waits while consume is
 * called; ends the test if it makes no progress for STALL_MS. */
static struct pipe_run *run_pipeline(int nproducers, int nconsumers, size_t maxsize,
                                     size_t n, bool null_items, bool null_consume)
{
    static unsigned runs;
    struct pipe_run *r = calloc(1, sizeof *r);
    KIT_REQUIRE(r != NULL, "test harness: out of memory");
    *r = (struct pipe_run){ .nproducers = nproducers, .nconsumers = nconsumers,
                            .maxsize = maxsize, .n = n, .null_items = null_items,
                            .null_consume = null_consume, .id = ++runs };
    r->items = malloc((n ? n : 1) * sizeof *r->items);
    r->count = calloc(n ? n : 1, sizeof *r->count);
    KIT_REQUIRE(r->items && r->count, "test harness: out of memory");
    for (size_t i = 0; i < n; i++)
        r->items[i] = pipe_item(i);
    if (pthread_mutex_init(&r->tids_lock, NULL) != 0)
        abort();
    pthread_t tid;
    int err = pthread_create(&tid, NULL, pipe_main, r);
    KIT_REQUIRE(err == 0, "test harness: could not start a thread: %s", strerror(err));
    long last = -1, last_change = kit_now_ms();
    while (!atomic_load(&r->returned)) {
        kit_sleep_ms(2);
        long calls = atomic_load(&r->calls);
        if (calls != last) {
            last = calls;
            last_change = kit_now_ms();
        } else if (kit_now_ms() - last_change > scaled(STALL_MS)) {
            if (pthread_detach(tid) != 0)
                abort();
            /* r stays allocated: the stuck pipeline uses it. */
            KIT_REQUIRE(false, "bq_run_pipeline(%d, %d, %zu, items, %zu, consume, arg) made "
                        "no progress for %ld ms, with %ld of %zu items consumed: it waits "
                        "for ever. Each consumer stops at the first sentinel it takes, so it "
                        "needs one BQ_SENTINEL per consumer, put after every producer has "
                        "finished; every item taken, the sentinel too, needs its "
                        "bq_task_done, or bq_join waits for ever", nproducers, nconsumers,
                        maxsize, n, scaled(STALL_MS), calls, n);
        }
    }
    if (pthread_join(tid, NULL) != 0)
        abort();
    return r;
}

static void free_pipeline(struct pipe_run *r)
{
    pthread_mutex_destroy(&r->tids_lock);
    free(r->items);
    free(r->count);
    free(r);
}

/* The checks every successful run must pass. */
static void check_pipeline(struct pipe_run *r)
{
    char call[128];
    snprintf(call, sizeof call, "bq_run_pipeline(%d, %d, %zu, items, %zu, consume, arg)",
             r->nproducers, r->nconsumers, r->maxsize, r->n);
    KIT_REQUIRE(r->rc == 0, "%s returned %d (%s), expected 0", call, r->rc, err_name(r->rc));
    KIT_CHECK(atomic_load(&r->sentinels) == 0, "%s called consume with BQ_SENTINEL %ld "
              "times: a consumer stops at its sentinel, it never consumes it", call,
              atomic_load(&r->sentinels));
    KIT_CHECK(atomic_load(&r->bad) == 0, "%s called consume %ld times with an item that is "
              "not in items[]", call, atomic_load(&r->bad));
    for (size_t i = 0; i < r->n; i++)
        if (atomic_load(&r->count[i]) != 1) {
            KIT_CHECK(false, "%s called consume %d times with items[%zu], expected once: %s",
                      call, (int)atomic_load(&r->count[i]), i,
                      atomic_load(&r->count[i]) ? "an item was put or taken twice"
                                                : "an item was never put, or lost");
            break;
        }
    KIT_CHECK(atomic_load(&r->calls_at_return) == (long)r->n &&
              atomic_load(&r->in_consume_at_return) == 0, "%s returned when %ld of %zu "
              "consume calls had been made and %ld were still running: it must wait until "
              "every item was consumed (bq_join) and every thread has ended", call,
              atomic_load(&r->calls_at_return), r->n, atomic_load(&r->in_consume_at_return));
    KIT_CHECK(atomic_load(&r->from_caller) == 0, "%s called consume %ld times in the calling "
              "thread: the consumer threads consume, the caller only waits and puts the "
              "sentinels", call, atomic_load(&r->from_caller));
    KIT_CHECK(r->ntids <= r->nconsumers, "%s: consume was called from %d different threads, "
              "but there are only %d consumers", call, r->ntids, r->nconsumers);
    KIT_CHECK(atomic_load(&r->disorder) == 0, "%s: a consumer got one producer's items out "
              "of the order it put them %ld times (each producer puts its items in "
              "increasing index, and a queue is first in, first out)", call,
              atomic_load(&r->disorder));
}

static void test_pipeline_consumes_every_item_exactly_once(void)
{
    static const struct { int producers, consumers; size_t maxsize, n; } native[] = {
        { 1, 1, 1, 200 }, { 2, 3, 2, 600 }, { 4, 4, 8, 800 }, { 8, 1, 1, 300 },
        { 1, 8, 4, 400 }, { 3, 2, 3, 1 }, { 16, 16, 2, 500 }, { 2, 2, 100, 10 },
    }, race[] = {
        { 2, 2, 1, 16 }, { 1, 3, 2, 10 },
    };
    size_t n = kit_race_mode() ? sizeof race / sizeof race[0] : sizeof native / sizeof native[0];
    for (size_t k = 0; k < n; k++) {
        struct pipe_run *r = kit_race_mode()
            ? run_pipeline(race[k].producers, race[k].consumers, race[k].maxsize, race[k].n,
                           false, false)
            : run_pipeline(native[k].producers, native[k].consumers, native[k].maxsize,
                           native[k].n, false, false);
        check_pipeline(r);
        free_pipeline(r);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

static void test_pipeline_with_no_items_returns_0(void)
{
    for (int null_items = 0; null_items <= 1; null_items++)
        for (int consumers = 1; consumers <= 4; consumers += 3) {
            struct pipe_run *r = run_pipeline(2, consumers, 1, 0, null_items, false);
            KIT_CHECK(r->rc == 0, "bq_run_pipeline(2, %d, 1, %s, 0, consume, arg) returned %d "
                      "(%s), expected 0: no items is valid (items may be NULL then); the "
                      "consumers just take their sentinels", consumers,
                      null_items ? "NULL" : "items", r->rc, err_name(r->rc));
            check_pipeline(r);
            free_pipeline(r);
        }
}

static void test_pipeline_rejects_bad_arguments(void)
{
    static const struct { int producers, consumers; size_t maxsize; bool null_items, null_consume;
                          const char *call; } cases[] = {
        { 0, 2, 4, false, false, "bq_run_pipeline(0, 2, 4, items, 5, consume, arg)" },
        { -1, 2, 4, false, false, "bq_run_pipeline(-1, 2, 4, items, 5, consume, arg)" },
        { 2, 0, 4, false, false, "bq_run_pipeline(2, 0, 4, items, 5, consume, arg)" },
        { 2, INT_MIN, 4, false, false, "bq_run_pipeline(2, INT_MIN, 4, items, 5, consume, arg)" },
        { 2, 2, 0, false, false, "bq_run_pipeline(2, 2, 0, items, 5, consume, arg)" },
        { 2, 2, 4, true, false, "bq_run_pipeline(2, 2, 4, NULL, 5, consume, arg)" },
        { 2, 2, 4, false, true, "bq_run_pipeline(2, 2, 4, items, 5, NULL, arg)" },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        struct pipe_run *r = run_pipeline(cases[k].producers, cases[k].consumers,
                                          cases[k].maxsize, 5, cases[k].null_items,
                                          cases[k].null_consume);
        KIT_CHECK(r->rc == EINVAL, "%s returned %d (%s), expected EINVAL", cases[k].call,
                  r->rc, err_name(r->rc));
        KIT_CHECK(atomic_load(&r->calls) == 0, "%s called consume %ld times: check the "
                  "arguments before starting anything", cases[k].call, atomic_load(&r->calls));
        free_pipeline(r);
    }
}

/* ---- The tables ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo basic_tests[] = {
    TEST(test_create_with_maxsize_0_fails_with_einval),
    TEST(test_items_come_out_in_put_order_and_size_follows),
    TEST(test_try_once_on_full_or_empty_is_eagain_and_changes_nothing),
    TEST(test_task_done_once_too_often_is_einval_and_changes_nothing),
    TEST(test_task_done_may_come_before_the_matching_get),
    TEST(test_join_returns_at_once_when_nothing_is_unfinished),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo blocking_tests[] = {
    TEST(test_get_blocks_while_empty_until_a_put),
    TEST(test_put_blocks_while_full_until_a_get),
    TEST(test_timed_put_and_get_give_up_with_etimedout_no_earlier_than_asked),
    TEST(test_timed_put_and_get_succeed_when_another_thread_acts_in_time),
    TEST(test_try_once_never_waits),
    TEST(test_join_waits_for_every_task_done_not_for_an_empty_queue),
    TEST(test_last_task_done_wakes_every_joiner),
    TEST(test_every_sleeping_thread_wakes_when_a_burst_arrives),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    TEST(test_producers_and_consumers_lose_nothing_and_keep_fifo_per_producer),
    TEST(test_woken_getters_wait_again_when_a_thief_took_the_item),
    TEST(test_woken_putters_wait_again_when_a_thief_filled_the_slot),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo pipeline_tests[] = {
    TEST(test_pipeline_consumes_every_item_exactly_once),
    TEST(test_pipeline_with_no_items_returns_0),
    TEST(test_pipeline_rejects_bad_arguments),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic_tests },
    { "blocking", NULL, NULL, NULL, NULL, blocking_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    { "pipeline", NULL, NULL, NULL, NULL, pipeline_tests },
    CU_SUITE_INFO_NULL,
};
