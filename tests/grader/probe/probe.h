/* probe.h - a tiny exercise the kit's own tests grade with many student files,
 * one for each way a submission can behave. */
#ifndef PROBE_H
#define PROBE_H

int probe_add(int a, int b);                      /* a + b */
long probe_count(int nthreads, long per_thread);  /* nthreads threads add 1 per_thread times each */

#endif /* PROBE_H */
