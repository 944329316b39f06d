/* grade.h - grade one exercise: build, unit tests, race check, points.
 *
 * The outcome is a JSON object (so that exercises graded in parallel worker
 * processes can hand it back through a file):
 *   { "id", "title", "score", "max_score",
 *     "build": "ok" | "warnings" | "failed" | "missing",
 *     "tests_passed", "tests_total",
 *     "race": "clean" | "found" | "timeout" | "error" | "none" | "skipped",
 *     "hint": first hint or null,
 *     "timing_ms": { "build", "unit", "noise", "helgrind", "tsan" },
 *     "tests": [ Gradescope test objects, tagged [ID, build|unit|race] ] } */
#ifndef KIT_GRADE_H
#define KIT_GRADE_H

#include "manifest.h"
#include "sandbox.h"

#include <jansson.h>
#include <stdbool.h>

/* Which checks run: all, or only one (a quicker loop; the kit's own tests
 * grade a mutant with the check that must catch it). The others are
 * reported as failed, "not run". */
enum grade_checks { CHECKS_ALL, CHECKS_UNIT, CHECKS_RACE };

struct grade_opts {
    const char *kit;          /* the kit's root */
    const char *submission;   /* folder laid out like exercises/ */
    const char *scratch;      /* scratch root: each exercise gets scratch/ID */
    const char *runner_lib;
    const struct sandbox *sandbox;   /* how student code runs (this worker's) */
    enum grade_checks checks;
    const char *cache;        /* folder of results reused while unchanged (cache.h); NULL: none */
    const char *shared;       /* folder of results by key, shared by submissions (--reuse); NULL: none */
    bool first_failure;       /* stop an exercise's unit tests at the first that fails */
    int lanes;                /* an exercise's tests run this many side by side (lanes.h) */
};

json_t *grade_exercise(const struct grade_opts *opts, const struct exercise *ex);

/* The outcome of an exercise whose grading was cut short (its worker was
 * killed): no points, `why` in every entry. */
json_t *grade_lost(const struct exercise *ex, const char *why);

/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD. */
json_t *json_text(const char *s);

#endif /* KIT_GRADE_H */
