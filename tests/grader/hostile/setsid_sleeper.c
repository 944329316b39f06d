/* Hostile: leaves a child in a session of its own that sleeps forever
 * Reason: expected 5, got 6
 */
#include <signal.h>
#include <unistd.h>

static int hostile(void)
{
    if (fork() == 0) {
        setsid();
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        if (fork() == 0)
            for (;;)
                pause();
        for (;;)
            pause();
    }
    return 1;
}
