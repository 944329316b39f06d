/* test_safelist.c - tests of exercise 10-safe-list (safelist.h).
 *
 * One thread first: append, get, length and snapshot do what a list does.
 * Then threads. Every appender appends its own values, in order, and each
 * value says who appended it and as which of its appends: thread t's k-th
 * value is (t + 1) * STRIDE + k. So any list the threads built, and any
 * snapshot of it, can be checked completely: each thread's values must appear
 * in the order it appended them, none twice, none missing (a snapshot may
 * stop early, but only at the end: it is a prefix of the final list). Readers
 * and snapshot takers run while the list grows, many times over on fresh
 * lists (so that it grows, and realloc moves it, again and again), and check
 * what they see as they go. A race detector (helgrind) runs the thread tests
 * too, with a small workload: it sees an unlocked read even when the value
 * read happened to be right. */
#include "kit_test.h"
#include "safelist.h"

#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_THREADS 64
/* Thread t's k-th value is (t + 1) * STRIDE + k, for k < STRIDE. */
#define STRIDE (1L << 24)

/* ---- realloc always moves, and freed memory is poisoned ----
 *
 * The test binary is linked with -Wl,--wrap=realloc -Wl,--wrap=free: every
 * realloc and free in safelist.c (and here) comes to these two first. A real
 * realloc often grows a block in place, which hides a reader still using the
 * old block; here every realloc moves the items to a new block, and every
 * block is filled with POISON bytes before it is freed. A thread that reads
 * the list's old storage after a grow then reads 0xa5a5a5a5a5a5a5a5, which no
 * thread ever appends. */
#define POISON 0xa5

void *__real_realloc(void *p, size_t size);
void __real_free(void *p);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);

void __wrap_free(void *p)
{
    if (p)
        memset(p, POISON, malloc_usable_size(p));
    __real_free(p);
}

void *__wrap_realloc(void *p, size_t size)
{
    if (!p)
        return malloc(size);
    if (size == 0) {
        __wrap_free(p);
        return NULL;
    }
    void *moved = malloc(size);
    if (!moved)
        return NULL;    /* like realloc: p is left as it was */
    size_t old = malloc_usable_size(p);
    memcpy(moved, p, old < size ? old : size);
    __wrap_free(p);
    return moved;
}

/* ---- Helpers ---- */

static safelist_t *new_list(void)
{
    errno = 0;
    safelist_t *l = sl_create();
    KIT_REQUIRE(l != NULL, "sl_create() returned NULL (errno %d, %s): it should return "
                "a new empty list (NULL only when memory runs out)", errno, strerror(errno));
    return l;
}

static const char *err_name(int err)
{
    switch (err) {
    case 0: return "0";
    case ERANGE: return "ERANGE";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    default: return "an unexpected value";
    }
}

static long encode(int t, long k)
{
    return (t + 1) * STRIDE + k;
}

/* True if v is a value that one of nthreads appenders can have appended; its
 * thread and index go to *t and *k. */
static bool decode(long v, int nthreads, int *t, long *k)
{
    if (v < STRIDE || v / STRIDE > nthreads)
        return false;
    *t = (int)(v / STRIDE) - 1;
    *k = v % STRIDE;
    return true;
}

/* What a value that no thread appended says about where it came from. */
static const char *origin(long v)
{
    long poison;
    memset(&poison, POISON, sizeof poison);
    if (v == poison)
        return " (that is the 0xa5 pattern these tests write into every block before "
               "it is freed: it was read from the list's old storage, after a grow "
               "had moved the items and freed it)";
    if (v == 0)
        return " (0: a slot counted in the length but never written?)";
    return "";
}

/* Takes a snapshot, ending the test if it fails. */
static long *snapshot(safelist_t *l, size_t *n)
{
    long *items = (long *)&items;   /* must be replaced */
    *n = (size_t)-1;
    int err = sl_snapshot(l, &items, n);
    KIT_REQUIRE(err == 0, "sl_snapshot returned %d (%s), expected 0", err, err_name(err));
    KIT_REQUIRE(*n != (size_t)-1 && items != (long *)&items, "sl_snapshot returned 0 but "
                "did not set %s", *n == (size_t)-1 ? "*n" : "*items");
    KIT_REQUIRE(*n == 0 || items != NULL, "sl_snapshot returned 0 and *n = %zu but *items "
                "is NULL", *n);
    return items;
}

/* The first problem a worker thread found, for the test to report after the
 * join (CUnit checks are made by the test's own thread only). */
struct finding {
    atomic_bool claimed;
    char text[800];
};

__attribute__((format(printf, 2, 3)))
static void found(struct finding *f, const char *fmt, ...)
{
    bool no = false;
    if (!atomic_compare_exchange_strong(&f->claimed, &no, true))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
}

static bool has_finding(struct finding *f)
{
    return atomic_load(&f->claimed);
}

/* Waits until all n threads of a round got here, so that they all run at
 * once (a thread started last could otherwise find the others finished). */
static void start_together(atomic_int *arrived, int n)
{
    atomic_fetch_add(arrived, 1);
    while (atomic_load(arrived) < n)
        sched_yield();
}

/* Checks that items[0..n) hold, for each of nthreads appenders, its values
 * 0, 1, 2, ... in that order without gap or repeat (the first of them for a
 * snapshot, all per_thread of them for a finished list). On the first problem,
 * describes it in why (what) and returns false. */
static bool check_order(const long *items, size_t n, int nthreads, long per_thread,
                        bool complete, const char *what, char *why, size_t size)
{
    long next[MAX_THREADS] = { 0 };
    for (size_t i = 0; i < n; i++) {
        int t;
        long k;
        if (!decode(items[i], nthreads, &t, &k) || k >= per_thread) {
            snprintf(why, size, "%s: item %zu is %ld, a value no thread appended%s: the "
                     "list's memory was overwritten, or read after realloc freed it (an "
                     "append that grows the list while another thread appends, reads or "
                     "copies it)", what, i, items[i], origin(items[i]));
            return false;
        }
        if (k < next[t]) {
            snprintf(why, size, "%s: item %zu is thread %d's append #%ld, which already "
                     "appears before it: a value was stored twice (two appends read the "
                     "same length, or a grow copied items twice)", what, i, t, k);
            return false;
        }
        if (k > next[t]) {
            snprintf(why, size, "%s: item %zu is thread %d's append #%ld, but its appends "
                     "#%ld..#%ld come nowhere before it: %ld append(s) were lost (two "
                     "threads wrote the same slot, or both did length + 1 from the same "
                     "old length)", what, i, t, k, next[t], k - 1, k - next[t]);
            return false;
        }
        next[t]++;
    }
    for (int t = 0; complete && t < nthreads; t++)
        if (next[t] != per_thread) {
            snprintf(why, size, "%s: only %ld of thread %d's %ld appends are in the list "
                     "(%zu items in all, %ld expected): appends were lost: two threads "
                     "wrote the same slot, or both set length + 1 from the same old length",
                     what, next[t], t, per_thread, n, nthreads * per_thread);
            return false;
        }
    return true;
}

/* Checks the finished list of nthreads * per_thread appends. */
static void check_final_list(safelist_t *l, int nthreads, long per_thread)
{
    char why[800];
    size_t n;
    long *items = snapshot(l, &n);
    size_t length = sl_length(l);
    KIT_CHECK(length == n, "after every thread was joined, sl_length says %zu but "
              "sl_snapshot copied %zu items", length, n);
    bool ok = check_order(items, n, nthreads, per_thread, true,
                          "the list after every append returned", why, sizeof why);
    KIT_CHECK(ok, "%d threads appending %ld values each: %s", nthreads, per_thread, why);
    KIT_CHECK(n == (size_t)(nthreads * per_thread), "%d threads appended %ld values each: "
              "%ld items expected, the list holds %zu: %s", nthreads, per_thread,
              nthreads * per_thread, n, n > (size_t)(nthreads * per_thread)
              ? "the length was raised more often than values were stored"
              : "appends were lost");
    free(items);
}

/* A small pseudo-random generator, one state per thread. */
static unsigned next_random(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}

/* ---- One thread ---- */

static void test_new_list_is_empty(void)
{
    safelist_t *l = new_list();
    KIT_CHECK_EQ(0, sl_length(l), "sl_length of a new list");
    long v = 12345;
    int err = sl_get(l, 0, &v);
    KIT_CHECK(err == ERANGE, "sl_get(l, 0, &v) on a new, empty list returned %d (%s), "
              "expected ERANGE: there is no item 0", err, err_name(err));
    KIT_CHECK(v == 12345, "sl_get on an empty list changed *value to %ld: leave it alone "
              "when returning ERANGE", v);
    size_t n;
    long *items = snapshot(l, &n);
    KIT_CHECK_EQ(0, n, "items in a snapshot of a new list");
    free(items);
    sl_destroy(l);
}

static void test_append_then_get_returns_every_item_in_order(void)
{
    enum { N = 3000 };
    safelist_t *l = new_list();
    for (long i = 0; i < N; i++) {
        long v = i % 7 == 3 ? LONG_MIN + i : i % 7 == 5 ? LONG_MAX - i : i * 3 - 500;
        int err = sl_append(l, v);
        KIT_REQUIRE(err == 0, "append #%ld returned %d (%s), expected 0", i, err, err_name(err));
        size_t len = sl_length(l);
        KIT_REQUIRE(len == (size_t)i + 1, "after %ld appends sl_length says %zu", i + 1, len);
    }
    for (long i = 0; i < N; i++) {
        long want = i % 7 == 3 ? LONG_MIN + i : i % 7 == 5 ? LONG_MAX - i : i * 3 - 500;
        long v = want + 1;
        int err = sl_get(l, (size_t)i, &v);
        KIT_REQUIRE(err == 0, "sl_get(l, %ld, &v) with %d items returned %d (%s), "
                    "expected 0", i, N, err, err_name(err));
        KIT_REQUIRE(v == want, "sl_get(l, %ld, &v) gave %ld, expected %ld (the value of "
                    "append #%ld): items must keep their order and value as the list grows",
                    i, v, want, i);
    }
    sl_destroy(l);
}

static void test_get_past_the_end_is_erange_and_leaves_value_alone(void)
{
    safelist_t *l = new_list();
    for (long len = 0; len <= 70; len++) {
        static const size_t past[] = { 0, 1, 2, 1000, SIZE_MAX };
        for (size_t k = 0; k < sizeof past / sizeof past[0]; k++) {
            size_t index = past[k] == SIZE_MAX ? SIZE_MAX : (size_t)len + past[k];
            long v = -77;
            int err = sl_get(l, index, &v);
            KIT_REQUIRE(err == ERANGE, "sl_get(l, %zu, &v) on a list of %ld items returned "
                        "%d (%s), expected ERANGE: valid indexes are 0 to length - 1 "
                        "(check index >= length, not index > length)", index, len, err,
                        err_name(err));
            KIT_REQUIRE(v == -77, "sl_get(l, %zu, &v) on a list of %ld items returned "
                        "ERANGE but set *value to %ld: leave it alone", index, len, v);
        }
        KIT_REQUIRE(sl_append(l, len) == 0, "sl_append failed");
    }
    sl_destroy(l);
}

static void test_snapshot_is_a_copy_that_later_appends_do_not_change(void)
{
    safelist_t *l = new_list();
    for (long i = 0; i < 100; i++)
        KIT_REQUIRE(sl_append(l, i * i) == 0, "sl_append failed");
    size_t n1;
    long *first = snapshot(l, &n1);
    KIT_REQUIRE(n1 == 100, "a snapshot of a list of 100 items has %zu items", n1);
    for (long i = 0; i < 100; i++)
        KIT_REQUIRE(first[i] == i * i, "snapshot item %ld is %ld, expected %ld", i,
                    first[i], i * i);
    for (long i = 100; i < 1000; i++)
        KIT_REQUIRE(sl_append(l, i * i) == 0, "sl_append failed");
    for (long i = 0; i < 100; i++)
        KIT_REQUIRE(first[i] == i * i, "after 900 more appends, item %ld of an earlier "
                    "snapshot changed to %ld (expected %ld): the snapshot must be a copy "
                    "of its own, not the list's storage", i, first[i], i * i);
    for (long i = 0; i < 100; i++)
        first[i] = -1;      /* scribbling on the copy must not touch the list */
    size_t n2;
    long *second = snapshot(l, &n2);
    KIT_REQUIRE(n2 == 1000, "a snapshot of a list of 1000 items has %zu items", n2);
    for (long i = 0; i < 1000; i++)
        KIT_REQUIRE(second[i] == i * i, "item %ld of a snapshot is %ld, expected %ld%s", i,
                    second[i], i * i, second[i] == -1 ? ": writing to an earlier snapshot "
                    "changed the list, so the snapshot was not a copy" : "");
    KIT_CHECK(first != second, "two snapshots returned the same array");
    free(first);
    free(second);
    sl_destroy(l);
}

static void test_two_lists_do_not_share_items(void)
{
    safelist_t *a = new_list(), *b = new_list();
    for (long i = 0; i < 500; i++) {
        KIT_REQUIRE(sl_append(a, i) == 0, "sl_append failed");
        if (i % 2 == 0)
            KIT_REQUIRE(sl_append(b, -i) == 0, "sl_append failed");
    }
    KIT_CHECK_EQ(500, sl_length(a), "sl_length of list a (500 appends to a, 250 to b)");
    KIT_CHECK_EQ(250, sl_length(b), "sl_length of list b (500 appends to a, 250 to b)");
    for (long i = 0; i < 250; i++) {
        long v = 1;
        KIT_REQUIRE(sl_get(b, (size_t)i, &v) == 0 && v == -2 * i, "item %ld of list b is "
                    "%ld, expected %ld: each list has storage of its own", i, v, -2 * i);
    }
    sl_destroy(a);
    sl_destroy(b);
}

/* ---- Threads appending ---- */

struct append_job {
    safelist_t *l;
    long per_thread;
    int threads;
    atomic_int arrived;
    struct finding problem;
};

/* Appends this thread's values in order; now and then checks that the
 * length already counts all of them (it never goes down). */
static void appender(int t, void *arg)
{
    struct append_job *j = arg;
    start_together(&j->arrived, j->threads);
    for (long k = 0; k < j->per_thread; k++) {
        int err = sl_append(j->l, encode(t, k));
        if (err != 0) {
            found(&j->problem, "sl_append returned %d (%s), expected 0", err, err_name(err));
            return;
        }
        if (kit_race_mode())
            sched_yield();  /* let the others in between two appends */
        if (k % 64 == 63 || kit_race_mode()) {
            size_t len = sl_length(j->l);
            if (len < (size_t)k + 1)
                found(&j->problem, "thread %d had appended %ld values, yet sl_length then "
                      "said %zu: the length went down or an increment was lost", t, k + 1,
                      len);
        }
    }
}

static void test_8_threads_appending_10000_each_lose_and_duplicate_nothing(void)
{
    static const struct { int threads; long per_thread; } native[] = {
        { 8, 10000 }, { 2, 2000 }, { 64, 100 }, { 1, 500 },
    }, race[] = {
        { 2, 40 }, { 4, 20 },
    };
    size_t nconf = kit_race_mode() ? sizeof race / sizeof race[0]
                                   : sizeof native / sizeof native[0];
    /* Every kind once, then again until the time budget is spent: lost
     * appends are a matter of timing, and need the threads to overlap long. */
    long until = kit_race_mode() ? 0 : kit_now_ms() + 80;
    for (size_t round = 0; round < nconf || kit_now_ms() < until; round++) {
        size_t c = round % nconf;
        int threads = kit_race_mode() ? race[c].threads : native[c].threads;
        long per = kit_race_mode() ? race[c].per_thread : native[c].per_thread;
        static struct append_job j;
        memset(&j, 0, sizeof j);
        j.l = new_list();
        j.per_thread = per;
        j.threads = threads;
        kit_run_threads(threads, appender, &j);
        KIT_CHECK(!has_finding(&j.problem), "%d threads appending %ld values each: %s",
                  threads, per, j.problem.text);
        check_final_list(j.l, threads, per);
        sl_destroy(j.l);
        if (CU_get_number_of_failures() > 0)
            return;
    }
}

/* ---- Readers while the list grows ---- */

#define SAMPLES 64

struct read_job {
    safelist_t *l;
    int appenders;
    long per_thread;
    long reads;                     /* race mode: reads per reader */
    atomic_long started[MAX_THREADS];   /* appender t has started started[t] appends */
    atomic_int appending;           /* appenders not finished */
    atomic_int arrived;
    int threads;
    struct finding problem;
    /* What reader r read: index and value (written by reader r only). */
    size_t sample_index[MAX_THREADS][SAMPLES];
    long sample_value[MAX_THREADS][SAMPLES];
    int nsamples[MAX_THREADS];
};

static void read_appender(int t, struct read_job *j)
{
    for (long k = 0; k < j->per_thread; k++) {
        atomic_store_explicit(&j->started[t], k + 1, memory_order_relaxed);
        int err = sl_append(j->l, encode(t, k));
        if (err != 0) {
            found(&j->problem, "sl_append returned %d (%s), expected 0", err, err_name(err));
            break;
        }
        if (kit_race_mode())
            sched_yield();
    }
    atomic_fetch_sub(&j->appending, 1);
}

/* Reads the last item, the first ones and a random one, over and over, while
 * the list grows: every get of an index below a length seen before must work
 * and give a value that was appended. */
static void reader(int r, struct read_job *j)
{
    unsigned seed = (unsigned)r * 7919u + 1u;
    size_t len = 0, last_len = 0;
    /* Under a race detector: a few gets between two looks at the length, each
     * followed by a yield, so that appends come in between unlocked reads. */
    long every = kit_race_mode() ? 4 : 1;
    for (long round = 0, reads = 0;; round++) {
        bool more = kit_race_mode() ? reads < j->reads
                                    : atomic_load_explicit(&j->appending, memory_order_relaxed) > 0;
        if (!more || has_finding(&j->problem))
            return;
        if (round % every == 0 || len == 0)
            len = sl_length(j->l);
        if (len < last_len) {
            found(&j->problem, "reader %d: sl_length said %zu, then %zu: a list that is "
                  "only appended to never gets shorter", r, last_len, len);
            return;
        }
        last_len = len;
        if (len == 0) {
            sched_yield();
            continue;
        }
        reads++;
        size_t pick[4] = { len - 1, 0, len > 1 ? 1 : 0, next_random(&seed) % len };
        size_t index = pick[round % 4];
        long v = 0;
        int err = sl_get(j->l, index, &v);
        if (err != 0) {
            found(&j->problem, "reader %d: sl_get(l, %zu, &v) returned %d (%s) after "
                  "sl_length had said %zu: the list never shrinks, so that index exists",
                  r, index, err, err_name(err), len);
            return;
        }
        int t;
        long k;
        if (!decode(v, j->appenders, &t, &k) || k >= j->per_thread ||
            k >= atomic_load_explicit(&j->started[t], memory_order_relaxed)) {
            found(&j->problem, "reader %d: sl_get(l, %zu, &v) gave %ld, a value no thread "
                  "had appended%s, when the list had at least %zu items: it read a slot not "
                  "yet written, or memory that realloc had already freed (a get must hold "
                  "the lock that append holds while it grows the list)", r, index, v,
                  origin(v), len);
            return;
        }
        if (round % 8 == 0 && j->nsamples[r] < SAMPLES) {
            j->sample_index[r][j->nsamples[r]] = index;
            j->sample_value[r][j->nsamples[r]++] = v;
        }
        if (kit_race_mode())
            sched_yield();
    }
}

static void read_worker(int i, void *arg)
{
    struct read_job *j = arg;
    int readers = j->threads - j->appenders;
    start_together(&j->arrived, j->threads);
    if (i < readers)
        reader(i, j);
    else
        read_appender(i - readers, j);
}

/* One round on a fresh list; false if it failed. */
static bool read_round(struct read_job *j, int appenders, int readers, long per_thread)
{
    memset(j, 0, sizeof *j);
    j->l = new_list();
    j->appenders = appenders;
    j->per_thread = per_thread;
    j->reads = 60;
    j->threads = appenders + readers;
    atomic_init(&j->appending, appenders);
    kit_run_threads(appenders + readers, read_worker, j);
    KIT_CHECK(!has_finding(&j->problem), "%d appenders (%ld values each) and %d readers: %s",
              appenders, per_thread, readers, j->problem.text);
    check_final_list(j->l, appenders, per_thread);
    /* What the readers read must be what the list holds at that index. */
    for (int r = 0; r < readers && CU_get_number_of_failures() == 0; r++)
        for (int s = 0; s < j->nsamples[r]; s++) {
            long v = 0;
            size_t index = j->sample_index[r][s];
            int err = sl_get(j->l, index, &v);
            if (err != 0 || v != j->sample_value[r][s]) {
                KIT_CHECK(false, "while the list grew, a reader's sl_get(l, %zu, &v) gave "
                          "%ld, but item %zu of the finished list is %ld: it read memory "
                          "that was not (or no longer) the list's", index,
                          j->sample_value[r][s], index, v);
                break;
            }
        }
    sl_destroy(j->l);
    return CU_get_number_of_failures() == 0;
}

static void test_readers_during_growth_see_only_appended_values(void)
{
    static struct read_job j;
    if (kit_race_mode()) {
        read_round(&j, 2, 2, 30);
        return;
    }
    static const struct { int appenders, readers; long per_thread; } kinds[] = {
        { 2, 2, 300 }, { 4, 4, 100 }, { 1, 3, 500 }, { 3, 1, 2000 },
    };
    /* Many short rounds on fresh lists: each list grows from nothing, so
     * realloc moves it over and over; for a time budget, at least once each. */
    long until = kit_now_ms() + 150;
    for (int round = 0; round < 4 || kit_now_ms() < until; round++) {
        int k = round % 4;
        if (!read_round(&j, kinds[k].appenders, kinds[k].readers, kinds[k].per_thread))
            return;
    }
}

/* ---- Snapshots while the list grows ---- */

#define KEEP 4

struct snap_job {
    safelist_t *l;
    int appenders;
    long per_thread;
    long snapshots;                 /* race mode: snapshots per taker */
    atomic_int appending;
    atomic_int arrived;
    int threads;
    struct finding problem;
    long *kept[MAX_THREADS][KEEP];  /* taker r's kept snapshots */
    size_t kept_n[MAX_THREADS][KEEP];
    long taken[MAX_THREADS];
};

static void snap_appender(int t, struct snap_job *j)
{
    for (long k = 0; k < j->per_thread; k++) {
        int err = sl_append(j->l, encode(t, k));
        if (err != 0) {
            found(&j->problem, "sl_append returned %d (%s), expected 0", err, err_name(err));
            break;
        }
        if (kit_race_mode())
            sched_yield();
    }
    atomic_fetch_sub(&j->appending, 1);
}

static void snap_taker(int r, struct snap_job *j)
{
    char why[700];
    size_t last_n = 0;
    for (long round = 0;; round++) {
        bool more = kit_race_mode() ? round < j->snapshots
                                    : atomic_load_explicit(&j->appending, memory_order_relaxed) > 0;
        if (!more || has_finding(&j->problem))
            return;
        size_t before = sl_length(j->l);
        long *items = NULL;
        size_t n = 0;
        int err = sl_snapshot(j->l, &items, &n);
        size_t after = sl_length(j->l);
        if (err != 0) {
            found(&j->problem, "sl_snapshot returned %d (%s), expected 0", err, err_name(err));
            return;
        }
        j->taken[r]++;
        if (n < before || n > after) {
            found(&j->problem, "a snapshot has %zu items, but sl_length said %zu just "
                  "before and %zu just after: the snapshot must be the list at one "
                  "instant between the two", n, before, after);
        } else if (n < last_n) {
            found(&j->problem, "a snapshot has %zu items, an earlier one %zu: the list "
                  "only grows", n, last_n);
        } else if (!check_order(items, n, j->appenders, j->per_thread, false,
                                "a snapshot taken while threads appended", why, sizeof why)) {
            found(&j->problem, "%s (the length and the items must be read under the same "
                  "hold of the lock)", why);
        }
        last_n = n;
        int slot = (int)(round % KEEP);
        if (round < KEEP || round % 5 == 0) {
            free(j->kept[r][slot]);
            j->kept[r][slot] = items;
            j->kept_n[r][slot] = n;
        } else {
            free(items);
        }
        if (kit_race_mode())
            sched_yield();
    }
}

static void snap_worker(int i, void *arg)
{
    struct snap_job *j = arg;
    int takers = j->threads - j->appenders;
    start_together(&j->arrived, j->threads);
    if (i < takers)
        snap_taker(i, j);
    else
        snap_appender(i - takers, j);
}

static bool snap_round(struct snap_job *j, int appenders, int takers, long per_thread)
{
    memset(j, 0, sizeof *j);
    j->l = new_list();
    j->appenders = appenders;
    j->per_thread = per_thread;
    j->snapshots = 8;
    j->threads = appenders + takers;
    atomic_init(&j->appending, appenders);
    kit_run_threads(appenders + takers, snap_worker, j);
    KIT_CHECK(!has_finding(&j->problem), "%d appenders (%ld values each) and %d threads "
              "taking snapshots: %s", appenders, per_thread, takers, j->problem.text);
    check_final_list(j->l, appenders, per_thread);
    size_t n;
    long *final = snapshot(j->l, &n);
    for (int r = 0; r < takers; r++)
        for (int s = 0; s < KEEP; s++) {
            long *kept = j->kept[r][s];
            size_t kn = j->kept_n[r][s];
            if (kept && CU_get_number_of_failures() == 0 && kn <= n) {
                for (size_t i = 0; i < kn; i++)
                    if (kept[i] != final[i]) {
                        KIT_CHECK(false, "item %zu of a snapshot taken while threads "
                                  "appended is %ld, but item %zu of the finished list is "
                                  "%ld: a snapshot must be a prefix of the list", i,
                                  kept[i], i, final[i]);
                        break;
                    }
            }
            free(kept);
        }
    free(final);
    sl_destroy(j->l);
    return CU_get_number_of_failures() == 0;
}

static void test_snapshot_while_appending_is_a_prefix_of_the_list(void)
{
    static struct snap_job j;
    if (kit_race_mode()) {
        snap_round(&j, 2, 2, 30);
        return;
    }
    static const struct { int appenders, takers; long per_thread; } kinds[] = {
        { 4, 2, 300 }, { 2, 1, 400 }, { 6, 2, 200 }, { 3, 1, 1500 },
    };
    long until = kit_now_ms() + 200;
    for (int round = 0; round < 4 || kit_now_ms() < until; round++) {
        int k = round % 4;
        if (!snap_round(&j, kinds[k].appenders, kinds[k].takers, kinds[k].per_thread))
            return;
    }
}

/* ---- The tables ---- */

#define TEST(fn) { #fn, fn }

static CU_TestInfo basic_tests[] = {
    TEST(test_new_list_is_empty),
    TEST(test_append_then_get_returns_every_item_in_order),
    TEST(test_get_past_the_end_is_erange_and_leaves_value_alone),
    TEST(test_snapshot_is_a_copy_that_later_appends_do_not_change),
    TEST(test_two_lists_do_not_share_items),
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    TEST(test_8_threads_appending_10000_each_lose_and_duplicate_nothing),
    TEST(test_readers_during_growth_see_only_appended_values),
    TEST(test_snapshot_while_appending_is_a_prefix_of_the_list),
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
