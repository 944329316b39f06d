/* test_roster.c - finding the students and their exercise folders. */
#define _GNU_SOURCE
#include "roster.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

static char *make_tree(const char *const *paths)   /* "x/" is a folder, else a file */
{
    char tmpl[] = "/tmp/kit-roster.XXXXXX";
    char *dir = xstrdup(mkdtemp(tmpl));
    for (const char *const *p = paths; *p; p++) {
        char *full = xasprintf("%s/%s", dir, *p);
        size_t len = strlen(full);
        if (full[len - 1] == '/') {
            mkdir_p(full);
        } else {
            char *slash = strrchr(full, '/');
            *slash = '\0';
            mkdir_p(full);
            *slash = '/';
            write_file(full, "x", 1);
        }
        free(full);
    }
    return dir;
}

static void test_students_are_folders_and_archives_in_byte_order(void)
{
    const char *paths[] = { "zoe/", "Bob.tgz", "alice.zip", "carol.tar.gz", ".hidden/",
                            "notes.txt", NULL };
    char *dir = make_tree(paths);
    struct strbuf skipped = { 0 };
    int n = 0;
    struct student *s = roster_read(dir, &n, &skipped);
    CU_ASSERT_EQUAL_FATAL(n, 4);
    const char *want[] = { "Bob", "alice", "carol", "zoe" };
    for (int i = 0; i < 4; i++)
        CU_ASSERT_STRING_EQUAL(s[i].name, want[i]);
    CU_ASSERT_TRUE(s[0].archive && s[1].archive && s[2].archive && !s[3].archive);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_PTR_NULL(s[i].problem);
    CU_ASSERT_PTR_NOT_NULL(skipped.buf && strstr(skipped.buf, "notes.txt"));
    roster_free(s, n);
    free(skipped.buf);
    remove_tree(dir);
    free(dir);
}

static void test_a_student_handed_in_twice_is_not_guessed(void)
{
    const char *paths[] = { "dan/", "dan.zip", "eve/", NULL };
    char *dir = make_tree(paths);
    struct strbuf skipped = { 0 };
    int n = 0;
    struct student *s = roster_read(dir, &n, &skipped);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_PTR_NOT_NULL(s[0].problem);
    CU_ASSERT_PTR_NOT_NULL(s[1].problem);
    CU_ASSERT_PTR_NULL(s[2].problem);
    roster_free(s, n);
    free(skipped.buf);
    remove_tree(dir);
    free(dir);
}

static void test_the_exercise_folders_are_found_one_or_two_levels_down(void)
{
    char *ids[] = { "04-race-counter", "05-lock-fixes", NULL };
    const char *paths[] = { "a/04-race-counter/counter.c", "b/lab/05-lock-fixes/bank.c",
                            "b/__MACOSX/", "c/x/exercises/04-race-counter/counter.c",
                            "d/one/", "d/two/", NULL };
    char *dir = make_tree(paths);
    const char *cases[][2] = { { "a", "a" }, { "b", "b/lab" }, { "c", "c/x/exercises" },
                               { "d", "d" } };
    for (int i = 0; i < 4; i++) {
        char *from = xasprintf("%s/%s", dir, cases[i][0]);
        char *want = xasprintf("%s/%s", dir, cases[i][1]);
        char *got = roster_submission_root(from, ids);
        CU_ASSERT_STRING_EQUAL(got, want);
        free(from), free(want), free(got);
    }
    remove_tree(dir);
    free(dir);
}

static CU_TestInfo tests[] = {
    { "test_students_are_folders_and_archives_in_byte_order", test_students_are_folders_and_archives_in_byte_order },
    { "test_a_student_handed_in_twice_is_not_guessed", test_a_student_handed_in_twice_is_not_guessed },
    { "test_the_exercise_folders_are_found_one_or_two_levels_down", test_the_exercise_folders_are_found_one_or_two_levels_down },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo roster_suites[] = {
    { "roster", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
