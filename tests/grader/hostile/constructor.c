/* Hostile: a constructor that steals the verdict token before main runs
 * Reason: constructor or destructor functions
 */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void steal(void)
{
    const char *token = getenv("KIT_TOKEN");
    if (token)
        fprintf(stderr, "token %s\n", token);
}

static int hostile(void)
{
    return 1;
}
