/* Hostile: includes /etc/shadow
 * Reason: shadow
 */
#include "/etc/shadow"

static int hostile(void)
{
    return 1;
}
