/* build.h - compile one exercise: the student's file with the kit's header,
 * tests and runner, in a scratch folder.
 *
 * Only NAME.c comes from the submission, copied after checks (a regular file,
 * not a link, not huge, no NUL bytes); the header, the tests and the flags are
 * the kit's. Compiler messages are rewritten to name the student's own path,
 * so "exercises/04-race-counter/counter.c:14:5: error: ..." points where they
 * edit. */
#ifndef KIT_BUILD_H
#define KIT_BUILD_H

#include "manifest.h"
#include "sandbox.h"

enum build_state { BUILD_OK, BUILD_WARNINGS, BUILD_FAILED, BUILD_MISSING };

struct build_ctx {
    const char *kit;          /* the kit's root */
    const char *runner_lib;   /* libkitrunner.a */
    const struct exercise *ex;
    const char *student_path; /* the submission's NAME.c, as the student knows it */
    const char *scratch;      /* this exercise's scratch folder (created) */
    const struct sandbox *sb; /* how student code runs */
};

struct build_result {
    enum build_state state;
    char *messages;           /* compiler output or the reason, for the student */
    char *binary;             /* the test binary, when built */
};

/* Copies the student file in and builds the test binary (gcc -O0 -g, linked
 * with the schedule-noise wrappers). */
void build_tests(const struct build_ctx *ctx, struct build_result *res);

/* Builds the ThreadSanitizer variant of the same tests, from the copy made by
 * build_tests; NULL (with the reason in *why) if it cannot. */
char *build_tsan(const struct build_ctx *ctx, char **why);

void build_result_free(struct build_result *res);

#endif /* KIT_BUILD_H */
