/* unit.h - run an exercise's unit tests, each in its own process.
 *
 * Every test runs once plainly and, if it passed, again `noise_runs` times
 * with schedule noise (KIT_NOISE=1); its first failure is its verdict. A test
 * passes only on a verdict record from the runner: a crash, a hang (killed
 * at the exercise's time limit) or an exit() inside student code fails that
 * test alone, with the reason. */
#ifndef KIT_UNIT_H
#define KIT_UNIT_H

#include "build.h"

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
    int lanes;         /* how many ran side by side (lanes.h) */
};

/* Runs the tests of `binary` (built in ctx->scratch) in the sandbox, in
 * `lanes` processes side by side when lanes > 1 (lanes.h). With
 * `first_failure`, one at a time, and the tests after the first that fails
 * are not run (they are reported failed, "not run"). */
void unit_run(const struct build_ctx *ctx, const char *binary, bool first_failure, int lanes,
              struct unit_result *res);

/* Runs test t (named) as the comment at the top says; adds the time its runs
 * took to res's. `binary`: as the jail names it. */
void unit_run_test(const struct build_ctx *ctx, const char *binary, struct test_result *t,
                   struct unit_result *res);
void unit_result_free(struct unit_result *res);

/* Lists the tests of a test binary; NULL with the reason in *why. */
char **unit_list(const struct build_ctx *ctx, const char *binary, char **why);

/* The jail of a test run: the exercise's scratch folder, read-only but for
 * `writable` (NULL or a sub folder), with the limits for `tool`. */
struct jail unit_jail(const struct build_ctx *ctx, const char *writable, long timeout_ms,
                      enum jail_tool tool);

/* How a binary of the scratch folder is named inside its jail: "./tests". */
char *unit_jailed_path(const char *binary);

#endif /* KIT_UNIT_H */
