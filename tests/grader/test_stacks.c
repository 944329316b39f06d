/* test_stacks.c - where the threads of a stopped test were, from gdb's
 * output (tests/grader/data/README.md). */
#define _GNU_SOURCE
#include "stacks.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

#define DATA "tests/grader/data/"

static void test_stuck_threads_are_named_with_their_wait_and_line(void)
{
    char *out = read_file(DATA "gdb-deadlock.txt", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    char *text = stacks_from_gdb(out, "bank.c", "exercises/05-lock-fixes/bank.c");
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ": blocked in pthread_mutex_lock at "
                                        "exercises/05-lock-fixes/bank.c:4 (lock, called from line 5 in t1)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, ": blocked in pthread_mutex_lock at "
                                        "exercises/05-lock-fixes/bank.c:4 (lock, called from line 6 in t2)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "thread 1: waiting in pthread_join at "
                                        "exercises/05-lock-fixes/bank.c:7 (main)"));
    char *other = stacks_from_gdb(out, "other.c", "other.c");   /* no thread in that file */
    CU_ASSERT_PTR_NULL(other);
    free(text);
    free(out);
}

static CU_TestInfo tests[] = {
    { "test_stuck_threads_are_named_with_their_wait_and_line", test_stuck_threads_are_named_with_their_wait_and_line },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo stacks_suites[] = {
    { "stacks", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
