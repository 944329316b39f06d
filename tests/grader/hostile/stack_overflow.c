/* Hostile: recurses until the stack overflows
 * Reason: killed by SIGSEGV
 */
static int deeper(volatile char *above)
{
    volatile char frame[4096];
    frame[0] = above ? above[0] : 1;
    return deeper(frame) + frame[1];
}

static int hostile(void)
{
    return deeper(0);
}
