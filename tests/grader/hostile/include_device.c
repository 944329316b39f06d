/* Hostile: includes an endless file (/dev/zero)
 * Reason: out of memory|the compiler was stopped|killed by
 */
#include "/dev/zero"

static int hostile(void)
{
    return 1;
}
