/* kit_test.h - what an exercise's CUnit test file may use.
 *
 * A test file (tests/ID/test_NAME.c) includes this header and the exercise's
 * NAME.h, writes ordinary CUnit test functions, and defines the one table the
 * runner registers:
 *
 *     CU_SuiteInfo kit_suites[] = {
 *         { "basic", NULL, NULL, NULL, NULL, basic_tests },
 *         CU_SUITE_INFO_NULL,
 *     };
 *
 * The grader runs every test in its own process, with a deadline, several
 * times: once plainly, then with schedule noise (a sched_yield() at every
 * synchronisation call), and once in "race mode" under helgrind or
 * ThreadSanitizer, where every access is slow: size workloads with
 * kit_scale(). Messages of failed checks are what the student reads: say what
 * was expected, what happened and what that usually means. */
#ifndef KIT_TEST_H
#define KIT_TEST_H

#include "kit_limits.h"

#include <CUnit/CUnit.h>
#include <stdbool.h>

/* The suites of the test file, ended by CU_SUITE_INFO_NULL. */
extern CU_SuiteInfo kit_suites[];

/* An instructor's hidden tests (tests/ID/hidden_NAME.c, compiled after the
 * public test file, in the same unit) define these; the handout has none. */
extern CU_SuiteInfo kit_hidden_suites[] __attribute__((weak));

/* True when the test runs under a race detector (helgrind or TSan). */
bool kit_race_mode(void);

/* The workload to use: `native` normally, `race` under a race detector. */
long kit_scale(long native, long race);

/* How much slower than a plain run this run may be: 1 plainly, 3 with
 * schedule noise, 20 under a race detector. Multiply the deadlines a test
 * sets itself ("must return within 2000 ms") by it; the grader scales its own
 * time limits the same way. */
long kit_time_factor(void);

/* Monotonic clock in milliseconds, and a sleep that resumes after signals. */
long kit_now_ms(void);
void kit_sleep_ms(long ms);

/* Starts n threads, thread i calling fn(i, arg), and joins them all. Ends the
 * test with a failure if a thread cannot be started. */
void kit_run_threads(int n, void (*fn)(int i, void *arg), void *arg);

/* The exit status of a forked child that returned from the test function
 * instead of exiting (the runner ends it; only the test's own process reports). */
#define KIT_CHILD_RETURNED 111

/* Records a failure with a printf-style message (the student sees it). */
void kit_fail_at(const char *file, unsigned line, bool fatal,
                 const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Checks `cond`; on failure records the formatted message. KIT_CHECK goes on
 * with the test, KIT_REQUIRE ends it. */
#define KIT_CHECK(cond, ...) KIT_ASSERT_((cond), #cond, false, __VA_ARGS__)
#define KIT_REQUIRE(cond, ...) KIT_ASSERT_((cond), #cond, true, __VA_ARGS__)

#define KIT_ASSERT_(cond, text, fatal, ...)                           \
    do {                                                              \
        if (cond)                                                     \
            CU_assertImplementation(CU_TRUE, __LINE__, text,          \
                                    __FILE__, "", CU_FALSE);          \
        else                                                          \
            kit_fail_at(__FILE__, __LINE__, fatal, __VA_ARGS__);      \
    } while (0)

/* Compares two integers and shows both: "what: expected 800000, got 799127". */
#define KIT_CHECK_EQ(expected, actual, what)                          \
    do {                                                              \
        long long kit_e_ = (long long)(expected);                     \
        long long kit_a_ = (long long)(actual);                       \
        KIT_CHECK(kit_e_ == kit_a_, "%s: expected %lld, got %lld",    \
                  (what), kit_e_, kit_a_);                            \
    } while (0)

#endif /* KIT_TEST_H */
