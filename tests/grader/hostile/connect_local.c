/* Hostile: connects to 127.0.0.1 to reach services of the grading machine
 * Reason: expected 5, got 6
 * Needs: bubblewrap
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int hostile(void)
{
    /* A loopback of its own is harmless; the machine's is not. The kit's
     * tests put the grading machine's network namespace in @NETNS@. */
    char ns[64] = "";
    ssize_t n = readlink("/proc/self/ns/net", ns, sizeof ns - 1);
    int on_host = n > 0 && strcmp(ns, "@NETNS@") == 0;

    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(22) };
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int connected = s >= 0 && connect(s, (struct sockaddr *)&to, sizeof to) == 0;
    if (s >= 0)
        close(s);
    return on_host || connected ? 0 : 1;   /* the right answer only if it got out */
}
