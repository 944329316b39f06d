/* manifest.h - what the kit declares about each exercise.
 *
 * An exercise exists when tests/ID/exercise.json exists; that manifest gives
 * its title, points, time limits and student file, and the exercise's
 * README.md gives its hints (the numbered list under "## Hints"). Nothing
 * about a particular exercise lives in grader code. */
#ifndef KIT_MANIFEST_H
#define KIT_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

struct exercise {
    char *id;             /* "04-race-counter" */
    char *title;
    char *student_file;   /* "counter.c" */
    double points;        /* all of the exercise */
    double race_points;   /* the race check's share; 0 without a race check */
    long timeout_ms;      /* per unit test, native */
    long race_timeout_ms; /* the whole race-check run under helgrind */
    int noise_runs;       /* extra runs of each test with schedule noise */
    bool race_check;      /* false: the exercise has no threads */
    char **race_tests;    /* NULL: all tests; else NULL-terminated names */
    char **hints;         /* NULL-terminated, gentle to strong */
    char **link_flags;    /* extra flags for linking the tests (e.g. -Wl,--wrap=fork); never NULL */
};

/* Loads tests/ID/exercise.json under kit; 0, or -1 with a message in *err. */
int manifest_load(const char *kit, const char *id, struct exercise *ex, char **err);
void manifest_free(struct exercise *ex);

/* The IDs of every exercise in the kit, in course order (NULL-terminated). */
char **catalogue_ids(const char *kit);

/* Resolves "04" or "04-race-counter" to the full ID; NULL if none or several. */
char *catalogue_find(char **ids, const char *wanted);

/* The numbered items under "## Hints" in a README (NULL-terminated). */
char **hints_parse(const char *readme);

void strv_free(char **v);
size_t strv_len(char **v);   /* 0 for NULL */

#endif /* KIT_MANIFEST_H */
