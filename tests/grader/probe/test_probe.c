/* test_probe.c - the probe exercise's tests (see probe.h). */
#include "kit_test.h"
#include "probe.h"

static void test_add_small_numbers(void)
{
    KIT_CHECK_EQ(5, probe_add(2, 3), "probe_add(2, 3)");
}

static void test_add_negative_numbers(void)
{
    KIT_CHECK_EQ(-5, probe_add(-2, -3), "probe_add(-2, -3)");
}

static void test_count_with_threads(void)
{
    long per = kit_scale(1000, 200);   /* plumbing, not stress: cheap even with noise on a loaded machine */
    for (int n = 1; n <= 4; n *= 2)
        KIT_CHECK_EQ(n * per, probe_count(n, per), "probe_count: lost updates");
}

static CU_TestInfo basic[] = {
    { "test_add_small_numbers", test_add_small_numbers },
    { "test_add_negative_numbers", test_add_negative_numbers },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo threads[] = {
    { "test_count_with_threads", test_count_with_threads },
    CU_TEST_INFO_NULL,
};

CU_SuiteInfo kit_suites[] = {
    { "basic", NULL, NULL, NULL, NULL, basic },
    { "threads", NULL, NULL, NULL, NULL, threads },
    CU_SUITE_INFO_NULL,
};
