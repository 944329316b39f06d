/* Hostile: spins forever inside the function under test
 * Reason: timed out after
 */
static int hostile(void)
{
    for (volatile int i = 0;; i++)
        ;
    return 0;
}
