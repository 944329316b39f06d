/* test_race.c - which helgrind reports count against the student. */
#define _GNU_SOURCE
#include "race.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#define DATA "tests/grader/data/"

static struct race_sorted sort(const char *xml, const char *file)
{
    struct hg_report rep = { 0 };
    struct race_sorted s = { 0 };
    CU_ASSERT_EQUAL(hg_parse_file(xml, &rep), 0);
    race_sort_helgrind(&rep, file, "exercises/04-race-counter/counter.c", &s);
    hg_report_free(&rep);
    return s;
}

static void test_a_race_awaits_confirmation_with_both_places(void)
{
    struct race_sorted s = sort(DATA "race.xml", "counter.c");
    CU_ASSERT_EQUAL(s.found.len, 0);
    CU_ASSERT_EQUAL_FATAL(s.nraces, 2);   /* read-vs-write and write-vs-write */
    const char *t = s.races[0].text;
    CU_ASSERT_PTR_NOT_NULL(strstr(t, "exercises/04-race-counter/counter.c:11: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, " by thread #"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t, " races with write at exercises/04-race-counter/counter.c:11"));
    CU_ASSERT_EQUAL(s.races[0].lines[0], 11);
    CU_ASSERT_EQUAL(s.races[0].lines[1], 11);
    race_sorted_free(&s);
}

static void test_lock_order_inversion_is_reported(void)
{
    struct race_sorted s = sort(DATA "lock-order.xml", "counter.c");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.found.buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.found.buf, "lock order inversion"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s.found.buf, "can deadlock"));
    CU_ASSERT_EQUAL(s.nraces, 0);
    race_sorted_free(&s);
}

static void test_lock_order_through_trylock_is_dismissed(void)
{
    struct race_sorted s = sort(DATA "lock-order-trylock.xml", "counter.c");
    CU_ASSERT_EQUAL(s.found.len, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.notes.buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.notes.buf, "trylock"));
    race_sorted_free(&s);
}

static void test_dubious_signal_after_unlock_is_dismissed(void)
{
    struct race_sorted s = sort(DATA "dubious-signal.xml", "counter.c");
    CU_ASSERT_EQUAL(s.found.len, 0);
    CU_ASSERT_EQUAL(s.nraces, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.notes.buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.notes.buf, "dubious"));
    race_sorted_free(&s);
}

static void test_wait_woken_from_another_process_is_dismissed(void)
{
    struct race_sorted s = sort(DATA "cond-wait-across-fork.xml", "counter.c");
    CU_ASSERT_EQUAL(s.found.len, 0);
    CU_ASSERT_EQUAL(s.nraces, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.notes.buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.notes.buf, "another process"));
    race_sorted_free(&s);
}

static void test_signal_glibc_sends_inside_a_timed_wait_is_dismissed(void)
{
    struct race_sorted s = sort(DATA "cond-wait-inner-signal.xml", "counter.c");
    CU_ASSERT_EQUAL(s.found.len, 0);
    CU_ASSERT_EQUAL(s.nraces, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.notes.buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.notes.buf, "pthread_cond_wait sends itself"));
    race_sorted_free(&s);
}

static void test_races_inside_glibcs_stack_cache_are_dismissed(void)
{
    struct race_sorted s = sort(DATA "stack-cache.xml", "thread_object.c");
    CU_ASSERT_EQUAL(s.found.len, 0);
    CU_ASSERT_EQUAL(s.nraces, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.notes.buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.notes.buf, "cache of thread stacks"));
    race_sorted_free(&s);
}

static void test_pthread_misuse_is_reported_as_helgrind_says(void)
{
    struct race_sorted s = sort(DATA "unlock-bogus.xml", "counter.c");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.found.buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.found.buf, "exercises/04-race-counter/counter.c:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s.found.buf, "unlocked"));
    race_sorted_free(&s);
}

static void test_reports_outside_the_student_file_are_ignored(void)
{
    struct race_sorted s = sort(DATA "lock-order.xml", "other.c");
    CU_ASSERT_EQUAL(s.found.len, 0);
    CU_ASSERT_EQUAL(s.nraces, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s.notes.buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.notes.buf, "do not involve other.c"));
    race_sorted_free(&s);
}

static void test_atomic_publication_races_are_only_candidates(void)
{
    struct race_sorted s = sort(DATA "atomic-publication.xml", "counter.c");
    CU_ASSERT_EQUAL(s.found.len, 0);   /* TSan decides; see race.h */
    CU_ASSERT_TRUE(s.nraces >= 1);
    race_sorted_free(&s);
}

static CU_TestInfo tests[] = {
    { "test_a_race_awaits_confirmation_with_both_places", test_a_race_awaits_confirmation_with_both_places },
    { "test_lock_order_inversion_is_reported", test_lock_order_inversion_is_reported },
    { "test_lock_order_through_trylock_is_dismissed", test_lock_order_through_trylock_is_dismissed },
    { "test_dubious_signal_after_unlock_is_dismissed", test_dubious_signal_after_unlock_is_dismissed },
    { "test_wait_woken_from_another_process_is_dismissed", test_wait_woken_from_another_process_is_dismissed },
    { "test_signal_glibc_sends_inside_a_timed_wait_is_dismissed", test_signal_glibc_sends_inside_a_timed_wait_is_dismissed },
    { "test_races_inside_glibcs_stack_cache_are_dismissed", test_races_inside_glibcs_stack_cache_are_dismissed },
    { "test_pthread_misuse_is_reported_as_helgrind_says", test_pthread_misuse_is_reported_as_helgrind_says },
    { "test_reports_outside_the_student_file_are_ignored", test_reports_outside_the_student_file_are_ignored },
    { "test_atomic_publication_races_are_only_candidates", test_atomic_publication_races_are_only_candidates },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo race_suites[] = {
    { "race sorting", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
