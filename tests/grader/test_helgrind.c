/* test_helgrind.c - reading helgrind's XML and TSan's logs, from recordings
 * (tests/grader/data/README.md). */
#define _GNU_SOURCE
#include "helgrind.h"
#include "tsan.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#define DATA "tests/grader/data/"

static void test_race_errors_have_both_stacks_and_threads(void)
{
    struct hg_report rep = { 0 };
    CU_ASSERT_EQUAL_FATAL(hg_parse_file(DATA "race.xml", &rep), 0);
    CU_ASSERT_EQUAL(rep.nfiles, 1);
    CU_ASSERT_FALSE(rep.truncated);
    CU_ASSERT_EQUAL_FATAL(rep.nerrors, 2);
    for (int i = 0; i < rep.nerrors; i++) {
        struct hg_error *e = &rep.errors[i];
        CU_ASSERT_STRING_EQUAL(e->kind, "Race");
        CU_ASSERT_TRUE_FATAL(e->nstacks >= 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(e->stacks[0].label, "Possible data race during"));
        CU_ASSERT_PTR_NOT_NULL(strstr(e->stacks[1].label, "This conflicts with a previous"));
        CU_ASSERT_TRUE(e->stacks[0].thread > 0);
        CU_ASSERT_TRUE(e->stacks[1].thread > 0);
        CU_ASSERT_NOT_EQUAL(e->stacks[0].thread, e->stacks[1].thread);
        const struct hg_frame *f = hg_frame_in(&e->stacks[0], "counter.c");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        CU_ASSERT_STRING_EQUAL(f->fn, "racer");
        CU_ASSERT_EQUAL(f->line, 11);
    }
    hg_report_free(&rep);
}

static void test_lock_order_keeps_its_labelled_stacks(void)
{
    struct hg_report rep = { 0 };
    CU_ASSERT_EQUAL_FATAL(hg_parse_file(DATA "lock-order.xml", &rep), 0);
    CU_ASSERT_EQUAL_FATAL(rep.nerrors, 1);
    struct hg_error *e = &rep.errors[0];
    CU_ASSERT_STRING_EQUAL(e->kind, "LockOrder");
    bool required = false, later = false;
    for (int s = 0; s < e->nstacks; s++) {
        required |= strncmp(e->stacks[s].label, "Required order was established", 30) == 0;
        later |= strncmp(e->stacks[s].label, "followed by a later acquisition", 31) == 0;
    }
    CU_ASSERT_TRUE(required);
    CU_ASSERT_TRUE(later);
    hg_report_free(&rep);
}

static void test_a_truncated_document_still_gives_its_complete_errors(void)
{
    struct hg_report rep = { 0 };
    CU_ASSERT_EQUAL_FATAL(hg_parse_file(DATA "truncated.xml", &rep), 0);
    CU_ASSERT_TRUE(rep.truncated);
    CU_ASSERT_TRUE(rep.nerrors >= 1);
    hg_report_free(&rep);
}

static void test_a_missing_file_is_an_error(void)
{
    struct hg_report rep = { 0 };
    CU_ASSERT_EQUAL(hg_parse_file(DATA "no-such.xml", &rep), -1);
    CU_ASSERT_EQUAL(rep.nerrors, 0);
    hg_report_free(&rep);
}

static void test_a_folder_of_documents_is_read_whole(void)
{
    struct hg_report rep = { 0 };
    glob_t xml;
    CU_ASSERT_EQUAL_FATAL(glob(DATA "*.xml", 0, NULL, &xml), 0);
    hg_parse_dir(DATA, &rep);
    CU_ASSERT_TRUE(xml.gl_pathc >= 2);
    CU_ASSERT_EQUAL(rep.nfiles, (int)xml.gl_pathc);
    globfree(&xml);
    CU_ASSERT_TRUE(rep.truncated);
    hg_report_free(&rep);
}

static void test_tsan_races_in_the_student_file_are_read(void)
{
    char *log = read_file(DATA "tsan-race.log", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(log);
    struct tsan_report rep = { 0 };
    tsan_parse(log, "counter.c", &rep);
    CU_ASSERT_EQUAL_FATAL(rep.nraces, 1);
    struct tsan_access *a = &rep.races[0].access[0], *b = &rep.races[0].access[1];
    CU_ASSERT_EQUAL(a->line, 11);
    CU_ASSERT_EQUAL(b->line, 11);
    CU_ASSERT_PTR_NOT_NULL(strstr(a->what, "of size 8"));
    CU_ASSERT_PTR_NOT_NULL(strstr(b->what, "Previous"));
    CU_ASSERT_PTR_NOT_NULL(a->thread);
    tsan_report_free(&rep);
    tsan_parse(log, "other.c", &rep);
    CU_ASSERT_EQUAL(rep.nraces, 0);
    tsan_report_free(&rep);
    free(log);
}

static CU_TestInfo tests[] = {
    { "test_race_errors_have_both_stacks_and_threads", test_race_errors_have_both_stacks_and_threads },
    { "test_lock_order_keeps_its_labelled_stacks", test_lock_order_keeps_its_labelled_stacks },
    { "test_a_truncated_document_still_gives_its_complete_errors", test_a_truncated_document_still_gives_its_complete_errors },
    { "test_a_missing_file_is_an_error", test_a_missing_file_is_an_error },
    { "test_a_folder_of_documents_is_read_whole", test_a_folder_of_documents_is_read_whole },
    { "test_tsan_races_in_the_student_file_are_read", test_tsan_races_in_the_student_file_are_read },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo helgrind_suites[] = {
    { "helgrind+tsan parsing", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
