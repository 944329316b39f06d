/* hint.c - make hint: one more hint each time, gentle first.
 *
 * STATE/hints/ID holds how many hints of the exercise were shown; each call
 * shows the next, and the last one again once all were shown. */
#define _GNU_SOURCE
#include "coach.h"

#include "manifest.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>

int coach_hint(const struct coach_opts *o, const char *id)
{
    struct exercise ex;
    char *err;
    if (manifest_load(o->kit, id, &ex, &err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int n = 0;
    while (ex.hints && ex.hints[n])
        n++;
    if (n == 0) {
        printf("%s has no hints: its README explains the idea.\n", ex.id);
        manifest_free(&ex);
        return 0;
    }
    char *dir = xasprintf("%s/hints", o->state);
    char *path = xasprintf("%s/%s", dir, ex.id);
    char *seen_text = read_file(path, NULL);
    int seen = seen_text ? atoi(seen_text) : 0;
    free(seen_text);
    int show = seen < n ? seen : n - 1;   /* 0-based */
    printf("Hint %d of %d for %s:\n  %s\n", show + 1, n, ex.id, ex.hints[show]);
    if (show + 1 < n)
        printf("(make hint EX=%.2s for the next one)\n", ex.id);
    else
        printf("(that was the strongest hint; all of them are in exercises/%s/README.md)\n", ex.id);
    char count[16];
    int len = snprintf(count, sizeof count, "%d\n", show + 1);
    if (mkdir_p(dir) != 0 || write_file(path, count, (size_t)len) != 0)
        fprintf(stderr, "(could not remember that this hint was shown: %s)\n", path);
    free(dir);
    free(path);
    manifest_free(&ex);
    return 0;
}
