/* test_counter.c - tests of exercise 04-race-counter (counter.h).
 *
 * Lost updates are a matter of timing: a racing counter is often right. So
 * the stress tests run every thread count (1, 2, 8, 64) for tens of
 * milliseconds, let the threads check the counter while they work (it must
 * never go down, nor below what the thread itself added), and size the work
 * by time, so that slow but correct code is never failed for being slow. */
#include "kit_test.h"
#include "counter.h"

#include <dirent.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 64

/* Increments a stress worker makes between two looks at the counter. */
#define BATCH 8

/* The thread counts of the stress tests; small ones under a race detector,
 * which needs every pair of accesses once, not volume. */
static const int native_counts[] = { 1, 2, 8, 64 };
static const int race_counts[] = { 2, 4 };

static const int *thread_counts(size_t *n)
{
    if (kit_race_mode()) {
        *n = sizeof race_counts / sizeof race_counts[0];
        return race_counts;
    }
    *n = sizeof native_counts / sizeof native_counts[0];
    return native_counts;
}

static counter_t *new_counter(void)
{
    counter_t *c = counter_create();
    KIT_REQUIRE(c != NULL, "counter_create() returned NULL: it should return a "
                "new counter (NULL only when memory runs out)");
    return c;
}

/* Threads of this process now, from /proc/self/task; -1 if unknown. */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Waits up to 50 ms for the process to be back to `baseline` threads (a
 * joined thread may take a moment to vanish); the count it ends with. */
static int settled_thread_count(int baseline)
{
    int n = thread_count();
    for (int i = 0; i < 50 && n > baseline; i++) {
        kit_sleep_ms(1);
        n = thread_count();
    }
    return n;
}

/* ---- Stress: threads calling counter_increment and counter_get ---- */

enum anomaly { ANOMALY_NONE, ANOMALY_WENT_DOWN, ANOMALY_BELOW_OWN };

/* What worker i saw; written by worker i only, read after the join. */
struct worker_report {
    long done;              /* counter_increment calls it made */
    enum anomaly anomaly;   /* the first broken invariant it saw */
    long before, after;     /* ...its numbers (see check_reports) */
};

struct stress {
    counter_t *counter;
    long stop_ms;           /* native: the workers stop at this time */
    long rounds;            /* race mode: each worker does this many batches */
    pthread_barrier_t start;
    struct worker_report report[MAX_THREADS];
};

static void stress_worker(int i, void *arg)
{
    struct stress *s = arg;
    struct worker_report *r = &s->report[i];
    int err = pthread_barrier_wait(&s->start);
    if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD)
        abort();
    long last_seen = 0;
    for (long round = 0;; round++) {
        if (s->rounds > 0 ? round >= s->rounds : kit_now_ms() >= s->stop_ms)
            break;
        for (int k = 0; k < BATCH; k++)
            counter_increment(s->counter);
        r->done += BATCH;
        /* Nobody decrements and our own increments are finished: the value
         * can only have grown, and it holds at least our own. */
        long seen = counter_get(s->counter);
        if (r->anomaly == ANOMALY_NONE && seen < last_seen)
            *r = (struct worker_report){ r->done, ANOMALY_WENT_DOWN, last_seen, seen };
        else if (r->anomaly == ANOMALY_NONE && seen < r->done)
            *r = (struct worker_report){ r->done, ANOMALY_BELOW_OWN, r->done, seen };
        last_seen = seen;
    }
}

/* Runs n stress workers on c for run_ms (or `rounds` batches each in race
 * mode); the total number of increments they made. One deadline for all:
 * with 64 threads on 2 cores, some first run long after others. */
static long run_stress(struct stress *s, counter_t *c, int n, long run_ms)
{
    memset(s, 0, sizeof *s);
    s->counter = c;
    s->stop_ms = kit_now_ms() + run_ms;
    s->rounds = kit_scale(0, 4);
    if (pthread_barrier_init(&s->start, NULL, (unsigned)n) != 0)
        abort();
    kit_run_threads(n, stress_worker, s);
    if (pthread_barrier_destroy(&s->start) != 0)
        abort();
    long total = 0;
    for (int i = 0; i < n; i++)
        total += s->report[i].done;
    return total;
}

/* Fails the test for the first broken invariant a worker saw. */
static void check_reports(const struct stress *s, int n)
{
    for (int i = 0; i < n; i++) {
        const struct worker_report *r = &s->report[i];
        KIT_CHECK(r->anomaly != ANOMALY_WENT_DOWN,
                  "with %d threads, thread %d saw the counter go DOWN from %ld to "
                  "%ld: a thread wrote back a value it had read before other "
                  "threads' increments, wiping them out (lost updates)",
                  n, i, r->before, r->after);
        KIT_CHECK(r->anomaly != ANOMALY_BELOW_OWN,
                  "with %d threads, thread %d had itself made %ld increments, then "
                  "counter_get said %ld: another thread overwrote its increments "
                  "with an older value plus 1 (lost updates)",
                  n, i, r->before, r->after);
        if (r->anomaly != ANOMALY_NONE)
            return;     /* one example is enough */
    }
}

static void test_increment_from_many_threads_loses_nothing(void)
{
    static struct stress s;     /* static: too big for a thread's stack */
    size_t ncounts;
    const int *counts = thread_counts(&ncounts);
    for (size_t k = 0; k < ncounts; k++) {
        int n = counts[k];
        counter_t *c = new_counter();
        /* One thread cannot race with itself: a short run is enough. */
        long total = run_stress(&s, c, n, n == 1 ? 10 : 60);
        long got = counter_get(c);
        KIT_CHECK(got == total,
                  "lost updates with %d threads: they called counter_increment %ld "
                  "times in all, but counter_get says %ld (%ld lost). Two threads "
                  "read the same old value and both wrote back old+1: the read, the "
                  "add and the write must be one step for other threads, under a "
                  "lock every thread takes for this counter (or one atomic "
                  "operation)", n, total, got, total - got);
        check_reports(&s, n);
        counter_destroy(c);
        if (got != total)
            return;
    }
}

/* ---- count_in_parallel ---- */

/* Most increments one count_in_parallel call of the tests asks for. */
#define MAX_TOTAL 50000000L

/* Milliseconds count_in_parallel(n, per_thread) takes. */
static long time_count_in_parallel(int n, long per_thread)
{
    long start = kit_now_ms();
    (void)count_in_parallel(n, per_thread);
    return kit_now_ms() - start;
}

/* A per_thread that keeps count_in_parallel(n, per_thread) busy for about
 * 60 ms (10 ms for one thread, which cannot race): timed on this
 * count_in_parallel with growing work, so slow but correct code gets less
 * work, not a time-out. The time to start and join the threads counts as
 * work, which errs on the side of less work. Fixed and small in race mode. */
static long per_thread_for(int n)
{
    if (kit_race_mode())
        return 100;
    long target_ms = n == 1 ? 10 : 60;
    long per_thread = 1024 / n + 1, took_ms;
    for (;;) {
        took_ms = time_count_in_parallel(n, per_thread);
        if (took_ms >= 10 || n * per_thread * 4 > MAX_TOTAL)
            break;
        per_thread *= 4;
    }
    if (took_ms < target_ms)
        per_thread = per_thread * target_ms / (took_ms < 1 ? 1 : took_ms);
    if (per_thread > MAX_TOTAL / n)
        per_thread = MAX_TOTAL / n;
    return per_thread;
}

/* Increments per millisecond of one thread alone on a counter: the best of
 * several short probes, since a busy machine can only make a probe slower.
 * Unlike per_thread_for, an implementation of count_in_parallel that sleeps
 * instead of waiting cannot make the work it sizes small. */
static long solo_rate_per_ms(void)
{
    counter_t *c = new_counter();
    long best = 1;
    for (int probe = 0; probe < 5; probe++) {
        long start = kit_now_ms() + 1, count = 0;
        while (kit_now_ms() < start)
            ;   /* start on a millisecond boundary */
        while (kit_now_ms() < start + 2) {
            for (int k = 0; k < BATCH; k++)
                counter_increment(c);
            count += BATCH;
        }
        if (count / 2 > best)
            best = count / 2;
    }
    counter_destroy(c);
    return best;
}

/* A per_thread giving each of n threads about ms milliseconds of the work of
 * one thread alone (contention makes the real run longer). */
static long per_thread_solo_ms(int n, long ms)
{
    if (kit_race_mode())
        return 100;
    long per_thread = solo_rate_per_ms() * ms / n;
    if (per_thread > MAX_TOTAL / n)
        per_thread = MAX_TOTAL / n;
    return per_thread < 1 ? 1 : per_thread;
}

/* Checks that count_in_parallel(n, per_thread) loses nothing; true if so. */
static bool check_count(int n, long per_thread)
{
    long expected = n * per_thread;
    long got = count_in_parallel(n, per_thread);
    KIT_CHECK(got == expected,
              "count_in_parallel(%d, %ld) returned %ld, expected %ld (%ld missing): "
              "its threads lost updates (two threads read the same old value and "
              "both wrote back old+1), or it read the counter before every thread "
              "had finished", n, per_thread, got, expected, expected - got);
    return got == expected;
}

static void test_count_in_parallel_loses_nothing(void)
{
    static const int native[] = { 1, 2, 8 };
    static const int race[] = { 2, 4 };
    const int *counts = kit_race_mode() ? race : native;
    size_t ncounts = kit_race_mode() ? sizeof race / sizeof race[0]
                                     : sizeof native / sizeof native[0];
    for (size_t k = 0; k < ncounts; k++)
        if (!check_count(counts[k], per_thread_for(counts[k])))
            return;
}

/* With many more threads than processors, a correct spinlock can be many
 * times slower (a thread spins while the holder waits for a processor), so
 * 64 threads get a quarter of the work found for 8, without timing 64. */
static void test_count_in_parallel_with_64_threads_loses_nothing(void)
{
    const int n = 64;
    check_count(n, kit_race_mode() ? 10 : per_thread_for(8) * 8 / n / 4 + 1);
}

static void test_count_in_parallel_joins_every_thread_before_returning(void)
{
    const int n = 8;
    int baseline = thread_count();     /* before any count_in_parallel */
    /* Longer than a guess like "sleep 20 ms, they must be done by then". */
    long per_thread = per_thread_solo_ms(n, 40);
    long got = count_in_parallel(n, per_thread);
    int left = settled_thread_count(baseline);
    KIT_CHECK(baseline < 0 || left <= baseline,
              "count_in_parallel(%d, %ld) returned while %d threads it had started "
              "were still running, so the counter still changed after it "
              "returned: pthread_join every thread you started before reading the "
              "counter (a detached thread cannot be waited for)",
              n, per_thread, left - baseline);
    KIT_CHECK(got == n * per_thread,
              "count_in_parallel(%d, %ld) returned %ld, expected %ld: its threads "
              "lost updates, or it read the counter before every thread had "
              "finished", n, per_thread, got, n * per_thread);
}

/* Watches how many threads the process has while count_in_parallel runs. */
struct monitor {
    atomic_bool stop;
    int most;               /* most threads seen at once; read after the join */
};

/* Samples every 0.2 ms; sleeping in between, it leaves the processors to
 * the threads it watches. */
static void *monitor_main(void *arg)
{
    struct monitor *m = arg;
    const struct timespec pause = { 0, 200000 };
    while (!atomic_load(&m->stop)) {
        int n = thread_count();
        if (n > m->most)
            m->most = n;
        nanosleep(&pause, NULL);
    }
    return NULL;
}

/* The most worker threads seen at once during count_in_parallel(n,
 * per_thread), run on one processor; stores its result in *got.
 *
 * On one processor, a new thread mostly waits while its creator goes on, so
 * threads started one after the other are soon all alive at once, however
 * busy the machine is; threads joined one by one never are. */
static int workers_at_once(int n, long per_thread, int baseline, long *got)
{
    struct monitor m = { .most = 0 };
    atomic_init(&m.stop, false);
    pthread_t tid;
    /* Started before pinning: the monitor may run on any processor. */
    KIT_REQUIRE(pthread_create(&tid, NULL, monitor_main, &m) == 0,
                "test harness: could not start the monitor thread");
    cpu_set_t all, one;
    bool pinned = false;
    if (pthread_getaffinity_np(pthread_self(), sizeof all, &all) == 0) {
        CPU_ZERO(&one);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            if (CPU_ISSET(cpu, &all)) {
                CPU_SET(cpu, &one);
                break;
            }
        pinned = pthread_setaffinity_np(pthread_self(), sizeof one, &one) == 0;
    }
    /* The threads count_in_parallel starts inherit the one processor. */
    *got = count_in_parallel(n, per_thread);
    if (pinned && pthread_setaffinity_np(pthread_self(), sizeof all, &all) != 0)
        abort();
    atomic_store(&m.stop, true);
    if (pthread_join(tid, NULL) != 0)
        abort();
    int workers = m.most - baseline - 1;    /* beside us and the monitor */
    return workers < 0 ? 0 : workers;
}

static void test_count_in_parallel_runs_its_threads_at_the_same_time(void)
{
    const int n = 4;
    int baseline = thread_count();
    if (baseline < 0)
        return;     /* no /proc here: nothing to watch with */
    /* Each thread gets about 20 ms of work for one thread alone: several
     * time slices, so a started thread cannot finish while its creator waits
     * for the processor once. */
    long per_thread = per_thread_solo_ms(1, 20), got = 0;
    /* Want 3 of the 4 alive at once (a thread joined a moment ago may still
     * be listed, so 2 proves nothing). If a busy machine made a run too short
     * to show it, try once more with 4 times the work. */
    int at_once = 0;
    for (int attempt = 0; attempt < 2 && at_once < 3; attempt++) {
        if (attempt > 0)
            per_thread *= 4;
        at_once = workers_at_once(n, per_thread, baseline, &got);
        KIT_CHECK(got == n * per_thread,
                  "count_in_parallel(%d, %ld) returned %ld, expected %ld: its "
                  "threads lost updates, or it read the counter before they had "
                  "all finished", n, per_thread, got, n * per_thread);
        if (got != n * per_thread)
            return;
    }
    KIT_CHECK(at_once > 0,
              "count_in_parallel(%d, %ld) returned without any thread of its own "
              "running: it must start nthreads threads that each call "
              "counter_increment per_thread times on one counter (computing "
              "nthreads * per_thread is not counting)", n, per_thread);
    KIT_CHECK(at_once == 0 || at_once >= 3,
              "count_in_parallel(%d, %ld) never had more than %d of its threads "
              "running at once: start all the threads first, then join them all "
              "(joining each one right after starting it runs them one after the "
              "other, which hides the race instead of fixing it)",
              n, per_thread, at_once);
}

/* One thread only: a racing counter cannot lose an increment here, so these
 * basic checks give the same verdict on every run whatever the counter does
 * with several threads (the "threads" suite tests that). */
static void test_count_in_parallel_with_one_thread_exact_totals(void)
{
    static const long per_thread[] = { 1, 7, 300, 100000 };
    for (size_t k = 0; k < sizeof per_thread / sizeof per_thread[0]; k++) {
        long got = count_in_parallel(1, per_thread[k]);
        KIT_CHECK(got == per_thread[k],
                  "count_in_parallel(1, %ld) returned %ld, expected %ld: its one "
                  "thread calls counter_increment exactly %ld times, and the result "
                  "is read after that thread was joined",
                  per_thread[k], got, per_thread[k], per_thread[k]);
    }
}

static void test_count_in_parallel_with_zero_per_thread_returns_0(void)
{
    static const int counts[] = { 1, 2, 64 };
    for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
        long got = count_in_parallel(counts[k], 0);
        KIT_CHECK(got == 0,
                  "count_in_parallel(%d, 0) returned %ld, expected 0: threads that "
                  "increment 0 times leave a fresh counter at 0 (and 0 is a valid "
                  "per_thread, not an error)", counts[k], got);
    }
}

static void test_count_in_parallel_rejects_bad_arguments(void)
{
    static const struct { int n; long per_thread; } cases[] = {
        { 0, 10 }, { -1, 10 }, { INT_MIN, 10 }, { 1, -1 }, { 4, -1 },
        { 4, LONG_MIN }, { 0, 0 }, { 0, -1 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int n = cases[k].n;
        long per_thread = cases[k].per_thread;
        long got = count_in_parallel(n, per_thread);
        KIT_CHECK(got == -1,
                  "count_in_parallel(%d, %ld) returned %ld, expected -1: it must "
                  "refuse nthreads < 1 and per_thread < 0 before starting anything",
                  n, per_thread, got);
    }
}

static void test_count_in_parallel_uses_a_fresh_counter_each_call(void)
{
    for (int call = 1; call <= 3; call++) {
        long got = count_in_parallel(1, 200);
        KIT_CHECK(got <= 200,
                  "call %d of count_in_parallel(1, 200) returned %ld, expected 200: "
                  "every call counts on a new counter starting at 0 (a counter kept "
                  "from an earlier call adds up the calls)", call, got);
        KIT_CHECK(got >= 200,
                  "call %d of count_in_parallel(1, 200) returned %ld, expected 200: "
                  "it must wait for its thread before reading the counter",
                  call, got);
    }
}

/* ---- One thread: creation, independence ---- */

static void test_create_starts_at_zero(void)
{
    counter_t *c = new_counter();
    KIT_CHECK_EQ(0, counter_get(c), "counter_get of a new counter");
    for (int i = 0; i < 100; i++)
        counter_increment(c);
    counter_destroy(c);
    /* The new one is likely to get the memory of the old one. */
    c = new_counter();
    KIT_CHECK(counter_get(c) == 0,
              "a counter created after another was destroyed starts at %ld, not 0: "
              "counter_create must set the value (malloc'd memory holds leftovers)",
              counter_get(c));
    counter_destroy(c);
}

static void test_increment_adds_one_each_time(void)
{
    counter_t *c = new_counter();
    for (long i = 1; i <= 200; i++) {
        counter_increment(c);
        long got = counter_get(c);
        if (got != i) {
            KIT_CHECK(got == i, "after %ld calls of counter_increment on a new "
                      "counter, counter_get says %ld (expected %ld)", i, got, i);
            break;
        }
    }
    KIT_CHECK_EQ(200, counter_get(c), "counter_get called again, nothing changed");
    counter_destroy(c);
}

static void test_counters_are_independent(void)
{
    counter_t *a = new_counter();
    counter_t *b = new_counter();
    for (int i = 0; i < 3; i++)
        counter_increment(a);
    for (int i = 0; i < 5; i++)
        counter_increment(b);
    KIT_CHECK(counter_get(a) == 3 && counter_get(b) == 5,
              "incremented counter a 3 times and counter b 5 times, then a says %ld "
              "and b says %ld: each counter must keep its own value (in its struct, "
              "not in a global variable)", counter_get(a), counter_get(b));
    counter_t *c = new_counter();
    KIT_CHECK(counter_get(c) == 0 && counter_get(a) == 3,
              "creating a third counter changed things: new counter says %ld "
              "(expected 0), counter a says %ld (expected 3)",
              counter_get(c), counter_get(a));
    counter_destroy(b);
    counter_increment(a);
    KIT_CHECK_EQ(4, counter_get(a), "counter a after destroying b and one more increment");
    counter_destroy(a);
    counter_destroy(c);
}

/* Each thread creates, uses and destroys counters of its own. */
struct own_counters {
    long wrong_got[MAX_THREADS];    /* 0, or the value a thread's counter had */
    long wrong_expected[MAX_THREADS];
};

static void own_counter_worker(int i, void *arg)
{
    struct own_counters *o = arg;
    long rounds = kit_scale(5, 2);
    for (long round = 0; round < rounds; round++) {
        counter_t *c = counter_create();
        if (!c)
            abort();
        long expected = 50 * (i + 1) + round;
        for (long k = 0; k < expected; k++)
            counter_increment(c);
        long got = counter_get(c);
        counter_destroy(c);
        if (got != expected && o->wrong_expected[i] == 0) {
            o->wrong_expected[i] = expected;
            o->wrong_got[i] = got;
        }
    }
}

static void test_counters_of_different_threads_are_independent(void)
{
    static struct own_counters o;
    memset(&o, 0, sizeof o);
    const int n = 8;
    kit_run_threads(n, own_counter_worker, &o);
    for (int i = 0; i < n; i++) {
        KIT_CHECK(o.wrong_expected[i] == 0,
                  "thread %d created its own counter and incremented it %ld times, "
                  "but counter_get said %ld while 7 other threads did the same with "
                  "their own counters: counters must not share their values",
                  i, o.wrong_expected[i], o.wrong_got[i]);
        if (o.wrong_expected[i] != 0)
            break;
    }
}

static CU_TestInfo basic_tests[] = {
    { "test_create_starts_at_zero", test_create_starts_at_zero },
    { "test_increment_adds_one_each_time", test_increment_adds_one_each_time },
    { "test_counters_are_independent", test_counters_are_independent },
    { "test_count_in_parallel_rejects_bad_arguments",
      test_count_in_parallel_rejects_bad_arguments },
    { "test_count_in_parallel_with_zero_per_thread_returns_0",
      test_count_in_parallel_with_zero_per_thread_returns_0 },
    { "test_count_in_parallel_with_one_thread_exact_totals",
      test_count_in_parallel_with_one_thread_exact_totals },
    { "test_count_in_parallel_uses_a_fresh_counter_each_call",
      test_count_in_parallel_uses_a_fresh_counter_each_call },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    { "test_increment_from_many_threads_loses_nothing",
      test_increment_from_many_threads_loses_nothing },
    { "test_counters_of_different_threads_are_independent",
      test_counters_of_different_threads_are_independent },
    { "test_count_in_parallel_loses_nothing", test_count_in_parallel_loses_nothing },
    { "test_count_in_parallel_with_64_threads_loses_nothing",
      test_count_in_parallel_with_64_threads_loses_nothing },
    { "test_count_in_parallel_joins_every_thread_before_returning",
      test_count_in_parallel_joins_every_thread_before_returning },
    { "test_count_in_parallel_runs_its_threads_at_the_same_time",
      test_count_in_parallel_runs_its_threads_at_the_same_time },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
