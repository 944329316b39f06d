/* test_verdict.c - only records with the run's token count. */
#define _GNU_SOURCE
#include "verdict.h"
#include "util.h"

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>

static void test_tokens_are_random_and_exported(void)
{
    char a[33], b[33];
    char *ea = verdict_token_env(a), *eb = verdict_token_env(b);
    CU_ASSERT_EQUAL(strlen(a), 32);
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(strncmp(ea, "KIT_TOKEN=", 10), 0);
    CU_ASSERT_STRING_EQUAL(ea + 10, a);
    free(ea), free(eb);
}

static void test_a_pass_needs_the_token(void)
{
    const char *chan =
        "PASSED\n"
        "{\"test\":\"s/t\",\"ok\":true,\"failures\":[]}\n"
        "{\"test\":\"s/t\",\"ok\":true,\"failures\":[],\"token\":\"forged\"}\n";
    bool ok = true;
    char *why = NULL;
    CU_ASSERT_FALSE(verdict_find(chan, "secret", "s/t", &ok, &why));
    CU_ASSERT_PTR_NULL(why);
}

static void test_failures_show_file_line_and_message(void)
{
    const char *chan =
        "{\"test\":\"s/other\",\"ok\":true,\"token\":\"k\"}\n"
        "{\"test\":\"s/t\",\"ok\":false,\"token\":\"k\",\"failures\":["
        "{\"file\":\"/kit/tests/04/test_counter.c\",\"line\":42,"
        "\"message\":\"lost updates: expected 8, got 7\"}]}\n";
    bool ok = true;
    char *why = NULL;
    CU_ASSERT_TRUE_FATAL(verdict_find(chan, "k", "s/t", &ok, &why));
    CU_ASSERT_FALSE(ok);
    CU_ASSERT_STRING_EQUAL(why, "test_counter.c:42: lost updates: expected 8, got 7\n");
    free(why);
    CU_ASSERT_TRUE(verdict_find(chan, "k", "s/other", &ok, &why));
    CU_ASSERT_TRUE(ok);
    free(why);
}

static void test_the_list_needs_the_token_too(void)
{
    const char *chan = "{\"list\":[\"fake/one\"]}\n{\"list\":[\"a/b\",\"c/d\"],\"token\":\"k\"}\n";
    char **names = verdict_list(chan, "k");
    CU_ASSERT_PTR_NOT_NULL_FATAL(names);
    CU_ASSERT_STRING_EQUAL(names[0], "a/b");
    CU_ASSERT_STRING_EQUAL(names[1], "c/d");
    CU_ASSERT_PTR_NULL(names[2]);
    for (int i = 0; names[i]; i++)
        free(names[i]);
    free(names);
    CU_ASSERT_PTR_NULL(verdict_list("{\"list\":[]}\n", "k"));
}

static CU_TestInfo tests[] = {
    { "test_tokens_are_random_and_exported", test_tokens_are_random_and_exported },
    { "test_a_pass_needs_the_token", test_a_pass_needs_the_token },
    { "test_failures_show_file_line_and_message", test_failures_show_file_line_and_message },
    { "test_the_list_needs_the_token_too", test_the_list_needs_the_token_too },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo verdict_suites[] = {
    { "verdict", NULL, NULL, NULL, NULL, tests },
    CU_SUITE_INFO_NULL,
};
