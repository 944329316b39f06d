/* unit.h - run an exercise's unit tests, each in its own process.
 *
 * Every test runs once plainly and, if it passed, again `noise_runs` times
 * with schedule noise (KIT_NOISE=1); its first failure is its verdict. A test
 * passes only on a verdict record from the runner: a crash, a hang (killed
 * at the exercise's time limit) or an exit() inside student code fails that
 * test alone, with the reason. */
#ifndef KIT_UNIT_H
#define KIT_UNIT_H

#include "manifest.h"

#include <stdbool.h>

struct test_result {
    char *name;        /* "suite/test" */
    bool passed;
    char *message;     /* why it failed, for the student; "" when passed */
    char *output;      /* what the failing run printed (capped); "" if nothing */
};

struct unit_result {
    struct test_result *tests;
    int ntests;
    char *error;       /* non-NULL: the tests could not even be listed */
    long plain_ms;     /* time spent in plain runs */
    long noise_ms;     /* time spent in schedule-noise runs */
};

void unit_run(const struct exercise *ex, const char *binary, struct unit_result *res);
void unit_result_free(struct unit_result *res);

/* Lists the tests of a test binary; NULL with the reason in *why. */
char **unit_list(const char *binary, char **why);

#endif /* KIT_UNIT_H */
