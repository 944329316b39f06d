/* Hostile: dereferences a null pointer
 * Reason: killed by SIGSEGV
 */
static int hostile(void)
{
    volatile int *p = 0;
    return *p;
}
