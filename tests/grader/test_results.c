/* test_results.c - Gradescope's results.json, and text made safe for JSON. */
#define _GNU_SOURCE
#include "grade.h"
#include "results.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

static json_t *exercise(const char *id, double score, double max)
{
    return json_pack("{s:s, s:f, s:f, s:[{s:s, s:f, s:f, s:s, s:s, s:[ss]}]}", "id", id,
                     "score", score, "max_score", max, "tests", "name", "x", "score", score,
                     "max_score", max, "status", score >= max ? "passed" : "failed",
                     "output", "", "tags", id, "unit");
}

static void test_results_json_sums_and_keeps_every_entry(void)
{
    json_t *all = json_pack("[oo]", exercise("04-a", 10, 10), exercise("05-b", 2.5, 10));
    json_t *doc = results_gradescope(all, 12.345);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(doc, "score")), 12.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(json_number_value(json_object_get(doc, "execution_time")), 12.35, 0.011);
    json_t *tests = json_object_get(doc, "tests");
    CU_ASSERT_EQUAL(json_array_size(tests), 2);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(json_object_get(json_array_get(tests, 1), "tags"), 0)), "05-b");
    CU_ASSERT_FALSE(results_full_marks(all));
    json_decref(doc);
    json_decref(all);
    all = json_pack("[o]", exercise("04-a", 10, 10));
    CU_ASSERT_TRUE(results_full_marks(all));
    json_decref(all);
}

static void test_student_output_becomes_valid_json_text(void)
{
    json_t *s = json_text("ok \xff\xfe bad \xc3\xa9 fine \x01");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const char *v = json_string_value(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(v, "\xEF\xBF\xBD"));
    CU_ASSERT_PTR_NOT_NULL(strstr(v, "\xc3\xa9 fine"));
    char *dumped = json_dumps(s, JSON_ENCODE_ANY);
    CU_ASSERT_PTR_NOT_NULL(strstr(dumped, "\\u0001"));
    free(dumped);
    json_decref(s);
}

static CU_TestInfo tests[] = {
    { "test_results_json_sums_and_keeps_every_entry", test_results_json_sums_and_keeps_every_entry },
    { "test_student_output_becomes_valid_json_text", test_student_output_becomes_valid_json_text },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo results_suites[] = {
    { "results", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
