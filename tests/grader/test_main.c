/* test_main.c - the kit's unit tests of its grader and batch modules (CUnit). */
#include <CUnit/Basic.h>
#include <stdio.h>

extern CU_SuiteInfo manifest_suites[], helgrind_suites[], race_suites[], proc_suites[],
    verdict_suites[], results_suites[], unpack_suites[], roster_suites[], grades_suites[],
    stacks_suites[];

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_SuiteInfo *all[] = { manifest_suites, helgrind_suites, race_suites, proc_suites,
                            verdict_suites, results_suites, unpack_suites, roster_suites,
                            grades_suites, stacks_suites };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (CU_register_suites(all[i]) != CUE_SUCCESS) {
            fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
            return 2;
        }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_tests_failed();
    unsigned run = CU_get_number_of_tests_run();
    printf("\ngrader unit tests: %u passed, %u failed\n", run - failed, failed);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
