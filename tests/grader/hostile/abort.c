/* Hostile: calls abort()
 * Reason: killed by SIGABRT
 */
#include <stdlib.h>

static int hostile(void)
{
    abort();
}
