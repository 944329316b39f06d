/* test_bank.c - tests of 05-lock-fixes (bank.h).
 *
 * Two suites: "api" checks what each call returns, one call at a time;
 * "threads" runs many threads against one bank and checks the invariants a
 * bank promises while they run: no balance below 0, money neither created nor
 * lost, bank_total always the initial total, and no deadlock.
 *
 * Every call that may hang runs under a deadline (see run_crew): a deadlock
 * is reported with an explanation instead of a bare time-out. Worker threads
 * never call CUnit (it is not thread-safe); they write what went wrong into a
 * struct problems that the test's own thread reports after joining them. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* pthread_setaffinity_np, pthread_timedjoin_np */
#endif
#include "kit_test.h"
#include "bank.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long threads may make no progress at all before we call it a
 * deadlock (ms): correct code makes progress every few microseconds. */
static long deadlock_ms(void)
{
    return kit_scale(2000, 20000);
}

static void must(int err, const char *what)
{
    if (err != 0) {
        fprintf(stderr, "test harness: %s failed: %s\n", what, strerror(err));
        abort();
    }
}

static const char *status_name(long st)
{
    switch (st) {
    case BANK_OK: return "BANK_OK";
    case BANK_INVALID: return "BANK_INVALID";
    case BANK_INSUFFICIENT: return "BANK_INSUFFICIENT";
    default: return "(not a bank_status)";
    }
}

/* ---- problems seen by worker threads ------------------------------------ */

struct problems {
    pthread_mutex_t lock;
    long count;         /* guarded by lock */
    char first[700];    /* guarded by lock: the first problem, as the student reads it */
};

static void problems_init(struct problems *p)
{
    must(pthread_mutex_init(&p->lock, NULL), "pthread_mutex_init");
    p->count = 0;
    p->first[0] = '\0';
}

static void note_problem(struct problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_problem(struct problems *p, const char *fmt, ...)
{
    must(pthread_mutex_lock(&p->lock), "pthread_mutex_lock");
    if (p->count++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->first, sizeof p->first, fmt, ap);
        va_end(ap);
    }
    must(pthread_mutex_unlock(&p->lock), "pthread_mutex_unlock");
}

/* Called by the test's thread once the workers are joined. */
static void report_problems(struct problems *p)
{
    KIT_CHECK(p->count == 0, "%s (%ld such problem%s in this run)", p->first,
              p->count, p->count == 1 ? "" : "s");
}

/* ---- running threads under a deadline ----------------------------------- */

/* Bumped by workers as they go (see keep_going). Only atomic read-modify-
 * writes touch it besides the waiting thread's loads. */
static atomic_long progress;

static void note_progress(void)
{
    atomic_fetch_add_explicit(&progress, 1, memory_order_relaxed);
}

struct crew {
    void (*fn)(int i, void *arg);
    void *arg;
};

struct crew_member {
    struct crew *crew;
    int i;
    int cpu;            /* the CPU to run on, or -1 to leave it to the scheduler */
};

static void *crew_thread(void *p)
{
    struct crew_member *m = p;
    if (m->cpu >= 0) {
        /* Best effort: if it fails the test is only less likely to overlap. */
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(m->cpu, &one);
        (void)pthread_setaffinity_np(pthread_self(), sizeof one, &one);
    }
    m->crew->fn(m->i, m->crew->arg);
    return NULL;
}

/* Fills cpus[] with the CPUs this process may run on; returns how many. */
static int usable_cpus(int *cpus, int max)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 0;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set))
            cpus[n++] = c;
    return n;
}

/* Joins tids[0..n) and returns 0; or, natively, gives up once no thread has
 * made progress (or ended) for deadlock_ms() and returns how many are still
 * running. A slow but live run (a busy machine) is never taken for a
 * deadlock; a deadlock is seen deadlock_ms() after the last step. */
static int join_or_give_up(pthread_t *tids, int n)
{
    if (kit_race_mode()) {
        /* Under valgrind the grader's own time-out catches a hang. */
        for (int k = 0; k < n; k++)
            must(pthread_join(tids[k], NULL), "pthread_join");
        return 0;
    }
    long seen = atomic_load_explicit(&progress, memory_order_relaxed);
    long quiet_since = kit_now_ms();
    for (int k = 0; k < n;) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);   /* pthread_timedjoin_np's clock */
        until.tv_nsec += 100 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int err = pthread_timedjoin_np(tids[k], NULL, &until);
        long now = kit_now_ms();
        if (err == 0) {
            k++;
            quiet_since = now;
            continue;
        }
        if (err != ETIMEDOUT)
            must(err, "pthread_timedjoin_np");
        long p = atomic_load_explicit(&progress, memory_order_relaxed);
        if (p != seen) {
            seen = p;
            quiet_since = now;
        } else if (now - quiet_since >= deadlock_ms()) {
            for (int j = k; j < n; j++)
                pthread_detach(tids[j]);
            return n - k;
        }
    }
    return 0;
}

/* Runs fn(i, arg) for i = 0 .. n-1, each in its own thread, and waits for
 * all of them. Returns 0 when all returned (they are joined: nothing is left
 * behind). Otherwise (no progress for deadlock_ms()) returns how many are
 * still running: they are detached and left running (they are stuck), and
 * the crew and `arg` are leaked on purpose, so the caller must not free arg
 * or anything the threads may still use (the bank included).
 *
 * Natively, thread i is pinned to CPU i mod (the number of CPUs). Left to
 * itself, the scheduler often keeps threads that yield a lot on one CPU,
 * where they only take turns; bugs such as an unlocked read show only when
 * threads truly run at the same time. */
static int run_crew(int n, void (*fn)(int i, void *arg), void *arg)
{
    int cpus[64];
    int ncpus = n > 1 && !kit_race_mode() ? usable_cpus(cpus, 64) : 0;
    struct crew *c = malloc(sizeof *c);
    struct crew_member *members = calloc((size_t)n, sizeof *members);
    pthread_t *tids = calloc((size_t)n, sizeof *tids);
    if (!c || !members || !tids)
        abort();
    *c = (struct crew){ fn, arg };
    int started = 0, err = 0;
    for (; started < n; started++) {
        int cpu = ncpus > 1 ? cpus[started % ncpus] : -1;
        members[started] = (struct crew_member){ c, started, cpu };
        err = pthread_create(&tids[started], NULL, crew_thread, &members[started]);
        if (err)
            break;
    }
    int stuck = join_or_give_up(tids, started);
    free(tids);
    if (stuck > 0)
        return stuck;
    free(c);
    free(members);
    KIT_REQUIRE(err == 0, "test harness: could not start thread %d of %d: %s",
                started + 1, n, strerror(err));
    return 0;
}

/* Workers run for a time natively, and for a fixed number of steps under a
 * race detector, where every step is hundreds of times slower. */
struct pace {
    long until_ms;      /* native: stop at this kit_now_ms() */
    long steps;         /* race mode: stop after this many steps */
};

static struct pace pace_for(long native_ms, long race_steps)
{
    if (kit_race_mode())
        return (struct pace){ 0, race_steps };
    return (struct pace){ kit_now_ms() + native_ms, 0 };
}

/* Whether a worker that has done `done` steps goes on; also reports its
 * progress to the thread that waits for it. */
static int keep_going(const struct pace *p, long done)
{
    if (done % 16 == 0)
        note_progress();
    return p->steps > 0 ? done < p->steps : kit_now_ms() < p->until_ms;
}

#define DEADLOCK_HELP "Usual causes: " DEADLOCK_CAUSES
#define DEADLOCK_CAUSES                                                       \
    "two transfers in opposite directions, each holding one "                 \
    "account's lock and waiting for the other's (take the two locks in one "  \
    "global order, e.g. lower index first); a transfer from an account to "   \
    "itself locking the same mutex twice (a pthread mutex is not "            \
    "re-entrant: the second lock waits for yourself forever); a return path " \
    "that forgets to unlock"

/* ---- one call under a deadline (the api suite) -------------------------- */

enum op_kind { OP_TRANSFER, OP_BALANCE, OP_TOTAL };

struct op {
    bank_t *b;
    enum op_kind kind;
    int from, to;       /* `from` is the account of OP_BALANCE */
    long amount;
    long result;        /* written by the crew thread, read after the join */
};

static void op_run(int i, void *arg)
{
    (void)i;
    struct op *op = arg;
    switch (op->kind) {
    case OP_TRANSFER:
        op->result = bank_transfer(op->b, op->from, op->to, op->amount);
        break;
    case OP_BALANCE:
        op->result = bank_balance(op->b, op->from);
        break;
    case OP_TOTAL:
        op->result = bank_total(op->b);
        break;
    }
}

static void describe_op(const struct op *op, char *buf, size_t size)
{
    switch (op->kind) {
    case OP_TRANSFER:
        snprintf(buf, size, "bank_transfer(b, %d, %d, %ld)", op->from, op->to, op->amount);
        break;
    case OP_BALANCE:
        snprintf(buf, size, "bank_balance(b, %d)", op->from);
        break;
    case OP_TOTAL:
        snprintf(buf, size, "bank_total(b)");
        break;
    }
}

/* The calls of the api suite: each runs in a helper thread, so that one that
 * never returns ends the test with an explanation. */
static long call_bank(bank_t *b, enum op_kind kind, int from, int to, long amount,
                      unsigned line)
{
    struct op *op = malloc(sizeof *op);
    if (!op)
        abort();
    *op = (struct op){ b, kind, from, to, amount, 0 };
    if (run_crew(1, op_run, op) != 0) {
        char call[100];
        describe_op(op, call, sizeof call);
        /* op and b stay allocated: the stuck thread still uses them. */
        kit_fail_at(__FILE__, line, true,
                    "%s did not return within %ld ms, with no other thread "
                    "using the bank: it waits for a lock that this very thread "
                    "holds, or that an earlier call kept. Usual causes: a "
                    "transfer from an account to itself locking the same mutex "
                    "twice (a pthread mutex is not re-entrant: the second lock "
                    "waits for yourself forever), or a return path (a refused "
                    "transfer?) that forgets to unlock.",
                    call, deadlock_ms());
    }
    long result = op->result;
    free(op);
    return result;
}

#define TRANSFER(b, from, to, amount) \
    call_bank((b), OP_TRANSFER, (from), (to), (amount), __LINE__)
#define BALANCE(b, account) call_bank((b), OP_BALANCE, (account), 0, 0, __LINE__)
#define TOTAL(b) call_bank((b), OP_TOTAL, 0, 0, 0, __LINE__)

/* Checks one transfer's status, naming the call in the message. */
#define CHECK_TRANSFER(b, from, to, amount, expected, why)                      \
    do {                                                                        \
        long st_ = TRANSFER((b), (from), (to), (amount));                       \
        KIT_CHECK(st_ == (expected),                                            \
                  "bank_transfer(b, %d, %d, %ld): expected %s, got %s (%ld): %s", \
                  (int)(from), (int)(to), (long)(amount), status_name(expected), \
                  status_name(st_), st_, (why));                                \
    } while (0)

/* Checks every balance and the total against `expected`. */
static void check_accounts(bank_t *b, const long *expected, int n, const char *after)
{
    long sum = 0;
    for (int i = 0; i < n; i++) {
        long got = BALANCE(b, i);
        sum += expected[i];
        KIT_CHECK(got == expected[i], "after %s, account %d: expected %ld, got %ld",
                  after, i, expected[i], got);
    }
    long total = TOTAL(b);
    KIT_CHECK(total == sum, "after %s, bank_total: expected %ld (the sum of the "
              "balances), got %ld", after, sum, total);
}

/* ---- api suite ---------------------------------------------------------- */

static void test_create_rejects_bad_sizes_and_negative_initial(void)
{
    static const struct { int naccounts; long initial; } bad[] = {
        { 0, 100 }, { -1, 100 }, { INT_MIN, 0 }, { 3, -1 }, { 1, LONG_MIN },
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        bank_t *b = bank_create(bad[k].naccounts, bad[k].initial);
        KIT_CHECK(b == NULL, "bank_create(%d, %ld) must return NULL (a bank needs at "
                  "least one account and no negative balance), got a bank",
                  bad[k].naccounts, bad[k].initial);
        if (b)
            bank_destroy(b);
    }
    bank_t *b = bank_create(1, 0);
    KIT_CHECK(b != NULL, "bank_create(1, 0) returned NULL: one account holding 0 is a valid bank");
    bank_destroy(b);
}

static void test_new_accounts_hold_the_initial_amount(void)
{
    bank_t *b = bank_create(5, 100);
    KIT_REQUIRE(b != NULL, "bank_create(5, 100) returned NULL");
    const long expected[5] = { 100, 100, 100, 100, 100 };
    check_accounts(b, expected, 5, "bank_create(5, 100)");
    bank_destroy(b);

    b = bank_create(1, 0);
    KIT_REQUIRE(b != NULL, "bank_create(1, 0) returned NULL");
    const long zero[1] = { 0 };
    check_accounts(b, zero, 1, "bank_create(1, 0)");
    bank_destroy(b);
}

static void test_balance_of_unknown_account_is_minus_one(void)
{
    bank_t *b = bank_create(4, 10);
    KIT_REQUIRE(b != NULL, "bank_create(4, 10) returned NULL");
    static const int unknown[] = { -1, 4, 5, INT_MAX, INT_MIN };
    for (size_t k = 0; k < sizeof unknown / sizeof unknown[0]; k++) {
        long got = BALANCE(b, unknown[k]);
        KIT_CHECK(got == -1, "bank_balance(b, %d) on a bank of 4 accounts (0..3): "
                  "expected -1 (no such account), got %ld", unknown[k], got);
    }
    bank_destroy(b);
}

static void test_transfer_moves_money_between_two_accounts(void)
{
    bank_t *b = bank_create(3, 100);
    KIT_REQUIRE(b != NULL, "bank_create(3, 100) returned NULL");
    CHECK_TRANSFER(b, 0, 1, 30, BANK_OK, "account 0 holds 100");
    check_accounts(b, (const long[]){ 70, 130, 100 }, 3, "moving 30 from 0 to 1");
    CHECK_TRANSFER(b, 1, 2, 130, BANK_OK, "account 1 holds exactly 130: all of it may go");
    check_accounts(b, (const long[]){ 70, 0, 230 }, 3, "moving all 130 from 1 to 2");
    CHECK_TRANSFER(b, 1, 0, 1, BANK_INSUFFICIENT, "account 1 is empty");
    CHECK_TRANSFER(b, 0, 2, 71, BANK_INSUFFICIENT, "account 0 holds only 70");
    check_accounts(b, (const long[]){ 70, 0, 230 }, 3,
                   "two refused transfers (a refused transfer changes nothing)");
    CHECK_TRANSFER(b, 2, 0, 230, BANK_OK, "account 2 holds 230");
    check_accounts(b, (const long[]){ 300, 0, 0 }, 3, "moving 230 from 2 to 0");
    bank_destroy(b);
}

static void test_transfer_rejects_unknown_accounts_and_bad_amounts(void)
{
    static const struct { int from, to; long amount; const char *why; } bad[] = {
        { -1, 0, 10, "account -1 does not exist" },
        { 0, -1, 10, "account -1 does not exist" },
        { 3, 0, 10, "a bank of 3 accounts has accounts 0..2" },
        { 0, 3, 10, "a bank of 3 accounts has accounts 0..2" },
        { INT_MIN, INT_MAX, 10, "neither account exists" },
        { 0, 1, 0, "the amount must be > 0" },
        { 0, 1, -5, "a negative amount would move money the other way" },
        { 0, 1, LONG_MIN, "the amount must be > 0" },
        { 1, 1, 0, "the amount must be > 0, also from an account to itself" },
        { 2, 2, -1, "the amount must be > 0, also from an account to itself" },
        { 3, 3, 1, "account 3 does not exist, also as both ends" },
    };
    bank_t *b = bank_create(3, 100);
    KIT_REQUIRE(b != NULL, "bank_create(3, 100) returned NULL");
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_TRANSFER(b, bad[k].from, bad[k].to, bad[k].amount, BANK_INVALID, bad[k].why);
        char after[100];
        snprintf(after, sizeof after, "the refused bank_transfer(b, %d, %d, %ld)",
                 bad[k].from, bad[k].to, bad[k].amount);
        check_accounts(b, (const long[]){ 100, 100, 100 }, 3, after);
    }
    bank_destroy(b);
}

static void test_invalid_wins_over_insufficient(void)
{
    bank_t *b = bank_create(2, 10);
    KIT_REQUIRE(b != NULL, "bank_create(2, 10) returned NULL");
    const char *why = "the call has an argument error and too little money: argument "
                      "errors come first, so check the arguments before any balance";
    CHECK_TRANSFER(b, 0, 2, 1000, BANK_INVALID, why);
    CHECK_TRANSFER(b, 0, -1, 11, BANK_INVALID, why);
    CHECK_TRANSFER(b, 7, 0, 1000, BANK_INVALID, why);
    CHECK_TRANSFER(b, 1, 0, 10, BANK_OK, "account 1 holds 10");
    CHECK_TRANSFER(b, 1, 5, 1, BANK_INVALID, why);
    CHECK_TRANSFER(b, 1, 1, -3, BANK_INVALID, why);
    check_accounts(b, (const long[]){ 20, 0 }, 2, "refused transfers");
    bank_destroy(b);
}

static void test_self_transfer_changes_nothing(void)
{
    bank_t *b = bank_create(3, 100);
    KIT_REQUIRE(b != NULL, "bank_create(3, 100) returned NULL");
    CHECK_TRANSFER(b, 1, 1, 50, BANK_OK, "account 1 holds 100: from == to is allowed");
    CHECK_TRANSFER(b, 1, 1, 100, BANK_OK, "account 1 holds exactly 100");
    CHECK_TRANSFER(b, 1, 1, 101, BANK_INSUFFICIENT,
                   "account 1 holds only 100, also when it pays itself");
    check_accounts(b, (const long[]){ 100, 100, 100 }, 3,
                   "transfers from account 1 to itself (they change nothing)");
    CHECK_TRANSFER(b, 2, 0, 100, BANK_OK, "account 2 holds 100");
    CHECK_TRANSFER(b, 2, 2, 1, BANK_INSUFFICIENT, "account 2 is empty");
    CHECK_TRANSFER(b, 0, 0, 200, BANK_OK, "account 0 holds 200");
    check_accounts(b, (const long[]){ 200, 100, 0 }, 3,
                   "transfers from an account to itself (they change nothing)");
    bank_destroy(b);
}

static void test_refused_transfers_release_their_locks(void)
{
    bank_t *b = bank_create(2, 5);
    KIT_REQUIRE(b != NULL, "bank_create(2, 5) returned NULL");
    /* Each refusal is followed by calls that need the same locks again: if a
     * return path kept a lock, they never return. */
    CHECK_TRANSFER(b, 0, 1, 6, BANK_INSUFFICIENT, "account 0 holds only 5");
    check_accounts(b, (const long[]){ 5, 5 }, 2, "a refused transfer");
    CHECK_TRANSFER(b, 1, 0, 6, BANK_INSUFFICIENT, "account 1 holds only 5");
    CHECK_TRANSFER(b, 0, 1, 5, BANK_OK, "account 0 holds 5");
    CHECK_TRANSFER(b, 0, 0, 1, BANK_INSUFFICIENT, "account 0 is empty");
    CHECK_TRANSFER(b, 1, 0, 10, BANK_OK, "account 1 holds 10");
    CHECK_TRANSFER(b, 0, 1, 0, BANK_INVALID, "the amount must be > 0");
    CHECK_TRANSFER(b, 0, 1, 10, BANK_OK, "account 0 holds 10");
    check_accounts(b, (const long[]){ 0, 10 }, 2, "refused and accepted transfers");
    bank_destroy(b);
}

/* ---- threads suite: opposite transfers ---------------------------------- */

struct opposite {
    bank_t *b;
    int naccounts;
    struct pace pace;
    struct problems problems;
};

/* Threads 2k and 2k+1 work on the pair of neighbours (p, p+1) on a ring of
 * accounts, in opposite directions: 0->1 and 1->0, 1->2 and 2->1, ... */
static void opposite_worker(int i, void *arg)
{
    struct opposite *t = arg;
    int p = (i / 2) % t->naccounts, q = (p + 1) % t->naccounts;
    int from = i % 2 ? q : p, to = i % 2 ? p : q;
    for (long k = 0; keep_going(&t->pace, k); k++) {
        enum bank_status st = bank_transfer(t->b, from, to, 1);
        if (st != BANK_OK && st != BANK_INSUFFICIENT) {
            note_problem(&t->problems, "bank_transfer(b, %d, %d, 1) returned %s (%d) "
                         "between two existing accounts", from, to, status_name(st), (int)st);
            return;
        }
    }
}

static void test_opposite_transfers_do_not_deadlock(void)
{
    static const struct { int nthreads, naccounts; } phases[] = { { 2, 2 }, { 8, 3 } };
    const long initial = 1000;
    for (size_t k = 0; k < sizeof phases / sizeof phases[0]; k++) {
        int n = phases[k].nthreads, na = phases[k].naccounts;
        struct opposite *t = calloc(1, sizeof *t);
        KIT_REQUIRE(t != NULL, "test harness: out of memory");
        t->b = bank_create(na, initial);
        KIT_REQUIRE(t->b != NULL, "bank_create(%d, %ld) returned NULL", na, initial);
        t->naccounts = na;
        problems_init(&t->problems);
        t->pace = pace_for(60, 50);
        int stuck = run_crew(n, opposite_worker, t);
        /* On a deadlock, t and the bank stay allocated: stuck threads use them. */
        KIT_REQUIRE(stuck == 0,
                    "deadlock: %d threads transferred 1 unit back and forth between "
                    "neighbouring accounts (%s), and then for %ld ms none of them got "
                    "anywhere: %d stayed stuck in bank_transfer. Thread A took account 0's lock and waits for "
                    "account 1's, while thread B took account 1's lock and waits for "
                    "account 0's: neither ever lets go. Take the two locks in one global "
                    "order (e.g. lower account index first) whatever the argument order.",
                    n, na == 2 ? "0->1 and 1->0" : "0->1, 1->0, 1->2, 2->1, 2->0, 0->2",
                    deadlock_ms(), stuck);
        report_problems(&t->problems);
        long sum = 0;
        for (int a = 0; a < na; a++) {
            long bal = bank_balance(t->b, a);
            sum += bal;
            KIT_CHECK(bal >= 0, "account %d ended at %ld after opposite transfers: a "
                      "balance must never go below 0", a, bal);
        }
        KIT_CHECK(sum == na * initial, "after opposite transfers the balances add up to "
                  "%ld, but the bank holds %ld: money was %s", sum, na * initial,
                  sum > na * initial ? "created" : "lost");
        bank_destroy(t->b);
        free(t);
    }
}

/* ---- threads suite: many threads drain one account ---------------------- */

struct drain {
    bank_t *b;
    long amount;
    long funds;         /* what account 0 holds at the start of the round */
    pthread_barrier_t start;
    struct problems problems;
};

/* Thread i takes `amount` from account 0 into account 1+i until refused. */
static void drain_worker(int i, void *arg)
{
    struct drain *d = arg;
    int err = pthread_barrier_wait(&d->start);
    if (err != 0 && err != PTHREAD_BARRIER_SERIAL_THREAD)
        must(err, "pthread_barrier_wait");
    for (long taken = 0;; taken++) {
        note_progress();
        enum bank_status st = bank_transfer(d->b, 0, 1 + i, d->amount);
        if (st == BANK_INSUFFICIENT)
            return;
        if (st != BANK_OK) {
            note_problem(&d->problems, "bank_transfer(b, 0, %d, %ld) returned %s (%d) "
                         "between two existing accounts", 1 + i, d->amount,
                         status_name(st), (int)st);
            return;
        }
        if (taken * d->amount > d->funds) {
            note_problem(&d->problems, "one thread alone took more than the %ld account "
                         "0 held, all with BANK_OK: money was created", d->funds);
            return;
        }
    }
}

/* One round: nthreads threads drain account 0, which starts with
 * per_thread + 1 withdrawals of `amount` per thread. Returns false when the
 * round found a problem (already reported). */
static bool drain_round(int nthreads, long amount, long per_thread)
{
    const long seed = amount * per_thread;   /* what each account starts with */
    struct drain *d = calloc(1, sizeof *d);
    KIT_REQUIRE(d != NULL, "test harness: out of memory");
    d->b = bank_create(nthreads + 1, seed);
    KIT_REQUIRE(d->b != NULL, "bank_create(%d, %ld) returned NULL", nthreads + 1, seed);
    d->amount = amount;
    /* Gather all the money into account 0, single-threaded. */
    for (int a = 1; a <= nthreads; a++) {
        enum bank_status st = bank_transfer(d->b, a, 0, seed);
        KIT_REQUIRE(st == BANK_OK, "bank_transfer(b, %d, 0, %ld) on a new bank where "
                    "every account holds %ld: expected BANK_OK, got %s",
                    a, seed, seed, status_name(st));
    }
    d->funds = seed * (nthreads + 1);
    must(pthread_barrier_init(&d->start, NULL, (unsigned)nthreads), "pthread_barrier_init");
    problems_init(&d->problems);
    int stuck = run_crew(nthreads, drain_worker, d);
    KIT_REQUIRE(stuck == 0, "%d threads took money out of account 0 until refused; for "
                "%ld ms none got anywhere, %d stayed inside bank_transfer (deadlock). "
                DEADLOCK_HELP ".", nthreads, deadlock_ms(), stuck);
    report_problems(&d->problems);
    long left = bank_balance(d->b, 0), taken = 0;
    for (int a = 1; a <= nthreads; a++)
        taken += bank_balance(d->b, a);
    bool ok = d->problems.count == 0;
    if (left < 0) {
        KIT_CHECK(left >= 0, "%d threads each took %ld from account 0 (holding %ld) "
                  "until refused, and account 0 ended at %ld: overdrawn. Two threads "
                  "both saw enough money, then both took it: the balance must be "
                  "checked while holding the lock, in the same critical section as the "
                  "withdrawal.", nthreads, amount, d->funds, left);
        ok = false;
    } else if (left >= amount) {
        KIT_CHECK(left < amount, "account 0 still holds %ld after every thread was "
                  "refused a withdrawal of %ld: BANK_INSUFFICIENT means the account "
                  "holds less than the amount", left, amount);
        ok = false;
    }
    if (left + taken != d->funds) {
        KIT_CHECK_EQ(d->funds, left + taken, "money in the bank after the withdrawals "
                     "(created or lost money)");
        ok = false;
    }
    must(pthread_barrier_destroy(&d->start), "pthread_barrier_destroy");
    bank_destroy(d->b);
    free(d);
    return ok;
}

static void test_concurrent_withdrawals_never_overdraw(void)
{
    static const int crews[] = { 2, 8, 16, 64 };
    if (kit_race_mode()) {
        drain_round(2, 3, 4);
        drain_round(4, 3, 2);
        return;
    }
    long end = kit_now_ms() + 80;
    for (int r = 0; kit_now_ms() < end; r++) {
        int n = crews[r % 4];
        if (!drain_round(n, 10, 3))
            return;
    }
}

/* ---- threads suite: random transfers ------------------------------------ */

struct shuffle {
    bank_t *b;
    int naccounts;
    long initial;
    int ntransfer;      /* threads 0..ntransfer-1 transfer; the others read totals */
    struct pace pace;
    unsigned seed;
    struct problems problems;
};

/* Random transfers among all accounts, from == to included. */
static void random_transfers(struct shuffle *s, int i)
{
    unsigned seed = s->seed + 7919u * (unsigned)i;
    for (long k = 0; keep_going(&s->pace, k); k++) {
        int from = rand_r(&seed) % s->naccounts, to = rand_r(&seed) % s->naccounts;
        long amount = 1 + rand_r(&seed) % s->initial;
        enum bank_status st = bank_transfer(s->b, from, to, amount);
        if (st != BANK_OK && st != BANK_INSUFFICIENT) {
            note_problem(&s->problems, "bank_transfer(b, %d, %d, %ld) returned %s (%d) "
                         "between two existing accounts", from, to, amount,
                         status_name(st), (int)st);
            return;
        }
    }
}

static void shuffle_worker(int i, void *arg)
{
    random_transfers(arg, i);
}

/* Starts a shuffle; NULL-free: ends the test on failure. */
static struct shuffle *shuffle_new(int naccounts, long initial, int ntransfer)
{
    struct shuffle *s = calloc(1, sizeof *s);
    KIT_REQUIRE(s != NULL, "test harness: out of memory");
    s->b = bank_create(naccounts, initial);
    KIT_REQUIRE(s->b != NULL, "bank_create(%d, %ld) returned NULL", naccounts, initial);
    s->naccounts = naccounts;
    s->initial = initial;
    s->ntransfer = ntransfer;
    s->seed = (unsigned)kit_now_ms() * 2654435761u;
    problems_init(&s->problems);
    return s;
}

/* Checks the balances and the total after the threads are joined. */
static void check_conserved(struct shuffle *s, const char *after)
{
    long sum = 0, expected = s->naccounts * s->initial;
    int negative = -1;
    for (int a = 0; a < s->naccounts; a++) {
        long bal = bank_balance(s->b, a);
        sum += bal;
        if (bal < 0 && negative < 0)
            negative = a;
    }
    KIT_CHECK(negative < 0, "after %s, account %d holds %ld: a balance must never go "
              "below 0 (check the balance under the lock that guards it)",
              after, negative, negative < 0 ? 0 : bank_balance(s->b, negative));
    KIT_CHECK(sum == expected, "after %s the balances add up to %ld, but the bank "
              "holds %ld: money was %s. A balance was changed by two threads at once, "
              "or without holding its account's lock.",
              after, sum, expected, sum > expected ? "created" : "lost");
    long total = bank_total(s->b);
    KIT_CHECK(total == expected, "after %s, bank_total: expected %ld, got %ld",
              after, expected, total);
}

static void test_total_is_conserved_under_random_transfers(void)
{
    static const struct { int nthreads, naccounts; long ms; } native[] = {
        { 1, 4, 20 }, { 2, 4, 50 }, { 8, 16, 50 }, { 64, 32, 40 },
    };
    static const struct { int nthreads, naccounts; long ms; } race[] = {
        { 2, 4, 0 }, { 4, 8, 0 },
    };
    bool racing = kit_race_mode();
    size_t nphases = racing ? 2 : 4;
    for (size_t k = 0; k < nphases; k++) {
        int n = racing ? race[k].nthreads : native[k].nthreads;
        int na = racing ? race[k].naccounts : native[k].naccounts;
        struct shuffle *s = shuffle_new(na, 100, n);
        s->pace = pace_for(racing ? 0 : native[k].ms, 60);
        int stuck = run_crew(n, shuffle_worker, s);
        KIT_REQUIRE(stuck == 0, "%d thread(s) made random transfers among %d accounts; "
                    "then for %ld ms none got anywhere, %d stayed inside bank_transfer "
                    "(deadlock). "
                    DEADLOCK_HELP ".", n, na, deadlock_ms(), stuck);
        report_problems(&s->problems);
        char after[100];
        snprintf(after, sizeof after, "%d thread(s) made random transfers among %d accounts",
                 n, na);
        check_conserved(s, after);
        bank_destroy(s->b);
        free(s);
    }
}

/* ---- threads suite: bank_total while transfers run ---------------------- */

/* Readers: call bank_total (and bank_balance) over and over while the
 * transfer threads run; every total must be the initial one. */
static void snapshot_worker(int i, void *arg)
{
    struct shuffle *s = arg;
    if (i < s->ntransfer) {
        random_transfers(s, i);
        return;
    }
    const long expected = s->naccounts * s->initial;
    long calls = 0, wrong = 0, first = 0;
    unsigned seed = s->seed + (unsigned)i;
    for (; keep_going(&s->pace, calls); calls++) {
        long total = bank_total(s->b);
        if (total != expected && wrong++ == 0)
            first = total;
        if (calls % 16 != 0)
            continue;   /* mostly totals: a reader that keeps adding sees more */
        int a = rand_r(&seed) % s->naccounts;
        long bal = bank_balance(s->b, a);
        if (bal < 0 || bal > expected) {
            note_problem(&s->problems, "bank_balance(b, %d) returned %ld while transfers "
                         "ran, but balances stay between 0 and the bank's total %ld",
                         a, bal, expected);
            return;
        }
    }
    if (wrong > 0)
        note_problem(&s->problems, "bank_total returned %ld while transfers ran, but the "
                     "bank always holds %ld (%ld of %ld calls in one thread were wrong). "
                     "The sum was not taken at one instant: either bank_total added "
                     "balances while transfers changed them (hold every account's lock "
                     "while adding, taking them in the same global order as "
                     "bank_transfer), or a transfer let go of a lock half way, leaving "
                     "money in flight that no account holds", first, expected, wrong, calls);
}

static void test_total_sees_one_instant_while_transfers_run(void)
{
    /* Few accounts: transfers collide often; many accounts: each bank_total
     * takes long enough for whole transfers to happen while it adds. */
    static const struct { int ntransfer, nreaders, naccounts; } phases[] = {
        { 2, 1, 4 }, { 6, 2, 8 }, { 3, 1, 64 },
    };
    /* Under a race detector one pass over each access pair is enough. */
    size_t nphases = kit_race_mode() ? 2 : sizeof phases / sizeof phases[0];
    for (size_t k = 0; k < nphases; k++) {
        int nt = phases[k].ntransfer, nr = phases[k].nreaders, na = phases[k].naccounts;
        struct shuffle *s = shuffle_new(na, 100, nt);
        s->pace = pace_for(50, 40);
        int stuck = run_crew(nt + nr, snapshot_worker, s);
        KIT_REQUIRE(stuck == 0, "%d threads made random transfers among %d accounts "
                    "while %d called bank_total; then for %ld ms none got anywhere, %d "
                    "stayed stuck (deadlock). Usual causes: bank_total taking the account "
                    "locks in another order than bank_transfer (both must follow one "
                    "global order, e.g. increasing index); " DEADLOCK_CAUSES ".", nt, na, nr, deadlock_ms(), stuck);
        report_problems(&s->problems);
        char after[120];
        snprintf(after, sizeof after, "%d threads made random transfers among %d "
                 "accounts while %d called bank_total", nt, na, nr);
        check_conserved(s, after);
        bank_destroy(s->b);
        free(s);
    }
}

/* ---- the suites ---------------------------------------------------------- */

static CU_TestInfo api_tests[] = {
    { "test_create_rejects_bad_sizes_and_negative_initial",
      test_create_rejects_bad_sizes_and_negative_initial },
    { "test_new_accounts_hold_the_initial_amount", test_new_accounts_hold_the_initial_amount },
    { "test_balance_of_unknown_account_is_minus_one",
      test_balance_of_unknown_account_is_minus_one },
    { "test_transfer_moves_money_between_two_accounts",
      test_transfer_moves_money_between_two_accounts },
    { "test_transfer_rejects_unknown_accounts_and_bad_amounts",
      test_transfer_rejects_unknown_accounts_and_bad_amounts },
    { "test_invalid_wins_over_insufficient", test_invalid_wins_over_insufficient },
    { "test_self_transfer_changes_nothing", test_self_transfer_changes_nothing },
    { "test_refused_transfers_release_their_locks",
      test_refused_transfers_release_their_locks },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    { "test_opposite_transfers_do_not_deadlock", test_opposite_transfers_do_not_deadlock },
    { "test_concurrent_withdrawals_never_overdraw",
      test_concurrent_withdrawals_never_overdraw },
    { "test_total_is_conserved_under_random_transfers",
      test_total_is_conserved_under_random_transfers },
    { "test_total_sees_one_instant_while_transfers_run",
      test_total_sees_one_instant_while_transfers_run },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "api", NULL, NULL, NULL, NULL, api_tests },
    { "threads", NULL, NULL, NULL, NULL, thread_tests },
    CU_SUITE_INFO_NULL,
};
