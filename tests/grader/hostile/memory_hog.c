/* Hostile: allocates and touches memory until refused, then answers wrong
 * Reason: expected 5, got 6|killed by|timed out after
 */
#include <stdlib.h>
#include <string.h>

static int hostile(void)
{
    for (;;) {
        char *p = malloc(64 << 20);
        if (!p)
            return 1;
        memset(p, 1, 64 << 20);
    }
}
