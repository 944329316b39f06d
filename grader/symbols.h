/* symbols.h - keep the student's object file from replacing the framework.
 *
 * A global function in the student file would take the place of one with the
 * same name anywhere in the test program: a `main`, a CUnit function such as
 * CU_assertImplementation, `write` or `exit` could fake a passing run. So
 * every global symbol the student object defines becomes private to it,
 * except those the tests use (the exercise's API). Code that would run
 * before the tests start (constructors, destructors, ifunc resolvers) is
 * refused. */
#ifndef KIT_SYMBOLS_H
#define KIT_SYMBOLS_H

#include "build.h"
#include "util.h"

/* Confines `student_obj` (in ctx->scratch/src) given the tests' object;
 * `early` refuses code that runs before main (off for sanitizer builds,
 * whose compiler adds constructors of its own). 0 when it may be linked; -1 when refused or when a tool failed, with the
 * reason appended to *msgs. Names of the framework that the student file
 * defines are mentioned in *msgs as well (they are harmless once private). */
int symbols_confine(const struct build_ctx *ctx, const char *student_obj, const char *tests_obj,
                    bool early, struct strbuf *msgs);

#endif /* KIT_SYMBOLS_H */
