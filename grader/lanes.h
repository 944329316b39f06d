/* lanes.h - an exercise's tests spread over several processes ("lanes").
 *
 * When the grader grades fewer exercises at once than the machine has cores
 * (a student's `make grade EX=..`, `make watch`), the spare cores run more
 * of the exercise's tests side by side: each lane takes the next test not
 * yet taken, runs it as unit.h says (plain, then with schedule noise), and
 * leaves its result in the scratch folder. The verdicts are those of one
 * lane, in the same order; the machine is no busier than when two exercises
 * are graded at once. Each lane's student code runs as a jail user of its
 * own (sandbox_for_lane). */
#ifndef KIT_LANES_H
#define KIT_LANES_H

#include "sandbox.h"
#include "unit.h"

enum { LANES_MAX = SANDBOX_LANES };

/* Runs res->tests (named, not yet run) in `lanes` lane processes and fills
 * in their verdicts and res's times. A test whose lane died is failed with
 * the reason. */
void lanes_run(const struct build_ctx *ctx, const char *binary, int lanes, struct unit_result *res);

#endif /* KIT_LANES_H */
