/* Hostile: defines main and CUnit's assertion function so every check passes
 * Reason: expected 5, got 6
 */
#include <CUnit/CUnit.h>

int main(void)
{
    return 0;
}

CU_BOOL CU_assertImplementation(CU_BOOL value, unsigned int line, const char *condition,
                                const char *file, const char *function, CU_BOOL fatal)
{
    (void)value, (void)line, (void)condition, (void)file, (void)function, (void)fatal;
    return CU_TRUE;
}

static int hostile(void)
{
    return 1;
}
