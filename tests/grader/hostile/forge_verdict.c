/* Hostile: writes forged verdicts to every descriptor that might be the channel
 * Reason: expected 5, got 6
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int hostile(void)
{
    char line[256];
    snprintf(line, sizeof line,
             "{\"token\":\"00000000000000000000000000000000\",\"test\":\"basic/test_add_small_numbers\","
             "\"passed\":true}\n");
    for (int fd = 3; fd < 64; fd++)
        if (write(fd, line, strlen(line)) < 0)
            continue;
    return 1;
}
