/* test_manifest.c - manifests, the catalogue and hints. */
#define _GNU_SOURCE
#include "manifest.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

static char kit[] = "/tmp/kit-manifest-XXXXXX";

static int make_kit(void)
{
    if (!mkdtemp(kit))
        return -1;
    return 0;
}

static int drop_kit(void)
{
    return remove_tree(kit);
}

static void put(const char *id, const char *manifest, const char *readme)
{
    char *tdir = xasprintf("%s/tests/%s", kit, id), *edir = xasprintf("%s/exercises/%s", kit, id);
    char *m = xasprintf("%s/exercise.json", tdir), *r = xasprintf("%s/README.md", edir);
    mkdir_p(tdir);
    mkdir_p(edir);
    write_file(m, manifest, strlen(manifest));
    if (readme)
        write_file(r, readme, strlen(readme));
    free(tdir), free(edir), free(m), free(r);
}

static void test_full_manifest_is_read(void)
{
    put("04-race-counter",
        "{\"title\": \"The racing counter\", \"student_file\": \"counter.c\", \"points\": 12,"
        " \"race_points\": 3, \"timeout_s\": 2.5, \"noise_runs\": 4, \"race_timeout_s\": 30,"
        " \"race_tests\": [\"a/b\", \"c/d\"], \"link_flags\": [\"-Wl,--wrap=fork\"]}",
        "# 04\n\n## Hints\n1. gentle\n2. strong\n");
    struct exercise ex;
    char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(manifest_load(kit, "04-race-counter", &ex, &err), 0);
    CU_ASSERT_STRING_EQUAL(ex.title, "The racing counter");
    CU_ASSERT_STRING_EQUAL(ex.student_file, "counter.c");
    CU_ASSERT_DOUBLE_EQUAL(ex.points, 12, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(ex.race_points, 3, 1e-9);
    CU_ASSERT_EQUAL(ex.timeout_ms, 2500);
    CU_ASSERT_EQUAL(ex.race_timeout_ms, 30000);
    CU_ASSERT_EQUAL(ex.noise_runs, 4);
    CU_ASSERT_TRUE(ex.race_check);
    CU_ASSERT_STRING_EQUAL(ex.race_tests[1], "c/d");
    CU_ASSERT_PTR_NULL(ex.race_tests[2]);
    CU_ASSERT_STRING_EQUAL(ex.link_flags[0], "-Wl,--wrap=fork");
    CU_ASSERT_PTR_NULL(ex.link_flags[1]);
    CU_ASSERT_STRING_EQUAL(ex.hints[0], "gentle");
    CU_ASSERT_STRING_EQUAL(ex.hints[1], "strong");
    manifest_free(&ex);
}

static void test_defaults_fill_what_is_left_out(void)
{
    put("06-x", "{\"title\": \"T\", \"student_file\": \"x.c\"}", NULL);
    struct exercise ex;
    char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(manifest_load(kit, "06-x", &ex, &err), 0);
    CU_ASSERT_EQUAL(ex.timeout_ms, 5000);
    CU_ASSERT_EQUAL(ex.noise_runs, 2);
    CU_ASSERT_TRUE(ex.race_check);
    CU_ASSERT_PTR_NULL(ex.race_tests);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ex.link_flags);
    CU_ASSERT_PTR_NULL(ex.link_flags[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ex.hints);
    CU_ASSERT_PTR_NULL(ex.hints[0]);
    manifest_free(&ex);
}

static void test_no_race_check_gives_its_points_to_the_tests(void)
{
    put("12-fork", "{\"title\": \"T\", \"student_file\": \"f.c\", \"points\": 10,"
                   " \"race_points\": 2, \"race_check\": false}", NULL);
    struct exercise ex;
    char *err = NULL;
    CU_ASSERT_EQUAL_FATAL(manifest_load(kit, "12-fork", &ex, &err), 0);
    CU_ASSERT_FALSE(ex.race_check);
    CU_ASSERT_DOUBLE_EQUAL(ex.race_points, 0, 1e-9);
    manifest_free(&ex);
}

static void expect_refused(const char *id, const char *json, const char *in_message)
{
    put(id, json, NULL);
    struct exercise ex;
    char *err = NULL;
    CU_ASSERT_EQUAL(manifest_load(kit, id, &ex, &err), -1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, in_message));
    free(err);
}

static void test_bad_manifests_are_refused_with_a_reason(void)
{
    expect_refused("07-a", "{\"title\": \"T\",", "exercise.json:1");
    expect_refused("07-b", "{\"title\": \"T\"}", "student_file");
    expect_refused("07-c", "{\"title\": \"T\", \"student_file\": \"../x.c\"}", "student_file");
    expect_refused("07-d", "{\"title\": \"T\", \"student_file\": \"x.c\", \"points\": 2,"
                           " \"race_points\": 3}", "race_points");
    expect_refused("07-e", "{\"title\": \"T\", \"student_file\": \"x.c\", \"timeout_s\": -1}",
                   "negative");
}

static void test_hints_are_the_numbered_items_under_hints_only(void)
{
    char **h = hints_parse("# T\n1. not a hint\n## Hints\n\n1. first\ntext\n2. second\n"
                           "10. tenth\n## Next\n3. not a hint\n");
    CU_ASSERT_STRING_EQUAL(h[0], "first");
    CU_ASSERT_STRING_EQUAL(h[1], "second");
    CU_ASSERT_STRING_EQUAL(h[2], "tenth");
    CU_ASSERT_PTR_NULL(h[3]);
    strv_free(h);
    h = hints_parse(NULL);
    CU_ASSERT_PTR_NULL(h[0]);
    strv_free(h);
}

static void test_catalogue_is_sorted_and_found_by_prefix(void)
{
    char **ids = catalogue_ids(kit);
    CU_ASSERT_STRING_EQUAL(ids[0], "04-race-counter");
    for (int i = 1; ids[i]; i++)
        CU_ASSERT_TRUE(strcmp(ids[i - 1], ids[i]) < 0);
    CU_ASSERT_STRING_EQUAL(catalogue_find(ids, "04"), "04-race-counter");
    CU_ASSERT_STRING_EQUAL(catalogue_find(ids, "04-race-counter"), "04-race-counter");
    CU_ASSERT_PTR_NULL(catalogue_find(ids, "07"));   /* 07-a, 07-b, ...: ambiguous */
    CU_ASSERT_PTR_NULL(catalogue_find(ids, "99"));
    CU_ASSERT_STRING_EQUAL(catalogue_find(ids, "04-race"), "04-race-counter");
    CU_ASSERT_PTR_NULL(catalogue_find(ids, "04-rac"));
    strv_free(ids);
}

static CU_TestInfo tests[] = {
    { "test_full_manifest_is_read", test_full_manifest_is_read },
    { "test_defaults_fill_what_is_left_out", test_defaults_fill_what_is_left_out },
    { "test_no_race_check_gives_its_points_to_the_tests", test_no_race_check_gives_its_points_to_the_tests },
    { "test_bad_manifests_are_refused_with_a_reason", test_bad_manifests_are_refused_with_a_reason },
    { "test_hints_are_the_numbered_items_under_hints_only", test_hints_are_the_numbered_items_under_hints_only },
    { "test_catalogue_is_sorted_and_found_by_prefix", test_catalogue_is_sorted_and_found_by_prefix },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo manifest_suites[] = {
    { "manifest", make_kit, drop_kit, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
