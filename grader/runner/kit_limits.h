/* kit_limits.h - time factors shared by the grader and the tests it runs. */
#ifndef KIT_LIMITS_H
#define KIT_LIMITS_H

/* How much longer than a plain run a run may take: with schedule noise every
 * lock and unlock yields the processor, and under a race detector every
 * memory access is instrumented. */
#define KIT_NOISE_TIME_FACTOR 3
#define KIT_RACE_TIME_FACTOR 20

#endif /* KIT_LIMITS_H */
