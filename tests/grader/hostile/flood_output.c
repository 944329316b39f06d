/* Hostile: floods stdout and stderr without end
 * Reason: bytes of output cut
 */
#include <string.h>
#include <unistd.h>

static int hostile(void)
{
    static char block[1 << 16];
    memset(block, 'x', sizeof block);
    for (;;) {
        if (write(1, block, sizeof block) < 0 || write(2, block, sizeof block) < 0)
            return 1;
    }
}
