/* workers.h - the exercises graded in worker processes, `jobs` at a time.
 *
 * Each worker grades one exercise (or takes its result from the cache,
 * cache.h) as a jail user of its own and leaves SCRATCH/ID/result.json. A
 * worker killed from outside costs its exercise the points, with the
 * reason, and nothing else. A signal to the grader stops every worker and
 * the tests they run. */
#ifndef KIT_WORKERS_H
#define KIT_WORKERS_H

#include "grade.h"

/* From now on SIGINT, SIGTERM and SIGHUP stop the grading (see
 * workers_interrupted) instead of killing the grader at once. */
void workers_catch_interrupts(void);

/* The signal that stopped the grading; 0 if none came. */
int workers_interrupted(void);

/* Grades ids; 0 if every worker finished. */
int workers_run(const struct grade_opts *g, char **ids, int jobs);

#endif /* KIT_WORKERS_H */
