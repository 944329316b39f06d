/* test_grades.c - results.json in, grades.csv out. */
#define _GNU_SOURCE
#include "grades.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

static void test_points_are_summed_per_exercise(void)
{
    char tmpl[] = "/tmp/kit-grades.XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *path = xasprintf("%s/results.json", dir);
    const char *json =
        "{\"score\": 11.5, \"tests\": ["
        "{\"score\": 1, \"tags\": [\"04-race-counter\", \"build\"]},"
        "{\"score\": 7.5, \"tags\": [\"04-race-counter\", \"unit\"]},"
        "{\"score\": 3, \"tags\": [\"05-lock-fixes\", \"race\"]},"
        "{\"score\": 9, \"tags\": [\"99-elsewhere\", \"unit\"]}]}";
    write_file(path, json, strlen(json));
    char *ids[] = { "04-race-counter", "05-lock-fixes", "06-timeout-lock", NULL };
    double p[3];
    CU_ASSERT_EQUAL_FATAL(grades_read(path, ids, p), 0);
    CU_ASSERT_DOUBLE_EQUAL(p[0], 8.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p[1], 3, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p[2], 0, 1e-9);
    write_file(path, "{", 1);
    CU_ASSERT_EQUAL(grades_read(path, ids, p), -1);
    remove_tree(dir);
    free(path);
}

static void test_numbers_have_at_most_two_decimals_and_no_trailing_zeros(void)
{
    const struct { double v; const char *s; } cases[] = {
        { 10, "10" }, { 4.7, "4.7" }, { 10.0 / 3, "3.33" }, { 0, "0" }, { -0.0, "0" }, { 2.005, "2" },
    };
    char buf[32];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        grades_format(cases[i].v, buf);
        CU_ASSERT_STRING_EQUAL(buf, cases[i].s);
    }
}

static void test_the_csv_has_a_header_a_row_per_student_and_quotes_when_needed(void)
{
    char tmpl[] = "/tmp/kit-grades.XXXXXX";
    char *dir = mkdtemp(tmpl);
    char *path = xasprintf("%s/grades.csv", dir);
    char *ids[] = { "04-race-counter", "05-lock-fixes", NULL };
    struct student s[] = { { .name = "alice" }, { .name = "Smith, \"J\"" }, { .name = "zed" } };
    double a[] = { 10, 4.7 }, b[] = { 0.5, 0 };
    double *rows[] = { a, b, NULL };
    CU_ASSERT_EQUAL_FATAL(grades_write_csv(path, ids, s, 3, rows), 0);
    char *text = read_file(path, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    CU_ASSERT_STRING_EQUAL(text, "student,04-race-counter,05-lock-fixes,total\n"
                                 "alice,10,4.7,14.7\n"
                                 "\"Smith, \"\"J\"\"\",0.5,0,0.5\n"
                                 "zed,0,0,0\n");
    free(text);
    remove_tree(dir);
    free(path);
}

static CU_TestInfo tests[] = {
    { "test_points_are_summed_per_exercise", test_points_are_summed_per_exercise },
    { "test_numbers_have_at_most_two_decimals_and_no_trailing_zeros", test_numbers_have_at_most_two_decimals_and_no_trailing_zeros },
    { "test_the_csv_has_a_header_a_row_per_student_and_quotes_when_needed", test_the_csv_has_a_header_a_row_per_student_and_quotes_when_needed },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo grades_suites[] = {
    { "grades", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
