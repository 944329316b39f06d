/* fingerprint.h - what decides a student's grade, as one SHA-256.
 *
 * A batch that runs again skips every student whose fingerprint is unchanged:
 * the same grader, the same tests and headers of the kit, and the same student
 * files give the same grade. */
#ifndef KIT_FINGERPRINT_H
#define KIT_FINGERPRINT_H

#include "manifest.h"

/* The kit's part (hex): the grader binary, its runner library, and every
 * exercise's manifest, tests and header. NULL if one cannot be read. */
char *fingerprint_kit(const char *kit, const char *grader, const char *runner_lib,
                      char **ids);

/* kit_fp with the student's file for each exercise under root (or its
 * absence), as hex. */
char *fingerprint_student(const char *kit_fp, const char *root,
                          const struct exercise *exs, int nex);

#endif /* KIT_FINGERPRINT_H */
